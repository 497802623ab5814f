"""Tap to picture (issue 15 item 3): the time a tap lands at, from the playback clock.

While the picture plays at ``rate`` (1, 1/2 or 1/4 for tapping), the user presses a key on
what they hear and see. The playback clock's *mix position* is the sample the audio callback
is writing now; that sample reaches the speaker ``output_latency_s`` wall seconds later, so
what the user perceived when the key arrived is earlier by that latency. In media time the
offset is ``output_latency_s * rate`` (at ½× a wall second covers half a media second).

Pure functions: no Qt, no device. Units are seconds.
"""

from __future__ import annotations

import math
from fractions import Fraction

from foleystudio.errors import UsageError

#: The play rates tap mode offers (media seconds per wall second).
TAP_RATES: tuple[float, ...] = (1.0, 0.5, 0.25)


def tap_time(clock_time: float, output_latency_s: float, rate: float) -> float:
    """The media time (s) a tap refers to: ``clock_time`` (the uncompensated mix position)
    less ``output_latency_s`` wall seconds at play ``rate``; never before 0."""
    if not math.isfinite(clock_time) or not math.isfinite(rate) or rate == 0:
        raise UsageError(f"tap time needs a finite clock and a non-zero rate, got {clock_time}, {rate}")
    if not math.isfinite(output_latency_s) or output_latency_s < 0:
        raise UsageError(f"output latency must be a finite number ≥ 0 s, got {output_latency_s}")
    return max(clock_time - output_latency_s * rate, 0.0)


def snap_to_frame(t: float, fps: Fraction) -> float:
    """``t`` (s) on the nearest frame boundary of ``fps``."""
    return float(round(Fraction(t).limit_denominator(10**9) * fps) / fps)
