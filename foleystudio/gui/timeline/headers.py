"""Track headers: name, mute, solo, gain and pan for each timeline row.

Each control calls one document edit (``SetTrackProperty``); a fader or pan drag is one
merge session, so it is one undo step. Headers are rebuilt only when the list of tracks
changes; otherwise their controls are updated in place (so a drag is never interrupted).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
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
from foleystudio.gui.timeline.geometry import HEADER_WIDTH, TRACK_HEIGHT

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

    def __init__(self, document: Document, track: Track, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.track_id = track.id
        self.colour = QColor(track.colour)
        self.setFixedHeight(TRACK_HEIGHT)
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
            self.document.error.emit(str(exc))

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


class HeaderColumn(QWidget):
    """The stack of track headers, one per row."""

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.headers: list[TrackHeader] = []
        self._ids: tuple[str, ...] | None = None
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
        tracks = self.document.project.tracks
        ids = tuple(t.id for t in tracks)
        if ids != self._ids:
            self._ids = ids
            for header in self.headers:
                self._layout.removeWidget(header)
                header.deleteLater()
            self.headers = [TrackHeader(self.document, t, self) for t in tracks]
            for i, header in enumerate(self.headers):
                self._layout.insertWidget(i, header)
            self.setMinimumHeight(len(tracks) * TRACK_HEIGHT)
        else:
            for header, track in zip(self.headers, tracks, strict=True):
                header.sync(track)

    def _repaint(self) -> None:
        for header in self.headers:
            header.update()
