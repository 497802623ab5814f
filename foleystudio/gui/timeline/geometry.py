"""Timeline geometry and snapping: seconds <-> scene pixels, rows, snap targets.

Scene x = seconds × pixels-per-second (the zoom). Rows run top to bottom
(:func:`timeline_rows`): each track is :data:`TRACK_HEIGHT` px; a track linked to an object
source has that source's event lane (:data:`LANE_HEIGHT` px) right under it; object sources
without a track, then the whole picture, have their lanes after the last track. The ruler
and headers are separate widgets that follow the view's scroll position.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

from foleystudio.core.project import Project
from foleystudio.core.requests import WHOLE_PICTURE
from foleystudio.core.sources import ObjectSource

TRACK_HEIGHT = 62
#: Height of a source's event lane.
LANE_HEIGHT = 34
HEADER_WIDTH = 210
RULER_HEIGHT = 22
THUMB_HEIGHT = 40
#: Zoom limits in pixels per second.
MIN_PPS = 2.0
MAX_PPS = 2400.0
#: Snapping reaches this far, in screen pixels.
SNAP_PIXELS = 8.0


class TimelineView(Protocol):
    """What a timeline item asks of the view it is drawn in (geometry, snapping, menus) —
    never the document, which an item is given itself. The scene implements it; items then
    need not import the scene (no items ↔ scene import circle)."""

    pixels_per_second: float
    snapping: bool

    def scene_width(self) -> float: ...

    def track_top(self, index: int) -> float: ...

    def row_at(self, y: float, default: int = 0) -> int: ...

    def track_id_at_row(self, row: int) -> str | None: ...

    def snap_targets(self, exclude: str | None = None) -> list[float]: ...

    def render_duration(self, path: str) -> float | None: ...

    def request_event_action(self, action: str, target: str) -> None: ...


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


@dataclass(frozen=True)
class Row:
    """One timeline row: a track (``kind="track"``, ``key`` its id, ``index`` its position in
    ``project.tracks``) or an event lane (``kind="events"``, ``key`` the event target: an
    object source's id or ``WHOLE_PICTURE``; ``index`` the track it hangs under, or -1)."""

    kind: str
    key: str
    top: float
    height: float
    index: int

    @property
    def bottom(self) -> float:
        return self.top + self.height


def timeline_rows(project: Project) -> list[Row]:
    """The rows of ``project``: tracks with their sources' event lanes under them, then the
    lanes of object sources without a track, then (with a video) the whole picture's lane."""
    objects = {s.id for s in project.sources if isinstance(s, ObjectSource)}
    rows: list[Row] = []
    y = 0.0
    laned: set[str] = set()
    for index, track in enumerate(project.tracks):
        rows.append(Row("track", track.id, y, TRACK_HEIGHT, index))
        y += TRACK_HEIGHT
        if track.source_id in objects and track.source_id not in laned:
            laned.add(track.source_id)
            rows.append(Row("events", track.source_id, y, LANE_HEIGHT, index))
            y += LANE_HEIGHT
    last = len(project.tracks) - 1
    for source in project.sources:
        if source.id in objects and source.id not in laned:
            rows.append(Row("events", source.id, y, LANE_HEIGHT, last))
            y += LANE_HEIGHT
    if project.video:
        rows.append(Row("events", WHOLE_PICTURE, y, LANE_HEIGHT, last))
    return rows
