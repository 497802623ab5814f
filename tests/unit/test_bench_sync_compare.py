"""The paired comparison of two sync results (benchmarks/sync_compare.py), on small made-up
results: the sign and interval of the difference, the pairing by clip name, and its errors."""

from __future__ import annotations

import json

import pytest

from benchmarks.sync_compare import compare, differing_settings, format_report, load_result, main
from foleystudio.errors import DataError, UsageError


def _result(f1: list[float], onsets: list[int] | None = None, **settings) -> dict:
    onsets = onsets or [10] * len(f1)
    rows = [
        {
            "name": f"clip_{i:05d}",
            "n_true_onsets": n,
            "onset_f1": {"generated": v, "shifted": 0.2},
            "av_align": {"generated": v / 2},
            "aa_align": {"generated": v},
            "n_onsets": {"generated": float(n)},
        }
        for i, (v, n) in enumerate(zip(f1, onsets, strict=True))
    ]
    return {
        "benchmark": "sync",
        "model": {"path": "m"},
        "settings": {"steps": 16, "sync_cfg": 3.0, "drop": [], **settings},
        "sets": {"heldout": {"per_clip": rows}},
    }


def test_a_model_better_on_every_clip_has_an_interval_above_zero():
    a = _result([0.5, 0.6, 0.7, 0.4, 0.5, 0.6])
    b = _result([0.6, 0.7, 0.8, 0.5, 0.6, 0.7])
    s = compare(a, b)["sets"]["heldout"]
    assert s["clips"] == 6 and s["better"] == 6 and s["worse"] == 0
    assert s["difference"]["mean"] == pytest.approx(0.1)
    assert s["difference"]["ci95"][0] > 0
    back = compare(b, a)["sets"]["heldout"]
    assert back["difference"]["ci95"][1] < 0 and back["worse"] == 6


def test_mixed_changes_give_an_interval_across_zero():
    a = _result([0.5, 0.5, 0.5, 0.5, 0.5, 0.5])
    b = _result([0.7, 0.3, 0.6, 0.4, 0.55, 0.45])
    d = compare(a, b)["sets"]["heldout"]["difference"]
    assert d["ci95"][0] < 0 < d["ci95"][1]


def test_pairs_by_clip_name_on_the_shared_clips_only():
    a = _result([0.5, 0.5, 0.9])
    b = _result([0.6, 0.6])
    s = compare(a, b)["sets"]["heldout"]
    assert s["clips"] == 2 and s["a"] == pytest.approx(0.5)


def test_other_metrics_and_bad_metric():
    a, b = _result([0.4, 0.6]), _result([0.6, 0.8])
    assert compare(a, b, "av_align")["sets"]["heldout"]["difference"]["mean"] == pytest.approx(0.1)
    with pytest.raises(UsageError, match="metric"):
        compare(a, b, "loudness")


def test_clips_of_another_set_are_refused():
    with pytest.raises(UsageError, match="different true onsets"):
        compare(_result([0.5, 0.5], [10, 12]), _result([0.5, 0.5], [10, 13]))
    other = _result([0.5])
    other["sets"] = {"novel_look": other["sets"]["heldout"]}
    with pytest.raises(UsageError, match="no set"):
        compare(_result([0.5]), other)


def test_differing_settings_are_listed_and_an_empty_drop_is_no_difference():
    a, b = _result([0.5], sync_cfg=3.0), _result([0.5], sync_cfg=2.0)
    del a["settings"]["drop"]
    assert differing_settings(a, b) == {"sync_cfg": [3.0, 2.0]}
    report = format_report(compare(a, b))
    assert "sync_cfg differs" in report and "heldout: 1 clips" in report


def test_files_and_command_line(tmp_path, capsys):
    fa, fb, out = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    fa.write_text(json.dumps(_result([0.5, 0.6])))
    fb.write_text(json.dumps(_result([0.7, 0.8])))
    assert main([str(fa), str(fb), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["sets"]["heldout"]["better"] == 2
    assert "+0.200" in capsys.readouterr().out
    (tmp_path / "bad.json").write_text("{not json")
    assert main([str(fa), str(tmp_path / "bad.json")]) == 2
    assert "bad.json" in capsys.readouterr().err
    with pytest.raises(DataError, match="no such"):
        load_result(tmp_path / "missing.json")
    (tmp_path / "other.json").write_text(json.dumps({"benchmark": "codec"}))
    with pytest.raises(DataError, match="not a result"):
        load_result(tmp_path / "other.json")
