"""``foleystudio train {clip,flowley,audio}``: train the model parts on FoleyWorld or your own videos.

Each run folder is resumable (``--resume``) and keeps ``log.jsonl``. ``train flowley``
builds the feature cache (``cache.safetensors``) in its run folder on first use, with the
CLIP encoder of ``--clip RUN_DIR``, and with ``--bundle DIR`` writes the finished model
bundle (network + codec + CLIP) that ``generate --model DIR`` and the app load.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from foleystudio.cli.train_onsets import register_onsets
from foleystudio.cli.train_ssv2a import register_ssv2a


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train CLIP or Flowley on a data folder")
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
    f.add_argument("--max-minutes", type=float, default=None, help="stop (resumably) after this long")
    f.add_argument("--bundle", default=None, help="write the finished model bundle to this folder")
    f.add_argument("--bundle-name", default="foleyworld-tiny")
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
    f.set_defaults(func=run_flowley)

    register_ssv2a(parts)
    register_onsets(parts)

    a = parts.add_parser(
        "audio", help="train the audio encoder (CLAP's role) on FoleyWorld stems, and its category classifier"
    )
    _common(a, "fw-audio-tiny")
    a.add_argument(
        "--clip", required=True, help="CLIP run folder (from `train clip`) whose text space to learn"
    )
    a.add_argument("--steps", type=int, default=3000)
    a.add_argument("--batch", type=int, default=32, help="most stems per step (their texts are distinct)")
    a.add_argument("--max-minutes", type=float, default=None, help="stop (resumably) after this long")
    a.set_defaults(func=run_audio)


def _common(p: argparse.ArgumentParser, config: str) -> None:
    p.add_argument("--data", required=True, help="FoleyWorld corpus or a folder of videos with sound")
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--config", default=config, help=f"model config (default {config})")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)


def _progress(fraction: float, message: str) -> None:
    if sys.stderr.isatty():
        print(f"\r{fraction * 100:5.1f}% {message:<60}", end="", file=sys.stderr, flush=True)


def run_clip(args: argparse.Namespace) -> int:
    from foleystudio.data.datasets import scan_folder
    from foleystudio.train.clip import ClipTrainSettings, train_clip
    from foleystudio.train.distributed import cleanup, init_distributed

    ctx = init_distributed(args.device)  # one process, or this rank of a torchrun launch
    try:
        settings = ClipTrainSettings(
            config=args.config, steps=args.steps, batch_size=args.batch, seed=args.seed
        )
        summary = train_clip(
            scan_folder(args.data), args.out, settings, resume=args.resume, progress=_progress, ctx=ctx
        )
        if ctx.is_main:
            print(json.dumps(summary, indent=2))
    finally:
        cleanup(ctx)
    return 0


def run_flowley(args: argparse.Namespace) -> int:
    from foleystudio.train.distributed import cleanup, init_distributed

    # Under torchrun every process runs this handler; init_distributed finds its rank.
    ctx = init_distributed(args.device)
    try:
        return _run_flowley(args, ctx)
    finally:
        cleanup(ctx)


def _run_flowley(args: argparse.Namespace, ctx: Any) -> int:
    from foleystudio.ml.codec import codec_from_config
    from foleystudio.train.audio import load_trained_audio
    from foleystudio.train.clip import load_trained_clip
    from foleystudio.train.distributed import main_first
    from foleystudio.train.event_tracks import EventTrackSettings
    from foleystudio.train.flowley import FlowleyTrainSettings, train_flowley
    from foleystudio.train.visual_onsets import load_trained_onsets

    out = Path(args.out)
    cache = out / "cache.safetensors"
    clip = load_trained_clip(args.clip)
    # With an audio encoder the cache also holds each target's audio embedding: the SSV2A mix
    # condition Flowley learns to use (DESIGN.md §5–6).
    audio = None if args.audio is None else load_trained_audio(args.audio)
    onsets = None if args.onsets is None else load_trained_onsets(args.onsets)
    with main_first(ctx):  # rank 0 builds the cache; the others then read it
        _prepare_flowley_cache(args, cache, clip, audio, onsets)
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
        event_tracks=EventTrackSettings(track_prob=args.event_tracks),
    )
    summary = train_flowley(
        cache,
        out,
        settings,
        resume=args.resume,
        max_seconds=None if args.max_minutes is None else args.max_minutes * 60,
        progress=_progress,
        ctx=ctx,
    )
    if not ctx.is_main:
        return 0
    if args.bundle:
        from foleystudio.core.atomicfile import atomic_write_bytes
        from foleystudio.train.bundle import write_model_bundle
        from foleystudio.train.flowley import load_ema_model
        from foleystudio.train.parts import load_ssv2a_part, part_logs

        # Read before writing: a part may come from the very bundle being replaced.
        logs = part_logs({"clip": args.clip, "audio": args.audio, "ssv2a": args.ssv2a, "onsets": args.onsets})
        logs["training_log.jsonl"] = (out / "log.jsonl").read_bytes()
        if args.init:  # the run (or bundle) this one was fine-tuned from
            logs.update({"init_" + k: v for k, v in part_logs({"flowley": args.init}).items()})
        ssv2a = None if args.ssv2a is None else load_ssv2a_part(args.ssv2a)
        # The codec as the cache fitted it (its normalisation), so tokens decode as trained.
        codec = codec_from_config(json.loads(cache.with_suffix(".json").read_text())["codec"])
        path = write_model_bundle(
            args.bundle,
            args.bundle_name,
            load_ema_model(out),
            codec,
            clip,
            training={
                **summary,
                "data": str(args.data),
                "clip_run": str(args.clip),
                **({"init_run": str(args.init)} if args.init else {}),
                **({"onsets_run": str(args.onsets)} if args.onsets else {}),
            },
            description="Flowley trained on FoleyWorld",
            audio=None if audio is None else audio[:2],
            ssv2a=ssv2a,
            onsets=onsets,
        )
        # The training logs travel with the weights.
        for name, data in logs.items():
            atomic_write_bytes(path / name, data)
        summary["bundle"] = str(path)
    print(json.dumps(summary, indent=2))
    return 0


def _prepare_flowley_cache(args: argparse.Namespace, cache: Path, clip: Any, audio: Any, onsets: Any) -> None:
    """Build the feature cache on first use (or add the audio embeddings or the visual onset
    feature it lacks); under torchrun rank 0 runs this first, so the other ranks find the
    cache ready."""
    from foleystudio.data.datasets import (
        add_audio_embeddings,
        add_visual_onsets,
        build_feature_cache,
        scan_folder,
    )
    from foleystudio.ml.codec import MelCodec
    from foleystudio.train.state import has_training_state

    if not cache.is_file():
        records = [r for r in scan_folder(args.data) if r.split in ("train", "val")]
        train = [r for r in records if r.split == "train"][: args.train_clips]
        records = train + [r for r in records if r.split == "val"]
        encoder = None if audio is None else audio[0]
        build_feature_cache(
            records, clip, MelCodec(), cache, audio_encoder=encoder, onset_net=onsets, progress=_progress
        )
        return
    if audio is not None and not args.resume and not _cache_has(cache, "audio_embedding"):
        add_audio_embeddings(cache, scan_folder(args.data), audio[0], progress=_progress)
    has_onsets = "visual_onsets" in json.loads(cache.with_suffix(".json").read_text())
    # Added only before the run's first step: a run part-trained without it cannot take it.
    if onsets is not None and not has_onsets and not has_training_state(args.out):
        add_visual_onsets(cache, scan_folder(args.data), onsets, progress=_progress)


def _cache_has(cache: Path, name: str) -> bool:
    from safetensors import safe_open

    with safe_open(str(cache), "pt") as f:
        return name in f.keys()  # noqa: SIM118 (safe_open is not a dict)


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
            max_seconds=None if args.max_minutes is None else args.max_minutes * 60,
            progress=_progress,
            ctx=ctx,
        )
        if ctx.is_main:
            print(json.dumps(summary, indent=2))
    finally:
        cleanup(ctx)
    return 0
