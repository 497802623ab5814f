"""`foleystudio generate` end to end with an untrained debug bundle."""

from __future__ import annotations

import json

import pytest

from foleystudio.cli import main
from foleystudio.cli.generate import parse_object
from foleystudio.core.media import probe
from foleystudio.core.project_bundle import load_project
from foleystudio.core.settings import GenerationSettings
from foleystudio.errors import UsageError


def test_generate_writes_identical_wavs_result_and_video(debug_bundle, long_video, tmp_path, capsys):
    args = [
        str(long_video),
        "--model",
        str(debug_bundle),
        "--steps",
        "3",
        "--end",
        "2.5",
        "--candidates",
        "2",
        "--seed",
        "7",
        "--text",
        "a box",
    ]
    assert main(["generate", *args, "-o", str(tmp_path / "a")]) == 0
    assert main(["generate", *args, "-o", str(tmp_path / "b")]) == 0
    result = json.loads((tmp_path / "a" / "result.json").read_text())
    assert sorted(c["seed"] for c in result["candidates"]) == [7, 8]
    assert result["request"]["text"] == "a box" and result["timings"]["generate_seconds"] > 0
    assert result["request"]["settings"]["sync_cfg"] == GenerationSettings.sync_cfg
    for entry in result["candidates"]:
        assert (tmp_path / "a" / entry["file"]).read_bytes() == (tmp_path / "b" / entry["file"]).read_bytes()
        assert set(entry["scores"]) >= {"sync", "total"}
    video = probe(tmp_path / "a" / result["video"])
    assert video.has_video and video.has_audio
    # Sync guidance off is a different sound from the same seed.
    assert main(["generate", *args, "--sync-cfg", "1", "--no-video", "-o", str(tmp_path / "c")]) == 0
    off = json.loads((tmp_path / "c" / "result.json").read_text())
    assert off["request"]["settings"]["sync_cfg"] == 1.0
    on_file = next(c["file"] for c in result["candidates"] if c["seed"] == 7)
    off_file = next(c["file"] for c in off["candidates"] if c["seed"] == 7)
    assert (tmp_path / "c" / off_file).read_bytes() != (tmp_path / "a" / on_file).read_bytes()


def test_generate_stems_named_after_labels_into_a_project(debug_bundle, long_video, tmp_path):
    bundle = tmp_path / "scene.foley"
    code = main(
        [
            "generate",
            str(long_video),
            "--model",
            str(debug_bundle),
            "--steps",
            "2",
            "--end",
            "2",
            "--object",
            "0:0,0,0.5,1=left door",
            "--object",
            "0:0.5,0,0.5,1;1:0.4,0,0.5,1=steps",
            "--stems",
            "--project",
            str(bundle),
            "--no-video",
            "-o",
            str(tmp_path / "out"),
        ]
    )
    assert code == 0
    assert (tmp_path / "out" / "left-door.wav").is_file() and (tmp_path / "out" / "steps.wav").is_file()
    project = load_project(bundle)
    assert sorted(t.name for t in project.tracks) == ["left door", "steps"]
    clip = project.tracks[0].clips[0]
    assert clip.provenance["seed"] == 0 and clip.provenance["request"]["per_source"] is True
    assert project.video == str(long_video)


def test_object_spec_parsing():
    src = parse_object("0.5:0.1,0.2,0.3,0.4;2:0.2,0.2,0.3,0.4=ball", 0)
    assert src.label == "ball" and len(src.keyframes) == 2 and src.keyframes[1].time == 2.0
    with pytest.raises(UsageError):
        parse_object("0.5:0.1,0.2,0.3", 0)


def test_generate_user_errors_exit_2(debug_bundle, long_video, tmp_path, capsys):
    assert main(["generate", str(tmp_path / "none.mp4"), "--model", str(debug_bundle)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "none.mp4" in err[0]
    assert main(["generate", str(long_video), "--model", str(tmp_path / "nomodel")]) == 2
    assert main(["generate", str(long_video), "--model", str(debug_bundle), "--steps", "0"]) == 2


def test_generate_with_a_gmds_search_lists_every_candidate_best_first(debug_bundle, long_video, tmp_path):
    out = tmp_path / "search"
    args = ["--model", str(debug_bundle), "--steps", "3", "--end", "2.5", "--candidates", "3", "--seed", "2"]
    search = ["--search-iters", "1", "--search-steps", "2", "--sigma-small", "0.2", "--sigma-large", "0.6"]
    weights = ["--weight-semantic", "0", "--weight-text", "1", "--weight-sync", "2"]
    code = main(["generate", str(long_video), *args, *search, *weights, "--no-video", "-o", str(out)])
    assert code == 0
    result = json.loads((out / "result.json").read_text())
    settings = result["request"]["settings"]
    assert (settings["search_iters"], settings["search_steps"], settings["sigma_large"]) == (1, 2, 0.6)
    assert settings["weight_sync"] == 2.0
    entries = result["candidates"]
    assert len(entries) == 3 and sorted(e["seed"] for e in entries) == [2, 3, 4]
    totals = [e["scores"]["total"] for e in entries]
    assert totals == sorted(totals, reverse=True)
    for entry in entries:
        assert (out / entry["file"]).is_file() and entry["noise"].split("~")[0] == str(entry["seed"])
        assert "sync" in entry["scores"] and "objective" in entry["preview_scores"]


def test_bad_search_settings_exit_2_naming_the_option(debug_bundle, long_video, capsys):
    base = ["generate", str(long_video), "--model", str(debug_bundle)]
    assert main([*base, "--sigma-small", "0.8", "--sigma-large", "0.4"]) == 2
    assert "--sigma-small" in capsys.readouterr().err
    assert main([*base, "--weight-semantic", "0", "--weight-text", "0", "--weight-sync", "0"]) == 2
    assert "weight" in capsys.readouterr().err
    assert main([*base, "--search-steps", "0"]) == 2
    assert "--search-steps" in capsys.readouterr().err
