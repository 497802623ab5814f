"""The audio encoder in CLAP's role: shapes, determinism, weights, and that it can learn."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from open_clip import ClipLoss

from foleystudio.errors import CheckpointError, UsageError
from foleystudio.ml.encoders.audio import AUDIO_CONFIGS, AudioEncoder, AudioEncoderConfig

SR = 16000


def tone(freq: float, seconds: float = 1.0) -> torch.Tensor:
    t = torch.arange(int(seconds * SR)) / SR
    return 0.3 * torch.sin(2 * torch.pi * freq * t)


def test_embedding_shape_norm_and_frames() -> None:
    enc = AudioEncoder.create("fw-audio-debug")
    waves = torch.stack([tone(220), tone(1760)])
    emb = enc.embed(waves)
    assert emb.shape == (2, 32)
    assert torch.allclose(emb.norm(dim=1), torch.ones(2), atol=1e-5)
    assert torch.allclose(enc(waves), emb)
    assert not torch.allclose(emb[0], emb[1], atol=1e-3)
    feats = enc.features(waves)
    cfg = enc.config
    mel_frames = SR // cfg.hop + 1  # centred STFT
    assert feats.shape == (2, int(np.ceil(mel_frames / 2 ** len(cfg.channels))), cfg.width)
    assert enc.embed(tone(440)).shape == (1, 32)  # a single wave [samples] is a batch of one


def test_seeded_creation_is_deterministic() -> None:
    a, b = AudioEncoder.create("fw-audio-debug", seed=3), AudioEncoder.create("fw-audio-debug", seed=3)
    c = AudioEncoder.create("fw-audio-debug", seed=4)
    wave = tone(500)[None]
    assert torch.equal(a.embed(wave), b.embed(wave))
    assert not torch.equal(a.embed(wave), c.embed(wave))


def test_bad_input_and_config() -> None:
    enc = AudioEncoder.create("fw-audio-debug")
    with pytest.raises(UsageError, match="too short"):
        enc.embed(torch.zeros(1, 100))
    with pytest.raises(UsageError):
        enc.embed(torch.zeros(1, 2, SR))
    with pytest.raises(UsageError):
        AudioEncoder.create("no-such-config")
    with pytest.raises(UsageError):
        AudioEncoder(AudioEncoderConfig(width=30, heads=4))


def test_config_round_trip() -> None:
    cfg = AUDIO_CONFIGS["fw-audio-debug"]
    assert AudioEncoderConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.to_dict()["channels"] == [8, 16]


def test_weights_round_trip_and_mismatch(tmp_path) -> None:
    enc = AudioEncoder.create("fw-audio-debug", seed=1)
    path = tmp_path / "audio.safetensors"
    enc.save_weights(path)
    other = AudioEncoder.create("fw-audio-debug", seed=2)
    other.load_weights(path)
    wave = tone(300)[None]
    assert torch.equal(other.embed(wave), enc.embed(wave))
    bigger = AudioEncoder.create(
        AudioEncoderConfig(n_mels=32, channels=(8, 16), width=32, layers=1, heads=2, embed_dim=16)
    )
    with pytest.raises(CheckpointError, match="wrong shape"):
        bigger.load_weights(path)
    deeper = AudioEncoder.create(
        AudioEncoderConfig(n_mels=32, channels=(8, 16), width=32, layers=2, heads=2, embed_dim=32)
    )
    with pytest.raises(CheckpointError, match="missing"):
        deeper.load_weights(path)


def test_contrastive_training_separates_two_sound_classes() -> None:
    """Tones vs noise bursts paired with two fixed 'text' vectors: ClipLoss must fall."""
    gen = torch.Generator().manual_seed(0)
    enc = AudioEncoder.create("fw-audio-debug", seed=0)
    targets = torch.nn.functional.normalize(torch.randn(2, 32, generator=gen), dim=-1)
    loss_fn = ClipLoss()
    opt = torch.optim.AdamW(enc.parameters(), lr=3e-3)

    def batch() -> tuple[torch.Tensor, torch.Tensor]:
        waves, labels = [], []
        for i in range(8):
            label = i % 2
            if label == 0:
                f = 200 + 600 * torch.rand(1, generator=gen).item()
                waves.append(tone(f, 0.5))
            else:
                waves.append(0.3 * torch.randn(SR // 2, generator=gen))
            labels.append(label)
        return torch.stack(waves), targets[torch.tensor(labels)]

    losses = []
    scale = torch.tensor(10.0)
    for _ in range(12):
        waves, text = batch()
        loss = loss_fn(enc.embed(waves), text, scale)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    # With two classes the best possible in-batch loss is log(4) ≈ 1.386 (4 copies per class).
    assert losses[0] > 1.8
    assert np.mean(losses[-3:]) < 1.40
    with torch.no_grad():
        waves, _ = batch()
        sims = enc.embed(waves) @ targets.T
    assert (sims.argmax(dim=1) == torch.tensor([0, 1] * 4)).all()
