"""Playback of a long project: 2 hours × 32 tracks streamed at 48 kHz with 10 ms blocks.

Run ``python benchmarks/playback.py [--quick]``; ``foleystudio bench playback`` imports
:func:`run`. Budgets (docs/architecture.md §12): memory (the process's peak RSS) < 1 GB and
no underruns at 48 kHz with a 10 ms (480-sample) buffer.

The project: 32 tracks over 2 hours. Each track has its own 30 s render (48 kHz float WAV,
noise; 32 distinct files, 184 MB) placed every 30 s as a 28 s clip starting 1 s into the
render, each track shifted by 0.37 s from the previous one: 240 clips per track, 7 680 in
all, the timeline 93 % covered on every track. Files are written once into the temp folder
and reused; the playback files (``export/playback_files.py``, another 184 MB) are made from
them in a fresh cache each run, timed as ``prepare_s``. Whole-track buffers, as playback
held them before, would need 32 × 7 200 s × 48 000 × 4 B = 44 GB.

The callback is driven without a sound device at real-time pace: every 10 ms (on a
deadline schedule) the benchmark calls ``PlaybackEngine.callback`` with a 480 × 2 buffer,
while the engine's own reader thread streams the files. Played: 60 s from the start, then
(seeking while playing) 20 s from 1 h, 20 s from 1 h 59 m 30 s (``--quick``: 10 s + 5 s +
5 s). Reported: ``underruns`` (blocks whose samples the reader, streaming, had not
delivered), ``cue_gaps`` (blocks after a seek before the reader's first read for it), the
callback's duration (p50, p99, max; ``slow_callbacks_over_5ms``: calls that used more than
half their block) and how late each call started, ``late_blocks`` (calls that ended after
their block's 10 ms were over; on a loaded machine these come from the driving thread
waking late, which the start lateness shows, not from the mix: PortAudio's device buffer
absorbs such a late wake-up, the benchmark's single block does not),
peak RSS (``VmHWM``) and the process's CPU use. The files sit in the page cache, as during
a session; a cold disk read is not measured.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "playback.json"
SR, BLOCK = 48000, 480
TRACKS, HOURS = 32, 2.0
RENDER_S, CLIP_S, CLIP_OFFSET_S, TRACK_SHIFT_S = 30.0, 28.0, 1.0, 0.37
MEMORY_BUDGET_BYTES = 1 << 30


def _status_bytes(field: str) -> int:
    """A ``/proc/self/status`` memory field (``VmRSS``, ``VmHWM``) in bytes."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def renders(folder: Path) -> list[str]:
    """The 32 distinct 30 s renders (written on first use)."""
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(TRACKS):
        path = folder / f"render_{i:02d}.wav"
        if not path.exists():
            rng = np.random.default_rng(i)
            audio = rng.uniform(-0.3, 0.3, round(RENDER_S * SR)).astype(np.float32)
            tmp = path.with_name(f".{path.name}.part")
            sf.write(tmp, audio, SR, subtype="FLOAT", format="WAV")
            os.replace(tmp, path)
        paths.append(str(path))
    return paths


def build_project(paths: list[str]):
    from foleystudio.core.project import Clip, Project, Track

    seconds = HOURS * 3600.0
    tracks = []
    for i, render in enumerate(paths):
        shift = i * TRACK_SHIFT_S
        positions = np.arange(shift, seconds - CLIP_S, RENDER_S)
        clips = [Clip(render, float(p), CLIP_S, offset=CLIP_OFFSET_S) for p in positions]
        tracks.append(Track(f"Track {i + 1}", pan=(i % 5 - 2) / 2, clips=clips))
    return Project(name="Two hours", duration=seconds, tracks=tracks)


def _play(engine, seconds: float, log: dict[str, list[float]]) -> None:
    """Call the callback every 10 ms of wall time for ``seconds``, like a device would."""
    period = BLOCK / SR
    out = np.zeros((BLOCK, 2), np.float32)
    blocks = round(seconds / period)
    start = time.perf_counter()
    for k in range(blocks):
        due = start + k * period
        now = time.perf_counter()
        if now < due:
            time.sleep(due - now)
        began = time.perf_counter()
        engine.callback(out, BLOCK, None, None)
        ended = time.perf_counter()
        log["duration"].append(ended - began)
        log["lateness"].append(max(0.0, began - due))
        log["late"].append(float(ended > due + period))


def run(quick: bool = False) -> dict[str, object]:
    """Measure and return the figures (also written to benchmarks/results/playback.json)."""
    from foleystudio.core.machine import machine_description
    from foleystudio.core.playback import RING_FRAMES, PlaybackEngine, mix_state
    from foleystudio.export.playback_files import playback_layout

    machine = machine_description(load_average=True)
    rss_before = _status_bytes("VmRSS")
    paths = renders(Path(tempfile.gettempdir()) / "foleystudio-bench" / "playback-renders")
    project = build_project(paths)
    clips = sum(len(t.clips) for t in project.tracks)
    plan = [
        (0.0, 10.0 if quick else 60.0),
        (3600.0, 5.0 if quick else 20.0),
        (7170.0, 5.0 if quick else 20.0),
    ]

    with tempfile.TemporaryDirectory(prefix="foleystudio-playback-cache-") as cache:
        started = time.perf_counter()
        layout = playback_layout(project, SR, cache)
        prepare_s = time.perf_counter() - started
        engine = PlaybackEngine(sample_rate=SR, blocksize=BLOCK, open_device=False)
        try:
            engine.set_state(mix_state(layout, project.tracks, project.audible_tracks()))
            log: dict[str, list[float]] = {"duration": [], "lateness": [], "late": []}
            cpu_start = resource.getrusage(resource.RUSAGE_SELF)
            wall_start = time.perf_counter()
            engine.seek(plan[0][0])
            time.sleep(0.2)  # the reader reads ahead of the stopped transport, as in the app
            engine.start()
            rng = np.random.default_rng(0)
            for index, (at, seconds) in enumerate(plan):
                if index:
                    engine.seek(at)  # while playing, as a user would: anywhere in a block
                    time.sleep(float(rng.uniform(0.0, BLOCK / SR)))
                _play(engine, seconds, log)
            engine.stop()
            wall = time.perf_counter() - wall_start
            cpu_end = resource.getrusage(resource.RUSAGE_SELF)
            ring_bytes = sum(r.data.nbytes for r in engine._rings)
        finally:
            engine.close()
    cpu = (cpu_end.ru_utime - cpu_start.ru_utime) + (cpu_end.ru_stime - cpu_start.ru_stime)
    durations = np.asarray(log["duration"]) * 1000.0
    lateness = np.asarray(log["lateness"]) * 1000.0
    peak_rss = _status_bytes("VmHWM")
    result: dict[str, object] = {
        "benchmark": "playback",
        "quick": quick,
        "machine": machine,
        "project": {
            "tracks": TRACKS,
            "hours": HOURS,
            "clips": clips,
            "distinct_renders": len(paths),
            "sample_rate": SR,
            "block": BLOCK,
            "whole_buffers_would_need_gb": round(TRACKS * HOURS * 3600 * SR * 4 / 1e9, 1),
        },
        "prepare_s": round(prepare_s, 2),
        "played": [{"from_s": at, "seconds": s} for at, s in plan],
        "blocks": len(durations),
        "underruns": int(engine.underruns),
        "cue_gaps": int(engine.cue_gaps),
        "late_blocks": int(sum(log["late"])),
        "slow_callbacks_over_5ms": int((durations > 5.0).sum()),
        "callback_ms": {
            "p50": round(float(np.percentile(durations, 50)), 3),
            "p99": round(float(np.percentile(durations, 99)), 3),
            "max": round(float(durations.max()), 3),
        },
        "start_lateness_ms": {
            "p99": round(float(np.percentile(lateness, 99)), 3),
            "max": round(float(lateness.max()), 3),
        },
        "cpu_share_of_one_core": round(cpu / wall, 3),
        "memory": {
            "peak_rss_mb": round(peak_rss / 2**20, 1),
            "rss_before_mb": round(rss_before / 2**20, 1),
            "rings_mb": round(ring_bytes / 2**20, 1),
            "ring_seconds": round(RING_FRAMES / SR, 2),
            "budget_mb": MEMORY_BUDGET_BYTES // 2**20,
        },
    }
    result["within_budget"] = {
        "memory": peak_rss < MEMORY_BUDGET_BYTES,
        "no_underruns": engine.underruns == 0,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_name(f".{RESULTS.name}.part")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, RESULTS)
    return result


def format_report(result: dict) -> str:
    memory, callback = result["memory"], result["callback_ms"]
    return "\n".join(
        [
            f"project: {result['project']}",
            f"playback files made in {result['prepare_s']} s",
            f"{result['blocks']} blocks of 10 ms: {result['underruns']} underruns, "
            f"{result['cue_gaps']} silent right after a seek, {result['late_blocks']} late "
            f"(start lateness max {result['start_lateness_ms']['max']} ms), "
            f"{result['slow_callbacks_over_5ms']} callbacks over 5 ms",
            f"callback: p50 {callback['p50']} ms, p99 {callback['p99']} ms, max {callback['max']} ms; "
            f"CPU {result['cpu_share_of_one_core']} of one core",
            f"memory: peak RSS {memory['peak_rss_mb']} MB (rings {memory['rings_mb']} MB)",
            f"within budget: {result['within_budget']}; written to {RESULTS}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    args = parser.parse_args(argv)
    print(format_report(run(quick=args.quick)))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
