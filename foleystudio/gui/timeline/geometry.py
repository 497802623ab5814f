"""Timeline geometry and snapping: seconds <-> scene pixels, rows, snap targets.

Scene x = seconds × pixels-per-second (the zoom); track ``i`` occupies scene rows
``[i × TRACK_HEIGHT, (i + 1) × TRACK_HEIGHT)``. The ruler and headers are separate widgets
that follow the view's scroll position.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

TRACK_HEIGHT = 62
HEADER_WIDTH = 210
RULER_HEIGHT = 22
THUMB_HEIGHT = 40
#: Zoom limits in pixels per second.
MIN_PPS = 2.0
MAX_PPS = 2400.0
#: Snapping reaches this far, in screen pixels.
SNAP_PIXELS = 8.0


def snap_time(
    t: float, targets: Iterable[float], pixels_per_second: float, fps: Fraction | None = None
) -> tuple[float, bool]:
    """``t`` snapped to the nearest target within :data:`SNAP_PIXELS` on screen, else to the
    nearest frame boundary when ``fps`` is given. Returns ``(time, snapped_to_a_target)``."""
    reach = SNAP_PIXELS / max(pixels_per_second, 1e-9)
    best = None
    for target in targets:
        distance = abs(target - t)
        if distance <= reach and (best is None or distance < abs(best - t)):
            best = target
    if best is not None:
        return best, True
    if fps is not None:
        return float(round(Fraction(t).limit_denominator(10**9) * fps) / fps), False
    return t, False


def nice_tick_step(pixels_per_second: float, fps: Fraction, min_pixels: float = 90.0) -> float:
    """A ruler label step (seconds) of at least ``min_pixels``: whole frames below a second,
    then 1, 2, 5, 10, 15, 30 s and minutes."""
    frame = float(1 / fps)
    for frames in (1, 2, 5, 10):
        if frames * frame * pixels_per_second >= min_pixels and frames * frame < 1.0:
            return frames * frame
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600):
        if step * pixels_per_second >= min_pixels:
            return float(step)
    return 7200.0
