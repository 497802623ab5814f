"""``foleystudio events detect VIDEO``: the sound events generation would follow, as a file.

``foleystudio events detect VIDEO [--object "T:X,Y,W,H[;...][=label]"]... [--start S] [--end E]
-o EVENTS.json [--format json|audacity] [--model NAME|PATH | --no-model]`` writes
``{"events": [{"time": s, "strength": 0..1}, ...]}`` for the whole picture, or
``{"objects": {"label": {"events": [...]}}}`` with boxes; ``--format audacity`` writes a label
track (``start<TAB>end<TAB>label``). Edit it and give it back with ``generate --events``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from foleystudio.core.settings import DEFAULT_MODEL
from foleystudio.errors import MediaError, UsageError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("events", help="detect sound events in a video (an editable event track)")
    commands = parser.add_subparsers(dest="events_command", metavar="ACTION")
    commands.required = True
    p = commands.add_parser(
        "detect",
        help="write the events the picture shows (whole picture, or per object box)",
        description="Detect sound events (impacts, steps, hits) in VIDEO and write them as JSON or "
        "Audacity labels.",
    )
    p.add_argument("video", help="the video file")
    p.add_argument("-o", "--out", required=True, help="output file (.json, or .txt for Audacity labels)")
    p.add_argument("--start", type=float, default=0.0, help="range start in seconds (default 0)")
    p.add_argument("--end", type=float, default=None, help="range end in seconds (default: end of video)")
    p.add_argument(
        "--object",
        action="append",
        default=[],
        metavar="SPEC",
        help='object box "T:X,Y,W,H[;T:X,Y,W,H...][=label]" (repeatable)',
    )
    p.add_argument("--format", choices=("json", "audacity"), default=None, help="default: from -o's suffix")
    p.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="model bundle whose visual onset network is used where it is decisive",
    )
    p.add_argument("--no-model", action="store_true", help="optical-flow detector only")
    p.set_defaults(func=run_detect)
    a = commands.add_parser(
        "from-audio",
        help="an event track from a recording's onsets (claps, 'tk tk', production sound)",
        description="Write the onsets of a recording (an audio file, or a video's sound) as an event track.",
    )
    a.add_argument("recording", help="audio file, or video whose sound is used")
    a.add_argument("-o", "--out", required=True, help="output file (.json, or .txt for Audacity labels)")
    a.add_argument(
        "--offset", type=float, default=0.0, help="video time (s) where the recording starts (default 0)"
    )
    a.add_argument("--format", choices=("json", "audacity"), default=None, help="default: from -o's suffix")
    a.set_defaults(func=run_from_audio)


def _check_out(out: Path) -> None:
    if out.is_dir():
        raise UsageError(f"{out}: is a folder; give the events file's name")
    if not out.parent.is_dir():
        raise UsageError(f"{out.parent}: output folder does not exist")


def run_from_audio(args: argparse.Namespace) -> int:
    from foleystudio.core.events import write_event_file
    from foleystudio.core.media import probe, read_audio
    from foleystudio.ml.onsets import ONSET_ANALYSIS_RATE, events_from_audio

    path, out = Path(args.recording), Path(args.out)
    if not path.is_file():
        raise MediaError("recording does not exist", path)
    if not (args.offset == args.offset and abs(args.offset) != float("inf")):
        raise UsageError(f"--offset must be a finite number of seconds, got {args.offset}")
    _check_out(out)
    if not probe(path).has_audio:
        raise MediaError("the file has no sound", path)
    rate = ONSET_ANALYSIS_RATE
    track = events_from_audio(read_audio(path, rate), rate, offset=args.offset)
    extra = {"recording": str(path.absolute()), "offset": args.offset}
    write_event_file(out, track, fmt=args.format, extra=extra)
    print(f"{out}: {len(track)} events")
    return 0


def run_detect(args: argparse.Namespace) -> int:
    from foleystudio.cli.generate import parse_object
    from foleystudio.core.events import describe_detector, detection_advice, format_of, write_event_file
    from foleystudio.core.media import probe

    video = Path(args.video)
    if not video.is_file():
        raise MediaError("video file does not exist", video)
    info = probe(video)
    if not info.has_video:
        raise MediaError("the file has no video stream", video)
    for name in ("start", "end"):
        value = getattr(args, name)
        if value is not None and not (value == value and abs(value) != float("inf")):
            raise UsageError(f"--{name} must be a finite number of seconds, got {value}")
    start = args.start
    end = info.duration if args.end is None else min(args.end, info.duration)
    if start < 0 or end <= start:
        raise UsageError(f"empty range: start {start} s, end {end} s (video is {info.duration:.3f} s)")
    out = Path(args.out)
    _check_out(out)
    fmt = format_of(out, args.format)
    objects = [parse_object(spec, i) for i, spec in enumerate(args.object)]
    labels = [o.label for o in objects]
    if len(set(labels)) != len(labels):
        raise UsageError(f"object labels must differ, got {labels}")

    import torch

    from foleystudio.ml.encoders.flow_events import load_from_bundle as load_flow_net
    from foleystudio.ml.encoders.visual_onsets import load_from_bundle as load_onset_net
    from foleystudio.ml.event_detector import detect_events
    from foleystudio.ml.model_bundle import load_bundle

    onset_net = flow_net = None
    if not args.no_model:
        bundle = load_bundle(args.model, torch.device("cpu"))
        onset_net, flow_net = load_onset_net(bundle), load_flow_net(bundle)
    whole, per_object = detect_events(
        video,
        start,
        end,
        objects={o.label: o.keyframes for o in objects},
        onset_net=onset_net,
        flow_net=flow_net,
    )
    if objects:
        write_event_file(out, objects={k: v.track for k, v in per_object.items()}, fmt=fmt)
        counts = ", ".join(
            f"{k}: {len(v.track)} ({describe_detector(v.detector)})" for k, v in per_object.items()
        )
        detectors = [v.detector for v in per_object.values()]
    else:
        extra = {"detector": whole.detector, "video": str(video.absolute()), "start": start, "end": end}
        write_event_file(out, whole.track, fmt=fmt, extra=extra if fmt == "json" else None)
        counts = f"{len(whole.track)} events ({describe_detector(whole.detector)})"
        detectors = [whole.detector]
    print(f"{out}: {counts}")
    advice = detection_advice(detectors)
    if advice:
        print(f"note: {advice}")
    return 0
