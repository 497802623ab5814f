"""Optical-flow features and the visual event detector on pictures whose events are known."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from foleystudio.core.boxes import Box, BoxKeyframe
from foleystudio.core.videowriter import write_video
from foleystudio.errors import UsageError
from foleystudio.ml.encoders.optical_flow import flow_features, flow_from_video
from foleystudio.ml.event_detector import (
    choose_events,
    detect_events,
    detect_in_region,
    onsets_are_decisive,
)
from foleystudio.ml.metrics import onset_f1

WIDTH, HEIGHT = 160, 96


def bounce_positions(times: np.ndarray, period: float, phase: float = 0.0) -> np.ndarray:
    """Triangle wave in [0, 1]: a ball going right then left; turns at (k + 1/2) * period."""
    u = ((times + phase) / period) % 1.0
    return 1.0 - np.abs(2.0 * u - 1.0)


def render(times: np.ndarray, lanes: list[tuple[float, float, float]], seed: int = 0) -> list[np.ndarray]:
    """Frames of balls on a noisy textured backdrop; lane = (row y, period s, phase s)."""
    rng = np.random.default_rng(seed)
    backdrop = (60 + 40 * rng.random((HEIGHT, WIDTH, 1))).astype(np.float32).repeat(3, axis=2)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    frames = []
    for t in times:
        frame = backdrop + rng.normal(0, 1.5, backdrop.shape)
        for y, period, phase in lanes:
            x = 12 + (WIDTH / 2 - 24) * bounce_positions(np.array([t]), period, phase)[0]
            inside = (xx - x) ** 2 + (yy - y * HEIGHT) ** 2 <= 8**2
            frame[inside] = (230, 200, 40)
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return frames


def turn_times(duration: float, period: float, phase: float = 0.0) -> np.ndarray:
    """Times where the triangle wave turns (both walls), within (0.2, duration - 0.2)."""
    k = np.arange(-2, int(duration / period * 2) + 3)
    times = k * period / 2 - phase
    return times[(times > 0.2) & (times < duration - 0.2)]


@pytest.mark.parametrize("fps", [25, 60, Fraction(30000, 1001)])
def test_bounces_are_found_within_a_frame_at_the_videos_own_rate(tmp_path, fps):
    duration, period = 4.0, 0.8
    times = np.arange(round(duration * float(fps))) / float(fps)
    path = write_video(tmp_path / "bounce.mp4", render(times, [(0.5, period, 0.1)]), fps)
    flow = flow_from_video(path, 0.0, duration)
    assert flow.fps == pytest.approx(float(fps), rel=1e-3)
    assert np.allclose(np.diff(flow.times), 1 / float(fps), atol=1e-3)
    found = detect_in_region(flow).track.times
    truth = turn_times(duration, period, 0.1)
    precision, recall, f1 = onset_f1(found, truth, tolerance=1.0 / float(fps) + 1e-3)
    # Nearly every turn is found within one frame; the sensor noise adds a few weak extras.
    assert recall >= 0.75 and f1 >= 0.6, (found, truth)
    # The same events against the truth shifted by a quarter period: far worse.
    assert onset_f1(found, truth + period / 4, 1.0 / float(fps))[2] <= 0.3


def test_each_box_sees_only_its_own_ball(tmp_path):
    fps, duration = 30, 4.0
    times = np.arange(round(duration * fps)) / fps
    lanes = [(0.25, 0.8, 0.0), (0.75, 1.1, 0.3)]
    frames = render(times, lanes)
    # Second ball moves in the right half of the frame.
    for frame in frames:
        frame[HEIGHT // 2 :] = np.roll(frame[HEIGHT // 2 :], WIDTH // 2, axis=1)
    path = write_video(tmp_path / "two.mp4", frames, fps)
    top = (BoxKeyframe(0.0, Box(0.0, 0.0, 1.0, 0.5)),)
    bottom = (BoxKeyframe(0.0, Box(0.0, 0.5, 1.0, 0.5)),)
    whole, per_object = detect_events(path, 0.0, duration, objects={"a": top, "b": bottom})
    assert set(per_object) == {"a", "b"}
    tol = 1.0 / fps + 1e-3
    truth_a, truth_b = turn_times(duration, 0.8, 0.0), turn_times(duration, 1.1, 0.3)
    a, b = per_object["a"].track.times, per_object["b"].track.times
    assert onset_f1(a, truth_a, tol)[1] >= 0.99 and onset_f1(b, truth_b, tol)[1] >= 0.99
    assert onset_f1(a, truth_a, tol)[2] >= 0.7 and onset_f1(b, truth_b, tol)[2] >= 0.7
    # Chance coincidences of the two rhythms give ~0.3-0.45 across.
    assert onset_f1(a, truth_b, tol)[2] <= 0.5 and onset_f1(b, truth_a, tol)[2] <= 0.5
    assert whole.detector == "flow" and all(0 <= e.strength <= 1 for e in whole.track.events)


def test_flow_features_measure_velocity_and_direction():
    frames = [np.zeros((64, 128), np.uint8) for _ in range(6)]
    for i, frame in enumerate(frames):
        frame[24:40, 20 + 4 * i : 36 + 4 * i] = 255  # 4 px / frame to the right
        frame[:, :] = np.maximum(frame, (np.arange(128) % 7 * 20).astype(np.uint8))
    flow = flow_features(frames, fps=10.0)
    assert flow.whole.magnitude[0] == 0.0 and not flow.cut.any()
    moving = flow.whole.direction[2:].sum(axis=0)
    assert np.argmax(moving) in (3, 4)  # sectors around angle 0 (+x): (-pi..pi) -> 0..8, +x at 4
    with pytest.raises(UsageError):
        flow_features([], fps=10.0)
    with pytest.raises(UsageError):
        flow_features(frames, fps=0.0)


def test_a_shot_cut_is_not_an_event():
    rng = np.random.default_rng(1)
    a = (rng.random((72, 128)) * 80).astype(np.uint8)
    b = (170 + rng.random((72, 128)) * 80).astype(np.uint8)
    frames = [a] * 10 + [b] * 10
    flow = flow_features(frames, fps=25.0)
    assert flow.cut[10] and flow.cut.sum() == 1
    assert len(detect_in_region(flow).track) == 0


def test_onset_network_is_trusted_only_where_decisive():
    decisive = np.zeros(100)
    decisive[[10, 30, 50, 70]] = 0.95
    assert onsets_are_decisive(decisive)
    hesitant = np.zeros(100)
    hesitant[[10, 30, 50, 70]] = [0.4, 0.45, 0.55, 0.35]
    assert not onsets_are_decisive(hesitant)
    assert onsets_are_decisive(np.full(100, 0.05))  # sure that nothing happens
    flow = flow_features([np.zeros((32, 32), np.uint8)] * 100, fps=24.0)
    times = np.arange(100) / 24.0
    chosen = choose_events(flow, decisive, times)
    assert chosen.detector == "onsets" and np.allclose(chosen.track.times, times[[10, 30, 50, 70]])
    assert choose_events(flow, hesitant, times).detector == "flow"
