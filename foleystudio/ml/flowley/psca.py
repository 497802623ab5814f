"""Progressive Soft-masked Cross-Attention (PSCA), exactly as docs/architecture.md §5 / the Flowley poster.

For audio token i at time τ_i and visual token j at time τ_j (seconds), d_ij = |τ_i − τ_j|::

    M_ij(ℓ) = 1                                   if d_ij ≤ ω
            = β_ℓ · ½ [cos(π (d_ij − ω) / δ) + 1]  if ω < d_ij ≤ ω + δ
            = 0                                   if d_ij > ω + δ

    PSCA_ℓ(Q, K, V) = softmax(Q Kᵀ / √d_k + log(M(ℓ) + ε)) V,   ε = 1e-6

ω (window) and δ (decay width) are inference-time controls in seconds; β_ℓ ∈ (0, 1] is the
per-layer progressive factor. The additive bias is built once per (layer, ω, δ) for one
sampling call and reused across its steps through a :class:`PscaBiasCache` that the sampler
owns for that call (no global state).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable

import torch
import torch.nn.functional as F

#: ε inside the log of the mask: masked pairs get a bias of log(1e-6) ≈ −13.8, not −∞, so a
#: row whose visual tokens are all far away still has a defined (uniform) softmax.
EPSILON = 1e-6


def min_omega(visual_fps: float) -> float:
    """Smallest allowed ω in seconds: half a visual frame, so every audio token sees a frame."""
    return 0.5 / float(visual_fps)


def clamp_omega(omega: float, visual_fps: float) -> float:
    """ω clamped to at least half a visual frame (seconds)."""
    return max(float(omega), min_omega(visual_fps))


def psca_mask(
    audio_times: torch.Tensor,
    visual_times: torch.Tensor,
    omega: float,
    delta: float,
    beta: float | torch.Tensor = 1.0,
) -> torch.Tensor:
    """The soft mask M ``[..., Na, Nv]`` for audio times ``[..., Na]`` and visual times ``[..., Nv]``.

    Times, ω and δ are in seconds; leading (batch) dimensions broadcast. ``beta`` may be a
    tensor with gradient (the learned β_ℓ). δ = 0 gives a hard window (1 within ω, else 0).
    Computed in the times' dtype (pass float64 times for exact boundaries).
    """
    if omega < 0 or delta < 0:
        raise ValueError(f"PSCA needs ω ≥ 0 and δ ≥ 0 seconds, got ω={omega}, δ={delta}")
    distance = (audio_times.unsqueeze(-1) - visual_times.unsqueeze(-2)).abs()
    inside = distance <= omega
    one = torch.ones((), dtype=distance.dtype, device=distance.device)
    zero = torch.zeros((), dtype=distance.dtype, device=distance.device)
    if delta == 0:
        return torch.where(inside, one, zero)
    if isinstance(beta, torch.Tensor):
        beta = beta.to(distance.dtype)
    decay = beta * 0.5 * (torch.cos(math.pi * (distance - omega) / delta) + 1.0)
    ramp = torch.where(distance <= omega + delta, decay, zero)
    return torch.where(inside, one, ramp)


def psca_bias(
    audio_times: torch.Tensor,
    visual_times: torch.Tensor,
    omega: float,
    delta: float,
    beta: float | torch.Tensor = 1.0,
) -> torch.Tensor:
    """``log(M + ε)``, the additive attention bias ``[..., Na, Nv]`` of :func:`psca_mask`."""
    return torch.log(psca_mask(audio_times, visual_times, omega, delta, beta) + EPSILON)


def psca_attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, bias: torch.Tensor
) -> torch.Tensor:
    """softmax(Q Kᵀ/√d_k + bias) V via ``scaled_dot_product_attention``.

    ``query`` ``[B, H, Na, Dh]``, ``key``/``value`` ``[B, H, Nv, Dh]``, ``bias`` broadcastable to
    ``[B, H, Na, Nv]`` (``-inf`` entries hide keys entirely, as for padding).
    """
    return F.scaled_dot_product_attention(query, key, value, attn_mask=bias.to(query.dtype))


class PscaBiasCache:
    """Attention biases reused across the steps of one sampling call.

    The sampler makes one cache per call and hands it to every network forward of that call.
    Entries are keyed by (layer, ω, δ, extra) and are valid only for one conditions object:
    when a forward passes a different ``owner`` (another :class:`Conditions`), the cache
    empties itself first. The cache keeps a reference to its owner so the identity check
    cannot be fooled by a recycled ``id``. Only use it where β does not change between
    steps (sampling under ``no_grad``); training builds the bias fresh every step.
    """

    def __init__(self) -> None:
        self._owner: object | None = None
        self._entries: dict[Hashable, torch.Tensor] = {}
        self.hits = 0
        self.misses = 0

    def get(
        self,
        owner: object,
        layer: int,
        omega: float,
        delta: float,
        build: Callable[[], torch.Tensor],
        extra: Hashable = None,
    ) -> torch.Tensor:
        """The bias for ``(layer, ω, δ, extra)`` under ``owner``, built with ``build()`` on a miss."""
        if owner is not self._owner:
            self._owner = owner
            self._entries.clear()
        key = (layer, float(omega), float(delta), extra)
        bias = self._entries.get(key)
        if bias is None:
            self.misses += 1
            bias = build().detach()
            self._entries[key] = bias
        else:
            self.hits += 1
        return bias

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget every entry and the owner."""
        self._owner = None
        self._entries.clear()
