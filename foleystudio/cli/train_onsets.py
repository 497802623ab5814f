"""``foleystudio train onsets``: train the visual onset network on a FoleyWorld corpus.

A sub-command of ``train`` (``cli/train.py`` calls :func:`register_onsets`); having no
``register``, CLI discovery does not take it for a top-level command.
"""

from __future__ import annotations

import argparse
import json

from foleystudio.cli.run_options import add_run_options, max_seconds, print_progress


def register_onsets(parts: argparse._SubParsersAction) -> None:
    """Add ``onsets`` to the sub-parsers of ``train``."""
    p = parts.add_parser(
        "onsets",
        help="train the visual onset network (per-frame onset probability from the picture)",
        description="Train on a FoleyWorld corpus (whole frames and each source's box), or "
        "self-supervised on any folder of videos with sound (each video's own soundtrack onsets are "
        "its labels; no annotation). The run folder is resumable; when finished it holds the bundle "
        "'bundle/' that `train flowley --onsets` and `events detect --model` use.",
    )
    p.add_argument("--data", required=True, help="FoleyWorld corpus folder, or a folder of videos with sound")
    p.add_argument(
        "--init",
        default=None,
        help="start from this bundle's (or finished run's) visual onset network: adapt the shipped "
        "detector to your own footage",
    )
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch", type=int, default=16)
    add_run_options(p)
    p.set_defaults(func=run_onsets)


def run_onsets(args: argparse.Namespace) -> int:
    from foleystudio.errors import UsageError
    from foleystudio.ml.device import pick_device
    from foleystudio.ml.encoders.visual_onsets import VisualOnsetConfig
    from foleystudio.train.visual_onsets import (
        VisualOnsetTrainSettings,
        examples_from_folder,
        load_trained_onsets,
        train_visual_onsets,
    )

    if args.steps < 1 or args.batch < 1:
        raise UsageError(f"--steps and --batch must be at least 1, got {args.steps} and {args.batch}")
    settings = VisualOnsetTrainSettings(steps=args.steps, batch_size=args.batch, seed=args.seed)
    init = None if args.init is None else load_trained_onsets(args.init)
    config = VisualOnsetConfig() if init is None else init.config
    examples = examples_from_folder(args.data, config, objects=settings.objects, progress=print_progress)
    summary = train_visual_onsets(
        examples,
        args.out,
        settings,
        config,
        resume=args.resume,
        device=pick_device(args.device),
        max_seconds=max_seconds(args),
        init=init,
        progress=print_progress,
    )
    print(json.dumps(summary, indent=2))
    return 0
