"""``foleystudio train ssv2a``: train the SSV2A manifold, Remixer and Temporal Aggregation.

This module adds a *sub-command of* ``train`` (``cli/train.py`` calls
:func:`register_ssv2a` with its sub-parsers), not a top-level command; having no
``register``, CLI discovery does not take it for one.
"""

from __future__ import annotations

import argparse
import json

from foleystudio.cli.run_options import add_run_options, max_seconds, print_progress


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
    p.add_argument(
        "--steps", type=int, default=None, help="steps of each of the three stages (default 2000/2000/600)"
    )
    add_run_options(p)
    p.set_defaults(func=run_ssv2a)


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
        max_seconds=max_seconds(args),
        progress=print_progress,
    )
    print(json.dumps(summary, indent=2))
    return 0
