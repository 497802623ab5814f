"""The timeline's ruler (timecode ticks, in/out, playhead) and thumbnail strip.

Thumbnails are decoded on a background thread with ``VideoFile.iter_frames`` (streamed,
small), at most :data:`MAX_THUMBNAILS` per video, and drawn at whatever spacing the zoom
allows. Clicking or dragging on the ruler scrubs.
"""

from __future__ import annotations

import bisect
import threading

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from foleystudio.core.jobs import CancelToken
from foleystudio.core.media import VideoFile
from foleystudio.errors import FoleyStudioError
from foleystudio.gui import theme
from foleystudio.gui.document import Document
from foleystudio.gui.timeline.geometry import RULER_HEIGHT, THUMB_HEIGHT, nice_tick_step
from foleystudio.gui.viewer import rgb_to_qimage

MAX_THUMBNAILS = 240
THUMB_PIXELS = THUMB_HEIGHT - 4


class ThumbnailLoader(QObject):
    """Decodes evenly spaced small frames of a video; ``thumbnail(t, image)`` per frame."""

    thumbnail = Signal(float, QImage)
    finished = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._token = CancelToken()
        self._thread: threading.Thread | None = None

    def load(self, path: str | None, duration: float) -> None:
        """Start decoding ``path`` (cancels a previous load); None just cancels."""
        self.cancel()
        if not path or duration <= 0:
            return
        token = self._token = CancelToken()
        spacing = max(duration / MAX_THUMBNAILS, 0.5)
        self._thread = threading.Thread(
            target=self._run, args=(path, spacing, token), name="thumbnails", daemon=True
        )
        self._thread.start()

    def _run(self, path: str, spacing: float, token: CancelToken) -> None:
        try:
            with VideoFile(path) as video:
                h = THUMB_PIXELS
                w = max(1, round(h * video.info.width / max(video.info.height, 1)))
                for t, frame in video.iter_frames(1.0 / spacing, size=(w, h)):
                    if token.cancelled:
                        return
                    self.thumbnail.emit(t, rgb_to_qimage(frame))
        except FoleyStudioError:
            return  # the viewer reports unreadable video; the strip just stays empty
        if not token.cancelled:
            self.finished.emit()

    def cancel(self) -> None:
        self._token.cancel()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    def wait(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout)


class RulerWidget(QWidget):
    """Timecode ruler + thumbnail strip above the tracks, following the view's scroll."""

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.setFixedHeight(RULER_HEIGHT + THUMB_HEIGHT)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.pixels_per_second = 80.0
        self.scroll_x = 0.0
        self.thumb_times: list[float] = []
        self.thumb_images: list[QImage] = []
        self.loader = ThumbnailLoader(self)
        self.loader.thumbnail.connect(self._add_thumbnail)
        document.project_replaced.connect(self._on_project)
        document.playhead_changed.connect(lambda _: self.update())
        document.changed.connect(lambda _: self.update())

    def _on_project(self) -> None:
        self.thumb_times, self.thumb_images = [], []
        media = self.document.media
        self.loader.load(self.document.project.video if media else None, media.duration if media else 0.0)
        self.update()

    def _add_thumbnail(self, t: float, image: QImage) -> None:
        i = bisect.bisect(self.thumb_times, t)
        self.thumb_times.insert(i, t)
        self.thumb_images.insert(i, image)
        self.update()

    def set_view(self, pixels_per_second: float, scroll_x: float) -> None:
        self.pixels_per_second, self.scroll_x = pixels_per_second, scroll_x
        self.update()

    def x_of(self, seconds: float) -> float:
        return seconds * self.pixels_per_second - self.scroll_x

    def time_at(self, x: float) -> float:
        return max((x + self.scroll_x) / self.pixels_per_second, 0.0)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#252525"))
        self._paint_ruler(painter)
        self._paint_thumbnails(painter)
        project = self.document.project
        if project.in_point is not None or project.out_point is not None:
            a = self.x_of(project.in_point or 0.0)
            b = self.x_of(project.out_point if project.out_point is not None else self.document.length)
            band = QColor(theme.IN_OUT)
            band.setAlpha(90)
            painter.fillRect(QRectF(a, RULER_HEIGHT - 5, b - a, 5), band)
        x = self.x_of(self.document.playhead)
        painter.setPen(QPen(QColor(theme.PLAYHEAD), 2))
        painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        painter.setBrush(QColor(theme.PLAYHEAD))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawPolygon(QPolygonF([QPointF(x - 6, 0), QPointF(x + 6, 0), QPointF(x, 8)]))
        painter.end()

    def _paint_ruler(self, painter: QPainter) -> None:
        fps = self.document.project.fps
        step = nice_tick_step(self.pixels_per_second, fps)
        minor = step / 5 if step >= 1 else max(step / 2, float(1 / fps))
        t0 = max(self.time_at(0), 0.0)
        t1 = self.time_at(self.width())
        painter.setPen(QColor("#5a5a5a"))
        k = int(t0 / minor)
        while k * minor <= t1:
            x = self.x_of(k * minor)
            painter.drawLine(QPointF(x, RULER_HEIGHT - 5), QPointF(x, RULER_HEIGHT))
            k += 1
        k = int(t0 / step)
        while k * step <= t1 + step:
            t = k * step
            x = self.x_of(t)
            painter.setPen(QColor("#8a8a8a"))
            painter.drawLine(QPointF(x, 4), QPointF(x, RULER_HEIGHT))
            painter.setPen(QColor(theme.TEXT))
            painter.drawText(QPointF(x + 4, 13), self.document.timecode(t))
            k += 1
        painter.setPen(QColor("#1a1a1a"))
        painter.drawLine(0, RULER_HEIGHT, self.width(), RULER_HEIGHT)

    def _paint_thumbnails(self, painter: QPainter) -> None:
        if not self.thumb_images:
            return
        top = RULER_HEIGHT + 2
        width = self.thumb_images[0].width()
        end_x = self.x_of(self.document.media.duration if self.document.media else 0.0)
        x = self.x_of(0.0)
        # Start at the first slot that is on screen.
        if x < -width:
            x += ((-width - x) // width) * width
        while x < min(self.width(), end_x):
            t = self.time_at(x)
            i = min(max(bisect.bisect(self.thumb_times, t) - 1, 0), len(self.thumb_times) - 1)
            image = self.thumb_images[i]
            visible = min(width, end_x - x)
            painter.drawImage(
                QRectF(x, top, visible, image.height()), image, QRectF(0, 0, visible, image.height())
            )
            x += width
        painter.setPen(QColor("#1a1a1a"))
        painter.drawLine(0, self.height() - 1, self.width(), self.height() - 1)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.document.set_playhead(self.time_at(event.position().x()))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self.document.set_playhead(self.time_at(event.position().x()))

    def shutdown(self) -> None:
        self.loader.cancel()
