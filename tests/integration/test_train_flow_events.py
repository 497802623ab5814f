"""The flow event network trained through the CLI: self-supervised on a folder of videos with
sound, and on a FoleyWorld corpus, added to a bundle that the event detector then uses."""

from __future__ import annotations

import shutil

import numpy as np

from foleystudio.cli import main
from foleystudio.ml.encoders.flow_events import FlowEventConfig, load_from_bundle
from foleystudio.ml.event_detector import detect_events
from foleystudio.ml.model_bundle import load_bundle
from foleystudio.train.flow_events import load_trained_flow_events, soundtrack_examples
from tests.integration.test_train_onsets_real import bouncing_clip


def test_train_flow_events_on_videos_with_sound_and_into_a_bundle(tmp_path):
    data = tmp_path / "footage"
    data.mkdir()
    for k, period in enumerate((0.6, 0.8, 1.0, 0.7)):
        bouncing_clip(data / f"take{k}.mp4", period, fps=25 if k % 2 else 30)
    bouncing_clip(data / "silent.mp4", 0.5, with_sound=False)

    examples = soundtrack_examples(data, FlowEventConfig())
    assert sorted(e.clip for e in examples) == ["take0", "take1", "take2", "take3"]  # silent skipped
    assert sum(e.split == "val" for e in examples) == 1
    take0 = next(e for e in examples if e.clip == "take0")
    # 3 s at 30 Hz bins, onsets from the soundtrack's clicks at every turn.
    assert take0.features.shape[0] == 90
    assert np.allclose(take0.onsets, [0.3, 0.6, 0.9, 1.2, 1.5, 1.8, 2.1, 2.4, 2.7], atol=0.04)

    model = tmp_path / "model"
    shutil.copytree(load_bundle("foleyworld-tiny").path, model)
    run = tmp_path / "run"
    args = ["train", "flow-events", "--data", str(data), "--out", str(run), "--steps", "3", "--batch", "2"]
    assert main([*args, "--bundle", str(model)]) == 0
    net = load_trained_flow_events(run)
    added = load_from_bundle(load_bundle(model))
    assert added is not None and added.config == net.config
    assert (model / "flow_events_training_log.jsonl").is_file()
    # The events of a bundle with the network come from it.
    whole, _ = detect_events(data / "take0.mp4", 0.0, 3.0, flow_net=added)
    assert whole.detector == "flow-net" and np.all(np.diff(whole.track.times) > 0)
    # Bad input: a missing folder, --bundle-out without --bundle.
    assert (
        main(["train", "flow-events", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "r2")]) == 2
    )
    assert main([*args[:-4], "--out", str(tmp_path / "r3"), "--bundle-out", str(tmp_path / "b")]) == 2


def test_foleyworld_examples_are_the_picture_and_each_box_with_onsets_in_view(tmp_path):
    from foleystudio.data.datasets import scan_folder
    from foleystudio.data.foleyworld import generate_corpus
    from foleystudio.train.flow_events import examples_from_folder, visible_onsets

    generate_corpus(tmp_path / "fw", 3, 77, duration=3.0, n_sources=2, categories=["ball_wood", "footsteps"])
    examples = examples_from_folder(tmp_path / "fw", FlowEventConfig())
    records = {r.name: r for r in scan_folder(tmp_path / "fw") if r.split in ("train", "val")}
    assert {e.clip for e in examples} == set(records)
    for name, record in records.items():
        mine = [e for e in examples if e.clip == name]
        sources = record.truth["sources"]
        assert [e.kind for e in mine] == ["mix"] + ["object"] * len(sources)
        for example, source in zip(mine[1:], sources, strict=True):
            np.testing.assert_allclose(example.onsets, visible_onsets(source), atol=1e-6)
        assert len(mine[0].onsets) <= sum(len(visible_onsets(s)) for s in sources)
        # 72 frames at 24 fps, the last at 71/24 s: 30 Hz bins up to it.
        assert mine[0].features.shape == (int(71 / 24 * 30) + 1, FlowEventConfig().features)
