"""The Timeline panel: headers | ruler + thumbnails over the scrolling track view.

Keys are the main window's actions; here: Ctrl+wheel zooms around the mouse, Shift+wheel
scrolls in time, and files dropped on a track import there (audio) or open (video).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QPainter, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsView,
    QGridLayout,
    QHBoxLayout,
    QScrollArea,
    QToolButton,
    QWidget,
)

from foleystudio.errors import FoleyStudioError
from foleystudio.gui.document import Document
from foleystudio.gui.dropping import LIBRARY_MIME, first_of
from foleystudio.gui.timeline.geometry import HEADER_WIDTH, RULER_HEIGHT, THUMB_HEIGHT
from foleystudio.gui.timeline.headers import HeaderColumn
from foleystudio.gui.timeline.ruler import RulerWidget
from foleystudio.gui.timeline.scene import TimelineScene
from foleystudio.gui.timeline.waveforms import PeakCache

ZOOM_STEP = 1.25


class TimelineView(QGraphicsView):
    """The scrolling view of the track rows."""

    video_dropped = Signal(Path)

    def __init__(self, scene: TimelineScene, parent: QWidget | None = None) -> None:
        super().__init__(scene, parent)
        self.timeline = scene
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def wheelEvent(self, event: QWheelEvent) -> None:
        mods = event.modifiers()
        delta = event.angleDelta().y() or event.angleDelta().x()
        if mods & Qt.KeyboardModifier.ControlModifier:
            self.zoom_by(ZOOM_STEP if delta > 0 else 1 / ZOOM_STEP, anchor_x=event.position().x())
            event.accept()
        elif mods & Qt.KeyboardModifier.ShiftModifier:
            bar = self.horizontalScrollBar()
            bar.setValue(bar.value() - delta)
            event.accept()
        else:
            super().wheelEvent(event)

    def zoom_by(self, factor: float, anchor_x: float | None = None) -> None:
        """Zoom by ``factor`` keeping the time under ``anchor_x`` (viewport px; default the
        playhead if visible, else the centre) where it is."""
        scene = self.timeline
        bar = self.horizontalScrollBar()
        if anchor_x is None:
            playhead_x = scene.document.playhead * scene.pixels_per_second - bar.value()
            anchor_x = (
                playhead_x if 0 <= playhead_x <= self.viewport().width() else self.viewport().width() / 2
            )
        anchor_t = (bar.value() + anchor_x) / scene.pixels_per_second
        scene.set_zoom(scene.pixels_per_second * factor)
        bar.setValue(round(anchor_t * scene.pixels_per_second - anchor_x))

    def zoom_to_fit(self) -> None:
        length = max(self.timeline.document.project.length, 1.0)
        self.timeline.set_zoom(max(self.viewport().width() - 20, 100) / length)
        self.horizontalScrollBar().setValue(0)

    def ensure_playhead_visible(self) -> None:
        """Page the view when the playhead leaves it (while playing)."""
        scene = self.timeline
        bar = self.horizontalScrollBar()
        x = scene.document.playhead * scene.pixels_per_second
        width = self.viewport().width()
        if x < bar.value() or x > bar.value() + width - 10:
            bar.setValue(round(x - width * 0.1))

    # --- drops ---------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if first_of(event.mimeData(), "audio", "video"):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if first_of(event.mimeData(), "audio", "video"):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        found = first_of(event.mimeData(), "audio", "video")
        if found is None:
            event.ignore()
            return
        kind, path = found
        event.acceptProposedAction()
        if kind == "video":
            self.video_dropped.emit(path)
            return
        pos = self.mapToScene(event.position().toPoint())
        scene = self.timeline
        row = next((r for r in scene.rows_layout if r.top <= pos.y() < r.bottom), None)
        track_id = row.key if row is not None and row.kind == "track" else None
        # A sound dragged from the Library lands at the playhead; a file from elsewhere where dropped.
        from_library = event.mimeData().hasFormat(LIBRARY_MIME)
        position = scene.document.playhead if from_library else max(pos.x(), 0.0) / scene.pixels_per_second
        try:
            scene.document.import_audio_clip(path, track_id, position)
        except FoleyStudioError as exc:
            scene.document.report_error(exc)


class TimelinePanel(QWidget):
    """Headers, ruler and view kept in step (scroll, zoom)."""

    #: ``(event target, action)`` from a lane or its header (``events.EVENT_ACTIONS``): the
    #: window runs it (it needs dialogs or a background job).
    event_action = Signal(str, str)

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.peak_cache = PeakCache(self)
        self.scene = TimelineScene(document, self.peak_cache)
        self.view = TimelineView(self.scene)
        self.ruler = RulerWidget(document)
        self.headers = HeaderColumn(document)
        self.scene.event_action.connect(self.event_action)
        self.headers.event_action.connect(self.event_action)
        self.header_area = QScrollArea()
        self.header_area.setWidget(self.headers)
        self.header_area.setWidgetResizable(True)
        self.header_area.setFrameShape(QFrame.Shape.NoFrame)
        self.header_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.header_area.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.header_area.setFixedWidth(HEADER_WIDTH)

        corner = QWidget()
        corner.setFixedSize(HEADER_WIDTH, RULER_HEIGHT + THUMB_HEIGHT)
        buttons = QHBoxLayout(corner)
        buttons.setContentsMargins(4, 2, 4, 2)
        self.add_track_button = QToolButton()
        self.add_track_button.setText("+ Track")
        self.add_track_button.setToolTip("Add an empty track")
        self.add_track_button.clicked.connect(lambda: document.add_track())
        self.snap_button = QToolButton()
        self.snap_button.setText("Snap")
        self.snap_button.setCheckable(True)
        self.snap_button.setChecked(True)
        self.snap_button.setToolTip(
            "Snapping to clips, playhead, in/out and frames; events snap to frames (N)"
        )
        self.snap_button.toggled.connect(self.set_snapping)
        zoom_out = QToolButton()
        zoom_out.setText("−")
        zoom_out.setToolTip("Zoom out (−)")
        zoom_out.clicked.connect(lambda: self.view.zoom_by(1 / ZOOM_STEP))
        zoom_in = QToolButton()
        zoom_in.setText("+")
        zoom_in.setToolTip("Zoom in (+)")
        zoom_in.clicked.connect(lambda: self.view.zoom_by(ZOOM_STEP))
        for b in (self.add_track_button, self.snap_button, zoom_out, zoom_in):
            buttons.addWidget(b)
        buttons.addStretch(1)

        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(0)
        grid.addWidget(corner, 0, 0)
        grid.addWidget(self.ruler, 0, 1)
        grid.addWidget(self.header_area, 1, 0)
        grid.addWidget(self.view, 1, 1)

        self.view.verticalScrollBar().valueChanged.connect(self.header_area.verticalScrollBar().setValue)
        self.view.horizontalScrollBar().valueChanged.connect(lambda _: self._sync_ruler())
        self.scene.zoom_changed.connect(lambda _: self._sync_ruler())
        self._sync_ruler()

    def set_snapping(self, on: bool) -> None:
        self.scene.snapping = bool(on)
        if self.snap_button.isChecked() != bool(on):
            self.snap_button.setChecked(bool(on))

    def toggle_snapping(self) -> None:
        self.set_snapping(not self.scene.snapping)

    def _sync_ruler(self) -> None:
        self.ruler.set_view(self.scene.pixels_per_second, self.view.horizontalScrollBar().value())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._sync_ruler()

    def shutdown(self) -> None:
        self.ruler.shutdown()
        self.peak_cache.shutdown()
