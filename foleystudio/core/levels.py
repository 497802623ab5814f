"""The output level of generated audio: a true-peak ceiling, with gain only ever going down.

Policy. Generated audio is kept in float and never hard-clipped. A sound whose true peak is
above :data:`CEILING_DBTP` (−1 dBTP) is scaled down, as a whole, so that its true peak is
exactly the ceiling; a quieter sound is left as the model made it (gain 1, bit-exact). One
plain gain per sound changes neither its shape nor its dynamics, and because the gain never
goes up no limiter is needed and a near-silent result is never raised to full scale.

Why true peak (4× oversampling, as ITU-R BS.1770-4 Annex 2 measures it) rather than the
sample peak: candidates do not stay at the model's rate. The remuxed video's AAC track and
every export are resampled (to 48 kHz, 44.1 kHz, ...), and resampling reconstructs the
peaks between the samples, which for the codec's full-band, transient-rich output can lie
above the highest sample. A sample-peak ceiling can therefore still clip after
resampling; a true-peak ceiling of −1 dBTP leaves room for that and for lossy encoding, and
is the ceiling delivery specifications (EBU R 128, streaming platforms) ask for. It
implies a sample peak ≤ −1 dBFS too, so 24-bit candidate WAVs have headroom as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

import numpy as np

#: The ceiling, in dB true peak (dBTP), that generated audio is brought under.
CEILING_DBTP = -1.0
#: Oversampling factor of the true-peak meter.
OVERSAMPLE = 4

K = TypeVar("K")


def true_peak(audio: np.ndarray) -> float:
    """Linear true peak of ``audio`` (any shape; all samples): the largest magnitude of the
    signal oversampled 4× (polyphase windowed-sinc interpolation, so relative to whatever
    its rate is), and never below its sample peak."""
    from scipy import signal

    data = np.asarray(audio, dtype=np.float32).reshape(-1)
    if data.size == 0:
        return 0.0
    sample_peak = float(np.max(np.abs(data)))
    if sample_peak == 0.0:
        return 0.0
    upsampled = signal.resample_poly(data, OVERSAMPLE, 1)
    return max(sample_peak, float(np.max(np.abs(upsampled))))


def true_peak_dbtp(audio: np.ndarray) -> float:
    """:func:`true_peak` in dBTP (digital silence → −inf)."""
    peak = true_peak(audio)
    return -np.inf if peak == 0.0 else 20.0 * float(np.log10(peak))


def ceiling_gain(peak: float, ceiling_dbtp: float = CEILING_DBTP) -> float:
    """The gain (≤ 1) that brings a sound of linear true peak ``peak`` under the ceiling."""
    ceiling = 10.0 ** (ceiling_dbtp / 20.0)
    return 1.0 if peak <= ceiling else ceiling / peak


def under_ceiling(audio: np.ndarray, ceiling_dbtp: float = CEILING_DBTP) -> np.ndarray:
    """``audio`` (float32) scaled down so that its true peak is at most the ceiling; the same
    array when it already is."""
    data = np.asarray(audio, dtype=np.float32)
    gain = ceiling_gain(true_peak(data), ceiling_dbtp)
    return data if gain == 1.0 else data * np.float32(gain)


def rows_under_ceiling(
    batches: Mapping[K, np.ndarray], ceiling_dbtp: float = CEILING_DBTP
) -> dict[K, np.ndarray]:
    """Parallel batches ``{key: [rows, samples]}`` (e.g. one per object, row i = seed i) with
    row i of every batch scaled by one gain: the one that brings the loudest of those rows,
    and of their sum, under the ceiling. The rows of one seed keep their balance and still
    add up to their (levelled) sum; each row is levelled independently of the other rows."""
    arrays = {key: np.asarray(value, dtype=np.float32) for key, value in batches.items()}
    if not arrays:
        return {}
    rows = next(iter(arrays.values())).shape[0]
    gains = np.ones(rows, np.float32)
    for i in range(rows):
        parts = [a[i] for a in arrays.values()]
        peaks = [true_peak(p) for p in parts]
        if len(parts) > 1:
            peaks.append(true_peak(np.sum(parts, axis=0)))
        gains[i] = ceiling_gain(max(peaks), ceiling_dbtp)
    if np.all(gains == 1.0):
        return arrays
    return {key: a * gains[:, None] for key, a in arrays.items()}
