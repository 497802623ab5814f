"""``foleystudio data …``: make training data.

``foleystudio data foleyworld --out DIR --clips N --seed S [--duration 8] [--size 128]
[--fps 24] [--sources 1-3] [--jobs J] [--categories a,b] [--look standard|novel|recoloured|repainted|mixed]
[--no-offscreen] [--samples] [--randomise]`` writes a FoleyWorld corpus (clip_00000… + index.json).
"""

from __future__ import annotations

import argparse
import sys

from foleystudio.errors import UsageError

#: ``data.foleyworld.LOOK_VARIANTS``, written out: importing FoleyWorld would add 1.3 s to every
#: command's start (a test keeps the two equal).
LOOK_CHOICES = ("standard", "novel", "recoloured", "repainted", "mixed")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="generate training data (FoleyWorld)")
    sub = parser.add_subparsers(dest="data_command", metavar="KIND")
    sub.required = True
    fw = sub.add_parser(
        "foleyworld",
        help="write a procedural audio-visual corpus with exact ground truth",
        description="Write N FoleyWorld clips (MP4 + WAV mix + stems + JSON truth) and index.json.",
    )
    fw.add_argument("--out", required=True, help="output folder")
    fw.add_argument("--clips", type=int, required=True, help="number of clips")
    fw.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    fw.add_argument("--duration", type=float, default=8.0, help="seconds per clip (default 8)")
    fw.add_argument("--size", type=int, default=128, help="frame side in pixels (default 128)")
    fw.add_argument("--fps", type=int, default=24, help="frames per second (default 24)")
    fw.add_argument(
        "--sample-rate", type=int, default=16000, help="audio sample rate of WAVs in Hz (default 16000)"
    )
    fw.add_argument("--sources", default="1-3", help="sources per clip: N or MIN-MAX (default 1-3)")
    fw.add_argument(
        "--categories", default=None, help="comma-separated categories to draw from (default: all)"
    )
    fw.add_argument(
        "--look",
        default="standard",
        choices=LOOK_CHOICES,
        help="'novel' renders colours never used in training (generalisation tests); 'recoloured' "
        "gives every ball a random colour, so the colour does not name the material, 'repainted' the "
        "walls and floors too (training), 'mixed' draws standard or repainted per clip (training)",
    )
    fw.add_argument("--no-offscreen", action="store_true", help="never add off-screen noise")
    fw.add_argument("--no-ambience", action="store_true", help="no background ambience")
    fw.add_argument(
        "--samples",
        action="store_true",
        help="use recorded CC0 samples from the Debian package sonic-pi-samples where available",
    )
    fw.add_argument(
        "--randomise",
        action="store_true",
        help="domain-randomise every clip's pictures (textured backgrounds, camera shake/pan/zoom, "
        "blur, noise, compression, occlusion, lighting, silent distractors) and draw its fps from "
        "12-60 (--fps is then ignored); sound and onset times are unchanged",
    )
    fw.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    fw.set_defaults(func=run_foleyworld)


def parse_sources(text: str) -> int | None:
    """ "2" → 2, "1-3" → None (random 1–3), "2-2" → 2; raises UsageError otherwise."""
    try:
        if "-" in text:
            low, high = (int(p) for p in text.split("-", 1))
        else:
            low = high = int(text)
    except ValueError:
        raise UsageError(f"--sources must be N or MIN-MAX, got {text!r}") from None
    if not 1 <= low <= high <= 3:
        raise UsageError(f"--sources must lie within 1-3, got {text!r}")
    if low == high:
        return low
    if (low, high) != (1, 3):
        raise UsageError("--sources ranges other than 1-3 are not supported; give a single number")
    return None


def run_foleyworld(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from foleystudio.core.jobs import CancelToken
    from foleystudio.data.foleyworld import CATEGORIES, generate_corpus

    categories = None
    if args.categories:
        categories = [c.strip() for c in args.categories.split(",") if c.strip()]
        unknown = [c for c in categories if c not in CATEGORIES]
        if unknown:
            raise UsageError(f"unknown categories {unknown}; known: {', '.join(CATEGORIES)}")
    n_sources = parse_sources(args.sources)
    bar = tqdm(total=args.clips, unit="clip", file=sys.stderr, disable=None)

    def progress(fraction: float, message: str) -> None:
        bar.n = round(fraction * args.clips)
        bar.set_postfix_str(message, refresh=False)
        bar.refresh()

    try:
        index = generate_corpus(
            args.out,
            args.clips,
            args.seed,
            duration=args.duration,
            size=args.size,
            fps=args.fps,
            sample_rate=args.sample_rate,
            n_sources=n_sources,
            categories=categories,
            look_variant=args.look,
            ambience=not args.no_ambience,
            offscreen=False if args.no_offscreen else None,
            use_samples=args.samples,
            randomise=args.randomise,
            jobs=args.jobs,
            progress=progress,
            cancel=CancelToken(),
        )
    finally:
        bar.close()
    print(index)
    return 0
