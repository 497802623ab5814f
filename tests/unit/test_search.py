"""GMDS over noise recipes (ml/search), on a toy objective whose optimum is known."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from foleystudio.core.jobs import CancelToken
from foleystudio.core.noise import NoiseRecipe, move_seed
from foleystudio.core.settings import GenerationSettings
from foleystudio.errors import JobCancelled, UsageError
from foleystudio.ml.search.gmds import SearchConfig, gmds, initial_population
from foleystudio.ml.search.noise import recipe_noise, window_noises

SHAPE = (6, 4)  # tokens, latent of one toy window
TARGET = torch.ones(2, *SHAPE) * 0.8


def toy_evaluate(log: list[int] | None = None):
    """``sync`` = closeness of the noise to TARGET (higher is better), ``text`` = a constant."""

    def evaluate(noises, progress):
        if log is not None:
            log.append(len(noises))
        rows = []
        for noise in noises:
            x = recipe_noise(noise, 2, SHAPE)
            rows.append({"sync": float(1 / (1 + (x - TARGET).pow(2).mean())), "text": 0.5})
            progress(len(rows) / len(noises), "toy")
        return rows

    return evaluate


def config(**kw) -> SearchConfig:
    base = {
        "population": 4,
        "iterations": 3,
        "sigma_small": 0.3,
        "sigma_large": 0.8,
        "seed": 11,
        "weights": {"sync": 1.0, "text": 1.0},
    }
    return SearchConfig(**{**base, **kw})


def test_a_recipe_without_moves_is_the_plain_seeds_noise_and_moves_keep_it_standard_normal():
    from foleystudio.ml.device import make_generator, randn

    g = make_generator(5 + 7919)
    plain = torch.cat([randn((1, *SHAPE), g) for _ in range(3)])
    assert torch.equal(recipe_noise(NoiseRecipe(5), 3, SHAPE, offset=7919), plain)
    big = (2000, 8)
    x = recipe_noise(NoiseRecipe(1), 1, big)
    moved = recipe_noise(NoiseRecipe(1).moved(0.6, 77), 1, big)
    assert float(moved.std()) == pytest.approx(1.0, abs=0.03)
    corr = float(np.corrcoef(x.flatten(), moved.flatten())[0, 1])
    assert corr == pytest.approx(math.sqrt(1 - 0.6**2), abs=0.03)
    noises = window_noises([NoiseRecipe(1), NoiseRecipe(2)], 3, SHAPE)
    assert len(noises) == 3 and noises[0].shape == (2, *SHAPE)
    assert torch.equal(noises[1][1], recipe_noise(NoiseRecipe(2), 3, SHAPE)[1])


def test_noise_ids_round_trip_and_bad_ones_are_usage_errors():
    recipe = NoiseRecipe(7).moved(0.3, 1234).moved(0.7, 99)
    assert recipe.id == "7~0.3@1234~0.7@99"
    assert NoiseRecipe.parse(recipe.id) == recipe
    assert NoiseRecipe.from_dict(recipe.to_dict()) == recipe
    for bad in ("x", "7~0.3", "7~2@1"):
        with pytest.raises(UsageError):
            NoiseRecipe.parse(bad)
    with pytest.raises(UsageError):
        NoiseRecipe(-1)
    assert move_seed(3, 1, 0) != move_seed(3, 1, 1) != move_seed(3, 2, 0)
    assert move_seed(3, 1, 0) == move_seed(3, 1, 0)


def test_gmds_improves_on_its_first_population_and_is_deterministic():
    log: list[int] = []
    result = gmds(toy_evaluate(log), config())
    again = gmds(toy_evaluate(), config())
    assert log == [4, 8, 8, 8] and result.evaluations == 28
    assert [e.noise for e in result.kept] == [e.noise for e in again.kept]
    first_best = max(e.objective for e in result.first)
    assert result.best.objective > first_best
    assert list(result.best_by_iteration) == sorted(result.best_by_iteration)
    assert result.best.objective == result.best_by_iteration[-1]
    # One kept noise per slot, each from its own starting seed, best first.
    assert sorted(e.noise.seed for e in result.kept) == [11, 12, 13, 14]
    assert [e.objective for e in result.kept] == sorted((e.objective for e in result.kept), reverse=True)
    assert [e.noise for e in result.first] == initial_population(config())


def test_equal_sigmas_make_one_move_per_member_and_an_origin_seeds_the_population():
    log: list[int] = []
    origin = NoiseRecipe(40).moved(0.5, 8)
    result = gmds(toy_evaluate(log), config(sigma_small=0.4, sigma_large=0.4, iterations=1), origin=origin)
    assert log == [4, 4]
    first = [e.noise for e in result.first]
    assert first[0] == origin and all(n.moves[:1] == origin.moves and len(n.moves) == 2 for n in first[1:])
    assert all(n.seed == 40 for n in first)


def test_iterations_zero_scores_the_first_population_only():
    result = gmds(toy_evaluate(), config(iterations=0))
    assert result.evaluations == 4
    assert sorted(e.noise.seed for e in result.kept) == [e.noise.seed for e in result.first]


def test_progress_and_cancel_between_iterations():
    token = CancelToken()
    seen: list[tuple[float, str]] = []

    def progress(fraction: float, message: str) -> None:
        seen.append((fraction, message))
        if "iteration 2" in message:
            token.cancel()

    with pytest.raises(JobCancelled):
        gmds(toy_evaluate(), config(), progress=progress, cancel=token)
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and max(fractions) < 1.0
    done: list[float] = []
    gmds(toy_evaluate(), config(), progress=lambda f, m: done.append(f))
    assert done[-1] == 1.0


def test_bad_search_settings_are_usage_errors():
    for bad in ({"sigma_small": 0.9, "sigma_large": 0.5}, {"population": 0}, {"weights": {"sync": 0.0}}):
        with pytest.raises(UsageError):
            config(**bad)
    settings = GenerationSettings(num_candidates=6, search_iters=2, seed=3)
    assert SearchConfig.from_settings(settings).population == 6
