"""Tap to picture (issue 15 item 3): T presses at known playback times, with a known output
latency, land within one frame of what the user heard, at 1× and ½×; undo removes them."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from foleystudio.core.boxes import Box
from foleystudio.core.playback import PlaybackEngine
from foleystudio.core.requests import WHOLE_PICTURE

pytestmark = pytest.mark.gui

LATENCY = 0.08  # the "sounddevice-reported" output latency, wall seconds
FRAME = 1 / 24


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("rate", "snap"), [(1.0, True), (0.5, False), (0.5, True)])
def test_taps_land_within_a_frame_and_undo_removes_them(
    window: Any, video: Any, monkeypatch: pytest.MonkeyPatch, rate: float, snap: bool
) -> None:
    window.open_path(video)
    doc = window.document
    clock = FakeClock()
    window.audio.clock = clock
    monkeypatch.setattr(PlaybackEngine, "output_latency", property(lambda self: LATENCY))
    window.timeline.set_snapping(snap)
    window.act_tap_rates[rate].trigger()
    window.act_tap_mode.trigger()
    assert window.act_tap_mode.isChecked() and window.tap_target == WHOLE_PICTURE
    assert window.tap_label.isVisibleTo(window) and "Tapping Picture" in window.tap_label.text()
    before = len(doc.event_track(WHOLE_PICTURE))

    doc.set_playhead(0.0)
    window.playback.play()  # Space in tap mode: plays at the tap rate
    assert window.audio.speed == rate
    start = clock.now
    window.activateWindow()
    view = window.timeline.view
    view.setFocus()
    heard = [0.3, 0.71, 1.13, 1.5]
    for t in heard:
        # The key arrives when the mix clock is LATENCY wall seconds past what was heard.
        clock.now = start + t / rate + LATENCY
        assert window.audio.mix_position() == pytest.approx(t + LATENCY * rate)
        QTest.keyClick(view, Qt.Key.Key_T)
    window.playback.stop()

    times = sorted(doc.event_track(WHOLE_PICTURE).times.tolist())
    assert len(times) == before + len(heard)
    for t in heard:
        nearest = min(times, key=lambda x: abs(x - t))
        assert abs(nearest - t) <= FRAME / 2 + 1e-9 if snap else abs(nearest - t) < 1e-9
        if snap:
            assert nearest * 24 == pytest.approx(round(nearest * 24))

    for _ in heard:  # one undo step per tap
        doc.undo()
    assert len(doc.event_track(WHOLE_PICTURE)) == before

    window.act_tap_mode.trigger()  # off: T does nothing, play is back to 1×
    assert not window.tap_label.isVisibleTo(window) and window.playback.rate == 1.0
    QTest.keyClick(view, Qt.Key.Key_T)
    assert len(doc.event_track(WHOLE_PICTURE)) == before


def test_tap_mode_taps_the_selected_object_when_stopped_at_the_playhead(window: Any, video: Any) -> None:
    window.open_path(video)
    doc = window.document
    obj = doc.add_object(Box(0.1, 0.1, 0.3, 0.3), "door")
    doc.select(source_id=obj.id)
    window.act_tap_mode.trigger()
    assert window.tap_target == obj.id and "door" in window.tap_label.text()
    doc.set_playhead(10 / 24)
    window.tap()  # stopped: the event goes at the playhead (no latency to make up)
    window.tap()  # a second tap at the same time selects it rather than doubling it
    assert doc.event_track(obj.id).times.tolist() == pytest.approx([10 / 24])
