"""``foleystudio train {clip,flowley,audio,ssv2a,onsets,vocoder}``: train the model parts.

Each run folder is resumable (``--resume``) and keeps ``log.jsonl``; ``--max-minutes`` bounds
the training time of one call (``train/loop.py``). ``train flowley`` builds the feature cache
(``cache.safetensors``) in its run folder on first use, with the CLIP encoder of ``--clip
RUN_DIR``, and with ``--bundle DIR`` writes the finished model bundle (network + codec + CLIP)
that ``generate --model DIR`` and the app load (``train/flowley_run.py``). This module only
parses the arguments.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from foleystudio.cli.run_options import add_run_options, max_seconds, print_progress
from foleystudio.cli.train_flow_events import register_flow_events
from foleystudio.cli.train_onsets import register_onsets
from foleystudio.cli.train_ssv2a import register_ssv2a
from foleystudio.cli.train_vocoder import register_vocoder
from foleystudio.ml.codec_presets import CODEC_PRESETS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train a model part (clip, audio, flowley, ssv2a, onsets, vocoder) on a data folder"
    )
    parts = p.add_subparsers(dest="part", metavar="PART", required=True)

    c = parts.add_parser("clip", help="contrastive image-text training of the small CLIP encoder")
    _common(c, "fw-clip-tiny")
    c.add_argument("--steps", type=int, default=1500)
    c.add_argument("--batch", type=int, default=128)
    c.set_defaults(func=run_clip)

    f = parts.add_parser("flowley", help="train the Flowley generator")
    _common(f, "tiny")
    f.add_argument(
        "--clip",
        required=True,
        help="CLIP run folder (from `train clip`) or model bundle whose features to use",
    )
    f.add_argument("--steps", type=int, default=6000)
    f.add_argument("--batch", type=int, default=8)
    f.add_argument("--lr", type=float, default=5e-4)
    f.add_argument(
        "--visual-attention",
        choices=("psca", "plain", "none"),
        default=None,
        help="override the config's visual attention (ablation)",
    )
    f.add_argument(
        "--train-clips",
        type=int,
        default=None,
        help="cache only the first N training clips (plus every validation clip)",
    )
    f.add_argument(
        "--codec",
        choices=tuple(CODEC_PRESETS),
        default=None,
        help="codec preset of a new feature cache: 16k (80 mels, 15.625 tokens/s, the default), 24k "
        "(100 mels, 23.4375 tokens/s) or 24k-p6 (100 mels in patches of 6, 15.625 tokens/s); the data's "
        "WAVs must be at least at its rate. An existing cache keeps its own codec",
    )
    f.add_argument("--bundle", default=None, help="write the finished model bundle to this folder")
    f.add_argument("--bundle-name", default="foleyworld-tiny")
    f.add_argument("--bundle-version", default="1.0.0", help="version written into the bundle's manifest")
    f.add_argument(
        "--audio",
        default=None,
        help="audio-encoder run folder (from `train audio`) or model bundle: the model learns the SSV2A mix condition "
        "from its embeddings, and the bundle includes it",
    )
    f.add_argument("--no-mix", action="store_true", help="do not train the mix condition")
    f.add_argument(
        "--ssv2a",
        default=None,
        help="SSV2A run folder (from `train ssv2a`) or model bundle to include in the bundle",
    )
    f.add_argument(
        "--onsets",
        default=None,
        help="visual onset run folder (from `train onsets`) or model bundle: its per-frame onset track becomes the last "
        "sync feature (added to an existing cache), and the bundle includes the network",
    )
    f.add_argument(
        "--init",
        default=None,
        help="Flowley run folder (its EMA weights) or model bundle that starts this run (fine-tuning; one without the "
        "onset feature is widened with zero weights for it)",
    )
    f.add_argument(
        "--event-tracks",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="share of training rows (0-1) whose onset feature is their true event track, half of them moved "
        "against the picture, so the model follows a given track (needs --onsets)",
    )
    f.add_argument(
        "--motion-drop",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="share of the event-track rows (0-1) whose motion features are zeroed, so the track alone "
        "says when (for pictures whose motion the model cannot read)",
    )
    f.add_argument(
        "--references",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="share of object rows (0-1) given a reference recording: a crop of their own stem rolled round, "
        "or of another clip's stem of the same category, so an audio prompt sets the timbre, not the timing",
    )
    f.add_argument(
        "--hide-picture",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="share of the rows with a reference (0-1) whose picture, text and mix are hidden, so the "
        "reference alone says what the sound is (the motion features still say when)",
    )
    f.add_argument(
        "--timbre-swap",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="share of object rows (0-1) whose sound is rebuilt from another category's voice at their own "
        "events, with that voice's embedding as the mix and the caption hidden, so an audio prompt sets what "
        "the sound is like while the picture sets when",
    )
    f.add_argument(
        "--swap-hide-picture",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="share of the timbre-swapped rows (0-1) whose picture is hidden too (the motion features stay)",
    )
    f.set_defaults(func=run_flowley)

    register_ssv2a(parts)
    register_onsets(parts)
    register_flow_events(parts)
    register_vocoder(parts)

    a = parts.add_parser(
        "audio", help="train the audio encoder (CLAP's role) on FoleyWorld stems, and its category classifier"
    )
    _common(a, "fw-audio-tiny")
    a.add_argument(
        "--clip", required=True, help="CLIP run folder (from `train clip`) whose text space to learn"
    )
    a.add_argument("--steps", type=int, default=3000)
    a.add_argument("--batch", type=int, default=32, help="most stems per step (their texts are distinct)")
    a.set_defaults(func=run_audio)


def _common(p: argparse.ArgumentParser, config: str) -> None:
    p.add_argument("--data", required=True, help="FoleyWorld corpus or a folder of videos with sound")
    p.add_argument("--config", default=config, help=f"model config (default {config})")
    add_run_options(p)


def run_clip(args: argparse.Namespace) -> int:
    from foleystudio.data.datasets import scan_folder
    from foleystudio.train.clip_encoder import ClipTrainSettings, train_clip
    from foleystudio.train.distributed import cleanup, init_distributed

    ctx = init_distributed(args.device)  # one process, or this rank of a torchrun launch
    try:
        settings = ClipTrainSettings(
            config=args.config, steps=args.steps, batch_size=args.batch, seed=args.seed
        )
        summary = train_clip(
            scan_folder(args.data),
            args.out,
            settings,
            resume=args.resume,
            max_seconds=max_seconds(args),
            progress=print_progress,
            ctx=ctx,
        )
        if ctx.is_main:
            print(json.dumps(summary, indent=2))
    finally:
        cleanup(ctx)
    return 0


def run_flowley(args: argparse.Namespace) -> int:
    from foleystudio.train.distributed import cleanup, init_distributed
    from foleystudio.train.event_tracks import EventTrackSettings
    from foleystudio.train.flowley import FlowleyTrainSettings
    from foleystudio.train.flowley_run import FlowleyParts, FlowleyRun, run_flowley
    from foleystudio.train.reference_audio import ReferenceSettings
    from foleystudio.train.timbre_swap import TimbreSwapSettings

    overrides = {} if args.visual_attention is None else {"visual_attention": args.visual_attention}
    settings = FlowleyTrainSettings(
        config=args.config,
        overrides=overrides,
        steps=args.steps,
        batch_size=args.batch,
        lr=args.lr,
        seed=args.seed,
        use_mix=not args.no_mix,
        init_from=args.init,
        event_tracks=EventTrackSettings(track_prob=args.event_tracks, motion_drop_prob=args.motion_drop),
        references=ReferenceSettings(ref_prob=args.references, hide_prob=args.hide_picture),
        timbre_swap=TimbreSwapSettings(swap_prob=args.timbre_swap, hide_picture=args.swap_hide_picture),
    )
    run = FlowleyRun(
        data=Path(args.data),
        out=Path(args.out),
        parts=FlowleyParts(clip=args.clip, audio=args.audio, ssv2a=args.ssv2a, onsets=args.onsets),
        settings=settings,
        train_clips=args.train_clips,
        resume=args.resume,
        max_seconds=max_seconds(args),
        bundle=None if args.bundle is None else Path(args.bundle),
        bundle_name=args.bundle_name,
        bundle_version=args.bundle_version,
        codec=args.codec,
    )
    # Under torchrun every process runs this handler; init_distributed finds its rank.
    ctx = init_distributed(args.device)
    try:
        summary = run_flowley(run, ctx, print_progress)
        if ctx.is_main:
            print(json.dumps(summary, indent=2))
    finally:
        cleanup(ctx)
    return 0


def run_audio(args: argparse.Namespace) -> int:
    from foleystudio.data.datasets import scan_folder
    from foleystudio.train.audio import AudioTrainSettings, train_audio_encoder
    from foleystudio.train.distributed import cleanup, init_distributed

    ctx = init_distributed(args.device)  # one process, or this rank of a torchrun launch
    try:
        settings = AudioTrainSettings(
            config=args.config, steps=args.steps, batch_size=args.batch, seed=args.seed
        )
        summary = train_audio_encoder(
            scan_folder(args.data),
            args.out,
            args.clip,
            settings,
            resume=args.resume,
            max_seconds=max_seconds(args),
            progress=print_progress,
            ctx=ctx,
        )
        if ctx.is_main:
            print(json.dumps(summary, indent=2))
    finally:
        cleanup(ctx)
    return 0
