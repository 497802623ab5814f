"""Build hook: the wheel carries the shipped data inside the package.

``pyproject.toml`` holds the project's metadata; this file only adds one step to
``build_py``: copy every model bundle of ``models/`` and the demo clip of
``resources/demo/`` into ``foleystudio/_shipped/`` of the build, where
``foleystudio.core.shipped.shipped_dir`` finds them once installed. The repository keeps
``models/`` at its top (docs/decisions.md, "Shipping the default model"). Editable installs
skip the copy: they read the checkout's folders directly.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# Shipped item -> checkout folder; keep in step with foleystudio/core/shipped.py.
SHIPPED = {"models": "models", "demo": "resources/demo"}


def _shipped_files() -> list[tuple[Path, Path]]:
    """(source, path relative to foleystudio/_shipped) of every file to ship."""
    files: list[tuple[Path, Path]] = []
    models = ROOT / SHIPPED["models"]
    # Only bundle folders (those with a manifest): a checkout may hold scratch folders too.
    for bundle in sorted(p for p in models.iterdir() if (p / "manifest.json").is_file()):
        files += [
            (f, Path("models", bundle.name, f.name))
            for f in sorted(bundle.iterdir())
            if f.is_file() and not f.name.startswith(".")
        ]
    demo = ROOT / SHIPPED["demo"]
    files += [(f, Path("demo", f.name)) for f in sorted(demo.iterdir()) if f.is_file()]
    return files


class BuildPyWithShipped(build_py):
    """``build_py`` that also copies the shipped models and demo clip into the package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "foleystudio" / "_shipped"
        if target.exists():
            shutil.rmtree(target)  # a stale build must not ship a removed bundle
        for source, relative in _shipped_files():
            self.mkpath(str((target / relative).parent))
            self.copy_file(str(source), str(target / relative))


setup(cmdclass={"build_py": BuildPyWithShipped})
