"""What a generation is asked to do, and what it returns (docs/architecture.md §2.7).

A :class:`GenerationRequest` is frozen and carries its :class:`GenerationSettings`, the seed
included; models never hold per-call settings. Results are :class:`Candidate` values holding CPU NumPy audio.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from foleystudio.core.events import EventTrack
from foleystudio.core.noise import NoiseRecipe
from foleystudio.core.settings import GENERATION_SETTING_NAMES, GenerationSettings
from foleystudio.core.sources import Source, source_from_dict, source_to_dict
from foleystudio.errors import UsageError

#: Condition groups a request may drop (``GenerationRequest.drop_conditions``); Flowley's own
#: list (``ml.flowley.conditions.CONDITION_NAMES``) is this one.
CONDITION_GROUPS = ("visual", "text", "sync", "mix", "ref")


def check_condition_groups(groups: tuple[str, ...] | list[str]) -> None:
    """UsageError unless every name in ``groups`` is one of :data:`CONDITION_GROUPS`."""
    unknown = sorted(set(groups) - set(CONDITION_GROUPS))
    if unknown:
        raise UsageError(f"unknown conditions to drop {unknown}; known: {', '.join(CONDITION_GROUPS)}")


#: Key of the whole picture's event track in :attr:`GenerationRequest.events`.
WHOLE_PICTURE = ""


@dataclass(frozen=True)
class InpaintContext:
    """Range regeneration: keep the render outside ``[start, end)`` (seconds, video time)."""

    render: str
    render_start: float
    start: float
    end: float


@dataclass(frozen=True)
class GenerationRequest:
    """One generation: what (text, sources, event tracks), where (a time range of a video, in
    seconds; ``end=None`` is the video's end) and how (:class:`GenerationSettings`).

    ``per_source`` gives one stem per object source; ``inpaint`` regenerates a range inside an
    existing render; ``drop_conditions`` names condition groups (``visual``, ``text``, ``sync``,
    ``mix``, ``ref``) the model does not see: each is replaced by its learned null, as in
    classifier-free training (ablations and benchmark controls). ``noise_origin`` ("More like
    this") makes the candidates variations of that initial noise: the search starts from it
    and its small moves instead of N fresh seeds (docs/architecture.md §7.1).
    """

    video: str
    start: float = 0.0
    end: float | None = None
    text: str = ""
    sources: tuple[Source, ...] = ()
    #: Event tracks the generation must follow, as ``(target, track)`` pairs: ``target`` is an
    #: object source's id, or :data:`WHOLE_PICTURE`. A target without a track uses the
    #: detector's events.
    events: tuple[tuple[str, EventTrack], ...] = ()
    per_source: bool = False
    inpaint: InpaintContext | None = None
    drop_conditions: tuple[str, ...] = ()
    settings: GenerationSettings = field(default_factory=GenerationSettings)
    noise_origin: NoiseRecipe | None = None

    def validate(self) -> None:
        """Raise :class:`UsageError` for a range, box or condition that cannot be generated
        (cheap: no torch, no file access; the settings checked themselves when made), so every
        entry point refuses bad values before any work."""
        for name in ("start",) + (("end",) if self.end is not None else ()):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise UsageError(f"{name} must be a finite number of seconds, got {value}")
        if self.start < 0:
            raise UsageError(f"start must be ≥ 0 s, got {self.start}")
        if self.end is not None and self.end <= self.start:
            raise UsageError(f"end ({self.end} s) must be after start ({self.start} s)")
        if self.noise_origin is not None and not isinstance(self.noise_origin, NoiseRecipe):
            raise UsageError(f"noise_origin must be a NoiseRecipe, got {self.noise_origin!r}")
        check_condition_groups(self.drop_conditions)
        for source in self.sources:
            for key in getattr(source, "keyframes", ()):
                if key.box.clipped() is None:
                    b = key.box
                    raise UsageError(
                        f"the box of '{source.label}' at {key.time:g} s lies outside the frame "
                        f"({b.x:g},{b.y:g},{b.w:g},{b.h:g}; boxes are normalised 0–1)"
                    )
                if not math.isfinite(key.time) or key.time < 0:
                    raise UsageError(f"a keyframe time of '{source.label}' must be ≥ 0 s, got {key.time}")

    def event_track(self, target: str | None) -> EventTrack | None:
        """The given event track of an object (its id) or of the whole picture (None), if any."""
        key = WHOLE_PICTURE if target is None else target
        return next((track for name, track in self.events if name == key), None)

    def replace(self, **changes: Any) -> GenerationRequest:
        """A copy with ``changes``; a setting's name (``seed=3``) changes :attr:`settings`."""
        moved = {k: changes.pop(k) for k in list(changes) if k in GENERATION_SETTING_NAMES}
        if moved:
            changes["settings"] = changes.get("settings", self.settings).replace(**moved)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (kept in clip provenance and ``result.json``)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["sources"] = [source_to_dict(s) for s in self.sources]
        data["events"] = {name: track.to_dict() for name, track in self.events}
        data["inpaint"] = dataclasses.asdict(self.inpaint) if self.inpaint is not None else None
        data["settings"] = self.settings.to_dict()
        data["noise_origin"] = None if self.noise_origin is None else self.noise_origin.to_dict()
        # Tuples become lists, as they come back from JSON, so a saved project equals itself.
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationRequest:
        """The inverse of :meth:`to_dict`; also reads the flat form saved before the settings
        had their own type (settings beside the range)."""
        values = dict(data)
        values["sources"] = tuple(source_from_dict(s) for s in values.get("sources", ()))
        if values.get("inpaint") is not None:
            values["inpaint"] = InpaintContext(**values["inpaint"])
        if values.get("events"):
            values["events"] = tuple(
                (str(name), EventTrack.from_data(track, f"events of {name or 'the picture'}"))
                for name, track in values["events"].items()
            )
        else:
            values["events"] = ()
        if values.get("noise_origin") is not None:
            values["noise_origin"] = NoiseRecipe.from_dict(values["noise_origin"])
        if "drop_conditions" in values:
            values["drop_conditions"] = tuple(values["drop_conditions"])
        flat = {k: values[k] for k in GENERATION_SETTING_NAMES if k in values}
        values["settings"] = GenerationSettings.from_dict({**flat, **values.get("settings", {})})
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


@dataclass(frozen=True, eq=False)
class Candidate:
    """One generated sound: mono float32 ``audio`` at ``sample_rate`` Hz, placed at ``start`` s.

    ``scores`` maps score names (``semantic``, ``text``, ``sync``, ``total``) to values
    (``core/ranking.py``); ``source_id`` is set for a per-source stem. ``noise`` is the
    initial noise it was sampled from (None: plain ``seed``); after a search,
    ``preview_scores`` are the raw scores of the quick preview that chose that noise and its
    search ``objective`` (weighted z-score against the first population).
    """

    audio: np.ndarray
    sample_rate: int
    start: float
    seed: int
    request: GenerationRequest
    scores: dict[str, float] = field(default_factory=dict)
    source_id: str | None = None
    label: str = ""
    #: The event track the generation followed (given, or detected), and where it came from:
    #: ``"given"``, ``"onsets"`` (the visual onset network), ``"flow-net"`` (the flow event
    #: network), ``"flow"`` (the hand-made optical-flow detector), or ``""`` (none: the model
    #: has no event condition).
    events: EventTrack | None = None
    events_from: str = ""
    noise: NoiseRecipe | None = None
    preview_scores: dict[str, float] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.audio) / self.sample_rate

    @property
    def recipe(self) -> NoiseRecipe:
        """The initial noise it was sampled from (the plain seed's when ``noise`` is None)."""
        return self.noise if self.noise is not None else NoiseRecipe(self.seed)


def rank_candidates(candidates: Iterable[Candidate]) -> list[Candidate]:
    """The candidates best first by their ``total`` score; ties and unscored ones keep their
    order, and a candidate without a ``total`` ranks below every scored one."""
    return sorted(candidates, key=lambda c: -c.scores.get("total", -math.inf))
