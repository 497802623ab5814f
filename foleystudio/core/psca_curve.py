"""The PSCA soft mask M(d) as a NumPy curve (docs/architecture.md §5), for plots and checks without torch.

The model builds the same mask with torch in :func:`foleystudio.ml.flowley.psca.psca_mask`
(a unit test keeps the two equal)::

    M(d) = 1                                 if d ≤ ω
         = β · ½ [cos(π (d − ω) / δ) + 1]     if ω < d ≤ ω + δ
         = 0                                 if d > ω + δ
"""

from __future__ import annotations

import numpy as np


def psca_mask_curve(d: np.ndarray, omega: float, delta: float, beta: float = 1.0) -> np.ndarray:
    """M(d) (float64, ``d``'s shape) for distances ``d`` between audio and video times.

    ``d``, ω ≥ 0 and δ ≥ 0 are in seconds (the sign of ``d`` is ignored); β is the layer's
    progressive factor. δ = 0 gives a hard window (1 within ω, else 0). Unlike the torch
    version it does not validate ω and δ: a plot draws whatever settings it is shown.
    """
    distance = np.abs(np.asarray(d, dtype=np.float64))
    out = np.zeros_like(distance)
    out[distance <= omega] = 1.0
    if delta > 0:
        ramp = (distance > omega) & (distance <= omega + delta)
        out[ramp] = beta * 0.5 * (np.cos(np.pi * (distance[ramp] - omega) / delta) + 1.0)
    return out
