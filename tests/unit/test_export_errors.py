"""Export errors name the user's paths, and say what is really wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from foleystudio.errors import ExportError
from foleystudio.export.pipeline import _Staging


def test_a_file_where_a_folder_should_be_is_named(tmp_path):
    blocker = tmp_path / "stems"
    blocker.write_text("not a folder")
    with pytest.raises(ExportError) as info:
        _Staging([blocker / "deeper"])
    assert "is a file, not a folder" in str(info.value) and str(blocker) in str(info.value)
    assert ".foleystudio-export" not in str(info.value)


def test_staged_paths_are_reported_as_their_destination(tmp_path):
    staging = _Staging([tmp_path])
    try:
        staged = staging.path_for(tmp_path / "mix.wav")
        assert staged != tmp_path / "mix.wav"
        assert staging.user_path(str(staged)) == tmp_path / "mix.wav"
        assert staging.user_path("/elsewhere/x.wav") == "/elsewhere/x.wav"
        assert staging.user_path(None) is None
    finally:
        staging.abort()
    assert not any(p.name.startswith(".foleystudio") for p in Path(tmp_path).iterdir())
