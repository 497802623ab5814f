"""Event lanes on the timeline (issue 15): detect in a worker, move a marker with the mouse
(snapped to frames), undo, and the regenerate request — and the regenerated audio — follow the
edited track; click adds, marquee selects, Ctrl+drag scales, Delete removes; import, export and
save/load keep the tracks."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from foleystudio.core.boxes import Box
from foleystudio.core.events import EventTrack, read_event_file, write_event_file
from foleystudio.core.project_requests import build_request
from foleystudio.core.requests import WHOLE_PICTURE
from foleystudio.core.videowriter import write_video

pytestmark = pytest.mark.gui

needs_engine = pytest.mark.skipif(
    importlib.util.find_spec("foleystudio.ml.engine") is None,
    reason="foleystudio.ml.engine cannot be imported",
)

FPS = 25
#: The ball turns at the walls every PERIOD / 2 s: 0.8, 1.6, 2.4, 3.2.
PERIOD = 1.6
TURNS = [0.8, 1.6, 2.4, 3.2]
PPS = 200.0


@pytest.fixture(scope="module")
def bounce_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 s, 25 fps, 160×96: a ball going left and right on a textured backdrop."""
    rng = np.random.default_rng(3)
    backdrop = (60 + 40 * rng.random((96, 160, 1))).repeat(3, axis=2)
    yy, xx = np.mgrid[0:96, 0:160]
    frames = []
    for i in range(4 * FPS):
        u = (i / FPS / PERIOD) % 1.0
        x = 12 + 130 * (1 - abs(2 * u - 1))
        frame = backdrop + rng.normal(0, 1.0, backdrop.shape)
        frame[(xx - x) ** 2 + (yy - 48) ** 2 <= 64] = (230, 200, 40)
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return write_video(tmp_path_factory.mktemp("lanes") / "bounce.mp4", frames, FPS)


def view_point(view, scene_x: float, scene_y: float) -> QPoint:
    return view.mapFromScene(QPointF(scene_x, scene_y))


def drag(widget, a: QPoint, b: QPoint, modifiers=Qt.KeyboardModifier.NoModifier, steps: int = 4) -> None:
    QTest.mousePress(widget, Qt.MouseButton.LeftButton, modifiers, a)
    for i in range(1, steps + 1):
        QTest.mouseMove(widget, a + (b - a) * (i / steps))
    QTest.mouseRelease(widget, Qt.MouseButton.LeftButton, modifiers, b)


def click(widget, at: QPoint, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton, modifiers, at)


def show_from_start(window) -> None:
    window.timeline.scene.set_zoom(PPS)
    window.timeline.view.horizontalScrollBar().setValue(0)
    window.timeline.view.verticalScrollBar().setValue(0)


def lane_y(lane, fraction: float = 0.7) -> float:
    return lane.top + lane.height * fraction


@needs_engine
def test_detect_move_undo_and_regenerate_follow_the_edited_track(window, bounce_video, qtbot) -> None:
    from foleystudio.ml.onsets import detect_onsets

    window.open_path(bounce_video)
    doc = window.document
    doc.set_settings(steps=8, num_candidates=1, device="cpu")
    ball = doc.add_object(Box(0.0, 0.0, 1.0, 1.0), "ball")
    show_from_start(window)
    scene, view = window.timeline.scene, window.timeline.view
    # Rows: the ball's track, its lane right under it, then the picture's lane.
    assert [(r.kind, r.key) for r in scene.rows_layout] == [
        ("track", doc.project.tracks[0].id),
        ("events", ball.id),
        ("events", WHOLE_PICTURE),
    ]
    assert window.timeline.headers.lane_headers[ball.id].title.text() == "ball events · auto"

    # Detect (in the model worker; the GUI keeps running): one undo step for both tracks.
    steps = doc.undo_stack.count()
    window.act_detect_events.trigger()
    qtbot.waitUntil(lambda: doc.has_event_track(ball.id) or bool(window.prompts.errors), timeout=60000)
    assert not window.prompts.errors, window.prompts.errors
    assert doc.undo_stack.count() == steps + 1
    # The status bar says in words which detector gave the events (and, for optical flow,
    # that they are a first guess to check).
    message = window.statusBar().currentMessage()
    assert message.startswith("Detected events") and any(
        name in message for name in ("visual onset network", "optical-flow impacts", "flow event network")
    ), message
    detected = doc.event_track(ball.id)
    assert np.allclose(detected.times, TURNS, atol=1.5 / FPS), detected.times
    assert len(doc.event_track(WHOLE_PICTURE)) >= 3
    assert window.timeline.headers.lane_headers[ball.id].title.text() == f"ball events · {len(detected)}"
    before = doc.project.to_dict()

    # Regenerate before the edit: the sound follows the detected track.
    doc.select(source_id=ball.id)
    window.act_regen_object.trigger()
    qtbot.waitUntil(lambda: bool(doc.candidates) or bool(window.prompts.errors), timeout=60000)
    assert not window.prompts.errors, window.prompts.errors
    (first,) = doc.candidates
    assert first.events_from == "given" and np.allclose(first.events.times, detected.times)
    onsets_before = detect_onsets(first.audio, first.sample_rate) + first.start

    # Drag the marker at 1.6 s ten frames right with the mouse (snapping on).
    show_from_start(window)  # (opening the video queued a zoom to fit, run while waiting)
    lane = scene.lanes[ball.id]
    grabbed = float(detected.times[np.argmin(np.abs(detected.times - 1.6))])
    y = lane_y(lane)
    drag(
        view.viewport(),
        view_point(view, grabbed * PPS, y),
        view_point(view, (grabbed + 10 / FPS) * PPS + 3, y),
    )
    moved = doc.event_track(ball.id)
    expected = np.sort(np.where(np.isclose(detected.times, grabbed), grabbed + 10 / FPS, detected.times))
    assert np.allclose(moved.times, expected, atol=1e-6), moved.times
    assert np.allclose(moved.strengths, detected.strengths)  # a move keeps the strengths
    assert doc.selected_events(ball.id) == pytest.approx((grabbed + 10 / FPS,))
    assert doc.undo_stack.count() == steps + 2  # one drag, one step
    assert doc.selected_source_id == ball.id  # so Regenerate Object takes the ball

    # The regenerate request carries the edited track ...
    request = build_request(doc.project, "object", ball.id)
    assert request.event_track(ball.id) == moved
    # ... and the new sound's onset moved with the event.
    doc.set_candidates([])
    window.act_regen_object.trigger()
    qtbot.waitUntil(lambda: bool(doc.candidates) or bool(window.prompts.errors), timeout=60000)
    assert not window.prompts.errors, window.prompts.errors
    (second,) = doc.candidates
    assert second.events_from == "given" and np.allclose(second.events.times, moved.times)
    onsets_after = detect_onsets(second.audio, second.sample_rate) + second.start

    def near(onsets: np.ndarray, t: float) -> bool:
        return bool(np.any(np.abs(onsets - t) <= 0.05))

    new_time = grabbed + 10 / FPS
    assert near(onsets_before, grabbed) and not near(onsets_before, new_time), onsets_before
    assert near(onsets_after, new_time) and not near(onsets_after, grabbed), onsets_after

    # Undo restores the detected track exactly; redo moves it again.
    doc.undo()
    assert doc.project.to_dict() == before
    assert doc.selected_events(ball.id) == ()  # the moved event is gone from the selection
    doc.redo()
    assert doc.event_track(ball.id) == moved


def test_click_marquee_scale_snap_and_delete_on_the_picture_lane(window, video, qtbot) -> None:
    window.open_path(video)  # 2 s at 24 fps, no objects: the picture's lane is the only row
    doc = window.document
    qtbot.wait(1)  # (opening queues a zoom to fit: let it run first)
    show_from_start(window)
    scene, view = window.timeline.scene, window.timeline.view
    viewport = view.viewport()
    lane = scene.lanes[WHOLE_PICTURE]
    assert not doc.has_event_track(WHOLE_PICTURE)

    # Click on empty lane: an event at the nearest frame, strength 1, selected.
    click(viewport, view_point(view, 0.51 * PPS, lane_y(lane)))
    click(viewport, view_point(view, 1.0 * PPS, lane_y(lane)))
    track = doc.event_track(WHOLE_PICTURE)
    assert list(track.times) == pytest.approx([12 / 24, 1.0]) and list(track.strengths) == [1.0, 1.0]
    assert doc.selected_events(WHOLE_PICTURE) == (1.0,)
    assert window.act_delete.isEnabled()
    lane.add_event_at(1.005)  # on an event's frame: selects it, adds nothing
    assert len(doc.event_track(WHOLE_PICTURE)) == 2 and doc.undo_stack.index() == 2

    # Marquee over both, then Ctrl+drag the 1.0 s marker down by half the lane: strengths halve.
    drag(
        viewport,
        view_point(view, 0.3 * PPS, lane_y(lane, 0.3)),
        view_point(view, 1.2 * PPS, lane_y(lane, 0.6)),
    )
    assert doc.selected_events(WHOLE_PICTURE) == pytest.approx((0.5, 1.0))
    top = lane.marker_top(1.0)
    drag(
        viewport,
        view_point(view, 1.0 * PPS, top),
        view_point(view, 1.0 * PPS, top + lane._usable() / 2),
        Qt.KeyboardModifier.ControlModifier,
    )
    assert list(doc.event_track(WHOLE_PICTURE).strengths) == pytest.approx([0.5, 0.5], abs=0.05)
    assert list(doc.event_track(WHOLE_PICTURE).times) == pytest.approx([0.5, 1.0])

    # Shift+click takes the 0.5 s event out of the selection; N turns snapping off and a
    # 7 px drag moves by exactly 7 px of time, not a whole frame.
    click(viewport, view_point(view, 0.5 * PPS, lane_y(lane)), Qt.KeyboardModifier.ShiftModifier)
    assert doc.selected_events(WHOLE_PICTURE) == (1.0,)
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_N)
    assert not scene.snapping
    drag(viewport, view_point(view, 1.0 * PPS, lane_y(lane)), view_point(view, 1.0 * PPS + 7, lane_y(lane)))
    assert doc.event_track(WHOLE_PICTURE).times[1] == pytest.approx(1.0 + 7 / PPS, abs=1e-6)
    QTest.keyClick(view, Qt.Key.Key_N)
    assert scene.snapping

    # Delete removes the selection; undo brings it back; a click on the background clears it.
    QTest.keyClick(view, Qt.Key.Key_Delete)
    assert list(doc.event_track(WHOLE_PICTURE).times) == pytest.approx([0.5])
    doc.undo()
    assert len(doc.event_track(WHOLE_PICTURE)) == 2
    click(viewport, view_point(view, 1.0 * PPS, lane.top + lane.height + 20))
    assert doc.selected_event_times == ()
    # Every gesture was one undo step: two adds, the scaling, the move (the delete is undone).
    assert doc.undo_stack.index() == 4
    for _ in range(4):
        doc.undo()
    assert not doc.has_event_track(WHOLE_PICTURE)


def test_import_export_and_the_saved_project_keep_the_tracks(window, video, tmp_path) -> None:
    window.open_path(video)
    doc = window.document
    given = write_event_file(tmp_path / "taps.txt", EventTrack.from_times([0.25, 0.75, 1.5], [1.0, 0.4, 0.7]))
    window.prompts.open_events = lambda: given
    window.event_action(WHOLE_PICTURE, "import")
    assert list(doc.event_track(WHOLE_PICTURE).times) == [0.25, 0.75, 1.5]
    assert doc.undo_stack.undoText() == "Import events 'taps.txt'"
    out = tmp_path / "out.json"
    window.prompts.save_events = lambda suggestion: out
    window.event_action(WHOLE_PICTURE, "export")
    assert read_event_file(out) == doc.event_track(WHOLE_PICTURE)
    assert json.loads(out.read_text())["events"][1] == {"time": 0.75, "strength": 0.4}

    window.prompts.save_as_path = tmp_path / "kept"
    assert window.save()
    window.open_path(tmp_path / "kept.foley")
    assert list(window.document.event_track(WHOLE_PICTURE).strengths) == [1.0, 0.4, 0.7]
    assert WHOLE_PICTURE in window.timeline.scene.lanes
    assert window.timeline.headers.lane_headers[WHOLE_PICTURE].title.text() == "Picture events · 3"


@needs_engine
def test_detect_again_in_in_out_replaces_only_that_range(window, bounce_video, qtbot) -> None:
    window.open_path(bounce_video)
    doc = window.document
    doc.set_settings(device="cpu")
    ball = doc.add_object(Box(0.0, 0.0, 1.0, 1.0), "ball")
    edited = EventTrack.from_times([0.5, 1.0, 2.0, 3.0])  # hand-made, none at the turns
    doc.set_event_track(ball.id, edited)
    doc.set_in_out(1.2, 2.8)
    steps = doc.undo_stack.count()
    window.event_action(ball.id, "detect_range")
    qtbot.waitUntil(lambda: doc.undo_stack.count() > steps or bool(window.prompts.errors), timeout=60000)
    assert not window.prompts.errors, window.prompts.errors
    # Inside [1.2, 2.8): the detector's turns at 1.6 and 2.4; outside: the hand-made events.
    assert np.allclose(doc.event_track(ball.id).times, [0.5, 1.0, 1.6, 2.4, 3.0], atol=1.5 / FPS)
    assert not doc.has_event_track(WHOLE_PICTURE)  # only the lane's own source was detected
    doc.undo()
    assert doc.event_track(ball.id) == edited
