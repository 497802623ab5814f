"""generate refuses bad values in one line, before importing torch; clamps --end with a warning."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from foleystudio.cli import main

PROBE = (
    "import sys; from foleystudio.cli import main; rc = main(sys.argv[1:]); "
    "print('TORCH' if 'torch' in sys.modules else 'NOTORCH'); sys.exit(rc)"
)


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (["--omega", "nan"], "--omega) must be a finite number"),
        (["--end", "inf"], "end must be a finite number"),
        (["--cfg", "-1"], "cfg"),
        (["--object", "0:2,2,2,2=ball"], "outside the frame"),
        (["--start", "5"], "at or after the video's end"),
    ],
)
def test_bad_values_are_refused_before_torch(make_video, tmp_path, extra, problem):
    video = make_video(seconds=1.0)
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "generate", str(video), "-o", str(out), *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and problem in lines[0], lines
    assert done.stdout.strip() == "NOTORCH"
    assert not out.exists()


def test_end_past_the_video_is_clamped_and_recorded(make_video, debug_bundle, tmp_path, capsys):
    video = make_video(seconds=1.0)
    out = tmp_path / "out"
    args = ["generate", str(video), "-o", str(out), "--end", "999", "--model", str(debug_bundle)]
    late_key = ["--object", "0:0.1,0.1,0.2,0.2;9:0.1,0.1,0.2,0.2=ball"]
    assert main([*args, *late_key, "--steps", "2", "--no-video"]) == 0
    err = capsys.readouterr().err
    assert "using 1.000 s" in err and "keyframe of 'ball' at 9 s is after the video's end" in err
    result = json.loads((out / "result.json").read_text())
    assert result["request"]["end"] == pytest.approx(1.0)


def test_a_corrupt_project_is_refused_before_generating(make_video, tmp_path, capsys):
    video = make_video(seconds=1.0)
    project = tmp_path / "p.foley"
    project.mkdir()
    (project / "project.json").write_text("{ not json")
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "generate", str(video), "-o", str(out), "--project", str(project)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and done.stdout.strip() == "NOTORCH", done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "project.json" in done.stderr
    assert not out.exists()


def test_a_second_run_into_the_same_folder_replaces_the_candidates(make_video, debug_bundle, tmp_path):
    video = make_video(seconds=1.0)
    out = tmp_path / "out"
    base = [
        "generate",
        str(video),
        "-o",
        str(out),
        "--model",
        str(debug_bundle),
        "--steps",
        "2",
        "--no-video",
    ]
    assert main([*base, "--candidates", "3"]) == 0
    (out / "mine.txt").write_text("the user's own file")
    first = {p.name for p in out.glob("*.wav")}
    assert len(first) == 3
    assert main([*base, "--candidates", "1", "--seed", "7"]) == 0
    result = json.loads((out / "result.json").read_text())
    listed = {e["file"] for e in result["candidates"]}
    assert {p.name for p in out.glob("*.wav")} == listed and len(listed) == 1
    assert (out / "mine.txt").read_text() == "the user's own file"
