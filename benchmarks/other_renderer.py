"""Other-renderer benchmark: is a given event track followed on pictures FoleyWorld never drew?

Run ``python benchmarks/other_renderer.py [--quick] [--model M] [--clips N]`` or
``foleystudio bench other-renderer``. Results: ``benchmarks/results/other_renderer.json``.

FoleyWorld's event-following figures (``event_following.py``) are measured on FoleyWorld's
own look. A model can follow tracks better there and worse elsewhere (docs/decisions.md,
the candidate 1.2.0), and elsewhere is where a user gives a track. So this draws its own
clips, with plain NumPy: a disc (random colour, 5–14 px radius) going left and right or up
and down with a random period over a random noisy backdrop, 4 s at 25 fps, 160 × 96 px.
Each clip is given a track of 5 events placed away from the disc's turns (≥ 0.15 s), and
generated with defaults (one seed per clip). Measured on the generated onsets
(``detect_onsets``): recall and F1 (±50 ms) against the given track, recall against the same
track 0.2 s late (what following by chance gives) and against the picture's turns.
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

RESULTS = Path(__file__).resolve().parent / "results" / "other_renderer.json"
FPS = 25
SECONDS = 4.0
SIZE = (96, 160)
TOLERANCE_S = 0.05
EVENTS = 5
SEED = 4242


def draw_clip(rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray]:
    """Frames of one clip and the times (s) the disc turns."""
    height, width = SIZE
    base = rng.uniform(30, 200, size=3)
    backdrop = base + rng.uniform(10, 50) * rng.random((height, width, 1))
    colour = rng.uniform(0, 255, size=3)
    radius = rng.uniform(5, 14)
    period = rng.uniform(0.6, 1.4)
    horizontal = bool(rng.random() < 0.5)
    yy, xx = np.mgrid[0:height, 0:width]
    span = (width if horizontal else height) - 2 * radius - 4
    frames = []
    for i in range(round(SECONDS * FPS)):
        u = (i / FPS / period) % 1.0
        along = radius + 2 + span * (1 - abs(2 * u - 1))
        x, y = (along, height / 2) if horizontal else (width / 2, along)
        frame = backdrop + rng.normal(0, 2.0, backdrop.shape)
        frame[(xx - x) ** 2 + (yy - y) ** 2 <= radius**2] = colour
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    turns = np.arange(period / 2, SECONDS, period / 2)
    return frames, turns


def track_away_from(turns: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """:data:`EVENTS` sorted times in (0.3, SECONDS − 0.3) s, ≥ 0.15 s from any turn and ≥ 0.3 s apart."""
    chosen: list[float] = []
    for _ in range(10000):
        if len(chosen) == EVENTS:
            break
        t = float(rng.uniform(0.3, SECONDS - 0.3))
        if np.all(np.abs(turns - t) >= 0.15) and all(abs(t - c) >= 0.3 for c in chosen):
            chosen.append(t)
    return np.sort(np.array(chosen))


def measure(
    engine: Any,
    video: Path,
    given: np.ndarray,
    turns: np.ndarray,
    model: str,
    seed: int,
    sync_cfg: float,
) -> dict[str, Any]:
    from foleystudio.core.events import EventTrack
    from foleystudio.core.requests import GenerationRequest
    from foleystudio.core.settings import GenerationSettings
    from foleystudio.ml.metrics import onset_f1
    from foleystudio.ml.onsets import detect_onsets

    request = GenerationRequest(
        str(video),
        end=SECONDS,
        events=(("", EventTrack.from_times(given)),),
        settings=GenerationSettings(model=model, seed=seed, sync_cfg=sync_cfg),
    )
    (candidate,) = engine.generate(request)
    onsets = detect_onsets(candidate.audio, candidate.sample_rate)
    _, recall, f1 = onset_f1(onsets, given, TOLERANCE_S)
    return {
        "onsets": len(onsets),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "recall_late": round(onset_f1(onsets, given + 0.2, TOLERANCE_S)[1], 4),
        "recall_turns": round(onset_f1(onsets, turns, TOLERANCE_S)[1], 4),
    }


def run(
    quick: bool = False,
    model: str = "foleyworld-tiny",
    clips: int | None = None,
    seed: int = 0,
    out: Path = RESULTS,
    sync_cfg: float | None = None,
) -> dict[str, Any]:
    """Measure ``clips`` drawn clips; ``sync_cfg`` None keeps the request default."""
    from foleystudio.core.machine import machine_description
    from foleystudio.core.settings import GenerationSettings
    from foleystudio.core.videowriter import write_video
    from foleystudio.ml.engine import GenerationEngine

    n = clips or (4 if quick else 12)
    sync_cfg = GenerationSettings().sync_cfg if sync_cfg is None else sync_cfg
    rng = np.random.default_rng(SEED)
    engine = GenerationEngine("cpu")
    rows = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fs-other-") as tmp:
        for i in range(n):
            frames, turns = draw_clip(rng)
            given = track_away_from(turns, rng)
            video = write_video(Path(tmp) / f"clip_{i:02d}.mp4", frames, FPS)
            rows.append(
                {
                    "clip": i,
                    "events": len(given),
                    **measure(engine, video, given, turns, model, seed + i, sync_cfg),
                }
            )
    wall = time.perf_counter() - started
    summary = {
        k: round(float(np.mean([r[k] for r in rows])), 4)
        for k in ("recall", "f1", "recall_late", "recall_turns", "onsets")
    }
    result = {
        "benchmark": "other_renderer",
        "machine": machine_description(),
        "model": model,
        "settings": {
            "clips": n,
            "seconds": SECONDS,
            "fps": FPS,
            "events": EVENTS,
            "tolerance_s": TOLERANCE_S,
            "seed": SEED,
            "sync_cfg": sync_cfg,
        },
        "summary": summary,
        "per_clip": rows,
        "wall_seconds": round(wall, 1),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    return result


def format_report(result: dict[str, Any]) -> str:
    s = result["summary"]
    return (
        f"{result['settings']['clips']} clips drawn by another renderer, {EVENTS} given events each "
        f"(±50 ms): recall {s['recall']:.2f}, F1 {s['f1']:.2f}; recall of the track 0.2 s late "
        f"{s['recall_late']:.2f}, of the picture's turns {s['recall_turns']:.2f}; {s['onsets']:.1f} onsets per take"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 clips instead of 12")
    parser.add_argument("--model", default="foleyworld-tiny")
    parser.add_argument("--clips", type=int, default=None)
    parser.add_argument("--sync-cfg", type=float, default=None, help="sync guidance (default: the request's)")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    result = run(args.quick, args.model, args.clips, out=Path(args.out), sync_cfg=args.sync_cfg)
    print(format_report(result))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
