"""Rectified-flow training loss for Flowley (docs/architecture.md §5).

x_t = (1 − t)·x₀ + t·x₁ with x₀ ~ N(0, I) (noise) and x₁ the data latent; the loss is on
the velocity x₁ − x₀ (for a data-predicting network, on the velocity its x̂₁ implies); t is logit-normal. Each condition group is dropped per
example with probability ``drop_prob`` (for CFG); a fraction ``inpaint_prob`` of the
examples is in inpainting mode (Foley-Flow §3.2: ``mask_ratio`` of the audio tokens masked
in one contiguous span at a random offset — so both continuation (known prefix) and range
regeneration (known prefix and suffix) are trained — the rest given as context, loss on
the masked tokens only). Auxiliary loss: BCE of the onset head against per-token onset
flags of the target audio (STA-V2A eq. 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from foleystudio.errors import UsageError
from foleystudio.ml.device import rand, randn
from foleystudio.ml.flowley.conditions import CONDITION_NAMES, Conditions
from foleystudio.ml.flowley.network import Flowley

#: Smallest ``1 − t`` in the loss weight of a data-predicting network (weight ≤ 400).
DATA_LOSS_MIN_REMAINING = 0.05


@dataclass(frozen=True)
class FlowTrainingConfig:
    """Settings of :func:`training_loss` (probabilities per example)."""

    drop_prob: float = 0.15
    #: Per-condition overrides of ``drop_prob``, e.g. ``{"ref": 0.5}``.
    drop_probs: Mapping[str, float] = field(default_factory=dict)
    inpaint_prob: float = 0.3
    mask_ratio: float = 0.8
    logit_mean: float = 0.0
    logit_std: float = 1.0
    #: Fraction of examples whose t is uniform on (0, 1) instead of logit-normal. A small
    #: model trained briefly needs the ends of the path too: sampling starts at t = 0, which
    #: logit-normal almost never draws (measured: without it the first steps of a 3 M model
    #: predicted the data mean 10x too small and samples stayed noise-like).
    uniform_time_prob: float = 0.0
    onset_weight: float = 0.1
    #: Weight of positive onset tokens in the BCE (onsets are sparse).
    onset_pos_weight: float = 1.0

    def __post_init__(self) -> None:
        unknown = set(self.drop_probs) - set(CONDITION_NAMES)
        if unknown:
            raise UsageError(f"drop_probs names unknown conditions {sorted(unknown)}")
        for name, value in (
            ("inpaint_prob", self.inpaint_prob),
            ("mask_ratio", self.mask_ratio),
            ("drop_prob", self.drop_prob),
        ):
            if not 0.0 <= value <= 1.0:
                raise UsageError(f"{name} must be in [0, 1], got {value}")


def sample_flow_times(
    batch: int, generator: torch.Generator, mean: float = 0.0, std: float = 1.0
) -> torch.Tensor:
    """Logit-normal times ``[B]`` in (0, 1): sigmoid(N(mean, std²))."""
    return torch.sigmoid(randn((batch,), generator) * std + mean)


def contiguous_span_mask(
    batch: int, num_tokens: int, ratio: float, generator: torch.Generator
) -> torch.Tensor:
    """``[B, N]`` bool, True on one contiguous span of ``round(ratio · N)`` tokens per row (random offset)."""
    length = min(num_tokens, max(1, round(ratio * num_tokens)))
    offsets = (rand((batch,), generator) * (num_tokens - length + 1)).long().clamp(max=num_tokens - length)
    positions = torch.arange(num_tokens)
    return (positions >= offsets[:, None]) & (positions < offsets[:, None] + length)


def onset_token_targets(
    onset_times: Sequence[float] | torch.Tensor, num_tokens: int, token_rate: float, start: float = 0.0
) -> torch.Tensor:
    """Per-token onset flags ``[num_tokens]`` (float 0/1) for onsets at ``onset_times`` seconds.

    Token i covers ``[start + i / token_rate, start + (i + 1) / token_rate)``; onsets outside
    the window are ignored.
    """
    times = torch.as_tensor(onset_times, dtype=torch.float64).flatten()
    index = torch.floor((times - start) * token_rate).long()
    index = index[(index >= 0) & (index < num_tokens)]
    flags = torch.zeros(num_tokens)
    flags[index] = 1.0
    return flags


def training_loss(
    model: Flowley,
    x1: torch.Tensor,
    cond: Conditions,
    generator: torch.Generator,
    config: FlowTrainingConfig | None = None,
    onset_targets: torch.Tensor | None = None,
    omega: float | None = None,
    delta: float | None = None,
    always_keep: Mapping[str, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The training loss for data latents ``x1`` ``[B, Na, latent_dim]`` and their conditions.

    ``onset_targets`` ``[B, Na]`` (0/1 or soft) enables the onset BCE when ``cond.sync`` is
    given. If ``cond.context`` is already set, the caller controls inpainting and no extra
    masking is drawn. All randomness comes from ``generator`` (any device), in a fixed order.
    ``always_keep`` maps a condition name to ``[B]`` bool rows that its random drop spares.
    Returns ``(loss, parts)`` with ``parts`` = ``{"flow", "onset", "loss", "inpaint_fraction"}``.
    """
    config = config or FlowTrainingConfig()
    batch, na, _ = x1.shape
    device = x1.device
    x0 = randn(x1.shape, generator, device, x1.dtype)
    t = sample_flow_times(batch, generator, config.logit_mean, config.logit_std).to(device)
    if config.uniform_time_prob > 0:
        uniform = rand((batch,), generator).to(device)
        t = torch.where(rand((batch,), generator).to(device) < config.uniform_time_prob, uniform, t)
    for name in CONDITION_NAMES:  # always draw, so the stream does not depend on presence
        keep = rand((batch,), generator) >= config.drop_probs.get(name, config.drop_prob)
        if always_keep is not None and name in always_keep:
            keep = keep | always_keep[name].to(keep.device, torch.bool)
        if cond.present(name):
            cond = cond.with_keep(name, keep.to(device))
    inpaint_rows = rand((batch,), generator) < config.inpaint_prob
    masked = contiguous_span_mask(batch, na, config.mask_ratio, generator)
    drew_inpainting = cond.context is None
    if drew_inpainting:
        known = (~masked & inpaint_rows[:, None]).to(device)
        cond = cond.replace(context=x1.detach() * known.unsqueeze(-1).to(x1.dtype), context_mask=known)
    # Loss on the tokens to generate only (all tokens of rows without context).
    weights = (~cond.context_mask.to(device=device, dtype=torch.bool)).to(x1.dtype)
    x_t = (1 - t)[:, None, None] * x0 + t[:, None, None] * x1
    target = x1 - x0
    out = model(x_t, t, cond, omega=omega, delta=delta)
    if out.data is None:
        per_token = (out.velocity.float() - target.float()).pow(2).mean(dim=-1)
    else:
        # The velocity loss of a data prediction is ‖x̂₁ − x₁‖² / (1 − t)²; its weight is capped
        # near t = 1, where it would otherwise explode (as in Li & He 2025).
        scale = (1 - t).clamp(min=DATA_LOSS_MIN_REMAINING).float()[:, None]
        per_token = (out.data.float() - x1.float()).pow(2).mean(dim=-1) / scale.pow(2)
    flow = (per_token * weights).sum() / weights.sum().clamp(min=1.0)
    loss = flow
    onset = torch.zeros((), device=device)
    if onset_targets is not None and out.onset_logits is not None:
        if onset_targets.shape != (batch, na):
            raise UsageError(
                f"onset targets have shape {list(onset_targets.shape)}, expected [{batch}, {na}]"
            )
        onset = F.binary_cross_entropy_with_logits(
            out.onset_logits.float(),
            onset_targets.to(device).float(),
            pos_weight=torch.tensor(config.onset_pos_weight, device=device),
        )
        loss = loss + config.onset_weight * onset
    parts = {
        "loss": float(loss.detach()),
        "flow": float(flow.detach()),
        "onset": float(onset.detach()),
        "inpaint_fraction": float(
            (inpaint_rows if drew_inpainting else cond.context_mask.any(dim=1)).float().mean()
        ),
    }
    return loss, parts
