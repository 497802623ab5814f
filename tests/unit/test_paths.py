"""The per-user folder follows FOLEYSTUDIO_USER_DIR, else sits under the home folder."""

from __future__ import annotations

from pathlib import Path

from foleystudio.core.paths import USER_DIR_ENV, user_dir


def test_user_dir_honours_the_override_and_defaults_under_home(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv(USER_DIR_ENV, str(tmp_path / "fs"))
    assert user_dir() == tmp_path / "fs"
    monkeypatch.delenv(USER_DIR_ENV)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert user_dir() == tmp_path / ".local" / "share" / "foleystudio"
