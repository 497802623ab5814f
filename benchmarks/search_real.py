"""Search on real footage: GMDS against best-of-N against one sample, judged by the soundtrack
(issue 17's evaluation, second part).

Run ``python benchmarks/search_real.py FOLDER [--manifest [FILE]] [--model M] [--seconds S]``.
FOLDER holds real clips with their recorded sound (``benchmarks/real_footage.py`` extracts the
manifest's clips; their licences are unknown, so nothing of them is committed). Each clip's
first ``--seconds`` (default 8) is generated with the request defaults and no prompt by the
systems of ``benchmarks/search.py`` (GMDS N 6, T 2, 4 search steps; best-of-14 at equal
sampling steps; best-of-6; one sample), and each chosen take's onsets are scored by event F1
(±80 ms) against the soundtrack's onsets and against them 0.5 s late, as in
``benchmarks/real_events.py``. With ``--manifest`` only the clips with visible impacts are
measured, and each set is summarised. Results: ``benchmarks/results/search_real.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "search_real.json"


def measure_clip(engine: Any, path: Path, model: str, seed: int, seconds: float) -> dict[str, Any]:
    """The systems on one real clip: F1 of each chosen take against the soundtrack's onsets."""
    from benchmarks.real_events import REFERENCE_NOISE_SIGMAS, f1_pair
    from benchmarks.search import STEPS, run_systems
    from foleystudio.core.media import probe, read_audio
    from foleystudio.core.requests import GenerationRequest
    from foleystudio.core.settings import GenerationSettings
    from foleystudio.ml.onsets import ONSET_ANALYSIS_RATE, detect_onsets

    end = min(seconds, probe(path).duration)
    sound = read_audio(path, ONSET_ANALYSIS_RATE, end=end)
    reference = detect_onsets(sound, ONSET_ANALYSIS_RATE, noise_sigmas=REFERENCE_NOISE_SIGMAS)
    base = GenerationRequest(
        str(path), end=end, settings=GenerationSettings(model=model, steps=STEPS, seed=seed)
    )
    chosen, _, times, _ = run_systems(engine, base, seed)
    systems = {
        name: {
            **f1_pair(detect_onsets(c.audio, c.sample_rate), reference, end),
            "sync_score": round(float(c.scores.get("sync", float("nan"))), 4),
        }
        for name, c in chosen.items()
    }
    return {
        "clip": path.stem,
        "duration": round(end, 3),
        "reference_onsets": len(reference),
        "systems": systems,
        "seconds": {k: round(v, 2) for k, v in times.items()},
    }


def summarise(rows: list[dict[str, Any]], seed: int = 0) -> dict[str, Any]:
    """Per system: mean F1 and shifted F1 (95 % bootstrap intervals over clips); paired
    differences of F1 between systems."""
    from benchmarks.search import SYSTEMS
    from benchmarks.sync import bootstrap_mean

    if not rows:
        return {"clips": 0}
    rng = np.random.default_rng(seed)
    systems = {
        name: {k: bootstrap_mean([r["systems"][name][k] for r in rows], rng) for k in ("f1", "f1_shifted")}
        for name in SYSTEMS
    }
    differences = {
        f"{a}-{b}": bootstrap_mean([r["systems"][a]["f1"] - r["systems"][b]["f1"] for r in rows], rng)
        for a, b in (("gmds", SYSTEMS[1]), ("gmds", "one"), (SYSTEMS[1], "one"))
    }
    return {"clips": len(rows), "systems": systems, "differences": differences}


def run(
    folder: Path,
    *,
    sets: dict[str, set[str]] | None,
    impact: set[str] | None,
    model: str = "foleyworld-tiny",
    seconds: float = 8.0,
    seed: int = 0,
    out: Path = RESULTS,
) -> dict[str, Any]:
    from benchmarks.real_events import VIDEO_SUFFIXES
    from foleystudio.core.atomicfile import atomic_write_bytes
    from foleystudio.core.machine import machine_description
    from foleystudio.ml.engine import GenerationEngine

    clips = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    if impact is not None:
        clips = [p for p in clips if p.stem in impact]
    engine = GenerationEngine("cpu")
    started = time.perf_counter()
    rows = []
    for i, path in enumerate(clips):
        row = measure_clip(engine, path, model, seed + 100 * i, seconds)
        rows.append(row)
        line = ", ".join(f"{k} {v['f1']:.2f} ({v['f1_shifted']:.2f})" for k, v in row["systems"].items())
        print(f"{i + 1}/{len(clips)} {path.stem}: {line}; seconds {row['seconds']}", flush=True)
    result: dict[str, Any] = {
        "benchmark": "search_real",
        "machine": machine_description(load_average=True),
        "model": model,
        "settings": {"seconds": seconds, "seed": seed, "impact_only": impact is not None},
        "all": summarise(rows, seed),
        "per_clip": rows,
        "wall_s": round(time.perf_counter() - started, 1),
    }
    if sets:
        result["sets"] = {
            name: summarise([r for r in rows if r["clip"] in members], seed) for name, members in sets.items()
        }
    atomic_write_bytes(out, (json.dumps(result, indent=1) + "\n").encode())
    return result


def format_report(result: dict[str, Any]) -> str:
    from benchmarks.sync import format_stat

    lines = []
    for name, summary in [("all", result["all"]), *result.get("sets", {}).items()]:
        if not summary.get("clips"):
            continue
        lines.append(
            f"{name}: {summary['clips']} clips, event F1 ±80 ms against the soundtrack (shifted 0.5 s)"
        )
        for system, row in summary["systems"].items():
            lines.append(f"  {system:<12} {format_stat(row['f1']):<24} ({format_stat(row['f1_shifted'])})")
        for key, diff in summary["differences"].items():
            lines.append(f"  {key:<22} {format_stat(diff)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="folder of real clips with their recorded sound")
    parser.add_argument(
        "--manifest",
        nargs="?",
        const=str(Path(__file__).resolve().parent / "real_footage.json"),
        default=None,
        help="measure the manifest's impact clips, per set",
    )
    parser.add_argument("--model", default="foleyworld-tiny")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    if not folder.is_dir():
        print(f"real search benchmark: error: {folder}: not a folder", file=sys.stderr)
        return 2
    sets = impact = None
    if args.manifest:
        from benchmarks.real_footage import RealFootageError, clip_sets, load_manifest

        try:
            impact, sets = clip_sets(load_manifest(Path(args.manifest)))
        except RealFootageError as exc:
            print(f"real search benchmark: error: {exc}", file=sys.stderr)
            return 2
    result = run(
        folder,
        sets=sets,
        impact=impact,
        model=args.model,
        seconds=args.seconds,
        seed=args.seed,
        out=Path(args.out),
    )
    print(format_report(result))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
