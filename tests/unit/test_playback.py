"""The playback engine: the callback's mix (gain, pan, mute, solo, speed), the atomic state
swap, audition, the clock, and a real stream on ALSA's null device."""

from __future__ import annotations

import math
import time
import tracemalloc

import numpy as np
import pytest

from foleystudio.core.audio import pan_gains
from foleystudio.core.playback import PlaybackEngine, mix_state
from foleystudio.core.playback_stream import array_layout
from foleystudio.core.project import Project, Track

SR = 8000


def engine() -> PlaybackEngine:
    """No device and no reader thread: ``run_block`` runs the reader, then the callback."""
    return PlaybackEngine(sample_rate=SR, blocksize=256, open_device=False, reader_thread=False)


def ramp(n: int, scale: float = 1.0) -> np.ndarray:
    return (np.arange(n, dtype=np.float32) / n * scale).astype(np.float32)


def run_block(eng: PlaybackEngine, frames: int = 256) -> np.ndarray:
    out = np.full((frames, 2), 7.0, np.float32)  # garbage the callback must overwrite
    eng.fill_ahead()
    eng.callback(out, frames, None, None)
    return out


def test_callback_mixes_gain_pan_mute_solo() -> None:
    a = Track("a", gain_db=-6.0, pan=-1.0)
    b = Track("b", gain_db=0.0, pan=0.5)
    c = Track("c", mute=True)
    bufs = {a.id: np.full(1000, 0.5, np.float32), b.id: ramp(1000, 0.4), c.id: np.ones(1000, np.float32)}
    project = Project(tracks=[a, b, c])
    eng = engine()
    eng.set_state(mix_state(array_layout(bufs, SR), project.tracks, project.audible_tracks()))
    eng.start(100 / SR)
    out = run_block(eng)
    ga = 10 ** (-6 / 20)
    lb, rb = pan_gains(0.5)
    expect_l = 0.5 * ga + bufs[b.id][100:356] * lb
    expect_r = 0.0 * ga + bufs[b.id][100:356] * rb  # hard left: nothing of `a` on the right
    np.testing.assert_allclose(out[:, 0], expect_l, atol=1e-6)
    np.testing.assert_allclose(out[:, 1], expect_r, atol=1e-6)
    # The next block continues where this one ended.
    out2 = run_block(eng)
    np.testing.assert_allclose(out2[:, 1], bufs[b.id][356:612] * rb, atol=1e-6)

    # Solo wins over mute: soloing the muted track plays only it (centre pan here).
    c.solo = True
    eng.set_state(mix_state(array_layout(bufs, SR), project.tracks, project.audible_tracks()))
    out3 = run_block(eng)
    centre = pan_gains(0.0)[0]
    np.testing.assert_allclose(out3, np.full((256, 2), centre, np.float32), atol=1e-6)


def test_callback_silent_when_stopped_and_past_the_end() -> None:
    t = Track("t")
    eng = engine()
    eng.set_state(mix_state(array_layout({t.id: np.ones(300, np.float32)}, SR), [t], [t]))
    assert not run_block(eng).any()  # stopped: silence, no garbage
    eng.start(200 / SR)
    out = run_block(eng)
    assert np.allclose(out[:100], pan_gains(0.0)[0]) and not out[100:].any()
    assert not run_block(eng).any()


def test_reverse_and_double_speed_read_the_buffer_backwards_and_skipping() -> None:
    t = Track("t", pan=-1.0)
    buf = ramp(4000)
    eng = engine()
    eng.set_state(mix_state(array_layout({t.id: buf}, SR), [t], [t]))
    eng.start(1000 / SR, speed=2)
    out = run_block(eng, 100)
    np.testing.assert_allclose(out[:, 0], buf[1000:1200:2], atol=1e-7)
    eng.start(150 / SR, speed=-1)
    out = run_block(eng, 200)
    np.testing.assert_allclose(out[:151, 0], buf[150::-1], atol=1e-7)
    assert not out[151:].any()  # before time 0 there is nothing
    assert eng.position() == 0.0 or eng.position() <= 150 / SR


def test_seek_while_playing_is_picked_up_by_the_next_block() -> None:
    t = Track("t", pan=-1.0)
    buf = ramp(4000)
    eng = engine()
    eng.set_state(mix_state(array_layout({t.id: buf}, SR), [t], [t]))
    eng.start(0.0)
    run_block(eng)
    eng.seek(2000 / SR)
    out = run_block(eng, 64)
    np.testing.assert_allclose(out[:, 0], buf[2000:2064], atol=1e-7)


def test_audition_replaces_the_tracks_and_is_placed_at_its_start() -> None:
    t = Track("t")
    eng = engine()
    eng.set_state(mix_state(array_layout({t.id: np.ones(8000, np.float32)}, SR), [t], [t]))
    candidate = np.linspace(-0.5, 0.5, 400, dtype=np.float32)
    eng.audition(candidate, SR, start=0.5)
    assert eng.playing and eng.auditioning
    out = run_block(eng, 400)
    np.testing.assert_allclose(out[:, 0], candidate, atol=1e-7)  # tracks are silent meanwhile
    eng.stop()
    assert not eng.auditioning


def test_callback_does_not_allocate_sample_memory() -> None:
    tracks = [Track(f"t{i}", pan=0.3) for i in range(8)]
    bufs = {t.id: np.ones(SR * 10, np.float32) for t in tracks}
    eng = engine()
    eng.set_state(mix_state(array_layout(bufs, SR), tracks, tracks))
    eng.start(0.0)
    eng.fill_ahead()  # the reader (another thread in the app) is not what is measured
    out = np.zeros((4096, 2), np.float32)
    eng.callback(out, 4096, None, None)  # warm-up
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for _ in range(20):
        eng.callback(out, 4096, None, None)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename") if s.size_diff > 0)
    # A 4096 × 8 mix would allocate ≥ 16 kB per layer if it built temporaries.
    assert grown < 8192, f"callback allocated {grown} bytes"


def test_position_follows_the_wall_clock_without_a_device() -> None:
    eng = engine()
    assert not eng.available and eng.unavailable_reason
    eng.start(1.0)
    time.sleep(0.05)
    p1 = eng.position()
    time.sleep(0.05)
    p2 = eng.position()
    eng.stop()
    assert 1.0 < p1 < p2 < 1.5
    assert math.isclose(eng.position(), p2, abs_tol=0.02)


def test_real_stream_on_the_null_device_runs_the_callback() -> None:
    eng = PlaybackEngine(sample_rate=48000, blocksize=512)
    if not eng.available:
        pytest.skip(f"no ALSA null device here: {eng.unavailable_reason}")
    t = Track("t")
    eng.set_state(mix_state(array_layout({t.id: np.zeros(48000 * 4, np.float32)}, 48000), [t], [t]))
    eng.start(0.0)
    # The clock holds (silent blocks) until the reader has the first chunk, and the null device
    # runs the callback as fast as it returns: wait for both the blocks and the clock.
    deadline = time.monotonic() + 3.0
    while (eng.blocks_mixed < 5 or eng.position() <= 0.0) and time.monotonic() < deadline:
        time.sleep(0.02)
    pos = eng.position()
    eng.stop()
    eng.close()
    assert eng.blocks_mixed >= 5
    assert pos > 0.0
