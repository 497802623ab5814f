"""The neural vocoder: shapes and rates, its phase prior, training (loss falls, resume), the
model bundle with and without it (Griffin-Lim fallback), ``models codec`` and ``train vocoder``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from foleystudio.cli import main
from foleystudio.core.jobs import CancelToken
from foleystudio.data.recordings import HELD_OUT, Recording, licence_summary, scan_recordings
from foleystudio.errors import CheckpointError, DataError, UsageError
from foleystudio.ml.codec import MelCodec
from foleystudio.ml.model_bundle import MANIFEST, load_bundle, read_manifest, verify_bundle
from foleystudio.ml.spectral import (
    envelope_distance,
    mel_distance,
    multi_resolution_stft,
    round_trip_distances,
)
from foleystudio.ml.vocoder import Vocoder, VocoderConfig
from foleystudio.train.loop import step_generator
from foleystudio.train.model_bundle import debug_codec, random_bundle
from foleystudio.train.vocoder import (
    BUNDLE_LOG,
    RecordingSet,
    VocoderTrainSettings,
    add_vocoder_to_bundle,
    crop_batch,
    load_trained_vocoder,
    phase_losses,
    train_vocoder,
)
from tests.unit.train_log_helpers import logged_events

SR = 16000
#: A small mel analysis (16 bands, hop 64) and a tiny network, so tests train in seconds.
CODEC = MelCodec(n_mels=16, n_fft=256, hop=64, patch=2, griffin_lim_iters=4)
SIZES = {"dim": 16, "intermediate": 32, "layers": 2}


def tone_burst(seconds: float, freq: float, seed: int) -> np.ndarray:
    """Decaying tone bursts over faint noise: a recording-like test signal at 16 kHz."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * SR)) / SR
    wave = 0.01 * rng.standard_normal(len(t))
    for onset in np.arange(0.05, seconds, 0.3):
        env = np.where(t >= onset, np.exp(-(t - onset) * 20), 0.0)
        wave += 0.5 * env * np.sin(2 * math.pi * freq * (t - onset))
    return (0.95 * wave / np.abs(wave).max()).astype(np.float32)


def synthetic_set() -> RecordingSet:
    recordings, waves = [], []
    for i, freq in enumerate((300.0, 700.0, 1500.0, 2500.0, 500.0)):
        split = "val" if i == 4 else "train"
        recordings.append(Recording(Path(f"/synthetic/tone{i}.wav"), "synthetic", "CC0-1.0", split))
        waves.append(tone_burst(1.0 if i != 2 else 0.2, freq, i))  # one shorter than a crop
    return RecordingSet(tuple(recordings), tuple(waves))


#: A tiny overfit: fixed levels (no random gain) so the loss curve is not drowned in level noise.
SETTINGS = VocoderTrainSettings(
    steps=60,
    batch_size=4,
    crop_tokens=4,
    lr=3e-3,
    warmup=5,
    log_every=5,
    eval_every=30,
    save_every=30,
    min_gain_db=0.0,
)


# -- the network -----------------------------------------------------------------------------


def test_shapes_rates_and_config_round_trip() -> None:
    config = VocoderConfig.for_mel(CODEC.mel_settings(), **SIZES)
    vocoder = Vocoder(config)
    log_mel = CODEC.log_mel(torch.randn(3, 5000) * 0.1)  # 5000 samples → 40 tokens of 128 → 80 frames
    assert log_mel.shape == (3, 16, 80)
    wave = vocoder(log_mel)
    assert wave.shape == (3, 80 * 64) and wave.dtype == torch.float32 and torch.isfinite(wave).all()
    assert vocoder(log_mel[..., :0]).shape == (3, 0)
    assert VocoderConfig.from_dict(config.to_dict()) == config
    assert Vocoder(config).state_dict().keys() == vocoder.state_dict().keys()
    assert all(
        torch.equal(a, b) for a, b in zip(Vocoder(config).parameters(), vocoder.parameters(), strict=True)
    )  # seeded
    with pytest.raises(UsageError, match="log-mel"):
        vocoder(torch.zeros(1, 8, 4))
    with pytest.raises(CheckpointError, match="unknown keys"):
        VocoderConfig.from_dict({**config.to_dict(), "width": 3})
    with pytest.raises(UsageError, match="twice its hop"):
        VocoderConfig(n_fft=256, hop=200)


def test_the_codec_decodes_with_its_vocoder_at_its_own_rate() -> None:
    codec = MelCodec(n_mels=16, n_fft=256, hop=64, patch=2, griffin_lim_iters=4)
    tokens = codec.encode(torch.from_numpy(tone_burst(0.5, 440.0, 0)))
    griffin_lim = codec.decode(tokens)
    vocoder = Vocoder(VocoderConfig.for_mel(codec.mel_settings(), **SIZES))
    assert codec.attach_vocoder(vocoder) is codec and codec.vocoder is vocoder
    decoded = codec.decode(tokens)
    assert decoded.shape == griffin_lim.shape == (1, codec.num_samples(tokens.shape[1]))
    assert not decoded.requires_grad  # decoding builds no graph
    assert torch.equal(codec.decode_griffin_lim(tokens), griffin_lim)  # the fallback stays
    assert torch.equal(codec.attach_vocoder(None).decode(tokens), griffin_lim)
    other = Vocoder(VocoderConfig(**SIZES))  # 80 bands, hop 256: not this codec's analysis
    with pytest.raises(CheckpointError, match="another mel analysis"):
        codec.attach_vocoder(other)


def test_base_phase_is_a_steady_cosines_stft_phase() -> None:
    vocoder = Vocoder(VocoderConfig.for_mel(CODEC.mel_settings(), **SIZES))
    n_fft, hop, k, frames = 256, 64, 13, 12
    n = torch.arange(frames * hop, dtype=torch.float64)
    wave = torch.cos(2 * math.pi * k * n / n_fft)
    spec = torch.stft(
        wave, n_fft, hop, window=torch.hann_window(n_fft, dtype=torch.float64), return_complex=True
    )
    measured = torch.angle(spec[k, 2 : frames - 2])  # frames away from the reflected edges
    expected = vocoder.base_phase(frames)[k, 2 : frames - 2].double()
    assert torch.allclose(
        torch.remainder(measured - expected + math.pi, 2 * math.pi) - math.pi,
        torch.zeros(1).double(),
        atol=1e-6,
    )
    assert vocoder.base_phase(10**6).abs().max() < 2 * math.pi  # exact for long inputs (integer modulo)


def test_spectral_distances() -> None:
    wave = torch.from_numpy(tone_burst(0.5, 440.0, 0)).unsqueeze(0)
    same = multi_resolution_stft(wave, wave)
    assert float(same.log_magnitude) == 0.0 and float(same.convergence) == 0.0
    assert float(mel_distance(CODEC, wave, wave)) == 0.0
    noisy = multi_resolution_stft(wave + 0.05 * torch.randn_like(wave), wave)
    assert float(noisy.log_magnitude) > 0.1
    figures = round_trip_distances(CODEC, [wave[0]], CODEC.decode_griffin_lim)
    assert set(figures) == {"mr_stft_log_magnitude", "spectral_convergence", "mel", "envelope"}
    assert float(envelope_distance(wave, wave)) == 0.0
    assert float(envelope_distance(0.5 * wave, wave)) == pytest.approx(math.log(2), abs=1e-3)
    assert all(v > 0 for v in figures.values())


def test_phase_losses_vanish_for_the_true_spectrum_and_see_a_shift() -> None:
    wave = torch.from_numpy(tone_burst(0.5, 440.0, 0)).unsqueeze(0)
    spec = torch.stft(wave, 256, 64, window=torch.hann_window(256), return_complex=True)
    exact = phase_losses(spec, wave, 256, 64)
    assert set(exact) == {"phase", "group_delay", "phase_advance"}
    assert all(float(v) < 1e-4 for v in exact.values()), exact
    # A whole turn is no error (anti-wrapping); a constant offset moves the phase alone.
    assert all(
        float(v) < 1e-4
        for v in phase_losses(
            spec * complex(math.cos(2 * math.pi), math.sin(2 * math.pi)), wave, 256, 64
        ).values()
    )
    shifted = phase_losses(spec * complex(math.cos(1.0), math.sin(1.0)), wave, 256, 64)
    assert float(shifted["phase"]) == pytest.approx(1.0, abs=1e-3)
    assert float(shifted["group_delay"]) < 1e-4 and float(shifted["phase_advance"]) < 1e-4


# -- data ------------------------------------------------------------------------------------


def test_crops_are_deterministic_per_seed_and_step() -> None:
    data = synthetic_set()
    settings = VocoderTrainSettings(batch_size=6, crop_tokens=4)
    a = crop_batch(data.split("train"), settings, 512, step_generator(0, 7))
    b = crop_batch(data.split("train"), settings, 512, step_generator(0, 7))
    c = crop_batch(data.split("train"), settings, 512, step_generator(0, 8))
    assert a.shape == (6, 512) and torch.equal(a, b) and not torch.equal(a, c)
    assert float(a.abs().max()) <= 0.95 + 1e-6


def test_recordings_hold_out_fixed_names_and_record_licences(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    (folder / "sub").mkdir(parents=True)
    names = [*(f"take{i:02d}.wav" for i in range(30)), "drum_snare_hard.flac"]
    for name in names:
        sf.write(folder / "sub" / name, tone_burst(0.1, 500.0, 0), SR)
    (folder / "notes.txt").write_text("not audio")
    found = scan_recordings([folder])
    assert sorted(r.name for r in found) == sorted(names)
    held = {r.name for r in found if r.split == "val"}
    assert "drum_snare_hard.flac" in held and "drum_snare_hard.flac" in HELD_OUT
    assert 1 <= len(held) < len(names) and held == {
        r.name for r in scan_recordings([folder]) if r.split == "val"
    }
    assert licence_summary(found) == [
        {
            "source": str(folder),
            "licence": "unknown (not a listed package)",
            "train": 31 - len(held),
            "val": len(held),
        }
    ]
    with pytest.raises(DataError, match="does not exist"):
        scan_recordings([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no recordings"):
        scan_recordings([tmp_path / "empty"])


# -- training --------------------------------------------------------------------------------


def test_training_lowers_the_loss_and_writes_a_bundle(tmp_path: Path) -> None:
    summary = train_vocoder(synthetic_set(), tmp_path / "run", CODEC, SETTINGS, SIZES)
    assert summary["finished"] and summary["trained"] and summary["steps"] == SETTINGS.steps
    lines = logged_events(tmp_path / "run")
    losses = [line["loss"] for line in lines if line["event"] == "train"]
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), losses
    assert {"log_magnitude", "convergence", "mel", "head_magnitude"} <= lines[1].keys()
    assert "phase" not in lines[1]  # phase losses are off by default
    val = [line for line in lines if line["event"] == "val"]
    assert [line["step"] for line in val] == [30, 60]
    assert val[-1]["mr_stft_log_magnitude"] < val[0]["mr_stft_log_magnitude"]
    assert set(val[-1]["griffin_lim"]) == {"mr_stft_log_magnitude", "spectral_convergence", "mel", "envelope"}
    assert lines[0]["recordings"] == [{"source": "synthetic", "licence": "CC0-1.0", "train": 4, "val": 1}]
    vocoder, training = load_trained_vocoder(tmp_path / "run")
    assert vocoder.config == VocoderConfig.for_mel(
        CODEC.mel_settings(), input_mean=CODEC.norm_mean, input_std=CODEC.norm_std, **SIZES
    )
    assert training["val"]["mr_stft_log_magnitude"] == val[-1]["mr_stft_log_magnitude"]


def test_a_cancelled_run_resumes_exactly(tmp_path: Path) -> None:
    settings = VocoderTrainSettings(
        steps=6, batch_size=2, crop_tokens=4, warmup=2, log_every=1, eval_every=100, save_every=100
    )
    train_vocoder(synthetic_set(), tmp_path / "full", CODEC, settings, SIZES)
    token = CancelToken()

    def cancel_at_3(fraction: float, message: str) -> None:
        if round(fraction * settings.steps) == 3:
            token.cancel()

    cut = train_vocoder(
        synthetic_set(), tmp_path / "cut", CODEC, settings, SIZES, cancel=token, progress=cancel_at_3
    )
    assert cut == {**cut, "steps": 3, "finished": False, "reason": "cancelled"}
    assert not (tmp_path / "cut" / "bundle").exists()
    with pytest.raises(DataError, match="pass resume"):
        train_vocoder(synthetic_set(), tmp_path / "cut", CODEC, settings, SIZES)
    resumed = train_vocoder(synthetic_set(), tmp_path / "cut", CODEC, settings, SIZES, resume=True)
    assert resumed["finished"] and resumed["steps"] == 6
    full, _ = load_trained_vocoder(tmp_path / "full")
    again, _ = load_trained_vocoder(tmp_path / "cut")
    for name, value in full.state_dict().items():
        assert torch.equal(value, again.state_dict()[name]), name
    # A resumed run keeps its own config even when called with other sizes.
    with pytest.raises(CheckpointError, match="another mel analysis"):
        train_vocoder(synthetic_set(), tmp_path / "cut", MelCodec(), settings, SIZES, resume=True)


def test_adversarial_training_runs_and_keeps_only_the_vocoder(tmp_path: Path) -> None:
    settings = VocoderTrainSettings(
        steps=3,
        batch_size=2,
        crop_tokens=4,
        warmup=1,
        log_every=1,
        eval_every=100,
        save_every=100,
        adversarial=True,
    )
    summary = train_vocoder(synthetic_set(), tmp_path / "gan", CODEC, settings, SIZES)
    assert summary["finished"]
    lines = [line for line in logged_events(tmp_path / "gan") if line["event"] == "train"]
    assert all({"adversarial", "feature_matching"} <= line.keys() for line in lines)
    manifest = read_manifest(tmp_path / "gan" / "bundle")
    assert list(manifest["modules"]) == ["vocoder"]


# -- bundles and commands --------------------------------------------------------------------


@pytest.fixture(scope="module")
def debug_bundles(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(a debug bundle without a vocoder, a finished vocoder run for its codec, the bundle with it)."""
    root = tmp_path_factory.mktemp("vocoder-bundles")
    plain = random_bundle(root / "plain")
    codec = debug_codec()
    settings = VocoderTrainSettings(
        steps=2, batch_size=2, crop_tokens=2, warmup=1, log_every=1, save_every=100
    )
    train_vocoder(synthetic_set(), root / "run", codec, settings, SIZES)
    with_vocoder = add_vocoder_to_bundle(plain, root / "run", root / "with-vocoder")
    return plain, root / "run", with_vocoder


def test_bundle_round_trip_with_and_without_a_vocoder(debug_bundles: tuple[Path, Path, Path]) -> None:
    plain, run, with_vocoder = debug_bundles
    before = {p.name: p.read_bytes() for p in plain.iterdir()}
    manifest = verify_bundle(with_vocoder)
    assert manifest["modules"]["vocoder"] == "vocoder.safetensors"
    assert manifest["configs"]["vocoder"]["hop"] == debug_codec().hop
    assert manifest["training"]["vocoder"]["trained"] and manifest["training"]["vocoder"]["run"] == str(run)
    assert (with_vocoder / BUNDLE_LOG).read_bytes() == (run / "log.jsonl").read_bytes()
    for name, data in before.items():  # the other files travel unchanged, the source is untouched
        if name != MANIFEST:
            assert (with_vocoder / name).read_bytes() == data
    assert {p.name: p.read_bytes() for p in plain.iterdir()} == before

    tokens = debug_codec().encode(torch.from_numpy(tone_burst(1.0, 440.0, 0)))
    griffin_lim = load_bundle(plain).build_codec()
    assert griffin_lim.vocoder is None
    assert torch.equal(griffin_lim.decode(tokens), griffin_lim.decode_griffin_lim(tokens))
    neural = load_bundle(with_vocoder).build_codec()
    vocoder, _ = load_trained_vocoder(run)
    assert neural.vocoder is not None
    with torch.no_grad():
        expected = vocoder(neural.tokens_to_log_mel(tokens))
    assert torch.equal(neural.decode(tokens), expected)
    assert neural.decode(tokens).shape == griffin_lim.decode(tokens).shape

    assert (with_vocoder / "vocoder.safetensors").stat().st_mode & 0o777 == (
        plain / MANIFEST
    ).stat().st_mode & 0o777
    # Rewriting in place keeps one folder, and adding again replaces the vocoder.
    add_vocoder_to_bundle(with_vocoder, run)
    assert verify_bundle(with_vocoder)["modules"]["vocoder"] == "vocoder.safetensors"
    assert sorted(p.name for p in with_vocoder.parent.iterdir() if p.name.startswith(".")) == []


def test_a_vocoder_for_another_mel_analysis_is_refused(
    debug_bundles: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    plain, _, _ = debug_bundles
    settings = VocoderTrainSettings(steps=1, batch_size=1, crop_tokens=2, warmup=1, save_every=100)
    train_vocoder(synthetic_set(), tmp_path / "other", CODEC, settings, SIZES)
    with pytest.raises(CheckpointError, match="another mel analysis"):
        add_vocoder_to_bundle(plain, tmp_path / "other", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(CheckpointError, match="has no vocoder"):
        load_trained_vocoder(plain)


def test_models_codec_command(
    debug_bundles: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain, _, with_vocoder = debug_bundles
    recording = tmp_path / "in.flac"
    sf.write(recording, tone_burst(1.3, 440.0, 1), 44100)  # another rate: resampled to the codec's
    assert main(["models", "codec", str(with_vocoder), str(recording), "-o", str(tmp_path / "out.wav")]) == 0
    out = capsys.readouterr().out
    assert "decoded with the vocoder" in out and "MR-STFT" in out
    audio, rate = sf.read(tmp_path / "out.wav")
    expected = round(1.3 * SR) * SR / 44100  # the file's samples, at the codec's rate
    assert rate == SR and abs(len(audio) - expected) <= 1 and np.isfinite(audio).all()
    assert sf.info(tmp_path / "out.wav").subtype == "FLOAT"
    assert main(["models", "codec", str(plain), str(recording), "-o", str(tmp_path / "gl.flac")]) == 0
    assert "decoded with Griffin-Lim" in capsys.readouterr().out
    assert (
        main(
            [
                "models",
                "codec",
                str(with_vocoder),
                str(recording),
                "-o",
                str(tmp_path / "f.wav"),
                "--griffin-lim",
            ]
        )
        == 0
    )
    assert "Griffin-Lim" in capsys.readouterr().out

    (tmp_path / "bad.wav").write_bytes(b"RIFF not really")
    for argv in (
        [str(with_vocoder), str(tmp_path / "missing.wav"), "-o", str(tmp_path / "x.wav")],
        [str(with_vocoder), str(tmp_path / "bad.wav"), "-o", str(tmp_path / "x.wav")],
        [str(with_vocoder), str(recording), "-o", str(tmp_path / "x.mp3")],
        [str(tmp_path / "no-bundle"), str(recording), "-o", str(tmp_path / "x.wav")],
    ):
        assert main(["models", "codec", *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith("foleystudio: error:") and err.count("\n") == 1, err
    assert not (tmp_path / "x.wav").exists()


def test_train_vocoder_command(
    debug_bundles: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain, _, _ = debug_bundles
    data = tmp_path / "recordings"
    data.mkdir()
    for i, freq in enumerate((300.0, 900.0, 2000.0)):
        sf.write(data / f"take{i}.wav", tone_burst(0.6, freq, i), SR)
    run = tmp_path / "run"
    argv = [
        "train",
        "vocoder",
        "--data",
        str(data),
        "--out",
        str(run),
        "--steps",
        "2",
        "--batch",
        "2",
        "--threads",
        "1",
    ]
    assert (
        main([*argv, "--max-minutes", "0", "--bundle", str(plain), "--bundle-out", str(tmp_path / "b")]) == 0
    )
    assert json.loads(capsys.readouterr().out)["reason"] == "time_limit"
    assert not (tmp_path / "b").exists()  # an unfinished run adds nothing
    assert main([*argv, "--resume", "--bundle", str(plain), "--bundle-out", str(tmp_path / "b")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["finished"] and summary["bundle"] == str(tmp_path / "b")
    assert "vocoder" in verify_bundle(tmp_path / "b")["modules"]
    assert load_bundle(tmp_path / "b").build_codec().vocoder is not None

    assert main(["train", "vocoder", "--out", str(tmp_path / "r2")]) == 2
    assert "--data FOLDER" in capsys.readouterr().err
    assert main(["train", "vocoder", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r3")]) == 2
    assert "does not exist" in capsys.readouterr().err
