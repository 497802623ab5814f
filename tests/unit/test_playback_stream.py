"""Streaming playback (issue 18 item 11): the engine streams the tracks from playback files
through its reader's rings and plays exactly what the old whole-buffer mix played, seeks
land mid-block, the callback allocates nothing and memory does not grow with the project."""

from __future__ import annotations

import dataclasses
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from foleystudio.core.audio import db_to_gain, pan_gains, save_audio
from foleystudio.core.playback import PlaybackEngine, mix_state
from foleystudio.core.playback_stream import RawFloatFile, fill_track
from foleystudio.core.project import Clip, Project, Track
from foleystudio.errors import AudioFileError
from foleystudio.export.playback_files import playback_file, playback_layout
from foleystudio.export.stems import RenderCache, render_track

SR = 48000
BLOCK = 480  # 10 ms at 48 kHz


def noise_render(folder: Path, name: str, seconds: float, rate: int, seed: int) -> str:
    audio = np.random.default_rng(seed).uniform(-0.4, 0.4, round(seconds * rate)).astype(np.float32)
    return str(save_audio(folder / name, audio, rate, subtype="FLOAT"))


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """Four tracks: 48 kHz and 16 kHz renders (the latter resampled), offsets, overlaps on
    one track, clip gains, track gain and pan, a muted track."""
    a = noise_render(tmp_path, "a.wav", 1.5, SR, 1)
    b = noise_render(tmp_path, "b.wav", 1.0, 16000, 2)
    c = noise_render(tmp_path, "c.wav", 0.4, SR, 3)
    t1 = Track("feet", gain_db=-3.0, pan=-0.5, clips=[Clip(a, 0.1, 1.2, offset=0.2, gain_db=-2.0)])
    t2 = Track(
        "cloth",
        pan=0.7,
        clips=[Clip(b, 0.5, 0.9, gain_db=3.0), Clip(c, 0.8, 0.4), Clip(a, 1.9, 0.6, offset=0.9)],
    )
    t3 = Track("props", mute=True, clips=[Clip(c, 0.0, 0.4)])
    t4 = Track("room", gain_db=-10.0, clips=[Clip(b, 2.0, 0.7, offset=0.3)])
    return Project(tracks=[t1, t2, t3, t4])


def old_mix(project: Project, frames: np.ndarray) -> np.ndarray:
    """What the previous engine played: whole rendered buffers (``render_track`` with track
    gain 0 dB), then per audible track left/right gain, summed in track order, clipped."""
    cache = RenderCache(SR)
    out = np.zeros((len(frames), 2), np.float32)
    audible = {t.id for t in project.audible_tracks()}
    for track in project.tracks:
        if not track.clips or track.id not in audible:
            continue
        length = round(max(c.end for c in track.clips) * SR)
        buffer = render_track(dataclasses.replace(track, gain_db=0.0), length, cache)
        gain = db_to_gain(track.gain_db)
        left, right = pan_gains(track.pan)
        valid = (frames >= 0) & (frames < length)
        source = np.zeros(len(frames), np.float32)
        source[valid] = buffer[frames[valid]]
        out[:, 0] += source * float(gain * left)
        out[:, 1] += source * float(gain * right)
    return np.clip(out, -1.0, 1.0)


def engine_for(project: Project, cache: Path, **kwargs) -> PlaybackEngine:
    eng = PlaybackEngine(sample_rate=SR, blocksize=BLOCK, open_device=False, **kwargs)
    layout = playback_layout(project, SR, cache)
    eng.set_state(mix_state(layout, project.tracks, project.audible_tracks()))
    return eng


def play(eng: PlaybackEngine, blocks: int, frames: int = BLOCK, fill: bool = True) -> np.ndarray:
    out = np.empty((blocks * frames, 2), np.float32)
    for i in range(blocks):
        if fill:
            eng.fill_ahead()
        eng.callback(out[i * frames : (i + 1) * frames], frames, None, None)
    return out


def test_streamed_output_equals_the_whole_buffer_mix_sample_exactly(project: Project, tmp_path: Path) -> None:
    eng = engine_for(project, tmp_path / "cache", reader_thread=False)
    eng.start(0.0)
    blocks = round(2.8 * SR / BLOCK)
    got = play(eng, blocks)
    np.testing.assert_array_equal(got, old_mix(project, np.arange(blocks * BLOCK)))
    assert got.any() and eng.underruns == 0


def test_live_reader_thread_gives_the_same_samples(project: Project, tmp_path: Path) -> None:
    eng = engine_for(project, tmp_path / "cache", ring_frames=8192)  # small ring: many wraps
    try:
        eng.start(0.0)
        blocks = round(2.8 * SR / BLOCK)
        out = np.empty((blocks * BLOCK, 2), np.float32)
        for i in range(blocks):
            deadline = time.monotonic() + 5.0
            # Wait (as real time would) until the reader thread has this block in its ring.
            while time.monotonic() < deadline:
                ring = next((r for r in eng._rings if r.window[0] == eng._cue.serial), None)
                if ring is not None and ring.window[2] >= min((i + 1) * BLOCK, eng.state.length_frames):
                    break
                time.sleep(0.0005)
            eng.callback(out[i * BLOCK : (i + 1) * BLOCK], BLOCK, None, None)
        np.testing.assert_array_equal(out, old_mix(project, np.arange(blocks * BLOCK)))
        assert eng.underruns == 0
    finally:
        eng.close()


def test_seek_mid_block_and_mid_chunk_lands_on_the_sample(project: Project, tmp_path: Path) -> None:
    eng = engine_for(project, tmp_path / "cache", reader_thread=False)
    eng.start(0.0)
    play(eng, 3)
    for target in (52_345, 12_001, 131_070):  # ahead in the ring, behind it, far past it
        eng.seek(target / SR)
        got = play(eng, 4, 300)  # 300-sample blocks: the ring's chunks are not block-aligned
        np.testing.assert_array_equal(got, old_mix(project, target + np.arange(1200)))
    assert eng.underruns == 0


def test_reverse_and_double_speed_stream_across_ring_wraps(project: Project, tmp_path: Path) -> None:
    eng = engine_for(project, tmp_path / "cache", reader_thread=False, ring_frames=4096)
    start = 120_000
    eng.start(start / SR, speed=-1)
    got = play(eng, 40, 256)
    np.testing.assert_array_equal(got, old_mix(project, start - np.arange(40 * 256)))
    eng.start(1000 / SR, speed=2)
    got = play(eng, 40, 256)
    np.testing.assert_array_equal(got, old_mix(project, 1000 + 2 * np.arange(40 * 256)))
    assert eng.underruns == 0


def test_mute_solo_gain_and_pan_change_without_refilling(project: Project, tmp_path: Path) -> None:
    eng = engine_for(project, tmp_path / "cache", reader_thread=False)
    layout = eng.state.layout
    eng.start(0.5)
    play(eng, 2)
    feet, cloth, props, room = project.tracks
    props.solo, cloth.gain_db, feet.pan = True, -6.0, 1.0
    serial = eng._cue.serial
    eng.set_state(mix_state(layout, project.tracks, project.audible_tracks()))
    assert eng._cue.serial == serial  # same layout: nothing to read again
    at = round(0.5 * SR) + 2 * BLOCK
    np.testing.assert_array_equal(play(eng, 3), old_mix(project, at + np.arange(3 * BLOCK)))


def test_blocks_not_read_yet_are_silent_and_counted(project: Project, tmp_path: Path) -> None:
    eng = engine_for(project, tmp_path / "cache", reader_thread=False)
    eng.start(0.2)
    out = play(eng, 1, fill=False)  # the reader has not run: nothing to play yet
    assert not out.any() and eng.cue_gaps == 1 and eng.underruns == 0
    assert eng._frame == round(0.2 * SR)  # the callback's clock waited for the reader
    eng.fill_step()  # the first chunk only (1024 samples)
    out = play(eng, 3, fill=False)
    at = round(0.2 * SR)  # playback starts at the target, not a block later
    np.testing.assert_array_equal(out[:1024], old_mix(project, at + np.arange(1024)))
    assert not out[1024:].any()  # the reader fell behind: underruns
    assert eng.underruns == 1 and eng.cue_gaps == 1


def test_callback_does_not_allocate_while_streaming_files(tmp_path: Path) -> None:
    render = noise_render(tmp_path, "r.wav", 3.0, SR, 5)
    tracks = [Track(f"t{i}", pan=0.3, clips=[Clip(render, 0.01 * i, 2.5)]) for i in range(32)]
    eng = engine_for(Project(tracks=tracks), tmp_path / "cache", reader_thread=False)
    eng.start(0.0)
    eng.fill_ahead()  # the reader (a thread in the app) is not what is measured
    out = np.zeros((BLOCK, 2), np.float32)
    eng.callback(out, BLOCK, None, None)  # warm-up
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for _ in range(200):
        eng.callback(out, BLOCK, None, None)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename") if s.size_diff > 0)
    # 32 layers × 480 samples would be ≥ 60 kB per block if the mix built temporaries.
    assert grown < 8192, f"callback allocated {grown} bytes"
    assert eng.underruns == 0 and out.any()


def test_memory_does_not_grow_with_the_project_length(tmp_path: Path) -> None:
    """A 2-hour, 32-track timeline: the rings are the same few MB as for a short one, and
    preparing and playing it stays far below what whole-track buffers would take (44 GB)."""
    render = noise_render(tmp_path, "r.wav", 10.0, SR, 6)
    hours = 2 * 3600
    tracks = [
        Track(f"t{i}", clips=[Clip(render, float(p) + 0.1 * i, 9.5) for p in range(0, hours, 10)])
        for i in range(32)
    ]
    project = Project(tracks=tracks)
    tracemalloc.start()
    eng = engine_for(project, tmp_path / "cache", reader_thread=False)
    assert eng.state.length_frames >= hours * SR
    for seconds in (0.0, 3600.5, hours - 1.0):
        eng.seek(seconds)
        eng.start()
        got = play(eng, 5)
        assert got.any()
        eng.stop()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rings = sum(r.data.nbytes for r in eng._rings)
    assert 0 < rings <= 2 * 32 * eng._rings[0].capacity * 4  # set by tracks, not by length
    assert peak < 64 * 2**20, f"peak {peak / 2**20:.1f} MiB"
    assert eng.underruns == 0


def test_playback_files_are_made_once_and_refused_clearly(tmp_path: Path) -> None:
    render = noise_render(tmp_path, "r.wav", 0.5, 16000, 7)
    cache = tmp_path / "cache"
    first = playback_file(render, SR, cache)
    assert first.length == round(0.5 * SR) and first.path.stat().st_size == first.length * 4
    mtime = first.path.stat().st_mtime_ns
    assert playback_file(render, SR, cache) == first and first.path.stat().st_mtime_ns == mtime
    assert not [p for p in first.path.parent.iterdir() if p.name.startswith(".")]  # no temp left
    out = np.empty(100, np.float32)
    first.read(out, first.length - 40)  # past the end: zeros, as a short render is padded
    assert out[:40].any() and not out[40:].any()
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF not really")
    with pytest.raises(AudioFileError, match="broken.wav"):
        playback_file(broken, SR, cache)
    odd = tmp_path / "odd.f32"
    odd.write_bytes(bytes(7))
    with pytest.raises(AudioFileError, match="odd.f32"):
        RawFloatFile.open(odd)


def test_fill_track_reads_only_the_clips_under_the_block(project: Project, tmp_path: Path) -> None:
    layout = playback_layout(project, SR, tmp_path / "cache")
    track = layout.tracks[1]  # overlapping clips
    whole = render_track(dataclasses.replace(project.tracks[1], gain_db=0.0), layout.length, RenderCache(SR))
    scratch = np.empty(4096, np.float32)
    for first in (0, 30_000, 38_399, 40_000, 110_000):
        block = np.empty(4096, np.float32)
        fill_track(track, block, first, scratch)
        expected = np.zeros(4096, np.float32)
        piece = whole[first : first + 4096]
        expected[: len(piece)] = piece
        np.testing.assert_array_equal(block, expected)
