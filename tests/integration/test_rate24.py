"""A 24 kHz model end to end (issue 16 item 2): FoleyWorld at 24 kHz → every stage trained a few
steps (CLIP, audio encoder, visual onsets, Flowley with ``--codec 24k``, SSV2A, vocoder) → a bundle
whose codec is 24 kHz → generation on a video → candidates at 24 kHz of the right length →
stems exported at 48 kHz, sample-exact. Anything that still assumed 16 kHz (the cache's codec,
the bundle's manifest, the decode, the stored render, the placement) makes it fail."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from foleystudio.cli import main
from foleystudio.core.audio import load_audio, resample
from foleystudio.core.project_bundle import store_render
from foleystudio.data.datasets import FeatureCache, scan_folder
from foleystudio.data.foleyworld import generate_corpus
from foleystudio.errors import DataError
from foleystudio.ml.codec_presets import CODEC_PRESETS, preset_token_rate
from tests.unit.test_export_support import add_clip, make_project

RATE = 24000
EXPORT_RATE = 48000
#: Clip length of the test corpus and of the generated span (s).
SECONDS = 2.0


@pytest.fixture(scope="module")
def corpus24(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fw24")
    generate_corpus(
        out, 4, seed=11, duration=SECONDS, size=64, sample_rate=RATE, split_fractions=(0.5, 0.5, 0.0)
    )
    return out


def train(*args: str) -> None:
    assert main(["train", *args]) == 0, args


def high_band_share(audio: np.ndarray, rate: int, above: float = 8500.0) -> float:
    """Share of the signal's energy above ``above`` Hz (nothing there at 16 kHz)."""
    power = np.abs(np.fft.rfft(audio.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(audio), 1.0 / rate)
    return float(power[freqs > above].sum() / max(power.sum(), 1e-30))


def test_the_24k_preset_gives_its_token_rate() -> None:
    assert CODEC_PRESETS["24k"] == {
        "sample_rate": 24000,
        "n_mels": 100,
        "hop": 256,
        "n_fft": 1024,
        "patch": 4,
    }
    assert preset_token_rate("16k") == 15.625
    assert preset_token_rate("24k") == 23.4375  # 24000 / (256 · 4): 1.5x the tokens of 16k
    assert preset_token_rate("24k-p6") == 15.625  # patches of 6 frames: 16k's sequence length


def test_a_24k_model_trains_generates_and_exports_sample_exactly(corpus24: Path, tmp_path: Path) -> None:
    from foleystudio.core.requests import GenerationRequest
    from foleystudio.core.settings import GenerationSettings
    from foleystudio.data.recordings import Recording
    from foleystudio.export import ExportDestinations, ExportOptions, export_project
    from foleystudio.ml.engine import GenerationEngine
    from foleystudio.ml.model_bundle import read_manifest
    from foleystudio.train.vocoder import (
        RecordingSet,
        VocoderTrainSettings,
        add_vocoder_to_bundle,
        bundle_codec,
        train_vocoder,
    )

    runs = {name: tmp_path / name for name in ("clip", "audio", "onsets", "flow", "ssv2a", "vocoder")}
    bundle = tmp_path / "fw24-bundle"
    data = ["--data", str(corpus24)]
    train(
        "clip", *data, "--out", str(runs["clip"]), "--config", "fw-clip-debug", "--steps", "2", "--batch", "8"
    )
    audio = ["--clip", str(runs["clip"]), "--out", str(runs["audio"]), "--config", "fw-audio-debug"]
    train("audio", *data, *audio, "--steps", "2", "--batch", "4")
    train("onsets", *data, "--out", str(runs["onsets"]), "--steps", "2", "--batch", "2")
    flowley = [
        "flowley",
        *data,
        "--clip",
        str(runs["clip"]),
        "--audio",
        str(runs["audio"]),
        "--onsets",
        str(runs["onsets"]),
        "--out",
        str(runs["flow"]),
        "--config",
        "debug",
        "--batch",
        "2",
        "--codec",
        "24k",
    ]
    train(*flowley, "--steps", "2")
    cache = FeatureCache(runs["flow"] / "cache.safetensors")
    # 8 s windows of 24000 / 1024 tokens/s: 187.5, rounded up to 188 tokens of 4 × 100 mels.
    assert cache.tensors["tokens"].shape[1:] == (188, 400)
    assert cache.meta["codec"]["sample_rate"] == RATE and cache.meta["token_rate"] == 23.4375
    train(
        "ssv2a",
        "--cache",
        str(runs["flow"] / "cache.safetensors"),
        "--out",
        str(runs["ssv2a"]),
        "--steps",
        "2",
    )
    train(*flowley, "--steps", "3", "--resume", "--ssv2a", str(runs["ssv2a"]), "--bundle", str(bundle))
    # The recordings the vocoder learns from: the corpus's mixes at 24 kHz, one held out.
    records = scan_folder(corpus24)
    recordings = tuple(
        Recording(r.audio, "foleyworld", "CC0-1.0", "val" if i == 0 else "train")
        for i, r in enumerate(records)
    )
    waves = tuple(load_audio(r.path, RATE, mono=True)[0] for r in recordings)
    codec = bundle_codec(bundle)
    settings = VocoderTrainSettings(
        steps=2, batch_size=2, crop_tokens=2, warmup=1, log_every=1, save_every=100
    )
    sizes = {"dim": 16, "intermediate": 32, "layers": 1}
    train_vocoder(RecordingSet(recordings, waves), runs["vocoder"], codec, settings, sizes)
    add_vocoder_to_bundle(bundle, runs["vocoder"])

    manifest = read_manifest(bundle)
    configs = manifest["configs"]
    assert (configs["codec"]["sample_rate"], configs["codec"]["n_mels"], configs["codec"]["hop"]) == (
        RATE,
        100,
        256,
    )
    assert configs["vocoder"]["sample_rate"] == RATE and configs["vocoder"]["f_max"] == RATE / 2
    assert configs["flowley"]["token_rate"] == 23.4375 and configs["flowley"]["latent_dim"] == 400

    # Generation on a FoleyWorld video: every candidate is 24 kHz and exactly as long as the span.
    engine = GenerationEngine("cpu")
    video = records[1].video
    request = GenerationRequest(
        str(video),
        start=0.0,
        end=SECONDS,
        settings=GenerationSettings(model=str(bundle), steps=2, num_candidates=2),
    )
    candidates = engine.generate(request)
    assert engine.model(str(bundle)).codec.vocoder is not None  # decoded by the 24 kHz vocoder
    assert len(candidates) == 2
    for candidate in candidates:
        assert candidate.sample_rate == RATE
        assert candidate.audio.shape == (round(SECONDS * RATE),)
        assert np.isfinite(candidate.audio).all() and np.abs(candidate.audio).max() > 0
        assert set(candidate.scores) >= {"semantic", "sync", "total"}
    # Sound above 8 kHz exists: the band a 16 kHz model cannot make.
    assert high_band_share(candidates[0].audio, RATE) > 1e-4

    # Placed in a project (stored as the app stores renders) and exported at 48 kHz: the stem is
    # the render resampled, starting at round(position · 48000), sample-exact, nothing elsewhere.
    best = candidates[0]
    project_dir = tmp_path / "project"
    render = store_render(project_dir, best.audio, best.sample_rate)
    stored, stored_rate = sf.read(str(render), dtype="float32")
    assert stored_rate == RATE and np.array_equal(stored, best.audio)
    project = make_project(duration=4.0)
    position = 1.2000167  # between samples at 24 and 48 kHz, nearer the next one: round != floor
    add_clip(project, "Foley", str(render), position=position, duration=SECONDS)
    result = export_project(
        project,
        ExportDestinations(stems=tmp_path / "stems"),
        ExportOptions(sample_rate=EXPORT_RATE, bits=32),
        bundle_dir=project_dir,
    )
    stem, stem_rate = sf.read(str(result.stems[0]), dtype="float32")
    assert stem_rate == EXPORT_RATE and len(stem) == round(4.0 * EXPORT_RATE)
    start = round(position * EXPORT_RATE)
    placed = resample(best.audio, RATE, EXPORT_RATE)[: round(SECONDS * EXPORT_RATE)]
    assert len(placed) == round(SECONDS * EXPORT_RATE)
    expected = np.zeros_like(stem)
    expected[start : start + len(placed)] = placed
    np.testing.assert_allclose(stem, expected, atol=1e-6)
    # One sample early or late is far off: the comparison sees a misplacement.
    assert np.abs(stem - np.roll(expected, 1)).max() > 100 * 1e-6


def test_a_16k_corpus_is_refused_by_a_24k_codec(tmp_path: Path) -> None:
    corpus = tmp_path / "fw16"
    generate_corpus(corpus, 1, seed=3, duration=1.0, size=32, split_fractions=(1.0, 0.0, 0.0))
    from foleystudio.data.datasets import check_audio_rate

    records = scan_folder(corpus)
    check_audio_rate(records, 16000)
    with pytest.raises(DataError, match="16000 Hz, below the codec's 24000 Hz"):
        check_audio_rate(records, 24000)


def test_an_existing_cache_of_another_codec_is_refused(corpus24: Path, tmp_path: Path) -> None:
    """A run folder whose cache was built at 16 kHz cannot be resumed with --codec 24k."""
    clip_run, flow_run = tmp_path / "clip", tmp_path / "flow"
    train(
        "clip", "--data", str(corpus24), "--out", str(clip_run), "--config", "fw-clip-debug", "--steps", "1"
    )
    args = ["flowley", "--data", str(corpus24), "--clip", str(clip_run), "--out", str(flow_run)]
    args += ["--config", "debug", "--batch", "2", "--steps", "1", "--no-mix"]
    train(*args)
    assert json.loads((flow_run / "cache.json").read_text())["codec"]["sample_rate"] == 16000
    assert main(["train", *args, "--steps", "2", "--resume", "--codec", "24k"]) != 0


def test_train_vocoder_takes_a_codec_preset_or_a_bundle_not_both(tmp_path: Path, capsys) -> None:
    args = ["train", "vocoder", "--data", str(tmp_path), "--out", str(tmp_path / "run"), "--codec", "24k"]
    assert main([*args, "--bundle", str(tmp_path / "bundle")]) != 0
    assert "give --codec or --bundle, not both" in capsys.readouterr().err
