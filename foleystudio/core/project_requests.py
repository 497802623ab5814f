"""The generation request for what the user asked of a project (app buttons, scripts).

:func:`build_request` turns the project's settings, in/out points and a selection into a
frozen :class:`~foleystudio.core.requests.GenerationRequest`.

Decisions: "all" covers the in/out range (or the whole video) with every source (the engine
joins the text sources into its prompt, so the request's own ``text`` stays empty); "object"
covers the object's own time range (or in/out) with that object alone, ``per_source=True``,
so the stem lands on its track; "range" regenerates in/out inside the selected clip, keeping
the clip's audio outside it as inpainting context.

Event tracks (issue 15): the request carries the project's event track of every target the
engine will generate for — each object source of the request, or, when the request has no
object source, the whole picture (``WHOLE_PICTURE``), as the engine picks its targets — so a
(re)generation follows the user's edited events. Tracks go whole: the engine reads the part
inside the range it generates (with range inpainting that is the clip's whole render).
"""

from __future__ import annotations

from foleystudio.core.events import EventTrack
from foleystudio.core.project import Project
from foleystudio.core.requests import WHOLE_PICTURE, Candidate, GenerationRequest, InpaintContext
from foleystudio.core.settings import GenerationSettings
from foleystudio.core.sources import ObjectSource, Source
from foleystudio.errors import UsageError


def build_request(
    project: Project, mode: str = "all", source_id: str | None = None, clip_id: str | None = None
) -> GenerationRequest:
    """The request for ``mode`` "all", "object" (``source_id``) or "range" (``clip_id``).

    Raises :class:`UsageError` when the project has no video or the selection does not fit
    the mode.
    """
    if not project.video:
        raise UsageError("open a video first: generation follows the picture")
    start = project.in_point or 0.0
    end = project.out_point
    sources = tuple(project.sources)
    per_source = False
    inpaint = None
    if mode == "object":
        if source_id is None:
            raise UsageError("select an object source to regenerate")
        source = project.source(source_id)
        if not isinstance(source, ObjectSource):
            raise UsageError(f"'{source.label}' is a {source.kind} source; select an object")
        sources = (source,)
        per_source = True
        if project.in_point is None and project.out_point is None:
            start = source.start or 0.0
            end = source.end
    elif mode == "range":
        if project.in_point is None or project.out_point is None:
            raise UsageError("set in and out points (I, O) around the part to regenerate")
        if clip_id is None:
            raise UsageError("select the clip whose range should be regenerated")
        _, clip = project.find_clip(clip_id)
        start, end = max(project.in_point, clip.position), min(project.out_point, clip.end)
        if end <= start:
            raise UsageError("the in/out range does not overlap the selected clip")
        inpaint = InpaintContext(
            render=clip.render, render_start=clip.position - clip.offset, start=start, end=end
        )
    elif mode != "all":
        raise UsageError(f"unknown generation mode {mode!r}")
    return GenerationRequest(
        video=project.video,
        start=start,
        end=end,
        sources=sources,
        events=request_events(project, sources),
        per_source=per_source,
        inpaint=inpaint,
        settings=project.settings,
    )


def request_events(project: Project, sources: tuple[Source, ...]) -> tuple[tuple[str, EventTrack], ...]:
    """The project's event tracks of the targets a request with ``sources`` generates for:
    its object sources (by id), else the whole picture."""
    objects = [s.id for s in sources if isinstance(s, ObjectSource)]
    targets = objects if objects else [WHOLE_PICTURE]
    return tuple((t, project.events[t]) for t in targets if t in project.events)


#: The settings "More like this" takes from the project's current settings; the rest (model,
#: steps, guidance, PSCA…) stay those that made the chosen candidate, or its noise would mean
#: something else.
SEARCH_SETTING_NAMES = (
    "num_candidates",
    "search_iters",
    "search_steps",
    "sigma_small",
    "seed",
    "weight_semantic",
    "weight_text",
    "weight_sync",
)


def more_like_this(candidate: Candidate, settings: GenerationSettings) -> GenerationRequest:
    """The request for variations of ``candidate``: its own request (range, sources, events,
    range context, and the settings that made it) with the search starting from its noise
    (``noise_origin``). From ``settings`` come :data:`SEARCH_SETTING_NAMES` — at least 2
    candidates, since the first is the chosen noise itself — and both moves use σ small, so
    the search stays near the chosen sound (docs/architecture.md §7.1)."""
    search = {name: getattr(settings, name) for name in SEARCH_SETTING_NAMES}
    search["num_candidates"] = max(2, settings.num_candidates)
    search["sigma_large"] = settings.sigma_small
    return candidate.request.replace(
        noise_origin=candidate.recipe, settings=candidate.request.settings.replace(**search)
    )
