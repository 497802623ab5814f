"""Real-footage events benchmark: do detected and generated events land on the soundtrack's?

Run ``python benchmarks/real_events.py FOLDER [--impact a,b] [--foleyworld DIR] [--no-generate]``.
FOLDER holds videos with their recorded sound (any format PyAV reads). Their licences are the
user's business: nothing here copies them, and no test needs them. Results:
``benchmarks/results/real_events.json`` and a table on stdout.

Per clip (its first ``--seconds``, default 10):
- reference: the onsets of the clip's own soundtrack (``ml.onsets.detect_onsets`` at the fixed
  ``ONSET_ANALYSIS_RATE``, 16 kHz, with ``noise_sigmas=5``: a recorded soundtrack has a
  room/crowd floor that the FoleyWorld default of 10 treats as silence, which finds no onsets
  at all in some clips);
- ``detector``: the events generation follows by default (``ml.event_detector.detect_events``
  with the model's visual onset network where it is decisive, else optical flow), and which
  detector gave them;
- ``generated`` (unless ``--no-generate``): ``generate`` with defaults (no text, no editing),
  two seeds; onsets of the audio by ``detect_onsets``;
- ``generated_given`` (with ``--given-reference``): the same, given the reference onsets as
  the event track — what the event lane gives when the events are right (e.g. taken from
  production sound with ``events from-audio``);
- each scored by event F1 (one-to-one within ±80 ms) against the reference and against the
  reference shifted by 0.5 s (wrapping round the clip): what chance alignment gives.

``--impact`` names the clips (file stems, comma separated) whose sounds are visible impacts;
the summary reports them separately. ``--manifest [FILE]`` takes the impact clips and the sets
(``development``, ``held-out``) from a real-footage manifest (default
``benchmarks/real_footage.json``; ``benchmarks/real_footage.py`` extracts its clips) and
reports each set, all and impact, separately. ``--foleyworld DIR`` adds the detector alone on a
FoleyWorld corpus folder (true onsets of the visible sources), e.g. one written with
``foleystudio data foleyworld --randomise``. ``--flow-events RUN`` uses the flow event
network of a ``train flow-events`` run (or a bundle) instead of the model bundle's own, for
the detector rows (generation uses the model bundle as it is).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "real_events.json"
TOLERANCE_S = 0.08
SHIFT_S = 0.5
REFERENCE_NOISE_SIGMAS = 5.0
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")


def wrapped_shift(onsets: np.ndarray, duration: float) -> np.ndarray:
    """Onsets moved ``SHIFT_S`` later, wrapping round the clip (keeps their number)."""
    return np.sort((np.asarray(onsets) + SHIFT_S) % duration)


def f1_pair(events: np.ndarray, reference: np.ndarray, duration: float) -> dict[str, float]:
    from foleystudio.ml.metrics import onset_f1

    return {
        "f1": round(onset_f1(events, reference, TOLERANCE_S)[2], 4),
        "f1_shifted": round(onset_f1(events, wrapped_shift(reference, duration), TOLERANCE_S)[2], 4),
    }


def measure_clip(
    path: Path,
    engine: Any,
    onset_net: Any,
    seconds: float,
    generate: bool,
    flow_net: Any = None,
    model: str = "foleyworld-tiny",
    given_reference: bool = False,
) -> dict[str, Any]:
    from foleystudio.core.events import EventTrack
    from foleystudio.core.media import probe, read_audio
    from foleystudio.core.requests import GenerationRequest
    from foleystudio.core.settings import GenerationSettings
    from foleystudio.ml.event_detector import detect_events
    from foleystudio.ml.onsets import ONSET_ANALYSIS_RATE, detect_onsets

    info = probe(path)
    end = min(seconds, info.duration)
    sound = read_audio(path, ONSET_ANALYSIS_RATE, end=end)
    reference = detect_onsets(sound, ONSET_ANALYSIS_RATE, noise_sigmas=REFERENCE_NOISE_SIGMAS)
    started = time.perf_counter()
    whole, _ = detect_events(path, 0.0, end, onset_net=onset_net, flow_net=flow_net)
    detect_seconds = time.perf_counter() - started
    row: dict[str, Any] = {
        "clip": path.stem,
        "fps": round(float(info.fps or 0), 3),
        "size": [info.width, info.height],
        "duration": round(end, 3),
        "reference_onsets": len(reference),
        "detector": whole.detector,
        "detected_events": len(whole.track),
        "detect_seconds": round(detect_seconds, 3),
        "detection": f1_pair(whole.track.times, reference, end),
    }
    if generate:
        request = GenerationRequest(
            str(path), end=end, settings=GenerationSettings(model=model, num_candidates=2)
        )
        scores = []
        for candidate in engine.generate(request):
            onsets = detect_onsets(candidate.audio, candidate.sample_rate)
            scores.append(f1_pair(onsets, reference, end))
        row["generated"] = {k: round(float(np.mean([s[k] for s in scores])), 4) for k in scores[0]}
        if given_reference and len(reference):
            # The event lane's best case: the soundtrack's own onsets given as the track (as
            # `events from-audio` on production sound would give them).
            given = request.replace(events=(("", EventTrack.from_times(reference)),))
            scores = [
                f1_pair(detect_onsets(c.audio, c.sample_rate), reference, end) for c in engine.generate(given)
            ]
            row["generated_given"] = {k: round(float(np.mean([s[k] for s in scores])), 4) for k in scores[0]}
    return row


def foleyworld_detection(folder: Path, onset_net: Any, limit: int, flow_net: Any = None) -> dict[str, Any]:
    """Detector F1 against the true onsets of the visible sources of FoleyWorld clips."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from sync import true_onsets

    from foleystudio.ml.event_detector import detect_events

    rows = []
    for truth_path in sorted(folder.glob("clip_*.json"))[:limit]:
        truth = json.loads(truth_path.read_text())
        video = truth_path.with_suffix(".mp4")
        duration = float(truth.get("duration", 8.0))
        reference, _ = true_onsets(truth, duration)
        whole, _ = detect_events(video, 0.0, duration, onset_net=onset_net, flow_net=flow_net)
        rows.append(
            {
                "clip": truth_path.stem,
                "detector": whole.detector,
                **f1_pair(whole.track.times, reference, duration),
            }
        )
    return {
        "folder": str(folder),
        "clips": len(rows),
        "f1": round(float(np.mean([r["f1"] for r in rows])), 4) if rows else None,
        "f1_shifted": round(float(np.mean([r["f1_shifted"] for r in rows])), 4) if rows else None,
        "detectors": {d: sum(r["detector"] == d for r in rows) for d in {r["detector"] for r in rows}},
        "per_clip": rows,
    }


def summarise(rows: list[dict[str, Any]], names: set[str] | None) -> dict[str, Any]:
    chosen = [r for r in rows if names is None or r["clip"] in names]
    out: dict[str, Any] = {"clips": [r["clip"] for r in chosen]}
    for part in ("detection", "generated", "generated_given"):
        scored = [r[part] for r in chosen if part in r]
        if scored:
            out[part] = {k: round(float(np.mean([s[k] for s in scored])), 4) for k in scored[0]}
    return out


def run(
    folder: Path,
    impact: set[str],
    *,
    model: str = "foleyworld-tiny",
    seconds: float = 10.0,
    generate: bool = True,
    foleyworld: Path | None = None,
    foleyworld_clips: int = 40,
    flow_events: Path | None = None,
    out: Path = RESULTS,
    sets: dict[str, set[str]] | None = None,
    given_reference: bool = False,
) -> dict[str, Any]:
    import torch

    from foleystudio.core.machine import machine_description
    from foleystudio.ml.encoders.visual_onsets import load_from_bundle
    from foleystudio.ml.engine import GenerationEngine
    from foleystudio.ml.model_bundle import load_bundle

    clips = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    from foleystudio.ml.encoders.flow_events import load_from_bundle as load_flow_net
    from foleystudio.train.flow_events import load_trained_flow_events

    bundle = load_bundle(model, torch.device("cpu"))
    onset_net = load_from_bundle(bundle)
    flow_net = load_flow_net(bundle) if flow_events is None else load_trained_flow_events(flow_events)
    engine = GenerationEngine("cpu") if generate else None
    rows = []
    for path in clips:
        row = measure_clip(path, engine, onset_net, seconds, generate, flow_net, model, given_reference)
        rows.append(row)
        print(format_row(row), flush=True)
    result: dict[str, Any] = {
        "benchmark": "real_events",
        "machine": machine_description(),
        "model": model,
        "settings": {
            "tolerance_s": TOLERANCE_S,
            "shift_s": SHIFT_S,
            "reference_noise_sigmas": REFERENCE_NOISE_SIGMAS,
            "seconds": seconds,
            "generate": generate,
            "flow_events": None if flow_events is None else str(flow_events),
            "given_reference": given_reference,
        },
        "per_clip": rows,
        "all": summarise(rows, None),
        "impact": summarise(rows, impact) if impact else None,
    }
    if sets:
        result["sets"] = {
            name: {"all": summarise(rows, members), "impact": summarise(rows, members & impact)}
            for name, members in sets.items()
        }
    if foleyworld is not None:
        result["foleyworld_detection"] = foleyworld_detection(
            foleyworld, onset_net, foleyworld_clips, flow_net
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    return result


def format_row(row: dict[str, Any]) -> str:
    det = row["detection"]
    text = (
        f"{row['clip'][:24]:24s} {row['fps']:6.2f} fps  ref {row['reference_onsets']:3d}  "
        f"{row['detector']:6s} {row['detected_events']:3d} ev  detect F1 {det['f1']:.2f} "
        f"(shifted {det['f1_shifted']:.2f})"
    )
    if "generated" in row:
        gen = row["generated"]
        text += f"  generated F1 {gen['f1']:.2f} (shifted {gen['f1_shifted']:.2f})"
    if "generated_given" in row:
        text += f"  given the soundtrack's onsets {row['generated_given']['f1']:.2f}"
    return text


def format_report(result: dict[str, Any]) -> str:
    lines = [format_row(r) for r in result["per_clip"]]
    parts = [(name, result.get(name)) for name in ("all", "impact")]
    for set_name, summary in (result.get("sets") or {}).items():
        parts += [(f"{set_name} {name}", summary[name]) for name in ("all", "impact")]
    for name, part in parts:
        if not part:
            continue
        for kind in ("detection", "generated", "generated_given"):
            if kind in part:
                s = part[kind]
                lines.append(f"{name:18s} {kind:10s} F1 {s['f1']:.2f} (shifted {s['f1_shifted']:.2f})")
    if "foleyworld_detection" in result:
        fw = result["foleyworld_detection"]
        lines.append(
            f"FoleyWorld ({fw['clips']} clips) detection F1 {fw['f1']:.2f} (shifted {fw['f1_shifted']:.2f}) "
            f"detectors {fw['detectors']}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="folder of videos with their recorded sound")
    parser.add_argument(
        "--impact", default="", help="comma-separated clip names (file stems) with visible impacts"
    )
    parser.add_argument(
        "--manifest",
        nargs="?",
        const=str(Path(__file__).resolve().parent / "real_footage.json"),
        default=None,
        help="real-footage manifest: impact clips and sets from it (default benchmarks/real_footage.json)",
    )
    parser.add_argument("--model", default="foleyworld-tiny")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds measured per clip")
    parser.add_argument("--no-generate", action="store_true", help="detector only")
    parser.add_argument(
        "--given-reference",
        action="store_true",
        help="also generate with the soundtrack's own onsets given as the event track",
    )
    parser.add_argument("--foleyworld", default=None, help="also: the detector on this FoleyWorld corpus")
    parser.add_argument("--foleyworld-clips", type=int, default=40)
    parser.add_argument(
        "--flow-events", default=None, help="flow event network (train flow-events run or bundle)"
    )
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    from foleystudio.errors import FoleyStudioError

    folder = Path(args.folder)
    if not folder.is_dir():
        print(f"real events benchmark: error: {folder}: not a folder", file=sys.stderr)
        return 2
    impact = {n.strip() for n in args.impact.split(",") if n.strip()}
    sets = None
    if args.manifest:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from real_footage import RealFootageError, clip_sets, load_manifest

        try:
            manifest_impact, sets = clip_sets(load_manifest(Path(args.manifest)))
        except RealFootageError as exc:
            print(f"real events benchmark: error: {exc}", file=sys.stderr)
            return 2
        impact |= manifest_impact
    try:
        result = run(
            folder,
            impact,
            model=args.model,
            seconds=args.seconds,
            generate=not args.no_generate,
            foleyworld=Path(args.foleyworld) if args.foleyworld else None,
            foleyworld_clips=args.foleyworld_clips,
            flow_events=Path(args.flow_events) if args.flow_events else None,
            out=Path(args.out),
            sets=sets,
            given_reference=args.given_reference,
        )
    except FoleyStudioError as exc:
        print(f"real events benchmark: error: {exc}", file=sys.stderr)
        return 2
    print(format_report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
