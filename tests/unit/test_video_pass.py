"""One decoding pass for every video feature (``ml.video_pass``, ``VideoFile.iter_grids``).

The frames must be exactly those of separate ``iter_frames`` passes (the frame displayed at
each time, scaled by FFmpeg from the decoded picture), on the video clock at odd and variable
frame rates, and each video frame must be decoded once.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from foleystudio.core.boxes import Box, BoxKeyframe
from foleystudio.core.media import FrameGrid, VideoFile, probe
from foleystudio.errors import MediaError
from foleystudio.ml.encoders.clip_encoder import ClipEncoder, ClipEncoderConfig
from foleystudio.ml.encoders.motion import MAX_SIDE, MOTION_FPS, grey_small, motion_energy
from foleystudio.ml.encoders.optical_flow import FLOW_SIDE, flow_features
from foleystudio.ml.encoders.visual_onsets import VisualOnsetConfig, VisualOnsetNet, onset_tracks
from foleystudio.ml.event_detector import detect_events
from foleystudio.ml.features import extract_video_features
from foleystudio.ml.video_pass import decode_range

WIDTH, HEIGHT, SQUARE = 320, 180, 24
#: Frame start times of the variable-rate clip: irregular steps, a held frame, a burst.
VFR_TIMES = [0.0, 0.05, 0.1, 0.2, 0.25, 0.4, 0.45, 0.5, 0.7, 0.71, 0.75, 0.9, 1.1, 1.13, 1.2, 1.5, 1.55, 1.6]
RATES = {"12.5": Fraction(25, 2), "21.5": Fraction(43, 2), "29.97": Fraction(30000, 1001), "vfr": None}


def square_x(image: np.ndarray) -> int:
    """Left edge (px) of the bright square on the middle row of an RGB or grey frame."""
    row = image[image.shape[0] // 2].astype(np.float32)
    if row.ndim == 2:
        row = row.mean(axis=1)
    columns = np.nonzero(row > 128)[0]
    assert len(columns), "no square in the frame"
    return int(columns[0])


def frame_index(image: np.ndarray) -> int:
    """The index of the video frame shown: the square moves 3 px (at 320 px wide) a frame."""
    return round(square_x(image) * WIDTH / image.shape[1] / 3)


@pytest.fixture
def clip(make_video):
    """``clip(rate) -> (path, frame start times)`` for a rate name of :data:`RATES`."""

    def make(rate: str):
        fps = RATES[rate]
        if fps is None:
            times = list(VFR_TIMES)
            path = make_video("vfr.mp4", len(times) / 24, 24, False, WIDTH, HEIGHT, pts_seconds=times)
            assert probe(path).is_vfr
        else:
            n = math.ceil(2.0 * fps)
            times = [k / fps for k in range(n)]
            path = make_video(f"r{rate}.mp4", n / fps, fps, False, WIDTH, HEIGHT, bframes=2)
            assert probe(path).fps == fps
        return path, [float(t) for t in times]

    return make


def shown_at(times: list[float], t: float) -> int:
    """The frame whose display interval contains ``t``."""
    return max(i for i, start in enumerate(times) if start <= t + 1e-6)


def count_decoded(video: VideoFile, monkeypatch) -> list[int]:
    """Counts the frames ``video`` decodes from now on (in a one-item list)."""
    count = [0]
    original = video._next_frame

    def counted():
        frame = original()
        count[0] += frame is not None
        return frame

    monkeypatch.setattr(video, "_next_frame", counted)
    return count


@pytest.mark.parametrize("rate", list(RATES))
def test_grids_from_one_pass_equal_separate_passes(clip, rate, monkeypatch) -> None:
    path, starts = clip(rate)
    with VideoFile(path) as video:
        fps = float(video.info.fps)
        grids = [
            FrameGrid(MOTION_FPS, MAX_SIDE, 0.3 - 1 / 24, 1.7),
            FrameGrid(fps, FLOW_SIDE, 0.0, 1.7, grey=True),
        ]
        separate = [list(video.iter_frames(g.fps, g.size, g.start, g.end, g.grey)) for g in grids]
    with VideoFile(path) as video:
        decoded = count_decoded(video, monkeypatch)
        together = list(video.iter_grids(grids))
    assert [t for _, t, _ in together] == sorted(t for _, t, _ in together)  # one forward pass
    assert decoded[0] <= len(starts)  # every frame decoded at most once
    for g, expected in enumerate(separate):
        got = [(t, image) for k, t, image in together if k == g]
        assert [t for t, _ in got] == [t for t, _ in expected]
        assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(got, expected, strict=True))
    shapes = {g: image.shape for g, _, image in together}
    assert shapes == {0: (90, 160, 3), 1: (144, 256)}


@pytest.mark.parametrize("rate", list(RATES))
def test_decode_range_frames_are_on_the_video_clock(clip, rate) -> None:
    path, starts = clip(rate)
    start, end = 0.3, 1.7
    with VideoFile(path) as video:
        fps = float(video.info.fps)
        frames = decode_range(video, start, end, flow=True)
        end = min(end, video.info.duration)  # the VFR clip ends at 1.64 s
    assert frames.end == end
    # 24 fps frames from start, the one 1/24 s before as previous: each the frame shown then.
    assert np.allclose(frames.times, start + np.arange(len(frames.times)) / 24, atol=1e-9)
    assert len(frames.times) == math.ceil((end - start) * 24 - 1e-9)
    assert [frame_index(f) for f in frames.frames] == [shown_at(starts, t) for t in frames.times]
    assert frame_index(frames.previous) == shown_at(starts, start - 1 / 24)
    # Flow frames on the file's own grid (k / fps), from the first at or after start.
    first = math.ceil(start * fps - 1e-6)
    grid = np.arange(first, first + len(frames.flow_times)) / fps
    assert frames.flow_fps == pytest.approx(fps) and np.allclose(frames.flow_times, grid, atol=1e-9)
    assert frames.flow_times[-1] < end <= frames.flow_times[-1] + 1 / fps + 1e-9
    assert [frame_index(g) for g in frames.flow_greys] == [shown_at(starts, t) for t in frames.flow_times]
    assert frame_index(frames.flow_previous) == shown_at(starts, (first - 1) / fps)
    if rate != "vfr":  # constant rate: flow frame k is the file's frame k
        assert [frame_index(g) for g in frames.flow_greys] == list(range(first, first + len(grid)))
    assert frames.flow_greys[0].shape == (144, 256) and frames.frames[0].shape == (90, 160, 3)


def test_decode_range_at_the_start_and_empty_ranges(clip) -> None:
    path, _ = clip("12.5")
    with VideoFile(path) as video:
        frames = decode_range(video, 0.0, 0.5, flow=True)
        assert frames.previous is None and frames.flow_previous is None
        assert frames.times[0] == 0.0 and frames.flow_times[0] == 0.0
        assert frames.flow_times.tolist() == pytest.approx([k / 12.5 for k in range(7)])
        only_flow = decode_range(video, 0.0, 0.5, motion=False, flow=True)
        assert only_flow.frames == [] and len(only_flow.times) == 0
        assert all(np.array_equal(a, b) for a, b in zip(only_flow.flow_greys, frames.flow_greys, strict=True))
        with pytest.raises(MediaError, match="no video between"):
            decode_range(video, 5.0, 6.0, flow=True)


@pytest.fixture(scope="module")
def tiny_clip() -> ClipEncoder:
    return ClipEncoder.from_config(ClipEncoderConfig("fw-clip-debug"), seed=0)


@pytest.fixture(scope="module")
def onset_net() -> VisualOnsetNet:
    torch.manual_seed(0)
    return VisualOnsetNet(VisualOnsetConfig()).eval()


@pytest.mark.parametrize("rate", ["21.5", "vfr"])
def test_extract_video_features_decodes_once_and_matches_separate_passes(
    clip, rate, tiny_clip, onset_net, monkeypatch
) -> None:
    path, starts = clip(rate)
    start, end = 0.3, 1.5
    keys = (BoxKeyframe(0.0, Box(0.1, 0.2, 0.5, 0.6)),)
    with VideoFile(path) as video:
        decoded = count_decoded(video, monkeypatch)
        feats = extract_video_features(
            video, start, end, tiny_clip, objects={"a": keys}, onset_net=onset_net, with_flow=True
        )
        assert decoded[0] <= len(starts)
    # The reference: each feature from its own iter_frames pass, as before the single pass.
    with VideoFile(path) as video:
        fps = float(video.info.fps)
        small = list(video.iter_frames(MOTION_FPS, MAX_SIDE, start - 1 / 24, end))
        first = math.ceil(start * fps - 1e-6)
        greys = list(video.iter_frames(fps, FLOW_SIDE, (first - 1) / fps, end, grey=True))
    times = np.array([t for t, _ in small[1:]])
    frames = [f for _, f in small[1:]]
    assert np.allclose(feats.motion.times, times, rtol=0, atol=1e-12)
    motion = motion_energy(frames, fps=MOTION_FPS, start=times[0], previous=small[0][1])
    assert np.array_equal(feats.motion.energy, motion.energy)
    assert np.array_equal(feats.visual, tiny_clip.encode_images(np.stack(frames[::3])).cpu().numpy())
    assert np.array_equal(feats.onsets, onset_tracks(onset_net, [grey_small(f) for f in frames])[0])
    flow_times = np.array([t for t, _ in greys[1:]])
    box = np.array([[0.1, 0.2, 0.5, 0.6]] * len(flow_times))[None]
    flow = flow_features([g for _, g in greys[1:]], fps, times=flow_times, boxes=box, previous=greys[0][1])
    assert feats.flow is not None and np.array_equal(feats.flow.times, flow_times)
    assert np.array_equal(feats.flow.whole.cells, flow.whole.cells)
    assert np.array_equal(feats.flow.boxes[0].magnitude, flow.boxes[0].magnitude)


def test_detect_events_decodes_once_with_an_onset_network(clip, onset_net, monkeypatch) -> None:
    path, starts = clip("29.97")
    with VideoFile(path) as video:
        decoded = count_decoded(video, monkeypatch)
        whole, per_object = detect_events(
            video, 0.0, 2.0, objects={"a": (BoxKeyframe(0.0, Box(0.0, 0.0, 0.5, 1.0)),)}, onset_net=onset_net
        )
        assert decoded[0] <= len(starts)
        frames = [f for _, f in video.iter_frames(MOTION_FPS, MAX_SIDE, 0.0, 2.0)]
    assert set(per_object) == {"a"}
    expected = onset_tracks(onset_net, [grey_small(f) for f in frames])[0]
    if whole.detector == "onsets":
        assert np.array_equal(whole.probability, expected.astype(np.float32))
        assert np.allclose(whole.times, np.arange(len(frames)) / 24)
    else:  # the random network is not decisive: the flow detector, on the video's own frame times
        assert np.allclose(whole.times, np.arange(len(whole.times)) * 1001 / 30000)


def test_more_grids_than_kept_scalers_still_give_exact_frames(clip) -> None:
    # VideoFile keeps the scaler and last image of 4 outputs; 6 grids evict and rebuild them.
    path, _ = clip("12.5")
    grids = [FrameGrid(10 + k, (64 + 16 * k, 36 + 9 * k), 0.0, 1.0, grey=k % 2 == 1) for k in range(6)]
    with VideoFile(path) as video:
        together = list(video.iter_grids(grids))
    with VideoFile(path) as video:
        for g, grid in enumerate(grids):
            got = [image for k, _, image in together if k == g]
            expected = [
                image for _, image in video.iter_frames(grid.fps, grid.size, grid.start, grid.end, grid.grey)
            ]
            assert len(got) == len(expected) and all(
                np.array_equal(a, b) for a, b in zip(got, expected, strict=True)
            )
