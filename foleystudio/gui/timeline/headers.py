"""Track headers: name, mute, solo, gain and pan for each timeline row, and a small header
per event lane (its source's name, event count and menu).

Each control calls one document edit (``SetTrackProperty``); a fader or pan drag is one
merge session, so it is one undo step. Headers are rebuilt only when the rows change;
otherwise their controls are updated in place (so a drag is never interrupted).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QColor, QContextMenuEvent, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from foleystudio.core.project import Track
from foleystudio.errors import FoleyStudioError
from foleystudio.gui.document import Document
from foleystudio.gui.timeline.events import LANE_HELP, fill_event_menu, lane_title
from foleystudio.gui.timeline.geometry import HEADER_WIDTH, Row, timeline_rows

GAIN_MIN_DB = -60.0
GAIN_MAX_DB = 12.0


def pan_text(pan: float) -> str:
    """``C``, ``L40``, ``R100`` for a pan in [-1, 1]."""
    value = round(pan * 100)
    return "C" if value == 0 else f"{'L' if value < 0 else 'R'}{abs(value)}"


class ResettableSlider(QSlider):
    """A horizontal slider that returns to ``default`` on double-click."""

    def __init__(self, minimum: int, maximum: int, default: int, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setRange(minimum, maximum)
        self.default = default
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.setValue(self.default)


class TrackHeader(QFrame):
    """The controls of one track."""

    def __init__(
        self, document: Document, track: Track, height: float, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.document = document
        self.track_id = track.id
        self.colour = QColor(track.colour)
        self.setFixedHeight(round(height))
        self.setFixedWidth(HEADER_WIDTH)
        self._session: int | None = None

        self.name = QLineEdit(track.name)
        self.name.setFrame(False)
        self.name.setStyleSheet("background: transparent; font-weight: bold;")
        self.name.editingFinished.connect(self._rename)
        self.mute = QToolButton()
        self.mute.setText("M")
        self.mute.setObjectName("mute")
        self.mute.setCheckable(True)
        self.mute.setToolTip("Mute")
        self.mute.toggled.connect(lambda on: self._set("mute", bool(on)))
        self.solo = QToolButton()
        self.solo.setText("S")
        self.solo.setObjectName("solo")
        self.solo.setCheckable(True)
        self.solo.setToolTip("Solo")
        self.solo.toggled.connect(lambda on: self._set("solo", bool(on)))
        self.gain = ResettableSlider(round(GAIN_MIN_DB * 10), round(GAIN_MAX_DB * 10), 0)
        self.gain.setToolTip("Track gain (dB); double-click resets")
        self.gain_label = QLabel()
        self.gain_label.setFixedWidth(48)
        self.gain_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.pan = ResettableSlider(-100, 100, 0)
        self.pan.setToolTip("Pan; double-click centres")
        self.pan_label = QLabel()
        self.pan_label.setFixedWidth(34)
        self.pan_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        for slider in (self.gain, self.pan):
            slider.sliderPressed.connect(self._begin_drag)
            slider.sliderReleased.connect(self._end_drag)
        self.gain.valueChanged.connect(lambda v: self._set("gain_db", v / 10.0, self._session))
        self.pan.valueChanged.connect(lambda v: self._set("pan", v / 100.0, self._session))

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.name, 1)
        top.addWidget(self.mute)
        top.addWidget(self.solo)
        bottom = QHBoxLayout()
        bottom.setContentsMargins(0, 0, 0, 0)
        bottom.setSpacing(3)
        bottom.addWidget(self.gain, 3)
        bottom.addWidget(self.gain_label)
        bottom.addWidget(self.pan, 2)
        bottom.addWidget(self.pan_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 3, 4, 3)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addLayout(bottom)
        self.sync(track)

    def sync(self, track: Track) -> None:
        """Show ``track``'s values without emitting edits."""
        self.colour = QColor(track.colour)
        for widget in (self.mute, self.solo, self.gain, self.pan):
            widget.blockSignals(True)
        if not self.name.hasFocus():
            self.name.setText(track.name)
        self.mute.setChecked(track.mute)
        self.solo.setChecked(track.solo)
        if not self.gain.isSliderDown():
            self.gain.setValue(round(min(max(track.gain_db, GAIN_MIN_DB), GAIN_MAX_DB) * 10))
        if not self.pan.isSliderDown():
            self.pan.setValue(round(track.pan * 100))
        for widget in (self.mute, self.solo, self.gain, self.pan):
            widget.blockSignals(False)
        self.gain_label.setText(f"{track.gain_db:+.1f} dB")
        self.pan_label.setText(pan_text(track.pan))
        self.update()

    def _begin_drag(self) -> None:
        self._session = self.document.new_merge_session()

    def _end_drag(self) -> None:
        self._session = None

    def _set(self, name: str, value: object, session: int | None = None) -> None:
        try:
            self.document.set_track(self.track_id, name, value, session)
        except FoleyStudioError as exc:
            self.document.report_error(exc)

    def _rename(self) -> None:
        track = next((t for t in self.document.project.tracks if t.id == self.track_id), None)
        text = self.name.text().strip()
        if track is not None and text and text != track.name:
            self._set("name", text)
        elif track is not None:
            self.name.setText(track.name)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        selected = self.document.selected_track_id == self.track_id
        painter.fillRect(self.rect(), QColor("#34404d" if selected else "#2e2e2e"))
        painter.fillRect(0, 0, 5, self.height(), self.colour)
        painter.setPen(QColor("#1a1a1a"))
        painter.drawLine(0, self.height() - 1, self.width(), self.height() - 1)
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.document.select(track_id=self.track_id, clip_id=None)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        menu = QMenu(self)
        remove = QAction("Remove track", menu)
        remove.triggered.connect(lambda: self.document.remove_track(self.track_id))
        menu.addAction(remove)
        menu.exec(event.globalPos())


class EventLaneHeader(QFrame):
    """The header of a source's event lane: its name and count, and the lane's menu."""

    def __init__(
        self,
        document: Document,
        target: str,
        height: float,
        request: Callable[[str, str], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.document = document
        self.target = target
        self._request = request
        self.setFixedHeight(round(height))
        self.setFixedWidth(HEADER_WIDTH)
        self.setToolTip(LANE_HELP)
        self.title = QLabel()
        self.title.setStyleSheet("color: #b8b8b8;")
        self.menu_button = QToolButton()
        self.menu_button.setText("⋯")
        self.menu_button.setToolTip("Detect again, import, export or clear this source's events")
        self.menu_button.setAutoRaise(True)
        self.menu_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu = QMenu(self.menu_button)
        self.menu.aboutToShow.connect(self._fill_menu)
        self.menu_button.setMenu(self.menu)
        row = QHBoxLayout(self)
        row.setContentsMargins(18, 0, 4, 0)
        row.addWidget(self.title, 1)
        row.addWidget(self.menu_button)
        self.sync()

    def sync(self) -> None:
        self.title.setText(lane_title(self.document, self.target))
        self.update()

    def _fill_menu(self) -> None:
        self.menu.clear()
        fill_event_menu(self.menu, self.document, self.target, self._request)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#262626"))
        colour = QColor(self.document.event_colour(self.target))
        painter.fillRect(0, 0, 5, self.height(), colour)
        painter.setPen(colour)
        painter.setBrush(colour)
        painter.drawEllipse(9, self.height() // 2 - 2, 4, 4)
        painter.setPen(QColor("#1a1a1a"))
        painter.drawLine(0, self.height() - 1, self.width(), self.height() - 1)
        painter.end()

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        menu = QMenu(self)
        fill_event_menu(menu, self.document, self.target, self._request)
        menu.exec(event.globalPos())


class HeaderColumn(QWidget):
    """The stack of headers, one per row (tracks and event lanes)."""

    #: ``(event target, action)``: a lane header asks for one of ``events.EVENT_ACTIONS``.
    event_action = Signal(str, str)

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.headers: list[TrackHeader] = []
        self.lane_headers: dict[str, EventLaneHeader] = {}
        self._rows: list[Row] | None = None
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(0)
        self._layout.addStretch(1)
        self.setFixedWidth(HEADER_WIDTH)
        document.changed.connect(lambda _: self.refresh())
        document.project_replaced.connect(self.refresh)
        document.selection_changed.connect(self._repaint)
        self.refresh()

    def header(self, track_id: str) -> TrackHeader:
        return next(h for h in self.headers if h.track_id == track_id)

    def refresh(self) -> None:
        project = self.document.project
        tracks = {t.id: t for t in project.tracks}
        rows = timeline_rows(project)
        if rows != self._rows:
            self._rows = rows
            for widget in [*self.headers, *self.lane_headers.values()]:
                self._layout.removeWidget(widget)
                widget.deleteLater()
            self.headers, self.lane_headers = [], {}
            for i, row in enumerate(rows):
                if row.kind == "track":
                    header = TrackHeader(self.document, tracks[row.key], row.height, self)
                    self.headers.append(header)
                    self._layout.insertWidget(i, header)
                else:
                    lane = EventLaneHeader(self.document, row.key, row.height, self.event_action.emit, self)
                    self.lane_headers[row.key] = lane
                    self._layout.insertWidget(i, lane)
            self.setMinimumHeight(round(rows[-1].bottom) if rows else 0)
        else:
            for header in self.headers:
                header.sync(tracks[header.track_id])
            for lane in self.lane_headers.values():
                lane.sync()

    def _repaint(self) -> None:
        for header in self.headers:
            header.update()
