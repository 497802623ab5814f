"""Noise recipes (``core/noise.py``) made into the sampler's noise tensors.

A recipe's noise for one target is ``windows`` draws of ``[tokens, latent]`` from the
generator seeded ``seed + offset`` (the engine's offset is 7919 × the target's index), each
move mixing in the same number of draws from its own seed + offset. A recipe without moves
is therefore exactly the noise a plain candidate of that seed always had.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from foleystudio.core.noise import NoiseRecipe
from foleystudio.ml.device import make_generator, randn


def _draws(seed: int, windows: int, shape: tuple[int, int]) -> torch.Tensor:
    generator = make_generator(seed)
    return torch.cat([randn((1, *shape), generator) for _ in range(windows)])


def recipe_noise(recipe: NoiseRecipe, windows: int, shape: tuple[int, int], offset: int = 0) -> torch.Tensor:
    """The noise ``[windows, tokens, latent]`` (CPU float32) of ``recipe``; ``shape`` is
    ``(tokens, latent)`` of one window."""
    x = _draws(recipe.seed + offset, windows, shape)
    for move in recipe.moves:
        eta = _draws(move.seed + offset, windows, shape)
        x = math.sqrt(1.0 - move.sigma**2) * x + move.sigma * eta
    return x


def window_noises(
    recipes: Sequence[NoiseRecipe],
    windows: int,
    shape: tuple[int, int],
    offset: int = 0,
    device: torch.device | str = "cpu",
) -> list[torch.Tensor]:
    """One ``[len(recipes), tokens, latent]`` tensor per window (row i = ``recipes[i]``), on ``device``."""
    noises = torch.stack([recipe_noise(r, windows, shape, offset) for r in recipes])  # [B, W, T, L]
    return [noises[:, k].to(device) for k in range(windows)]
