"""core/commands.py: every edit reverts exactly, redo repeats it, drags merge, bad edits change nothing."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from foleystudio.core import commands as C
from foleystudio.core.boxes import Box, BoxKeyframe
from foleystudio.core.project import Clip, Project, Track
from foleystudio.core.sources import AudioSource, ObjectSource, TextSource
from foleystudio.errors import FoleyStudioError, ProjectError, UsageError
from tests.unit.command_helpers import assert_apply_revert_redo


def make_project() -> Project:
    return Project(
        name="Edit",
        video="/media/v.mp4",
        duration=10.0,
        sources=[
            ObjectSource(
                "obj",
                "cup",
                (BoxKeyframe(0.0, Box(0.1, 0.1, 0.2, 0.2)), BoxKeyframe(2.0, Box(0.5, 0.1, 0.2, 0.2))),
            ),
            TextSource("txt", "wind"),
            AudioSource("aud", "/media/ref.wav", "ref"),
        ],
        tracks=[
            Track(
                "Cup",
                id="t1",
                source_id="obj",
                clips=[
                    Clip(
                        "/r/a.wav",
                        position=1.0,
                        duration=2.0,
                        offset=0.5,
                        id="c1",
                        label="clink",
                        provenance={"seed": 1},
                    ),
                    Clip("/r/b.wav", position=4.0, duration=1.0, id="c2"),
                ],
            ),
            Track(
                "Wind",
                id="t2",
                source_id="txt",
                clips=[Clip("/r/c.wav", position=0.0, duration=3.0, id="c3")],
            ),
            Track("Free", id="t3"),
        ],
    )


# Each case: a command factory and a check of the project after apply.
CASES: dict[str, tuple[Callable[[], C.Command], Callable[[Project], None]]] = {
    "add track": (
        lambda: C.AddTrack(Track("New", id="t9", clips=[Clip("/r/x.wav", 0.0, 1.0, id="c9")]), index=1),
        lambda p: p.tracks[1].id == "t9" and p.tracks[1].clips[0].id == "c9",
    ),
    "remove track": (lambda: C.RemoveTrack("t1"), lambda p: [t.id for t in p.tracks] == ["t2", "t3"]),
    "rename track": (
        lambda: C.SetTrackProperty("t2", "name", "Gust"),
        lambda p: p.track("t2").name == "Gust",
    ),
    "track gain": (
        lambda: C.SetTrackProperty("t2", "gain_db", -6.0),
        lambda p: p.track("t2").gain_db == -6.0,
    ),
    "track pan": (lambda: C.SetTrackProperty("t2", "pan", 0.5), lambda p: p.track("t2").pan == 0.5),
    "mute": (lambda: C.SetTrackProperty("t1", "mute", True), lambda p: p.track("t1").mute),
    "solo": (lambda: C.SetTrackProperty("t3", "solo", True), lambda p: p.audible_tracks() == [p.track("t3")]),
    "colour": (
        lambda: C.SetTrackProperty("t1", "colour", "#A0B0C0"),
        lambda p: p.track("t1").colour == "#a0b0c0",
    ),
    "add clip": (
        lambda: C.AddClip("t3", Clip("/r/n.wav", 2.0, 1.5, id="cn")),
        lambda p: p.find_clip("cn")[0].id == "t3",
    ),
    "remove clip": (lambda: C.RemoveClip("c1"), lambda p: [c.id for c in p.track("t1").clips] == ["c2"]),
    "move clip in time": (
        lambda: C.MoveClip("c1", position=6.0),
        lambda p: p.find_clip("c1")[1].position == 6.0,
    ),
    "move clip to track": (
        lambda: C.MoveClip("c1", position=0.5, track_id="t3"),
        lambda p: p.find_clip("c1")[0].id == "t3" and p.find_clip("c1")[1].position == 0.5,
    ),
    "trim start in": (
        lambda: C.TrimClip("c1", "start", 1.5),
        lambda p: _clip(p, "c1") == (1.5, 1.0, 1.5),  # position, offset, duration
    ),
    "trim start out (clamped at offset 0)": (
        lambda: C.TrimClip("c1", "start", 0.0),
        lambda p: _clip(p, "c1") == (0.5, 0.0, 2.5),
    ),
    "trim end (clamped to the render)": (
        lambda: C.TrimClip("c1", "end", 9.0, render_duration=3.0),
        lambda p: _clip(p, "c1") == (1.0, 0.5, 2.5),
    ),
    "split clip": (
        lambda: C.SplitClip("c1", 2.25, new_clip_id="c1b"),
        lambda p: (
            [c.id for c in p.track("t1").clips] == ["c1", "c1b", "c2"]
            and _clip(p, "c1") == (1.0, 0.5, 1.25)
            and _clip(p, "c1b") == (2.25, 1.75, 0.75)
            and p.find_clip("c1b")[1].provenance == {"seed": 1}
        ),
    ),
    "clip gain": (lambda: C.SetClipGain("c2", -4.5), lambda p: p.find_clip("c2")[1].gain_db == -4.5),
    "add source": (lambda: C.AddSource(TextSource("t", "rain"), index=0), lambda p: p.sources[0].id == "t"),
    "remove source": (
        lambda: C.RemoveSource("obj"),
        lambda p: [s.id for s in p.sources] == ["txt", "aud"] and p.track("t1").source_id is None,
    ),
    "rename source": (
        lambda: C.ReplaceSource(AudioSource("aud", "/media/ref.wav", "footsteps"), text="Rename source"),
        lambda p: p.source("aud").label == "footsteps",
    ),
    "add keyframe": (
        lambda: C.SetBoxKeyframe("obj", BoxKeyframe(1.0, Box(0.3, 0.3, 0.1, 0.1))),
        lambda p: [k.time for k in p.source("obj").keyframes] == [0.0, 1.0, 2.0],
    ),
    "replace keyframe": (
        lambda: C.SetBoxKeyframe("obj", BoxKeyframe(2.0, Box(0.6, 0.6, 0.1, 0.1))),
        lambda p: (
            p.source("obj").box_at(2.0) == Box(0.6, 0.6, 0.1, 0.1) and len(p.source("obj").keyframes) == 2
        ),
    ),
    "remove keyframe": (
        lambda: C.RemoveBoxKeyframe("obj", 0.0),
        lambda p: [k.time for k in p.source("obj").keyframes] == [2.0],
    ),
    "in/out": (lambda: C.SetInOut(1.0, 4.0), lambda p: (p.in_point, p.out_point) == (1.0, 4.0)),
    "settings": (
        lambda: C.SetSettings(steps=32, cfg=4.0, sync_cfg=2.0),
        lambda p: (p.settings.steps, p.settings.cfg, p.settings.sync_cfg) == (32, 4.0, 2.0),
    ),
    "group": (
        lambda: C.CommandGroup(
            "Use candidate",
            [C.AddTrack(Track("Cand", id="tc")), C.AddClip("tc", Clip("/r/cand.wav", 3.0, 2.0, id="cc"))],
        ),
        lambda p: p.find_clip("cc")[0].id == "tc",
    ),
}


def _clip(project: Project, clip_id: str) -> tuple[float, float, float]:
    clip = project.find_clip(clip_id)[1]
    return (round(clip.position, 9), round(clip.offset, 9), round(clip.duration, 9))


@pytest.mark.parametrize("name", sorted(CASES))
def test_apply_revert_restores_exactly_and_redo_repeats(name: str) -> None:
    factory, check = CASES[name]
    assert_apply_revert_redo(name, make_project(), factory(), check)


@pytest.mark.parametrize(
    ("factory", "error"),
    [
        (lambda: C.SplitClip("c1", 0.5), "not inside the clip"),
        (lambda: C.SplitClip("c1", 3.0), "not inside the clip"),
        (lambda: C.SplitClip("c1", 2.0, new_clip_id="c2"), "already exists"),
        (lambda: C.TrimClip("c1", "end", 0.5), "minimum"),
        (lambda: C.TrimClip("c1", "start", 5.0), "minimum"),
        (lambda: C.AddClip("t1", Clip("/r/x.wav", 0.0, -1.0)), "duration must be > 0"),
        (lambda: C.AddClip("t1", Clip("/r/x.wav", -1.0, 1.0)), "position must be >= 0"),
        (lambda: C.AddClip("t1", Clip("/r/x.wav", 0.0, 1.0, id="c2")), "already exists"),
        (lambda: C.AddClip("nope", Clip("/r/x.wav", 0.0, 1.0)), "no track"),
        (lambda: C.AddTrack(Track("dup", id="t1")), "already exists"),
        (lambda: C.AddTrack(Track("far"), index=9), "out of range"),
        (lambda: C.MoveClip("c1", track_id="nope"), "no track"),
        (lambda: C.MoveClip("zz", position=1.0), "no clip"),
        (lambda: C.SetBoxKeyframe("txt", BoxKeyframe(0.0, Box(0, 0, 1, 1))), "only object sources"),
        (lambda: C.RemoveBoxKeyframe("obj", 1.0), "no box keyframe"),
        (lambda: C.CommandGroup("g", [C.RemoveClip("c1"), C.RemoveClip("c1")]), "no clip"),
        (lambda: C.ReplaceSource(TextSource("aud", "x")), "cannot replace"),
        (lambda: C.AddSource(TextSource("txt", "again")), "already exists"),
    ],
)
def test_invalid_edits_raise_before_changing_anything(factory, error: str) -> None:
    project = make_project()
    before = project.to_dict()
    command = factory()
    with pytest.raises(FoleyStudioError, match=error):
        command.apply(project)
    assert project.to_dict() == before


def test_last_keyframe_cannot_be_removed() -> None:
    project = make_project()
    C.RemoveBoxKeyframe("obj", 0.0).apply(project)
    with pytest.raises(UsageError, match="at least one"):
        C.RemoveBoxKeyframe("obj", 2.0).apply(project)


@pytest.mark.parametrize(
    "factory",
    [
        lambda: C.SetTrackProperty("t1", "pan", 2.0),
        lambda: C.SetTrackProperty("t1", "gain_db", float("nan")),
        lambda: C.SetTrackProperty("t1", "colour", "red"),
        lambda: C.SetTrackProperty("t1", "name", "  "),
        lambda: C.SetTrackProperty("t1", "mute", 1),
        lambda: C.SetTrackProperty("t1", "source_id", "x"),
        lambda: C.SetInOut(5.0, 2.0),
        lambda: C.SetInOut(-1.0, None),
        lambda: C.SetSettings(steps=0),
        lambda: C.SetSettings(sync_cfg=-1.0),
        lambda: C.SetSettings(bogus=1),
        lambda: C.SetSettings(),
        lambda: C.MoveClip("c1"),
        lambda: C.MoveClip("c1", position=-2.0),
        lambda: C.TrimClip("c1", "middle", 1.0),
        lambda: C.SetClipGain("c1", float("inf")),
    ],
)
def test_invalid_arguments_are_refused_when_the_command_is_made(factory) -> None:
    with pytest.raises(UsageError):
        factory()


def test_trim_reads_the_render_length_from_the_file(tmp_path: Path) -> None:
    render = tmp_path / "r.wav"
    sf.write(str(render), np.zeros(8000, np.float32), 8000)  # 1.0 s
    project = Project(tracks=[Track("T", id="t", clips=[Clip(str(render), 2.0, 0.5, offset=0.25, id="c")])])
    C.TrimClip("c", "end", 10.0).apply(project)
    assert project.find_clip("c")[1].duration == pytest.approx(0.75)  # up to the render's end


def test_commands_do_not_share_state_with_their_arguments() -> None:
    project = make_project()
    track = Track("New", id="tn")
    command = C.AddTrack(track)
    command.apply(project)
    track.name = "changed afterwards"
    project.track("tn").gain_db = -10.0  # a later edit of the live track…
    command.revert(project)
    command.apply(project)  # …does not leak into redo
    assert project.track("tn").name == "New" and project.track("tn").gain_db == 0.0
    assert copy.deepcopy(project).to_dict() == project.to_dict()


def test_unknown_ids_are_project_errors() -> None:
    with pytest.raises(ProjectError):
        C.RemoveTrack("missing").apply(make_project())
