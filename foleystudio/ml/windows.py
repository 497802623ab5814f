"""Long ranges in model-sized windows (docs/architecture.md §5, "Long ranges").

A range longer than the model window is cut into windows that overlap by ``overlap``
seconds. The first window is sampled freely; each later one is sampled in inpainting mode
with its first tokens (the overlap) fixed to the tokens already generated, so it continues
the sound instead of restarting it (Foley-Flow's masked alignment). The kept tokens are
joined in token space and decoded once, so there is no vocoder seam at window borders.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from foleystudio.core.jobs import CancelToken, ProgressCallback, no_progress, sub_progress
from foleystudio.core.settings import GenerationSettings
from foleystudio.ml.flowley import Flowley
from foleystudio.ml.flowley.conditions import Conditions
from foleystudio.ml.flowley.sampler import sample


@dataclass(frozen=True)
class WindowPlan:
    """Window ``k`` starts at token ``starts[k]`` of the range; all windows have ``size`` tokens."""

    size: int
    overlap: int
    starts: tuple[int, ...]
    total: int


def plan_windows(total_tokens: int, window_tokens: int, overlap_tokens: int) -> WindowPlan:
    """Windows covering ``total_tokens`` (the last one may run past the end; it is cropped)."""
    if total_tokens <= window_tokens:
        return WindowPlan(window_tokens, 0, (0,), total_tokens)
    hop = window_tokens - overlap_tokens
    count = 1 + math.ceil((total_tokens - window_tokens) / hop)
    return WindowPlan(window_tokens, overlap_tokens, tuple(k * hop for k in range(count)), total_tokens)


def sample_windows(
    model: Flowley,
    plan: WindowPlan,
    window_conditions: list[Conditions],
    noise: list[torch.Tensor],
    settings: GenerationSettings,
    *,
    uncond: list[Conditions] | None = None,
    known: tuple[torch.Tensor, torch.Tensor] | None = None,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> torch.Tensor:
    """Sample every window in order; returns tokens ``[B, total, latent]``.

    ``window_conditions[k]``/``noise[k]`` belong to window ``k``. ``known`` = (tokens
    ``[B, total, latent]``, mask ``[B, total]``) fixes tokens of the range (range
    regeneration); the overlap with the previous window is added to it.
    """
    batch, _, latent = noise[0].shape
    device = noise[0].device
    out = torch.zeros(batch, plan.starts[-1] + plan.size, latent, device=device)
    fixed = torch.zeros(batch, out.shape[1], dtype=torch.bool, device=device)
    if known is not None:
        out[:, : plan.total] = known[0].to(device)
        fixed[:, : plan.total] = known[1].to(device)
    n = len(plan.starts)
    for k, start in enumerate(plan.starts):
        end = start + plan.size
        context_mask = fixed[:, start:end].clone()
        cond = window_conditions[k]
        un = None if uncond is None else uncond[k]
        if context_mask.any():
            cond = cond.replace(context=out[:, start:end].clone(), context_mask=context_mask)
            if un is not None:
                un = un.replace(context=cond.context, context_mask=context_mask)
        x = sample(
            model,
            noise[k],
            cond,
            settings,
            uncond=un,
            progress=sub_progress(progress, k / n, (k + 1) / n),
            cancel=cancel,
        )
        out[:, start:end] = x
        fixed[:, start:end] = True
    return out[:, : plan.total]
