"""``foleystudio demo``: the main job, headless, on the bundled demo clip and default model.

1. candidates for the whole clip (whole frame + the clip's text),
2. one stem per object (box keyframes taken from the clip's ground truth, as a user would
   draw them: one every quarter second),
3. a project bundle with the stems on their own tracks,
4. export: BWF stems, stereo mix, the video remuxed with the mix, OTIO and Reaper projects,
5. a sync check of the stems against the clip's true onsets (onset F1 at ±50 ms).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from foleystudio.core.settings import DEFAULT_MODEL
from foleystudio.core.shipped import shipped_dir

DEMO_DIR = shipped_dir("demo")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the main job on the bundled demo clip (headless)")
    p.add_argument("-o", "--out", default="demo-output", help="output folder (default demo-output/)")
    p.add_argument("--model", default=DEFAULT_MODEL, help="model bundle (default: the bundled default)")
    p.add_argument("--candidates", type=int, default=4)
    p.add_argument("--steps", type=int, default=16)
    p.add_argument("--device", default="auto")
    p.set_defaults(func=run)


def object_sources(truth: dict, every: float = 0.25) -> tuple:
    """Object sources from FoleyWorld truth boxes, keyed every ``every`` seconds."""
    from foleystudio.core.boxes import Box, BoxKeyframe
    from foleystudio.core.sources import ObjectSource

    fps = float(truth["fps"])
    step = max(1, round(every * fps))
    sources = []
    for s in truth["sources"]:
        keys = tuple(
            BoxKeyframe(i / fps, Box(*b))
            for i, b in enumerate(s["boxes"])
            if i % step == 0 and b is not None and b[2] > 0 and b[3] > 0
        )
        if keys:
            sources.append(ObjectSource(id=s["id"], label=s["label"], keyframes=keys))
    return tuple(sources)


def run(args: argparse.Namespace) -> int:
    import shutil

    from foleystudio.core.commands import AddSource
    from foleystudio.core.media import probe
    from foleystudio.core.placement import place_candidate
    from foleystudio.core.project_bundle import new_bundle, save_project
    from foleystudio.core.requests import GenerationRequest
    from foleystudio.core.settings import GenerationSettings
    from foleystudio.errors import CheckpointError
    from foleystudio.export import ExportDestinations, export_project
    from foleystudio.export.candidates import write_candidates
    from foleystudio.ml.engine import GenerationEngine
    from foleystudio.ml.metrics import onset_f1
    from foleystudio.ml.model_bundle import find_bundle
    from foleystudio.ml.onsets import detect_onsets

    video = DEMO_DIR / "demo.mp4"
    truth = json.loads((DEMO_DIR / "demo.json").read_text())
    info = probe(video)
    print(f"demo clip: {video} ({info.duration:.2f} s, {info.width}x{info.height}, {float(info.fps):g} fps)")
    try:
        model_path = find_bundle(args.model)
    except CheckpointError as exc:
        print(f"MISSING: the model bundle '{args.model}' ({exc.problem}).")
        print(
            "Without it the pipeline stops after probing the clip; train one with `foleystudio train` "
            "(see README) or pass --model."
        )
        return 1
    out = Path(args.out).absolute()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    engine = GenerationEngine(args.device)
    t0 = time.perf_counter()
    model = engine.model(args.model)
    print(f"model: {model.name} from {model_path} on {engine.device_name}")
    settings = GenerationSettings(model=args.model, steps=args.steps, device=args.device)
    t1 = time.perf_counter()
    whole = engine.generate(
        GenerationRequest(
            str(video), text=truth["text"], settings=settings.replace(num_candidates=args.candidates)
        )
    )
    t2 = time.perf_counter()
    write_candidates(whole, out / "candidates", video=video, timings={"generate_seconds": round(t2 - t1, 3)})
    sources = object_sources(truth)
    stems = engine.generate(
        GenerationRequest(str(video), sources=sources, per_source=True, settings=settings)
    )
    t3 = time.perf_counter()
    write_candidates(
        stems, out / "stems", video=video, per_source=True, timings={"generate_seconds": round(t3 - t2, 3)}
    )
    project, bundle = new_bundle(out / "demo.foley", video, info)
    for source in sources:
        AddSource(source).apply(project)
    for stem in stems:
        group, _ = place_candidate(project, bundle, stem, model_name=model.name)
        group.apply(project)
    save_project(project, bundle)
    exported = export_project(
        project,
        ExportDestinations(
            stems=out / "export" / "stems",
            mix=out / "export" / "mix.wav",
            video=out / "export" / "demo_foley.mp4",
            otio=out / "export" / "demo.otio",
            rpp=out / "export" / "demo.rpp",
        ),
        bundle_dir=bundle,
    )
    t4 = time.perf_counter()
    print(
        f"\ngenerated {len(whole)} candidates of {whole[0].duration:.1f} s in {t2 - t1:.1f} s "
        f"({(t2 - t1) / whole[0].duration / len(whole):.2f}x real time per candidate); "
        f"{len(stems)} object stems in {t3 - t2:.1f} s; model load {t1 - t0:.1f} s; export {t4 - t3:.1f} s"
    )
    print("\nsync of each object stem against the clip's true onsets (onset F1, ±50 ms):")
    for stem in stems:
        true = next(s["onsets"] for s in truth["sources"] if s["id"] == stem.source_id)
        p, r, f = onset_f1(detect_onsets(stem.audio, stem.sample_rate), true, 0.05)
        print(f"  {stem.label:<12} F1 {f:.2f} (precision {p:.2f}, recall {r:.2f}, {len(true)} true onsets)")
    print(f"\noutputs in {out}:")
    print(f"  candidates/   {len(whole)} WAVs + result.json + demo_foley.mp4 (best candidate)")
    print(f"  stems/        {', '.join(sorted(p.name for p in (out / 'stems').glob('*.wav')))}")
    print(f"  demo.foley/   the project (open it with `foleystudio gui {bundle}`)")
    print(f"  export/       {len(exported.stems)} BWF stems, mix.wav, demo_foley.mp4, demo.otio, demo.rpp")
    return 0
