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

from foleystudio.cli.settings_options import add_settings_options, settings_from_args
from foleystudio.export.options import ExportDestinations, ExportOptions


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
    add_settings_options(parser.add_argument_group("export options"), ExportOptions)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from foleystudio.core.project_bundle import bundle_folder, load_project
    from foleystudio.export import export_project

    project = load_project(args.project)
    show = _progress_printer() if not args.json and sys.stderr.isatty() else None
    destinations = ExportDestinations(
        stems=_absolute(args.stems),
        mix=_absolute(args.mix),
        video=_absolute(args.video),
        otio=_absolute(args.otio),
        rpp=_absolute(args.rpp),
        edl=_absolute(args.edl),
    )
    result = export_project(
        project,
        destinations,
        settings_from_args(args, ExportOptions),
        bundle_dir=bundle_folder(args.project),
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
