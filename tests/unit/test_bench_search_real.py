"""The real-footage search benchmark's summary and report (no real clip or model is needed)."""

from __future__ import annotations

from benchmarks.search import SYSTEMS
from benchmarks.search_real import format_report, summarise


def _row(name: str, f1: dict[str, float]) -> dict:
    return {
        "clip": name,
        "systems": {s: {"f1": f1[s], "f1_shifted": 0.2, "sync_score": 0.5} for s in SYSTEMS},
        "seconds": {"gmds": 1.0},
    }


def test_summary_means_and_paired_differences_per_set():
    gmds, best, six, one = SYSTEMS
    rows = [
        _row("a", {gmds: 0.6, best: 0.5, six: 0.5, one: 0.4}),
        _row("b", {gmds: 0.8, best: 0.5, six: 0.4, one: 0.2}),
    ]
    summary = summarise(rows)
    assert summary["clips"] == 2
    assert abs(summary["systems"][gmds]["f1"]["mean"] - 0.7) < 1e-9
    assert abs(summary["systems"][one]["f1_shifted"]["mean"] - 0.2) < 1e-9
    assert abs(summary["differences"][f"{gmds}-{best}"]["mean"] - 0.2) < 1e-9
    assert abs(summary["differences"][f"{best}-one"]["mean"] - 0.2) < 1e-9
    assert summarise([]) == {"clips": 0}
    report = format_report(
        {"all": summary, "sets": {"development": summarise(rows[:1]), "held-out": summarise([])}}
    )
    assert "all: 2 clips" in report and "development: 1 clips" in report and "held-out" not in report
