"""Viewer: drawing, moving and resizing object boxes with the mouse makes keyframe commands."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from foleystudio.core.boxes import Box
from foleystudio.core.sources import ObjectSource

pytestmark = pytest.mark.gui


def drag(widget, start: QPointF, end: QPointF, steps: int = 4) -> None:
    a, b = start.toPoint(), end.toPoint()
    QTest.mousePress(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    for i in range(1, steps + 1):
        p = a + (b - a) * (i / steps)
        QTest.mouseMove(widget, QPoint(round(p.x()), round(p.y())))
    QTest.mouseRelease(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, b)


def point(canvas, x: float, y: float) -> QPointF:
    """Widget position of normalised picture coordinates."""
    pic = canvas.picture_rect()
    return QPointF(pic.x() + x * pic.width(), pic.y() + y * pic.height())


def test_draw_move_and_resize_a_box(window, video, qtbot) -> None:
    window.open_path(video)
    canvas = window.viewer.canvas
    qtbot.waitUntil(lambda: canvas.has_frame, timeout=5000)
    doc = window.document
    doc.set_playhead(0.5)

    drag(canvas, point(canvas, 0.2, 0.25), point(canvas, 0.6, 0.75))
    objects = [s for s in doc.project.sources if isinstance(s, ObjectSource)]
    assert len(objects) == 1
    source = objects[0]
    (key,) = source.keyframes
    assert key.time == pytest.approx(0.5)
    assert (key.box.x, key.box.y, key.box.w, key.box.h) == pytest.approx((0.2, 0.25, 0.4, 0.5), abs=0.02)
    track = doc.project.track_for_source(source.id)
    assert track is not None and track.colour == doc.source_colour(source.id)
    assert doc.selected_source_id == source.id

    # At 1.0 s, drag the box body right: a second keyframe; the first stays.
    doc.set_playhead(1.0)
    drag(canvas, point(canvas, 0.4, 0.5), point(canvas, 0.6, 0.5))
    source = doc.project.source(source.id)
    assert [k.time for k in source.keyframes] == pytest.approx([0.5, 1.0])
    moved = source.keyframes[1].box
    assert (moved.x, moved.w) == pytest.approx((0.4, 0.4), abs=0.02)
    # In between, the box is interpolated.
    assert source.box_at(0.75).x == pytest.approx(0.3, abs=0.02)

    # Resize by the bottom-right corner at the same time: the same keyframe is replaced.
    drag(canvas, point(canvas, 0.8, 0.75), point(canvas, 0.9, 0.9))
    source = doc.project.source(source.id)
    assert len(source.keyframes) == 2
    b = source.keyframes[1].box
    assert (b.x, b.y, b.x + b.w, b.y + b.h) == pytest.approx((0.4, 0.25, 0.9, 0.9), abs=0.02)

    # Each gesture is one undo step.
    doc.undo()
    assert doc.project.source(source.id).keyframes[1].box == moved
    doc.undo()
    assert len(doc.project.source(source.id).keyframes) == 1
    doc.undo()
    assert not doc.project.sources and not doc.project.tracks
    doc.redo()
    assert len(doc.project.sources) == 1 and len(doc.project.tracks) == 1


def test_a_click_without_a_drag_makes_no_box(window, video, qtbot) -> None:
    window.open_path(video)
    canvas = window.viewer.canvas
    QTest.mouseClick(
        canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point(canvas, 0.5, 0.5).toPoint()
    )
    assert not window.document.project.sources
    assert window.document.undo_stack.count() == 0


def test_keyframe_markers_and_inspector_follow_the_source(window, video) -> None:
    window.open_path(video)
    doc = window.document
    doc.set_playhead(0.25)
    source = doc.add_object(Box(0.1, 0.1, 0.2, 0.2), label="bell")
    doc.set_box(source.id, Box(0.5, 0.1, 0.2, 0.2), time=1.5)
    marks = window.viewer.scrub.keyframe_marks()
    assert sorted(t for t, _ in marks) == pytest.approx([0.25, 1.5])
    assert {c for _, c in marks} == {doc.source_colour(source.id)}
    inspector = window.inspector
    assert inspector.sources.count() == 1 and "bell" in inspector.sources.item(0).text()
    assert inspector.keyframes.count() == 2
    # Double-click a keyframe: the playhead goes there.
    inspector._go_to_keyframe(inspector.keyframes.item(1))
    assert doc.playhead == pytest.approx(1.5)
    # Remove that keyframe from the inspector.
    inspector.keyframes.setCurrentRow(1)
    inspector.remove_key_button.click()
    assert [k.time for k in doc.project.source(source.id).keyframes] == pytest.approx([0.25])


def test_dropping_audio_on_the_sources_makes_or_replaces_an_audio_prompt(window, video, make_wav) -> None:
    from PySide6.QtCore import QMimeData, QUrl
    from PySide6.QtGui import QDropEvent

    window.open_path(video)
    doc = window.document
    sources = window.inspector.sources

    def drop(path, at) -> None:
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(path))])
        event = QDropEvent(
            at, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
        )
        sources.dropEvent(event)

    drop(make_wav("gravel.wav"), QPointF(5, 200))  # empty part of the list: a new prompt
    (source,) = doc.project.sources
    assert source.kind == "audio" and source.label == "gravel" and doc.project.track_for_source(source.id)
    first_row = sources.visualItemRect(sources.item(0)).center()
    drop(make_wav("snow.wav"), QPointF(first_row))  # onto that prompt: its file is replaced
    (replaced,) = doc.project.sources
    assert replaced.id == source.id and replaced.path.endswith("snow.wav")
    bad = make_wav("bad.wav")
    bad.write_bytes(b"not audio")
    drop(bad, QPointF(5, 200))
    assert len(doc.project.sources) == 1  # an unreadable file changes nothing…
    assert len(window.prompts.errors) == 1 and "bad.wav" in window.prompts.errors[0]  # …and says why


def test_dropping_a_video_on_the_window_opens_it(window, video, qtbot) -> None:
    from PySide6.QtCore import QMimeData, QUrl
    from PySide6.QtGui import QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(video))])
    event = QDropEvent(
        QPointF(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)
    assert window.document.media is not None and window.document.project.video == str(video)
    qtbot.waitUntil(lambda: window.viewer.canvas.has_frame, timeout=5000)


def test_viewer_scrubs_from_the_proxy_and_rests_on_the_full_frame(
    window, make_video, qtbot, tmp_path
) -> None:
    from foleystudio.core import project_bundle as bundles
    from foleystudio.core.proxy import find_proxy

    video = make_video("wide.mp4", seconds=2.0, width=640, height=360, audio=False)
    window.open_path(video)
    viewer, canvas, doc = window.viewer, window.viewer.canvas, window.document
    # Opening the video starts the proxy build; it lands in the (untitled) bundle's cache.
    qtbot.waitUntil(lambda: viewer.has_proxy, timeout=10000)
    assert find_proxy(video, bundles.cache_folder(doc.bundle_dir)) is not None
    viewer.set_playing(True)  # the transport's signal while playing
    doc.set_playhead(1.0)
    qtbot.waitUntil(lambda: canvas.frame_time == 1.0 and canvas.frame_from_proxy, timeout=5000)
    assert canvas.image.width() == 480  # the proxy's size
    viewer.set_playing(False)  # stopped: the still is full resolution
    qtbot.waitUntil(lambda: canvas.frame_time == 1.0 and not canvas.frame_from_proxy, timeout=5000)
    # A scrub while stopped: the proxy frame first, the full one once the playhead rests.
    shown: list[tuple[float, bool]] = []
    viewer.provider.frame_ready.connect(lambda t, frame, from_proxy: shown.append((t, from_proxy)))
    doc.set_playhead(0.5)
    qtbot.waitUntil(lambda: (0.5, False) in shown, timeout=5000)
    assert shown.index((0.5, True)) < shown.index((0.5, False))
    assert canvas.frame_time == 0.5 and not canvas.frame_from_proxy
    assert canvas.image.width() == 640  # the still at rest is full resolution
    # Saved under a name: the proxy goes along (no rebuild), and scrubbing uses it again.
    doc.save_as(tmp_path / "saved")
    assert find_proxy(video, bundles.cache_folder(doc.bundle_dir)) is not None
    qtbot.waitUntil(lambda: viewer.has_proxy, timeout=5000)
