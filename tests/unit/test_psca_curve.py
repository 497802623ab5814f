"""The NumPy PSCA curve (core, for the GUI plot) gives the model's torch mask, number for number."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from foleystudio.core.psca_curve import psca_mask_curve
from foleystudio.ml.flowley.psca import psca_mask


@pytest.mark.parametrize(
    "omega,delta,beta",
    [(0.25, 0.5, 1.0), (0.25, 0.5, 0.6), (0.1, 0.05, 0.3), (0.0, 1.0, 0.9), (0.3, 0.0, 1.0)],
)
def test_numpy_curve_equals_the_torch_mask(omega: float, delta: float, beta: float) -> None:
    # Distances on both sides of the window, exactly on its edges, and far away.
    d = np.concatenate(
        [np.linspace(-2.0, 2.0, 401), [omega, -omega, omega + delta, -(omega + delta), omega + 1e-9]]
    )
    # Audio at 0 s, so the torch side's |τ_a − τ_v| is |d| exactly (edges stay edges).
    audio = torch.zeros(1, 1, dtype=torch.float64)
    visual = torch.tensor(d, dtype=torch.float64)[None]
    expected = psca_mask(audio, visual, omega, delta, beta)[0, 0].numpy()
    np.testing.assert_allclose(psca_mask_curve(d, omega, delta, beta), expected, rtol=0, atol=1e-12)


def test_curve_shape_follows_the_input_and_ignores_the_sign() -> None:
    d = np.array([[0.1, -0.5], [0.5, 1.0]])
    curve = psca_mask_curve(d, 0.25, 0.5)
    assert curve.shape == (2, 2) and curve.dtype == np.float64
    np.testing.assert_allclose(curve, [[1.0, 0.5], [0.5, 0.0]], atol=1e-12)
