"""Reaper ``.rpp`` projects: write one from an export layout, and read one back.

An ``.rpp`` file is plain text: ``<TAG fields…`` opens a block, ``>`` closes it, other
lines are ``KEY fields…``. We write what a Reaper user needs to carry on, and nothing
Reaper fills in by itself:

* ``SAMPLERATE`` (the export rate) and ``PROJOFFS`` (project start = the start timecode as
  real seconds, i.e. the stems' BWF TimeReference / rate, so time-stamped files line up);
* a ``Picture`` track first (Reaper shows the top video item) holding the video with its
  audio disabled (``AUDIO 0``), so only the Foley plays;
* one ``TRACK`` per exported track: ``NAME``; ``VOLPAN volume pan -1`` (linear volume, pan
  -1…+1, project pan law); ``MUTESOLO mute solo 0`` (solo 2 = solo in place, Reaper's
  default solo); and its ``ITEM``\\ s: ``POSITION``/``LENGTH``/``SOFFS`` (seconds, written
  with enough digits to be sample-exact), ``VOLPAN`` (item gain) and ``<SOURCE WAVE FILE>``.

Paths inside the project file's folder are written relative to it (Reaper resolves them
against the project folder, so the folder can move); others are absolute.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from foleystudio import __version__
from foleystudio.core.atomicfile import atomic_write_bytes
from foleystudio.core.audio import db_to_gain
from foleystudio.errors import ExportError
from foleystudio.export.layout import ExportLayout, PlacedItem, PlacedTrack

#: Namespace of the stable GUIDs we give tracks and items (same export -> same file).
_GUID_NAMESPACE = uuid.UUID("6f1c3f7e-2b1d-4c55-9a43-5c3c0e6f0a11")


def build_rpp(layout: ExportLayout, rpp_path: str | os.PathLike[str]) -> str:
    """The text of a Reaper project for ``layout``, to be saved at ``rpp_path``."""
    folder = Path(rpp_path).absolute().parent
    sr = layout.sample_rate
    lines = [
        f'<REAPER_PROJECT 0.1 "7.0/FoleyStudio {__version__}" 0',
        f"  SAMPLERATE {sr} 0 0",
        f"  PROJOFFS {_seconds(layout.start_samples, sr)} 0 0",
        "  <NOTES 0 2",
        f"    |{layout.project_name}: exported by FoleyStudio {__version__}, start {layout.start_timecode}",
        "  >",
    ]
    if layout.video is not None:
        lines += _video_track(layout, folder)
    for track in layout.tracks:
        lines += _track(track, sr, folder, layout.project_name)
    lines.append(">")
    return "\n".join(lines) + "\n"


def write_rpp(
    layout: ExportLayout, path: str | os.PathLike[str], file_path: str | os.PathLike[str] | None = None
) -> Path:
    """Write the project atomically to ``path``; paths inside are relative to ``file_path``
    (default ``path``: pass the final location when ``path`` is a staging file)."""
    path = Path(path)
    text = build_rpp(layout, file_path if file_path is not None else path)
    try:
        return atomic_write_bytes(path, text.encode("utf-8"))
    except OSError as exc:
        raise ExportError(f"cannot write Reaper project: {exc.strerror or exc}", path) from exc


def _video_track(layout: ExportLayout, folder: Path) -> list[str]:
    assert layout.video is not None
    length = _seconds(layout.video_frames * layout.fps.denominator, layout.fps.numerator)
    guid = _guid(layout.project_name, "picture")
    return [
        f"  <TRACK {guid}",
        '    NAME "Picture"',
        "    VOLPAN 1 0 -1",
        "    MUTESOLO 0 0 0",
        "    <ITEM",
        "      POSITION 0",
        f"      LENGTH {length}",
        "      SOFFS 0",
        f"      NAME {_quote(layout.video.name)}",
        f"      IGUID {_guid(layout.project_name, 'picture-item')}",
        "      <SOURCE VIDEO",
        "        AUDIO 0",
        f"        FILE {_quote(_path_for(layout.video, folder))}",
        "      >",
        "    >",
        "  >",
    ]


def _track(track: PlacedTrack, sr: int, folder: Path, project_name: str) -> list[str]:
    solo = 2 if track.solo else 0
    lines = [
        f"  <TRACK {_guid(project_name, 'track', track.number)}",
        f"    NAME {_quote(track.name)}",
        f"    VOLPAN {_number(db_to_gain(track.gain_db))} {_number(track.pan)} -1",
        f"    MUTESOLO {int(track.mute)} {solo} 0",
    ]
    for index, item in enumerate(track.items):
        lines += _item(item, sr, folder, _guid(project_name, "item", track.number, index))
    lines.append("  >")
    return lines


def _item(item: PlacedItem, sr: int, folder: Path, guid: str) -> list[str]:
    return [
        "    <ITEM",
        f"      POSITION {_seconds(item.start, sr)}",
        f"      LENGTH {_seconds(item.length, sr)}",
        f"      SOFFS {_seconds(item.source_start, sr)}",
        f"      NAME {_quote(item.name)}",
        f"      VOLPAN {_number(db_to_gain(item.gain_db))} 0 1 -1",
        f"      IGUID {guid}",
        "      <SOURCE WAVE",
        f"        FILE {_quote(_path_for(item.file, folder))}",
        "      >",
        "    >",
    ]


def _seconds(samples: int, rate: int) -> str:
    """Seconds of a sample count, with digits enough to come back to the same sample."""
    return _number(samples / rate)


def _number(value: float) -> str:
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _quote(text: str) -> str:
    """Reaper's quoting: double quotes, or single/back quotes when the text holds ``"``."""
    text = str(text).replace("\n", " ")
    for mark in ('"', "'", "`"):
        if mark not in text:
            return f"{mark}{text}{mark}"
    return '"' + text.replace('"', "'") + '"'


def _path_for(path: Path, folder: Path) -> str:
    path = Path(path).absolute()
    try:
        return str(path.relative_to(folder))
    except ValueError:
        return str(path)


def _guid(*parts: object) -> str:
    return "{" + str(uuid.uuid5(_GUID_NAMESPACE, "/".join(map(str, parts)))).upper() + "}"


# --- reading -----------------------------------------------------------------------------
@dataclass
class RppNode:
    """A block of an ``.rpp`` file: ``tag`` and ``fields`` of its opening line, its ``lines``
    (``KEY fields…`` as token lists) and its child blocks."""

    tag: str
    fields: list[str]
    lines: list[list[str]] = field(default_factory=list)
    children: list[RppNode] = field(default_factory=list)

    def find(self, tag: str) -> RppNode | None:
        return next((c for c in self.children if c.tag == tag), None)

    def findall(self, tag: str) -> list[RppNode]:
        return [c for c in self.children if c.tag == tag]

    def value(self, key: str) -> list[str] | None:
        """The fields after ``key`` on its first line, or None."""
        return next((line[1:] for line in self.lines if line and line[0] == key), None)


def parse_rpp(text: str) -> RppNode:
    """Parse ``.rpp`` text into its block tree; raises :class:`ExportError` if malformed."""
    stack: list[RppNode] = []
    root: RppNode | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("|"):
            continue
        if line.startswith("<"):
            tokens = _tokens(line[1:])
            node = RppNode(tokens[0] if tokens else "", tokens[1:])
            if stack:
                stack[-1].children.append(node)
            elif root is None:
                root = node
            else:
                raise ExportError(f"rpp line {number}: a second top-level block")
            stack.append(node)
        elif line == ">":
            if not stack:
                raise ExportError(f"rpp line {number}: '>' without an open block")
            stack.pop()
        elif stack:
            stack[-1].lines.append(_tokens(line))
        else:
            raise ExportError(f"rpp line {number}: text outside the project block")
    if root is None or stack:
        raise ExportError("rpp: unbalanced or missing project block")
    return root


def _tokens(line: str) -> list[str]:
    """Split a line on spaces; a token starting with ``"``, ``'`` or `````` runs to the same mark."""
    tokens, i = [], 0
    while i < len(line):
        if line[i].isspace():
            i += 1
            continue
        mark = line[i]
        if mark in "\"'`":
            end = line.find(mark, i + 1)
            end = len(line) if end < 0 else end
            tokens.append(line[i + 1 : end])
            i = end + 1
        else:
            end = i
            while end < len(line) and not line[end].isspace():
                end += 1
            tokens.append(line[i:end])
            i = end
    return tokens
