"""Training parts from a model bundle: the same modules the engine loads, or a clear error."""

from __future__ import annotations

import pytest
import torch

from foleystudio.errors import CheckpointError, DataError
from foleystudio.ml.engine import load_model
from foleystudio.ml.model_bundle import find_bundle
from foleystudio.train.audio import load_trained_audio
from foleystudio.train.clip_encoder import load_trained_clip
from foleystudio.train.parts import load_ssv2a_part, part_logs, part_training_log
from foleystudio.train.visual_onsets import load_trained_onsets


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_bundled_model_parts_load_as_training_parts():
    folder = find_bundle("foleyworld-tiny")
    loaded = load_model(str(folder), torch.device("cpu"))
    assert _same(load_trained_clip(folder).model, loaded.clip.model)
    encoder, classifier, categories = load_trained_audio(folder)
    assert _same(encoder, loaded.audio) and _same(classifier, loaded.audio_classifier)
    assert categories == loaded.audio_classifier.categories
    manifold, remixer = load_ssv2a_part(folder)
    assert _same(manifold, loaded.ssv2a[0]) and _same(remixer, loaded.ssv2a[1])
    if loaded.onsets is not None:
        assert _same(load_trained_onsets(folder), loaded.onsets)
    assert part_training_log(folder, "flowley") == folder / "training_log.jsonl"
    logs = part_logs({"clip": folder, "audio": None})
    assert logs == {"clip_training_log.jsonl": (folder / "clip_training_log.jsonl").read_bytes()}


def test_a_folder_that_is_neither_run_nor_bundle_is_refused(tmp_path):
    with pytest.raises(DataError):
        load_trained_clip(tmp_path)
    with pytest.raises(CheckpointError):
        load_trained_audio(tmp_path)
    with pytest.raises(CheckpointError):
        load_ssv2a_part(tmp_path)
    assert part_training_log(tmp_path, "clip") is None
