"""Staging folders (``core.atomicfile.StagingFolders``): files appear together or not at all,
and errors name the user's paths and say what is really wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from foleystudio.core.atomicfile import StagingFolders
from foleystudio.errors import ExportError, FoleyStudioError


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_file_where_a_folder_should_be_is_named(tmp_path):
    blocker = tmp_path / "stems"
    blocker.write_text("not a folder")
    with pytest.raises(ExportError) as info:
        StagingFolders([blocker / "deeper"], error=ExportError)
    assert "is a file, not a folder" in str(info.value) and str(blocker) in str(info.value)
    assert ".foleystudio-export" not in str(info.value)
    assert names(tmp_path) == ["stems"]


def test_the_error_type_defaults_to_the_base_error(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(FoleyStudioError):
        StagingFolders([tmp_path / "f"])


def test_staged_paths_are_reported_as_their_destination(tmp_path):
    staging = StagingFolders([tmp_path])
    try:
        staged = staging.path_for(tmp_path / "mix.wav")
        assert staged != tmp_path / "mix.wav"
        assert staged.parent == staging.stages[tmp_path] and staged.parent.name.startswith(".foleystudio-")
        assert staging.user_path(str(staged)) == tmp_path / "mix.wav"
        assert staging.user_path("/elsewhere/x.wav") == "/elsewhere/x.wav"
        assert staging.user_path(None) is None
    finally:
        staging.abort()
    assert not any(p.name.startswith(".foleystudio") for p in Path(tmp_path).iterdir())


def test_commit_moves_every_file_into_place_and_replaces_old_ones(tmp_path):
    out, stems = tmp_path / "out", tmp_path / "out" / "stems" / "deep"
    out.mkdir()
    (out / "mix.wav").write_text("old")
    (out / "keep.txt").write_text("untouched")
    staging = StagingFolders([out, stems])
    staging.path_for(out / "mix.wav").write_text("new")
    staging.path_for(stems / "a.wav").write_text("a")
    assert names(out) == sorted(["keep.txt", "mix.wav", "stems", staging.stages[out].name])
    assert not (stems / "a.wav").exists()  # nothing visible before the commit
    staging.commit()
    assert names(out) == ["keep.txt", "mix.wav", "stems"]
    assert (out / "mix.wav").read_text() == "new" and (out / "keep.txt").read_text() == "untouched"
    assert names(stems) == ["a.wav"]


def test_abort_removes_staged_files_and_the_folders_it_made(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mix.wav").write_text("old")
    new = tmp_path / "new" / "stems"
    staging = StagingFolders([out, new])
    assert staging.created == [tmp_path / "new", new]
    staging.path_for(out / "mix.wav").write_text("half")
    staging.path_for(new / "a.wav").write_text("a")
    staging.abort()
    assert names(out) == ["mix.wav"] and (out / "mix.wav").read_text() == "old"
    assert names(tmp_path) == ["out"]  # the folders it made are gone


def test_abort_keeps_a_made_folder_that_is_no_longer_empty(tmp_path):
    new = tmp_path / "new"
    staging = StagingFolders([new])
    (new / "someone_elses.txt").write_text("x")
    staging.abort()
    assert names(new) == ["someone_elses.txt"]
