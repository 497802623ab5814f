"""The audio-encoder trainer (CLAP's role) and its category classifier on a tiny FoleyWorld corpus."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
import torch

from foleystudio.cli import main
from foleystudio.core.jobs import CancelToken
from foleystudio.data.datasets import scan_folder
from foleystudio.data.foleyworld import CATEGORIES, generate_corpus
from foleystudio.errors import CheckpointError, DataError
from foleystudio.ml.encoders.audio import AUDIO_CONFIGS, AudioEncoderConfig
from foleystudio.train.audio import (
    AudioTrainSettings,
    _crop_start,
    load_text_projection,
    load_trained_audio,
    retrieval_top1,
    train_audio_encoder,
)
from tests.unit.train_log_helpers import logged_events

QUICK = AudioTrainSettings(
    config="fw-audio-debug", steps=1, batch_size=4, classifier_crops=1, classifier_steps=5, save_every=1
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("fw")
    generate_corpus(out, 4, seed=11, duration=2.0, size=64, split_fractions=(0.5, 0.5, 0.0))
    return out


@pytest.fixture(scope="module")
def clip_run(corpus, tmp_path_factory):
    run = tmp_path_factory.mktemp("clip") / "run"
    args = ["train", "clip", "--data", str(corpus), "--out", str(run), "--config", "fw-clip-debug"]
    assert main([*args, "--steps", "2", "--batch", "8"]) == 0
    return run


@pytest.fixture(scope="module")
def audio_run(corpus, clip_run, tmp_path_factory):
    """A CLI run of 2 steps, resumed to 3."""
    run = tmp_path_factory.mktemp("audio") / "run"
    args = ["train", "audio", "--data", str(corpus), "--clip", str(clip_run), "--out", str(run)]
    args += ["--config", "fw-audio-debug", "--batch", "4"]
    assert main([*args, "--steps", "2"]) == 0
    assert main([*args, "--steps", "3", "--resume"]) == 0
    return run


def test_cli_run_resumes_and_writes_its_files(audio_run):
    events = logged_events(audio_run)
    stops = [e for e in events if e["event"] == "stop"]
    assert [e["steps"] for e in stops] == [2, 3]
    assert [e["event"] for e in events].count("start") == 1
    assert all(e["finished"] for e in stops)
    for name in ("audio.safetensors", "audio_config.json", "classifier.safetensors", "state.safetensors"):
        assert (audio_run / name).is_file(), name
    assert not (audio_run / "text_projection.safetensors").exists()  # 32 == 32: no projection
    config = json.loads((audio_run / "audio_config.json").read_text())
    assert config["categories"] == list(CATEGORIES)
    assert config["text_dim"] == 32 and config["text_projection"] is False
    val = config["validation"]
    assert set(val) == {"text_to_audio_top1", "audio_to_text_top1", "val_classifier_accuracy"}
    assert all(0.0 <= v <= 1.0 for v in val.values())


def test_loaded_modules_embed_and_classify(audio_run):
    encoder, classifier, categories = load_trained_audio(audio_run)
    assert categories == CATEGORIES and classifier.categories == CATEGORIES
    rng = np.random.default_rng(0)
    waves = torch.from_numpy(rng.normal(0, 0.1, (3, 16000)).astype(np.float32))
    with torch.no_grad():
        emb = encoder.embed(waves)
        probs = classifier(emb)
        again = load_trained_audio(audio_run)[0].embed(waves)
    assert emb.shape == (3, 32)
    assert torch.allclose(emb.norm(dim=1), torch.ones(3), atol=1e-5)
    assert torch.allclose(emb, again)  # the saved weights, not a fresh init
    assert probs.shape == (3, len(CATEGORIES))
    assert (probs >= 0).all() and torch.allclose(probs.sum(dim=1), torch.ones(3), atol=1e-5)
    assert load_text_projection(audio_run)(emb).shape == (3, 32)


def test_projection_is_trained_when_dimensions_differ(corpus, clip_run, tmp_path, monkeypatch):
    monkeypatch.setitem(
        AUDIO_CONFIGS,
        "test-16",
        AudioEncoderConfig(n_mels=32, channels=(8, 16), width=32, layers=1, heads=2, embed_dim=16),
    )
    settings = replace(QUICK, config="test-16")
    summary = train_audio_encoder(scan_folder(corpus), tmp_path, clip_run, settings, device="cpu")
    assert summary["finished"]
    assert (tmp_path / "text_projection.safetensors").is_file()
    encoder, classifier, _ = load_trained_audio(tmp_path)
    with torch.no_grad():
        emb = encoder.embed(torch.zeros(2, 8000))
        points = load_text_projection(tmp_path)(emb)
    assert emb.shape == (2, 16) and points.shape == (2, 32)
    assert torch.allclose(points.norm(dim=1), torch.ones(2), atol=1e-5)
    assert classifier(emb).shape == (2, len(CATEGORIES))


def test_cancel_stops_resumably_without_final_files(corpus, clip_run, tmp_path):
    token = CancelToken()

    def progress(fraction: float, message: str) -> None:
        if message.startswith("audio step"):
            token.cancel()

    settings = replace(QUICK, steps=3)
    records = scan_folder(corpus)
    summary = train_audio_encoder(records, tmp_path, clip_run, settings, progress=progress, cancel=token)
    assert summary == {**summary, "steps": 1, "finished": False}
    assert (tmp_path / "state.json").is_file() and not (tmp_path / "audio.safetensors").exists()
    with pytest.raises(CheckpointError, match="not a finished audio-encoder run"):
        load_trained_audio(tmp_path)
    with pytest.raises(DataError, match="already holds a training state"):
        train_audio_encoder(records, tmp_path, clip_run, settings)
    summary = train_audio_encoder(records, tmp_path, clip_run, settings, resume=True)
    assert summary["steps"] == 3 and summary["finished"]


def test_a_folder_without_stems_is_refused(corpus, clip_run, tmp_path):
    shutil.copy(next(corpus.glob("clip_*.mp4")), tmp_path / "plain.mp4")
    with pytest.raises(DataError, match="no FoleyWorld source stems"):
        train_audio_encoder(scan_folder(tmp_path), tmp_path / "run", clip_run, QUICK)


def test_crops_prefer_the_loud_part():
    envelope = np.full(80, 1e-6)
    envelope[50:60] = 1.0  # 5.0–6.0 s loud, 8 s stem
    assert _crop_start(envelope, 1.0, None) == pytest.approx(5.0)
    rng = np.random.default_rng(0)
    starts = np.array([_crop_start(envelope, 2.0, rng) for _ in range(200)])
    assert np.mean((starts > 3.0) & (starts < 6.0)) > 0.9  # crops that overlap the loud second
    assert _crop_start(np.ones(5), 2.0, rng) == 0.0  # stem shorter than the crop


def test_retrieval_top1_on_known_embeddings():
    texts = torch.eye(3)
    items = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0, 1.0, 0], [1.0, 0, 0]])
    result = retrieval_top1(items, np.array([0, 1, 2, 2]), texts)
    # Texts present: 0, 1, 2. Items 0, 1 right, 2 wrong (looks like text 1), 3 wrong (like text 0).
    assert result["audio_to_text_top1"] == pytest.approx(0.5)
    # Per text: text 0 -> item 0 (right), text 1 -> item 1 (right), text 2 -> no close item (argmax 0).
    assert result["text_to_audio_top1"] == pytest.approx(2 / 3)


def test_cli_names_a_missing_clip_run(corpus, tmp_path, capsys):
    args = ["train", "audio", "--data", str(corpus), "--clip", str(tmp_path / "nope"), "--out", str(tmp_path)]
    assert main([*args, "--config", "fw-audio-debug"]) == 2
    assert "not a finished CLIP run" in capsys.readouterr().err
    assert not (tmp_path / "log.jsonl").exists()
