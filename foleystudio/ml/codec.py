"""Audio codecs: waveform ⇄ token sequences for Flowley (docs/architecture.md §5).

A :class:`Codec` turns mono waveforms into a sequence of latent tokens at a fixed token
rate and back. The bundled model uses :class:`MelCodec` (normalised log-mel patches), decoded
by the bundle's neural vocoder (``ml/vocoder.py``) when it has one, else by a mel
pseudo-inverse + Griffin-Lim. Codecs are built from their config with
:func:`codec_from_config`; the vocoder is a separate bundle module that
:meth:`~foleystudio.ml.model_bundle.ModelBundle.build_codec` attaches.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import torch
import torchaudio.functional as AF
from torch import nn

from foleystudio.errors import CheckpointError, UsageError
from foleystudio.ml.codec_presets import CODEC_PRESETS
from foleystudio.ml.vocoder import Vocoder, mel_mismatch


class Codec(nn.Module, ABC):
    """Waveform ⇄ tokens. Waves are ``[B, samples]`` float at :attr:`sample_rate` Hz."""

    #: Audio sample rate in Hz.
    sample_rate: int
    #: Tokens per second of audio.
    token_rate: float
    #: Channels per token.
    latent_dim: int

    @abstractmethod
    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """``[B, samples]`` → ``[B, N, latent_dim]``; the wave is zero-padded to whole tokens."""

    @abstractmethod
    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """``[B, N, latent_dim]`` → ``[B, num_samples(N)]``, float at the model's own level.

        Never clipped or normalised here: the decoded windows are still cut to the range,
        summed over objects and spliced, so the level policy (a −1 dBTP ceiling, gain only
        down; :mod:`foleystudio.core.levels`) is applied to the finished sound by the engine.
        """

    @abstractmethod
    def samples_per_token(self) -> int:
        """Audio samples covered by one token."""

    def preview(self) -> Codec:
        """A codec for quick previews (the search's renders, which are only scored): the same
        tokens, a cheaper decode where the codec has one; by default this codec itself."""
        return self

    @abstractmethod
    def to_config(self) -> dict[str, Any]:
        """JSON-ready config; ``codec_from_config(codec.to_config())`` rebuilds an equal codec."""

    def num_tokens(self, seconds: float) -> int:
        """Tokens needed to cover ``seconds`` of audio (rounded up to whole tokens)."""
        samples = round(seconds * self.sample_rate)
        return max(0, math.ceil(samples / self.samples_per_token() - 1e-9))

    def num_samples(self, num_tokens: int) -> int:
        """Samples produced by decoding ``num_tokens`` tokens."""
        return num_tokens * self.samples_per_token()

    def token_times(self, num_tokens: int, start: float = 0.0) -> torch.Tensor:
        """Centre time in seconds of each token of a window starting at ``start`` s, ``[N]``."""
        return start + (torch.arange(num_tokens, dtype=torch.float64) + 0.5) / self.token_rate


#: Griffin-Lim iterations of a preview decode. The full 32 cost more than a 4-step sample of
#: the same 8 s window (0.11 s against about 0.07 s on the 2-core CPU of
#: benchmarks/results/generate_speed.json), so a search's previews decode with a quarter.
PREVIEW_GRIFFIN_LIM_ITERS = 8


class MelCodec(Codec):
    """Normalised log-mel patches: ``patch`` mel frames of ``n_mels`` bins per token.

    Encoding: magnitude STFT (Hann, ``n_fft``, ``hop``) → mel filterbank (Slaney) →
    ``log(max(mel, floor))`` → ``(x − norm_mean) / norm_std`` → patches of ``patch`` frames, so
    ``latent_dim = n_mels · patch`` and ``token_rate = sample_rate / (hop · patch)``.
    Decoding: un-patch → un-normalise → the attached :class:`~foleystudio.ml.vocoder.Vocoder`
    (:meth:`attach_vocoder`) when there is one; otherwise exp → linear magnitude through the
    pseudo-inverse of the filterbank (clamped at 0) → Griffin-Lim with a zero-phase start
    (deterministic).

    ``norm_mean``/``norm_std`` are fixed constants of the codec, stored in a bundle's config.
    The defaults (−6, 2) map digital silence (log 1e-5 ≈ −11.5) to ≈ −2.8 and a quiet noise
    floor (≈ −5.6 on synthetic impacts + hum + faint noise) to ≈ 0; a trainer should call
    :meth:`fit_normalisation` on its corpus and save the fitted codec with the model.
    The default analysis is preset ``16k`` (``ml/codec_presets.py``; :func:`codec_preset`).
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_mels: int = 80,
        hop: int = 256,
        n_fft: int = 1024,
        patch: int = 4,
        f_min: float = 0.0,
        f_max: float | None = None,
        floor: float = 1e-5,
        norm_mean: float = -6.0,
        norm_std: float = 2.0,
        griffin_lim_iters: int = 32,
        griffin_lim_momentum: float = 0.99,
    ) -> None:
        super().__init__()
        if hop <= 0 or n_fft < hop or patch <= 0 or n_mels <= 0:
            raise UsageError(
                f"bad mel codec settings: n_fft={n_fft}, hop={hop}, patch={patch}, n_mels={n_mels}"
            )
        if norm_std <= 0:
            raise UsageError(f"bad mel codec settings: norm_std must be > 0, got {norm_std}")
        self.sample_rate = int(sample_rate)
        self.n_mels = int(n_mels)
        self.hop = int(hop)
        self.n_fft = int(n_fft)
        self.patch = int(patch)
        self.f_min = float(f_min)
        self.f_max = float(f_max if f_max is not None else sample_rate / 2)
        self.floor = float(floor)
        self.norm_mean = float(norm_mean)
        self.norm_std = float(norm_std)
        self.griffin_lim_iters = int(griffin_lim_iters)
        self.griffin_lim_momentum = float(griffin_lim_momentum)
        self.latent_dim = self.n_mels * self.patch
        self.token_rate = self.sample_rate / (self.hop * self.patch)

        fbank = AF.melscale_fbanks(
            n_freqs=self.n_fft // 2 + 1,
            f_min=self.f_min,
            f_max=self.f_max,
            n_mels=self.n_mels,
            sample_rate=self.sample_rate,
            norm="slaney",
            mel_scale="slaney",
        )  # [n_freqs, n_mels]
        # Buffers (not persistent): the codec has no weights, only its config.
        self.register_buffer("fbank", fbank, persistent=False)
        self.register_buffer("fbank_pinv", torch.linalg.pinv(fbank.T.double()).float(), persistent=False)
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)
        #: The neural vocoder :meth:`decode` uses; None: Griffin-Lim.
        self.vocoder: Vocoder | None = None

    def mel_settings(self) -> dict[str, Any]:
        """The mel analysis (rate Hz, bins, n_fft/hop samples, f_min/f_max Hz, floor) a vocoder must share."""
        return {
            "sample_rate": self.sample_rate,
            "n_mels": self.n_mels,
            "n_fft": self.n_fft,
            "hop": self.hop,
            "f_min": self.f_min,
            "f_max": self.f_max,
            "floor": self.floor,
        }

    def attach_vocoder(self, vocoder: Vocoder | None) -> MelCodec:
        """Decode with ``vocoder`` from now on (None: Griffin-Lim again); returns this codec.

        A vocoder trained on another mel analysis would turn these tokens into the wrong
        sound, so one whose settings differ from :meth:`mel_settings` → CheckpointError.
        """
        if vocoder is not None:
            problem = mel_mismatch(vocoder.config.mel_settings(), self.mel_settings())
            if problem is not None:
                raise CheckpointError(f"the vocoder reads another mel analysis than the codec ({problem})")
            vocoder.eval()
        self.vocoder = vocoder
        return self

    def samples_per_token(self) -> int:
        return self.hop * self.patch

    def preview(self) -> Codec:
        """This codec with :data:`PREVIEW_GRIFFIN_LIM_ITERS` Griffin-Lim iterations: the
        magnitudes, hence onsets and audio embeddings, are the same; only the phase is rougher."""
        if self.griffin_lim_iters <= PREVIEW_GRIFFIN_LIM_ITERS:
            return self
        preview = codec_from_config({**self.to_config(), "griffin_lim_iters": PREVIEW_GRIFFIN_LIM_ITERS})
        return preview.to(self.window.device)

    def to_config(self) -> dict[str, Any]:
        return {
            "type": "mel",
            "sample_rate": self.sample_rate,
            "n_mels": self.n_mels,
            "hop": self.hop,
            "n_fft": self.n_fft,
            "patch": self.patch,
            "f_min": self.f_min,
            "f_max": self.f_max,
            "floor": self.floor,
            "norm_mean": self.norm_mean,
            "norm_std": self.norm_std,
            "griffin_lim_iters": self.griffin_lim_iters,
            "griffin_lim_momentum": self.griffin_lim_momentum,
        }

    # -- analysis -------------------------------------------------------------------------

    def log_mel(self, wave: torch.Tensor) -> torch.Tensor:
        """Un-normalised log-mel ``[B, n_mels, frames]``, ``frames = ceil(samples / (hop·patch))·patch``."""
        wave = _as_batch(wave)
        step = self.samples_per_token()
        padded = math.ceil(wave.shape[-1] / step) * step
        if padded != wave.shape[-1]:
            wave = nn.functional.pad(wave, (0, padded - wave.shape[-1]))
        spec = AF.spectrogram(
            wave.float(),
            pad=0,
            window=self.window,
            n_fft=self.n_fft,
            hop_length=self.hop,
            win_length=self.n_fft,
            power=1.0,
            normalized=False,
            center=True,
            pad_mode="reflect",
        )  # [B, n_freqs, padded / hop + 1]
        spec = spec[..., : padded // self.hop]  # one frame per hop, so frames line up with tokens
        mel = torch.matmul(self.fbank.T, spec)
        return torch.log(torch.clamp(mel, min=self.floor))

    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        normalised = (self.log_mel(wave) - self.norm_mean) / self.norm_std  # [B, M, F]
        batch, mels, frames = normalised.shape
        return normalised.transpose(1, 2).reshape(batch, frames // self.patch, self.patch * mels)

    def tokens_to_log_mel(self, tokens: torch.Tensor) -> torch.Tensor:
        """Un-patch and un-normalise tokens ``[B, N, latent_dim]`` → log-mel ``[B, n_mels, N·patch]``."""
        if tokens.dim() != 3 or tokens.shape[-1] != self.latent_dim:
            raise UsageError(f"mel codec expects tokens [B, N, {self.latent_dim}], got {list(tokens.shape)}")
        batch, count, _ = tokens.shape
        frames = tokens.float().reshape(batch, count * self.patch, self.n_mels).transpose(1, 2)
        return frames * self.norm_std + self.norm_mean

    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.vocoder is None:
            return self.decode_griffin_lim(tokens)
        log_mel = self.tokens_to_log_mel(tokens)
        with torch.no_grad():  # decoding is inference; the trainer calls the vocoder itself
            return self.vocoder(log_mel)

    def decode_griffin_lim(self, tokens: torch.Tensor) -> torch.Tensor:
        """Decode with the mel pseudo-inverse + Griffin-Lim, vocoder or not (the fallback)."""
        mel = torch.exp(self.tokens_to_log_mel(tokens))
        linear = torch.clamp(torch.matmul(self.fbank_pinv, mel), min=0.0)  # [B, n_freqs, F]
        frames = linear.shape[-1]
        if frames == 0:
            return linear.new_zeros(linear.shape[0], 0)
        # The encoder dropped the STFT's last (centred) frame; repeat the final one so the
        # inverse covers exactly frames · hop samples.
        linear = torch.cat([linear, linear[..., -1:]], dim=-1)
        return self.griffin_lim(linear, frames * self.hop)

    def griffin_lim(self, magnitude: torch.Tensor, length: int) -> torch.Tensor:
        """``length`` samples whose STFT magnitude (this codec's window, n_fft, hop; centred
        frames ``[B, n_freqs, F]``) approaches ``magnitude``: Griffin-Lim, deterministic start."""
        return AF.griffinlim(
            magnitude,
            window=self.window,
            n_fft=self.n_fft,
            hop_length=self.hop,
            win_length=self.n_fft,
            power=1.0,
            n_iter=self.griffin_lim_iters,
            momentum=self.griffin_lim_momentum,
            length=length,
            rand_init=False,
        )

    def fit_normalisation(self, waves: list[torch.Tensor] | torch.Tensor) -> MelCodec:
        """A copy of this codec whose ``norm_mean``/``norm_std`` are measured on ``waves``."""
        values = torch.cat([self.log_mel(_as_batch(w)).flatten() for w in waves])
        config = self.to_config()
        config.update(norm_mean=float(values.mean()), norm_std=float(values.std().clamp(min=1e-3)))
        return codec_from_config(config)  # type: ignore[return-value]


def _as_batch(wave: torch.Tensor) -> torch.Tensor:
    if wave.dim() == 1:
        return wave.unsqueeze(0)
    if wave.dim() != 2:
        raise UsageError(f"codec expects a wave [B, samples], got shape {list(wave.shape)}")
    return wave


CODEC_TYPES: dict[str, type[Codec]] = {"mel": MelCodec}


def codec_preset(name: str) -> MelCodec:
    """The mel codec of preset ``name`` (``ml/codec_presets.py``), default normalisation;
    an unknown name → UsageError."""
    settings = CODEC_PRESETS.get(name)
    if settings is None:
        raise UsageError(f"unknown codec preset '{name}' (known: {', '.join(CODEC_PRESETS)})")
    return MelCodec(**settings)


def same_analysis(a: Codec, b: Codec) -> bool:
    """Whether two codecs make the same tokens but for their normalisation constants (rate,
    mels, hop, n_fft, patch, band edges, floor): a fitted codec still matches its preset."""
    ignored = ("norm_mean", "norm_std", "griffin_lim_iters", "griffin_lim_momentum")
    first, second = ({k: v for k, v in c.to_config().items() if k not in ignored} for c in (a, b))
    return first == second


def codec_from_config(config: dict[str, Any]) -> Codec:
    """Build the codec a config describes (``{"type": "mel", ...}``); bad configs → CheckpointError."""
    values = dict(config)
    kind = values.pop("type", "mel")
    codec_type = CODEC_TYPES.get(kind)
    if codec_type is None:
        raise CheckpointError(f"unknown codec type '{kind}' (known: {', '.join(CODEC_TYPES)})")
    try:
        return codec_type(**values)
    except TypeError as exc:
        raise CheckpointError(f"codec config does not fit the '{kind}' codec: {exc}") from None
