"""The library benchmark's chance level and its discovery by ``foleystudio bench``."""

from __future__ import annotations

import math

import pytest

from foleystudio.cli.bench import BENCHMARKS, load_benchmark


def test_bench_discovers_the_library_benchmark() -> None:
    module = load_benchmark("library")
    assert BENCHMARKS["library"] == "library"
    assert callable(module.run) and callable(module.format_report)


def test_chance_of_a_hit_in_the_top_k_of_a_random_ranking() -> None:
    chance_hit = load_benchmark("library").chance_hit
    assert chance_hit(10, 1, 1) == pytest.approx(0.1)
    assert chance_hit(10, 1, 5) == pytest.approx(0.5)
    assert chance_hit(10, 2, 5) == pytest.approx(1 - math.comb(8, 5) / math.comb(10, 5))
    assert chance_hit(10, 0, 5) == 0.0
    assert chance_hit(3, 1, 5) == 1.0  # k beyond the pool: everything is in the top k
