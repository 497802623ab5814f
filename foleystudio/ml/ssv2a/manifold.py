"""The Cross-Modal Sound Source (CMSS) manifold of SSV2A (§3.2, App. A.2.1).

Three variational residual MLPs (ELU, dropout, a mean head and a log-variance head, the
reparameterisation trick while training, the mean in eval mode):

- ``v(·)``  :attr:`CMSSManifold.clip_projector` — CLIP embeddings (image crops *and* text:
  our CLIP image and text live in one space, and unlike SSV2A we have no DALL·E-2 prior to
  translate text into image space, so the projector sees both) → joint space;
- ``φ(·)``  :attr:`CMSSManifold.audio_projector` — audio-encoder embeddings → joint space;
- ``χ(·)``  :attr:`CMSSManifold.reconstructor` — joint space → audio space.

Joint-space embeddings are used l2-normalised everywhere (contrastive similarity, the
reconstructor's input, the Remixer's tokens). Objective (eqs. 3–7):

    C_ij  = τ · ê_CLIP_i · ê_audio_j                     (τ learned, as CLIP's logit scale)
    M_ij  = exp(−α · clamp(sim(v_i, v_j) · sim(a_i, a_j), 0, 1)^α)     CCMR, α = 0.35,
            computed from the *raw* inputs v (CLIP) and a (audio) of the batch, i ≠ j
            (M_ii = 1: see :func:`ccmr_mask` for why the positives are left unmasked)
    C*    = C ⊙ M
    L_c   = ½ [CE(C*, diag) + CE(C*ᵀ, diag)]
    L_r   = ½ mean[(1 − cos(a, χ(ê_audio))) + (1 − cos(a, χ(ê_CLIP)))]
    L_fold = L_c + L_r + λ · L_kl      (L_kl: the summed KL of v, φ and χ to N(0, I))
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from foleystudio.ml.encoders import seeded_init


class VariationalOutput(NamedTuple):
    """A variational head's result: ``sample`` (= ``mean`` when not sampling), ``mean``, ``logvar``."""

    sample: torch.Tensor
    mean: torch.Tensor
    logvar: torch.Tensor

    def kl(self) -> torch.Tensor:
        """KL(N(mean, exp(logvar)) || N(0, I)), summed over features, averaged over the batch."""
        per_item = 0.5 * (self.mean.pow(2) + self.logvar.exp() - 1.0 - self.logvar).sum(dim=-1)
        return per_item.mean()


def reparameterise(
    mean: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``mean + exp(logvar / 2) · ε``, ε ~ N(0, I) drawn from ``generator`` (on the CPU, so a
    seed gives the same draw on every device)."""
    noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype)
    return mean + (0.5 * logvar).exp() * noise.to(mean.device)


#: Initial log-variance of every variational head: nearly deterministic at the start (noise
#: std e^{-2} ≈ 0.14), so early training is not drowned in sampling noise; the KL term then
#: raises the variance as far as the task allows. (The paper does not give an initialisation.)
INIT_LOGVAR = -4.0


def init_logvar_head(layer: nn.Linear) -> None:
    """Start a log-variance head at :data:`INIT_LOGVAR` with small weights."""
    with torch.no_grad():
        layer.weight.mul_(0.1)
        layer.bias.fill_(INIT_LOGVAR)


class ResidualPair(nn.Module):
    """Two linear layers of ``width`` with a residual connection around them (App. A.2.1:
    "a residual connection every two layers"); a bias-free projection when widths differ."""

    def __init__(self, in_dim: int, width: int, dropout: float) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_dim, width)
        self.fc2 = nn.Linear(width, width)
        self.skip = nn.Identity() if in_dim == width else nn.Linear(in_dim, width, bias=False)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.drop(F.elu(self.fc1(x)))
        return self.drop(F.elu(self.fc2(h) + self.skip(x)))


class VariationalMLP(nn.Module):
    """Residual MLP (one :class:`ResidualPair` per entry of ``widths``) with mean and
    log-variance heads. Samples while training (or when asked), returns the mean otherwise."""

    def __init__(self, in_dim: int, out_dim: int, widths: tuple[int, ...], dropout: float) -> None:
        super().__init__()
        dims = (in_dim, *widths)
        self.blocks = nn.Sequential(
            *(ResidualPair(a, b, dropout) for a, b in zip(dims[:-1], widths, strict=True))
        )
        self.mean = nn.Linear(dims[-1], out_dim)
        self.logvar = nn.Linear(dims[-1], out_dim)
        init_logvar_head(self.logvar)

    def forward(
        self, x: torch.Tensor, *, sample: bool | None = None, generator: torch.Generator | None = None
    ) -> VariationalOutput:
        """``sample`` defaults to ``self.training``; ``generator`` drives the noise."""
        h = self.blocks(x)
        mean, logvar = self.mean(h), self.logvar(h).clamp(-12.0, 6.0)
        draw = self.training if sample is None else sample
        return VariationalOutput(reparameterise(mean, logvar, generator) if draw else mean, mean, logvar)


@dataclass(frozen=True)
class ManifoldConfig:
    """Sizes and loss weights of :class:`CMSSManifold` (JSON-ready via :meth:`to_dict`).

    ``projector_widths``/``reconstructor_widths``: one residual pair of linear layers per
    entry, SSV2A's variant B scaled to our 128-d encoders (paper: 768, 1536, 3072 and 768,
    896, 1024, 2048 for 768-d CLIP / 512-d CLAP). ``kl_weight`` is λ₁ (the paper gives no
    value), ``ccmr_alpha`` α of eq. 7 (``ccmr_mask_positives``: the literal, exploitable mask
    on the diagonal too, for ablation), ``init_temperature`` the initial contrastive τ⁻¹ as in
    CLIP (logit scale e^{log(1/0.07)}), capped at ``max_logit_scale``.
    """

    clip_dim: int = 128
    audio_dim: int = 128
    joint_dim: int = 128
    projector_widths: tuple[int, ...] = (128, 256, 512)
    reconstructor_widths: tuple[int, ...] = (128, 160, 192, 384)
    dropout: float = 0.2
    kl_weight: float = 1e-3
    ccmr_alpha: float = 0.35
    ccmr_mask_positives: bool = False
    init_temperature: float = 0.07
    max_logit_scale: float = 100.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["projector_widths"] = list(self.projector_widths)
        data["reconstructor_widths"] = list(self.reconstructor_widths)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ManifoldConfig:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for key in ("projector_widths", "reconstructor_widths"):
            if key in fields:
                fields[key] = tuple(int(w) for w in fields[key])
        return cls(**fields)


def ccmr_mask(
    clip: torch.Tensor, audio: torch.Tensor, alpha: float = 0.35, *, mask_positives: bool = False
) -> torch.Tensor:
    """CCMR mask (eq. 7) of a batch of raw pairs: ``clip`` [B, Dc], ``audio`` [B, Da] -> [B, B]
    ``exp(−α · clamp(cos(v_i, v_j) · cos(a_i, a_j), 0, 1)^α)`` (no gradient).

    α = 0 gives all ones (no regularisation); entries shrink towards e^{−α} as a pair is
    similar in both CLIP and audio, so the gradient pushing near-duplicate negatives apart
    (∂C*_ij = M_ij·∂C_ij) is weaker.

    The diagonal (each sample's own pair) is 1 unless ``mask_positives``: the paper applies the
    mask to "cross-pair" samples, and taken literally on every entry the diagonal is always
    e^{−α}, the smallest value, so a projector can win the loss by making *every* logit
    negative (the diagonal is then the least negative) — on FoleyWorld it did exactly that,
    with positive pairs at cosine −0.9. ``mask_positives=True`` keeps the literal variant.
    """
    with torch.no_grad():
        c = F.normalize(clip.float(), dim=-1)
        a = F.normalize(audio.float(), dim=-1)
        both = ((c @ c.T) * (a @ a.T)).clamp(0.0, 1.0)
        mask = torch.exp(-alpha * both.pow(alpha))
        if not mask_positives:
            mask.fill_diagonal_(1.0)
        return mask


class CMSSManifold(nn.Module):
    """Projectors ``v`` (CLIP), ``φ`` (audio) and reconstructor ``χ`` of SSV2A's manifold.

    Inference methods (:meth:`embed_clip`, :meth:`embed_audio`, :meth:`reconstruct`) always
    use the heads' means and return l2-normalised vectors; put the module in eval mode so
    dropout is off. :meth:`loss` is the training objective ``L_fold``.
    """

    def __init__(self, config: ManifoldConfig = ManifoldConfig(), seed: int | None = None) -> None:
        super().__init__()
        self.config = config
        with seeded_init(seed):
            self.clip_projector = VariationalMLP(
                config.clip_dim, config.joint_dim, config.projector_widths, config.dropout
            )
            self.audio_projector = VariationalMLP(
                config.audio_dim, config.joint_dim, config.projector_widths, config.dropout
            )
            self.reconstructor = VariationalMLP(
                config.joint_dim, config.audio_dim, config.reconstructor_widths, config.dropout
            )
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / config.init_temperature)))

    # -- inference -----------------------------------------------------------------------------

    def embed_clip(self, clip: torch.Tensor) -> torch.Tensor:
        """CLIP embeddings (image crops or text) [..., clip_dim] -> joint [..., joint_dim], unit norm."""
        return F.normalize(self.clip_projector(clip, sample=False).mean, dim=-1)

    def embed_audio(self, audio: torch.Tensor) -> torch.Tensor:
        """Audio-encoder embeddings [..., audio_dim] -> joint [..., joint_dim], unit norm."""
        return F.normalize(self.audio_projector(audio, sample=False).mean, dim=-1)

    def reconstruct(self, joint: torch.Tensor) -> torch.Tensor:
        """``χ``: joint embeddings [..., joint_dim] -> audio space [..., audio_dim], unit norm."""
        return F.normalize(self.reconstructor(joint, sample=False).mean, dim=-1)

    # -- training ------------------------------------------------------------------------------

    def projector_parameters(self) -> list[nn.Parameter]:
        """Parameters of ``v``, ``φ`` and the temperature (one side of the alternating update)."""
        return [
            *self.clip_projector.parameters(),
            *self.audio_projector.parameters(),
            self.logit_scale,
        ]

    def reconstructor_parameters(self) -> list[nn.Parameter]:
        """Parameters of ``χ`` (the other side of the alternating update)."""
        return list(self.reconstructor.parameters())

    def clamp_logit_scale(self) -> None:
        """Keep τ in [1, ``max_logit_scale``] (as CLIP does), after each optimiser step."""
        with torch.no_grad():
            self.logit_scale.clamp_(0.0, math.log(self.config.max_logit_scale))

    def loss(
        self, clip: torch.Tensor, audio: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """``L_fold`` of a batch of B single-source pairs: ``clip`` [B, clip_dim] (crop or text),
        ``audio`` [B, audio_dim] (its sound's embedding). Returns the loss and its parts."""
        pc = self.clip_projector(clip, generator=generator)
        pa = self.audio_projector(audio, generator=generator)
        ec, ea = F.normalize(pc.sample, dim=-1), F.normalize(pa.sample, dim=-1)
        logits = self.logit_scale.exp() * (ec @ ea.T)
        mask = ccmr_mask(clip, audio, self.config.ccmr_alpha, mask_positives=self.config.ccmr_mask_positives)
        masked = logits * mask.to(logits.dtype)
        target = torch.arange(len(clip), device=clip.device)
        contrastive = 0.5 * (F.cross_entropy(masked, target) + F.cross_entropy(masked.T, target))
        ra = self.reconstructor(ea, generator=generator)
        rc = self.reconstructor(ec, generator=generator)
        recon = 0.5 * (
            (1.0 - F.cosine_similarity(audio, ra.sample, dim=-1)).mean()
            + (1.0 - F.cosine_similarity(audio, rc.sample, dim=-1)).mean()
        )
        kl = pc.kl() + pa.kl() + 0.5 * (ra.kl() + rc.kl())
        total = contrastive + recon + self.config.kl_weight * kl
        parts = {
            "loss": float(total.detach()),
            "contrastive": float(contrastive.detach()),
            "reconstruction": float(recon.detach()),
            "kl": float(kl.detach()),
            "logit_scale": float(self.logit_scale.detach().exp()),
        }
        return total, parts
