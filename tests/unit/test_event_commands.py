"""Event tracks in the project: every edit reverts exactly, redo repeats it, gestures merge,
detect-again replaces only its range, tracks survive save/load, old projects still load, and
the request built for a (re)generation carries the source's track (issue 15)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from foleystudio.core import commands as C
from foleystudio.core import project_bundle as bundles
from foleystudio.core.boxes import Box, BoxKeyframe
from foleystudio.core.events import EventTrack
from foleystudio.core.project import Project, Track
from foleystudio.core.project_requests import build_request
from foleystudio.core.requests import WHOLE_PICTURE, GenerationRequest
from foleystudio.core.sources import ObjectSource, TextSource
from foleystudio.errors import FoleyStudioError, ProjectError, UsageError
from tests.unit.command_helpers import assert_apply_revert_redo

BALL = "ball"


def make_project() -> Project:
    key = (BoxKeyframe(0.0, Box(0.1, 0.1, 0.2, 0.2)),)
    project = Project(
        video="/media/v.mp4",
        duration=10.0,
        sources=[ObjectSource(BALL, "ball", key), ObjectSource("cup", "cup", key), TextSource("txt", "wind")],
        tracks=[Track("Ball", id="t1", source_id=BALL)],
    )
    project.events[WHOLE_PICTURE] = EventTrack.from_times([0.5, 1.0, 2.0], [1.0, 0.5, 0.8])
    project.events[BALL] = EventTrack.from_times([0.4, 1.2, 3.0, 4.5], [0.9, 0.6, 0.3, 1.0])
    return project


def times(project: Project, target: str) -> list[float]:
    return [round(t, 9) for t in project.events[target].times]


def strengths(project: Project, target: str) -> list[float]:
    return [round(s, 9) for s in project.events[target].strengths]


CASES: dict[str, tuple[Callable[[], C.Command], Callable[[Project], bool]]] = {
    "set a new track": (
        lambda: C.SetEventTrack("cup", EventTrack.from_times([1.0, 2.0])),
        lambda p: times(p, "cup") == [1.0, 2.0],
    ),
    "replace a track": (
        lambda: C.SetEventTrack(WHOLE_PICTURE, EventTrack.from_times([3.0])),
        lambda p: times(p, WHOLE_PICTURE) == [3.0],
    ),
    "drop a track": (lambda: C.SetEventTrack(BALL, None), lambda p: BALL not in p.events),
    "replace a range": (
        lambda: C.SetEventTrack(BALL, EventTrack.from_times([0.1, 1.5, 2.5, 4.0]), start=1.0, end=3.0),
        lambda p: times(p, BALL) == [0.4, 1.5, 2.5, 3.0, 4.5],
    ),
    "clear a range": (
        lambda: C.SetEventTrack(BALL, None, start=1.0, end=3.5),
        lambda p: times(p, BALL) == [0.4, 4.5],
    ),
    "add an event": (
        lambda: C.AddEvent(BALL, 2.0, 0.7),
        lambda p: times(p, BALL) == [0.4, 1.2, 2.0, 3.0, 4.5] and strengths(p, BALL)[2] == 0.7,
    ),
    "add the first event of a source": (
        lambda: C.AddEvent("cup", 1.5),
        lambda p: times(p, "cup") == [1.5] and strengths(p, "cup") == [1.0],
    ),
    "remove events": (
        lambda: C.RemoveEvents(BALL, [1.2, 4.5]),
        lambda p: times(p, BALL) == [0.4, 3.0],
    ),
    "move events": (
        lambda: C.MoveEvents(BALL, [1.2, 3.0], 0.4),
        lambda p: times(p, BALL) == [0.4, 1.6, 3.4, 4.5] and strengths(p, BALL) == [0.9, 0.6, 0.3, 1.0],
    ),
    "move an event past another": (
        lambda: C.MoveEvents(WHOLE_PICTURE, [0.5], 1.0),
        lambda p: times(p, WHOLE_PICTURE) == [1.0, 1.5, 2.0] and strengths(p, WHOLE_PICTURE)[1] == 1.0,
    ),
    "scale strengths (capped at 1)": (
        lambda: C.ScaleEventStrengths(BALL, [0.4, 1.2, 3.0], 1.5),
        lambda p: strengths(p, BALL) == [1.0, 0.9, 0.45, 1.0],
    ),
    "remove the source takes its events": (
        lambda: C.RemoveSource(BALL),
        lambda p: BALL not in p.events and WHOLE_PICTURE in p.events,
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_apply_revert_restores_exactly_and_redo_repeats(name: str) -> None:
    factory, check = CASES[name]
    assert_apply_revert_redo(name, make_project(), factory(), check)


@pytest.mark.parametrize(
    ("factory", "error"),
    [
        (lambda: C.MoveEvents(BALL, [0.4], -0.5), "before the start"),
        (lambda: C.MoveEvents(BALL, [0.7], 0.1), "no event at 0.700"),
        (lambda: C.RemoveEvents(BALL, [0.4, 0.4]), "no event at 0.400"),  # one event, named twice
        (lambda: C.AddEvent("txt", 1.0), "only object sources"),
        (lambda: C.ScaleEventStrengths("nope", [1.0], 2.0), "no source"),
    ],
)
def test_invalid_edits_raise_before_changing_anything(factory, error: str) -> None:
    project = make_project()
    before = project.to_dict()
    with pytest.raises(FoleyStudioError, match=error):
        factory().apply(project)
    assert project.to_dict() == before


@pytest.mark.parametrize(
    "factory",
    [
        lambda: C.AddEvent(BALL, -1.0),
        lambda: C.AddEvent(BALL, 1.0, 1.5),
        lambda: C.RemoveEvents(BALL, []),
        lambda: C.MoveEvents(BALL, [1.2], float("nan")),
        lambda: C.ScaleEventStrengths(BALL, [1.2], -1.0),
        lambda: C.SetEventTrack(BALL, EventTrack(), start=2.0, end=1.0),
    ],
)
def test_invalid_arguments_are_refused_when_the_command_is_made(factory) -> None:
    with pytest.raises(UsageError):
        factory()


def test_unknown_source_is_a_project_error() -> None:
    with pytest.raises(ProjectError):
        C.AddEvent("gone", 1.0).apply(make_project())


def test_range_replacement_keeps_what_is_outside() -> None:
    project = make_project()
    detected = EventTrack.from_times([0.0, 1.0, 2.0, 2.999, 3.0, 9.0], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    C.SetEventTrack(BALL, detected, start=1.0, end=3.0).apply(project)
    # [1, 3): detected 1.0, 2.0, 2.999 replace 1.2; 0.4, 3.0 (end excluded) and 4.5 stay.
    assert times(project, BALL) == [0.4, 1.0, 2.0, 2.999, 3.0, 4.5]
    assert strengths(project, BALL) == [0.9, 0.2, 0.3, 0.4, 0.3, 1.0]
    # An open end: everything from the start on.
    C.SetEventTrack(BALL, EventTrack.from_times([5.0]), start=2.5).apply(project)
    assert times(project, BALL) == [0.4, 1.0, 2.0, 5.0]


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    project = make_project()
    C.MoveEvents(BALL, [1.2], 1 / 3).apply(project)
    C.AddEvent("cup", 0.0, 0.0).apply(project)
    project.events["empty"] = EventTrack()  # (an orphan entry still round-trips)
    bundle = tmp_path / "p.foley"
    bundles.save_project(project, bundle)
    loaded = bundles.load_project(bundle)
    assert loaded.to_dict() == project.to_dict()
    assert set(loaded.events) == {WHOLE_PICTURE, BALL, "cup", "empty"}
    assert loaded.events[BALL].times[1] == pytest.approx(1.2 + 1 / 3, abs=1e-6)
    assert list(loaded.events[WHOLE_PICTURE].strengths) == [1.0, 0.5, 0.8]
    stored = json.loads((bundle / bundles.PROJECT_FILE).read_text())
    assert stored["events"][""]["events"][0] == {"time": 0.5, "strength": 1.0}


def test_projects_without_events_still_load_and_bad_events_are_named(tmp_path: Path) -> None:
    data = make_project().to_dict()
    del data["events"]
    loaded = Project.from_dict(data)
    assert loaded.events == {} and [s.id for s in loaded.sources] == [BALL, "cup", "txt"]
    data["events"] = {BALL: {"events": [{"time": -1}]}}
    with pytest.raises(ProjectError, match="events of ball: event 0"):
        Project.from_dict(data)
    data["events"] = [1, 2]
    with pytest.raises(ProjectError, match="'events' must map"):
        Project.from_dict(data)


def test_requests_carry_the_track_of_what_they_generate() -> None:
    project = make_project()
    # An object regeneration: that object's track alone.
    request = build_request(project, "object", BALL)
    assert request.events == ((BALL, project.events[BALL]),)
    assert request.event_track(BALL) is project.events[BALL]
    assert build_request(project, "object", "cup").events == ()  # no track: the detector decides
    # "all" with objects: each object's track (the engine generates per object).
    assert dict(build_request(project).events) == {BALL: project.events[BALL]}
    # Without objects: the whole picture's.
    project.sources = [s for s in project.sources if not isinstance(s, ObjectSource)]
    request = build_request(project)
    assert request.events == ((WHOLE_PICTURE, project.events[WHOLE_PICTURE]),)
    again = GenerationRequest.from_dict(json.loads(json.dumps(request.to_dict())))
    assert [(k, list(t.times)) for k, t in again.events] == [(WHOLE_PICTURE, [0.5, 1.0, 2.0])]
