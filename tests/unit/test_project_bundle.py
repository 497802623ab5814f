"""core/project_bundle.py: project bundles, atomic saves, backups, autosave, relative paths, relinking."""

from __future__ import annotations

import json
import os
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from foleystudio.core import project_bundle as B
from foleystudio.core.audio import load_audio
from foleystudio.core.boxes import Box, BoxKeyframe
from foleystudio.core.project import SCHEMA_VERSION, Clip, Project, Track
from foleystudio.core.settings import GenerationSettings
from foleystudio.core.sources import AudioSource, ObjectSource, TextSource
from foleystudio.errors import ProjectError


def make_project(root: Path) -> tuple[Project, Path]:
    """A project using every field; media under ``root/media``, bundle at ``root/work/Scene.foley``."""
    media = root / "media"
    media.mkdir(parents=True)
    video = media / "scene.mp4"
    video.write_bytes(b"video")
    prompt = media / "steps.wav"
    prompt.write_bytes(b"audio")
    bundle = root / "work" / "Scene.foley"
    render = B.store_render(bundle, np.linspace(-0.5, 0.5, 480, dtype=np.float32), 48000)
    project = Project(
        name="Scene",
        video=str(video),
        fps=Fraction(24000, 1001),
        duration=12.5,
        start_timecode="01:00:00;00",
        sample_rate=48000,
        in_point=1.0,
        out_point=9.5,
        settings=GenerationSettings(
            model="other", steps=32, cfg=4.5, sync_cfg=2.5, omega=0.3, delta=0.7, seed=9, num_candidates=6
        ),
        sources=[
            ObjectSource(
                "src1",
                "door",
                (BoxKeyframe(0.0, Box(0.1, 0.2, 0.3, 0.4)), BoxKeyframe(2.0, Box(0.2, 0.2, 0.3, 0.4))),
                0.0,
                5.0,
            ),
            TextSource("src2", "rain on a tin roof"),
            AudioSource("src3", str(prompt), "steps ref"),
        ],
        tracks=[
            Track(
                "Door",
                gain_db=-3.0,
                pan=-0.25,
                mute=True,
                solo=False,
                colour="#112233",
                source_id="src1",
                clips=[
                    Clip(
                        str(render),
                        position=1.5,
                        duration=0.01,
                        offset=0.0,
                        gain_db=-1.0,
                        label="door slam",
                        provenance={"request": {"seed": 3, "text": "door"}, "scores": {"sync": 0.8}},
                        id="clip1",
                    )
                ],
                id="trk1",
            ),
            Track("Free", solo=True, id="trk2"),
        ],
    )
    return project, bundle


def test_round_trip_keeps_every_field_and_stores_relative_paths(tmp_path: Path) -> None:
    project, bundle = make_project(tmp_path)
    saved = B.save_project(project, bundle)
    assert saved == bundle / "project.json"
    assert (bundle / "renders").is_dir() and (bundle / "backups").is_dir()
    stored = json.loads(saved.read_text())
    assert stored["video"] == "../../media/scene.mp4"
    assert stored["tracks"][0]["clips"][0]["render"].startswith("renders/")
    assert stored["sources"][2]["path"] == "../../media/steps.wav"
    loaded = B.load_project(bundle)
    assert loaded.to_dict() == project.to_dict()
    assert B.load_project(saved).to_dict() == project.to_dict()  # the json file works too


def test_bundle_moved_with_its_media_still_resolves(tmp_path: Path) -> None:
    project, bundle = make_project(tmp_path / "old")
    B.save_project(project, bundle)
    shutil.move(tmp_path / "old", tmp_path / "new")
    loaded = B.load_project(tmp_path / "new" / "work" / "Scene.foley")
    assert loaded.video == str(tmp_path / "new" / "media" / "scene.mp4")
    assert (
        loaded.tracks[0]
        .clips[0]
        .render.startswith(str(tmp_path / "new" / "work" / "Scene.foley" / "renders"))
    )
    assert B.missing_media(loaded) == []


def test_bundle_moved_without_its_media_falls_back_to_the_absolute_path(tmp_path: Path) -> None:
    project, bundle = make_project(tmp_path)
    B.save_project(project, bundle)
    shutil.move(bundle, tmp_path / "elsewhere.foley")
    loaded = B.load_project(tmp_path / "elsewhere.foley")
    assert loaded.video == str(tmp_path / "media" / "scene.mp4")  # relative path broke, absolute kept
    assert loaded.tracks[0].clips[0].render.startswith(str(tmp_path / "elsewhere.foley" / "renders"))
    assert B.missing_media(loaded) == []


def test_failed_save_keeps_previous_project_and_leaves_no_temp_file(tmp_path: Path, monkeypatch) -> None:
    project, bundle = make_project(tmp_path)
    B.save_project(project, bundle)
    project.name = "Second"
    B.save_project(project, bundle)  # now there is a backup too
    before = (bundle / "project.json").read_bytes()
    listing = sorted(str(p.relative_to(bundle)) for p in bundle.rglob("*"))
    assert len(B.list_backups(bundle)) == 1
    project.name = "Changed"
    real_replace, real_fsync = os.replace, os.fsync

    def full_disk() -> OSError:
        return OSError(28, "No space left on device")

    def replace_fails_for_project(src, dst):  # the backup is written, the project is not
        if os.path.basename(dst) == "project.json":
            raise full_disk()
        real_replace(src, dst)

    fsync_calls = []

    def second_fsync_fails(fd):  # fails while writing the new project.json's temp file
        fsync_calls.append(fd)
        if len(fsync_calls) == 3:  # 1: backup file, 2: backups folder, 3: project temp
            raise full_disk()
        real_fsync(fd)

    def every_fsync_fails(fd):
        raise full_disk()

    for name, patched in (
        ("replace", replace_fails_for_project),
        ("fsync", second_fsync_fails),
        ("fsync", every_fsync_fails),
    ):
        fsync_calls.clear()
        with monkeypatch.context() as patch:
            patch.setattr(os, name, patched)
            with pytest.raises(ProjectError, match="No space left") as info:
                B.save_project(project, bundle)
        assert info.value.path == str(bundle / "project.json")
        assert (bundle / "project.json").read_bytes() == before
        assert (
            sorted(str(p.relative_to(bundle)) for p in bundle.rglob("*")) == listing
        )  # no temp, no new backup
        if patched is second_fsync_fails:
            assert len(fsync_calls) == 3  # it failed where meant to: after the backup was written
    assert B.load_project(bundle).name == "Second"


def test_unserialisable_provenance_is_a_project_error(tmp_path: Path) -> None:
    project, bundle = make_project(tmp_path)
    B.save_project(project, bundle)
    before = (bundle / "project.json").read_bytes()
    project.tracks[0].clips[0].provenance["bad"] = object()
    with pytest.raises(ProjectError, match="cannot save"):
        B.save_project(project, bundle)
    assert (bundle / "project.json").read_bytes() == before


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b'{"schema": "foleystudio.project", "schema_version": 1, "tracks": [', "malformed JSON at line 1"),
        (b"", "empty"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b'{"hello": "world"}', "not a FoleyStudio project"),
        (b"[1, 2, 3]", "not a FoleyStudio project"),
        (
            json.dumps({"schema": "foleystudio.project", "schema_version": SCHEMA_VERSION + 1}).encode(),
            "newer FoleyStudio",
        ),
        (
            json.dumps(
                {"schema": "foleystudio.project", "schema_version": 1, "tracks": [{"name": "x"}]}
            ).encode(),
            "malformed project",
        ),
    ],
)
def test_bad_project_files_give_a_clear_error(tmp_path: Path, content: bytes, match: str) -> None:
    bundle = tmp_path / "Bad.foley"
    bundle.mkdir()
    (bundle / "project.json").write_bytes(content)
    with pytest.raises(ProjectError, match=match) as info:
        B.load_project(bundle)
    assert info.value.path == str(bundle / "project.json")
    assert "project.json" in str(info.value)


def test_missing_bundle_or_file(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="not found"):
        B.load_project(tmp_path / "nothing.foley" / "project.json")
    (tmp_path / "empty.foley").mkdir()
    with pytest.raises(ProjectError, match="no project.json") as info:
        B.load_project(tmp_path / "empty.foley")
    assert info.value.path == str(tmp_path / "empty.foley")


def test_backups_rotate_newest_kept_in_order(tmp_path: Path) -> None:
    project = Project(name="v0")
    bundle = tmp_path / "P.foley"
    B.save_project(project, bundle)
    B.save_project(project, bundle)  # unchanged: no backup
    assert B.list_backups(bundle) == []
    for version in range(1, 9):
        project.name = f"v{version}"
        B.save_project(project, bundle, keep_backups=5)
    backups = B.list_backups(bundle)
    assert len(backups) == 5
    assert [json.loads(p.read_text())["name"] for p in backups] == ["v3", "v4", "v5", "v6", "v7"]
    assert B.load_project(backups[-1]).name == "v7"  # a backup opens like the project
    assert B.load_project(bundle).name == "v8"


def test_autosave_and_recovery(tmp_path: Path) -> None:
    project, bundle = make_project(tmp_path)
    B.save_project(project, bundle)
    assert not B.has_recovery(bundle)
    project.tracks[1].name = "Edited but not saved"
    B.write_autosave(project, bundle)
    os.utime(bundle / "autosave.json", ns=(2**62, 2**62))  # surely newer than project.json
    assert B.has_recovery(bundle)
    recovered = B.load_recovery(bundle)
    assert recovered.to_dict() == project.to_dict()
    assert B.load_project(bundle).tracks[1].name == "Free"  # project.json untouched
    B.discard_recovery(bundle)
    assert not B.has_recovery(bundle)
    # saving clears the autosave
    B.write_autosave(project, bundle)
    B.save_project(project, bundle)
    assert not (bundle / "autosave.json").exists() and not B.has_recovery(bundle)
    # an older autosave than the saved project is stale, one identical to it is pointless
    B.write_autosave(project, bundle)
    assert not B.has_recovery(bundle)
    project.name = "newer"
    B.write_autosave(project, bundle)
    os.utime(bundle / "autosave.json", ns=(1, 1))
    assert not B.has_recovery(bundle)
    with pytest.raises(ProjectError, match="not found"):
        B.discard_recovery(bundle) or B.load_recovery(bundle)


def test_missing_media_and_relink(tmp_path: Path) -> None:
    project, bundle = make_project(tmp_path)
    B.save_project(project, bundle)
    shutil.move(tmp_path / "media", tmp_path / "moved")
    loaded = B.load_project(bundle)
    missing = B.missing_media(loaded)
    assert missing == [str(tmp_path / "media" / "scene.mp4"), str(tmp_path / "media" / "steps.wav")]
    assert B.relink(loaded, missing[0], tmp_path / "moved" / "scene.mp4") == 1
    assert loaded.video == str(tmp_path / "moved" / "scene.mp4")
    assert B.missing_media(loaded) == [missing[1]]
    # relink by folder: found by name in a subfolder
    (tmp_path / "library" / "deep").mkdir(parents=True)
    shutil.move(tmp_path / "moved" / "steps.wav", tmp_path / "library" / "deep" / "steps.wav")
    assert B.relink_folder(loaded, tmp_path / "library") == 1
    assert loaded.sources[2].path == str(tmp_path / "library" / "deep" / "steps.wav")
    assert B.missing_media(loaded) == []
    assert B.relink_folder(loaded, tmp_path / "library") == 0
    B.save_project(loaded, bundle)
    assert B.missing_media(B.load_project(bundle)) == []


def test_relink_folder_prefers_exact_then_shallow_names(tmp_path: Path) -> None:
    project = Project(video=str(tmp_path / "gone" / "Take1.MOV"))
    (tmp_path / "lib" / "a").mkdir(parents=True)
    (tmp_path / "lib" / "a" / "Take1.MOV").write_bytes(b"x")
    (tmp_path / "lib" / "take1.mov").write_bytes(b"x")
    assert B.relink_folder(project, tmp_path / "lib") == 1
    assert project.video == str(tmp_path / "lib" / "a" / "Take1.MOV")
    with pytest.raises(ProjectError, match="not found"):
        B.relink_folder(Project(video=str(tmp_path / "gone.mov")), tmp_path / "nope")


def test_new_bundle(tmp_path: Path, make_video) -> None:
    video = make_video(seconds=1.5, fps=25)
    project, bundle = B.new_bundle(tmp_path / "Reel 1", video=video)
    assert bundle == tmp_path / "Reel 1.foley" and project.name == "Reel 1"
    assert project.video == str(video)
    # A project for a video takes its rate and length from the probe.
    assert project.fps == 25 and project.duration == pytest.approx(1.5, abs=0.05)
    assert (bundle / "project.json").is_file() and (bundle / "renders").is_dir()
    assert B.load_project(bundle).to_dict() == project.to_dict()
    with pytest.raises(ProjectError, match="already exists"):
        B.new_bundle(tmp_path / "Reel 1.foley")


def test_renders_are_content_named_and_immutable(tmp_path: Path) -> None:
    bundle = tmp_path / "R.foley"
    audio = np.sin(np.arange(1000) / 10).astype(np.float32) * 0.3
    first = B.store_render(bundle, audio, 48000)
    assert first.parent == bundle / "renders" and first.suffix == ".wav" and len(first.stem) == 16
    stamp = first.stat().st_mtime_ns
    again = B.store_render(bundle, audio.copy(), 48000)
    assert again == first and first.stat().st_mtime_ns == stamp  # not rewritten
    assert B.store_render(bundle, audio, 44100) != first  # same samples, other rate
    assert B.store_render(bundle, audio * 0.5, 48000) != first
    loaded, rate = load_audio(first, mono=True)
    assert rate == 48000
    np.testing.assert_array_equal(loaded, audio)  # 32-bit float: bit exact
    assert B.render_path(bundle, b"abc", ".bin") == B.render_path(bundle, b"abc", ".bin")


def test_a_corrupt_project_names_its_newest_good_backup(tmp_path):
    from foleystudio.core.project_bundle import list_backups, load_project, new_bundle, save_project
    from foleystudio.errors import ProjectError

    project, path = new_bundle(tmp_path / "film")
    project.name = "first"
    save_project(project, path)
    project.name = "second"
    save_project(project, path)
    newest = list_backups(path)[-1]
    (path / "project.json").write_text("{ broken")
    with pytest.raises(ProjectError) as info:
        load_project(path)
    message = str(info.value)
    assert "malformed JSON" in message and str(newest) in message and "foleystudio gui" in message
    assert load_project(newest).name in ("first", "film")
