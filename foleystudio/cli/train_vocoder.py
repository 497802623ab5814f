"""``foleystudio train vocoder``: train the neural vocoder on recorded sounds.

A sub-command of ``train`` (``cli/train.py`` calls :func:`register_vocoder`); having no
``register``, CLI discovery does not take it for a top-level command.
"""

from __future__ import annotations

import argparse
import json

from foleystudio.cli.run_options import add_run_options, max_seconds, print_progress
from foleystudio.ml.codec_presets import CODEC_PRESETS


def register_vocoder(parts: argparse._SubParsersAction) -> None:
    """Add ``vocoder`` to the sub-parsers of ``train``."""
    p = parts.add_parser(
        "vocoder",
        help="train the neural vocoder (log-mel → audio) on recorded sounds",
        description="Train the codec's neural vocoder on recordings: folders of audio files (--data), the "
        "CC0 Sonic Pi samples (--sonic-pi; apt-get install sonic-pi-samples) or every installed package of "
        "data/recordings.py (--packages). A fixed set of files is held out for validation. The run folder is "
        "resumable; when finished it holds 'bundle/', and with --bundle the vocoder is added to that model "
        "bundle (rewritten in place, or written to --bundle-out).",
    )
    p.add_argument(
        "--data", action="append", default=[], metavar="FOLDER", help="folder of recordings (repeatable)"
    )
    p.add_argument(
        "--sonic-pi", action="store_true", help="the Sonic Pi samples (Debian sonic-pi-samples, CC0)"
    )
    p.add_argument(
        "--packages",
        action="store_true",
        help="every installed Debian package of recordings the project lists (licences: data/recordings.py)",
    )
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument(
        "--batch", type=int, default=16, help="crops of 16 codec tokens per step (1.024 s at 16 kHz)"
    )
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument(
        "--phase-weight", type=float, default=0.0, help="weight of APNet's phase losses (default 0: not used)"
    )
    p.add_argument(
        "--min-gain-db",
        type=float,
        default=-24.0,
        help="each crop is played at a random gain between this and 0 dB on its file's peak",
    )
    p.add_argument("--adversarial", action="store_true", help="add the spectrogram discriminators' loss")
    p.add_argument(
        "--bundle",
        default=None,
        help="model bundle folder whose codec the vocoder is trained for, and to which the finished vocoder is "
        "added (rewritten in place unless --bundle-out)",
    )
    p.add_argument(
        "--codec",
        choices=tuple(CODEC_PRESETS),
        default=None,
        help="codec preset whose mel analysis the vocoder reads, without --bundle (default 16k)",
    )
    p.add_argument("--bundle-out", default=None, help="write the bundle with the vocoder here instead")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    add_run_options(p)
    p.set_defaults(func=run_vocoder)


def run_vocoder(args: argparse.Namespace) -> int:
    import torch

    from foleystudio.data.recordings import PACKAGES, package_folders, scan_recordings
    from foleystudio.errors import UsageError
    from foleystudio.ml.codec import codec_preset
    from foleystudio.ml.codec_presets import DEFAULT_CODEC_PRESET
    from foleystudio.ml.device import pick_device
    from foleystudio.train.vocoder import (
        VocoderTrainSettings,
        add_vocoder_to_bundle,
        bundle_codec,
        load_recording_set,
        train_vocoder,
    )

    if args.steps < 1 or args.batch < 1:
        raise UsageError(f"--steps and --batch must be at least 1, got {args.steps} and {args.batch}")
    if args.bundle_out is not None and args.bundle is None:
        raise UsageError("--bundle-out needs --bundle (the bundle to add the vocoder to)")
    if args.codec is not None and args.bundle is not None:
        raise UsageError("give --codec or --bundle, not both: the vocoder reads the bundle's codec")
    folders = list(args.data)
    if args.sonic_pi:
        folders.append(str(PACKAGES["sonic-pi-samples"].folder))
    if args.packages:
        folders.extend(str(f) for f in package_folders())
    if not folders:
        raise UsageError("give the recordings: --data FOLDER, --sonic-pi or --packages")
    if args.threads is not None:
        torch.set_num_threads(max(1, args.threads))
    if args.bundle is None:
        codec = codec_preset(args.codec or DEFAULT_CODEC_PRESET)
    else:
        codec = bundle_codec(args.bundle)
    data = load_recording_set(
        scan_recordings(dict.fromkeys(folders)), codec.sample_rate, progress=print_progress
    )
    settings = VocoderTrainSettings(
        steps=args.steps,
        batch_size=args.batch,
        lr=args.lr,
        seed=args.seed,
        phase_weight=args.phase_weight,
        min_gain_db=args.min_gain_db,
        adversarial=args.adversarial,
    )
    summary = train_vocoder(
        data,
        args.out,
        codec,
        settings,
        resume=args.resume,
        device=pick_device(args.device),
        max_seconds=max_seconds(args),
        progress=print_progress,
    )
    if summary.get("finished") and args.bundle is not None:
        summary["bundle"] = str(add_vocoder_to_bundle(args.bundle, args.out, args.bundle_out))
    print(json.dumps(summary, indent=2))
    return 0
