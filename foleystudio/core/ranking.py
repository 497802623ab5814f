"""How candidates' scores combine into one ``total`` (docs/architecture.md §7.2).

Each criterion (``semantic``, ``text``, ``sync``) is a raw score in [0, 1] computed by
``ml/scores.py``. The criteria spread very differently (a sync F1 moves by tenths between
candidates, a text cosine by hundredths), so a plain mean would let sync decide alone. The
total therefore compares each candidate with the others of its *population* (one
generation's candidates of one source): every criterion is z-scored within the population,
the z-scores are averaged with the user's weights, and the result is mapped to [0, 1] by the
standard normal CDF Φ. A candidate average on every criterion scores 0.5; a lone candidate
always scores 0.5. Re-weighting re-ranks without regenerating (:func:`reweighted`).

Plain Python + NumPy: the app re-ranks with it without loading the engine.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from foleystudio.core.requests import Candidate, rank_candidates
from foleystudio.core.settings import GenerationSettings
from foleystudio.errors import UsageError

#: The score criteria, in the order the app shows them.
CRITERIA = ("semantic", "text", "sync")

#: Smallest standard deviation a criterion is divided by: differences far below it (a few
#: thousandths of a [0, 1] score) are noise of the scorers and must not be blown up to ±1.
STD_FLOOR = 0.01


def settings_weights(settings: GenerationSettings) -> dict[str, float]:
    """The score weights of ``settings`` by criterion."""
    return {
        "semantic": settings.weight_semantic,
        "text": settings.weight_text,
        "sync": settings.weight_sync,
    }


def check_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """``weights`` as floats; :class:`UsageError` for an unknown criterion, a negative or
    non-finite weight, or all weights zero."""
    unknown = sorted(set(weights) - set(CRITERIA))
    if unknown:
        raise UsageError(f"unknown score(s) {', '.join(unknown)}; known: {', '.join(CRITERIA)}")
    out = {k: float(v) for k, v in weights.items()}
    if any(not math.isfinite(v) or v < 0 for v in out.values()):
        raise UsageError(f"score weights must be finite and ≥ 0, got {weights}")
    if not any(v > 0 for v in out.values()):
        raise UsageError("at least one score weight must be above 0")
    return out


@dataclasses.dataclass(frozen=True)
class Normaliser:
    """Per-criterion mean and standard deviation (floored at :data:`STD_FLOOR`) that z-score
    a criterion: ``z = (value − mean) / std``."""

    mean: Mapping[str, float]
    std: Mapping[str, float]

    @classmethod
    def of(cls, rows: Sequence[Mapping[str, float]]) -> Normaliser:
        """The statistics of a population's raw scores (criteria present in every row)."""
        names = [k for k in CRITERIA if rows and all(k in r for r in rows)]
        values = {k: np.array([r[k] for r in rows], np.float64) for k in names}
        return cls(
            {k: float(v.mean()) for k, v in values.items()},
            {k: max(float(v.std()), STD_FLOOR) for k, v in values.items()},
        )

    def objective(self, row: Mapping[str, float], weights: Mapping[str, float]) -> float:
        """The weighted mean z-score of ``row`` (0 = average); criteria this normaliser does
        not know, or with weight 0, do not count. 0 when none counts."""
        used = [(k, weights.get(k, 1.0)) for k in self.mean if k in row and weights.get(k, 1.0) > 0]
        total = sum(w for _, w in used)
        if total <= 0:
            return 0.0
        return sum(w * (row[k] - self.mean[k]) / self.std[k] for k, w in used) / total


def phi(z: float) -> float:
    """The standard normal CDF Φ(z), in [0, 1]."""
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def population_totals(rows: Sequence[Mapping[str, float]], weights: Mapping[str, float]) -> list[float]:
    """The ``total`` of each row of one population: Φ(weighted mean z-score within it)."""
    norm = Normaliser.of(rows)
    return [phi(norm.objective(r, weights)) for r in rows]


def with_totals(rows: Sequence[Mapping[str, float]], weights: Mapping[str, float]) -> list[dict[str, float]]:
    """Copies of ``rows`` with their ``total`` (:func:`population_totals`)."""
    criteria = [{k: float(v) for k, v in r.items() if k != "total"} for r in rows]
    return [{**r, "total": t} for r, t in zip(criteria, population_totals(criteria, weights), strict=True)]


def reweighted(candidates: Iterable[Candidate], weights: Mapping[str, float]) -> list[Candidate]:
    """The candidates with ``total`` recomputed under ``weights`` (each source's candidates
    are one population), best first; their audio is shared, not copied."""
    weights = check_weights(weights)
    items = list(candidates)
    by_source: dict[str | None, list[int]] = {}
    for i, c in enumerate(items):
        by_source.setdefault(c.source_id, []).append(i)
    out = list(items)
    for indices in by_source.values():
        scored = [i for i in indices if any(k in items[i].scores for k in CRITERIA)]
        rows = with_totals([items[i].scores for i in scored], weights)
        for i, row in zip(scored, rows, strict=True):
            out[i] = dataclasses.replace(items[i], scores=row)
    return rank_candidates(out)
