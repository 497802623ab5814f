"""``foleystudio export PROJECT …``: stems, mix, remuxed video, OTIO, Reaper and EDL files.

PROJECT is a project bundle folder (or its project.json). Destinations are relative to the
current folder. Every file is written completely or not at all (see
:func:`foleystudio.export.export_project`); the exit code is 2 with a one-line message for a
missing render/video or a bad option.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``export`` sub-command."""
    parser = subparsers.add_parser(
        "export",
        help="export BWF stems, a stereo mix, the remuxed video, OTIO / Reaper / EDL",
        description=(
            "Export a project: Broadcast WAV stems lined up at the video's start (time-stamped "
            "with the start timecode), a stereo mix, the video remuxed with the mix (not "
            "re-encoded), an OpenTimelineIO timeline, a Reaper project and CMX 3600 EDLs."
        ),
    )
    parser.add_argument("project", type=Path, help="project bundle folder (NAME.foley)")
    parser.add_argument(
        "--stems", type=Path, metavar="DIR", help="folder for the stems (one mono BWF per track)"
    )
    parser.add_argument("--mix", type=Path, metavar="FILE", help="stereo mix (.wav)")
    parser.add_argument("--video", type=Path, metavar="FILE", help="video with the mix (.mp4/.mov/.mkv)")
    parser.add_argument("--otio", type=Path, metavar="FILE", help="OpenTimelineIO timeline (.otio)")
    parser.add_argument("--rpp", type=Path, metavar="FILE", help="Reaper project (.rpp)")
    parser.add_argument(
        "--edl", type=Path, metavar="FILE", help="CMX 3600 EDL (.edl; one per track when several)"
    )
    parser.add_argument(
        "--rate", type=int, default=48000, choices=(44100, 48000, 96000), help="sample rate (Hz)"
    )
    parser.add_argument("--bits", type=int, default=24, choices=(16, 24, 32), help="bit depth (32 = float)")
    parser.add_argument(
        "--per-clip", action="store_true", help="one time-stamped file per clip instead of per track"
    )
    parser.add_argument(
        "--loudness", type=float, metavar="LUFS", help="normalise the mix to this integrated loudness"
    )
    parser.add_argument(
        "--naming",
        default="foley",
        metavar="PRESET",
        help="file naming: 'foley' (FEET/PROPS/CLOTH), 'plain', or a preset .json file",
    )
    parser.add_argument("--video-audio", default="aac", choices=("aac", "pcm"), help="audio codec of --video")
    parser.add_argument("--no-ixml", action="store_true", help="write no iXML chunk")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=run)


def load_naming(value: str) -> Any:
    """A built-in preset by name, or a preset JSON file."""
    from foleystudio.errors import UsageError
    from foleystudio.export import PRESETS, NamingPreset

    if value.lower() in PRESETS:
        return PRESETS[value.lower()]
    path = Path(value)
    if not path.is_file():
        raise UsageError(f"unknown naming preset {value!r}: use {', '.join(PRESETS)} or a .json file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read naming preset: {exc}", path) from exc
    return NamingPreset.from_dict(data)


def run(args: argparse.Namespace) -> int:
    from foleystudio.core.bundle import bundle_folder, load_project
    from foleystudio.export import export_project

    project = load_project(args.project)
    show = _progress_printer() if not args.json and sys.stderr.isatty() else None
    result = export_project(
        project,
        bundle_folder(args.project),
        stems_dir=_absolute(args.stems),
        mix_path=_absolute(args.mix),
        video_path=_absolute(args.video),
        otio_path=_absolute(args.otio),
        rpp_path=_absolute(args.rpp),
        edl_path=_absolute(args.edl),
        sample_rate=args.rate,
        bits=args.bits,
        per_clip=args.per_clip,
        naming=load_naming(args.naming),
        loudness_target=args.loudness,
        video_audio_codec=args.video_audio,
        ixml=not args.no_ixml,
        **({"progress": show} if show else {}),
    )
    if show:
        print(file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    for path in result.files:
        print(path)
    report = result.mix_report
    if report is not None:
        line = f"mix: {report.loudness_lufs:.1f} LUFS, peak {report.peak_dbfs:.1f} dBFS"
        if report.normalization_gain_db is not None:
            line += f" (normalised to {report.target_lufs:g} LUFS: {report.normalization_gain_db:+.2f} dB applied)"
        print(line)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _absolute(path: Path | None) -> Path | None:
    """Destinations given on the command line are relative to the current folder."""
    return None if path is None else path.expanduser().absolute()


def _progress_printer() -> Any:
    def show(fraction: float, message: str) -> None:
        print(f"\r{fraction * 100:5.1f}%  {message[:60]:<60}", end="", file=sys.stderr, flush=True)

    return show
