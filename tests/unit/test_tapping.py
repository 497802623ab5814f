"""Tap to picture: the tap time (latency × rate compensation), frame snapping, and the
playback clock at fractional rates (muted, clock still running at that rate)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from foleystudio.core.playback import PlaybackEngine, mix_state
from foleystudio.core.playback_stream import array_layout
from foleystudio.core.project import Track
from foleystudio.core.tapping import snap_to_frame, tap_time
from foleystudio.errors import UsageError


def test_tap_time_subtracts_latency_scaled_by_rate() -> None:
    assert tap_time(2.0, 0.1, 1.0) == pytest.approx(1.9)
    assert tap_time(2.0, 0.1, 0.5) == pytest.approx(1.95)  # 0.1 wall s is 0.05 media s at ½×
    assert tap_time(2.0, 0.1, 0.25) == pytest.approx(1.975)
    assert tap_time(2.0, 0.0, 1.0) == 2.0
    assert tap_time(0.01, 0.1, 1.0) == 0.0  # never before the start


def test_tap_time_rejects_nonsense() -> None:
    with pytest.raises(UsageError):
        tap_time(1.0, -0.1, 1.0)
    with pytest.raises(UsageError):
        tap_time(1.0, 0.1, 0.0)
    with pytest.raises(UsageError):
        tap_time(float("nan"), 0.1, 1.0)


def test_snap_to_frame() -> None:
    assert snap_to_frame(0.4, Fraction(24)) == pytest.approx(10 / 24)
    assert snap_to_frame(1.0, Fraction(30000, 1001)) == pytest.approx(30 * 1001 / 30000)


class FakeClock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("rate", [1.0, 0.5, 0.25])
def test_wall_clock_runs_at_fractional_rates(rate: float) -> None:
    clock = FakeClock()
    eng = PlaybackEngine(sample_rate=8000, open_device=False, clock=clock)
    eng.start(1.0, rate)
    clock.now += 2.0
    assert eng.position() == pytest.approx(1.0 + 2.0 * rate)
    assert eng.mix_position() == pytest.approx(eng.position())  # no stream: no latency
    eng.stop()
    assert eng.position() == pytest.approx(1.0 + 2.0 * rate)


def test_fractional_rate_callback_is_muted_and_advances_its_clock() -> None:
    clock = FakeClock()
    eng = PlaybackEngine(sample_rate=8000, blocksize=256, open_device=False, clock=clock, reader_thread=False)
    t = Track("t")
    eng.set_state(mix_state(array_layout({t.id: np.ones(8000, np.float32)}, 8000), [t], [t]))
    eng.start(0.5, 0.5)
    out = np.full((256, 2), 7.0, np.float32)
    eng.callback(out, 256, None, None)
    assert not out.any()
    assert eng._frame == pytest.approx(4000 + 128)
    eng.set_speed(1)  # back to a whole rate: the mix plays again from where the clock is
    assert eng.speed == 1 and isinstance(eng.speed, int)
    eng.fill_ahead()  # the reader (a thread in the app) streams from the new position
    eng.callback(out, 256, None, None)
    assert out[:, 0].any()


def test_position_is_the_mix_clock_less_latency_times_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    eng = PlaybackEngine(sample_rate=8000, blocksize=256, open_device=False, clock=clock)
    eng.start(1.0, 0.5)
    eng._stream = object()  # pretend a stream is open with 40 ms latency
    eng.available = True
    eng._latency = 0.04
    out = np.zeros((256, 2), np.float32)
    for _ in range(5):  # blocks of 256 frames at ½×: 128 frames (16 ms) of media each
        clock.now += 0.032
        eng.callback(out, 256, None, None)
    clock.now += 0.01
    mixed = 1.0 + 4 * 128 / 8000 + 0.5 * 0.01
    assert eng.output_latency == 0.04
    assert eng.mix_position() == pytest.approx(mixed)
    assert eng.position() == pytest.approx(mixed - 0.04 * 0.5)
    eng._stream = None
