"""Export speed: 10 stems × 10 minutes at 48 kHz / 24-bit (docs/architecture.md §12: budget < 10 s).

Run ``python benchmarks/export_speed.py [--quick]``; ``foleystudio bench`` imports :func:`run`.

The project: 10 tracks, 10 minutes of video time (``--quick``: 1 minute). Each track holds a
clip every 5 s on average (2–6 s long, random positions that are not on sample boundaries,
offsets into the render, clip and track gains), ~1 200 clips in all, drawn from a pool of 12
distinct 8 s renders per track (120 files). Timed end to end with
:func:`foleystudio.export.export_project`:

1. ``stems``: the 10 BWF stems (bext + iXML), renders already at 48 kHz — the budgeted case;
2. ``stems_16k_renders``: the same with 16 kHz renders (Flowley's rate), so every render is
   also resampled to 48 kHz (band-limited polyphase, core.audio.resample);
3. ``stems_mix_otio_rpp``: stems + stereo mix (with its BS.1770 loudness measurement) + OTIO +
   Reaper project, 48 kHz renders.

Renders are written before timing and sit in the page cache, as after a session's work.
Each case runs once per repeat into a fresh folder (the previous one deleted first); the
median is reported, with every run and the machine's load before and after: on a shared
2-core machine writing ~0.8 GB, the disk and the neighbours' load dominate the spread.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "export_speed.json"
TRACKS, RENDERS_PER_TRACK, RENDER_SECONDS = 10, 12, 8.0
BUDGET_S = 10.0


def build_project(folder: Path, minutes: float, render_rate: int, seed: int = 0):
    """The benchmark project with its renders written under ``folder``."""
    import soundfile as sf

    from foleystudio.core.project import Clip, Project, Track

    rng = np.random.default_rng(seed)
    seconds = minutes * 60.0
    project = Project(name="Bench Reel", duration=seconds, start_timecode="01:00:00:00")
    folder.mkdir(parents=True, exist_ok=True)
    names = (
        "Feet A",
        "Feet B",
        "Cloth",
        "Props hands",
        "Props table",
        "Keys",
        "Door",
        "Body",
        "Cup",
        "Paper",
    )
    for t, name in enumerate(names[:TRACKS]):
        renders = []
        for r in range(RENDERS_PER_TRACK):
            n = round(RENDER_SECONDS * render_rate)
            audio = (rng.standard_normal(n) * 0.05 * np.exp(-np.arange(n) / (0.3 * render_rate))).astype(
                np.float32
            )
            path = folder / f"t{t:02d}_r{r:02d}.wav"
            sf.write(str(path), audio, render_rate, subtype="FLOAT")
            renders.append(str(path))
        track = Track(name=name, gain_db=float(rng.uniform(-6, 0)), pan=float(rng.uniform(-1, 1)))
        position = float(rng.uniform(0, 2))
        index = 0
        while position < seconds - 6.0:
            duration = float(rng.uniform(2.0, 6.0))
            offset = float(rng.uniform(0.0, RENDER_SECONDS - duration))
            track.clips.append(
                Clip(
                    render=renders[index % RENDERS_PER_TRACK],
                    position=position,
                    duration=duration,
                    offset=offset,
                    gain_db=float(rng.uniform(-3, 3)),
                )
            )
            index += 1
            position += float(rng.uniform(3.0, 7.0)) + 1e-4 * rng.random()  # off the sample grid
        project.tracks.append(track)
    return project


def run(quick: bool = False) -> dict[str, object]:
    """Measure and return the figures (also written to benchmarks/results/export_speed.json)."""
    from foleystudio.core.atomicfile import atomic_write_bytes
    from foleystudio.core.machine import machine_description
    from foleystudio.export import ExportDestinations, export_project

    machine = machine_description(load_average=True)  # the load at the start
    minutes = 1.0 if quick else 10.0
    repeats = 1 if quick else 3
    root = Path(tempfile.mkdtemp(prefix="foleystudio-bench-export-"))
    try:
        project48 = build_project(root / "renders48", minutes, 48000)
        project16 = build_project(root / "renders16", minutes, 16000)
        cases = {
            "stems": (project48, ExportDestinations(stems="stems")),
            "stems_16k_renders": (project16, ExportDestinations(stems="stems")),
            "stems_mix_otio_rpp": (
                project48,
                ExportDestinations(stems="stems", mix="mix.wav", otio="a.otio", rpp="a.rpp"),
            ),
        }
        seconds: dict[str, float] = {}
        runs: dict[str, list[float]] = {}
        output_bytes: dict[str, int] = {}
        for case, (project, destinations) in cases.items():
            times = []
            for _ in range(repeats):
                out = root / "out"
                shutil.rmtree(out, ignore_errors=True)
                out.mkdir()
                t0 = time.perf_counter()
                result = export_project(project, destinations, bundle_dir=out)
                times.append(time.perf_counter() - t0)
            seconds[case] = round(float(np.median(times)), 3)
            runs[case] = [round(t, 3) for t in times]
            output_bytes[case] = sum(p.stat().st_size for p in result.files)
        clips = sum(len(t.clips) for t in project48.tracks)
        result_dict: dict[str, object] = {
            "benchmark": "export_speed",
            "quick": quick,
            "machine": machine,
            "input": {
                "tracks": TRACKS,
                "minutes": minutes,
                "clips": clips,
                "distinct_renders": TRACKS * RENDERS_PER_TRACK,
                "render_seconds": RENDER_SECONDS,
                "sample_rate": 48000,
                "bits": 24,
                "stem_samples": round(minutes * 60 * 48000),
            },
            "repeats": repeats,
            "seconds": seconds,
            "runs_seconds": runs,
            "load_average_1min_after": round(os.getloadavg()[0], 2),
            "output_megabytes": {k: round(v / 2**20, 1) for k, v in output_bytes.items()},
            "stems_megabytes_per_second": round(output_bytes["stems"] / 2**20 / seconds["stems"], 1),
            "budget_s": BUDGET_S,
            "within_budget": (seconds["stems"] < BUDGET_S) if not quick else None,
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(RESULTS, (json.dumps(result_dict, indent=2) + "\n").encode())
    return result_dict


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="1 minute and one repetition instead of 10 minutes × 3"
    )
    args = parser.parse_args(argv)
    result = run(quick=args.quick)
    print(f"input: {result['input']}")
    for case, value in result["seconds"].items():  # type: ignore[union-attr]
        print(f"{case:>20}: {value:.3f} s  ({result['output_megabytes'][case]} MB written)")  # type: ignore[index]
    print(
        f"within the {BUDGET_S} s budget (10 stems x 10 min): {result['within_budget']}; written to {RESULTS}"
    )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
