"""The search benchmark (benchmarks/search.py) runs end to end on a debug bundle (mechanics)."""

from __future__ import annotations

import json

from foleystudio.cli.bench import load_benchmark


def test_search_benchmark_compares_every_system_and_writes_its_results(tmp_path):
    from foleystudio.train.model_bundle import random_bundle

    bundle = random_bundle(tmp_path / "with-classifier", with_audio=True)
    search = load_benchmark("search")
    out = tmp_path / "search.json"
    result = search.run(model=str(bundle), clips=1, duration=2.0, out=out, log=lambda line: None)
    assert json.loads(out.read_text())["benchmark"] == "search"
    summary = result["summary"]
    assert set(summary["systems"]) == set(search.SYSTEMS)
    assert result["settings"]["sampling_steps"] == {"gmds": 216, "best_of_14": 224, "one": 16}
    assert "ssms_top1" in summary["systems"]["gmds"] and "machine" in result
    assert summary["seconds"]["gmds"]["median"] > 0 and summary["cpu_seconds"]["gmds"]["median"] > 0
    assert "gmds-best_of_14" in search.format_report(result)
