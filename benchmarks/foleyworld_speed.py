"""FoleyWorld generation speed: clips per second on this CPU.

Run ``python benchmarks/foleyworld_speed.py [--quick]``; ``foleystudio bench`` may import
:func:`run`. Clips are the training default: 8 s, 128 px, 24 fps, 16 kHz, 1–3 sources,
ambience and (half of the time) off-screen noise.

Measured:
- ``generate``: :func:`generate_clip` only (simulate, render, synthesise, mix) in memory;
- ``generate_and_write``: plus writing MP4 (H.264 + AAC 48 kHz), WAV mix, WAV stems, JSON;
- ``per_category``: generate time of single-source clips, by category;
- ``corpus_2_jobs`` (full run only): :func:`generate_corpus` with 2 worker processes,
  wall clock including process start-up, and the projected time for 2000 clips.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "foleyworld_speed.json"
DURATION, SIZE = 8.0, 128


def _rate(seconds: list[float]) -> dict[str, float]:
    arr = np.asarray(seconds)
    return {
        "clips": int(arr.size),
        "mean_s": round(float(arr.mean()), 4),
        "p50_s": round(float(np.median(arr)), 4),
        "max_s": round(float(arr.max()), 4),
        "clips_per_s": round(float(arr.size / arr.sum()), 3),
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Measure and return the figures (also written to ``benchmarks/results/foleyworld_speed.json``)."""
    from foleystudio.core.machine import machine_description
    from foleystudio.data.foleyworld import CATEGORIES, generate_clip, generate_corpus, write_clip

    machine = machine_description(load_average=True)  # the load at the start
    n = 6 if quick else 30
    generate_clip(0, duration=1.0, size=32)  # warm imports and filter caches
    gen: list[float] = []
    sources: list[int] = []
    for seed in range(n):
        t0 = time.perf_counter()
        clip = generate_clip(1000 + seed, duration=DURATION, size=SIZE)
        gen.append(time.perf_counter() - t0)
        sources.append(len(clip.truth["sources"]))
    both: list[float] = []
    with tempfile.TemporaryDirectory(prefix="foleyworld-bench-") as tmp:
        for seed in range(n):
            t0 = time.perf_counter()
            clip = generate_clip(2000 + seed, duration=DURATION, size=SIZE)
            write_clip(clip, tmp, f"c{seed}")
            both.append(time.perf_counter() - t0)
        disk = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file()) / n
    per_category = {}
    for cat in CATEGORIES:
        times = []
        for seed in range(2 if quick else 4):
            t0 = time.perf_counter()
            generate_clip(seed, duration=DURATION, size=SIZE, n_sources=1, categories=[cat])
            times.append(time.perf_counter() - t0)
        per_category[cat] = round(float(np.mean(times)), 4)
    result: dict[str, Any] = {
        "benchmark": "foleyworld_speed",
        "quick": quick,
        "machine": machine,
        "clip": {
            "duration_s": DURATION,
            "size": SIZE,
            "fps": 24,
            "sample_rate": 16000,
            "mean_sources": round(float(np.mean(sources)), 2),
        },
        "generate": _rate(gen),
        "generate_and_write": _rate(both),
        "disk_per_clip_mb": round(disk / 1e6, 3),
        "per_category_generate_s": per_category,
    }
    if not quick:
        with tempfile.TemporaryDirectory(prefix="foleyworld-bench-") as tmp:
            m = 40
            t0 = time.perf_counter()
            generate_corpus(tmp, m, seed=7, duration=DURATION, size=SIZE, jobs=2)
            wall = time.perf_counter() - t0
        result["corpus_2_jobs"] = {
            "clips": m,
            "wall_s": round(wall, 2),
            "clips_per_s": round(m / wall, 3),
            "projected_2000_clips_min": round(2000 / (m / wall) / 60, 1),
        }
    else:
        single = result["generate_and_write"]["clips_per_s"]
        result["projected_2000_clips_min_2_jobs_estimate"] = round(2000 / (2 * single) / 60, 1)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer clips, no multi-process run")
    args = parser.parse_args(argv)
    result = run(quick=args.quick)
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
