"""What a generation is asked to do, and what it returns (DESIGN.md §2.7).

A :class:`GenerationRequest` is frozen and carries every setting, the seed included; models
never hold per-call settings. Results are :class:`Candidate` values holding CPU NumPy audio.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from foleystudio.core.events import EventTrack
from foleystudio.core.sources import Source, source_from_dict, source_to_dict
from foleystudio.errors import UsageError

#: Condition groups a request may drop (``GenerationRequest.drop_conditions``); Flowley's own
#: list (``ml.flowley.conditions.CONDITION_NAMES``) is this one.
CONDITION_GROUPS = ("visual", "text", "sync", "mix", "ref")

#: Key of the whole picture's event track in :attr:`GenerationRequest.events`.
WHOLE_PICTURE = ""


@dataclass(frozen=True)
class SearchSettings:
    """GMDS over initial noise (DESIGN.md §7.1) and the score weights used to rank."""

    population: int = 6
    iterations: int = 2
    sigma_small: float = 0.3
    sigma_large: float = 0.8
    search_steps: int = 4
    weight_semantic: float = 1.0
    weight_text: float = 1.0
    weight_sync: float = 1.0


@dataclass(frozen=True)
class InpaintContext:
    """Range regeneration: keep the render outside ``[start, end)`` (seconds, video time)."""

    render: str
    render_start: float
    start: float
    end: float


@dataclass(frozen=True)
class GenerationRequest:
    """One generation: a time range of a video plus every setting (seconds, normalised boxes).

    ``end=None`` means the end of the video. ``num_candidates`` candidates use seeds
    ``seed, seed + 1, …`` unless a search is given. ``drop_conditions`` names condition groups
    (``visual``, ``text``, ``sync``, ``mix``, ``ref``) the model does not see: each is replaced
    by its learned null, as in classifier-free training (used for ablations and benchmark
    controls).
    """

    video: str
    start: float = 0.0
    end: float | None = None
    text: str = ""
    negative_text: str = ""
    sources: tuple[Source, ...] = ()
    omega: float = 0.25
    delta: float = 0.5
    steps: int = 16
    sampler: str = "euler"
    #: Guidance strength w (1 = off). 1 is the default: the bundled model's onsets are best
    #: without it (with sync guidance 3 on 24 held-out clips, onset F1 0.82 at w = 1, 0.77 at
    #: 1.5, 0.55 at 2.5; it raises category clarity instead; docs/decisions.md).
    cfg: float = 1.0
    #: Sync guidance strength w_s (1 = off): strengthens only the timing features (ml/flowley/
    #: sampler.py). 3 is the default: it lifts the bundled model's onset F1 from 0.57 to 0.82
    #: on 84 held-out FoleyWorld clips (benchmarks/results/sync*.json, docs/decisions.md).
    sync_cfg: float = 3.0
    seed: int = 0
    num_candidates: int = 1
    model: str = "foleyworld-tiny"
    device: str = "auto"
    per_source: bool = False
    cycle_iters: int = 0
    cycle_samples: int = 4
    search: SearchSettings | None = None
    inpaint: InpaintContext | None = None
    drop_conditions: tuple[str, ...] = ()
    #: Event tracks the generation must follow, as ``(target, track)`` pairs: ``target`` is an
    #: object source's id, or :data:`WHOLE_PICTURE`. A target without a track uses the
    #: detector's events.
    events: tuple[tuple[str, EventTrack], ...] = ()

    def validate(self) -> None:
        """Raise :class:`UsageError` for a setting out of range or not finite (cheap: no torch,
        no file access), so every entry point refuses bad values before any work."""
        for name in ("start", "omega", "delta", "cfg", "sync_cfg") + (
            ("end",) if self.end is not None else ()
        ):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise UsageError(f"{name} must be a finite number, got {value}")
        if not 1 <= self.steps <= 1000:
            raise UsageError(f"steps must be between 1 and 1000, got {self.steps}")
        if not 1 <= self.num_candidates <= 64:
            raise UsageError(f"candidates must be between 1 and 64, got {self.num_candidates}")
        if self.omega < 0 or self.delta <= 0:
            raise UsageError(
                f"PSCA window must be ≥ 0 and decay > 0 seconds, got ω={self.omega}, δ={self.delta}"
            )
        for name in ("cfg", "sync_cfg"):
            if getattr(self, name) < 0:
                raise UsageError(f"{name} (guidance strength) must be ≥ 0, got {getattr(self, name)}")
        if self.start < 0:
            raise UsageError(f"start must be ≥ 0 s, got {self.start}")
        if self.end is not None and self.end <= self.start:
            raise UsageError(f"end ({self.end} s) must be after start ({self.start} s)")
        if not 0 <= self.cycle_iters <= 1000 or not 1 <= self.cycle_samples <= 1024:
            raise UsageError(
                f"Cycle Mix needs 0–1000 iterations and 1–1024 samples, got {self.cycle_iters} and {self.cycle_samples}"
            )
        unknown = sorted(set(self.drop_conditions) - set(CONDITION_GROUPS))
        if unknown:
            raise UsageError(f"unknown conditions to drop {unknown}; known: {', '.join(CONDITION_GROUPS)}")
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
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (kept in clip provenance and ``result.json``)."""
        data = dataclasses.asdict(self)
        data["sources"] = [source_to_dict(s) for s in self.sources]
        data["events"] = {name: track.to_dict() for name, track in self.events}
        # Tuples become lists, as they come back from JSON, so a saved project equals itself.
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationRequest:
        values = dict(data)
        values["sources"] = tuple(source_from_dict(s) for s in values.get("sources", ()))
        if values.get("search") is not None:
            values["search"] = SearchSettings(**values["search"])
        if values.get("inpaint") is not None:
            values["inpaint"] = InpaintContext(**values["inpaint"])
        if values.get("events"):
            values["events"] = tuple(
                (str(name), EventTrack.from_data(track, f"events of {name or 'the picture'}"))
                for name, track in values["events"].items()
            )
        else:
            values["events"] = ()
        if "drop_conditions" in values:
            values["drop_conditions"] = tuple(values["drop_conditions"])
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


@dataclass(frozen=True, eq=False)
class Candidate:
    """One generated sound: mono float32 ``audio`` at ``sample_rate`` Hz, placed at ``start`` s.

    ``scores`` maps score names (``semantic``, ``text``, ``sync``, ``total``) to values;
    ``source_id`` is set for a per-source stem.
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
    #: ``"given"``, ``"onsets"`` (the visual onset network), ``"flow"`` (the optical-flow
    #: detector), or ``""`` (none: the model has no event condition).
    events: EventTrack | None = None
    events_from: str = ""

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.audio) / self.sample_rate


def rank_candidates(candidates: Iterable[Candidate]) -> list[Candidate]:
    """The candidates best first by their ``total`` score; ties and unscored ones keep their
    order, and a candidate without a ``total`` ranks below every scored one."""
    return sorted(candidates, key=lambda c: -c.scores.get("total", -math.inf))
