"""Sound sources: what should make sound (docs/architecture.md §6).

A source is an object (box keyframes over a time range, with a label), a text prompt, or an
audio prompt (a reference recording). Sources are immutable values: an edit replaces one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from foleystudio.core.boxes import Box, BoxKeyframe, box_at
from foleystudio.errors import UsageError


@dataclass(frozen=True)
class ObjectSource:
    """A visible thing: box keyframes (video seconds, normalised coords) and a label.

    ``start``/``end`` (seconds) limit where the object exists; None means the whole range.
    """

    id: str
    label: str
    keyframes: tuple[BoxKeyframe, ...]
    start: float | None = None
    end: float | None = None
    kind: str = field(default="object", init=False)

    def box_at(self, time: float) -> Box:
        return box_at(self.keyframes, time)

    def active_at(self, time: float) -> bool:
        """Whether the object exists at ``time``."""
        return (self.start is None or time >= self.start) and (self.end is None or time <= self.end)


@dataclass(frozen=True)
class TextSource:
    """A text prompt, e.g. "rain on a tin roof, steady, close"."""

    id: str
    text: str
    kind: str = field(default="text", init=False)

    @property
    def label(self) -> str:
        return self.text


@dataclass(frozen=True)
class AudioSource:
    """A reference recording; ``path`` is absolute in memory (bundle-relative on disk)."""

    id: str
    path: str
    label: str = ""
    kind: str = field(default="audio", init=False)


Source = ObjectSource | TextSource | AudioSource


def source_to_dict(source: Source) -> dict[str, Any]:
    """JSON-ready form of a source."""
    if isinstance(source, ObjectSource):
        return {
            "kind": "object",
            "id": source.id,
            "label": source.label,
            "keyframes": [
                {"time": k.time, "box": [k.box.x, k.box.y, k.box.w, k.box.h]} for k in source.keyframes
            ],
            "start": source.start,
            "end": source.end,
        }
    if isinstance(source, TextSource):
        return {"kind": "text", "id": source.id, "text": source.text}
    return {"kind": "audio", "id": source.id, "path": source.path, "label": source.label}


def source_from_dict(data: dict[str, Any]) -> Source:
    """Inverse of :func:`source_to_dict`; raises UsageError on malformed data."""
    try:
        kind = data["kind"]
        if kind == "object":
            keys = tuple(
                BoxKeyframe(float(k["time"]), Box(*(float(v) for v in k["box"]))) for k in data["keyframes"]
            )
            return ObjectSource(
                id=str(data["id"]),
                label=str(data.get("label", "")),
                keyframes=keys,
                start=None if data.get("start") is None else float(data["start"]),
                end=None if data.get("end") is None else float(data["end"]),
            )
        if kind == "text":
            return TextSource(id=str(data["id"]), text=str(data["text"]))
        if kind == "audio":
            return AudioSource(id=str(data["id"]), path=str(data["path"]), label=str(data.get("label", "")))
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"malformed source entry: {exc}") from exc
    raise UsageError(f"unknown source kind {data.get('kind')!r}")
