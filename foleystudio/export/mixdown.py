"""The stereo mixdown: audible stems panned onto a stereo bus, optionally loudness-normalised.

The mix is built from the stems (clip and track gain are already in them) through
:func:`foleystudio.core.audio.mix_tracks`, so it pans exactly as playback does
(constant-power law, centre = -3 dB per side). Which tracks play follows the desk rule of
:meth:`Project.audible_tracks`: any solo → only soloed tracks, else every unmuted track.

Loudness normalisation happens only when a target is given, and the gain it applied is
reported (never silent). No limiter is applied: a peak over 0 dBFS is reported as a warning,
because an integer WAV or AAC clips it (a 32-bit float WAV keeps it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from foleystudio.core.audio import loudness_lufs, mix_tracks, normalize_loudness, peak_dbfs


@dataclass(frozen=True)
class MixReport:
    """Levels of the final mix.

    ``loudness_lufs``: integrated loudness (BS.1770-4) of what is written;
    ``measured_lufs``: before normalisation; ``normalization_gain_db``: the gain applied to
    reach ``target_lufs`` (None when not normalised); ``peak_dbfs``: sample peak written.
    """

    peak_dbfs: float
    loudness_lufs: float
    measured_lufs: float
    target_lufs: float | None
    normalization_gain_db: float | None

    @property
    def over_full_scale(self) -> bool:
        return self.peak_dbfs > 0.0

    def to_dict(self) -> dict[str, float | None]:
        def finite(value: float | None) -> float | None:
            return None if value is None or not math.isfinite(value) else round(value, 3)

        return {
            "peak_dbfs": finite(self.peak_dbfs),
            "loudness_lufs": finite(self.loudness_lufs),
            "measured_lufs": finite(self.measured_lufs),
            "target_lufs": self.target_lufs,
            "normalization_gain_db": finite(self.normalization_gain_db),
        }


def add_to_mix(bus: np.ndarray, stem: np.ndarray, pan: float) -> None:
    """Add a mono stem (same length as ``bus``, gain already applied) to the stereo ``bus`` in place."""
    bus += mix_tracks([(stem, 0, 0.0, pan)], bus.shape[0])


def finish_mix(
    bus: np.ndarray, sample_rate: int, loudness_target: float | None, bits: int
) -> tuple[np.ndarray, MixReport, list[str]]:
    """Normalise (when ``loudness_target`` is given) and measure; returns ``(mix, report, warnings)``."""
    warnings: list[str] = []
    measured = loudness_lufs(bus, sample_rate) if bus.shape[0] else -math.inf
    gain: float | None = None
    mix = bus
    if loudness_target is not None:
        if measured == -math.inf:
            warnings.append("the mix is silent: loudness normalisation skipped")
        else:
            mix, gain = normalize_loudness(bus, sample_rate, loudness_target)
    loudness = measured if gain is None else measured + gain
    peak = peak_dbfs(mix)
    report = MixReport(peak, loudness, measured, loudness_target, gain)
    if report.over_full_scale:
        where = (
            "kept in the 32-bit float WAV, but an AAC or fixed-point copy clips"
            if bits == 32
            else f"it clips in the {bits}-bit file"
        )
        cause = (
            "lower the loudness target or the track gains" if gain is not None else "lower the track gains"
        )
        warnings.append(f"the mix peaks at {peak:+.2f} dBFS, over full scale: {where}; {cause}")
    return mix, report, warnings
