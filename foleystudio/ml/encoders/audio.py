"""The audio embedding in CLAP's role (docs/architecture.md §6): log-mel -> conv stem -> transformer ->
attention pooling -> l2-normalised vector.

No CLAP weights can be downloaded here, so this small encoder is trained contrastively by
``train/`` (paired with CLIP text and FoleyWorld labels through a projection head, with
``open_clip.ClipLoss``, which is modality-agnostic). Its space is the "audio space" of the
SSV2A manifold, the semantic/text scores and the Fréchet distance.

Input: mono waves at the config's ``sample_rate`` (16 kHz for the trained encoders, whatever the
codec's rate: an embedding needs no band above 8 kHz), float in [-1, 1], shape [B, samples] (or
[samples]); :meth:`AudioEncoder.embed_numpy` resamples waves given at another rate.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import torchaudio
from torch import nn

from foleystudio.core.atomicfile import atomic_write_bytes
from foleystudio.core.audio import resample
from foleystudio.errors import UsageError
from foleystudio.ml.encoders import load_safetensors_strict, load_state_dict_strict, seeded_init


@dataclass(frozen=True)
class AudioEncoderConfig:
    """Architecture of :class:`AudioEncoder` (serialisable with :meth:`to_dict`).

    Mel front end: ``sample_rate`` Hz, ``n_fft``-sample window, ``hop`` samples (10 ms at
    160), ``n_mels`` bands from 30 Hz to Nyquist. Conv stem: one 3x3 stride-2 conv per entry of
    ``channels`` (each halves frequency and time). Transformer: ``layers`` pre-norm blocks of
    ``width`` with ``heads`` heads. Output: ``embed_dim``.
    """

    sample_rate: int = 16000
    n_fft: int = 512
    hop: int = 160
    n_mels: int = 64
    channels: tuple[int, ...] = (32, 64, 128)
    width: int = 128
    layers: int = 2
    heads: int = 4
    embed_dim: int = 128

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["channels"] = list(self.channels)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AudioEncoderConfig:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "channels" in fields:
            fields["channels"] = tuple(int(c) for c in fields["channels"])
        return cls(**fields)

    @property
    def time_stride(self) -> int:
        """Samples per output frame of :meth:`AudioEncoder.features` (hop x 2^len(channels))."""
        return self.hop * 2 ** len(self.channels)


#: Named configs: ``tiny`` for the bundled model (~0.6 M parameters), ``debug`` for tests.
AUDIO_CONFIGS: dict[str, AudioEncoderConfig] = {
    "fw-audio-tiny": AudioEncoderConfig(),
    "fw-audio-debug": AudioEncoderConfig(
        n_mels=32, channels=(8, 16), width=32, layers=1, heads=2, embed_dim=32
    ),
}


def _sinusoids(length: int, width: int, device: torch.device) -> torch.Tensor:
    """[length, width] fixed sinusoidal positions (any length, so clips of any duration work)."""
    half = width // 2
    freqs = torch.exp(
        -math.log(10000.0) * torch.arange(half, device=device, dtype=torch.float32) / max(half, 1)
    )
    angles = torch.arange(length, device=device, dtype=torch.float32)[:, None] * freqs[None, :]
    pos = torch.cat([angles.sin(), angles.cos()], dim=1)
    return F.pad(pos, (0, width - pos.shape[1]))


class AudioEncoder(nn.Module):
    """Wave at ``config.sample_rate`` Hz -> l2-normalised embedding [B, embed_dim] (:meth:`embed`,
    also ``forward``)."""

    def __init__(self, config: AudioEncoderConfig = AudioEncoderConfig()) -> None:
        super().__init__()
        self.config = config
        c = config
        if c.width % c.heads:
            raise UsageError(f"audio encoder width {c.width} is not divisible by {c.heads} heads")
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=c.sample_rate,
            n_fft=c.n_fft,
            hop_length=c.hop,
            n_mels=c.n_mels,
            f_min=30.0,
            f_max=c.sample_rate / 2,
            power=2.0,
            center=True,
        )
        # Learned per-band affine on the fixed-scaled log-mel, starting as the identity.
        self.band_scale = nn.Parameter(torch.ones(c.n_mels))
        self.band_bias = nn.Parameter(torch.zeros(c.n_mels))
        stem: list[nn.Module] = []
        prev, bands = 1, c.n_mels
        for ch in c.channels:
            stem += [nn.Conv2d(prev, ch, 3, stride=2, padding=1), nn.GroupNorm(min(8, ch), ch), nn.GELU()]
            prev, bands = ch, (bands + 1) // 2
        self.stem = nn.Sequential(*stem)
        self.to_width = nn.Linear(prev * bands, c.width)
        block = nn.TransformerEncoderLayer(
            c.width, c.heads, 4 * c.width, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(block, c.layers, enable_nested_tensor=False)
        self.pool_query = nn.Parameter(torch.randn(c.width) / math.sqrt(c.width))
        self.head_norm = nn.LayerNorm(c.width)
        self.head = nn.Linear(c.width, c.embed_dim)

    # ----------------------------------------------------------------- construction, weights

    @classmethod
    def create(
        cls,
        config: AudioEncoderConfig | str = "fw-audio-tiny",
        device: torch.device | str = "cpu",
        *,
        seed: int | None = 0,
    ) -> AudioEncoder:
        """A randomly initialised encoder (``config`` or a name of :data:`AUDIO_CONFIGS`),
        seeded with ``seed`` without touching torch's global random stream."""
        if isinstance(config, str):
            if config not in AUDIO_CONFIGS:
                raise UsageError(f"unknown audio encoder config {config!r} (have {sorted(AUDIO_CONFIGS)})")
            config = AUDIO_CONFIGS[config]
        with seeded_init(seed):
            model = cls(config)
        return model.to(device)

    def load_weights(self, path: str | os.PathLike[str], *, prefix: str = "") -> None:
        """Strictly load a ``.safetensors`` file (keys under ``prefix`` if given); mismatches
        raise :class:`~foleystudio.errors.CheckpointError`."""
        load_safetensors_strict(self, path, prefix=prefix)

    def load_state_dict_strict(self, state: dict[str, torch.Tensor], source: str | None = None) -> None:
        load_state_dict_strict(self, state, source)

    def save_weights(self, path: str | os.PathLike[str]) -> None:
        """Write the weights as ``.safetensors``, atomically."""
        from safetensors.torch import save

        state = {k: v.detach().to("cpu").contiguous() for k, v in self.state_dict().items()}
        atomic_write_bytes(path, save(state))

    # ----------------------------------------------------------------- forward

    def _check_wave(self, wave: torch.Tensor) -> torch.Tensor:
        if wave.ndim == 1:
            wave = wave[None]
        if wave.ndim != 2:
            raise UsageError(f"audio encoder input must be [B, samples], got shape {tuple(wave.shape)}")
        if wave.shape[1] < self.config.n_fft:
            raise UsageError(
                f"audio too short to embed: {wave.shape[1]} samples, need at least {self.config.n_fft}"
            )
        return wave.float()

    def logmel(self, wave: torch.Tensor) -> torch.Tensor:
        """[B, samples] -> [B, n_mels, frames] log-mel, scaled to roughly [-1, 1] for speech-level audio."""
        mel = self.mel(self._check_wave(wave))
        scaled = (torch.log10(mel + 1e-8) + 4.0) / 4.0
        return scaled * self.band_scale[:, None] + self.band_bias[:, None]

    def features(self, wave: torch.Tensor) -> torch.Tensor:
        """[B, samples] -> frame features [B, T', width], one per ``config.time_stride`` samples."""
        x = self.stem(self.logmel(wave)[:, None])  # [B, C, M', T']
        b, ch, bands, frames = x.shape
        x = self.to_width(x.permute(0, 3, 1, 2).reshape(b, frames, ch * bands))
        x = x + _sinusoids(frames, x.shape[-1], x.device)
        return self.blocks(x)

    def embed(self, wave: torch.Tensor) -> torch.Tensor:
        """[B, samples] at ``config.sample_rate`` -> l2-normalised embeddings [B, embed_dim]."""
        h = self.features(wave)
        weights = torch.softmax(h @ self.pool_query / math.sqrt(h.shape[-1]), dim=1)  # [B, T']
        pooled = (weights[..., None] * h).sum(dim=1)
        return F.normalize(self.head(self.head_norm(pooled)), dim=-1)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.embed(wave)

    def embed_numpy(self, waves: np.ndarray, sample_rate: int | None = None) -> np.ndarray:
        """Mono ``waves`` [N, samples] (or one [samples]) at ``sample_rate`` Hz (None:
        ``config.sample_rate``; another rate is resampled to it first) -> float32 embeddings
        [N, embed_dim], computed without gradients on the encoder's device."""
        batch = np.atleast_2d(np.asarray(waves, np.float32))
        if sample_rate is not None and sample_rate != self.config.sample_rate:
            batch = resample(batch.T, sample_rate, self.config.sample_rate).T
        batch = np.ascontiguousarray(batch, np.float32)
        device = next(self.parameters()).device
        with torch.no_grad():
            return self.embed(torch.from_numpy(batch).to(device)).float().cpu().numpy()


class TextSpaceProjection(nn.Module):
    """Audio embedding [B, A] -> l2-normalised point of the CLIP text space [B, D].

    Identity (no parameters) when A == D, else a bias-free linear map trained with the encoder.
    """

    def __init__(self, audio_dim: int, text_dim: int) -> None:
        super().__init__()
        self.audio_dim, self.text_dim = audio_dim, text_dim
        self.linear = None if audio_dim == text_dim else nn.Linear(audio_dim, text_dim, bias=False)

    def forward(self, audio_emb: torch.Tensor) -> torch.Tensor:
        return audio_emb if self.linear is None else F.normalize(self.linear(audio_emb), dim=-1)


class CategoryClassifier(nn.Module):
    """Linear softmax classifier over FoleyWorld categories on audio embeddings.

    ``forward(emb [B, A])`` -> probabilities [B, C] (rows sum to 1), C = ``len(categories)``;
    :meth:`logits` gives the raw scores. For SSMS: ``classifier(encoder.embed(waves))``.
    """

    def __init__(self, embed_dim: int, categories: Sequence[str]) -> None:
        super().__init__()
        self.categories = tuple(categories)
        self.linear = nn.Linear(embed_dim, len(self.categories))

    def logits(self, audio_emb: torch.Tensor) -> torch.Tensor:
        return self.linear(audio_emb)

    def forward(self, audio_emb: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(audio_emb), dim=-1)
