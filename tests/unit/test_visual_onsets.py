"""The visual onset network: shapes, chunked inference, crops, training on a known problem,
the bundle round trip, and how its track enters the sync features."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from foleystudio.core.boxes import Box
from foleystudio.errors import CheckpointError, UsageError
from foleystudio.ml.encoders.visual_onsets import (
    VisualOnsetConfig,
    VisualOnsetNet,
    load_from_bundle,
    network_frames,
    onset_probabilities,
    onset_tracks,
    peak_onsets,
    scale_grey,
)
from foleystudio.ml.model_bundle import load_bundle
from foleystudio.train.visual_onsets import (
    OnsetExample,
    VisualOnsetTrainSettings,
    evaluate,
    train_visual_onsets,
)
from tests.unit.train_log_helpers import logged_events

SMALL = VisualOnsetConfig(size=16, channels=(4, 8, 8), hidden=16, dilations=(1, 2))


def test_forward_gives_one_logit_per_frame():
    net = VisualOnsetNet(SMALL)
    assert net(torch.rand(2, 30, 16, 16)).shape == (2, 30)
    with pytest.raises(UsageError, match="frames must be"):
        net(torch.rand(2, 30, 8, 8))


def test_chunked_inference_equals_one_pass():
    torch.manual_seed(0)
    net = VisualOnsetNet(SMALL).eval()
    frames = np.random.default_rng(0).random((100, 16, 16)).astype(np.float32)
    whole = onset_probabilities(net, frames, chunk=1000)
    chunked = onset_probabilities(net, frames, chunk=17)
    assert whole.shape == (100,) and np.all((whole > 0) & (whole < 1))
    np.testing.assert_allclose(chunked, whole, atol=1e-5)


def test_config_round_trip_and_unknown_fields():
    assert VisualOnsetConfig.from_dict(SMALL.to_dict()) == SMALL
    with pytest.raises(CheckpointError, match="unknown fields"):
        VisualOnsetConfig.from_dict({**SMALL.to_dict(), "colour": 1})
    with pytest.raises(UsageError, match="multiple of 8"):
        VisualOnsetConfig(size=12)


def test_box_crops_read_the_box():
    grey = np.zeros((64, 96), np.float32)
    grey[16:32, 48:72] = 1.0  # x 0.5-0.75, y 0.25-0.5
    crop = scale_grey(grey, 8, Box(0.5, 0.25, 0.25, 0.25))
    assert crop.shape == (8, 8) and crop.min() == pytest.approx(1.0)
    assert scale_grey(grey, 8).mean() == pytest.approx(grey.mean(), abs=1e-6)
    boxes = np.tile([0.5, 0.25, 0.25, 0.25], (3, 1))
    assert network_frames([grey] * 3, 8, boxes).min() == pytest.approx(1.0)
    with pytest.raises(UsageError, match="one box per frame"):
        network_frames([grey] * 3, 8, boxes[:2])
    whole, per_box = onset_tracks(
        VisualOnsetNet(VisualOnsetConfig(size=8, channels=(2, 2, 2), hidden=4)), [grey] * 5
    )
    assert whole.shape == (5,) and per_box.shape == (0, 5)


def test_peak_onsets_picks_local_maxima_above_threshold():
    probs = np.zeros(48, np.float32)
    probs[[0, 10, 11, 30]] = [0.9, 0.7, 0.8, 0.4]
    np.testing.assert_allclose(peak_onsets(probs, 24.0, 0.5), [0.0, 11 / 24])


def _flash_examples(n: int, split: str, seed: int) -> list[OnsetExample]:
    """A dot that appears for one frame at each onset, on a noisy background: learnable."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        frames = 0.3 + 0.05 * rng.random((48, 16, 16))
        onset_frames = np.sort(rng.choice(np.arange(2, 46), size=4, replace=False))
        for f in onset_frames:
            y, x = rng.integers(2, 14, size=2)
            frames[f, y - 2 : y + 2, x - 2 : x + 2] = 1.0
        out.append(OnsetExample(f"c{i}", split, "mix", frames.astype(np.float16), onset_frames / 24.0))
    return out


def test_training_learns_flashes_writes_a_bundle_and_resumes(tmp_path):
    train, val = _flash_examples(24, "train", 0), _flash_examples(6, "val", 1)
    settings = VisualOnsetTrainSettings(
        steps=120, batch_size=8, window_frames=32, lr=3e-3, warmup=10, eval_every=1000, save_every=60
    )
    torch.manual_seed(0)
    before = evaluate(VisualOnsetNet(SMALL), val, 0.5)["mix"]
    # A budget of 0 s stops before the first step, with a checkpoint to resume from.
    partial = train_visual_onsets(train + val, tmp_path / "run", settings, SMALL, max_seconds=0.0)
    assert partial == {**partial, "finished": False, "steps": 0, "reason": "time_limit"}
    summary = train_visual_onsets(train + val, tmp_path / "run", settings, SMALL, resume=True)
    after = summary["val"]["mix"]
    assert summary["finished"] and summary["steps"] == 120
    assert after["frame_ap"] > 0.8 > before["frame_ap"]
    assert after["onset_f1"] > 0.8
    net = load_from_bundle(load_bundle(tmp_path / "run" / "bundle"))
    assert net is not None and net.config == SMALL
    assert evaluate(net, val, 0.5)["mix"] == after
    # The 0 s call stopped at once; the resumed one validated the last step.
    events = [line["event"] for line in logged_events(tmp_path / "run") if line["event"] != "train"]
    assert events == ["start", "stop", "resume", "val", "stop"]
