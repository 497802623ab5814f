"""``foleystudio info``: summary, JSON, and one-line errors with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from foleystudio.cli import main


def test_info_prints_a_summary(make_video, capsys: pytest.CaptureFixture[str]) -> None:
    path = make_video("clip.mp4", seconds=1.0, fps=24, rotation=90, timecode="01:00:00:00")
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "1.000 s" in out
    assert "64x96 (coded 96x64)" in out
    assert "24.000 fps (24/1), constant" in out
    assert "90 deg clockwise" in out
    assert "aac 48000 Hz, 1 ch" in out
    assert "timecode 01:00:00:00" in out


def test_info_json(make_video, capsys: pytest.CaptureFixture[str]) -> None:
    path = make_video("clip.mp4", seconds=1.0, fps=24, audio=False)
    assert main(["info", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["duration"] == pytest.approx(1.0, abs=1e-3)
    assert data["fps"] == 24.0 and data["frame_count"] == 24
    assert data["has_audio"] is False and data["width"] == 96


@pytest.mark.parametrize("content", [None, b"", b"plain text, not a video\n"])
def test_info_bad_file_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None
) -> None:
    path = tmp_path / "bad.mp4"
    if content is not None:
        path.write_bytes(content)
    assert main(["info", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "Traceback" not in captured.err
