"""The mel codec: token rates, shapes, round trip quality, determinism, config round trip."""

from __future__ import annotations

import math

import pytest
import torch

from foleystudio.errors import CheckpointError, UsageError
from foleystudio.ml.codec import Codec, MelCodec, codec_from_config, codec_preset, same_analysis

SR = 16000


def foley_like(seconds: float = 2.0, seed: int = 0) -> torch.Tensor:
    """Decaying modal impacts + a low harmonic hum + faint noise, like a FoleyWorld clip."""
    g = torch.Generator().manual_seed(seed)
    n = round(seconds * SR)
    t = torch.arange(n) / SR
    wave = 0.05 * torch.sin(2 * math.pi * 110 * t) + 0.03 * torch.sin(2 * math.pi * 220 * t)
    for onset, freq in ((0.2, 900.0), (0.9, 1500.0), (1.4, 600.0)):
        env = torch.where(t >= onset, torch.exp(-(t - onset) * 25), torch.zeros(n))
        wave = wave + 0.4 * env * torch.sin(2 * math.pi * freq * (t - onset))
    return wave + 0.002 * torch.randn(n, generator=g)


def test_rates_of_the_bundled_codec() -> None:
    codec = MelCodec()
    assert isinstance(codec, Codec)
    assert codec.sample_rate == 16000
    assert codec.latent_dim == 80 * 4
    assert codec.token_rate == pytest.approx(15.625)
    assert codec.samples_per_token() == 1024
    assert codec.num_tokens(8.0) == 125
    assert codec.num_tokens(0.001) == 1
    assert codec.num_tokens(0.0) == 0
    assert codec.num_samples(125) == 128000
    times = codec.token_times(3, start=10.0)
    assert torch.allclose(times, torch.tensor([10.032, 10.096, 10.16], dtype=torch.float64))


def test_encode_decode_shapes_and_padding() -> None:
    codec = MelCodec(griffin_lim_iters=4)
    wave = torch.randn(3, 5000) * 0.1  # not a whole number of tokens: padded to 5 tokens
    tokens = codec.encode(wave)
    assert tokens.shape == (3, 5, 320)
    assert codec.encode(wave[0]).shape == (1, 5, 320)  # a 1-D wave is one batch row
    out = codec.decode(tokens)
    assert out.shape == (3, 5 * 1024)
    assert torch.isfinite(out).all()
    assert codec.decode(tokens[:, :0]).shape == (3, 0)


def test_round_trip_matches_the_spectrum() -> None:
    codec = MelCodec()
    wave = foley_like().unsqueeze(0)
    decoded = codec.decode(codec.encode(wave))
    assert decoded.shape == (1, 32 * 1024)  # 2 s = 31.25 tokens, padded to 32 whole tokens
    decoded = decoded[:, : wave.shape[1]]
    original = torch.exp(codec.log_mel(wave))
    again = torch.exp(codec.log_mel(decoded))
    convergence = torch.linalg.norm(original - again) / torch.linalg.norm(original)
    assert convergence < 0.25, f"spectral convergence {convergence:.3f}"
    # Onsets stay where they were: the energy envelope correlates strongly.
    env_a, env_b = original.sum(1).flatten(), again.sum(1).flatten()
    correlation = torch.corrcoef(torch.stack([env_a, env_b]))[0, 1]
    assert correlation > 0.95
    # A bad codec would fail: the spectrum of noise does not match.
    noise_spec = torch.exp(codec.log_mel(torch.randn_like(wave) * 0.1))
    assert torch.linalg.norm(original - noise_spec) / torch.linalg.norm(original) > 0.5


def test_tokens_are_normalised_log_mel_patches() -> None:
    codec = MelCodec(norm_mean=-5.0, norm_std=2.5)
    wave = foley_like(1.0).unsqueeze(0)
    log_mel = codec.log_mel(wave)  # [1, 80, frames]
    tokens = codec.encode(wave)
    first_token = ((log_mel[0, :, :4] + 5.0) / 2.5).T.reshape(-1)  # 4 frames × 80 mels
    assert torch.allclose(tokens[0, 0], first_token, atol=1e-5)
    assert torch.allclose(codec.tokens_to_log_mel(tokens), log_mel, atol=1e-5)


def test_decode_is_deterministic() -> None:
    codec = MelCodec(griffin_lim_iters=8)
    tokens = codec.encode(foley_like(1.0).unsqueeze(0))
    assert torch.equal(codec.decode(tokens), codec.decode(tokens))


def test_fit_normalisation_gives_zero_mean_unit_std() -> None:
    codec = MelCodec()
    waves = [foley_like(1.0, seed=s).unsqueeze(0) for s in range(3)]
    fitted = codec.fit_normalisation(waves)
    tokens = torch.cat([fitted.encode(w).flatten() for w in waves])
    assert abs(float(tokens.mean())) < 1e-3
    assert float(tokens.std()) == pytest.approx(1.0, abs=1e-3)


def test_config_round_trip_and_errors() -> None:
    codec = MelCodec(patch=2, griffin_lim_iters=16, norm_mean=-4.0)
    again = codec_from_config(codec.to_config())
    assert again.to_config() == codec.to_config()
    assert again.latent_dim == 160 and again.token_rate == pytest.approx(31.25)
    with pytest.raises(CheckpointError, match="unknown codec type"):
        codec_from_config({"type": "vae"})
    with pytest.raises(CheckpointError, match="does not fit"):
        codec_from_config({"type": "mel", "n_bins": 3})
    with pytest.raises(UsageError):
        MelCodec(hop=0)
    with pytest.raises(UsageError, match="tokens"):
        codec.decode(torch.zeros(1, 4, 7))


def test_codec_presets_and_their_analysis() -> None:
    """16k is MelCodec()'s analysis; 24k has 100 mels to 12 kHz at 23.4375 tokens/s; a fitted
    normalisation still counts as the same analysis, another rate or patch does not."""
    assert codec_preset("16k").to_config() == MelCodec().to_config()
    high = codec_preset("24k")
    assert (high.sample_rate, high.n_mels, high.hop, high.f_max, high.latent_dim) == (
        24000,
        100,
        256,
        12000.0,
        400,
    )
    assert high.token_rate == 23.4375 and high.num_tokens(8.0) == 188
    assert high.encode(torch.zeros(1, 24000)).shape == (1, 24, 400)  # 24000 / 1024 → 24 tokens
    fitted = high.fit_normalisation([torch.randn(1, 24000) * 0.1])
    assert fitted.norm_mean != high.norm_mean and same_analysis(fitted, high)
    assert not same_analysis(high, codec_preset("16k")) and not same_analysis(high, codec_preset("24k-p6"))
    with pytest.raises(UsageError, match="unknown codec preset '22k'"):
        codec_preset("22k")
