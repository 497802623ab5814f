"""Video decode benchmark: time to first frame, seek latency, streamed decode rate.

Run ``python benchmarks/media.py [--quick]``; ``foleystudio bench`` imports :func:`run`.
The clip is a generated 1080p H.264 file (10 s at 24 fps, GOP 48, 3 B-frames, x264 CRF 20):
a textured background panning 6 px per frame, a moving square and per-frame grain, so the
bitrate (~10 Mbit/s) is that of a phone recording rather than of a flat test pattern. It is encoded
once into the temp folder and reused. Budgets (docs/architecture.md §12): first frame < 0.5 s,
seek p95 < 80 ms on 1080p H.264.

Measured:
- ``first_frame_s``: open the file (probe included) and get the RGB frame at t = 0.
- ``seek_ms``: ``frame_at(t)`` at random times (full-size RGB, conversion included), from
  one open file, in random order so nearly every call seeks.
- ``proxy``: the scrubbing proxy (``core/proxy.py``) of the clip: build time, size, and the
  same random seeks on it (``frame_at(t)`` at the proxy's size), for the chosen MJPEG proxy
  and for H.264 with every frame an IDR frame (the alternative, docs/decisions.md). The
  viewer scrubs from the proxy, so the seek budget applies to ``proxy.mjpeg.seek_ms``; the
  full-resolution seek is kept for the still at rest.
- ``stream``: ``iter_frames(8, size=224)`` over the whole clip, frames per second and
  speed against real time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "media.json"
CLIP_SECONDS, CLIP_FPS, CLIP_SIZE, CLIP_GOP, CLIP_BFRAMES = 10, 24, (1920, 1080), 48, 3
FIRST_FRAME_BUDGET_S, SEEK_P95_BUDGET_MS = 0.5, 80.0
#: Per-frame grain (+-levels): sets the bitrate, ~10 Mbit/s like a phone's 1080p recording.
GRAIN = 6


def _clip_frames(n: int, width: int, height: int, seed: int = 0) -> Iterator[np.ndarray]:
    rng = np.random.default_rng(seed)
    # Smooth texture: coarse noise upsampled, wider than the frame so it can pan.
    coarse = rng.integers(30, 200, size=(height // 8 + 1, (width + 6 * n) // 8 + 2, 3), dtype=np.uint8)
    texture = np.repeat(np.repeat(coarse, 8, axis=0), 8, axis=1)[:height]
    for i in range(n):
        frame = np.ascontiguousarray(texture[:, 6 * i : 6 * i + width])
        grain = rng.integers(-GRAIN, GRAIN + 1, size=(height, width, 1), dtype=np.int16)
        frame = np.clip(frame.astype(np.int16) + grain, 0, 255).astype(np.uint8)
        x = (i * 12) % (width - 160)
        frame[height // 2 - 80 : height // 2 + 80, x : x + 160] = 255
        yield frame


def bench_clip(cache_dir: Path | None = None) -> Path:
    """The 1080p H.264 benchmark clip, encoded on first use (tens of seconds on 2 cores)."""
    from foleystudio.core.videowriter import write_video

    cache_dir = cache_dir or Path(tempfile.gettempdir()) / "foleystudio-bench"
    cache_dir.mkdir(parents=True, exist_ok=True)
    width, height = CLIP_SIZE
    name = f"h264_{height}p_{CLIP_SECONDS}s_{CLIP_FPS}fps_gop{CLIP_GOP}_bf{CLIP_BFRAMES}_grain{GRAIN}.mp4"
    path = cache_dir / name
    if not path.exists():
        frames = _clip_frames(CLIP_SECONDS * CLIP_FPS, width, height)
        write_video(path, frames, CLIP_FPS, gop=CLIP_GOP, bframes=CLIP_BFRAMES, preset="fast")
    return path


def _percentile_ms(values: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(values) * 1000.0, q)), 2)


def _proxy_figures(clip: Path, codec: str, targets: np.ndarray) -> dict:
    """Build the clip's proxy with ``codec`` in a fresh folder and time seeks on it."""
    from foleystudio.core.media import VideoFile, probe
    from foleystudio.core.proxy import build_proxy

    with tempfile.TemporaryDirectory(prefix="foleystudio-proxy-") as folder:
        start = time.perf_counter()
        proxy = build_proxy(clip, folder, codec=codec)
        build_s = time.perf_counter() - start
        info = probe(proxy)
        seek_times: list[float] = []
        with VideoFile(proxy) as video:
            video.frame_at(0.0)
            for t in targets:
                start = time.perf_counter()
                video.frame_at(float(t))
                seek_times.append(time.perf_counter() - start)
        return {
            "size": f"{info.width}x{info.height}",
            "build_s": round(build_s, 2),
            "x_real_time": round(info.duration / build_s, 2),
            "megabytes": round(proxy.stat().st_size / 1e6, 2),
            "seek_ms": {
                "seeks": len(seek_times),
                "p50": _percentile_ms(seek_times, 50),
                "p95": _percentile_ms(seek_times, 95),
                "max": round(max(seek_times) * 1000.0, 2),
                "budget_p95": SEEK_P95_BUDGET_MS,
            },
        }


def run(quick: bool = False) -> dict[str, object]:
    """Measure and return the figures (also written to benchmarks/results/media.json)."""
    import av

    from foleystudio.core.machine import machine_description
    from foleystudio.core.media import VideoFile, probe

    machine = machine_description(load_average=True)  # the load at the start
    clip = bench_clip()
    info = probe(clip)
    first_runs = 3 if quick else 10
    seeks = 30 if quick else 100

    first_frame: list[float] = []
    for _ in range(first_runs):
        start = time.perf_counter()
        with VideoFile(clip) as video:
            video.frame_at(0.0)
        first_frame.append(time.perf_counter() - start)

    rng = np.random.default_rng(0)
    targets = rng.uniform(0.0, info.duration, size=seeks)
    seek_times: list[float] = []
    with VideoFile(clip) as video:
        video.frame_at(0.0)
        for t in targets:
            start = time.perf_counter()
            video.frame_at(float(t))
            seek_times.append(time.perf_counter() - start)

    proxies = {codec: _proxy_figures(clip, codec, targets) for codec in ("mjpeg", "libx264")}

    start = time.perf_counter()
    with VideoFile(clip) as video:
        count = sum(1 for _ in video.iter_frames(8, size=224))
    stream_s = time.perf_counter() - start

    # Plain sequential decode of every frame (no conversion): the unit cost a seek multiplies
    # by the distance to its keyframe; it shows how loaded the machine was.
    start = time.perf_counter()
    with av.open(str(clip)) as container:
        container.streams.video[0].thread_type = "AUTO"
        decoded = sum(1 for _ in container.decode(video=0))
    decode_ms = (time.perf_counter() - start) * 1000.0 / decoded

    result: dict[str, object] = {
        "benchmark": "media",
        "quick": quick,
        "machine": machine,
        "clip": {
            "size": f"{info.width}x{info.height}",
            "codec": info.codec,
            "fps": str(info.fps),
            "duration_s": round(info.duration, 3),
            "gop": CLIP_GOP,
            "bframes": CLIP_BFRAMES,
            "bitrate_mbps": round(clip.stat().st_size * 8 / info.duration / 1e6, 2),
        },
        "first_frame_s": {
            "runs": first_runs,
            "p50": round(float(np.median(first_frame)), 4),
            "max": round(max(first_frame), 4),
            "budget": FIRST_FRAME_BUDGET_S,
        },
        "seek_ms": {
            "seeks": seeks,
            "p50": _percentile_ms(seek_times, 50),
            "p95": _percentile_ms(seek_times, 95),
            "max": round(max(seek_times) * 1000.0, 2),
            "budget_p95": SEEK_P95_BUDGET_MS,
        },
        "stream": {
            "target_fps": 8,
            "size": 224,
            "frames": count,
            "seconds": round(stream_s, 3),
            "frames_per_s": round(count / stream_s, 1),
            "x_real_time": round(info.duration / stream_s, 2),
        },
        "decode_ms_per_frame": round(decode_ms, 2),
        "proxy": proxies,
    }
    result["within_budget"] = {
        "first_frame": result["first_frame_s"]["p50"] < FIRST_FRAME_BUDGET_S,  # type: ignore[index]
        "seek_p95_full_resolution": result["seek_ms"]["p95"] < SEEK_P95_BUDGET_MS,  # type: ignore[index]
        "seek_p95_scrubbing_proxy": proxies["mjpeg"]["seek_ms"]["p95"] < SEEK_P95_BUDGET_MS,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_name(f".{RESULTS.name}.part")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, RESULTS)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args(argv)
    result = run(quick=args.quick)
    first, seek, stream = result["first_frame_s"], result["seek_ms"], result["stream"]
    print(f"clip: {result['clip']}")
    print(f"time to first frame: p50 {first['p50'] * 1000:.1f} ms, max {first['max'] * 1000:.1f} ms")  # type: ignore[index]
    print(f"seek 1080p H.264: p50 {seek['p50']} ms, p95 {seek['p95']} ms, max {seek['max']} ms")  # type: ignore[index]
    for codec, proxy in result["proxy"].items():  # type: ignore[attr-defined]
        ps = proxy["seek_ms"]
        print(
            f"proxy {codec} {proxy['size']}: built in {proxy['build_s']} s ({proxy['megabytes']} MB); "
            f"seek p50 {ps['p50']} ms, p95 {ps['p95']} ms, max {ps['max']} ms"
        )
    print(
        f"stream 8 fps @ 224 px: {stream['frames_per_s']} frames/s, {stream['x_real_time']}x real time"  # type: ignore[index]
    )
    print(f"sequential decode: {result['decode_ms_per_frame']} ms per 1080p frame")
    print(f"within budget: {result['within_budget']}; written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
