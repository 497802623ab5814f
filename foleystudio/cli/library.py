"""``foleystudio library add|list|remove|search``: the user's sound library (docs/architecture.md §13).

``library add FOLDER [--model M]`` indexes the folder's sounds (new or changed files only;
unreadable ones are listed and skipped; Ctrl+C changes nothing). ``library list [--json]``,
``library remove PATH...`` (files or folders). ``library search`` by exactly one of
``--text "..."``, ``--image FILE [--box X,Y,W,H]``, ``--video FILE --time S [--box ...]`` or
``--like FILE`` (a sound file or an indexed entry), with ``-n`` results, best first, each with
the start (s) of its best-matching segment; ``--json`` for scripts. ``--library DIR`` uses
another library folder than ``<user dir>/library``.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from foleystudio.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "library", help="your sound library: index folders, search by text, picture, sound"
    )
    commands = parser.add_subparsers(dest="library_command", metavar="ACTION")
    commands.required = True

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--library", default=None, metavar="DIR", help="library folder (default: <user dir>/library)"
        )

    add = commands.add_parser("add", help="index a folder's sound files (only new or changed ones)")
    add.add_argument("folder", help="folder of WAV, AIFF, FLAC, MP3, OGG… files (searched recursively)")
    add.add_argument(
        "--model",
        default=None,
        help="model bundle whose audio encoder embeds the sounds (default: the library's)",
    )
    add.add_argument("--json", action="store_true", help="print the report as JSON")
    common(add)
    add.set_defaults(func=run_add)

    lst = commands.add_parser("list", help="list the indexed sounds and the skipped files")
    lst.add_argument("--json", action="store_true", help="print as JSON")
    common(lst)
    lst.set_defaults(func=run_list)

    rm = commands.add_parser("remove", help="forget sounds (files or whole folders); the files stay")
    rm.add_argument("paths", nargs="+", help="indexed files or folders")
    common(rm)
    rm.set_defaults(func=run_remove)

    search = commands.add_parser(
        "search",
        help="find sounds by text, picture, video frame or sound",
        description="Rank the library's sounds against one query; each result gives the start (s) "
        "of its best-matching segment.",
    )
    what = search.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", help='describe the sound, e.g. "a door slamming"')
    what.add_argument("--image", metavar="FILE", help="a picture (PNG, JPEG…)")
    what.add_argument("--video", metavar="FILE", help="a video; with --time")
    what.add_argument("--like", metavar="FILE", help="more like this sound file (indexed or not)")
    search.add_argument("--time", type=float, default=None, help="video time in seconds (with --video)")
    search.add_argument(
        "--box", default=None, metavar="X,Y,W,H", help="normalised box to crop the picture to"
    )
    search.add_argument("-n", type=int, default=10, help="number of results (default 10)")
    search.add_argument("--json", action="store_true", help="print the results as JSON")
    search.add_argument(
        "--model", default=None, help="model bundle (default: the one the library was indexed with)"
    )
    common(search)
    search.set_defaults(func=run_search)


def parse_box(text: str) -> Any:
    """``"X,Y,W,H"`` (normalised, origin top-left) → :class:`~foleystudio.core.boxes.Box`."""
    from foleystudio.core.boxes import Box

    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise UsageError(f"--box expects X,Y,W,H (four numbers between 0 and 1), got {text!r}")
    box = Box(*values)
    if box.clipped() is None:
        raise UsageError(f"--box {text!r} lies outside the picture")
    return box


def _print_progress(fraction: float, message: str) -> None:
    from foleystudio.cli.run_options import print_progress

    print_progress(fraction, message)


def run_add(args: argparse.Namespace) -> int:
    import sys

    from foleystudio.ml.library_search import LibrarySearcher

    folder = Path(args.folder)
    if not folder.is_dir():  # before loading the model: a typo should fail at once
        raise UsageError(f"{folder}: not a folder")
    searcher = LibrarySearcher(args.library, args.model)
    report = searcher.add_folder(folder, progress=_print_progress)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_dict(), indent=1))
        return 0
    print(
        f"{report.folder}: {len(report.added)} added, {len(report.updated)} updated, "
        f"{report.unchanged} unchanged, {len(report.removed)} removed (gone), "
        f"{len(report.skipped)} skipped; library has {report.entries} sounds ({report.seconds:.1f} s)"
    )
    for path, problem in report.skipped:
        print(f"  skipped {path}: {problem}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from foleystudio.core.library import load_library

    library = load_library(args.library)
    if args.json:
        data = {
            "folder": str(library.folder),
            "model": library.model,
            "entries": [e.to_dict() for e in library.entries],
            "skipped": [{"path": s.path, "problem": s.problem} for s in library.skipped],
        }
        print(json.dumps(data, indent=1))
        return 0
    for e in library.entries:
        note = f"  {e.description}" if e.description else ""
        print(f"{e.path}\t{e.duration:.2f} s\t{e.sample_rate} Hz\t{e.channels} ch{note}")
    for s in library.skipped:
        print(f"skipped {s.path}: {s.problem}")
    print(f"{len(library.entries)} sounds, {len(library.skipped)} skipped, in {library.folder}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from foleystudio.core.library import load_library, remove_from_library, save_library

    library = load_library(args.library)
    updated, removed = remove_from_library(library, args.paths)
    if removed == 0 and len(updated.skipped) == len(library.skipped):
        raise UsageError(f"nothing in the library at {', '.join(args.paths)}")
    save_library(updated)
    print(f"removed {removed} sounds; library has {len(updated.entries)}")
    return 0


def run_search(args: argparse.Namespace) -> int:
    from foleystudio.ml.library_search import LibraryQuery, LibrarySearcher

    if args.n < 1:
        raise UsageError(f"-n must be at least 1, got {args.n}")
    if args.time is not None and args.video is None:
        raise UsageError("--time applies to --video only")
    box = parse_box(args.box) if args.box is not None else None
    for flag, value in (("--image", args.image), ("--video", args.video), ("--like", args.like)):
        if value is not None and not Path(value).is_file():
            raise UsageError(f"{value}: {flag} file does not exist")
    query = LibraryQuery(
        text=args.text, image=args.image, video=args.video, time=args.time, box=box, like=args.like
    )
    searcher = LibrarySearcher(args.library, args.model)
    if not searcher.library().entries:
        raise UsageError(
            f"{searcher.folder}: the library is empty; add sounds with 'foleystudio library add FOLDER'"
        )
    hits = searcher.search(query, args.n)
    if args.json:
        print(json.dumps({"query": query.kind, "results": [h.to_dict() for h in hits]}, indent=1))
        return 0
    for rank, hit in enumerate(hits, start=1):
        note = f"  {hit.entry.description}" if hit.entry.description else ""
        print(f"{rank:3d}. {hit.score:+.3f}  {hit.start:7.2f} s  {hit.entry.path}{note}")
    return 0
