"""Sound events: the times where a source makes a sound, and how strongly (issues 14 and 15).

An :class:`EventTrack` is what drives the timing of generation: the visual event detector
proposes one per source (whole frame or object box), the user may edit it, tap it or import it
from a recording, and Flowley's event condition is rendered from it (:func:`render_track`).

Times are seconds on the video clock; strengths are in [0, 1]. Files:

- JSON: ``{"events": [{"time": s, "strength": 0..1}, ...]}`` or ``{"events": [t, ...]}`` or a
  bare list of either; per object ``{"objects": {"label": {"events": [...]}}}``.
- Audacity labels: one ``start<TAB>end<TAB>label`` line per event (``end`` = ``start`` for a
  point label); the strength is written as the label (``0.85``) and read back when it parses
  as a number in [0, 1], else 1.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from foleystudio.core.atomicfile import atomic_write_bytes
from foleystudio.errors import UsageError

#: File formats of event tracks.
EVENT_FORMATS = ("json", "audacity")


@dataclass(frozen=True, order=True)
class SoundEvent:
    """One event: ``time`` seconds on the video clock, ``strength`` in [0, 1]."""

    time: float
    strength: float = 1.0

    def __post_init__(self) -> None:
        if not math.isfinite(self.time) or self.time < 0:
            raise UsageError(f"an event time must be a finite number of seconds >= 0, got {self.time}")
        if not (math.isfinite(self.strength) and 0.0 <= self.strength <= 1.0):
            raise UsageError(f"an event strength must be in [0, 1], got {self.strength}")


@dataclass(frozen=True)
class EventTrack:
    """Events of one sound source, sorted by time."""

    events: tuple[SoundEvent, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "events", tuple(sorted(self.events)))

    @classmethod
    def from_times(cls, times: Iterable[float], strengths: Iterable[float] | None = None) -> EventTrack:
        """A track from times (s) and optional strengths (default 1)."""
        times = [float(t) for t in times]
        values = [1.0] * len(times) if strengths is None else [float(s) for s in strengths]
        if len(values) != len(times):
            raise UsageError(f"got {len(times)} event times but {len(values)} strengths")
        return cls(tuple(SoundEvent(t, s) for t, s in zip(times, values, strict=True)))

    @property
    def times(self) -> np.ndarray:
        """[N] float64 seconds."""
        return np.array([e.time for e in self.events], dtype=np.float64)

    @property
    def strengths(self) -> np.ndarray:
        """[N] float64 in [0, 1]."""
        return np.array([e.strength for e in self.events], dtype=np.float64)

    def __len__(self) -> int:
        return len(self.events)

    def within(self, start: float, end: float) -> EventTrack:
        """The events with ``start <= time < end``."""
        return EventTrack(tuple(e for e in self.events if start <= e.time < end))

    def to_dict(self) -> dict[str, Any]:
        return {"events": [{"time": round(e.time, 6), "strength": round(e.strength, 4)} for e in self.events]}

    @classmethod
    def from_data(cls, data: Any, where: str = "events") -> EventTrack:
        """A track from parsed JSON: ``{"events": [...]}`` or a list of numbers or of
        ``{"time", "strength"}`` objects."""
        if isinstance(data, Mapping):
            if "events" not in data:
                raise UsageError(f"{where}: expected an 'events' list")
            data = data["events"]
        if not isinstance(data, list):
            raise UsageError(f"{where}: expected a list of events, got {type(data).__name__}")
        events = []
        for i, item in enumerate(data):
            try:
                if isinstance(item, Mapping):
                    events.append(SoundEvent(float(item["time"]), float(item.get("strength", 1.0))))
                elif isinstance(item, int | float) and not isinstance(item, bool):
                    events.append(SoundEvent(float(item)))
                else:
                    raise UsageError(f"expected a number or an object with 'time', got {item!r}")
            except (KeyError, TypeError, ValueError) as exc:
                raise UsageError(f"{where}: event {i} is not valid ({exc})") from None
            except UsageError as exc:
                raise UsageError(f"{where}: event {i}: {exc}") from None
        return cls(tuple(events))


def render_track(
    track: EventTrack, rate: float, n: int, *, start: float = 0.0, use_strength: bool = True
) -> np.ndarray:
    """[n] float32: each bin of ``1/rate`` s from ``start`` holds the largest strength of the
    events inside it (1 for any event when not ``use_strength``; 0 where there is none) — the
    event condition at the audio token rate."""
    if rate <= 0 or n < 0:
        raise UsageError(f"need rate > 0 and n >= 0, got rate {rate}, n {n}")
    out = np.zeros(n, np.float32)
    for event in track.events:
        k = math.floor((event.time - start) * rate + 1e-9)
        if 0 <= k < n:
            out[k] = max(out[k], event.strength if use_strength else 1.0)
    return out


#: What each event source recorded in results means, in words for the status bar and the CLI.
DETECTOR_NAMES: dict[str, str] = {
    "given": "the events given",
    "onsets": "the model's visual onset network",
    "flow-net": "the model's flow event network",
    "flow": "optical-flow impacts",
}
#: Detectors whose events are a first guess on real footage: on 14 held-out real clips with
#: visible impacts they reached F1 0.40 against 0.26 for the same events 0.5 s late
#: (docs/decisions.md, "A held-out real-footage set").
FIRST_GUESS_DETECTORS = frozenset({"flow", "flow-net"})
#: What to tell the user when a first-guess detector gave the events.
CHECK_EVENTS_ADVICE = (
    "a first guess on real footage: check the events against the picture and move, add or tap "
    "(T) the ones that are off, or take them from a recording"
)


def describe_detector(name: str) -> str:
    """``name`` (as in ``result.json`` and ``events detect``) in words; unknown names as given."""
    return DETECTOR_NAMES.get(name, name)


def detection_advice(detectors: Iterable[str]) -> str:
    """:data:`CHECK_EVENTS_ADVICE` if any of ``detectors`` gives only a first guess, else ``""``."""
    return CHECK_EVENTS_ADVICE if any(d in FIRST_GUESS_DETECTORS for d in detectors) else ""


# -- files ------------------------------------------------------------------------------------


def format_of(path: str | os.PathLike[str], fmt: str | None = None) -> str:
    """``fmt`` if given, else ``audacity`` for ``.txt``/``.labels``, else ``json``."""
    if fmt is not None:
        if fmt not in EVENT_FORMATS:
            raise UsageError(f"event format must be one of {', '.join(EVENT_FORMATS)}, got {fmt!r}")
        return fmt
    return "audacity" if Path(path).suffix.lower() in (".txt", ".labels") else "json"


def parse_audacity_labels(text: str, where: str = "labels") -> EventTrack:
    """A track from Audacity label lines (``start<TAB>end<TAB>label``; spectral ``\\`` lines skipped)."""
    events = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("\\"):
            continue
        parts = line.split("\t") if "\t" in line else line.split()
        try:
            time = float(parts[0])
        except (ValueError, IndexError):
            raise UsageError(f"{where}: line {number} does not start with a time in seconds") from None
        strength = 1.0
        if len(parts) >= 3:
            try:
                value = float(parts[2])
                if 0.0 <= value <= 1.0:
                    strength = value
            except ValueError:
                pass  # a text label: the event keeps full strength
        try:
            events.append(SoundEvent(time, strength))
        except UsageError as exc:
            raise UsageError(f"{where}: line {number}: {exc}") from None
    return EventTrack(tuple(events))


def audacity_labels(track: EventTrack) -> str:
    """Audacity point labels, one per event, with the strength as the label."""
    return "".join(f"{e.time:.6f}\t{e.time:.6f}\t{e.strength:.3f}\n" for e in track.events)


def read_event_file(path: str | os.PathLike[str], fmt: str | None = None) -> EventTrack:
    """Read a single track from JSON or Audacity labels; a clear :class:`UsageError` naming the
    file otherwise (a file with several objects must be read with :func:`read_event_objects`)."""
    path = Path(path)
    text = _read_text(path)
    if format_of(path, fmt) == "audacity":
        return parse_audacity_labels(text, str(path))
    data = _parse_json(text, path)
    if isinstance(data, Mapping) and "objects" in data and "events" not in data:
        objects = read_event_objects(path)
        if len(objects) != 1:
            raise UsageError(f"{path}: holds {len(objects)} objects' events; name one (LABEL=FILE)")
        return next(iter(objects.values()))
    return EventTrack.from_data(data, str(path))


def read_event_objects(path: str | os.PathLike[str]) -> dict[str, EventTrack]:
    """The per-object tracks of a JSON file ``{"objects": {"label": {"events": [...]}}}``."""
    path = Path(path)
    data = _parse_json(_read_text(path), path)
    objects = data.get("objects") if isinstance(data, Mapping) else None
    if not isinstance(objects, Mapping):
        raise UsageError(f"{path}: expected an 'objects' mapping of label to events")
    return {str(k): EventTrack.from_data(v, f"{path} [{k}]") for k, v in objects.items()}


def write_event_file(
    path: str | os.PathLike[str],
    track: EventTrack | None = None,
    *,
    objects: Mapping[str, EventTrack] | None = None,
    fmt: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write one track or per-object tracks (JSON only for objects) atomically; returns the path."""
    path = Path(path)
    fmt = format_of(path, fmt)
    if (track is None) == (objects is None):
        raise UsageError("write either one event track or per-object tracks")
    if fmt == "audacity":
        if objects is not None:
            text = "".join(
                f"{e.time:.6f}\t{e.time:.6f}\t{label}\n" for label, t in objects.items() for e in t.events
            )
        else:
            text = audacity_labels(track)  # type: ignore[arg-type]
    else:
        body: dict[str, Any] = dict(extra or {})
        if objects is not None:
            body["objects"] = {label: t.to_dict() for label, t in objects.items()}
        else:
            body.update(track.to_dict())  # type: ignore[union-attr]
        text = json.dumps(body, indent=1) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))
    return path


def _read_text(path: Path) -> str:
    if not path.exists():
        raise UsageError(f"{path}: event file not found")
    if path.is_dir():
        raise UsageError(f"{path}: is a folder, not an event file")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the event file ({exc})") from None


def _parse_json(text: str, path: Path) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
