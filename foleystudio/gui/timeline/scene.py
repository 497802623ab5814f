"""The timeline scene: one row per track, clip items, event lanes, playhead, in/out band
(docs/architecture.md §9).

The scene mirrors ``document.project``: when an edit changes the clips or tracks it rebuilds
its items (cheap; thousands of items take milliseconds), a playhead move only moves one
item, and a zoom only re-lays out the items it has. Rows come from
:func:`~foleystudio.gui.timeline.geometry.timeline_rows`: an event lane
(:class:`~foleystudio.gui.timeline.events.EventLaneItem`) sits under each object source's
track, and the whole picture's lane after the tracks; lanes are rebuilt when the rows change
and repainted on every other edit.
"""

from __future__ import annotations

import soundfile as sf
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen, QTransform
from PySide6.QtWidgets import QGraphicsScene, QGraphicsSceneMouseEvent

from foleystudio.core.project import Track
from foleystudio.gui.document import Document
from foleystudio.gui.timeline.events import EventLaneItem
from foleystudio.gui.timeline.geometry import (
    MAX_PPS,
    MIN_PPS,
    TRACK_HEIGHT,
    Row,
    nice_tick_step,
    timeline_rows,
)
from foleystudio.gui.timeline.items import ClipItem, PlayheadItem, RangeShade, row_background_colour
from foleystudio.gui.timeline.waveforms import PeakCache

#: Room after the project's end, in seconds, so clips can be moved past it.
TAIL_SECONDS = 10.0


class TimelineScene(QGraphicsScene):
    """Clip items of the project's tracks at the current zoom."""

    zoom_changed = Signal(float)
    layout_changed = Signal()
    #: ``(event target, action)``: a lane asks for one of ``events.EVENT_ACTIONS``.
    event_action = Signal(str, str)

    def __init__(self, document: Document, peak_cache: PeakCache) -> None:
        super().__init__()
        self.document = document
        self.peak_cache = peak_cache
        self.pixels_per_second = 80.0
        self.snapping = True
        self.clip_items: dict[str, ClipItem] = {}
        #: track id -> (signature, its clip items)
        self._track_items: dict[str, tuple[tuple, list[ClipItem]]] = {}
        self._durations: dict[str, float | None] = {}
        self.rows_layout: list[Row] = []
        #: event target -> its lane
        self.lanes: dict[str, EventLaneItem] = {}
        self.playhead = PlayheadItem()
        self.shade = RangeShade()
        self.addItem(self.playhead)
        self.addItem(self.shade)
        document.changed.connect(lambda _: self.refresh())
        document.project_replaced.connect(lambda: self.refresh(force=True))
        document.playhead_changed.connect(lambda _: self.place_playhead())
        document.selection_changed.connect(self.update)
        peak_cache.ready.connect(self._on_peaks)
        self.refresh(force=True)

    # --- model -> items ------------------------------------------------------------------
    def _track_signature(self, row: int, track: Track) -> tuple:
        clips = tuple(
            (c.id, c.position, c.duration, c.offset, c.gain_db, c.render, c.label) for c in track.clips
        )
        return (row, self.track_top(row), track.colour, clips)

    def refresh(self, force: bool = False) -> None:
        """Rebuild the clip items of tracks whose clips (or row, colour) changed; always
        update the bands. An edit of one clip rebuilds one track, not the timeline."""
        if force:
            self._track_items = {}
            for item in self.clip_items.values():
                self.removeItem(item)
            self.clip_items = {}
        rows = timeline_rows(self.document.project)
        rows_changed = force or rows != self.rows_layout
        self.rows_layout = rows
        tracks = self.document.project.tracks
        current = {t.id for t in tracks}
        changed = False
        for track_id in [t for t in self._track_items if t not in current]:
            for item in self._track_items.pop(track_id)[1]:
                self.removeItem(item)
                self.clip_items.pop(item.clip.id, None)
            changed = True
        for row, track in enumerate(tracks):
            signature = self._track_signature(row, track)
            old = self._track_items.get(track.id)
            if old is not None and old[0] == signature:
                continue
            if old is not None:
                for item in old[1]:
                    self.removeItem(item)
                    if self.clip_items.get(item.clip.id) is item:
                        del self.clip_items[item.clip.id]
            items = []
            for clip in track.clips:
                item = ClipItem(self, self.document, track, row, clip)
                self.addItem(item)
                self.clip_items[clip.id] = item
                items.append(item)
            self._track_items[track.id] = (signature, items)
            changed = True
        if rows_changed:
            self._rebuild_lanes()
            changed = True
        if changed:
            self.layout_changed.emit()
        self._layout_bands()

    def _rebuild_lanes(self) -> None:
        for lane in self.lanes.values():
            self.removeItem(lane)
        self.lanes = {}
        for row in self.rows_layout:
            if row.kind == "events":
                lane = EventLaneItem(self, self.document, row.key, row.top, row.height)
                self.addItem(lane)
                self.lanes[row.key] = lane

    @property
    def rows(self) -> int:
        return len(self.document.project.tracks)

    def scene_width(self) -> float:
        return (self.document.project.length + TAIL_SECONDS) * self.pixels_per_second

    def scene_height(self) -> float:
        return max(self.rows_layout[-1].bottom if self.rows_layout else 0.0, TRACK_HEIGHT)

    def track_top(self, index: int) -> float:
        """Scene y of the top of track ``index`` (rows past the last continue evenly)."""
        tracks = [r for r in self.rows_layout if r.kind == "track"]
        if 0 <= index < len(tracks):
            return tracks[index].top
        if index >= len(tracks) and tracks:
            return tracks[-1].top + (index - len(tracks) + 1) * TRACK_HEIGHT
        return index * TRACK_HEIGHT

    def _layout_bands(self) -> None:
        width, height = self.scene_width(), self.scene_height()
        self.setSceneRect(QRectF(0, 0, width, height))
        for lane in self.lanes.values():
            lane.prepareGeometryChange()
            lane.layout()
            lane.update()
        project = self.document.project
        if project.in_point is None and project.out_point is None:
            self.shade.hide()
        else:
            a = (project.in_point or 0.0) * self.pixels_per_second
            b = (
                project.out_point if project.out_point is not None else project.length
            ) * self.pixels_per_second
            self.shade.setRect(QRectF(a, 0, max(b - a, 0.0), height))
            self.shade.show()
        self.place_playhead()
        self.update()

    def place_playhead(self) -> None:
        self.playhead.place(self.document.playhead * self.pixels_per_second, self.scene_height())

    def _on_peaks(self, path: str) -> None:
        for item in self.clip_items.values():
            if item.clip.render == path:
                item.update()

    # --- zoom ----------------------------------------------------------------------------
    def set_zoom(self, pixels_per_second: float) -> None:
        pps = min(max(pixels_per_second, MIN_PPS), MAX_PPS)
        if abs(pps - self.pixels_per_second) < 1e-9:
            return
        self.pixels_per_second = pps
        for item in self.clip_items.values():
            item.prepareGeometryChange()
            item.layout()
        self._layout_bands()  # (lanes too)
        self.zoom_changed.emit(pps)

    # --- queries used by items -------------------------------------------------------------
    def snap_targets(self, exclude: str | None = None) -> list[float]:
        """Times a dragged edge snaps to: 0, the playhead, in/out, other clips' edges."""
        project = self.document.project
        targets = [0.0, self.document.playhead]
        targets += [t for t in (project.in_point, project.out_point) if t is not None]
        for track in project.tracks:
            for clip in track.clips:
                if clip.id != exclude:
                    targets += [clip.position, clip.end]
        return targets

    def row_at(self, y: float, default: int = 0) -> int:
        """The track index at scene ``y``: a lane counts as the track it hangs under; above
        the first row is the first track, below the last row the last one."""
        if self.rows == 0:
            return default
        if y < 0:
            return 0
        for row in self.rows_layout:
            if row.top <= y < row.bottom:
                return min(max(row.index, 0), self.rows - 1)
        return self.rows - 1

    def lane_at(self, y: float) -> EventLaneItem | None:
        """The event lane at scene ``y``, if any."""
        for row in self.rows_layout:
            if row.kind == "events" and row.top <= y < row.bottom:
                return self.lanes.get(row.key)
        return None

    def track_id_at_row(self, row: int) -> str | None:
        tracks = self.document.project.tracks
        return tracks[row].id if 0 <= row < len(tracks) else None

    def request_event_action(self, action: str, target: str) -> None:
        """Ask the window for an event action it runs (``event_action``: detect, import…)."""
        self.event_action.emit(action, target)

    def render_duration(self, path: str) -> float | None:
        """Length of a render file in seconds (cached; None if unreadable)."""
        if path not in self._durations:
            try:
                self._durations[path] = float(sf.info(path).duration)
            except (sf.SoundFileError, RuntimeError, OSError):
                self._durations[path] = None
        return self._durations[path]

    # --- background and clicks -----------------------------------------------------------
    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        painter.fillRect(rect, QColor("#202020"))
        for row in self.rows_layout:
            if row.kind != "track":
                continue
            band = QRectF(rect.left(), row.top, rect.width(), row.height)
            if band.intersects(rect):
                painter.fillRect(band, row_background_colour(row.index))
                if self.document.selected_track_id == row.key:
                    painter.fillRect(band, QColor(79, 143, 214, 22))
        # Faint vertical grid at the ruler's label step.
        step = nice_tick_step(self.pixels_per_second, self.document.project.fps)
        painter.setPen(QPen(QColor(255, 255, 255, 14), 0))
        first = int(max(rect.left(), 0) / (step * self.pixels_per_second))
        x = first * step * self.pixels_per_second
        while x <= rect.right():
            painter.drawLine(int(x), int(rect.top()), int(x), int(rect.bottom()))
            x += step * self.pixels_per_second
        if self.rows == 0:
            painter.setPen(QColor("#6a6a6a"))
            below = self.rows_layout[-1].bottom if self.rows_layout else 0.0
            hint = QRectF(rect.left() + 20, below + 10, max(rect.width() - 40, 100), 40)
            text = (
                "Drag a box on the picture to add an object (and its track), add a text or audio prompt "
                "in the Inspector, or drop an audio file here."
                if self.document.media is not None
                else "Open a video (File ▸ Open Video…) or drop one on the window."
            )
            painter.drawText(
                hint, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap, text
            )
        end = self.document.project.length * self.pixels_per_second
        if rect.right() > end:
            painter.fillRect(
                QRectF(
                    max(end, rect.left()), rect.top(), rect.right() - max(end, rect.left()), rect.height()
                ),
                QColor(0, 0, 0, 60),
            )

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        transform = self.views()[0].transform() if self.views() else QTransform()
        if isinstance(self.itemAt(event.scenePos(), transform), ClipItem | EventLaneItem):
            super().mousePressEvent(event)
            return
        pos = event.scenePos()
        row = next((r for r in self.rows_layout if r.top <= pos.y() < r.bottom), None)
        track_id = row.key if row is not None and row.kind == "track" else None
        self.document.select_events(None)
        self.document.select(clip_id=None, track_id=track_id)
        self.document.set_playhead(pos.x() / self.pixels_per_second)
        event.accept()

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self.mouseGrabberItem() is None and event.buttons():
            self.document.set_playhead(max(event.scenePos().x(), 0.0) / self.pixels_per_second)
            event.accept()
            return
        super().mouseMoveEvent(event)
