"""Feature extraction speed for 8 s of 1080p video (docs/architecture.md §12: budget < 2 s on the CPU).

Run ``python benchmarks/features_speed.py [--quick]``; ``foleystudio bench`` imports :func:`run`.

What one extraction does, timed end to end (decoding included):
1. decode 0–8 s of the 1080p H.264 benchmark clip (``benchmarks/media.py``: textured panning
   background, moving square, grain) with ``core.media.VideoFile.iter_frames(24, size=160)``
   — FFmpeg scales each frame to 160 px while converting it, 192 frames;
2. motion energy (``ml.encoders.motion.motion_energy``) on those 24 fps frames;
3. CLIP image embeddings of every third frame (8 fps, 64 frames) with the ``fw-clip-tiny``
   encoder (random weights: speed does not depend on their values);
4. the visual onset track of the whole picture (``ml.encoders.visual_onsets.onset_tracks``,
   the default network's shape, random weights) on the 192 frames.
Also reported: steps 2–3 alone on the decoded frames (what a feature cache saves), and the
first CLIP call of a process (kernel set-up), which the steady-state figures exclude.

``extract_video_features``: what the engine runs per range, end to end —
``ml.features.extract_video_features(..., onset_net=..., with_flow=True)`` (CLIP tokens, motion
energy, visual onsets and optical flow at the video's own rate, from one decoding pass) on the
first 8 s of the 1080p clip and of the 640×360 30 fps clip of ``benchmarks/flow_speed.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "features_speed.json"
SECONDS, MOTION_FPS, CLIP_FPS, DECODE_SIZE = 8.0, 24, 8, 160
BUDGET_S = 2.0


def run(quick: bool = False) -> dict[str, object]:
    """Measure and return the figures (also written to benchmarks/results/features_speed.json)."""
    from benchmarks.flow_speed import flow_clip
    from benchmarks.media import bench_clip
    from foleystudio.core.atomicfile import atomic_write_bytes
    from foleystudio.core.machine import machine_description
    from foleystudio.core.media import VideoFile
    from foleystudio.ml.encoders.clip_encoder import ClipEncoder, ClipEncoderConfig
    from foleystudio.ml.encoders.motion import grey_small, motion_energy
    from foleystudio.ml.encoders.visual_onsets import VisualOnsetNet, onset_tracks
    from foleystudio.ml.features import extract_video_features

    machine = machine_description(load_average=True)  # the load at the start
    clip_path = bench_clip()
    encoder = ClipEncoder.from_config(ClipEncoderConfig("fw-clip-tiny"), "cpu", seed=0)
    onset_net = VisualOnsetNet().eval()
    step = MOTION_FPS // CLIP_FPS
    # The first call at a batch shape is slow (oneDNN builds its kernels): time it apart, as
    # the cost the first video of a session pays once; the repeats measure the steady state.
    n_clip = int(SECONDS * CLIP_FPS)
    t0 = time.perf_counter()
    encoder.encode_images(np.zeros((n_clip, 90, 160, 3), np.uint8))
    cold_clip_s = time.perf_counter() - t0
    repeats = 1 if quick else 3
    decode_s, motion_s, clip_s, onset_s, total_s = [], [], [], [], []
    frames: list[np.ndarray] = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        with VideoFile(clip_path) as video:
            frames = [f for _, f in video.iter_frames(MOTION_FPS, DECODE_SIZE, start=0.0, end=SECONDS)]
        t1 = time.perf_counter()
        motion = motion_energy(frames, fps=MOTION_FPS)
        t2 = time.perf_counter()
        embeddings = encoder.encode_images(np.stack(frames[::step]))
        t3 = time.perf_counter()
        onset_tracks(onset_net, [grey_small(f) for f in frames])
        t4 = time.perf_counter()
        decode_s.append(t1 - t0)
        motion_s.append(t2 - t1)
        clip_s.append(t3 - t2)
        onset_s.append(t4 - t3)
        total_s.append(t4 - t0)

    def median(values: list[float]) -> float:
        return round(float(np.median(values)), 4)

    extract: dict[str, object] = {}
    for name, path in (("1080p_24fps", clip_path), ("640x360_30fps", flow_clip())):
        seconds = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            feats = extract_video_features(path, 0.0, SECONDS, encoder, onset_net=onset_net, with_flow=True)
            seconds.append(time.perf_counter() - t0)
        assert feats.flow is not None
        extract[name] = {
            "seconds": median(seconds),
            "x_real_time": round(SECONDS / median(seconds), 2),
            "motion_frames": int(feats.motion.n_frames),
            "flow_frames": int(feats.flow.n_frames),
        }

    total = median(total_s)
    result: dict[str, object] = {
        "benchmark": "features_speed",
        "quick": quick,
        "machine": machine,
        "input": {
            "clip": "benchmarks/media.py 1080p H.264 clip (1920x1080, 24 fps), first 8 s",
            "decoding_included": True,
            "decode_size_px": DECODE_SIZE,
            "frame_size": list(frames[0].shape[:2]),
            "motion_frames": int(motion.n_frames),
            "clip_frames": int(embeddings.shape[0]),
            "clip_model": "fw-clip-tiny",
        },
        "repeats": repeats,
        "seconds": {
            "decode_scale": median(decode_s),
            "motion_energy": median(motion_s),
            "clip_images": median(clip_s),
            "visual_onsets": median(onset_s),
            "total": total,
            "features_only": median([m + c + o for m, c, o in zip(motion_s, clip_s, onset_s, strict=True)]),
            "clip_images_first_call": round(cold_clip_s, 4),
        },
        "x_real_time": round(SECONDS / total, 2),
        "extract_video_features": extract,
        "budget_s": BUDGET_S,
        "within_budget": total < BUDGET_S,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(RESULTS, (json.dumps(result, indent=2) + "\n").encode())
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repetition instead of three")
    args = parser.parse_args(argv)
    result = run(quick=args.quick)
    s = result["seconds"]
    print(f"input: {result['input']}")
    print(
        f"8 s of 1080p: decode+scale {s['decode_scale']:.3f} s, motion {s['motion_energy']:.3f} s, "  # type: ignore[index]
        f"CLIP {s['clip_images']:.3f} s, visual onsets {s['visual_onsets']:.3f} s, total {s['total']:.3f} s ({result['x_real_time']}x real time)"  # type: ignore[index]
    )
    for name, figures in result["extract_video_features"].items():  # type: ignore[attr-defined]
        print(
            f"extract_video_features with flow, 8 s of {name}: {figures['seconds']:.3f} s ({figures['x_real_time']}x real time)"
        )
    print(f"within the {BUDGET_S} s budget: {result['within_budget']}; written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
