"""Placing a generated candidate on the timeline (CLI ``--project``, the app's "Use").

The candidate's audio becomes an immutable, content-named render in the bundle; a clip at
the candidate's start time references it and keeps the full request, seed, model and scores
as provenance. It lands on its source's track, else on the given or named free track, else
on a new track — all as one undoable :class:`~foleystudio.core.commands.CommandGroup`.
"""

from __future__ import annotations

import os

from foleystudio.core import commands as cmd
from foleystudio.core.project import Clip, Project, Track
from foleystudio.core.project_bundle import store_render
from foleystudio.core.requests import Candidate
from foleystudio.errors import FoleyStudioError

DEFAULT_TRACK_NAME = "Foley"


def target_track(
    project: Project, candidate: Candidate, track_id: str | None = None, track_name: str | None = None
) -> Track | None:
    """The existing track a candidate lands on, or None when a new track is needed."""
    if candidate.source_id:
        track = project.track_for_source(candidate.source_id)
        if track is not None:
            return track
    if track_id:
        track = next((t for t in project.tracks if t.id == track_id), None)
        if track is not None and track.source_id is None:
            return track
    if track_name:
        return project.track_named(track_name)
    return None


def place_candidate(
    project: Project,
    bundle_dir: str | os.PathLike[str],
    candidate: Candidate,
    *,
    model_name: str = "",
    track_id: str | None = None,
    track_name: str | None = None,
) -> tuple[cmd.CommandGroup, Clip]:
    """Store the candidate's render and return the (not yet applied) command placing it."""
    render = store_render(bundle_dir, candidate.audio, candidate.sample_rate)
    label = candidate.label or f"seed {candidate.seed}"
    clip = Clip(
        render=str(render),
        position=max(candidate.start, 0.0),
        duration=candidate.duration,
        label=label,
        provenance={
            "request": candidate.request.to_dict(),
            "seed": candidate.seed,
            "noise": candidate.recipe.id,
            "scores": dict(candidate.scores),
            "model": model_name or candidate.request.settings.model,
            "source_id": candidate.source_id,
        },
    )
    commands: list[cmd.Command] = []
    track = target_track(project, candidate, track_id, track_name)
    if track is None:
        name = track_name or DEFAULT_TRACK_NAME
        if candidate.source_id and not track_name:
            try:
                name = project.source(candidate.source_id).label[:40] or name
            except FoleyStudioError:
                name = candidate.label[:40] or name
        track = Track(name=name, colour=project.next_colour(), source_id=candidate.source_id)
        commands.append(cmd.AddTrack(track))
    commands.append(cmd.AddClip(track.id, clip))
    return cmd.CommandGroup(f"Use candidate '{label}'", commands), clip
