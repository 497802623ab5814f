"""SSV2A's Sound Source Remixer ψ, Cycle Mix and Temporal Aggregation ω (§3.3, App. A.2.2).

**Remixer ψ.** One token per source, ``x_m = concat(e_m, v_m)``: ``e_m`` the source's CMSS
embedding, ``v_m`` its raw CLIP embedding (zeros for an audio source). Token sets are padded
to a fixed M (``RemixerConfig.max_sources``) with a boolean mask. A learned [cls] token
heads the sequence; one block of Efficient Attention (Shen et al. 2021) + feed-forward + ELU;
the [cls] output feeds two MLP heads (mean, log-variance); the mix embedding ``a_mix`` is a
sample (training) or the mean (inference), l2-normalised, in the AUDIO-encoder space.
Loss (eq. 9): ``mean(1 − cos(a, a_mix)) + λ₂·KL``. Guidance dropout: while training each
real token is dropped (masked out, which is what a zeroed padding token means) with
probability ``token_drop``; all tokens dropped gives the unconditional output.

Padding is masked out of the attention (keys get −∞ before the softmax over positions),
where the paper zero-pads to M = 64; masking makes the output independent of M and of the
order of the sources.

**Efficient Attention.** ``E = ρ_q(Q) · (ρ_k(K)ᵀ V)`` per head, ``ρ_k`` a softmax over
positions for each channel, ``ρ_q`` a softmax over channels for each position: a global
context ``softmax(K)ᵀV`` [d, d] that every query reads.

**Cycle Mix (Algorithm 1).** Embedding-space only — the algorithm never calls the audio
generator: source "track semantics" ``a_src^m = χ(e_m)``; each of T iterations draws N
samples of ψ, scores each by its mean cosine to the ``a_src^m``, keeps the best so far
(initial score 0) and, whenever it improves, feeds ``concat(φ(a_best), 0)`` back as an
extra token ``x_{M+1}`` for the next iteration. T = 0 (and a row whose samples never score
above 0) gives the plain remix (the head's mean).

**Temporal Aggregation ω (Fig. 3d, eqs. 11–12).** Same architecture as ψ over per-frame
generations ``a_gen^t`` (audio space) plus sinusoidal positions
``pos(2i, t) = sin(t / 1024^{2i/D})``, ``pos(2i+1, t) = cos(t / 1024^{2i/D})``, t the integer
frame index from 1 (8 fps: 64 frames per 8 s, as in the paper), D = audio dim.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from foleystudio.errors import UsageError
from foleystudio.ml.encoders import seeded_init
from foleystudio.ml.ssv2a.manifold import CMSSManifold, VariationalOutput, init_logvar_head, reparameterise


@dataclass(frozen=True)
class RemixerConfig:
    """Sizes of :class:`Remixer` (JSON-ready via :meth:`to_dict`).

    ``width`` of the attention block, ``heads`` heads, feed-forward ``ffn_mult``·width;
    ``head_hidden`` the hidden widths of the mean/log-variance MLP heads (paper: 768 → 640 →
    512); ``max_sources`` the fixed M tokens are padded to (Cycle Mix needs one free slot);
    ``token_drop`` the guidance dropout (paper: 0.2); ``kl_weight`` λ₂;
    ``pos_resolution`` the 1024 of eqs. 11–12.
    """

    joint_dim: int = 128
    clip_dim: int = 128
    audio_dim: int = 128
    width: int = 256
    heads: int = 4
    ffn_mult: int = 2
    head_hidden: tuple[int, ...] = (192,)
    max_sources: int = 16
    dropout: float = 0.1
    token_drop: float = 0.2
    kl_weight: float = 1e-3
    pos_resolution: float = 1024.0

    @property
    def token_dim(self) -> int:
        """Width of a source token ``concat(e, v)``."""
        return self.joint_dim + self.clip_dim

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["head_hidden"] = list(self.head_hidden)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RemixerConfig:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "head_hidden" in fields:
            fields["head_hidden"] = tuple(int(w) for w in fields["head_hidden"])
        return cls(**fields)


class EfficientAttention(nn.Module):
    """Multi-head Efficient Attention over tokens [B, L, W] with a key mask [B, L] (True = real)."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        if width % heads:
            raise UsageError(f"attention width {width} is not a multiple of {heads} heads")
        self.heads = heads
        self.query = nn.Linear(width, width)
        self.key = nn.Linear(width, width)
        self.value = nn.Linear(width, width)
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, n, w = x.shape
        h = self.heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, n, h, w // h).transpose(1, 2)  # [B, h, L, d]

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        absent = ~mask[:, None, :, None]
        keys = k.masked_fill(absent, float("-inf")).softmax(dim=2)  # over positions, per channel
        context = keys.transpose(2, 3) @ v.masked_fill(absent, 0.0)  # [B, h, d, d]
        out = q.softmax(dim=-1) @ context  # each query: softmax over its channels
        return self.out(out.transpose(1, 2).reshape(b, n, w))


def _mlp(in_dim: int, hidden: tuple[int, ...], out_dim: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(in_dim, width), nn.ELU()]
        in_dim = width
    layers.append(nn.Linear(in_dim, out_dim))
    return nn.Sequential(*layers)


class AttentionMixer(nn.Module):
    """[cls] + tokens → one Efficient-Attention block → variational heads on [cls] (ψ and ω)."""

    def __init__(self, in_dim: int, out_dim: int, config: RemixerConfig) -> None:
        super().__init__()
        w = config.width
        self.embed = nn.Linear(in_dim, w)
        self.cls = nn.Parameter(torch.randn(w) * 0.02)
        self.norm_attn = nn.LayerNorm(w)
        self.attention = EfficientAttention(w, config.heads)
        self.norm_ffn = nn.LayerNorm(w)
        self.ffn = nn.Sequential(
            nn.Linear(w, w * config.ffn_mult),
            nn.ELU(),
            nn.Dropout(config.dropout),
            nn.Linear(w * config.ffn_mult, w),
        )
        self.drop = nn.Dropout(config.dropout)
        self.norm_out = nn.LayerNorm(w)
        self.mean_head = _mlp(w, config.head_hidden, out_dim)
        self.logvar_head = _mlp(w, config.head_hidden, out_dim)
        init_logvar_head(self.logvar_head[-1])

    def forward(
        self,
        tokens: torch.Tensor,
        mask: torch.Tensor,
        *,
        sample: bool | None = None,
        generator: torch.Generator | None = None,
    ) -> VariationalOutput:
        """``tokens`` [B, L, in_dim], ``mask`` [B, L] bool → head output [B, out_dim] (not normalised)."""
        b = tokens.shape[0]
        x = torch.cat([self.cls.expand(b, 1, -1), self.embed(tokens)], dim=1)
        keep = torch.cat([torch.ones(b, 1, dtype=torch.bool, device=mask.device), mask.bool()], dim=1)
        x = x + self.drop(self.attention(self.norm_attn(x), keep))
        x = F.elu(x + self.drop(self.ffn(self.norm_ffn(x))))
        cls = self.norm_out(x[:, 0])
        mean, logvar = self.mean_head(cls), self.logvar_head(cls).clamp(-12.0, 6.0)
        draw = self.training if sample is None else sample
        return VariationalOutput(reparameterise(mean, logvar, generator) if draw else mean, mean, logvar)


def temporal_positions(index: torch.Tensor, dim: int, resolution: float = 1024.0) -> torch.Tensor:
    """Eqs. 11–12: integer frame indices [..., T] (from 1) -> positional embeddings [..., T, dim]."""
    half = torch.arange(0, dim, 2, dtype=torch.float32, device=index.device)
    angle = index.to(torch.float32)[..., None] / resolution ** (half / dim)
    pos = torch.zeros(*index.shape, dim, device=index.device)
    pos[..., 0::2] = torch.sin(angle)
    pos[..., 1::2] = torch.cos(angle[..., : dim // 2])
    return pos


class Remixer(nn.Module):
    """ψ (:attr:`psi`, source tokens → mix embedding) and ω (:attr:`temporal`, per-frame
    generations → one embedding). Inference methods return l2-normalised audio-space vectors;
    use the module in eval mode."""

    def __init__(self, config: RemixerConfig = RemixerConfig(), seed: int | None = None) -> None:
        super().__init__()
        self.config = config
        with seeded_init(seed):
            self.psi = AttentionMixer(config.token_dim, config.audio_dim, config)
            self.temporal = AttentionMixer(config.audio_dim, config.audio_dim, config)

    # -- ψ -------------------------------------------------------------------------------------

    def forward(
        self,
        tokens: torch.Tensor,
        mask: torch.Tensor,
        *,
        token_drop: float = 0.0,
        sample: bool | None = None,
        generator: torch.Generator | None = None,
    ) -> VariationalOutput:
        """ψ's head on ``tokens`` [B, M, token_dim] / ``mask`` [B, M]; each real token is
        dropped with probability ``token_drop`` (draws from ``generator``)."""
        if token_drop > 0:
            mask = drop_tokens(mask, token_drop, generator)
        return self.psi(tokens, mask, sample=sample, generator=generator)

    def remix(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Plain remix: the head's mean, l2-normalised [B, audio_dim]."""
        return F.normalize(self.psi(tokens, mask, sample=False).mean, dim=-1)

    def draw(
        self, tokens: torch.Tensor, mask: torch.Tensor, n: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``n`` samples of ψ per row, l2-normalised [n, B, audio_dim] (one forward pass)."""
        out = self.psi(tokens, mask, sample=False)
        return _draws(out, n, generator)

    def loss(
        self,
        tokens: torch.Tensor,
        mask: torch.Tensor,
        target: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Eq. 9 against target audio embeddings [B, audio_dim]; guidance dropout while training."""
        out = self(
            tokens, mask, token_drop=self.config.token_drop if self.training else 0.0, generator=generator
        )
        cos = F.cosine_similarity(out.sample, target, dim=-1)
        kl = out.kl()
        total = (1.0 - cos).mean() + self.config.kl_weight * kl
        return total, {
            "loss": float(total.detach()),
            "cosine": float(cos.detach().mean()),
            "kl": float(kl.detach()),
        }

    # -- ω -------------------------------------------------------------------------------------

    def aggregate(
        self,
        frames: torch.Tensor,
        frame_mask: torch.Tensor,
        frame_index: torch.Tensor | None = None,
        *,
        sample: bool | None = None,
        generator: torch.Generator | None = None,
    ) -> VariationalOutput:
        """ω's head on per-frame generations ``frames`` [B, T, audio_dim] (``frame_mask``
        [B, T]: frames that exist); ``frame_index`` [B, T] integers from 1 (default 1..T)."""
        b, t, d = frames.shape
        if frame_index is None:
            frame_index = torch.arange(1, t + 1, device=frames.device).expand(b, t)
        x = frames + temporal_positions(frame_index, d, self.config.pos_resolution).to(frames.dtype)
        return self.temporal(x, frame_mask, sample=sample, generator=generator)

    def temporal_embed(
        self, frames: torch.Tensor, frame_mask: torch.Tensor, frame_index: torch.Tensor | None = None
    ) -> torch.Tensor:
        """ω's mean, l2-normalised [B, audio_dim]."""
        return F.normalize(self.aggregate(frames, frame_mask, frame_index, sample=False).mean, dim=-1)

    def temporal_loss(
        self,
        frames: torch.Tensor,
        frame_mask: torch.Tensor,
        target: torch.Tensor,
        frame_index: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Eq. 10 (+ λ₂·KL, ω being variational too) against targets [B, audio_dim]."""
        out = self.aggregate(frames, frame_mask, frame_index, generator=generator)
        cos = F.cosine_similarity(out.sample, target, dim=-1)
        kl = out.kl()
        total = (1.0 - cos).mean() + self.config.kl_weight * kl
        return total, {
            "loss": float(total.detach()),
            "cosine": float(cos.detach().mean()),
            "kl": float(kl.detach()),
        }


def _draws(out: VariationalOutput, n: int, generator: torch.Generator | None) -> torch.Tensor:
    noise = torch.randn((n, *out.mean.shape), generator=generator).to(out.mean.device, out.mean.dtype)
    return F.normalize(out.mean + (0.5 * out.logvar).exp() * noise, dim=-1)


def drop_tokens(mask: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Guidance dropout: ``mask`` [B, M] with each True entry turned off with probability ``p``."""
    keep = torch.rand(mask.shape, generator=generator) >= p
    return mask.bool() & keep.to(mask.device)


def make_tokens(joint: torch.Tensor, clip: torch.Tensor | None, clip_dim: int | None = None) -> torch.Tensor:
    """Source tokens ``concat(e, v)``: ``joint`` [..., joint_dim] with ``clip`` [..., clip_dim],
    or zeros of ``clip_dim`` for audio sources (``clip=None``)."""
    if clip is None:
        if clip_dim is None:
            raise UsageError("make_tokens needs clip_dim for audio sources (clip=None)")
        clip = joint.new_zeros(*joint.shape[:-1], clip_dim)
    return torch.cat([joint, clip.to(joint.dtype)], dim=-1)


def pad_sources(token_sets: Sequence[torch.Tensor], max_sources: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack per-row token sets [n_i, token_dim] (n_i ≤ ``max_sources``) into tokens
    [B, max_sources, token_dim] (zero padding, real tokens first) and a mask [B, max_sources]."""
    if not token_sets:
        raise UsageError("no token sets to pad")
    dim = token_sets[0].shape[-1]
    ref = token_sets[0]
    tokens = ref.new_zeros(len(token_sets), max_sources, dim)
    mask = torch.zeros(len(token_sets), max_sources, dtype=torch.bool, device=ref.device)
    for i, row in enumerate(token_sets):
        if len(row) > max_sources:
            raise UsageError(f"{len(row)} sources exceed the Remixer's maximum of {max_sources}")
        tokens[i, : len(row)] = row
        mask[i, : len(row)] = True
    return tokens, mask


@torch.no_grad()
def cycle_mix(
    manifold: CMSSManifold,
    remixer: Remixer,
    tokens: torch.Tensor,
    mask: torch.Tensor,
    *,
    iterations: int,
    samples: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Algorithm 1 on each row of ``tokens`` [B, M, token_dim] / ``mask`` [B, M] → the best mix
    embedding per row [B, audio_dim] (unit norm). ``iterations`` T, ``samples`` N draws of ψ
    per iteration, noise from ``generator``. ``e_m`` is read from the tokens' first
    ``joint_dim`` features; each row needs a free slot for ``x_{M+1}``. Eval-mode modules.
    """
    fallback = remixer.remix(tokens, mask)
    if iterations <= 0:
        return fallback
    if samples < 1:
        raise UsageError(f"Cycle Mix needs at least 1 sample per iteration, got {samples}")
    mask = mask.bool()
    if bool(mask.all(dim=1).any()):
        raise UsageError(
            f"Cycle Mix needs a free token slot: use at most {mask.shape[1] - 1} sources per mix"
        )
    joint_dim = remixer.config.joint_dim
    track = manifold.reconstruct(tokens[..., :joint_dim])  # a_src^m = χ(e_m), [B, M, A]
    weight = mask.to(track.dtype)
    count = weight.sum(dim=1).clamp(min=1.0)
    rows = torch.arange(len(tokens), device=tokens.device)
    slot = (~mask).to(torch.int64).argmax(dim=1)  # first free position: x_{M+1}
    best, score = fallback.clone(), torch.zeros(len(tokens), device=tokens.device)
    found = torch.zeros(len(tokens), dtype=torch.bool, device=tokens.device)
    cur_tokens, cur_mask = tokens.clone(), mask.clone()
    for _ in range(iterations):
        draws = remixer.draw(cur_tokens, cur_mask, samples, generator)  # [N, B, A]
        d = torch.einsum("nba,bma->nbm", draws, track).mul(weight).sum(dim=-1) / count  # [N, B]
        top, arg = d.max(dim=0)
        better = top > score
        if not bool(better.any()):
            continue
        best = torch.where(better[:, None], draws[arg, rows], best)
        score = torch.where(better, top, score)
        found |= better
        extra = make_tokens(manifold.embed_audio(best), None, remixer.config.clip_dim)
        cur_tokens[rows, slot] = torch.where(found[:, None], extra, cur_tokens[rows, slot])
        cur_mask[rows, slot] = found
    return best
