"""Audio files and audio arithmetic: load/save, resampling, channels, mixing, levels.

Conventions: audio is float32 NumPy, shape ``(frames,)`` (mono) or ``(frames, channels)``,
full scale = 1.0; sample rates in Hz; gains in dB; pan in [-1, 1] (-1 left, +1 right).
Files are read and written with soundfile (libsndfile); writes are atomic. Filtering uses
scipy.signal, imported where needed (it costs ~0.5 s at start-up, which the CLI and the
GUI should not pay before they filter anything).
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import soundfile as sf

from foleystudio.core.atomicfile import atomic_output
from foleystudio.errors import AudioFileError, UsageError

#: File suffix -> libsndfile container written by :func:`save_audio`.
SAVE_FORMATS = {".wav": "WAV", ".wave": "WAV", ".flac": "FLAC"}
#: Suffixes (lower case) of the files taken as audio: open dialogs, drops, reference prompts.
AUDIO_SUFFIXES = frozenset({".wav", ".wave", ".flac", ".aif", ".aiff", ".ogg", ".mp3", ".caf", ".w64"})

#: Sample formats accepted by :func:`save_audio` (soundfile subtype names).
SAVE_SUBTYPES = ("PCM_16", "PCM_24", "FLOAT")

_SUBTYPE_ALIASES = {
    "16": "PCM_16",
    "24": "PCM_24",
    "32f": "FLOAT",
    "float": "FLOAT",
    "float32": "FLOAT",
    "pcm_16": "PCM_16",
    "pcm_24": "PCM_24",
}


# --- files -------------------------------------------------------------------------------
def load_audio(
    path: str | os.PathLike[str], sample_rate: int | None = None, mono: bool = False
) -> tuple[np.ndarray, int]:
    """Read any file libsndfile reads (WAV, FLAC, AIFF, OGG, MP3, …) as float32.

    Returns ``(audio, rate)``: ``audio`` is ``(frames, channels)``, or ``(frames,)`` with
    ``mono=True`` (channels averaged); ``rate`` is ``sample_rate`` when given (the audio is
    resampled to it), else the file's rate. Raises :class:`AudioFileError` naming the file
    for a missing, empty, unreadable or zero-length file, or non-finite samples.
    """
    path = Path(path)
    if sample_rate is not None:
        _check_rate(sample_rate)
    if not path.exists():
        raise AudioFileError("audio file not found", path)
    if path.is_dir():
        raise AudioFileError("is a folder, not an audio file", path)
    if path.stat().st_size == 0:
        raise AudioFileError("audio file is empty (0 bytes)", path)
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, OSError, ValueError) as exc:
        raise AudioFileError(f"not a readable audio file ({_one_line(exc)})", path) from exc
    if audio.shape[0] == 0 or audio.shape[1] == 0:
        raise AudioFileError("audio file has no samples", path)
    if not np.isfinite(audio).all():
        raise AudioFileError("audio file contains NaN or infinite samples", path)
    if mono:
        audio = to_mono(audio)
    if sample_rate is not None and sample_rate != rate:
        audio = resample(audio, rate, sample_rate)
        rate = sample_rate
    return np.ascontiguousarray(audio, dtype=np.float32), int(rate)


def save_audio(
    path: str | os.PathLike[str], audio: np.ndarray, sample_rate: int, subtype: str = "PCM_24"
) -> Path:
    """Write ``audio`` to a WAV or FLAC file (chosen by suffix), atomically.

    ``subtype``: ``PCM_16``, ``PCM_24`` or ``FLOAT`` (32-bit float; WAV only). Integer
    formats clip to [-1, 1] first (libsndfile would otherwise wrap around). Returns the
    path. Raises :class:`AudioFileError` for an unsupported suffix/subtype, non-finite
    samples or an OS error; the destination then keeps its previous content.
    """
    path = Path(path)
    container = SAVE_FORMATS.get(path.suffix.lower())
    if container is None:
        raise AudioFileError(
            f"cannot write {path.suffix or 'files without a suffix'!r}; use .wav or .flac", path
        )
    subtype = _SUBTYPE_ALIASES.get(subtype.lower(), subtype.upper())
    if subtype not in SAVE_SUBTYPES:
        raise AudioFileError(
            f"unsupported sample format {subtype!r}; use one of {', '.join(SAVE_SUBTYPES)}", path
        )
    if container == "FLAC" and subtype == "FLOAT":
        raise AudioFileError("FLAC cannot store 32-bit float; use PCM_16 or PCM_24, or a .wav file", path)
    _check_rate(sample_rate)
    data = np.asarray(audio, dtype=np.float32)
    if data.ndim not in (1, 2) or data.shape[0] == 0 or (data.ndim == 2 and data.shape[1] == 0):
        raise AudioFileError(
            f"audio must be (frames,) or (frames, channels) and not empty, got {data.shape}", path
        )
    if not np.isfinite(data).all():
        raise AudioFileError("audio contains NaN or infinite samples; nothing written", path)
    if subtype != "FLOAT":
        data = np.clip(data, -1.0, 1.0)
    try:
        with atomic_output(path) as fh:
            sf.write(fh, data, int(sample_rate), subtype=subtype, format=container)
    except (sf.SoundFileError, RuntimeError, OSError) as exc:
        raise AudioFileError(f"cannot write audio ({_one_line(exc)})", path) from exc
    return path


# --- sample rate and channels ------------------------------------------------------------
def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited polyphase resampling along axis 0 (deterministic, float32 out).

    Output length is ``ceil(frames * to_rate / from_rate)``. The anti-alias filter is a
    Kaiser-windowed sinc with passband to 90 % and stopband from 100 % of the lower
    Nyquist frequency, ≥ 90 dB attenuation (e.g. flat to 19.8 kHz for 48 → 44.1 kHz).
    """
    _check_rate(from_rate)
    _check_rate(to_rate)
    data = np.asarray(audio, dtype=np.float32)
    if from_rate == to_rate:
        return data.copy()
    from scipy import signal

    g = math.gcd(int(from_rate), int(to_rate))
    up, down = int(to_rate) // g, int(from_rate) // g
    out = signal.resample_poly(data, up, down, axis=0, window=_resampling_filter(up, down))
    return out.astype(np.float32, copy=False)


@functools.lru_cache(maxsize=16)
def _resampling_filter(up: int, down: int) -> np.ndarray:
    """Low-pass FIR at the upsampled rate (unit DC gain; resample_poly scales it by ``up``)."""
    from scipy import signal

    max_rate = max(up, down)
    transition = 0.1 / max_rate  # 10 % of the lower Nyquist, relative to the upsampled Nyquist
    numtaps, beta = signal.kaiserord(90.0, transition)
    numtaps |= 1  # odd length: a whole-sample group delay that resample_poly compensates
    taps = signal.firwin(numtaps, 0.95 / max_rate, window=("kaiser", beta))
    taps.setflags(write=False)
    return taps


def to_mono(audio: np.ndarray) -> np.ndarray:
    """``(frames,)`` float32: the mean of the channels (mono input is returned as a copy)."""
    data = np.asarray(audio, dtype=np.float32)
    if data.ndim == 1:
        return data.copy()
    if data.ndim != 2:
        raise UsageError(f"audio must be (frames,) or (frames, channels), got shape {data.shape}")
    return data.mean(axis=1, dtype=np.float32)


#: 5.1 in WAV channel order (L, R, C, LFE, Ls, Rs) folded to stereo, ITU-R BS.775 (LFE dropped).
_DOWNMIX_51 = np.array(
    [[1.0, 0.0], [0.0, 1.0], [0.7071, 0.7071], [0.0, 0.0], [0.7071, 0.0], [0.0, 0.7071]], np.float32
)


def to_stereo(audio: np.ndarray) -> np.ndarray:
    """``(frames, 2)`` float32: mono is duplicated to both sides, stereo is copied,
    5.1 is folded down (ITU-R BS.775 coefficients), other layouts keep their first two channels.
    """
    data = np.asarray(audio, dtype=np.float32)
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2:
        raise UsageError(f"audio must be (frames,) or (frames, channels), got shape {data.shape}")
    channels = data.shape[1]
    if channels == 1:
        return np.repeat(data, 2, axis=1)
    if channels == 6:
        return data @ _DOWNMIX_51
    return np.ascontiguousarray(data[:, :2])


# --- gain, pan, mix ----------------------------------------------------------------------
def db_to_gain(db: float) -> float:
    """Amplitude factor for ``db`` decibels (-inf dB -> 0)."""
    return 0.0 if db == -math.inf else float(10.0 ** (db / 20.0))


def gain_to_db(gain: float) -> float:
    """Decibels for an amplitude factor (0 -> -inf dB; the sign is ignored)."""
    gain = abs(float(gain))
    return -math.inf if gain == 0.0 else 20.0 * math.log10(gain)


def pan_gains(pan: float) -> tuple[float, float]:
    """``(left, right)`` amplitude gains, constant-power sine/cosine law.

    ``pan`` -1 = hard left, 0 = centre (both sides 1/√2, i.e. -3.01 dB), +1 = hard right;
    values outside [-1, 1] are clamped (a slider may overshoot by a rounding error).
    ``left² + right² == 1`` everywhere, so a source keeps its power as it moves.
    """
    if not math.isfinite(pan):
        raise UsageError(f"pan must be a number in [-1, 1], got {pan!r}")
    angle = (min(max(float(pan), -1.0), 1.0) + 1.0) * math.pi / 4.0
    return math.cos(angle), math.sin(angle)


def mix_tracks(layers: Iterable[tuple[np.ndarray, int, float, float]], length: int) -> np.ndarray:
    """Sum mono layers into a ``(length, 2)`` float32 stereo bus.

    Each layer is ``(mono_audio, offset_samples, gain_db, pan)``: the audio starts at sample
    ``offset_samples`` of the bus (negative = its head is cut), scaled by ``gain_db`` and
    placed with :func:`pan_gains`. Whatever falls outside ``[0, length)`` is cropped.
    """
    if length < 0:
        raise UsageError(f"mix length must be >= 0 samples, got {length}")
    bus = np.zeros((int(length), 2), np.float32)
    for audio, offset, gain_db, pan in layers:
        mono = np.asarray(audio, dtype=np.float32)
        if mono.ndim == 2 and mono.shape[1] == 1:
            mono = mono[:, 0]
        if mono.ndim != 1:
            raise UsageError(f"mix layers must be mono (frames,), got shape {mono.shape}")
        offset = int(offset)
        src = max(0, -offset)
        dst = max(0, offset)
        count = min(len(mono) - src, length - dst)
        if count <= 0:
            continue
        gain = db_to_gain(gain_db)
        left, right = pan_gains(pan)
        piece = mono[src : src + count]
        bus[dst : dst + count, 0] += piece * np.float32(gain * left)
        bus[dst : dst + count, 1] += piece * np.float32(gain * right)
    return bus


# --- levels ------------------------------------------------------------------------------
def peak_dbfs(audio: np.ndarray) -> float:
    """Sample peak in dBFS over all channels (digital silence -> -inf)."""
    data = np.asarray(audio)
    if data.size == 0:
        return -math.inf
    return gain_to_db(float(np.max(np.abs(data))))


def k_weighting(sample_rate: int) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The two BS.1770 K-weighting biquads ``((b, a) shelf, (b, a) high-pass)`` at any rate.

    The standard tabulates them at 48 kHz only; at other rates they come from the analogue
    prototypes (shelf +4 dB above ~1.68 kHz, 2nd-order high-pass at ~38 Hz) through the
    bilinear transform, with the parameters that reproduce the 48 kHz table.
    """
    _check_rate(sample_rate)
    # Stage 1: high shelf (models the head's acoustic effect).
    gain_db, q, fc = 3.999843853973347, 0.7071752369554196, 1681.974450955533
    k = math.tan(math.pi * fc / sample_rate)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh**0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf_b = np.array(
        [(vh + vb * k / q + k * k) / a0, 2.0 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0]
    )
    shelf_a = np.array([1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0])
    # Stage 2: RLB high-pass.
    q, fc = 0.5003270373238773, 38.13547087602444
    k = math.tan(math.pi * fc / sample_rate)
    a0 = 1.0 + k / q + k * k
    hp_b = np.array([1.0, -2.0, 1.0])
    hp_a = np.array([1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0])
    return (shelf_b, shelf_a), (hp_b, hp_a)


def _channel_weights(channels: int) -> np.ndarray:
    """BS.1770 channel weights: 1.0 for L/R/C, 1.41 for surrounds, LFE excluded (5.1 WAV order)."""
    if channels == 6:
        return np.array([1.0, 1.0, 1.0, 0.0, 1.41, 1.41])
    if channels == 5:  # L, R, C, Ls, Rs
        return np.array([1.0, 1.0, 1.0, 1.41, 1.41])
    return np.ones(channels)


def loudness_lufs(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness in LUFS, ITU-R BS.1770-4 (gated).

    K-weighting, mean square in 400 ms blocks every 100 ms (75 % overlap), blocks below the
    -70 LUFS absolute gate dropped, then blocks 10 LU below the loudness of the remaining
    ones dropped. A signal shorter than one block is measured as a single block (a short
    Foley hit still gets a value); digital silence gives -inf. A full-scale 1 kHz sine in one
    channel reads -3.01 LUFS.
    """
    data = np.asarray(audio, dtype=np.float64)
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2 or data.shape[0] == 0:
        raise UsageError(f"audio must be non-empty (frames,) or (frames, channels), got shape {data.shape}")
    from scipy import signal

    (b1, a1), (b2, a2) = k_weighting(sample_rate)
    weighted = signal.lfilter(b2, a2, signal.lfilter(b1, a1, data, axis=0), axis=0)
    weights = _channel_weights(data.shape[1])
    step = max(1, round(0.1 * sample_rate))  # 100 ms hop; a 400 ms block is four hops
    hops = weighted.shape[0] // step
    if hops < 4:
        energies = (weighted**2).mean(axis=0)[None, :]
    else:
        hop_sums = (weighted[: hops * step] ** 2).reshape(hops, step, -1).sum(axis=1)
        window = np.cumsum(np.vstack([np.zeros((1, hop_sums.shape[1])), hop_sums]), axis=0)
        energies = (window[4:] - window[:-4]) / (4 * step)  # (blocks, channels) mean squares
    block_power = energies @ weights
    with np.errstate(divide="ignore"):
        block_lufs = -0.691 + 10.0 * np.log10(block_power)
    kept = block_lufs > -70.0
    if not kept.any():
        return -math.inf
    relative_gate = -0.691 + 10.0 * math.log10(float(block_power[kept].mean())) - 10.0
    kept &= block_lufs > relative_gate
    return -0.691 + 10.0 * math.log10(float(block_power[kept].mean()))


def normalize_loudness(audio: np.ndarray, sample_rate: int, target_lufs: float) -> tuple[np.ndarray, float]:
    """Scale ``audio`` so its integrated loudness is ``target_lufs``; returns ``(audio, gain_db)``.

    No limiter is applied: a large gain may push peaks over 0 dBFS (check
    :func:`peak_dbfs`). Digital silence cannot be normalised and is returned unchanged
    with a gain of 0 dB.
    """
    if not math.isfinite(target_lufs):
        raise UsageError(f"target loudness must be a finite LUFS value, got {target_lufs!r}")
    data = np.asarray(audio, dtype=np.float32)
    current = loudness_lufs(data, sample_rate)
    if current == -math.inf:
        return data.copy(), 0.0
    gain_db = float(target_lufs - current)
    return (data * np.float32(db_to_gain(gain_db))).astype(np.float32), gain_db


# --- helpers -----------------------------------------------------------------------------
def _check_rate(rate: int) -> None:
    if isinstance(rate, bool) or not isinstance(rate, int | np.integer) or rate <= 0:
        raise UsageError(f"sample rate must be a positive whole number of Hz, got {rate!r}")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().replace("\n", " ")
    return text or type(exc).__name__
