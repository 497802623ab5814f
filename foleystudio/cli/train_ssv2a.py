"""``foleystudio train ssv2a``: train the SSV2A manifold, Remixer and Temporal Aggregation.

This module adds a *sub-command of* ``train`` (``cli/train.py`` calls
:func:`register_ssv2a` with its sub-parsers), not a top-level command; having no
``register``, CLI discovery does not take it for one.
"""

from __future__ import annotations

import argparse
import json
import sys


def register_ssv2a(parts: argparse._SubParsersAction) -> None:
    """Add ``ssv2a`` to the sub-parsers of ``train``."""
    p = parts.add_parser(
        "ssv2a",
        help="train the SSV2A sound-source modules (CMSS manifold, Remixer, Temporal Aggregation)",
        description="Train on a Flowley feature cache that has the 'audio_embedding' column. The run "
        "folder is resumable; when finished it holds ssv2a_manifold.safetensors, "
        "ssv2a_remixer.safetensors and ssv2a.json.",
    )
    p.add_argument("--cache", required=True, help="feature cache (.safetensors, with its .json index)")
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument(
        "--steps", type=int, default=None, help="steps of each of the three stages (default 2000/2000/600)"
    )
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="stop (resumably) after training this long in this call",
    )
    p.set_defaults(func=run_ssv2a)


def _progress(fraction: float, message: str) -> None:
    if sys.stderr.isatty():
        print(f"\r{fraction * 100:5.1f}% {message:<60}", end="", file=sys.stderr, flush=True)


def run_ssv2a(args: argparse.Namespace) -> int:
    from foleystudio.errors import UsageError
    from foleystudio.train.ssv2a import SSV2ATrainSettings, train_ssv2a

    steps = {}
    if args.steps is not None:
        if args.steps < 1:
            raise UsageError(f"--steps must be at least 1, got {args.steps}")
        steps = {"manifold_steps": args.steps, "remixer_steps": args.steps, "temporal_steps": args.steps}
    summary = train_ssv2a(
        args.cache,
        args.out,
        SSV2ATrainSettings(seed=args.seed, **steps),
        resume=args.resume,
        device=args.device,
        max_seconds=None if args.max_minutes is None else args.max_minutes * 60,
        progress=_progress,
    )
    print(json.dumps(summary, indent=2))
    return 0
