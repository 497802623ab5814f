"""Candidates ranked by total score (core) and the best mix written next to them (export)."""

from __future__ import annotations

import numpy as np

from foleystudio.core.requests import Candidate, GenerationRequest, rank_candidates
from foleystudio.export.candidates import best_mix

REQUEST = GenerationRequest(video="/media/clip.mp4")


def candidate(seed: int, total: float | None, source_id: str | None = None, level: float = 0.0) -> Candidate:
    scores = {} if total is None else {"total": total}
    audio = np.full(4, level, np.float32)
    return Candidate(audio, 16000, 0.0, seed, REQUEST, scores=scores, source_id=source_id)


def test_rank_is_by_total_best_first_stable_and_unscored_last() -> None:
    a, b, c, d = candidate(0, 0.2), candidate(1, 0.9), candidate(2, None), candidate(3, 0.2)
    assert [x.seed for x in rank_candidates([a, b, c, d])] == [1, 0, 3, 2]
    unscored = [candidate(5, None), candidate(4, None)]
    assert [x.seed for x in rank_candidates(iter(unscored))] == [5, 4]  # order kept
    assert rank_candidates([]) == []


def test_best_mix_is_the_best_candidate_or_the_sum_of_each_sources_best() -> None:
    low, high = candidate(0, 0.3), candidate(1, 0.8)
    assert best_mix([low, high]) is high
    stems = [
        candidate(0, 0.4, "door", 1.0),
        candidate(1, 0.7, "door", 2.0),
        candidate(0, 0.9, "steps", 10.0),
        candidate(1, 0.9, "steps", 20.0),  # a tie: the first one stays the best
    ]
    mix = best_mix(stems)
    np.testing.assert_array_equal(mix.audio, np.full(4, 12.0, np.float32))
    assert mix.seed == 1 and mix.label == "mix of sources"  # metadata of the first source's best
