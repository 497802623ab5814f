"""``foleystudio info VIDEO [--json]``: what the app sees in a media file."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``info`` sub-command."""
    parser = subparsers.add_parser(
        "info",
        help="describe a video or audio file (duration, frame rate, size, rotation, audio, timecode)",
        description="Probe a video or audio file and print what FoleyStudio reads from it.",
    )
    parser.add_argument("path", metavar="VIDEO", help="video or audio file")
    parser.add_argument("--json", action="store_true", help="print JSON (times in seconds)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Probe ``args.path`` and print it; a bad file raises MediaError (exit code 2)."""
    from foleystudio.core.media import probe

    info = probe(args.path)
    if args.json:
        print(json.dumps(info.to_dict(), indent=2))
    else:
        print(format_info(info))
    return 0


def format_info(info: Any) -> str:
    """A human-readable, aligned summary of a :class:`~foleystudio.core.media.MediaInfo`."""
    rows = [("file", str(info.path)), ("format", info.format_name)]
    duration = f"{info.duration:.3f} s"
    if info.fps:
        from foleystudio.core.timebase import seconds_to_timecode

        duration += f" ({seconds_to_timecode(info.duration, info.fps)})"
    rows.append(("duration", duration))
    if info.has_video:
        fps = info.fps
        rate = "unknown rate" if fps is None else f"{float(fps):.3f} fps ({fps.numerator}/{fps.denominator})"
        rate += ", variable" if info.is_vfr else ", constant"
        size = f"{info.width}x{info.height}"
        if (info.coded_width, info.coded_height) != (info.width, info.height):
            size += f" (coded {info.coded_width}x{info.coded_height})"
        rows.append(("video", f"{info.codec} {size} {info.pix_fmt}"))
        rows.append(("frame rate", rate))
        rows.append(("frames", str(info.frame_count)))
        rows.append(("rotation", f"{info.rotation} deg clockwise" if info.rotation else "none"))
    else:
        rows.append(("video", "none"))
    if info.has_audio:
        rows.append(("audio", f"{info.audio_codec} {info.sample_rate} Hz, {info.channels} ch"))
    else:
        rows.append(("audio", "none"))
    rows.append(("start", f"{info.start_time:.3f} s, timecode {info.start_timecode}"))
    for stream in info.streams:
        rows.append((f"stream #{stream.index}", f"{stream.kind} {stream.codec} {stream.details}".rstrip()))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)
