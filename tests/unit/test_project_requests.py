"""A project's settings and selection become the right GenerationRequest (no Qt, no media)."""

from __future__ import annotations

import dataclasses

import pytest

from foleystudio.core.boxes import Box, BoxKeyframe
from foleystudio.core.project import Clip, Project, Track
from foleystudio.core.project_requests import build_request
from foleystudio.core.settings import GenerationSettings
from foleystudio.core.sources import ObjectSource, TextSource
from foleystudio.errors import UsageError


def project_with_sources() -> tuple[Project, ObjectSource, Clip]:
    ball = ObjectSource("ball", "ball", (BoxKeyframe(0.25, Box(0.1, 0.1, 0.2, 0.2)),), start=0.25, end=1.5)
    text = TextSource("txt", "rubber ball bouncing on wood")
    bed = Clip(render="/renders/bed.wav", position=0.25, duration=1.5, offset=0.5)
    project = Project(
        video="/media/clip.mp4",
        duration=2.0,
        sources=[ball, text],
        tracks=[Track(name="Bed", clips=[bed])],
        settings=dataclasses.replace(
            GenerationSettings(), steps=4, num_candidates=3, omega=0.3, sync_cfg=2.0
        ),
    )
    return project, ball, bed


def test_all_covers_the_video_with_every_source_and_the_settings() -> None:
    project, _, _ = project_with_sources()
    request = build_request(project)
    assert (request.video, request.start, request.end) == ("/media/clip.mp4", 0.0, None)
    assert (
        request.settings.steps,
        request.settings.num_candidates,
        request.settings.omega,
        request.settings.sync_cfg,
    ) == (4, 3, 0.3, 2.0)
    assert request.text == "" and [s.kind for s in request.sources] == ["object", "text"]
    assert not request.per_source and request.inpaint is None
    project.in_point, project.out_point = 0.5, 1.0
    assert (build_request(project).start, build_request(project).end) == (0.5, 1.0)


def test_object_mode_takes_the_object_alone_over_its_own_range() -> None:
    project, ball, _ = project_with_sources()
    request = build_request(project, "object", ball.id)
    assert request.per_source and request.sources == (ball,)
    assert (request.start, request.end) == (0.25, 1.5)
    with pytest.raises(UsageError):
        build_request(project, "object", None)
    with pytest.raises(UsageError, match="select an object"):
        build_request(project, "object", "txt")


def test_range_mode_inpaints_in_out_inside_the_selected_clip() -> None:
    project, _, bed = project_with_sources()
    with pytest.raises(UsageError, match="in and out"):
        build_request(project, "range", clip_id=bed.id)
    project.in_point, project.out_point = 0.0, 1.0
    request = build_request(project, "range", clip_id=bed.id)
    assert (request.start, request.end) == (0.25, 1.0)  # clipped to the clip's extent
    assert request.inpaint is not None
    assert (request.inpaint.render, request.inpaint.render_start) == (bed.render, -0.25)
    assert (request.inpaint.start, request.inpaint.end) == (0.25, 1.0)
    project.in_point, project.out_point = 1.8, 1.9
    with pytest.raises(UsageError, match="does not overlap"):
        build_request(project, "range", clip_id=bed.id)


def test_no_video_or_an_unknown_mode_is_a_usage_error() -> None:
    project, _, _ = project_with_sources()
    with pytest.raises(UsageError, match="unknown generation mode"):
        build_request(project, "everything")
    with pytest.raises(UsageError, match="open a video"):
        build_request(Project())


def test_request_dict_survives_json_unchanged() -> None:
    import json

    from foleystudio.core.requests import GenerationRequest

    request = GenerationRequest(video="v.mp4", drop_conditions=("visual",), text="rain")
    data = request.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert GenerationRequest.from_dict(data) == request
