"""Motion energy, its resampling to the audio token rate, and reading it from a video file."""

from __future__ import annotations

import numpy as np
import pytest

from foleystudio.core.boxes import Box, BoxKeyframe
from foleystudio.core.jobs import CancelToken
from foleystudio.errors import JobCancelled, UsageError
from foleystudio.ml.encoders.motion import (
    SYNC_FEATURE_NAMES,
    boxes_at_times,
    grey_small,
    motion_energy,
    motion_from_video,
    resample_to_rate,
    sync_features,
)

FPS = 24.0


def square_frames(n: int, moving: range, width: int = 96, height: int = 64, x0: int = 4) -> np.ndarray:
    """Grey background; a white 8 px square in the left half that moves 2 px right on each
    frame index in ``moving`` and stands still otherwise."""
    frames = np.full((n, height, width, 3), 40, np.uint8)
    x = x0
    for i in range(n):
        if i in moving:
            x += 2
        frames[i, 28:36, x : x + 8] = 255
    return frames


def test_energy_is_zero_when_still_and_onset_marks_motion_start() -> None:
    frames = square_frames(30, range(10, 20))
    m = motion_energy(frames, fps=FPS, start=2.0)
    assert m.times[0] == 2.0 and m.times[5] == pytest.approx(2.0 + 5 / FPS)
    assert np.all(m.energy[:10] == 0) and np.all(m.energy[20:] == 0)
    assert np.all(m.energy[10:20] > 0)
    # moving 2 px of an 8 px white square on grey: 2 columns x 8 rows change by both edges
    expected = 2 * (2 * 8) * (255 - 40) / 255 / (96 * 64)
    assert m.energy[12] == pytest.approx(expected, rel=1e-5)
    assert int(np.argmax(m.onset)) == 10 and m.onset[11] == 0 and m.onset[0] == 0
    assert m.energy.dtype == np.float32 and m.n_boxes == 0


def test_first_frame_uses_previous_frame_or_copies_the_second() -> None:
    frames = square_frames(6, range(0, 6))
    alone = motion_energy(frames[1:], fps=FPS)
    assert alone.energy[0] == alone.energy[1]
    still_before = motion_energy(frames[1:], fps=FPS, previous=frames[1])
    assert still_before.energy[0] == 0 and still_before.energy[1] > 0


def test_box_energy_only_sees_motion_inside_the_box() -> None:
    frames = square_frames(20, range(5, 15))
    boxes = np.array([[[0.0, 0.25, 0.5, 0.5]] * 20, [[0.6, 0.0, 0.4, 1.0]] * 20])  # left half, right part
    m = motion_energy(frames, boxes, fps=FPS)
    assert m.box_energy.shape == (2, 20) and m.n_boxes == 2
    assert np.all(m.box_energy[0, 5:15] > m.energy[5:15])  # same change over a smaller area
    assert np.all(m.box_energy[1] == 0)
    energy, onset = m.series(0)
    assert np.array_equal(energy, m.box_energy[0]) and onset.argmax() == 5
    with pytest.raises(UsageError):
        m.series(2)


def test_boxes_at_times_interpolates_keyframes() -> None:
    keys = [BoxKeyframe(0.0, Box(0.0, 0.0, 0.2, 0.2)), BoxKeyframe(1.0, Box(0.5, 0.5, 0.2, 0.2))]
    arr = boxes_at_times(keys, np.array([0.0, 0.5, 2.0]))
    assert np.allclose(arr, [[0, 0, 0.2, 0.2], [0.25, 0.25, 0.2, 0.2], [0.5, 0.5, 0.2, 0.2]])


def test_grey_small_block_averages_big_frames() -> None:
    frame = np.zeros((1080, 1920, 3), np.uint8)
    frame[:, :960] = 255
    grey = grey_small(frame)
    assert grey.shape == (90, 160)
    assert grey[:, :80] == pytest.approx(1.0, abs=1e-5) and np.all(grey[:, 80:] == 0)
    small = grey_small(np.full((4, 6, 3), [255, 0, 0], np.uint8))
    assert small.shape == (4, 6) and small[0, 0] == pytest.approx(0.299)


def test_bad_inputs_raise_usage_errors() -> None:
    frames = square_frames(4, range(0))
    with pytest.raises(UsageError):
        motion_energy(frames, np.zeros((3, 4)))
    with pytest.raises(UsageError):
        motion_energy(frames[:0])
    with pytest.raises(UsageError):
        motion_energy(frames.astype(np.float32))


def test_resample_mean_max_and_interpolation() -> None:
    times = np.arange(48) / FPS  # 2 s at 24 fps
    ramp = np.arange(48, dtype=np.float64)
    rate = 15.625  # 64 ms tokens
    out = resample_to_rate(ramp, times, rate, 31)
    assert out.shape == (31,)
    first_bin = ramp[times < 1 / rate]  # frames at 0 and 41.7 ms
    assert out[0] == pytest.approx(first_bin.mean())
    spike = np.zeros(48)
    spike[25] = 1.0
    assert resample_to_rate(spike, times, rate, 31, reduce="max").max() == 1.0
    assert resample_to_rate(spike, times, rate, 31, reduce="mean").max() < 1.0
    # bins shorter than a frame period (100 tokens/s) are filled by interpolation
    fine = resample_to_rate(ramp, times, 100.0, 150)
    assert np.all(np.isfinite(fine)) and np.all(np.diff(fine) >= 0)
    two = resample_to_rate(np.stack([ramp, -ramp], 1), times, rate, 31, start=0.5)
    assert two.shape == (31, 2) and two[0, 0] == pytest.approx(-two[0, 1])
    with pytest.raises(UsageError):
        resample_to_rate(ramp, times, rate, 31, reduce="median")


def test_sync_features_shape_range_and_static_scene() -> None:
    m = motion_energy(square_frames(48, range(10, 30)), fps=FPS)
    feats = sync_features(m, 15.625, 31)
    assert feats.shape == (31, len(SYNC_FEATURE_NAMES)) and feats.dtype == np.float32
    assert feats.min() >= 0 and feats.max() <= 1.0 + 1e-6
    assert feats[:, 2].max() == pytest.approx(1.0)  # the motion start, at full relative scale
    assert int(np.argmax(feats[:, 2])) == int(10 / FPS * 15.625)
    still = motion_energy(square_frames(48, range(0)), fps=FPS)
    assert np.all(sync_features(still, 15.625, 31)[:, 1:3] == 0)  # nothing blown up to full scale


def test_motion_from_video_file(make_video, tmp_path) -> None:
    path = make_video("square.mp4", seconds=1.0, fps=24, audio=False)
    whole = motion_from_video(path, 0.0, 1.0)
    assert whole.n_frames == 24 and whole.times[0] == 0.0
    assert np.all(whole.energy > 0)  # the fixture's square moves on every frame
    part = motion_from_video(path, 0.5, 1.0, objects=[[BoxKeyframe(0.0, Box(0.0, 0.0, 1.0, 1.0))]])
    assert part.n_frames == 12 and part.times[0] == pytest.approx(0.5)
    assert part.box_energy[0] == pytest.approx(part.energy, rel=1e-5)
    token = CancelToken()
    token.cancel()
    with pytest.raises(JobCancelled):
        motion_from_video(path, 0.0, 1.0, cancel=token)


def test_range_start_is_measured_against_the_frame_before(tmp_path) -> None:
    from foleystudio.core.videowriter import write_video

    # The square jumps once, between frames 11 and 12 (0.5 s), and is still otherwise.
    frames = square_frames(24, range(12, 13))
    frames[12:, 28:36] = 40
    frames[12:, 28:36, 40:48] = 255
    path = write_video(tmp_path / "jump.mp4", list(frames), 24)
    part = motion_from_video(path, 0.5, 1.0)
    assert part.energy[0] > 10 * max(part.energy[1], 1e-4)  # the jump is seen at the range start
