"""A small Vocos-style neural vocoder: log-mel frames → waveform (docs/architecture.md §5).

The vocoder replaces Griffin-Lim in :class:`~foleystudio.ml.codec.MelCodec` when a model
bundle carries one (module :data:`MODULE`, config ``configs["vocoder"]``). Its input is exactly
what the codec's tokens hold once un-patched and un-normalised: the natural-log mel
``log(max(mel, floor))``, ``[B, n_mels, F]``, one frame per ``hop`` samples. Its output is
``F · hop`` samples at ``sample_rate`` Hz, the same length Griffin-Lim gives.

Architecture (Siuzdak 2023, "Vocos"): a 1-D convolution embeds the mel frames, a stack of
ConvNeXt blocks (depthwise 1-D convolution, LayerNorm, pointwise MLP, layer scale) runs at the
frame rate, and a linear head predicts, per STFT frame, a log-magnitude and a phase for each
of the ``n_fft // 2 + 1`` bins; ``torch.istft`` (Hann, ``n_fft``, ``hop``, centred) turns them
into audio. Two priors differ from Vocos, because a CPU trains ~1,000 steps where Vocos trains
millions: the log-magnitude is predicted as a correction to the mel's pseudo-inverse
(Griffin-Lim's starting magnitude), and the phase as a residual on a steady sinusoid's phase at
each bin's centre frequency (:meth:`Vocoder.base_phase`), so an untrained vocoder is already
coherent and has the mel's spectral envelope (docs/decisions.md). Everything runs at the frame rate (62.5 frames/s at 16 kHz, hop 256), never at the
sample rate, which is why it is fast on a CPU.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torchaudio.functional as AF
from torch import nn

from foleystudio.errors import CheckpointError, UsageError
from foleystudio.ml.encoders import seeded_init

#: The bundle module (and config key) of the vocoder.
MODULE = "vocoder"
#: Mel analysis settings the vocoder and its codec must share (keys of :class:`VocoderConfig`).
MEL_KEYS = ("sample_rate", "n_mels", "n_fft", "hop", "f_min", "f_max", "floor")
#: Largest predicted log-magnitude (exp(7) ≈ 1100, above the ≈ 256 of a full-scale sine at
#: n_fft 1024): bounds exp() so an untrained or diverging head cannot overflow.
MAX_LOG_MAGNITUDE = 7.0


@dataclass(frozen=True)
class VocoderConfig:
    """Shape of a :class:`Vocoder` and the mel analysis it reads.

    ``sample_rate`` Hz; ``n_fft``/``hop`` samples (the mel's STFT and the iSTFT head share
    them); ``f_min``/``f_max`` Hz; ``floor`` the mel magnitude floor before the log.
    ``input_mean``/``input_std`` scale the log-mel before the first layer. ``dim`` channels of
    the ConvNeXt stack, ``intermediate`` its MLP width, ``layers`` blocks, ``kernel`` frames
    of each depthwise convolution (7 frames = 112 ms at hop 256, 16 kHz).
    """

    sample_rate: int = 16000
    n_mels: int = 80
    n_fft: int = 1024
    hop: int = 256
    f_min: float = 0.0
    f_max: float = 8000.0
    floor: float = 1e-5
    input_mean: float = -8.0
    input_std: float = 3.5
    dim: int = 192
    intermediate: int = 576
    layers: int = 8
    kernel: int = 7

    def __post_init__(self) -> None:
        if min(self.sample_rate, self.n_mels, self.hop, self.dim, self.intermediate, self.layers) <= 0:
            raise UsageError(f"bad vocoder config: {self}")
        if self.n_fft < 2 * self.hop:
            # istft(center=True, length=F·hop) needs hop ≤ n_fft / 2 to cover the last hop.
            raise UsageError(f"vocoder n_fft ({self.n_fft}) must be at least twice its hop ({self.hop})")
        if self.kernel % 2 != 1 or self.input_std <= 0 or self.floor <= 0:
            raise UsageError(f"bad vocoder config: kernel must be odd, input_std and floor > 0 ({self})")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> VocoderConfig:
        """The config a bundle stores; unknown or ill-typed keys → CheckpointError."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise CheckpointError(f"vocoder config has unknown keys: {', '.join(unknown)}")
        try:
            return cls(**values)
        except (TypeError, UsageError) as exc:
            raise CheckpointError(f"bad vocoder config: {exc}") from None

    @classmethod
    def for_mel(cls, mel: dict[str, Any], **sizes: Any) -> VocoderConfig:
        """A config reading the mel analysis ``mel`` (a codec's :meth:`mel_settings`)."""
        return cls(**{key: mel[key] for key in MEL_KEYS}, **sizes)

    def mel_settings(self) -> dict[str, Any]:
        """The mel analysis this vocoder reads (:data:`MEL_KEYS`)."""
        return {key: getattr(self, key) for key in MEL_KEYS}


def mel_mismatch(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    """A description of the first mel setting in which ``a`` and ``b`` differ, or None."""
    for key in MEL_KEYS:
        if not math.isclose(float(a[key]), float(b[key]), rel_tol=1e-6, abs_tol=1e-9):
            return f"{key} {a[key]} ≠ {b[key]}"
    return None


class ConvNeXtBlock(nn.Module):
    """Depthwise conv over frames → LayerNorm → Linear → GELU → Linear, scaled, residual."""

    def __init__(self, dim: int, intermediate: int, kernel: int, layer_scale: float) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(intermediate, dim)
        # Small layer scale: each block starts near the identity, so a deep stack trains stably.
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, dim, F]`` → ``[B, dim, F]``."""
        y = self.dwconv(x).transpose(1, 2)
        y = self.pwconv2(self.act(self.pwconv1(self.norm(y))))
        return x + (self.gamma * y).transpose(1, 2)


class Vocoder(nn.Module):
    """Log-mel ``[B, n_mels, F]`` (natural log, as :meth:`MelCodec.log_mel` gives) → wave
    ``[B, F · hop]`` float32 at ``config.sample_rate`` Hz."""

    def __init__(self, config: VocoderConfig = VocoderConfig(), seed: int | None = 0) -> None:
        super().__init__()
        self.config = config
        c = config
        with seeded_init(seed):
            self.embed = nn.Conv1d(c.n_mels, c.dim, c.kernel, padding=c.kernel // 2)
            self.norm = nn.LayerNorm(c.dim, eps=1e-6)
            self.blocks = nn.ModuleList(
                ConvNeXtBlock(c.dim, c.intermediate, c.kernel, 1.0 / c.layers) for _ in range(c.layers)
            )
            self.final_norm = nn.LayerNorm(c.dim, eps=1e-6)
            self.head = nn.Linear(c.dim, c.n_fft + 2)  # log-magnitude and phase per bin
            self.apply(_init_weights)
        self.register_buffer("window", torch.hann_window(c.n_fft), persistent=False)
        self.register_buffer("bin_index", torch.arange(c.n_fft // 2 + 1), persistent=False)
        fbank = AF.melscale_fbanks(
            n_freqs=c.n_fft // 2 + 1,
            f_min=c.f_min,
            f_max=c.f_max,
            n_mels=c.n_mels,
            sample_rate=c.sample_rate,
            norm="slaney",
            mel_scale="slaney",
        )  # [bins, n_mels], the codec's filterbank
        self.register_buffer("mel_pinv", torch.linalg.pinv(fbank.T.double()).float(), persistent=False)

    @property
    def bins(self) -> int:
        """STFT bins per frame (``n_fft // 2 + 1``)."""
        return self.config.n_fft // 2 + 1

    def spectrum(self, log_mel: torch.Tensor) -> torch.Tensor:
        """Complex STFT ``[B, bins, F]`` the head predicts for ``log_mel`` ``[B, n_mels, F]``."""
        c = self.config
        if log_mel.dim() != 3 or log_mel.shape[1] != c.n_mels:
            raise UsageError(f"vocoder expects log-mel [B, {c.n_mels}, frames], got {list(log_mel.shape)}")
        # Frames below the floor never occur in encoded audio; generated tokens may stray there,
        # so clamp to the domain the vocoder was trained on.
        x = (log_mel.float().clamp(min=math.log(c.floor)) - c.input_mean) / c.input_std
        x = self.norm(self.embed(x).transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        out = self.head(self.final_norm(x.transpose(1, 2))).transpose(1, 2).float()
        log_magnitude, residual = out[:, : self.bins], out[:, self.bins :]
        # The head corrects the magnitude Griffin-Lim would start from (the filterbank's
        # pseudo-inverse of the mel), so even an untrained vocoder has the mel's spectral envelope.
        log_magnitude = log_magnitude + self.mel_magnitude(log_mel).log()
        magnitude = torch.exp(log_magnitude.clamp(max=MAX_LOG_MAGNITUDE))
        # Phase as an angle (cos/sin of an unbounded value wrap naturally, as in Vocos), predicted
        # as a residual on the phase a steady sinusoid at each bin's centre frequency has.
        return torch.polar(magnitude, residual + self.base_phase(log_mel.shape[-1]))

    def mel_magnitude(self, log_mel: torch.Tensor) -> torch.Tensor:
        """``[B, bins, F]`` linear magnitude of the mel's pseudo-inverse, floored at ``floor``."""
        mel = torch.exp(log_mel.float().clamp(min=math.log(self.config.floor)))
        return torch.matmul(self.mel_pinv, mel).clamp(min=self.config.floor)

    def base_phase(self, frames: int) -> torch.Tensor:
        """``[bins, frames]`` radians: 2π·k·(t·hop − n_fft/2)/n_fft, the STFT phase of a steady
        cosine at bin k's centre frequency in centred frame t.

        Without it an untrained head's phases are unrelated from frame to frame, overlap-add
        cancels (measured: the re-analysed energy was 1/270 of the predicted one after 250
        steps) and training must first discover coherence; with it, the output is coherent
        from the first step. Reduced modulo n_fft in integers, exact for any length.
        """
        n_fft, hop = self.config.n_fft, self.config.hop
        t = torch.arange(frames, device=self.bin_index.device)
        cycles = torch.remainder(self.bin_index[:, None] * (t[None, :] * hop - n_fft // 2), n_fft)
        return cycles.float() * (2 * math.pi / n_fft)

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        """Wave ``[B, F · hop]`` for ``log_mel`` ``[B, n_mels, F]``; frame k is centred on sample k · hop."""
        if log_mel.shape[-1] == 0:
            return log_mel.new_zeros(log_mel.shape[0], 0, dtype=torch.float32)
        # The iSTFT stays in float32 even under autocast (complex half is not supported on CPU).
        with torch.autocast(device_type=log_mel.device.type, enabled=False):
            return self.waveform(self.spectrum(log_mel))

    def waveform(self, spectrum: torch.Tensor) -> torch.Tensor:
        """Wave ``[B, F · hop]`` of a complex STFT ``[B, bins, F]`` (Hann, centred overlap-add)."""
        return torch.istft(
            spectrum,
            n_fft=self.config.n_fft,
            hop_length=self.config.hop,
            win_length=self.config.n_fft,
            window=self.window,
            center=True,
            length=spectrum.shape[-1] * self.config.hop,
        )

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())


def _init_weights(module: nn.Module) -> None:
    # Vocos' initialisation: truncated normal (σ 0.02) weights, zero biases.
    if isinstance(module, (nn.Conv1d, nn.Linear)):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def vocoder_from_bundle(bundle: Any) -> Vocoder | None:
    """The bundle's vocoder (config + weights :data:`MODULE`) in eval mode, or None without one."""
    if not bundle.has_module(MODULE):
        return None
    config = VocoderConfig.from_dict(bundle.config(MODULE))
    return bundle.load_into(MODULE, Vocoder(config, seed=None)).eval()
