"""``foleystudio train flow-events``: train the learned visual event detector over optical flow.

A sub-command of ``train`` (``cli/train.py`` calls :func:`register_flow_events`); having no
``register``, CLI discovery does not take it for a top-level command.
"""

from __future__ import annotations

import argparse
import json

from foleystudio.cli.run_options import add_run_options, max_seconds, print_progress


def register_flow_events(parts: argparse._SubParsersAction) -> None:
    """Add ``flow-events`` to the sub-parsers of ``train``."""
    p = parts.add_parser(
        "flow-events",
        help="train the flow event network (where sounds happen, from optical flow)",
        description="Train on a FoleyWorld corpus (best one written with `data foleyworld --randomise`: the "
        "whole picture and each source's box), or self-supervised on any folder of videos with sound (each "
        "video's own soundtrack onsets are its labels; no annotation). The run folder is resumable; when "
        "finished it holds 'bundle/', and with --bundle the network is added to that model bundle (rewritten "
        "in place, or written to --bundle-out), where `generate` and `events detect` use it.",
    )
    p.add_argument("--data", required=True, help="FoleyWorld corpus folder, or a folder of videos with sound")
    p.add_argument(
        "--init",
        default=None,
        help="start from this bundle's (or finished run's) flow event network: adapt the shipped detector "
        "to your own footage",
    )
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch", type=int, default=32, help="windows of 8 s per step")
    p.add_argument("--bundle", default=None, help="model bundle folder to add the finished network to")
    p.add_argument("--bundle-out", default=None, help="write the bundle with the network here instead")
    add_run_options(p)
    p.set_defaults(func=run_flow_events)


def run_flow_events(args: argparse.Namespace) -> int:
    from foleystudio.errors import UsageError
    from foleystudio.ml.device import pick_device
    from foleystudio.ml.encoders.flow_events import FlowEventConfig
    from foleystudio.train.flow_events import (
        FlowEventTrainSettings,
        add_to_bundle,
        examples_from_folder,
        load_trained_flow_events,
        train_flow_events,
    )

    if args.steps < 1 or args.batch < 1:
        raise UsageError(f"--steps and --batch must be at least 1, got {args.steps} and {args.batch}")
    if args.bundle_out is not None and args.bundle is None:
        raise UsageError("--bundle-out needs --bundle (the bundle to add the network to)")
    settings = FlowEventTrainSettings(steps=args.steps, batch_size=args.batch, seed=args.seed)
    init = None if args.init is None else load_trained_flow_events(args.init)
    config = FlowEventConfig() if init is None else init.config
    examples = examples_from_folder(args.data, config, objects=settings.objects, progress=print_progress)
    summary = train_flow_events(
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
    if summary.get("finished") and args.bundle is not None:
        summary["bundle"] = str(add_to_bundle(args.bundle, args.out, args.bundle_out))
    print(json.dumps(summary, indent=2))
    return 0
