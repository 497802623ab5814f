"""``foleystudio generate VIDEO``: sound for a range of a video, headless."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from foleystudio.cli.settings_options import add_settings_options, settings_from_args
from foleystudio.core.boxes import Box, BoxKeyframe
from foleystudio.core.events import EventTrack, read_event_file
from foleystudio.core.requests import WHOLE_PICTURE, GenerationRequest
from foleystudio.core.settings import GenerationSettings
from foleystudio.core.sources import AudioSource, ObjectSource
from foleystudio.errors import MediaError, UsageError


def parse_object(spec: str, index: int) -> ObjectSource:
    """``"T:X,Y,W,H[;T:X,Y,W,H...][=label]"`` (T seconds; X,Y,W,H normalised, origin top-left)."""
    body, _, label = spec.partition("=")
    keys = []
    for part in filter(None, (p.strip() for p in body.split(";"))):
        time_text, sep, box_text = part.partition(":")
        try:
            values = [float(v) for v in box_text.split(",")]
            if not sep or len(values) != 4:
                raise ValueError
            keys.append(BoxKeyframe(float(time_text), Box(*values)))
        except ValueError:
            raise UsageError(f"--object expects T:X,Y,W,H[;T:X,Y,W,H...][=label], got {spec!r}") from None
    if not keys:
        raise UsageError(f"--object has no keyframe: {spec!r}")
    return ObjectSource(
        id=f"object{index + 1}", label=label.strip() or f"object {index + 1}", keyframes=tuple(keys)
    )


def parse_event_options(options: list[str], sources: tuple) -> tuple[tuple[str, EventTrack], ...]:
    """``--events`` values → ``(target, track)`` pairs: ``FILE`` is the whole picture's track,
    ``LABEL=FILE`` an object's (by its label or id)."""
    objects = {s.label: s.id for s in sources if isinstance(s, ObjectSource)}
    objects.update({s.id: s.id for s in sources if isinstance(s, ObjectSource)})
    pairs: dict[str, EventTrack] = {}
    for option in options:
        label, sep, file = option.partition("=")
        if sep and not Path(option).exists():
            if label not in objects:
                known = ", ".join(sorted(objects)) or "none"
                raise UsageError(f"--events {option!r}: no --object labelled {label!r} (objects: {known})")
            target = objects[label]
        else:
            if objects:
                raise UsageError(f"--events {option!r}: with --object sources, name one (LABEL=FILE)")
            target, file = WHOLE_PICTURE, option
        if target in pairs:
            raise UsageError(f"--events given twice for {label if target else 'the whole picture'}")
        pairs[target] = read_event_file(file)
    return tuple(pairs.items())


def checked_against_video(request: GenerationRequest) -> GenerationRequest:
    """``request`` validated, then checked against its video (probe only, no torch): an end
    past the video is clamped with a warning on stderr (and the request records the end used);
    a box keyframe after the video's end gets a warning."""
    from foleystudio.core.media import probe

    request.validate()
    info = probe(request.video)
    if not info.has_video:
        raise MediaError("the file has no video stream to generate sound for", request.video)
    if request.start >= info.duration:
        raise UsageError(
            f"--start {request.start:g} s is at or after the video's end ({info.duration:.3f} s)"
        )
    if request.end is not None and request.end > info.duration:
        print(
            f"foleystudio: warning: --end {request.end:g} s is past the video's end; using {info.duration:.3f} s",
            file=sys.stderr,
        )
        request = request.replace(end=info.duration)
    for source in request.sources:
        late = [k.time for k in getattr(source, "keyframes", ()) if k.time > info.duration]
        if late:
            # Harmless (a box holds between keyframes) but likely a typo: say so, keep going.
            print(
                f"foleystudio: warning: the keyframe of '{source.label}' at {late[0]:g} s is after the "
                f"video's end ({info.duration:.3f} s); only its effect on the box before then is used",
                file=sys.stderr,
            )
    return request


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate",
        help="generate candidate sounds for a video range",
        description="Generate synchronized sound for VIDEO with a Flowley model bundle.",
    )
    p.add_argument("video", help="the video file")
    p.add_argument("-o", "--out", default=None, help="output folder (default: <video>_foley/)")
    p.add_argument("--start", type=float, default=0.0, help="range start in seconds (default 0)")
    p.add_argument("--end", type=float, default=None, help="range end in seconds (default: end of video)")
    p.add_argument("--text", default="", help="text prompt")
    add_settings_options(p.add_argument_group("generation settings"), GenerationSettings)
    p.add_argument(
        "--object",
        action="append",
        default=[],
        metavar="SPEC",
        help='object source "T:X,Y,W,H[;T:X,Y,W,H...][=label]" (repeatable)',
    )
    p.add_argument(
        "--audio-prompt", action="append", default=[], metavar="FILE", help="reference recording (repeatable)"
    )
    p.add_argument(
        "--events",
        action="append",
        default=[],
        metavar="[LABEL=]FILE",
        help="event track to follow (JSON or Audacity labels): FILE for the whole picture, "
        "LABEL=FILE for an object (repeatable); default: the detector's events",
    )
    p.add_argument("--stems", action="store_true", help="one output per object source, named after its label")
    p.add_argument(
        "--project", default=None, help="add the best result to this project bundle (created if needed)"
    )
    p.add_argument("--track", default=None, help="track name in --project (default: the source's or 'Foley')")
    p.add_argument("--no-video", action="store_true", help="do not write the remuxed video")
    p.add_argument("--json", action="store_true", help="print result.json to stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import time

    from foleystudio.export.candidates import check_output_folder, write_candidates

    video = Path(args.video)
    if not video.is_file():
        raise MediaError("video file does not exist", video)
    sources = tuple(parse_object(spec, i) for i, spec in enumerate(args.object))
    sources += tuple(
        AudioSource(id=f"audio{i + 1}", path=str(Path(f).absolute()), label=Path(f).stem)
        for i, f in enumerate(args.audio_prompt)
    )
    if args.stems and not any(isinstance(s, ObjectSource) for s in sources):
        raise UsageError("--stems needs at least one --object source")
    events = parse_event_options(args.events, sources)
    request = GenerationRequest(
        video=str(video.absolute()),
        start=args.start,
        end=args.end,
        text=args.text,
        sources=sources,
        events=events,
        per_source=args.stems,
        settings=settings_from_args(args, GenerationSettings),
    )
    # Bad values and where the files go are checked before any work (the engine import alone
    # takes seconds).
    request = checked_against_video(request)
    if args.project:
        _existing_project(args.project)  # a corrupt project is refused now, not after generating
    out = check_output_folder(Path(args.out) if args.out else video.with_name(f"{video.stem}_foley"))
    from foleystudio.ml.engine import GenerationEngine

    started = time.perf_counter()
    engine = GenerationEngine(request.settings.device)
    model_name = engine.model(request.settings.model).name
    loaded = time.perf_counter()
    last = [-1]

    def progress(fraction: float, message: str) -> None:
        pct = int(fraction * 100)
        if pct != last[0] and not args.json and sys.stderr.isatty():
            print(f"\r{pct:3d}% {message:<40}", end="", file=sys.stderr, flush=True)
            last[0] = pct

    candidates = engine.generate(request, progress)
    generated = time.perf_counter()
    if sys.stderr.isatty() and not args.json:
        print(file=sys.stderr)
    timings = {
        "load_seconds": round(loaded - started, 3),
        "generate_seconds": round(generated - loaded, 3),
        "audio_seconds": round(candidates[0].duration, 3),
        "real_time_factor": round((generated - loaded) / max(candidates[0].duration, 1e-9), 4),
    }
    result = write_candidates(
        candidates,
        out,
        video=video,
        per_source=args.stems,
        timings=timings,
        extra={"device": engine.device_name},
        remux=not args.no_video,
    )
    if args.project:
        result["project"] = _add_to_project(args.project, candidates, request, args.track, model_name)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for entry in result["candidates"]:
            scores = " ".join(f"{k}={v:.3f}" for k, v in entry["scores"].items())
            print(f"{out / entry['file']}  noise {entry['noise']}  {scores}")
        if "video" in result:
            print(f"video: {out / result['video']}")
        print(f"result: {out / 'result.json'}")
    return 0


def _existing_project(bundle: str) -> Path | None:
    """The project bundle at ``bundle`` (or ``bundle.foley``) if one exists, loaded once to
    check it (a corrupt one raises its ProjectError); None when there is none yet."""
    from foleystudio.core.project_bundle import BUNDLE_SUFFIX, PROJECT_FILE, load_project

    path = Path(bundle)
    for candidate in (path, path.with_name(path.name + BUNDLE_SUFFIX)):
        if (candidate / PROJECT_FILE).is_file():
            load_project(candidate)
            return candidate
    return None


def _add_to_project(bundle: str, candidates: list, request, track: str | None, model_name: str = "") -> str:
    """Add the best candidate of each source to ``bundle`` (created if missing); returns its path."""
    from foleystudio.core import commands as cmd
    from foleystudio.core.placement import place_candidate
    from foleystudio.core.project_bundle import load_project, new_bundle, save_project

    path = _existing_project(bundle)
    if path is not None:
        project = load_project(path)
    else:
        project, path = new_bundle(Path(bundle), request.video)
    if project.video is None:
        project.video = request.video
    known = {s.id for s in project.sources}
    for source in request.sources:
        if source.id not in known and isinstance(source, ObjectSource):
            cmd.AddSource(source).apply(project)
    placed: set = set()
    for candidate in candidates:  # best first within each source
        if candidate.source_id in placed:
            continue
        placed.add(candidate.source_id)
        group, _ = place_candidate(project, path, candidate, model_name=model_name, track_name=track)
        group.apply(project)
    save_project(project, path)
    return str(path)
