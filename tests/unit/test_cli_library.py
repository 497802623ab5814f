"""``foleystudio library``: a round trip with a small random model, and one-line errors (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from foleystudio.cli import main


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from foleystudio.train.model_bundle import random_bundle

    return random_bundle(tmp_path_factory.mktemp("models") / "cli-debug", with_ssv2a=True)


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("foleystudio: error: ")
    return err


def test_add_list_search_remove(tmp_path: Path, bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sounds, lib = tmp_path / "sounds", str(tmp_path / "lib")
    sounds.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        sf.write(
            sounds / f"s{i}.wav", (0.1 * rng.standard_normal(16000 + 4000 * i)).astype(np.float32), 16000
        )
    (sounds / "bad.mp3").write_bytes(b"ID3 but nothing else")
    assert main(["library", "add", str(sounds), "--model", str(bundle), "--library", lib]) == 0
    out = capsys.readouterr().out
    assert "3 added" in out and "1 skipped" in out and "bad.mp3" in out
    assert main(["library", "list", "--json", "--library", lib]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [Path(e["path"]).name for e in listed["entries"]] == ["s0.wav", "s1.wav", "s2.wav"]
    assert [Path(s["path"]).name for s in listed["skipped"]] == ["bad.mp3"]
    args = ["library", "search", "--like", str(sounds / "s1.wav"), "-n", "5", "--json", "--library", lib]
    assert main(args) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert sorted(Path(r["path"]).name for r in results) == ["s0.wav", "s2.wav"]  # itself left out
    assert results[0]["score"] >= results[1]["score"] and results[0]["start"] == 0.0
    assert main(["library", "remove", str(sounds / "s0.wav"), "--library", lib]) == 0
    assert "library has 2" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["library", "search", "--text", "a bell"], "library is empty"),
        (["library", "search", "--text", "x", "-n", "0"], "-n must be at least 1"),
        (["library", "search", "--image", "missing.png"], "does not exist"),
        (["library", "search", "--text", "x", "--box", "1,2"], "--box expects X,Y,W,H"),
        (["library", "search", "--text", "x", "--time", "2"], "--time applies to --video"),
        (["library", "add", "no-such-folder"], "not a folder"),
        (["library", "remove", "/nowhere/x.wav"], "nothing in the library"),
    ],
)
def test_errors_are_one_line_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    assert main([*args, "--library", str(tmp_path / "lib")]) == 2
    assert expected in one_error_line(capsys)


def test_a_damaged_library_is_one_line_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "library.json").write_text('{"format": "something else"}')
    assert main(["library", "list", "--library", str(lib)]) == 2
    err = one_error_line(capsys)
    assert "library.json" in err and "not a FoleyStudio sound library" in err
