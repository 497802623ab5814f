"""Background ambience and off-screen noise: sounds with no visible cause.

Ambience is a continuous bed of filtered noise (room tone, hum, wind, traffic). Off-screen
noise is a handful of audible events whose source is not in the picture (a knock in
another room, a phone, a dog, a horn, a clock) — SoundCap's point that real soundtracks
carry sounds a video cannot explain. Both are kept quieter than the on-screen sources, and
both are written as their own stems with their ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from foleystudio.data.foleyworld import synth
from foleystudio.data.foleyworld.samples import SampleBank
from foleystudio.data.foleyworld.scene import SceneContext

AMBIENCES: dict[str, tuple[str, ...]] = {
    "indoor": ("room tone", "air-conditioner hum", "fridge hum", "ventilation hiss"),
    "outdoor": ("light wind", "distant traffic", "rustling leaves"),
    "street": ("distant traffic", "city hum", "light wind"),
}
OFFSCREEN_KINDS = ("knocking", "phone beeping", "dog barking", "car horn", "clock ticking")
#: Caption phrase of each off-screen kind.
OFFSCREEN_PHRASES = {
    "knocking": "knocking in another room",
    "phone beeping": "a phone beeping off-screen",
    "dog barking": "a dog barking off-screen",
    "car horn": "a distant car horn",
    "clock ticking": "a clock ticking off-screen",
    "crow cawing": "a crow cawing off-screen",
}


@dataclass
class Background:
    """A background layer: its stem (float32, unit scale) and its ground truth."""

    kind: str
    stem: np.ndarray
    onsets: list[int] = field(default_factory=list)  #: onset samples (off-screen events)


def make_ambience(rng: np.random.Generator, ctx: SceneContext) -> Background:
    """A continuous ambience bed for the clip's setting, normalised to unit RMS."""
    sr, n = ctx.sample_rate, ctx.n_samples
    kinds = AMBIENCES[ctx.setting]
    kind = kinds[int(rng.integers(len(kinds)))]
    if kind == "room tone":
        x = synth.bandpass(synth.colored_noise(rng, n, 2.0), 0, 400, sr) + 0.2 * synth.colored_noise(
            rng, n, 1.0
        )
    elif kind == "air-conditioner hum":
        hum = synth.harmonic_tone(np.full(n, rng.choice([50.0, 60.0])), [0.3, 1.0, 0.4, 0.2], sr)
        x = synth.bandpass(synth.colored_noise(rng, n, 1.0), 100, 1500, sr) + 0.5 * hum
    elif kind == "fridge hum":
        hum = synth.harmonic_tone(np.full(n, rng.choice([100.0, 120.0])), [1.0, 0.5, 0.25], sr)
        x = hum + 0.3 * synth.bandpass(synth.colored_noise(rng, n, 2.0), 0, 300, sr)
    elif kind == "ventilation hiss":
        x = synth.bandpass(synth.colored_noise(rng, n, 0.5), 400, 6000, sr)
    elif kind == "light wind":
        x = synth.bandpass(synth.colored_noise(rng, n, 1.0), 150, 1200, sr) * synth.slow_modulation(
            rng, n, sr, 0.5, 0.6
        )
    elif kind == "rustling leaves":
        x = synth.bandpass(synth.colored_noise(rng, n, 0.5), 1500, 6000, sr) * synth.slow_modulation(
            rng, n, sr, 2.0, 0.8
        )
    else:  # distant traffic, city hum
        x = synth.bandpass(synth.colored_noise(rng, n, 2.0), 0, 350, sr) * synth.slow_modulation(
            rng, n, sr, 0.2, 0.4
        )
        if kind == "city hum":
            x += 0.15 * synth.bandpass(synth.colored_noise(rng, n, 1.0), 300, 3000, sr)
    x = x.astype(np.float32)  # no fades: the bed runs on before and after the clip
    return Background(kind, x / max(float(np.sqrt(np.mean(x**2))), 1e-9))


def make_offscreen(
    rng: np.random.Generator, ctx: SceneContext, samples: SampleBank | None = None
) -> Background:
    """A few off-screen events at random times, normalised to peak 1."""
    sr, n = ctx.sample_rate, ctx.n_samples
    kinds = OFFSCREEN_KINDS + (("crow cawing",) if samples is not None and samples.has("crow") else ())
    kind = kinds[int(rng.integers(len(kinds)))]
    out = np.zeros(n, np.float32)
    onsets: list[int] = []
    if kind == "clock ticking":
        start = rng.uniform(0.0, 1.0)
        tick = synth.modal([rng.uniform(2500, 4000), 5200.0], [0.006, 0.003], [1.0, 0.4], sr)
        for i, t in enumerate(np.arange(start, ctx.duration - 0.05, 1.0)):
            onsets.append(int(t * sr))
            synth.place(out, tick, onsets[-1], 1.0 if i % 2 == 0 else 0.7)
    else:
        for _ in range(int(rng.integers(1, 4))):
            t = rng.uniform(0.1, max(0.2, ctx.duration - 0.8))
            for offset, sound in _offscreen_group(rng, kind, sr, samples):
                onset = int((t + offset) * sr)
                if onset < n:
                    onsets.append(onset)
                    synth.place(out, sound, onset)
    onsets = sorted(set(onsets))
    peak = float(np.abs(out).max())
    return Background(kind, out / peak if peak > 0 else out, onsets)


def _offscreen_group(
    rng: np.random.Generator, kind: str, sr: int, samples: SampleBank | None
) -> list[tuple[float, np.ndarray]]:
    """One burst of an off-screen sound: [(offset seconds, sound)]."""
    group: list[tuple[float, np.ndarray]] = []
    if kind == "knocking":
        f = rng.uniform(140, 260)
        for i in range(int(rng.integers(2, 5))):
            knock = synth.modal([f, 2.4 * f], [0.05, 0.02], [1.0, 0.4], sr)
            burst = synth.noise_burst(rng, sr, 200, 2500, 0.0, 0.01)
            synth.place(knock, burst, 0, 0.6)
            group.append((i * rng.uniform(0.15, 0.25), synth.bandpass(knock, 0, 1200, sr)))
    elif kind == "phone beeping":
        f = rng.uniform(900, 2000)
        dur = rng.uniform(0.08, 0.18)
        t = np.arange(int(dur * sr)) / sr
        beep = synth.fade((np.sin(2 * np.pi * f * t) * 0.8).astype(np.float32), sr, 0.004)
        for i in range(int(rng.integers(2, 5))):
            group.append((i * 2.2 * dur, beep))
    elif kind == "dog barking":
        for i in range(int(rng.integers(1, 4))):
            dur = rng.uniform(0.12, 0.22)
            m = int(dur * sr)
            f0 = np.linspace(rng.uniform(500, 700), rng.uniform(300, 400), m)
            voice = synth.harmonic_tone(f0, [1.0, 0.8, 0.6, 0.5, 0.3, 0.2], sr, rng, roughness=0.3)
            voice += 0.3 * synth.bandpass(rng.standard_normal(m).astype(np.float32), 500, 3000, sr)
            env = np.minimum(np.arange(m) / (0.01 * sr), 1.0) * np.exp(-np.arange(m) / (0.35 * m))
            group.append((i * rng.uniform(0.3, 0.45), synth.bandpass(voice * env, 250, 3500, sr)))
    elif kind == "car horn":
        dur = rng.uniform(0.3, 0.6)
        m = int(dur * sr)
        horn = synth.harmonic_tone(np.full(m, 400.0), [1, 0.6, 0.4, 0.3], sr) + synth.harmonic_tone(
            np.full(m, 500.0), [1, 0.6, 0.4, 0.3], sr
        )
        group.append((0.0, synth.fade(synth.bandpass(horn, 0, 1500, sr), sr, 0.01)))
    elif kind == "crow cawing" and samples is not None:
        for i in range(int(rng.integers(1, 4))):
            group.append((i * rng.uniform(0.5, 0.7), samples.get("crow", sr)))
    return group
