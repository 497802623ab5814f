"""``foleystudio gui [VIDEO|PROJECT] [--screenshot FILE]``: the desktop app."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from foleystudio.errors import UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "gui",
        help="open the desktop app",
        description="Open the FoleyStudio window, optionally on a video (new project) or a .foley project.",
    )
    parser.add_argument("path", nargs="?", type=Path, help="a video file or a .foley project folder")
    parser.add_argument(
        "--screenshot",
        type=Path,
        metavar="FILE",
        help="render the main window to this PNG and exit (needs no display)",
    )
    parser.add_argument(
        "--size", default="1600x1000", help="window size for --screenshot, WIDTHxHEIGHT (default 1600x1000)"
    )
    parser.set_defaults(func=run_gui)


def _size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d{2,5})\s*[xX]\s*(\d{2,5})\s*", text)
    if not match:
        raise UsageError(f"--size must look like 1600x1000, got {text!r}")
    return int(match.group(1)), int(match.group(2))


def run_gui(args: argparse.Namespace) -> int:
    width, height = _size(args.size)
    if args.path is not None and not args.path.exists():
        raise UsageError("no such file or folder", args.path)
    if args.screenshot is not None and "QT_QPA_PLATFORM" not in os.environ:
        # A screenshot is rendered off screen: it must work on a machine without a display.
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from foleystudio.gui.app import run

    return run(args.path, screenshot=args.screenshot, size=(width, height))
