"""Graphics items of the timeline: clips (with waveform thumbnails), playhead, in/out shade.

A clip item previews a drag locally and commits one command when the mouse is released:
``MoveClip`` (body, possibly onto another track) or ``TrimClip`` (an edge).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QLineF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsRectItem,
    QGraphicsSceneHoverEvent,
    QGraphicsSceneMouseEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

from foleystudio.core.audio import db_to_gain
from foleystudio.core.commands import MIN_CLIP_DURATION
from foleystudio.core.project import Clip, Track
from foleystudio.errors import FoleyStudioError
from foleystudio.gui.document import Document
from foleystudio.gui.timeline.geometry import TRACK_HEIGHT, TimelineView, snap_time
from foleystudio.gui.timeline.waveforms import PEAKS_PER_SECOND

#: Pixels at each end of a clip that grab its edge for trimming.
EDGE_GRAB = 6
CLIP_MARGIN = 3


class ClipItem(QGraphicsRectItem):
    """One clip on its track row."""

    def __init__(self, view: TimelineView, document: Document, track: Track, row: int, clip: Clip) -> None:
        super().__init__()
        self.timeline = view
        self.document = document
        self.track_id = track.id
        self.row = row
        self.clip = clip
        self.colour = QColor(track.colour)
        self.setAcceptHoverEvents(True)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, False)
        self.setZValue(10)
        self._mode: str | None = None
        self._press_x = 0.0
        self._preview: tuple[float, float, int] | None = None  # (start s, end s, row)
        self.layout()

    # --- geometry ------------------------------------------------------------------------
    def span(self) -> tuple[float, float, int]:
        """(start s, end s, row) as shown: the drag preview or the clip itself."""
        if self._preview is not None:
            return self._preview
        return self.clip.position, self.clip.end, self.row

    def layout(self) -> None:
        pps = self.timeline.pixels_per_second
        start, end, row = self.span()
        self.setRect(
            QRectF(
                start * pps,
                self.timeline.track_top(row) + CLIP_MARGIN,
                max((end - start) * pps, 2.0),
                TRACK_HEIGHT - 2 * CLIP_MARGIN,
            )
        )

    @property
    def selected(self) -> bool:
        return self.document.selected_clip_id == self.clip.id

    # --- painting ------------------------------------------------------------------------
    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        rect = self.rect()
        body = QColor(self.colour)
        body.setAlpha(90 if self._preview is None else 140)
        painter.setPen(
            QPen(QColor("#ffffff") if self.selected else self.colour.darker(130), 2 if self.selected else 1)
        )
        painter.setBrush(body)
        painter.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), 3, 3)
        self._paint_waveform(painter, rect, option)
        if rect.width() > 30:
            painter.setPen(QColor("#f0f0f0"))
            painter.drawText(
                rect.adjusted(5, 2, -4, 0),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
                self.clip.label or "clip",
            )

    def _paint_waveform(self, painter: QPainter, rect: QRectF, option: QStyleOptionGraphicsItem) -> None:
        peaks = self.timeline.peak_cache.get(self.clip.render)
        if peaks is None or rect.width() < 2:
            return
        visible = rect.intersected(option.exposedRect) if not option.exposedRect.isEmpty() else rect
        if visible.width() <= 0:
            return
        pps = self.timeline.pixels_per_second
        start, _, _ = self.span()
        offset = self.clip.offset + (start - self.clip.position if self._mode == "trim_start" else 0.0)
        x0, x1 = int(visible.left()), int(visible.right()) + 1
        xs = np.arange(x0, x1, dtype=np.float64)
        # Render time of each pixel column, then its bin of peaks.
        t0 = offset + (xs - rect.left()) / pps
        t1 = t0 + 1.0 / pps
        b0 = np.clip((t0 * PEAKS_PER_SECOND).astype(np.int64), 0, len(peaks))
        b1 = np.clip(np.maximum((t1 * PEAKS_PER_SECOND).astype(np.int64), b0 + 1), 0, len(peaks))
        valid = b1 > b0
        if not valid.any():
            return
        # Extrema of each column's bins: reduceat over [b0[i], b0[i+1]) of the visible bins
        # (columns sharing one bin when zoomed in read that bin alone).
        xs, b0 = xs[valid], b0[valid]
        end = int(b1[valid][-1])
        lo = np.minimum.reduceat(peaks[:end, 0], b0)
        hi = np.maximum.reduceat(peaks[:end, 1], b0)
        gain = db_to_gain(self.clip.gain_db)
        mid = rect.center().y() + 6
        half = (rect.height() - 16) / 2
        top = mid - np.minimum(hi * gain, 1.0) * half
        bottom = mid - np.maximum(lo * gain, -1.0) * half
        lines = [
            QLineF(x, a, x, b) for x, a, b in zip(xs.tolist(), top.tolist(), bottom.tolist(), strict=True)
        ]
        painter.setPen(QPen(self.colour.lighter(150), 1))
        painter.drawLines(lines)

    # --- interaction ---------------------------------------------------------------------
    def _edge_at(self, x: float) -> str:
        rect = self.rect()
        grab = min(EDGE_GRAB, rect.width() / 4)
        if x - rect.left() <= grab:
            return "trim_start"
        if rect.right() - x <= grab:
            return "trim_end"
        return "move"

    def hoverMoveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        mode = self._edge_at(event.pos().x())
        self.setCursor(Qt.CursorShape.SizeHorCursor if mode != "move" else Qt.CursorShape.OpenHandCursor)

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            event.ignore()
            return
        self.document.select(clip_id=self.clip.id, track_id=self.track_id)
        self._mode = self._edge_at(event.pos().x())
        self._press_x = event.scenePos().x()
        self._preview = (self.clip.position, self.clip.end, self.row)
        self.setZValue(20)
        event.accept()

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self._mode is None:
            return
        pps = self.timeline.pixels_per_second
        dt = (event.scenePos().x() - self._press_x) / pps
        clip = self.clip
        targets = self.timeline.snap_targets(exclude=clip.id)
        fps = self.document.project.fps if self.timeline.snapping else None
        snap = self.timeline.snapping
        if self._mode == "move":
            start = max(clip.position + dt, 0.0)
            if snap:
                # Snap whichever edge lands nearer a target.
                s_start, hit_start = snap_time(start, targets, pps, fps)
                s_end, hit_end = snap_time(start + clip.duration, targets, pps)
                start = s_end - clip.duration if hit_end and not hit_start else s_start
            row = self.timeline.row_at(event.scenePos().y(), default=self.row)
            self._preview = (max(start, 0.0), max(start, 0.0) + clip.duration, row)
        elif self._mode == "trim_start":
            start = clip.position + dt
            if snap:
                start, _ = snap_time(start, targets, pps, fps)
            start = min(max(start, clip.position - clip.offset, 0.0), clip.end - MIN_CLIP_DURATION)
            self._preview = (start, clip.end, self.row)
        else:
            end = clip.end + dt
            if snap:
                end, _ = snap_time(end, targets, pps, fps)
            limit = self.timeline.render_duration(clip.render)
            if limit is not None:
                end = min(end, clip.position + limit - clip.offset)
            self._preview = (clip.position, max(end, clip.position + MIN_CLIP_DURATION), self.row)
        self.prepareGeometryChange()
        self.layout()
        self.update()

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        mode, preview = self._mode, self._preview
        self._mode, self._preview = None, None
        self.setZValue(10)
        self.layout()
        if mode is None or preview is None:
            return
        start, end, row = preview
        document = self.document
        try:
            if mode == "move":
                track_id = self.timeline.track_id_at_row(row) or self.track_id
                if abs(start - self.clip.position) > 1e-9 or track_id != self.track_id:
                    document.move_clip(self.clip.id, start, track_id)
            elif mode == "trim_start" and abs(start - self.clip.position) > 1e-9:
                document.trim_clip(self.clip.id, "start", start)
            elif mode == "trim_end" and abs(end - self.clip.end) > 1e-9:
                document.trim_clip(self.clip.id, "end", end, self.timeline.render_duration(self.clip.render))
        except FoleyStudioError as exc:
            document.report_error(exc)


class PlayheadItem(QGraphicsRectItem):
    """The playhead across all tracks (a 2 px line drawn as a thin rect, always on top)."""

    def __init__(self) -> None:
        super().__init__()
        self.setZValue(100)
        self.setPen(Qt.PenStyle.NoPen)
        self.setBrush(QColor("#ff5555"))
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def place(self, x: float, height: float) -> None:
        self.setRect(QRectF(x - 1, 0, 2, height))


class RangeShade(QGraphicsRectItem):
    """The in/out range, a faint band behind the clips."""

    def __init__(self) -> None:
        super().__init__()
        self.setZValue(-5)
        self.setPen(Qt.PenStyle.NoPen)
        colour = QColor("#e0b050")
        colour.setAlpha(28)
        self.setBrush(colour)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)


def row_background_colour(row: int) -> QColor:
    return QColor("#262626" if row % 2 == 0 else "#2b2b2b")
