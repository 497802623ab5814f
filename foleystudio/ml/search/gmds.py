"""Gaussian Mixture Diffusion Search over initial noises (AvSyncDiff §3.3, Algorithm 1;
docs/architecture.md §7.1).

A population of N initial noises P₀ (seeds ``seed … seed+N−1``, or "More like this": a
chosen noise and N−1 small moves of it) is scored. Each of T iterations moves every member
twice with the same fresh noise η ~ N(0, I), a small step for local exploitation and a large
one for global exploration,

    x_s = √(1 − σ_s²) · x + σ_s · η,      x_l = √(1 − σ_l²) · x + σ_l · η,      σ_s ≤ σ_l

(the paper's β = √(1 − σ²); both keep x ~ N(0, I)), and the member becomes the better of the
two (Algorithm 1, line 9, even when it is worse than before). When σ_s = σ_l the two moves are
one and it is evaluated once.

The evaluation F is supplied by the caller: it renders a batch of noises (the engine uses
few sampling steps and a cheap decode) and returns their raw scores. F(x) is the weighted
mean z-score of x's criteria, z-scored against the first population's statistics
(``core.ranking.Normaliser``) so that values from different iterations compare. Every
member of a batch is rendered in one call, and cancel and progress are served between
iterations (and inside ``evaluate``).

Returned: for each population slot the best noise its lineage reached (elitist per slot,
so the N kept noises stay as diverse as the N starting seeds and the overall best is among
them), best first, plus the first population's results (best-of-N at the same preview
quality) for comparison. Deterministic: every η is drawn from a seed derived from the
request's seed, the iteration and the slot (``core.noise.move_seed``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from foleystudio.core.jobs import CancelToken, ProgressCallback, no_progress, sub_progress
from foleystudio.core.noise import NoiseRecipe, move_seed
from foleystudio.core.ranking import Normaliser, check_weights, settings_weights
from foleystudio.core.settings import GenerationSettings
from foleystudio.errors import UsageError

#: ``evaluate(noises, progress) -> raw scores per noise`` (criteria in [0, 1], core/ranking.CRITERIA).
Evaluate = Callable[[Sequence[NoiseRecipe], ProgressCallback], list[dict[str, float]]]


@dataclass(frozen=True)
class SearchConfig:
    """N (``population``), T (``iterations``), σ_s, σ_l, the seed of P₀ and of every η, and
    the criteria's weights in F."""

    population: int
    iterations: int
    sigma_small: float
    sigma_large: float
    seed: int
    weights: Mapping[str, float]

    def __post_init__(self) -> None:
        if self.population < 1 or self.iterations < 0:
            raise UsageError(
                f"the search needs a population ≥ 1 and iterations ≥ 0, got {self.population} and {self.iterations}"
            )
        if not 0 < self.sigma_small <= self.sigma_large <= 1:
            raise UsageError(
                f"the search needs 0 < σ small ≤ σ large ≤ 1, got {self.sigma_small:g} and {self.sigma_large:g}"
            )
        check_weights(self.weights)

    @classmethod
    def from_settings(cls, settings: GenerationSettings) -> SearchConfig:
        """The search that ``settings`` ask for (N = ``num_candidates``)."""
        return cls(
            settings.num_candidates,
            settings.search_iters,
            settings.sigma_small,
            settings.sigma_large,
            settings.seed,
            settings_weights(settings),
        )


@dataclass(frozen=True)
class Evaluated:
    """One evaluated noise: its raw ``scores`` and its search ``objective`` F."""

    noise: NoiseRecipe
    scores: Mapping[str, float]
    objective: float


@dataclass(frozen=True)
class SearchResult:
    """``kept``: each slot's best, best first; ``first``: the first population (P₀) as
    evaluated; ``evaluations``: noises rendered; ``best_by_iteration``: the best F after P₀
    and after each iteration (never decreasing)."""

    kept: tuple[Evaluated, ...]
    first: tuple[Evaluated, ...]
    evaluations: int
    best_by_iteration: tuple[float, ...]

    @property
    def best(self) -> Evaluated:
        return self.kept[0]


def initial_population(config: SearchConfig, origin: NoiseRecipe | None = None) -> list[NoiseRecipe]:
    """P₀: the plain seeds ``seed … seed+N−1``; with an ``origin``, that noise and N−1 small
    (σ_s) moves of it."""
    if origin is None:
        return [NoiseRecipe(config.seed + i) for i in range(config.population)]
    moves = [
        origin.moved(config.sigma_small, move_seed(config.seed, 0, i)) for i in range(1, config.population)
    ]
    return [origin, *moves]


def gmds(
    evaluate: Evaluate,
    config: SearchConfig,
    *,
    origin: NoiseRecipe | None = None,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> SearchResult:
    """Run GMDS (see the module doc): 1 + T batched calls of ``evaluate``, N noises in the
    first, 2N (N when σ_s = σ_l) in each iteration. Raises ``JobCancelled`` between calls."""
    cancel = cancel or CancelToken()
    population = initial_population(config, origin)
    single_move = config.sigma_small == config.sigma_large
    per_iteration = config.population * (1 if single_move else 2)
    total = config.population + config.iterations * per_iteration
    done = 0

    def run(noises: list[NoiseRecipe], what: str) -> list[dict[str, float]]:
        nonlocal done
        cancel.raise_if_cancelled()
        report = sub_progress(progress, done / total, (done + len(noises)) / total)
        report(0.0, what)
        rows = evaluate(noises, report)
        if len(rows) != len(noises):
            raise ValueError(f"evaluate returned {len(rows)} results for {len(noises)} noises")
        done += len(noises)
        return rows

    first_rows = run(population, f"search: scoring {len(population)} starting noises")
    norm = Normaliser.of(first_rows)

    def evaluated(noise: NoiseRecipe, row: Mapping[str, float]) -> Evaluated:
        return Evaluated(noise, dict(row), norm.objective(row, config.weights))

    current = [evaluated(x, r) for x, r in zip(population, first_rows, strict=True)]
    first = tuple(current)
    kept = list(current)
    history = [max(e.objective for e in current)]
    for t in range(1, config.iterations + 1):
        seeds = [move_seed(config.seed, t, i) for i in range(config.population)]
        small = [e.noise.moved(config.sigma_small, s) for e, s in zip(current, seeds, strict=True)]
        large = (
            []
            if single_move
            else [e.noise.moved(config.sigma_large, s) for e, s in zip(current, seeds, strict=True)]
        )
        rows = run(small + large, f"search: iteration {t}/{config.iterations}")
        tried_small = [evaluated(x, r) for x, r in zip(small, rows, strict=False)]
        tried_large = [evaluated(x, r) for x, r in zip(large, rows[len(small) :], strict=True)]
        for i in range(config.population):
            choice = tried_small[i]
            if tried_large and tried_large[i].objective > choice.objective:
                choice = tried_large[i]
            current[i] = choice  # Algorithm 1: the member moves even to a worse point
            if choice.objective > kept[i].objective:
                kept[i] = choice
        history.append(max(history[-1], max(e.objective for e in current)))
    order = sorted(range(len(kept)), key=lambda i: (-kept[i].objective, i))
    progress(1.0, "search done")
    return SearchResult(tuple(kept[i] for i in order), first, total, tuple(history))
