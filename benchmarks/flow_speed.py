"""Optical-flow feature speed: 10 s of 640×360 video at 30 fps (issue 14 target: ≤ 0.1× real time).

Run ``python benchmarks/flow_speed.py [--quick]`` or ``foleystudio bench flow``.

Timed end to end, decoding included: ``ml.encoders.optical_flow.flow_from_video`` on the
whole picture and one object box (decoding every frame at the file's own 30 fps, scaling to
256 px, DIS flow, the per-region statistics), then the event detector
(``ml.event_detector.detect_in_region``) on both. The clip is the media benchmark's texture
(panning, grain, a moving square; ``benchmarks/media.py``) at 640×360, encoded on first use.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "flow_speed.json"
SECONDS, FPS, SIZE = 10, 30, (640, 360)
TARGET_X_REAL_TIME = 0.1


def flow_clip() -> Path:
    """The 640×360, 30 fps H.264 clip (cached in the temp folder)."""
    from benchmarks.media import _clip_frames
    from foleystudio.core.videowriter import write_video

    folder = Path(tempfile.gettempdir()) / "foleystudio-bench"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"h264_{SIZE[1]}p_{SECONDS}s_{FPS}fps_flow.mp4"
    if not path.exists():
        write_video(path, _clip_frames(SECONDS * FPS, *SIZE), FPS, preset="fast")
    return path


def run(quick: bool = False) -> dict[str, object]:
    """Measure and return the figures (also written to benchmarks/results/flow_speed.json)."""
    from foleystudio.core.atomicfile import atomic_write_bytes
    from foleystudio.core.boxes import Box, BoxKeyframe
    from foleystudio.core.machine import machine_description
    from foleystudio.ml.encoders.optical_flow import flow_from_video
    from foleystudio.ml.event_detector import detect_in_region

    machine = machine_description(load_average=True)
    clip = flow_clip()
    box = (BoxKeyframe(0.0, Box(0.25, 0.25, 0.5, 0.5)),)
    repeats = 1 if quick else 3
    flow_s, detect_s = [], []
    n_frames = 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        flow = flow_from_video(clip, 0.0, float(SECONDS), objects=[box])
        t1 = time.perf_counter()
        detect_in_region(flow)
        detect_in_region(flow, 0)
        t2 = time.perf_counter()
        flow_s.append(t1 - t0)
        detect_s.append(t2 - t1)
        n_frames = flow.n_frames
    total = float(np.median(flow_s) + np.median(detect_s))
    result: dict[str, object] = {
        "benchmark": "flow_speed",
        "quick": quick,
        "machine": machine,
        "input": {"size": list(SIZE), "fps": FPS, "seconds": SECONDS, "frames": n_frames, "boxes": 1},
        "repeats": repeats,
        "seconds": {
            "decode_and_flow": round(float(np.median(flow_s)), 4),
            "detector": round(float(np.median(detect_s)), 4),
            "total": round(total, 4),
        },
        "x_real_time": round(total / SECONDS, 4),
        "target_x_real_time": TARGET_X_REAL_TIME,
        "within_target": total / SECONDS <= TARGET_X_REAL_TIME,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(RESULTS, (json.dumps(result, indent=2) + "\n").encode())
    return result


def format_report(result: dict[str, object]) -> str:
    s = result["seconds"]
    return (
        f"10 s of 640x360 at 30 fps: decode+flow {s['decode_and_flow']:.3f} s, detector {s['detector']:.3f} s, "  # type: ignore[index]
        f"total {s['total']:.3f} s = {result['x_real_time']}x real time "  # type: ignore[index]
        f"(target <= {TARGET_X_REAL_TIME}x: {'met' if result['within_target'] else 'NOT met'})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repetition instead of three")
    args = parser.parse_args(argv)
    print(format_report(run(quick=args.quick)))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
