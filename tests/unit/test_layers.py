"""The layering rule of docs/architecture.md §2: core has no torch/Qt, only gui has Qt."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "foleystudio"
TORCHY = {"torch", "torchaudio", "torchvision", "open_clip", "safetensors"}
QT = {"PySide6", "pyqtgraph", "shiboken6"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    roots = {n.split(".")[0] for n in names}
    roots |= {".".join(n.split(".")[:2]) for n in names if n.startswith("foleystudio.")}
    return roots


def files_in(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


@pytest.mark.parametrize("path", files_in("core"), ids=lambda p: p.name)
def test_core_imports_neither_torch_nor_qt(path: Path) -> None:
    bad = imported_roots(path) & (TORCHY | QT | {"foleystudio.ml", "foleystudio.gui", "foleystudio.train"})
    assert not bad, f"{path} imports {bad}"


@pytest.mark.parametrize(
    "path",
    [p for layer in ("core", "ml", "data", "export", "train") for p in files_in(layer)],
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_only_gui_imports_qt(path: Path) -> None:
    bad = imported_roots(path) & (QT | {"foleystudio.gui"})
    assert not bad, f"{path} imports {bad}"


def test_the_check_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import torch\nfrom PySide6 import QtCore\n")
    assert {"torch", "PySide6"} <= imported_roots(bad)
