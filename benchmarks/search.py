"""Search benchmark: does GMDS over initial noises give better sound than best-of-N at equal
compute, and than one sample? (issue 17; docs/architecture.md §7.1)

Run ``python benchmarks/search.py [--quick] [--model M] [--clips N] [--seed S]`` or
``foleystudio bench search [--quick] [--model M]``. Results: ``benchmarks/results/search.json``
(with the machine description and its load) and a table on stdout.

Clips: held-out FoleyWorld clips, as ``benchmarks/sync.py`` makes them (a fresh corpus of
corpus seed 9001, standard look; or ``--data DIR`` and ``--split``), each measured on its
first 8 s, prompted with the clip's short text. Systems, all with the request defaults
(16 Euler steps, sync guidance 3) and every candidate's seed from the clip's seed s:

- ``gmds``: N = 6, T = 2, 4 search steps, σ_s 0.3, σ_l 0.7: 6 + 2·12 = 30 previews of
  4 steps, then the 6 kept noises rendered at 16 steps; the best by total.
- ``best_of_14``: 14 seeds rendered at 16 steps, the best by total. Equal compute in
  sampling steps (rows × steps): GMDS 30·4 + 6·16 = 216, best-of-14 14·16 = 224.
- ``best_of_6``: the best of the first 6 of those seeds (the population GMDS starts from,
  at full steps, re-scored within those 6).
- ``one``: seed s alone (the first of those seeds).

Judged by external metrics, never by the scores the search optimised: onset F1 (±50 ms)
against the true onsets of the visible sources, AA-Align (±0.1 s) against the onsets of the
true mix (both as in ``benchmarks/sync.py``), and SSMS top-1/top-3 of the bundle's category
classifier against the true mix. Reported: means with 95 % bootstrap intervals over clips,
paired differences, each system's internal total and criteria, the wall time of each
generation (video features included: the feature cache is cleared first), and, for GMDS, how
well a 4-step preview's sync score predicts its full render's (Spearman over the kept noises).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "search.json"
FULL_CLIPS, QUICK_CLIPS = 12, 3
POPULATION, ITERATIONS, SEARCH_STEPS, STEPS = 6, 2, 4, 16
#: Best-of-M with M full renders matching GMDS's sampling steps (rounded up).
BEST_OF = -(-(POPULATION * SEARCH_STEPS * (1 + 2 * ITERATIONS) + POPULATION * STEPS) // STEPS)
SYSTEMS = ("gmds", f"best_of_{BEST_OF}", f"best_of_{POPULATION}", "one")
METRICS = ("onset_f1", "aa_align")
#: Budget: one search over 8 s of video on the 2-core CPU (issue 17).
BUDGET_S = 10.0


def spearman(a: list[float], b: list[float]) -> float | None:
    """Spearman rank correlation (ties ranked by order); None for fewer than 3 pairs."""
    if len(a) < 3:
        return None
    ra = np.argsort(np.argsort(a)).astype(float)
    rb = np.argsort(np.argsort(b)).astype(float)
    if ra.std() == 0 or rb.std() == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])


def run_systems(
    engine: Any, base: Any, seed: int
) -> tuple[dict[str, Any], list[Any], dict[str, float], dict[str, float]]:
    """Every system on one request: ``(chosen candidate per system, GMDS's kept candidates,
    wall seconds, CPU seconds)``; each timing includes the video features (cache cleared)."""
    from foleystudio.core.ranking import settings_weights, with_totals

    gmds_request = base.replace(num_candidates=POPULATION, search_iters=ITERATIONS, search_steps=SEARCH_STEPS)
    times: dict[str, float] = {}
    cpu: dict[str, float] = {}
    engine._features.clear()  # each timing includes the video features, as a user's first run
    started, cpu_started = time.perf_counter(), time.process_time()
    found = engine.generate(gmds_request)
    times["gmds"], cpu["gmds"] = time.perf_counter() - started, time.process_time() - cpu_started
    engine._features.clear()
    started, cpu_started = time.perf_counter(), time.process_time()
    plain = engine.generate(base.replace(num_candidates=BEST_OF))
    name = f"best_of_{BEST_OF}"
    times[name], cpu[name] = time.perf_counter() - started, time.process_time() - cpu_started
    by_seed = {c.seed: c for c in plain}
    first = [by_seed[seed + i] for i in range(POPULATION)]
    rescored = with_totals([c.scores for c in first], settings_weights(base.settings))
    chosen = {
        "gmds": found[0],
        f"best_of_{BEST_OF}": plain[0],
        f"best_of_{POPULATION}": first[int(np.argmax([r["total"] for r in rescored]))],
        "one": by_seed[seed],
    }
    return chosen, found, times, cpu


def measure_clip(engine: Any, record: Any, model: str, seed: int, duration: float) -> dict[str, Any]:
    """Every system on one clip: chosen candidates' external metrics, internal scores, times."""
    from benchmarks.sync import AA_TOLERANCE_S, ONSET_TOLERANCE_S, category_scores, true_onsets
    from foleystudio.core.audio import load_audio
    from foleystudio.core.media import read_audio
    from foleystudio.core.requests import GenerationRequest
    from foleystudio.core.settings import GenerationSettings
    from foleystudio.ml.metrics import aa_align, onset_f1
    from foleystudio.ml.onsets import detect_onsets

    end = min(duration, float(record.truth["duration"]))
    settings = GenerationSettings(model=model, steps=STEPS, seed=seed)
    base = GenerationRequest(str(record.video), end=end, text=record.text, settings=settings)
    chosen, found, times, cpu = run_systems(engine, base, seed)
    rate = found[0].sample_rate
    if record.audio is not None:
        mix, _ = load_audio(record.audio, rate, mono=True)
    else:
        mix = read_audio(record.video, rate, mono=True, end=end)
    mix = mix[: round(end * rate)]
    truth_times, _ = true_onsets(record.truth, end)
    reference = detect_onsets(mix, rate)
    loaded = engine.model(model)
    systems: dict[str, Any] = {}
    for name, cand in chosen.items():
        onsets = detect_onsets(cand.audio, rate)
        systems[name] = {
            "onset_f1": onset_f1(onsets, truth_times, ONSET_TOLERANCE_S)[2],
            "aa_align": aa_align(onsets, reference, AA_TOLERANCE_S),
            "scores": {k: round(float(v), 4) for k, v in cand.scores.items()},
            "noise": cand.recipe.id,
        }
        if loaded.audio is not None and loaded.audio_classifier is not None:
            systems[name]["class_scores"] = category_scores(loaded, cand.audio)
    truth_classes = (
        category_scores(loaded, mix)
        if loaded.audio is not None and loaded.audio_classifier is not None
        else None
    )
    previews = [
        (c.preview_scores.get("sync"), c.scores.get("sync")) for c in found if "sync" in c.preview_scores
    ]
    return {
        "name": record.name,
        "categories": sorted({s["category"] for s in record.truth["sources"]}),
        "n_true_onsets": len(truth_times),
        "seconds": {k: round(v, 2) for k, v in times.items()},
        "cpu_seconds": {k: round(v, 2) for k, v in cpu.items()},
        "systems": systems,
        "truth_classes": truth_classes,
        "gmds_moves": [len(c.recipe.moves) for c in found],
        "preview_vs_final_sync": [[round(float(a), 4), round(float(b), 4)] for a, b in previews],
    }


def summarise(clips: list[dict[str, Any]], seed: int) -> dict[str, Any]:
    """Means with bootstrap intervals, paired differences, SSMS and the preview check."""
    from benchmarks.sync import bootstrap_mean
    from foleystudio.ml.metrics import ssms

    rng = np.random.default_rng(seed)
    systems: dict[str, Any] = {}
    for name in SYSTEMS:
        row: dict[str, Any] = {
            m: bootstrap_mean([c["systems"][name][m] for c in clips], rng) for m in METRICS
        }
        for score in ("total", "semantic", "text", "sync"):
            values = [c["systems"][name]["scores"].get(score) for c in clips]
            if all(v is not None for v in values):
                row[f"internal_{score}"] = round(float(np.mean(values)), 4)
        if all(c["truth_classes"] is not None for c in clips):
            pred = np.array([c["systems"][name]["class_scores"] for c in clips])
            ref = np.array([c["truth_classes"] for c in clips])
            row["ssms_top1"] = round(ssms(pred, ref, 1), 4)
            row["ssms_top3"] = round(ssms(pred, ref, 3), 4)
        systems[name] = row
    differences = {
        f"{a}-{b}": {
            m: bootstrap_mean([c["systems"][a][m] - c["systems"][b][m] for c in clips], rng) for m in METRICS
        }
        for a, b in (("gmds", SYSTEMS[1]), ("gmds", SYSTEMS[2]), ("gmds", "one"), (SYSTEMS[1], "one"))
    }
    seconds = {name: [c["seconds"][name] for c in clips] for name in clips[0]["seconds"]}
    cpu = {name: [c["cpu_seconds"][name] for c in clips] for name in clips[0]["cpu_seconds"]}
    pairs = [p for c in clips for p in c["preview_vs_final_sync"]]
    return {
        "clips": len(clips),
        "systems": systems,
        "differences": differences,
        "seconds": {
            name: {"median": round(float(np.median(v)), 2), "max": round(float(np.max(v)), 2)}
            for name, v in seconds.items()
        },
        "cpu_seconds": {
            name: {"median": round(float(np.median(v)), 2), "max": round(float(np.max(v)), 2)}
            for name, v in cpu.items()
        },
        "gmds_budget_s": BUDGET_S,
        "gmds_within_budget": float(np.median(seconds["gmds"])) <= BUDGET_S,
        "gmds_kept_moved_share": round(float(np.mean([m > 0 for c in clips for m in c["gmds_moves"]])), 3),
        "preview_vs_final_sync_spearman": spearman([p[0] for p in pairs], [p[1] for p in pairs]),
    }


def run(
    quick: bool = False,
    model: str = "foleyworld-tiny",
    data: str | None = None,
    clips: int | None = None,
    seed: int = 0,
    *,
    split: str = "test",
    duration: float = 8.0,
    device: str = "auto",
    threads: int | None = None,
    out: str | Path | None = RESULTS,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the benchmark and return the results (also written to ``out`` unless None).

    ``threads``: torch's CPU threads (None: torch's default). On a CPU shared with other busy
    processes use 1: with 2 threads on 2 busy cores one Flowley forward ran 25–75× slower
    than with 1 (threads waiting on each other), so the default measured contention, not
    the search."""
    from benchmarks.sync import HELDOUT_SEED, corpus_clips, generate_set, model_summary
    from foleystudio.core.atomicfile import atomic_write_bytes
    from foleystudio.core.machine import machine_description
    from foleystudio.errors import UsageError
    from foleystudio.ml.engine import GenerationEngine

    if clips is not None and clips < 1:
        raise UsageError(f"clips must be at least 1, got {clips}")
    say = log or (lambda line: print(line, file=sys.stderr, flush=True))
    if threads is not None:
        if threads < 1:
            raise UsageError(f"threads must be at least 1, got {threads}")
        import torch

        torch.set_num_threads(threads)
    count = clips if clips is not None else (QUICK_CLIPS if quick else FULL_CLIPS)
    engine = GenerationEngine(device)
    loaded = engine.model(model)
    started = time.perf_counter()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="foleystudio-search-") as tmp:
        if data is not None:
            records = corpus_clips(Path(data), split, count)
            source = {"source": str(Path(data).resolve()), "split": split}
        else:
            records = generate_set(Path(tmp) / "heldout", count, HELDOUT_SEED, duration, novel=False)
            source = {"source": "generated", "corpus_seed": HELDOUT_SEED}
        per_clip = []
        for i, record in enumerate(records):
            result = measure_clip(engine, record, model, seed + 100 * i, duration)
            per_clip.append(result)
            row = ", ".join(f"{k} {v['onset_f1']:.2f}" for k, v in result["systems"].items())
            say(f"{i + 1}/{len(records)} {record.name}: onset F1 {row}; seconds {result['seconds']}")
    result: dict[str, Any] = {
        "benchmark": "search",
        "quick": quick,
        "machine": machine_description(load_average=True),
        "load_average_at_start": [round(x, 2) for x in load_before],
        "device": engine.device_name,
        "model": model_summary(loaded),
        "set": source,
        "settings": {
            "duration_s": duration,
            "steps": STEPS,
            "population": POPULATION,
            "iterations": ITERATIONS,
            "search_steps": SEARCH_STEPS,
            "best_of": BEST_OF,
            "sampling_steps": {
                "gmds": POPULATION * SEARCH_STEPS * (1 + 2 * ITERATIONS) + POPULATION * STEPS,
                f"best_of_{BEST_OF}": BEST_OF * STEPS,
                "one": STEPS,
            },
            "seed": seed,
            "threads": threads,
            "prompt": "the clip's short text",
        },
        "summary": summarise(per_clip, seed),
        "per_clip": per_clip,
        "wall_s": round(time.perf_counter() - started, 1),
    }
    if out is not None:
        atomic_write_bytes(Path(out), (json.dumps(result, indent=1) + "\n").encode())
    return result


def format_report(result: dict[str, Any]) -> str:
    """A readable table of the results."""
    from benchmarks.sync import format_stat

    summary = result["summary"]
    s = result["settings"]
    lines = [
        f"model {result['model']['name']} on {result['device']}, {summary['clips']} held-out clips, "
        f"{s['duration_s']} s each; sampling steps per clip: "
        + ", ".join(f"{k} {v}" for k, v in s["sampling_steps"].items()),
        f"{'system':<14}{'onset F1':<22}{'AA-Align':<22}{'SSMS@1':<8}{'SSMS@3':<8}internal total/sync",
    ]
    for name, row in summary["systems"].items():
        lines.append(
            f"{name:<14}{format_stat(row['onset_f1']):<22}{format_stat(row['aa_align']):<22}"
            f"{row.get('ssms_top1', '-')!s:<8}{row.get('ssms_top3', '-')!s:<8}"
            f"{row.get('internal_total', '-')}/{row.get('internal_sync', '-')}"
        )
    lines.append("paired differences (onset F1 / AA-Align):")
    for key, diff in summary["differences"].items():
        lines.append(f"  {key:<22} {format_stat(diff['onset_f1']):<24} {format_stat(diff['aa_align'])}")
    secs = summary["seconds"]
    lines.append(
        "seconds per generation (median/max, features included): "
        + ", ".join(f"{k} {v['median']}/{v['max']}" for k, v in secs.items())
        + f"; GMDS budget {summary['gmds_budget_s']} s: {'met' if summary['gmds_within_budget'] else 'NOT met'}"
        + f" (load average at start {result['load_average_at_start']})"
    )
    lines.append(
        "CPU seconds of this process per generation (median/max; with 1 thread ≈ one core's work): "
        + ", ".join(f"{k} {v['median']}/{v['max']}" for k, v in summary["cpu_seconds"].items())
    )
    lines.append(
        f"GMDS kept noises that moved: {summary['gmds_kept_moved_share']:.0%}; preview→final sync "
        f"Spearman {summary['preview_vs_final_sync_spearman']}"
    )
    lines.append(f"wall time {result['wall_s']} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_CLIPS} clips")
    parser.add_argument("--model", default="foleyworld-tiny", help="bundle name or folder")
    parser.add_argument("--data", help="FoleyWorld corpus folder (default: generate a held-out set)")
    parser.add_argument("--split", default="test", help="split of --data to use (train, val, test, all)")
    parser.add_argument("--clips", type=int, help=f"clips (default {FULL_CLIPS})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (1 on a busy shared CPU)"
    )
    parser.add_argument("--out", default=str(RESULTS), help="results JSON")
    args = parser.parse_args(argv)
    from foleystudio.errors import FoleyStudioError

    try:
        result = run(
            args.quick,
            args.model,
            args.data,
            args.clips,
            args.seed,
            split=args.split,
            device=args.device,
            threads=args.threads,
            out=args.out,
        )
    except FoleyStudioError as exc:
        print(f"search benchmark: error: {exc}", file=sys.stderr)
        return 2
    print(format_report(result))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
