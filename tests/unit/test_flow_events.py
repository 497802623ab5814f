"""The flow event network: its features, resampling, peak picking, training on a known
problem, the bundle round trip, and its place among the detectors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from foleystudio.errors import CheckpointError, DataError, UsageError
from foleystudio.ml.encoders.flow_events import (
    N_FEATURES,
    FlowEventConfig,
    FlowEventNet,
    bin_times,
    event_probability,
    load_from_bundle,
    pick_events,
    region_features,
    to_rate,
)
from foleystudio.ml.encoders.optical_flow import FlowFeatures, RegionFlow
from foleystudio.ml.event_detector import choose_events
from foleystudio.ml.model_bundle import load_bundle, save_bundle
from foleystudio.train.flow_events import (
    THRESHOLDS,
    FlowEventExample,
    FlowEventTrainSettings,
    add_to_bundle,
    evaluate,
    load_trained_flow_events,
    merged_onsets,
    train_flow_events,
    visible_onsets,
)

SMALL = FlowEventConfig(hidden=16, dilations=(1, 2))


def _bouncing_region(n: int, fps: float, bounces: list[int], speed: float = 1.0) -> RegionFlow:
    """A region whose cell 0 moves down and turns back up at each frame of ``bounces``."""
    cells = np.zeros((n, 9, 2), np.float32)
    direction = 1.0
    for t in range(n):
        if t in bounces:
            direction = -direction
        cells[t, 0] = (0.0, direction * speed)
    magnitude = np.full(n, speed / 9, np.float32)
    directions = np.zeros((n, 8), np.float32)
    directions[:, 2] = magnitude
    return RegionFlow(magnitude, directions, np.zeros(n, np.float32), cells)


def test_features_are_finite_and_their_relative_half_ignores_the_scale():
    region = _bouncing_region(60, 30.0, [10, 30, 50])
    fast = _bouncing_region(60, 30.0, [10, 30, 50], speed=4.0)
    cut = np.zeros(60, bool)
    slow_features, fast_features = region_features(region, cut, 30.0), region_features(fast, cut, 30.0)
    assert slow_features.shape == (60, N_FEATURES) and np.isfinite(slow_features).all()
    half = (N_FEATURES - 1) // 2
    np.testing.assert_allclose(slow_features[:, :half], fast_features[:, :half], atol=1e-5)
    assert not np.allclose(slow_features[:, half:-1], fast_features[:, half:-1])
    # The reversal signal is there at each bounce (within a frame) and nowhere else.
    near = {b + d for b in (10, 30, 50) for d in (-1, 0, 1)}
    assert set(np.flatnonzero(slow_features[:, 5] > 0.1).tolist()) <= near
    assert all(slow_features[b - 1 : b + 2, 5].max() > 0.1 for b in (10, 30, 50))


def test_a_cut_zeroes_the_signals_and_is_flagged():
    cut = np.zeros(60, bool)
    cut[20] = True
    features = region_features(_bouncing_region(60, 30.0, [20]), cut, 30.0)
    assert (features[20:22, :-1] == 0).all() and features[20, -1] == 1 and features[21, -1] == 1


def test_resampling_keeps_a_60_fps_spike_and_fills_15_fps_gaps():
    times = np.arange(120) / 60.0
    values = np.zeros((120, 1), np.float32)
    values[41] = 5.0  # an odd frame at 60 fps: between two 30 Hz bin centres
    out = to_rate(values, times, 30.0)
    assert len(out) == len(bin_times(times, 30.0)) == 60
    assert out.max() == 5.0 and int(out.argmax()) in (20, 21)
    slow_times = np.arange(30) / 15.0
    slow = np.arange(30, dtype=np.float32)[:, None]
    filled = to_rate(slow, slow_times, 30.0)
    assert len(filled) == 59 and np.isfinite(filled).all()
    np.testing.assert_array_equal(filled[::2, 0], slow[:, 0])


def test_pick_events_lands_on_frame_times_above_the_threshold():
    grid = np.arange(90) / 30.0
    probability = np.zeros(90)
    probability[[10, 12, 40, 70]] = [0.9, 0.8, 0.4, 0.7]
    frames = np.arange(38) / 12.5  # a 12.5 fps video
    times, strengths = pick_events(probability, grid, frames, FlowEventConfig(threshold=0.5, min_gap=0.1))
    # 10 and 12 are 67 ms apart: one event; 0.4 is under the threshold.
    assert len(times) == 2
    assert all(np.isclose(frames, t).any() for t in times)
    np.testing.assert_allclose(times, [0.32, 2.32])
    np.testing.assert_allclose(strengths, [0.9, 0.7])


def test_network_shape_errors_and_config_round_trip():
    net = FlowEventNet(SMALL)
    assert net(torch.zeros(2, 50, N_FEATURES)).shape == (2, 50)
    with pytest.raises(UsageError):
        net(torch.zeros(2, 50, N_FEATURES + 1))
    assert FlowEventConfig.from_dict(SMALL.to_dict()) == SMALL
    with pytest.raises(CheckpointError, match="unknown fields"):
        FlowEventConfig.from_dict({**SMALL.to_dict(), "colour": 1})


def _bounce_examples(n: int, split: str, seed: int) -> list[FlowEventExample]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        bounces = sorted(rng.choice(np.arange(5, 115), size=5, replace=False).tolist())
        region = _bouncing_region(120, 30.0, bounces, speed=float(rng.uniform(0.5, 3.0)))
        noisy = RegionFlow(
            region.magnitude,
            region.direction,
            region.flow_change,
            region.cells + rng.normal(0, 0.05, region.cells.shape).astype(np.float32),
        )
        features = region_features(noisy, np.zeros(120, bool), 30.0)
        out.append(FlowEventExample(f"c{i}", split, "mix", features, np.asarray(bounces) / 30.0))
    return out


def test_training_learns_bounces_calibrates_the_threshold_and_resumes(tmp_path):
    train, val = _bounce_examples(24, "train", 0), _bounce_examples(6, "val", 1)
    settings = FlowEventTrainSettings(
        steps=150, batch_size=8, window_bins=60, lr=3e-3, warmup=10, save_every=75
    )
    torch.manual_seed(0)
    before = evaluate(FlowEventNet(SMALL), val, 0.5)["mix"]["event_f1"]
    partial = train_flow_events(train + val, tmp_path / "run", settings, SMALL, max_seconds=0.0)
    assert partial["finished"] is False and partial["steps"] == 0
    summary = train_flow_events(train + val, tmp_path / "run", settings, SMALL, resume=True)
    assert summary["finished"] and summary["steps"] == 150
    assert summary["threshold"] in THRESHOLDS
    net = load_trained_flow_events(tmp_path / "run")
    after = evaluate(net, val, net.config.threshold)["mix"]["event_f1"]
    assert after > 0.8 > before
    assert net.config.threshold == summary["threshold"]


def test_add_to_bundle_and_the_detector_prefers_the_network(tmp_path):
    torch.manual_seed(0)
    net = FlowEventNet(SMALL).eval()
    save_bundle(
        tmp_path / "run" / "bundle", "flow-events", {"flow_events": net}, {"flow_events": SMALL.to_dict()}
    )
    (tmp_path / "run" / "log.jsonl").write_text('{"event": "start"}\n')
    save_bundle(tmp_path / "model", "m", {"other": torch.nn.Linear(2, 2)}, {"other": {}})
    assert load_from_bundle(load_bundle(tmp_path / "model")) is None
    add_to_bundle(tmp_path / "model", tmp_path / "run")
    loaded = load_from_bundle(load_bundle(tmp_path / "model"))
    assert loaded is not None and loaded.config == SMALL
    assert (tmp_path / "model" / "flow_events_training_log.jsonl").is_file()
    region = _bouncing_region(90, 30.0, [20, 50])
    flow = FlowFeatures(np.arange(90) / 30.0, 30.0, np.zeros(90, bool), region, (region,))
    with_net = choose_events(flow, flow_net=loaded)
    assert with_net.detector == "flow-net"
    probability, grid = event_probability(loaded, flow, 0)
    np.testing.assert_allclose(with_net.probability, event_probability(loaded, flow)[0])
    assert probability.shape == grid.shape == (90,)
    assert choose_events(flow).detector == "flow"
    # A decisive onset network still wins.
    decisive = np.zeros(90)
    decisive[[10, 40, 70]] = 0.95
    assert choose_events(flow, decisive, np.arange(90) / 30.0, flow_net=loaded).detector == "onsets"
    save_bundle(tmp_path / "plain", "p", {"other": torch.nn.Linear(2, 2)}, {"other": {}})
    with pytest.raises(DataError, match="no flow event network"):
        load_trained_flow_events(tmp_path / "plain")
    with pytest.raises(DataError, match="not a finished"):
        load_trained_flow_events(tmp_path)


def test_foleyworld_labels_count_only_onsets_in_view():
    source = {
        "onsets": [0.1, 0.5, 0.9],
        "onset_frames": [2, 12, 22],
        "boxes": [[0, 0, 1, 1]] * 10 + [None] * 20,
    }
    np.testing.assert_allclose(visible_onsets(source), [0.1])
    np.testing.assert_allclose(merged_onsets([0.5, 0.1, 0.12, 0.3]), [0.1, 0.3, 0.5])
