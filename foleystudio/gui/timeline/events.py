"""Event lanes: each sound source's event track under its timeline track (issue 15).

A lane draws one marker per event: a stem from the lane's floor whose height is the event's
strength, in the source's colour (selected markers white-edged). Every edit is a document
call, so a core command, so undoable; a drag previews locally and commits one command when
the mouse is released, as clip drags do.

Interaction (also shown as the lane's tooltip and status message, :data:`LANE_HELP`):

- click on empty lane: add an event there (strength 1), selected;
- click a marker: select it (Shift+click adds it to or takes it from the selection);
- drag a marker: move the selection (snapped to video frames while snapping is on; N);
- Ctrl+drag a marker up/down: scale the selection's strengths (the grabbed marker follows
  the mouse, the others keep their ratio to it);
- drag on empty lane: marquee (rubber band) selection of the events in its time span
  (Shift adds to the selection);
- Delete: remove the selected events; right-click: detect again, import, export, clear.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QAction, QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsRectItem,
    QGraphicsSceneContextMenuEvent,
    QGraphicsSceneHoverEvent,
    QGraphicsSceneMouseEvent,
    QMenu,
    QStyleOptionGraphicsItem,
    QWidget,
)

from foleystudio.core.requests import WHOLE_PICTURE
from foleystudio.core.tapping import snap_to_frame
from foleystudio.errors import FoleyStudioError
from foleystudio.gui.document import Document
from foleystudio.gui.timeline.geometry import TimelineView

#: A marker is picked within this many pixels of its time.
MARKER_GRAB = 4.0
#: A press that moves less than this (px) is a click, not a drag.
CLICK_SLOP = 4.0
#: Room above the tallest marker and below the floor (px).
LANE_PAD = 4.0

LANE_HELP = (
    "Event lane: click to add an event · drag a marker to move the selection (N: snap to frames) · "
    "Ctrl+drag up/down to scale strengths · drag on empty lane to select several (Shift adds) · "
    "Delete removes · right-click to detect again, import or export"
)

#: Actions a lane asks the window to run (they need dialogs or a background job).
EVENT_ACTIONS = {
    "detect_range": "Detect Again in In/Out",
    "detect_all": "Detect Again over Whole Clip",
    "import": "Import Events…",
    "export": "Export Events…",
}


def fill_event_menu(
    menu: QMenu, document: Document, target: str, request: Callable[[str, str], None]
) -> None:
    """The menu of a source's events: ``request(target, action)`` runs the window's actions
    (:data:`EVENT_ACTIONS`); selecting all and clearing are document edits made here."""
    project = document.project
    has_range = project.in_point is not None or project.out_point is not None
    has_track = document.has_event_track(target)
    for action_id, text in EVENT_ACTIONS.items():
        action = QAction(text, menu)
        action.setEnabled(
            bool(project.video)
            and (action_id != "detect_range" or has_range)
            and (action_id != "export" or has_track)
        )
        action.triggered.connect(lambda *_, a=action_id: request(target, a))
        menu.addAction(action)
        if action_id == "detect_all":
            menu.addSeparator()
    menu.addSeparator()
    select_all = QAction("Select All Events", menu)
    select_all.setEnabled(len(document.event_track(target)) > 0)
    select_all.triggered.connect(
        lambda: document.select_events(target, document.event_track(target).times.tolist())
    )
    menu.addAction(select_all)
    clear = QAction("Clear Events (Generation Uses the Detector)", menu)
    clear.setEnabled(has_track)
    clear.triggered.connect(lambda: _report(document, lambda: document.set_event_track(target, None)))
    menu.addAction(clear)


def _report(document: Document, edit: Callable[[], object]) -> None:
    try:
        edit()
    except FoleyStudioError as exc:
        document.report_error(exc)


class EventLaneItem(QGraphicsRectItem):
    """The event markers of one source (``target``: an object source id or ``WHOLE_PICTURE``)."""

    def __init__(
        self, view: TimelineView, document: Document, target: str, top: float, height: float
    ) -> None:
        super().__init__()
        self.timeline = view
        self.document = document
        self.target = target
        self.top = top
        self.height = height
        self.setAcceptHoverEvents(True)
        self.setAcceptedMouseButtons(Qt.MouseButton.LeftButton | Qt.MouseButton.RightButton)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, False)
        self.setPen(Qt.PenStyle.NoPen)
        self.setZValue(5)
        self.setToolTip(LANE_HELP)
        self._mode: str | None = None  # "move", "scale", "pending" (click or marquee), "marquee"
        self._press = QPointF()
        self._grab = (0.0, 1.0)  # grabbed event (time, strength)
        self._extend = False
        self._delta = 0.0
        self._factor = 1.0
        self._marquee: QRectF | None = None
        self.layout()

    # --- geometry ------------------------------------------------------------------------
    def layout(self) -> None:
        self.setRect(QRectF(0.0, self.top, self.timeline.scene_width(), self.height))

    def x_of(self, time: float) -> float:
        return time * self.timeline.pixels_per_second

    def time_of(self, x: float) -> float:
        return max(x, 0.0) / self.timeline.pixels_per_second

    def _usable(self) -> float:
        return max(self.height - 2 * LANE_PAD, 1.0)

    def floor_y(self) -> float:
        return self.top + self.height - LANE_PAD

    def marker_top(self, strength: float) -> float:
        return self.floor_y() - max(strength, 0.04) * self._usable()

    def event_at(self, x: float) -> int | None:
        """Index of the event whose marker is nearest ``x`` (scene px), within reach."""
        best, distance = None, MARKER_GRAB
        for i, event in enumerate(self.document.event_track(self.target).events):
            d = abs(self.x_of(event.time) - x)
            if d <= distance:
                best, distance = i, d
        return best

    # --- the operations the mouse makes (also used by tests and scripts) -----------------
    def snapped(self, time: float) -> float:
        """``time`` on a frame boundary while snapping is on."""
        return snap_to_frame(time, self.document.project.fps) if self.timeline.snapping else time

    def drag_delta(self, grab_time: float, dt: float) -> float:
        """The move of the selection when the marker at ``grab_time`` is dragged ``dt`` s:
        the grabbed marker lands on a frame (snapping), none goes before 0."""
        selected = self.document.selected_events(self.target) or (grab_time,)
        delta = self.snapped(grab_time + dt) - grab_time
        earliest = min(selected)
        if earliest + delta < 0:
            delta = -earliest
        return delta

    def move_selection(self, delta: float) -> None:
        """Move the selected events by ``delta`` s (one undoable command)."""
        times = self.document.selected_events(self.target)
        if times and delta != 0:
            _report(self.document, lambda: self.document.move_events(self.target, times, delta))

    def scale_selection(self, factor: float) -> None:
        """Scale the selected events' strengths by ``factor`` (one undoable command)."""
        times = self.document.selected_events(self.target)
        if times and factor != 1:
            _report(self.document, lambda: self.document.scale_event_strengths(self.target, times, factor))

    def add_event_at(self, time: float, strength: float = 1.0) -> None:
        """Add an event at ``time`` s (snapped to a frame while snapping is on); where one is
        already at that time it is selected instead (no doubled events)."""
        time = self.snapped(time)
        _report(self.document, lambda: self.document.add_or_select_event(self.target, time, strength))

    def select_between(self, t0: float, t1: float, extend: bool = False) -> None:
        """Select the events with ``t0 <= time <= t1`` (added to the selection if ``extend``)."""
        lo, hi = min(t0, t1), max(t0, t1)
        inside = [e.time for e in self.document.event_track(self.target).events if lo <= e.time <= hi]
        current = list(self.document.selected_events(self.target)) if extend else []
        self.document.select_events(self.target, current + [t for t in inside if t not in current])

    # --- painting ------------------------------------------------------------------------
    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        rect = self.rect()
        visible = option.exposedRect if not option.exposedRect.isEmpty() else rect
        colour = QColor(self.document.event_colour(self.target))
        band = QColor(colour)
        band.setAlpha(14)
        painter.fillRect(visible.intersected(rect), band)  # translucent: the in/out shade shows
        painter.setPen(QPen(QColor(255, 255, 255, 18), 0))
        painter.drawLine(QLineF(visible.left(), self.floor_y() + 0.5, visible.right(), self.floor_y() + 0.5))
        track = self.document.event_track(self.target)
        if not track.events:
            painter.setPen(QColor("#707070"))
            hint = (
                "no events (generation follows them as given: none)"
                if self.document.has_event_track(self.target)
                else "no event track yet: generation uses the detector's events. "
                "Right-click to detect or import; click to add."
            )
            left = max(visible.left(), 0.0) + 8
            painter.drawText(
                QRectF(left, self.top, max(visible.right() - left, 10.0), self.height),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                hint,
            )
        selected = set(self.document.selected_events(self.target))
        x0, x1 = visible.left() - 8, visible.right() + 8
        normal = QPen(colour, 2)
        highlight = QPen(QColor("#ffffff"), 2)
        for event in track.events:
            is_selected = event.time in selected
            time, strength = event.time, event.strength
            if is_selected and self._mode == "move":
                time += self._delta
            elif is_selected and self._mode == "scale":
                strength = min(strength * self._factor, 1.0)
            x = self.x_of(time)
            if not x0 <= x <= x1:
                continue
            top = self.marker_top(strength)
            painter.setPen(highlight if is_selected else normal)
            painter.drawLine(QLineF(x, self.floor_y(), x, top))
            painter.setBrush(QColor("#ffffff") if is_selected else colour)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawEllipse(QPointF(x, top), 3.0, 3.0)
        if self._marquee is not None:
            painter.setPen(QPen(QColor(79, 143, 214), 1, Qt.PenStyle.DashLine))
            painter.setBrush(QColor(79, 143, 214, 40))
            painter.drawRect(self._marquee)

    # --- interaction ---------------------------------------------------------------------
    def hoverEnterEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self.document.post_message(LANE_HELP)

    def hoverMoveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        over = self.event_at(event.scenePos().x()) is not None
        self.setCursor(Qt.CursorShape.SizeHorCursor if over else Qt.CursorShape.CrossCursor)

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            event.accept()  # the context menu follows
            return
        pos = event.scenePos()
        self._press = pos
        self._delta, self._factor = 0.0, 1.0
        self._extend = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        index = self.event_at(pos.x())
        if index is None:
            self._mode = "pending"
            event.accept()
            return
        grabbed = self.document.event_track(self.target).events[index]
        selected = list(self.document.selected_events(self.target))
        if self._extend:
            if grabbed.time in selected:
                selected.remove(grabbed.time)
            else:
                selected.append(grabbed.time)
            self.document.select_events(self.target, selected)
            self._mode = None
            event.accept()
            return
        if grabbed.time not in selected:
            self.document.select_events(self.target, [grabbed.time])
        self._grab = (grabbed.time, grabbed.strength)
        self._mode = "scale" if event.modifiers() & Qt.KeyboardModifier.ControlModifier else "move"
        event.accept()

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        pos = event.scenePos()
        if self._mode == "move":
            self._delta = self.drag_delta(
                self._grab[0], (pos.x() - self._press.x()) / self.timeline.pixels_per_second
            )
        elif self._mode == "scale":
            base = max(self._grab[1], 0.05)
            wanted = min(max(base - (pos.y() - self._press.y()) / self._usable(), 0.0), 1.0)
            self._factor = wanted / base
        elif self._mode == "pending" and (pos - self._press).manhattanLength() >= CLICK_SLOP:
            self._mode = "marquee"
        if self._mode == "marquee":
            top, bottom = self.top + 1, self.top + self.height - 1
            self._marquee = QRectF(
                QPointF(min(self._press.x(), pos.x()), top), QPointF(max(self._press.x(), pos.x()), bottom)
            )
        self.update()

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        mode, delta, factor, marquee = self._mode, self._delta, self._factor, self._marquee
        self._mode, self._delta, self._factor, self._marquee = None, 0.0, 1.0, None
        self.update()
        if mode == "move" and delta != 0:
            self.move_selection(delta)
        elif mode == "scale" and abs(factor - 1) > 1e-6:
            self.scale_selection(factor)
        elif mode == "pending":
            self.add_event_at(self.time_of(self._press.x()))
        elif mode == "marquee" and marquee is not None:
            self.select_between(self.time_of(marquee.left()), self.time_of(marquee.right()), self._extend)

    def contextMenuEvent(self, event: QGraphicsSceneContextMenuEvent) -> None:
        menu = QMenu()
        fill_event_menu(menu, self.document, self.target, self.timeline.request_event_action)
        menu.exec(event.screenPos())
        event.accept()


def lane_title(document: Document, target: str) -> str:
    """The lane's header text: ``Picture events`` or ``<label> events``, with the count."""
    name = "Picture" if target == WHOLE_PICTURE else document.event_label(target)
    track = document.event_track(target)
    if not document.has_event_track(target):
        return f"{name} events · auto"
    return f"{name} events · {len(track)}"
