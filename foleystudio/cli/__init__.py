"""The ``foleystudio`` command line.

Each sub-command lives in its own module of this package and exposes
``register(subparsers)``; modules are discovered, so adding a command touches no other file.
A module without ``register`` is a helper (e.g. ``settings_options``), not a command.
Registration must stay light (no torch, no Qt import): heavy imports happen inside the
command's handler, so ``foleystudio --version`` and ``info`` start fast.

A :class:`~foleystudio.errors.FoleyStudioError` is printed as one line on stderr and gives
exit code 2; a cancelled job gives exit code 130.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from foleystudio import __version__
from foleystudio.errors import FoleyStudioError, JobCancelled


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every discovered sub-command."""
    parser = argparse.ArgumentParser(
        prog="foleystudio",
        description="Synchronized Foley generation and authoring.",
    )
    parser.add_argument("--version", action="version", version=f"foleystudio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "register"):
            module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        result = args.func(args)
    except JobCancelled as exc:
        print(f"foleystudio: {exc}", file=sys.stderr)
        return 130
    except FoleyStudioError as exc:
        print(f"foleystudio: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("foleystudio: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)
