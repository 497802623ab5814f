"""The project document: video reference, tracks, clips, sources, settings (docs/architecture.md §3).

This module is the in-memory model and its JSON form (schema versioned). Reading and writing
bundles on disk (atomic saves, backups, autosave, relative paths) is ``core/project_bundle.py``; edits
go through ``core/commands.py`` so they can be undone.

Event tracks (issue 15): ``Project.events`` maps a sound source to the
:class:`~foleystudio.core.events.EventTrack` generation must follow: an object source by its
id, the whole picture by :data:`~foleystudio.core.requests.WHOLE_PICTURE` (``""``). A source
without an entry has no track of its own (generation uses the detector's events); an entry
with no events is followed as given (no events). Projects written before events existed
load with none.

Units: times in seconds (float, video time, 0 = first frame); gain in dB; pan in [-1, 1]
(-1 left, +1 right); frame rates are exact fractions; paths in memory are absolute.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from foleystudio.core.events import EventTrack
from foleystudio.core.settings import GenerationSettings
from foleystudio.core.sources import Source, source_from_dict, source_to_dict
from foleystudio.core.timebase import parse_rate
from foleystudio.errors import FoleyStudioError, ProjectError, UsageError

SCHEMA_NAME = "foleystudio.project"
SCHEMA_VERSION = 1

#: Colours handed to new tracks in turn (readable on a dark theme).
TRACK_COLOURS = ("#e07a5f", "#81b29a", "#f2cc8f", "#7aa6e0", "#c38ad6", "#e0a07a", "#6cc4c4", "#d6d68a")


def new_id() -> str:
    """A fresh random identifier for tracks, clips and sources."""
    return uuid.uuid4().hex[:12]


@dataclass
class Clip:
    """A piece of a render placed on a track.

    ``position``: where it starts on the timeline; ``offset``: where in the render file it
    starts; ``duration``: its length (all seconds). ``render`` is the audio file (absolute in
    memory). ``provenance`` keeps the full request, seed, model and scores that made it.
    """

    render: str
    position: float
    duration: float
    offset: float = 0.0
    gain_db: float = 0.0
    label: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_id)

    @property
    def end(self) -> float:
        return self.position + self.duration


@dataclass
class Track:
    """A timeline track; ``source_id`` links it to the source whose stems it receives."""

    name: str
    gain_db: float = 0.0
    pan: float = 0.0
    mute: bool = False
    solo: bool = False
    colour: str = TRACK_COLOURS[0]
    source_id: str | None = None
    clips: list[Clip] = field(default_factory=list)
    id: str = field(default_factory=new_id)


def app_generation_settings() -> GenerationSettings:
    """A new project's settings: the defaults, but four candidates, as an editor auditions
    several takes (a script's request defaults to one)."""
    return GenerationSettings(num_candidates=4)


@dataclass
class Project:
    """The document. ``video`` is an absolute path (or None before a video is chosen)."""

    name: str = "Untitled"
    video: str | None = None
    fps: Fraction = Fraction(24)
    duration: float = 0.0
    start_timecode: str = "00:00:00:00"
    sample_rate: int = 48000
    tracks: list[Track] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    settings: GenerationSettings = field(default_factory=app_generation_settings)
    in_point: float | None = None
    out_point: float | None = None
    #: Event track per source: object source id, or ``WHOLE_PICTURE`` for the whole frame.
    events: dict[str, EventTrack] = field(default_factory=dict)

    # --- lookups -------------------------------------------------------------------------
    def track(self, track_id: str) -> Track:
        for track in self.tracks:
            if track.id == track_id:
                return track
        raise ProjectError(f"no track with id {track_id!r}")

    def track_named(self, name: str) -> Track | None:
        return next((t for t in self.tracks if t.name == name), None)

    def track_for_source(self, source_id: str) -> Track | None:
        return next((t for t in self.tracks if t.source_id == source_id), None)

    def find_clip(self, clip_id: str) -> tuple[Track, Clip]:
        for track in self.tracks:
            for clip in track.clips:
                if clip.id == clip_id:
                    return track, clip
        raise ProjectError(f"no clip with id {clip_id!r}")

    def source(self, source_id: str) -> Source:
        for source in self.sources:
            if source.id == source_id:
                return source
        raise ProjectError(f"no source with id {source_id!r}")

    def event_track(self, target: str) -> EventTrack | None:
        """The event track of an object source (its id) or of ``WHOLE_PICTURE``, if it has one."""
        return self.events.get(target)

    def next_colour(self) -> str:
        return TRACK_COLOURS[len(self.tracks) % len(TRACK_COLOURS)]

    @property
    def length(self) -> float:
        """The project's length in seconds: the video's, or the last clip's end if later."""
        ends = [c.end for t in self.tracks for c in t.clips]
        return max([self.duration, *ends])

    def audible_tracks(self) -> list[Track]:
        """Tracks that play: solo wins over mute, as on a mixing desk."""
        soloed = [t for t in self.tracks if t.solo]
        return soloed if soloed else [t for t in self.tracks if not t.mute]

    # --- JSON ----------------------------------------------------------------------------
    def to_dict(self, relpath: Any = None) -> dict[str, Any]:
        """JSON-ready form. ``relpath(path) -> str`` maps absolute paths for storage."""
        rel = relpath or (lambda p: p)
        return {
            "schema": SCHEMA_NAME,
            "schema_version": SCHEMA_VERSION,
            "name": self.name,
            "video": None if self.video is None else rel(self.video),
            "fps": f"{self.fps.numerator}/{self.fps.denominator}",
            "duration": self.duration,
            "start_timecode": self.start_timecode,
            "sample_rate": self.sample_rate,
            "in_point": self.in_point,
            "out_point": self.out_point,
            "settings": self.settings.to_dict(),
            "sources": [
                {**source_to_dict(s), **({"path": rel(s.path)} if s.kind == "audio" else {})}
                for s in self.sources
            ],
            "tracks": [
                {
                    "id": t.id,
                    "name": t.name,
                    "gain_db": t.gain_db,
                    "pan": t.pan,
                    "mute": t.mute,
                    "solo": t.solo,
                    "colour": t.colour,
                    "source_id": t.source_id,
                    "clips": [
                        {
                            "id": c.id,
                            "render": rel(c.render),
                            "position": c.position,
                            "duration": c.duration,
                            "offset": c.offset,
                            "gain_db": c.gain_db,
                            "label": c.label,
                            "provenance": c.provenance,
                        }
                        for c in t.clips
                    ],
                }
                for t in self.tracks
            ],
            "events": {target: track.to_dict() for target, track in self.events.items()},
        }

    @classmethod
    def from_dict(cls, data: Any, abspath: Any = None, path: str | None = None) -> Project:
        """Parse and validate; ``abspath(stored) -> str`` resolves stored paths.

        Raises :class:`ProjectError` naming ``path`` for malformed or newer-schema data.
        """
        absp = abspath or (lambda p: p)
        if not isinstance(data, dict) or data.get("schema") != SCHEMA_NAME:
            raise ProjectError("not a FoleyStudio project file", path)
        version = data.get("schema_version")
        if not isinstance(version, int):
            raise ProjectError("project has no valid schema_version", path)
        if version > SCHEMA_VERSION:
            raise ProjectError(
                f"project was written by a newer FoleyStudio (schema {version}, this version reads "
                f"up to {SCHEMA_VERSION}); update FoleyStudio to open it",
                path,
            )
        try:
            settings = GenerationSettings.from_dict(data.get("settings") or {})
            sources = []
            for s in data.get("sources", []):
                if s.get("kind") == "audio":
                    s = {**s, "path": absp(s["path"])}
                sources.append(source_from_dict(s))
            tracks = []
            for t in data.get("tracks", []):
                clips = [
                    Clip(
                        id=str(c["id"]),
                        render=absp(c["render"]),
                        position=float(c["position"]),
                        duration=float(c["duration"]),
                        offset=float(c.get("offset", 0.0)),
                        gain_db=float(c.get("gain_db", 0.0)),
                        label=str(c.get("label", "")),
                        provenance=dict(c.get("provenance") or {}),
                    )
                    for c in t.get("clips", [])
                ]
                tracks.append(
                    Track(
                        id=str(t["id"]),
                        name=str(t["name"]),
                        gain_db=float(t.get("gain_db", 0.0)),
                        pan=float(t.get("pan", 0.0)),
                        mute=bool(t.get("mute", False)),
                        solo=bool(t.get("solo", False)),
                        colour=str(t.get("colour", TRACK_COLOURS[0])),
                        source_id=t.get("source_id"),
                        clips=clips,
                    )
                )
            events_data = data.get("events") or {}
            if not isinstance(events_data, dict):
                raise UsageError("'events' must map sources to event tracks")
            events = {
                str(target): EventTrack.from_data(track, f"events of {target or 'the picture'}")
                for target, track in events_data.items()
            }
            return cls(
                name=str(data.get("name", "Untitled")),
                video=None if data.get("video") is None else absp(data["video"]),
                fps=parse_rate(data.get("fps", "24")),
                duration=float(data.get("duration", 0.0)),
                start_timecode=str(data.get("start_timecode", "00:00:00:00")),
                sample_rate=int(data.get("sample_rate", 48000)),
                tracks=tracks,
                sources=sources,
                settings=settings,
                in_point=data.get("in_point"),
                out_point=data.get("out_point"),
                events=events,
            )
        except FoleyStudioError as exc:
            raise ProjectError(f"malformed project: {exc.problem}", path) from exc
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ProjectError(f"malformed project: {type(exc).__name__}: {exc}", path) from exc
