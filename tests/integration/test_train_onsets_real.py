"""Self-supervised visual onset training on a folder of videos with sound (no annotation)."""

from __future__ import annotations

import numpy as np

from foleystudio.cli import main
from foleystudio.core.videowriter import write_video
from foleystudio.ml.encoders.visual_onsets import VisualOnsetConfig
from foleystudio.train.visual_onsets import load_trained_onsets, soundtrack_examples
from tests.unit.train_log_helpers import logged_events


def bouncing_clip(path, period: float, with_sound: bool = True, fps: int = 24, seconds: float = 3.0):
    """A square going left and right; a click at every turn when ``with_sound``."""
    n = round(seconds * fps)
    frames = []
    for i in range(n):
        u = (i / fps / period) % 1.0
        x = int(8 + 60 * (1 - abs(2 * u - 1)))
        frame = np.full((48, 96, 3), 40, np.uint8)
        frame[18:30, x : x + 12] = 220
        frames.append(frame)
    sound = None
    if with_sound:
        rate = 48000
        sound = np.zeros(round(seconds * rate), np.float32)
        for t in np.arange(period / 2, seconds, period / 2):
            a = round(t * rate)
            sound[a : a + 240] += 0.5 * np.exp(-np.arange(len(sound[a : a + 240])) / 60.0)
    return write_video(path, frames, fps, sound, 48000)


def test_train_onsets_on_videos_with_sound(tmp_path):
    data = tmp_path / "footage"
    data.mkdir()
    for k, period in enumerate((0.6, 0.8, 1.0, 0.7)):
        bouncing_clip(data / f"take{k}.mp4", period)
    bouncing_clip(data / "silent.mp4", 0.5, with_sound=False)
    (data / "notes.txt").write_text("not a video")

    examples = soundtrack_examples(data, VisualOnsetConfig())
    assert sorted(e.clip for e in examples) == ["take0", "take1", "take2", "take3"]  # silent skipped
    assert sum(e.split == "val" for e in examples) == 1
    take0 = next(e for e in examples if e.clip == "take0")
    assert np.allclose(take0.onsets, [0.3, 0.6, 0.9, 1.2, 1.5, 1.8, 2.1, 2.4, 2.7], atol=0.02)

    run = tmp_path / "run"
    code = main(
        [
            "train",
            "onsets",
            "--data",
            str(data),
            "--out",
            str(run),
            "--steps",
            "3",
            "--batch",
            "2",
            "--init",
            "foleyworld-tiny",
        ]
    )
    assert code == 0
    net = load_trained_onsets(run)
    start = logged_events(run)[0]
    assert start["fine_tuned"] is True
    # Fine-tuning starts from the shipped network: 3 small steps leave it close, not equal.
    from foleystudio.ml.encoders.visual_onsets import load_from_bundle
    from foleystudio.ml.model_bundle import load_bundle

    shipped = load_from_bundle(load_bundle("foleyworld-tiny"))
    diffs = [
        float((a - b).detach().abs().max())
        for a, b in zip(net.parameters(), shipped.parameters(), strict=True)
    ]
    assert 0 < max(diffs) < 0.1
    assert main(["train", "onsets", "--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "r2")]) == 2
