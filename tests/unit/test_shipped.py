"""Shipped data is found inside an installed package first, else in the source checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

import foleystudio
from foleystudio.core.shipped import shipped_dir
from foleystudio.ml.model_bundle import packaged_models_dir


def test_a_checkout_uses_its_top_level_folders() -> None:
    root = Path(foleystudio.__file__).resolve().parents[1]
    assert shipped_dir("models") == root / "models"
    assert shipped_dir("demo") == root / "resources" / "demo"
    assert (packaged_models_dir() / "foleyworld-tiny" / "manifest.json").is_file()


def test_an_installed_package_uses_its_own_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "site-packages" / "foleystudio"
    (package / "_shipped" / "models").mkdir(parents=True)
    (package / "_shipped" / "demo").mkdir()
    monkeypatch.setattr(foleystudio, "__file__", str(package / "__init__.py"))
    assert shipped_dir("models") == package / "_shipped" / "models"
    assert packaged_models_dir() == package / "_shipped" / "models"
    assert shipped_dir("demo") == package / "_shipped" / "demo"
    with pytest.raises(KeyError):
        shipped_dir("nothing")
