"""Paired comparison of two sync benchmark results: does model B land its onsets better or
worse than model A on the same clips?

``benchmarks/sync.py`` draws its held-out and novel-look sets from fixed corpus seeds, so two
results of it hold the same clips. Each clip's difference (B − A) removes the clip's own
difficulty, which the per-model intervals of sync.py do not: two models 0.04 apart can have
overlapping intervals and still differ on nearly every clip. Reported per set: both means, the
mean difference with a 95 % percentile-bootstrap interval over clips, and how many clips got
better or worse. Settings that differ between the two runs (sampling steps, sync guidance…)
are listed, because a comparison across them is a comparison of settings too.

Usage: ``python benchmarks/sync_compare.py A.json B.json [--metric onset_f1] [--out F.json]``
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

#: Per-clip metrics sync.py stores for the generated audio.
METRICS = ("onset_f1", "av_align", "aa_align", "n_onsets")
SEED = 0


def load_result(path: str | Path) -> dict[str, Any]:
    """A sync benchmark result file, checked to hold per-clip rows."""
    from foleystudio.errors import DataError

    file = Path(path)
    try:
        data = json.loads(file.read_text())
    except FileNotFoundError:
        raise DataError("no such sync result", file) from None
    except (OSError, ValueError) as exc:
        raise DataError(f"not a readable JSON file: {exc}", file) from exc
    if data.get("benchmark") != "sync" or not isinstance(data.get("sets"), dict):
        raise DataError("not a result of benchmarks/sync.py", file)
    for name, stats in data["sets"].items():
        if not stats.get("per_clip"):
            raise DataError(f"set {name!r} has no per-clip rows to pair", file)
    return data


def differing_settings(a: dict[str, Any], b: dict[str, Any]) -> dict[str, list[Any]]:
    """Settings whose values differ between two results: ``{key: [a's, b's]}`` (a setting an
    older result lacks and an empty list, e.g. ``drop``, count as the same)."""
    sa, sb = a.get("settings", {}), b.get("settings", {})

    def value(settings: dict[str, Any], key: str) -> Any:
        v = settings.get(key)
        return None if v == [] else v

    keys = sorted(set(sa) | set(sb))
    return {k: [sa.get(k), sb.get(k)] for k in keys if value(sa, k) != value(sb, k)}


def paired_set(
    rows_a: list[dict[str, Any]], rows_b: list[dict[str, Any]], metric: str, rng: np.random.Generator
) -> dict[str, Any]:
    """Both means and the per-clip difference B − A of ``metric`` on the clips both measured.

    Raises ``ValueError`` when a clip of the same name has different true onsets in the two
    results (they were not drawn from the same set) or when no clip is shared."""
    from benchmarks.sync import bootstrap_mean

    a = {r["name"]: r for r in rows_a}
    b = {r["name"]: r for r in rows_b}
    names = sorted(set(a) & set(b))
    if not names:
        raise ValueError("the two results share no clip")
    for name in names:
        if a[name]["n_true_onsets"] != b[name]["n_true_onsets"]:
            raise ValueError(f"clip {name} has different true onsets in the two results")
    va = np.array([a[n][metric]["generated"] for n in names], dtype=np.float64)
    vb = np.array([b[n][metric]["generated"] for n in names], dtype=np.float64)
    diff = vb - va
    return {
        "clips": len(names),
        "a": round(float(va.mean()), 4),
        "b": round(float(vb.mean()), 4),
        "difference": bootstrap_mean(diff.tolist(), rng),
        "better": int((diff > 0).sum()),
        "worse": int((diff < 0).sum()),
    }


def compare(
    a: dict[str, Any], b: dict[str, Any], metric: str = "onset_f1", seed: int = SEED
) -> dict[str, Any]:
    """Every set both results hold, paired on ``metric`` (one of :data:`METRICS`)."""
    from foleystudio.errors import UsageError

    if metric not in METRICS:
        raise UsageError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    shared = [s for s in a["sets"] if s in b["sets"]]
    if not shared:
        raise UsageError("the two results share no set (held-out, novel look)")
    rng = np.random.default_rng(seed)
    sets = {}
    for name in shared:
        try:
            sets[name] = paired_set(a["sets"][name]["per_clip"], b["sets"][name]["per_clip"], metric, rng)
        except ValueError as exc:
            raise UsageError(f"set {name!r}: {exc}") from exc
    return {
        "benchmark": "sync_compare",
        "metric": metric,
        "models": [a.get("model", {}).get("path"), b.get("model", {}).get("path")],
        "settings_differ": differing_settings(a, b),
        "sets": sets,
    }


def format_report(result: dict[str, Any]) -> str:
    """One line per set: A, B and B − A with its interval."""
    lines = [f"{result['metric']}: A = {result['models'][0]}, B = {result['models'][1]}"]
    for key, (va, vb) in result["settings_differ"].items():
        lines.append(f"  setting {key} differs: A {va}, B {vb}")
    for name, s in result["sets"].items():
        d = s["difference"]
        lo, hi = d["ci95"]
        lines.append(
            f"  {name}: {s['clips']} clips, A {s['a']:.3f}, B {s['b']:.3f}, "
            f"B − A {d['mean']:+.3f} [{lo:+.3f}, {hi:+.3f}], better on {s['better']}, worse on {s['worse']}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", help="sync result of model A (the reference)")
    parser.add_argument("b", help="sync result of model B")
    parser.add_argument("--metric", default="onset_f1", help=f"one of {', '.join(METRICS)}")
    parser.add_argument("--seed", type=int, default=SEED, help="bootstrap seed")
    parser.add_argument("--out", help="write the comparison as JSON here")
    args = parser.parse_args(argv)
    from foleystudio.errors import FoleyStudioError

    try:
        result = compare(load_result(args.a), load_result(args.b), args.metric, args.seed)
    except FoleyStudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_report(result))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
