"""Options and progress every ``foleystudio train PART`` shares (a helper, not a command).

A run folder (``--out``) is resumable (``--resume``); ``--max-minutes`` bounds the wall time
of this call (``train/loop.py``); progress goes to a terminal's stderr on one line.
"""

from __future__ import annotations

import argparse
import sys


def add_run_options(p: argparse.ArgumentParser) -> None:
    """``--out``, ``--resume``, ``--device``, ``--seed`` and ``--max-minutes``."""
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="stop (resumably) after training this long in this call",
    )


def max_seconds(args: argparse.Namespace) -> float | None:
    """``--max-minutes`` in seconds (None: no limit)."""
    return None if args.max_minutes is None else args.max_minutes * 60


def print_progress(fraction: float, message: str) -> None:
    """One updating line on stderr when it is a terminal (quiet in logs and pipes)."""
    if sys.stderr.isatty():
        print(f"\r{fraction * 100:5.1f}% {message:<60}", end="", file=sys.stderr, flush=True)
