"""Initial noises as recipes: a seed and the search moves applied to it (docs/architecture.md §7.1).

A candidate's initial noise x₀ ~ N(0, I) is drawn from its ``seed`` (as every plain
candidate's always was). The GMDS search moves a noise as

    x' = √(1 − σ²) · x + σ · η,      η ~ N(0, I) drawn from the move's own seed,

which keeps x' ~ N(0, I) when x and η are independent. A :class:`NoiseRecipe` records the
seed and the moves, so a noise found by a search is a few numbers (in ``result.json``, in a
clip's provenance) that rebuild it exactly, not a tensor to store. The tensors themselves
are made in ``ml/search/noise.py``; this module is plain Python (no torch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from foleystudio.errors import UsageError

#: Largest seed (torch generators take 64-bit seeds; settings keep seeds below 2³¹).
MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class NoiseMove:
    """One move: mix ``sigma`` (0 < σ ≤ 1) of fresh noise drawn from ``seed`` into the noise."""

    sigma: float
    seed: int

    def __post_init__(self) -> None:
        if not (isinstance(self.sigma, int | float) and math.isfinite(self.sigma) and 0 < self.sigma <= 1):
            raise UsageError(f"a noise move's σ must be in (0, 1], got {self.sigma!r}")
        _check_seed(self.seed, "a noise move's seed")


@dataclass(frozen=True)
class NoiseRecipe:
    """The noise drawn from ``seed``, then moved by each of ``moves`` in order."""

    seed: int
    moves: tuple[NoiseMove, ...] = ()

    def __post_init__(self) -> None:
        _check_seed(self.seed, "a noise seed")

    def moved(self, sigma: float, seed: int) -> NoiseRecipe:
        """This noise moved once more (σ ``sigma``, fresh noise from ``seed``)."""
        return NoiseRecipe(self.seed, (*self.moves, NoiseMove(float(sigma), int(seed))))

    @property
    def id(self) -> str:
        """A short text naming the noise: ``"7"`` for plain seed 7, ``"7~0.3@1234~0.7@99"``
        after two moves (σ@seed); :meth:`parse` reads it back."""
        return str(self.seed) + "".join(f"~{m.sigma:g}@{m.seed}" for m in self.moves)

    @classmethod
    def parse(cls, text: str) -> NoiseRecipe:
        """The recipe an :attr:`id` names; :class:`UsageError` for anything else."""
        head, *moves = str(text).strip().split("~")
        try:
            recipe = cls(int(head))
            for move in moves:
                sigma, seed = move.split("@")
                recipe = recipe.moved(float(sigma), int(seed))
        except ValueError:
            raise UsageError(f"not a noise id (SEED or SEED~SIGMA@SEED…): {text!r}") from None
        return recipe

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"seed": self.seed, "moves": [[m.sigma, m.seed] for m in self.moves]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NoiseRecipe:
        """The inverse of :meth:`to_dict`; :class:`UsageError` when malformed."""
        try:
            moves = tuple(NoiseMove(float(s), int(k)) for s, k in data.get("moves", ()))
            return cls(int(data["seed"]), moves)
        except (KeyError, TypeError, ValueError):
            raise UsageError(f"malformed noise recipe {data!r}") from None


def move_seed(seed: int, iteration: int, slot: int, kind: int = 0) -> int:
    """The seed of the fresh noise of one search move, derived from the request's ``seed``,
    the ``iteration``, the population ``slot`` and the move ``kind`` (distinct draws never
    share a seed short of a 63-bit hash collision)."""
    state = np.random.SeedSequence([int(seed), 0x6D6473, int(iteration), int(slot), int(kind)])
    return int(state.generate_state(1, np.uint64)[0] & np.uint64(MAX_SEED))


def _check_seed(value: Any, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise UsageError(f"{what} must be a whole number in [0, 2⁶³), got {value!r}")
