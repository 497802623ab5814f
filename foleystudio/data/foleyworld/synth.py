"""Sound synthesis for FoleyWorld, NumPy + SciPy only.

Building blocks: modal synthesis (sums of exponentially damped sinusoids, the standard
model of struck solids), filtered noise bursts (steps, cracks, splashes), a harmonic engine
with a time-varying fundamental, FM chirps (birds), bubble "plops" (water drops), and
filtered-noise ambience. Every generator returns float32 mono at ``sr`` Hz whose first
sample is the sound's onset: an event placed at sample ``n`` starts exactly there.
Randomness comes only from the ``rng`` passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from scipy import signal


def place(out: np.ndarray, sound: np.ndarray, start: int, gain: float = 1.0) -> None:
    """Add ``sound * gain`` into ``out`` from sample ``start`` on (cut at the end of ``out``)."""
    if start >= out.shape[0] or start + sound.shape[0] <= 0:
        return
    skip = max(0, -start)
    start = max(start, 0)
    n = min(sound.shape[0] - skip, out.shape[0] - start)
    out[start : start + n] += gain * sound[skip : skip + n]


def modal(
    freqs: Sequence[float],
    decays: Sequence[float],
    amps: Sequence[float],
    sr: int,
    length: float | None = None,
    phases: Sequence[float] | None = None,
) -> np.ndarray:
    """Sum of damped sinusoids ``a·exp(-t/τ)·sin(2πft + φ)``; ``decays`` τ in seconds.

    Modes at or above 0.45·sr are dropped (no aliasing). ``length`` defaults to 5·max(τ)
    (the tail is then 43 dB down). Sine phase 0 makes the first sample exactly 0 with the
    energy rising from sample 1 on.
    """
    freqs = np.asarray(freqs, np.float64)
    decays = np.asarray(decays, np.float64)
    amps = np.asarray(amps, np.float64)
    keep = freqs < 0.45 * sr
    freqs, decays, amps = freqs[keep], decays[keep], amps[keep]
    if length is None:
        length = 5.0 * float(decays.max()) if decays.size else 0.01
    n = max(int(length * sr), 1)
    t = np.arange(n, dtype=np.float64) / sr
    out = np.zeros(n, np.float64)
    phases = np.zeros_like(freqs) if phases is None else np.asarray(phases, np.float64)[keep]
    for f, tau, a, ph in zip(freqs, decays, amps, phases, strict=True):
        m = min(n, int(7.0 * tau * sr) + 1)  # beyond 7τ a mode is 60 dB down: skip the work
        out[:m] += a * np.exp(-t[:m] / tau) * np.sin(2 * np.pi * f * t[:m] + ph)
    return out.astype(np.float32)


def mode_bank(freqs: Sequence[float], decays: Sequence[float], sr: int, length: float) -> np.ndarray:
    """Unit-amplitude damped sinusoids, one row per mode: float32 (n_modes, length·sr).

    ``amps @ bank`` is then :func:`modal` with those amplitudes; a source that strikes the
    same object many times computes its modes once. Modes at or above 0.45·sr are zero.
    """
    n = max(int(length * sr), 1)
    t = np.arange(n, dtype=np.float32) / sr
    bank = np.zeros((len(freqs), n), np.float32)
    for i, (f, tau) in enumerate(zip(freqs, decays, strict=True)):
        if f < 0.45 * sr:
            m = min(n, int(7.0 * tau * sr) + 1)
            bank[i, :m] = np.exp(-t[:m] / np.float32(tau)) * np.sin(np.float32(2 * np.pi * f) * t[:m])
    return bank


def bandpass(x: np.ndarray, low: float, high: float, sr: int, order: int = 2) -> np.ndarray:
    """Butterworth band-pass (``low`` ≤ 0 gives a low-pass, ``high`` ≥ Nyquist a high-pass)."""
    return signal.sosfilt(_butter(order, float(low), float(high), int(sr)), x).astype(np.float32)


@lru_cache(maxsize=256)
def _butter(order: int, low: float, high: float, sr: int) -> np.ndarray:
    """Second-order sections of the filter (cached: most bands are fixed per sound model)."""
    nyq = sr / 2
    high = min(high, 0.98 * nyq)
    if low <= 0:
        return signal.butter(order, high, "lowpass", fs=sr, output="sos")
    if high >= 0.98 * nyq:
        return signal.butter(order, low, "highpass", fs=sr, output="sos")
    return signal.butter(order, [low, high], "bandpass", fs=sr, output="sos")


def noise_burst(
    rng: np.random.Generator,
    sr: int,
    low: float,
    high: float,
    attack: float,
    decay: float,
    length: float | None = None,
) -> np.ndarray:
    """Band-limited noise with a linear attack (s) and an exponential decay τ (s).

    Normalised to peak 1. Used for footsteps, cracks, splashes and knocks.
    """
    if length is None:
        length = attack + 6.0 * decay
    n = max(int(length * sr), 2)
    t = np.arange(n, dtype=np.float32) / sr
    env = np.exp(-np.maximum(t - attack, 0.0) / decay)
    if attack > 0:
        env *= np.minimum(t / attack, 1.0)
    # Filter a little lead-in so the filter's own start-up does not shape the attack, then
    # start the burst exactly at its onset.
    lead = int(0.01 * sr)
    x = bandpass(rng.standard_normal(n + lead).astype(np.float32), low, high, sr)[lead:]
    out = x * env
    peak = float(np.abs(out).max())
    return out / peak if peak > 0 else out


def click(rng: np.random.Generator, sr: int, brightness: float = 4000.0, decay: float = 0.0015) -> np.ndarray:
    """A contact transient: high-passed noise decaying in a few ms, peak 1."""
    return noise_burst(rng, sr, brightness, sr / 2, 0.0, decay, length=10 * decay)


def harmonic_tone(
    f0: np.ndarray,
    harmonic_amps: Sequence[float],
    sr: int,
    rng: np.random.Generator | None = None,
    roughness: float = 0.0,
) -> np.ndarray:
    """A harmonic sound following the per-sample fundamental ``f0`` (Hz), e.g. an engine.

    Harmonics above 0.45·sr are muted sample by sample. ``roughness`` in [0, 1] adds a
    random amplitude flutter per fundamental cycle (uneven firing), seeded from ``rng``.
    """
    f0 = np.asarray(f0, np.float64)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    out = np.zeros(f0.shape[0], np.float64)
    for k, a in enumerate(harmonic_amps, start=1):
        if a == 0:
            continue
        audible = (k * f0 < 0.45 * sr).astype(np.float64)
        out += a * audible * np.sin(k * phase)
    if roughness > 0 and rng is not None:
        cycles = np.floor(phase / (2 * np.pi)).astype(np.int64)
        per_cycle = 1.0 + roughness * rng.standard_normal(int(cycles.max()) + 2)
        out *= per_cycle[cycles]
    return out.astype(np.float32)


def fm_chirp(
    sr: int,
    duration: float,
    f_start: float,
    f_end: float,
    trill_rate: float = 0.0,
    trill_depth: float = 0.0,
    harmonics: Sequence[float] = (1.0, 0.15),
    attack: float = 0.004,
) -> np.ndarray:
    """A bird-like note: frequency glides ``f_start`` → ``f_end`` (Hz) over ``duration`` s,
    optionally frequency-modulated at ``trill_rate`` Hz by ±``trill_depth`` Hz. Peak 1."""
    n = max(int(duration * sr), 2)
    t = np.arange(n, dtype=np.float64) / sr
    glide = f_start + (f_end - f_start) * (t / duration) ** 0.8
    freq = glide + trill_depth * np.sin(2 * np.pi * trill_rate * t)
    phase = 2 * np.pi * np.cumsum(freq) / sr
    out = np.zeros(n, np.float64)
    for k, a in enumerate(harmonics, start=1):
        if k * freq.max() < 0.45 * sr:  # whole harmonic or nothing: no clicks mid-note
            out += a * np.sin(k * phase)
    env = np.minimum(t / attack, 1.0) * np.sin(np.pi * np.minimum(t / duration, 1.0)) ** 0.3
    env *= np.exp(-3.0 * t / duration)
    out *= env
    return (out / max(float(np.abs(out).max()), 1e-9)).astype(np.float32)


def bubble(sr: int, radius_mm: float, rise: float = 0.1, length: float | None = None) -> np.ndarray:
    """A water-drop "plop": the resonance of a bubble of ``radius_mm`` mm (Minnaert).

    f0 = 3.26 kHz·mm / r, damping d = 0.13·f0 + 0.0072·f0^1.5 (1/s), frequency rising as
    f(t) = f0·(1 + rise·d·t) (van den Doel's bubble model). Peak 1.
    """
    f0 = 3260.0 / radius_mm
    d = 0.13 * f0 + 0.0072 * f0**1.5
    if length is None:
        length = 6.0 / d
    n = max(int(length * sr), 2)
    t = np.arange(n, dtype=np.float64) / sr
    freq = np.minimum(f0 * (1.0 + rise * d * t), 0.45 * sr)
    phase = 2 * np.pi * np.cumsum(freq) / sr
    out = np.exp(-d * t) * np.sin(phase)
    return (out / max(float(np.abs(out).max()), 1e-9)).astype(np.float32)


def colored_noise(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Noise with power spectrum ∝ 1/f^exponent (0 white, 1 pink, 2 brown), unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spectrum.shape[0], dtype=np.float64)
    f[0] = 1.0
    spectrum /= f ** (exponent / 2)
    spectrum[0] = 0
    x = np.fft.irfft(spectrum, n)
    return (x / max(float(x.std()), 1e-12)).astype(np.float32)


def slow_modulation(rng: np.random.Generator, n: int, sr: int, rate: float, depth: float) -> np.ndarray:
    """A smooth random gain curve around 1 (±``depth``) changing at about ``rate`` Hz."""
    knots = max(int(n / sr * rate) + 3, 3)
    values = rng.uniform(-1.0, 1.0, knots)
    x = np.linspace(0, knots - 1, n)
    curve = np.interp(x, np.arange(knots), values)
    return (1.0 + depth * curve).astype(np.float32)


def fade(x: np.ndarray, sr: int, seconds: float = 0.02) -> np.ndarray:
    """Raised-cosine fade-in and fade-out of ``seconds`` (for sounds cut from longer ones)."""
    m = min(int(seconds * sr), x.shape[0] // 2)
    if m > 0:
        ramp = (0.5 - 0.5 * np.cos(np.linspace(0, np.pi, m))).astype(np.float32)
        x = x.copy()
        x[:m] *= ramp
        x[-m:] *= ramp[::-1]
    return x
