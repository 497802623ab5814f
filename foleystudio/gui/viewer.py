"""The Viewer: the frame at the playhead, object boxes, transport and scrubbing (docs/architecture.md §9).

Frames are decoded off the GUI thread by :class:`FrameProvider` (one thread owning the
``core.media.VideoFile``s; requests coalesce, so while playing or scrubbing only the newest
time is decoded and the decoder streams forward instead of seeking). Once the video's
scrubbing proxy is built (``core/proxy.py``, a background job of the main window), a moving
playhead (playing, scrubbing, stepping) is shown from the proxy, where any seek is one small
intra decode, and the full-resolution frame follows when the playhead has rested for
:data:`REST_MS` (or at once when playback stops).

Boxes: every object source active at the playhead is drawn in its colour (solid on a
keyframe, dashed when interpolated). Drag on empty picture to draw a new object; drag a box
to move it, its corners or edges to resize it. A finished gesture is one
``SetBoxKeyframe`` command at the playhead (or ``AddSource`` + ``AddTrack`` for a new box).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from foleystudio.core.boxes import Box
from foleystudio.core.commands import KEYFRAME_TIME_TOLERANCE
from foleystudio.core.media import VideoFile
from foleystudio.core.sources import ObjectSource
from foleystudio.errors import FoleyStudioError
from foleystudio.gui import theme
from foleystudio.gui.document import Document

#: Longest side of decoded frames (the canvas scales them; 1280 keeps 4K decode cheap to show).
DISPLAY_SIZE = 1280
#: How long the playhead must rest before the full-resolution frame replaces the proxy's (ms).
REST_MS = 150
#: Distance (pixels) within which a box edge or corner can be grabbed.
GRAB = 7
#: Smallest box (pixels) a drag creates.
MIN_BOX_PX = 6


def rgb_to_qimage(frame: np.ndarray) -> QImage:
    """A QImage owning a copy of an RGB uint8 (H, W, 3) frame."""
    frame = np.ascontiguousarray(frame)
    height, width = frame.shape[:2]
    image = QImage(frame.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    return image.copy()


class FrameProvider(QObject):
    """Decodes the newest requested frame on a background thread, from the full-resolution
    video or (for a request with ``exact=False``, once :meth:`set_proxy` gave one) its proxy.

    ``frame_ready(seconds, rgb, from_proxy)``.
    """

    frame_ready = Signal(float, object, bool)
    failed = Signal(str)

    def __init__(self, max_size: int = DISPLAY_SIZE, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.max_size = max_size
        self._cond = threading.Condition()
        self._pending_path: str | None = None
        self._pending_proxy: str | None = None
        self._request: tuple[float, bool] | None = None
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="frame-decoder", daemon=True)
        self._thread.start()

    def open(self, path: str | None) -> None:
        """Decode from ``path`` from now on (None closes); its proxy is dropped."""
        with self._cond:
            self._pending_path = path or ""
            self._pending_proxy = ""
            self._request = (0.0, True) if path else None
            self._cond.notify()

    def set_proxy(self, path: str | None) -> None:
        """Use the proxy at ``path`` for inexact requests (None: decode everything full size)."""
        with self._cond:
            self._pending_proxy = path or ""
            self._cond.notify()

    def request(self, seconds: float, exact: bool = True) -> None:
        """Ask for the frame at ``seconds``; an older pending request is dropped. ``exact``
        False: the proxy's frame will do (a moving playhead)."""
        with self._cond:
            self._request = (float(seconds), bool(exact))
            self._cond.notify()

    def close(self) -> None:
        """Stop the thread (waits for the frame being decoded)."""
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(timeout=5.0)

    def _reopen(self, current: VideoFile | None, path: str) -> VideoFile | None:
        if current is not None:
            current.close()
        if not path:
            return None
        try:
            return VideoFile(path)
        except FoleyStudioError as exc:
            self.failed.emit(str(exc))
            return None

    def _run(self) -> None:
        video: VideoFile | None = None
        proxy: VideoFile | None = None
        while True:
            with self._cond:
                while (
                    not self._stop
                    and self._request is None
                    and self._pending_path is None
                    and self._pending_proxy is None
                ):
                    self._cond.wait()
                if self._stop:
                    break
                path, self._pending_path = self._pending_path, None
                proxy_path, self._pending_proxy = self._pending_proxy, None
                request, self._request = self._request, None
            if path is not None:
                video = self._reopen(video, path)
            if proxy_path is not None:
                proxy = self._reopen(proxy, proxy_path)
            if video is None or request is None:
                continue
            t, exact = request
            source = video if exact or proxy is None else proxy
            try:
                frame = source.frame_at(t, self.max_size)
            except FoleyStudioError as exc:
                self.failed.emit(str(exc))
                continue
            with self._cond:
                stale = self._stop or self._pending_path is not None
            if not stale:
                self.frame_ready.emit(t, frame, source is proxy)
        for open_file in (video, proxy):
            if open_file is not None:
                open_file.close()


class VideoCanvas(QWidget):
    """The picture with the object boxes over it; mouse gestures edit boxes."""

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.setMinimumSize(320, 180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.image: QImage | None = None
        self.frame_time: float | None = None
        #: Whether the picture shown came from the scrubbing proxy (low resolution).
        self.frame_from_proxy = False
        self._gesture: str | None = None  # "draw", "move", or a resize handle like "tl", "r"
        self._gesture_source: str | None = None
        self._press = QPointF()
        self._start_box: Box | None = None
        self._preview: Box | None = None

    @property
    def has_frame(self) -> bool:
        return self.image is not None

    def sizeHint(self) -> QSize:
        return QSize(800, 450)

    def set_frame(self, seconds: float, frame: np.ndarray | None, from_proxy: bool = False) -> None:
        self.image = None if frame is None else rgb_to_qimage(frame)
        self.frame_time = seconds
        self.frame_from_proxy = from_proxy
        self.update()

    # --- geometry ------------------------------------------------------------------------
    def picture_rect(self) -> QRectF:
        """Where the frame is drawn (letterboxed, aspect kept) in widget pixels."""
        media = self.document.media
        if self.image is not None:
            aspect = self.image.width() / max(self.image.height(), 1)
        elif media is not None and media.height:
            aspect = media.width / media.height
        else:
            aspect = 16 / 9
        w, h = self.width(), self.height()
        if w / max(h, 1) > aspect:
            pw, ph = h * aspect, h
        else:
            pw, ph = w, w / aspect
        return QRectF((w - pw) / 2, (h - ph) / 2, pw, ph)

    def box_to_rect(self, box: Box) -> QRectF:
        pic = self.picture_rect()
        return QRectF(
            pic.x() + box.x * pic.width(),
            pic.y() + box.y * pic.height(),
            box.w * pic.width(),
            box.h * pic.height(),
        )

    def rect_to_box(self, rect: QRectF) -> Box | None:
        pic = self.picture_rect()
        r = rect.normalized()
        if r.width() < 1 or r.height() < 1:
            return None
        return Box(
            (r.x() - pic.x()) / pic.width(),
            (r.y() - pic.y()) / pic.height(),
            r.width() / pic.width(),
            r.height() / pic.height(),
        )

    def visible_objects(self) -> list[ObjectSource]:
        t = self.document.playhead
        return [
            s
            for s in self.document.project.sources
            if isinstance(s, ObjectSource) and s.keyframes and s.active_at(t)
        ]

    def _box_of(self, source: ObjectSource) -> Box:
        if self._preview is not None and self._gesture_source == source.id:
            return self._preview
        return source.box_at(self.document.playhead)

    def hit_test(self, pos: QPointF) -> tuple[str | None, str | None]:
        """``(source id, part)`` under ``pos``: part is "move" or a handle ("tl", "r", …)."""
        selected = self.document.selected_source_id
        objects = sorted(self.visible_objects(), key=lambda s: s.id == selected, reverse=True)
        for source in objects:
            rect = self.box_to_rect(self._box_of(source))
            grown = rect.adjusted(-GRAB, -GRAB, GRAB, GRAB)
            if not grown.contains(pos):
                continue
            near_l = abs(pos.x() - rect.left()) <= GRAB
            near_r = abs(pos.x() - rect.right()) <= GRAB
            near_t = abs(pos.y() - rect.top()) <= GRAB
            near_b = abs(pos.y() - rect.bottom()) <= GRAB
            part = ("t" if near_t else "b" if near_b else "") + ("l" if near_l else "r" if near_r else "")
            if part:
                return source.id, part
            if rect.contains(pos):
                return source.id, "move"
        return None, None

    # --- mouse ---------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self.document.media is None:
            return super().mousePressEvent(event)
        pos = event.position()
        source_id, part = self.hit_test(pos)
        self._press = pos
        self._preview = None
        if source_id is not None:
            source = self.document.project.source(source_id)
            assert isinstance(source, ObjectSource)
            self._gesture, self._gesture_source = part, source_id
            self._start_box = source.box_at(self.document.playhead)
            self.document.select(source_id=source_id)
        elif self.picture_rect().contains(pos):
            self._gesture, self._gesture_source, self._start_box = "draw", None, None
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        if self._gesture is None:
            _, part = self.hit_test(pos)
            self.setCursor(_cursor_for(part))
            return
        self._preview = self._gesture_box(pos)
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._gesture is None:
            return super().mouseReleaseEvent(event)
        box = self._gesture_box(event.position())
        gesture, source_id = self._gesture, self._gesture_source
        self._gesture, self._gesture_source, self._preview = None, None, None
        moved = (event.position() - self._press).manhattanLength() >= 2
        try:
            if gesture == "draw":
                if box is not None and self._big_enough(box):
                    self.document.add_object(box)
            elif source_id is not None and box is not None and moved and box != self._start_box:
                self.document.set_box(source_id, box)
        except FoleyStudioError as exc:
            self.document.report_error(exc)
        self.update()

    def _big_enough(self, box: Box) -> bool:
        rect = self.box_to_rect(box)
        return rect.width() >= MIN_BOX_PX and rect.height() >= MIN_BOX_PX

    def _gesture_box(self, pos: QPointF) -> Box | None:
        """The box the current gesture describes with the mouse at ``pos``."""
        pic = self.picture_rect()
        if self._gesture == "draw":
            p = QPointF(
                min(max(pos.x(), pic.left()), pic.right()), min(max(pos.y(), pic.top()), pic.bottom())
            )
            return self.rect_to_box(QRectF(self._press, p))
        if self._start_box is None:
            return None
        rect = self.box_to_rect(self._start_box)
        dx, dy = pos.x() - self._press.x(), pos.y() - self._press.y()
        if self._gesture == "move":
            rect.translate(dx, dy)
        else:
            part = self._gesture or ""
            if "l" in part:
                rect.setLeft(min(rect.left() + dx, rect.right() - MIN_BOX_PX))
            if "r" in part:
                rect.setRight(max(rect.right() + dx, rect.left() + MIN_BOX_PX))
            if "t" in part:
                rect.setTop(min(rect.top() + dy, rect.bottom() - MIN_BOX_PX))
            if "b" in part:
                rect.setBottom(max(rect.bottom() + dy, rect.top() + MIN_BOX_PX))
        return self.rect_to_box(rect)

    # --- painting ------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#111111"))
        pic = self.picture_rect()
        if self.image is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(pic, self.image)
        else:
            painter.setPen(QColor(theme.DIM_TEXT))
            text = "Drop a video here, or File ▸ Open Video…" if self.document.media is None else "decoding…"
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, text)
        if self.document.media is not None:
            self._paint_boxes(painter)
        painter.end()

    def _paint_boxes(self, painter: QPainter) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        t = self.document.playhead
        selected = self.document.selected_source_id
        for source in self.visible_objects():
            box = self._box_of(source)
            rect = self.box_to_rect(box)
            colour = QColor(self.document.source_colour(source.id))
            on_key = any(abs(k.time - t) <= KEYFRAME_TIME_TOLERANCE + 1e-4 for k in source.keyframes)
            pen = QPen(colour, 2.5 if source.id == selected else 1.5)
            if not on_key and self._preview is None:
                pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
            fill = QColor(colour)
            fill.setAlpha(40 if source.id == selected else 18)
            painter.setBrush(fill)
            painter.drawRect(rect)
            label = source.label + ("  ◆" if on_key else "")
            metrics = painter.fontMetrics()
            tag = QRectF(
                rect.left(),
                rect.top() - metrics.height() - 2,
                metrics.horizontalAdvance(label) + 8,
                metrics.height() + 2,
            )
            if tag.top() < 0:
                tag.moveTop(rect.top())
            painter.fillRect(tag, colour.darker(160))
            painter.setPen(QColor("#ffffff"))
            painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, label)
            if source.id == selected:
                painter.setBrush(colour)
                painter.setPen(Qt.PenStyle.NoPen)
                for hx in (rect.left(), rect.center().x(), rect.right()):
                    for hy in (rect.top(), rect.center().y(), rect.bottom()):
                        if hx == rect.center().x() and hy == rect.center().y():
                            continue
                        painter.drawRect(QRectF(hx - 3, hy - 3, 6, 6))
        if self._gesture == "draw" and self._preview is not None:
            painter.setPen(QPen(QColor(theme.ACCENT), 1.5, Qt.PenStyle.DashLine))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(self.box_to_rect(self._preview))


def _cursor_for(part: str | None) -> Qt.CursorShape:
    if part in ("tl", "br"):
        return Qt.CursorShape.SizeFDiagCursor
    if part in ("tr", "bl"):
        return Qt.CursorShape.SizeBDiagCursor
    if part in ("l", "r"):
        return Qt.CursorShape.SizeHorCursor
    if part in ("t", "b"):
        return Qt.CursorShape.SizeVerCursor
    if part == "move":
        return Qt.CursorShape.SizeAllCursor
    return Qt.CursorShape.CrossCursor


class ScrubBar(QWidget):
    """A time bar: in/out range, keyframe markers of the objects, the playhead; drag to scrub."""

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.setMinimumHeight(26)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def _x(self, seconds: float) -> float:
        length = max(self.document.length, 1e-6)
        return 6 + (self.width() - 12) * seconds / length

    def _t(self, x: float) -> float:
        length = max(self.document.length, 1e-6)
        return (x - 6) / max(self.width() - 12, 1) * length

    def keyframe_marks(self) -> list[tuple[float, str]]:
        """(time, colour) of every object keyframe; the selected object's come last (on top)."""
        marks = []
        selected = self.document.selected_source_id
        for source in sorted(self.document.project.sources, key=lambda s: s.id == selected):
            if isinstance(source, ObjectSource):
                colour = self.document.source_colour(source.id)
                marks.extend((k.time, colour) for k in source.keyframes)
        return marks

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        h = self.height()
        mid = h / 2
        painter.fillRect(QRectF(6, mid - 2, self.width() - 12, 4), QColor("#444444"))
        project = self.document.project
        if project.in_point is not None or project.out_point is not None:
            a = self._x(project.in_point or 0.0)
            b = self._x(project.out_point if project.out_point is not None else self.document.length)
            painter.fillRect(QRectF(a, mid - 3, b - a, 6), QColor(theme.IN_OUT))
        for t, colour in self.keyframe_marks():
            x = self._x(t)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(colour))
            painter.drawPolygon(
                QPolygonF(
                    [QPointF(x, mid - 8), QPointF(x + 4, mid - 4), QPointF(x, mid), QPointF(x - 4, mid - 4)]
                )
            )
        x = self._x(self.document.playhead)
        painter.setPen(QPen(QColor(theme.PLAYHEAD), 2))
        painter.drawLine(QPointF(x, 2), QPointF(x, h - 2))
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.document.set_playhead(self._t(event.position().x()))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self.document.set_playhead(self._t(event.position().x()))


class ViewerPanel(QWidget):
    """Canvas + transport: play/pause, frame steps, timecode, scrub bar."""

    play_toggled = Signal()

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.canvas = VideoCanvas(document)
        self.scrub = ScrubBar(document)
        self.provider = FrameProvider(parent=self)
        self.provider.frame_ready.connect(self._on_frame)
        self.provider.failed.connect(self.document.message)
        self.has_proxy = False
        self._playing = False
        # Restarted by every playhead move; when it fires the playhead is at rest.
        self._rest_timer = QTimer(self)
        self._rest_timer.setSingleShot(True)
        self._rest_timer.setInterval(REST_MS)
        self._rest_timer.timeout.connect(self._on_rest)
        self.timecode = QLabel("00:00:00:00")
        self.timecode.setObjectName("timecode")
        self.duration_label = QLabel("")
        self.duration_label.setObjectName("hint")
        self.play_button = QToolButton()
        self.play_button.setText("▶")
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.clicked.connect(self.play_toggled)
        back = QToolButton()
        back.setText("◀❙")
        back.setToolTip("Previous frame (←)")
        back.clicked.connect(lambda: document.step_frames(-1))
        forward = QToolButton()
        forward.setText("❙▶")
        forward.setToolTip("Next frame (→)")
        forward.clicked.connect(lambda: document.step_frames(1))
        for button in (back, self.play_button, forward):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        transport = QHBoxLayout()
        transport.setContentsMargins(4, 2, 4, 2)
        for w in (back, self.play_button, forward, self.timecode):
            transport.addWidget(w)
        transport.addWidget(self.scrub, 1)
        transport.addWidget(self.duration_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(transport)
        document.project_replaced.connect(self._on_project)
        document.playhead_changed.connect(self._on_playhead)
        document.changed.connect(lambda _: self._refresh())
        document.selection_changed.connect(self._refresh)

    def _on_project(self) -> None:
        video = self.document.project.video if self.document.media is not None else None
        self.canvas.set_frame(0.0, None)
        self.has_proxy = False
        self._rest_timer.stop()
        self.provider.open(video)
        self.duration_label.setText(self.document.timecode(self.document.length))
        self._on_playhead(self.document.playhead)

    def set_proxy(self, path: str | Path | None) -> None:
        """Scrub from the proxy at ``path`` (built for the current video) from now on."""
        self.has_proxy = path is not None
        self.provider.set_proxy(None if path is None else str(path))

    def _on_playhead(self, seconds: float) -> None:
        self.timecode.setText(self.document.timecode(seconds))
        if self.document.media is not None:
            # Moving: the proxy's frame now, the full-resolution one once at rest.
            self.provider.request(seconds, exact=not self.has_proxy)
            if self.has_proxy and not self._playing:
                self._rest_timer.start()
        self._refresh()

    def _on_rest(self) -> None:
        if self.document.media is not None and not self._playing:
            self.provider.request(self.document.playhead, exact=True)

    def _on_frame(self, seconds: float, frame: np.ndarray, from_proxy: bool) -> None:
        self.canvas.set_frame(seconds, frame, from_proxy)

    def _refresh(self) -> None:
        self.duration_label.setText(self.document.timecode(self.document.length))
        self.canvas.update()
        self.scrub.update()

    def set_playing(self, playing: bool) -> None:
        self.play_button.setText("❚❚" if playing else "▶")
        self._playing = playing
        if playing:
            self._rest_timer.stop()
        elif self.has_proxy:
            self._on_rest()  # stopped: the still at rest is full resolution

    def show_frame_now(self) -> bool:
        """Decode the frame at the playhead on this thread (screenshots, tests); True if shown."""
        video = self.document.project.video
        if self.document.media is None or not video or not Path(video).is_file():
            return False
        try:
            with VideoFile(video) as f:
                self.canvas.set_frame(
                    self.document.playhead, f.frame_at(self.document.playhead, DISPLAY_SIZE)
                )
        except FoleyStudioError as exc:
            self.document.message.emit(str(exc))
            return False
        return True

    def shutdown(self) -> None:
        self._rest_timer.stop()
        self.provider.close()
