"""Timeline: clip move/trim/split/delete with the mouse and keys, undo/redo, snapping, zoom,
track headers (mute, solo, gain, pan) and the playback mix they produce, file drops."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtTest import QTest

from foleystudio.core.audio import pan_gains
from foleystudio.gui.timeline.geometry import TRACK_HEIGHT, snap_time

pytestmark = pytest.mark.gui


def view_point(view, scene_x: float, scene_y: float) -> QPoint:
    return view.mapFromScene(QPointF(scene_x, scene_y))


def drag(widget, a: QPoint, b: QPoint, steps: int = 4) -> None:
    QTest.mousePress(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    for i in range(1, steps + 1):
        QTest.mouseMove(widget, a + (b - a) * (i / steps))
    QTest.mouseRelease(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, b)


@pytest.fixture
def clip_project(window, video, make_wav):
    """The window on a 2 s video with one 0.5 s clip at 0.25 s on a track, zoomed to 200 px/s."""
    window.open_path(video)
    doc = window.document
    clip = doc.import_audio_clip(make_wav("hit.wav", 0.5), None, 0.25)
    window.timeline.scene.set_zoom(200.0)
    window.timeline.view.horizontalScrollBar().setValue(0)
    window.timeline.view.verticalScrollBar().setValue(0)
    return window, doc, clip


def test_move_trim_split_delete_and_undo(clip_project, qtbot) -> None:
    window, doc, clip = clip_project
    view = window.timeline.view
    viewport = view.viewport()
    pps = window.timeline.scene.pixels_per_second
    y = TRACK_HEIGHT / 2
    original = doc.project.to_dict()

    # Move: grab the middle, drag 100 px right = +0.5 s (snapped to a frame boundary).
    drag(viewport, view_point(view, 0.5 * pps, y), view_point(view, 1.0 * pps, y))
    _, moved = doc.project.find_clip(clip.id)
    moved_position = moved.position  # (clips are edited in place: keep the numbers)
    assert moved_position == pytest.approx(0.75, abs=1 / 24)
    assert round(moved_position * 24) == pytest.approx(moved_position * 24, abs=1e-6)

    # Trim the end 0.2 s shorter by its right edge.
    end_x = moved.end * pps - 2
    drag(viewport, view_point(view, end_x, y), view_point(view, end_x - 0.2 * pps, y))
    _, trimmed = doc.project.find_clip(clip.id)
    assert trimmed.duration == pytest.approx(0.3, abs=1 / 24 + 0.011)
    assert trimmed.position == moved_position
    trimmed_end = trimmed.end

    # Trim the start: position and offset move together.
    start_x = trimmed.position * pps + 2
    drag(viewport, view_point(view, start_x, y), view_point(view, start_x + 0.1 * pps, y))
    _, trimmed2 = doc.project.find_clip(clip.id)
    assert trimmed2.offset == pytest.approx(trimmed2.position - moved_position, abs=1e-9)
    assert trimmed2.offset > 0.05 and trimmed2.end == pytest.approx(trimmed_end, abs=1e-9)

    # Split at the playhead with S (the clip is selected), then delete the right part.
    doc.set_playhead(trimmed2.position + trimmed2.duration / 2)
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_S)
    track = doc.project.tracks[0]
    assert len(track.clips) == 2
    right = max(track.clips, key=lambda c: c.position)
    doc.select(clip_id=right.id)
    QTest.keyClick(view, Qt.Key.Key_Delete)
    assert [c.id for c in doc.project.tracks[0].clips] == [clip.id]
    assert len(window.timeline.scene.clip_items) == 1

    # Undo everything, one step per gesture, back to the original; redo all.
    steps = doc.undo_stack.index()
    assert doc.undo_stack.count() == steps
    for _ in range(5):
        doc.undo()
    assert doc.project.to_dict() == original
    for _ in range(5):
        doc.redo()
    assert [c.id for c in doc.project.tracks[0].clips] == [clip.id]


def test_drag_onto_another_track_and_snapping(clip_project) -> None:
    window, doc, clip = clip_project
    other = doc.add_track("Props")
    view = window.timeline.view
    pps = window.timeline.scene.pixels_per_second
    # Drag down onto row 1; 0.02 s from the playhead at 1.0 s: it snaps to the playhead.
    doc.set_playhead(1.0)
    a = view_point(view, 0.5 * pps, TRACK_HEIGHT / 2)
    b = view_point(view, (0.5 + 0.73) * pps, TRACK_HEIGHT * 1.5)
    drag(view.viewport(), a, b)
    track, moved = doc.project.find_clip(clip.id)
    assert track.id == other.id
    assert moved.position == pytest.approx(1.0, abs=1e-9)
    # Pure snapping rules.
    assert snap_time(1.03, [1.0], pixels_per_second=200) == (1.0, True)
    assert snap_time(1.2, [1.0], pixels_per_second=200, fps=24) == (pytest.approx(29 / 24), False)
    assert snap_time(1.2001, [], pixels_per_second=200) == (1.2001, False)


def test_zoom_keeps_the_time_under_the_anchor(clip_project) -> None:
    window, doc, _ = clip_project
    view, scene = window.timeline.view, window.timeline.scene
    view.horizontalScrollBar().setValue(0)
    before = scene.pixels_per_second
    view.zoom_by(2.0, anchor_x=100)
    assert scene.pixels_per_second == pytest.approx(2 * before)
    t_anchor = (view.horizontalScrollBar().value() + 100) / scene.pixels_per_second
    assert t_anchor == pytest.approx(100 / before, abs=2 / scene.pixels_per_second)
    assert window.timeline.ruler.pixels_per_second == scene.pixels_per_second
    item = scene.clip_items[doc.project.tracks[0].clips[0].id]
    assert item.rect().width() == pytest.approx(0.5 * scene.pixels_per_second)


def test_track_headers_set_mute_solo_gain_pan_and_the_mix_follows(clip_project, make_wav, qtbot) -> None:
    window, doc, clip = clip_project
    second = doc.import_audio_clip(make_wav("b.wav", 0.5, freq=880), None, 0.0)
    track_a, track_b = doc.project.tracks
    headers = window.timeline.headers
    head_a = headers.header(track_a.id)
    engine = window.audio

    window.playback.wait_for_layout()
    qtbot.waitUntil(
        lambda: {layer.key for layer in engine.state.layers} == {track_a.id, track_b.id}, timeout=5000
    )

    head_a.mute.click()
    assert track_a.mute and {layer.key for layer in engine.state.layers} == {track_b.id}
    head_a.solo.click()  # solo wins over mute
    assert track_a.solo and {layer.key for layer in engine.state.layers} == {track_a.id}
    head_a.solo.click()
    head_a.mute.click()

    # A gain drag is one merge session: one undo step however many values it passed.
    count = doc.undo_stack.count()
    head_a.gain.sliderPressed.emit()
    for value in (-10, -35, -60):
        head_a.gain.setValue(value)
    head_a.gain.sliderReleased.emit()
    assert track_a.gain_db == pytest.approx(-6.0)
    assert doc.undo_stack.count() == count + 1
    head_a.pan.setValue(-100)
    assert track_a.pan == -1.0 and head_a.pan_label.text() == "L100"
    layer = next(layer for layer in engine.state.layers if layer.key == track_a.id)
    left, right = pan_gains(-1.0)
    assert layer.gain_left == pytest.approx(10 ** (-6 / 20) * left) and layer.gain_right == pytest.approx(
        0.0, abs=1e-9
    )
    doc.undo()  # the pan
    doc.undo()  # the whole gain drag
    assert track_a.gain_db == 0.0 and head_a.gain.value() == 0
    # Rename from the header.
    head_a.name.setText("FEET")
    head_a.name.editingFinished.emit()
    assert doc.project.tracks[0].name == "FEET"
    assert second.id in {c.id for c in track_b.clips}


def test_playback_layout_places_clips_like_the_stems(clip_project, tmp_path) -> None:
    from foleystudio.core.playback_stream import fill_track
    from foleystudio.export.playback_files import playback_layout

    window, doc, clip = clip_project

    def streamed(project) -> np.ndarray:
        layout = playback_layout(project, 8000, tmp_path / "cache")
        (track,) = layout.tracks
        audio = np.zeros(layout.length, np.float32)
        fill_track(track, audio, 0, np.zeros(layout.length, np.float32))
        return audio

    audio = streamed(doc.project)
    assert len(audio) == round(0.75 * 8000)
    first = int(np.argmax(np.abs(audio) > 1e-6))
    assert first == pytest.approx(0.25 * 8000, abs=1)
    doc.set_clip_gain(clip.id, -6.0)
    quieter = streamed(doc.project)
    assert np.max(np.abs(quieter)) == pytest.approx(np.max(np.abs(audio)) * 10 ** (-6 / 20), rel=1e-4)


def test_dropping_an_audio_file_on_a_track_imports_it_there(clip_project, make_wav) -> None:
    window, doc, _ = clip_project
    view = window.timeline.view
    path = make_wav("drop.wav", 0.3)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    pos = QPointF(view_point(view, 1.5 * window.timeline.scene.pixels_per_second, TRACK_HEIGHT / 2))
    event = QDropEvent(
        pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    view.dropEvent(event)
    track = doc.project.tracks[0]
    dropped = max(track.clips, key=lambda c: c.position)
    assert dropped.label == "drop" and dropped.position == pytest.approx(1.5, abs=0.01)
    assert dropped.duration == pytest.approx(0.3)
    assert dropped.render.startswith(str(doc.bundle_dir))  # copied into the bundle
