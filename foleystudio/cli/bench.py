"""``foleystudio bench {all,media,features,flow,events,generate,codec,export,playback,foleyworld,sync,sources,search,library,prompt,other-renderer,realism,rate-cost} [--quick] [--model M]``.

Runs the benchmarks of the source tree's ``benchmarks/`` folder (beside the ``foleystudio``
package; an installed wheel does not ship it). Each benchmark module exposes
``run(quick=False, ...) -> dict`` and writes ``benchmarks/results/<name>.json`` itself; this
command imports it by path, runs it, and prints its report (``format_report(result)`` when
the module has one, else the result as JSON).
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

#: Benchmark name → module file stem in ``benchmarks/``, in the order ``all`` runs them.
BENCHMARKS: dict[str, str] = {
    "media": "media",
    "features": "features_speed",
    "flow": "flow_speed",
    "events": "event_following",
    "foleyworld": "foleyworld_speed",
    "generate": "generate_speed",
    "rate-cost": "codec_rate_cost",
    "codec": "codec",
    "export": "export_speed",
    "playback": "playback",
    "sync": "sync",
    "sources": "sources",
    "search": "search",
    "library": "library",
    "prompt": "audio_prompt",
    "other-renderer": "other_renderer",
    "realism": "realism",
}


def register(subparsers: Any) -> None:
    """Add the ``bench`` sub-command."""
    parser = subparsers.add_parser(
        "bench",
        help="run benchmarks (speed and sync) and write benchmarks/results/*.json",
        description="Run FoleyStudio's benchmarks from the source tree's benchmarks/ folder.",
    )
    parser.add_argument("name", choices=["all", *BENCHMARKS], help="which benchmark (all: every one in turn)")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions or clips")
    parser.add_argument(
        "--model",
        default=None,
        help="model bundle for benchmarks that use one (sync, sources, events, codec, search, library, prompt, other-renderer, realism; default foleyworld-tiny)",
    )
    parser.set_defaults(func=run)


def benchmarks_dir() -> Path:
    """The repository's ``benchmarks/`` folder (next to the ``foleystudio`` package)."""
    import foleystudio

    return Path(foleystudio.__file__).resolve().parents[1] / "benchmarks"


def load_benchmark(name: str, folder: Path | None = None) -> ModuleType:
    """Import ``benchmarks/<module>.py`` of benchmark ``name``; raises FoleyStudioError when
    the folder or file is missing (e.g. FoleyStudio installed from a wheel)."""
    from foleystudio.errors import FoleyStudioError, UsageError

    if name not in BENCHMARKS:
        raise UsageError(f"unknown benchmark '{name}'; known: {', '.join(BENCHMARKS)}")
    folder = (folder or benchmarks_dir()).resolve()
    path = folder / f"{BENCHMARKS[name]}.py"
    if not folder.is_dir():
        raise FoleyStudioError(
            "benchmarks folder not found: benchmarks run from a source checkout, not an installed package",
            folder,
        )
    if not path.is_file():
        raise FoleyStudioError(f"benchmark '{name}' is missing from the benchmarks folder", path)
    import importlib
    import importlib.machinery
    import importlib.util

    # Benchmarks import each other as ``benchmarks.<module>``: register this folder as that
    # (namespace) package; sys.path stays as it is, so nothing else becomes importable.
    package = sys.modules.get("benchmarks")
    if package is None or [str(p) for p in getattr(package, "__path__", [])] != [str(folder)]:
        spec = importlib.machinery.ModuleSpec("benchmarks", None, is_package=True)
        spec.submodule_search_locations = [str(folder)]
        for stale in [m for m in sys.modules if m == "benchmarks" or m.startswith("benchmarks.")]:
            del sys.modules[stale]
        sys.modules["benchmarks"] = importlib.util.module_from_spec(spec)
    module = importlib.import_module(f"benchmarks.{BENCHMARKS[name]}")
    if Path(module.__file__ or "").resolve() != path:
        raise FoleyStudioError(
            f"'benchmarks.{BENCHMARKS[name]}' was imported from elsewhere", module.__file__
        )
    if not callable(getattr(module, "run", None)):
        raise FoleyStudioError(f"benchmark '{name}' has no run() function", path)
    return module


def run_benchmark(module: ModuleType, quick: bool, model: str | None) -> dict[str, Any]:
    """Call ``module.run``, passing ``model`` only to benchmarks that take one."""
    kwargs: dict[str, Any] = {"quick": quick}
    if model is not None and "model" in inspect.signature(module.run).parameters:
        kwargs["model"] = model
    return module.run(**kwargs)


def report(module: ModuleType, result: dict[str, Any]) -> str:
    if callable(getattr(module, "format_report", None)):
        return module.format_report(result)
    return json.dumps(result, indent=1)


def run(args: argparse.Namespace) -> int:
    """Run one benchmark, or all in turn (a failing one is reported and the rest still run)."""
    from foleystudio.errors import FoleyStudioError

    names = list(BENCHMARKS) if args.name == "all" else [args.name]
    if args.model is not None and args.name not in (
        "all",
        "sync",
        "sources",
        "events",
        "codec",
        "search",
        "library",
        "prompt",
        "other-renderer",
        "realism",
    ):
        print(
            f"note: --model is used by the sync, sources, events and codec benchmarks only, not by '{args.name}'",
            file=sys.stderr,
        )
    failed: list[str] = []
    for name in names:
        module = load_benchmark(name)
        print(f"== {name} ({Path(module.__file__).name}) ==", flush=True)
        try:
            result = run_benchmark(module, args.quick, args.model)
        except FoleyStudioError as exc:
            if len(names) == 1:
                raise
            print(f"foleystudio: benchmark '{name}' failed: {exc}", file=sys.stderr)
            failed.append(name)
            continue
        print(report(module, result), flush=True)
    if failed:
        print(f"foleystudio: {len(failed)} benchmark(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
