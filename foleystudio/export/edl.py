"""CMX 3600 edit decision lists of the Foley, through OpenTimelineIO's ``cmx_3600`` adapter.

What fits in CMX 3600, and what we decided:

* An EDL is one channel of non-overlapping events with frame-accurate timecodes. So we
  write **one EDL per exported track** (per lane when a track's items overlap): with a single
  track the file is exactly the path asked for; otherwise ``<name>_<NN>_<track>.edl``
  files sit next to it (``…_L2`` for a second lane). Every event is an audio cut (``A``).
* Events are rounded to whole frames (start and end to the nearest frame, at least one
  frame long): sample accuracy lives in the stems, the OTIO timeline and the Reaper project.
* Record timecodes start at the project's start timecode. Source timecodes are the file's
  own: stems and per-clip files are BWF-stamped at the start timecode, so source equals
  record; renders carry no timecode and start at 00:00:00:00.
* Reel names are at most 8 characters: ``ST<NN>`` for a stem, ``C<NN><clip>`` for a per-clip
  file, ``R<n>`` for a render; the file itself is named in the ``* FROM CLIP:`` comment and
  the clip in ``* FROM CLIP NAME:``.
* Timecode: drop frame (``;``) when the start timecode is drop frame at 29.97/59.94, else
  non-drop counted at the nominal rate (23.976 counts 24 per second); an ``FCM:`` line says
  which (the adapter does not write one).

The adapter writes only the first track of a timeline and insists on exactly one video
track, so each EDL is made from a timeline holding [the audio lane, an empty picture track].
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from foleystudio.core.atomicfile import atomic_write_bytes
from foleystudio.core.timebase import nominal_fps
from foleystudio.errors import ExportError
from foleystudio.export.layout import ExportLayout, PlacedItem, PlacedTrack, split_lanes
from foleystudio.export.naming import sanitize_component
from foleystudio.export.otio_export import file_url


def edl_rate(layout: ExportLayout) -> float:
    """The rate EDL timecodes are counted at (see the module docstring)."""
    return float(layout.fps) if layout.drop_frame else float(nominal_fps(layout.fps))


def edl_files(
    layout: ExportLayout, edl_path: str | os.PathLike[str]
) -> list[tuple[Path, PlacedTrack, list[PlacedItem], int]]:
    """``(path, track, lane items, lane number)`` of every EDL an export writes."""
    edl_path = Path(edl_path)
    lanes = [
        (track, lane, n)
        for track in layout.tracks
        for n, lane in enumerate(split_lanes(track.items), start=1)
    ]
    if len(lanes) == 1:
        track, lane, n = lanes[0]
        return [(edl_path, track, lane, n)]
    result = []
    for track, lane, n in lanes:
        suffix = f"_{track.number:02d}_{sanitize_component(track.name) or 'track'}" + (
            f"_L{n}" if n > 1 else ""
        )
        result.append((edl_path.with_name(edl_path.stem + suffix + edl_path.suffix), track, lane, n))
    return result


def build_edl(layout: ExportLayout, track: PlacedTrack, items: list[PlacedItem], lane: int = 1) -> str:
    """The EDL text of one lane of ``track``."""
    rate = edl_rate(layout)
    audio = otio.schema.Track(name=track.name, kind=otio.schema.TrackKind.Audio)
    cursor = 0
    reels: dict[Path, str] = {}
    for item in items:
        start = layout.start_frames + _frames(item.start, layout)
        end = max(start + 1, layout.start_frames + _frames(item.end, layout))
        if start > cursor:
            audio.append(otio.schema.Gap(source_range=_range(0, start - cursor, rate)))
        source = _frames(item.file_time_reference, layout) + _frames(item.source_start, layout)
        reel = reels.setdefault(item.file, _reel(item, track, len(reels) + 1))
        audio.append(
            otio.schema.Clip(
                name=item.name,
                media_reference=otio.schema.ExternalReference(target_url=file_url(item.file)),
                source_range=_range(source, end - start, rate),
                metadata={"cmx_3600": {"reel": reel}},
            )
        )
        cursor = end
    picture = otio.schema.Track(name="Picture", kind=otio.schema.TrackKind.Video)
    title = f"{layout.project_name} {track.name}" + (f" L{lane}" if lane > 1 else "")
    timeline = otio.schema.Timeline(name=title, tracks=[audio, picture])
    try:
        text = otio.adapters.write_to_string(timeline, adapter_name="cmx_3600", rate=rate, style="avid")
    except otio.exceptions.OTIOError as exc:
        raise ExportError(f"cannot write EDL for track {track.name!r}: {exc}") from exc
    fcm = "FCM: DROP FRAME" if layout.drop_frame else "FCM: NON-DROP FRAME"
    head, sep, rest = text.partition("\n")
    return f"{head}\n{fcm}{sep}{rest}" if head.startswith("TITLE:") else f"{fcm}\n{text}"


def write_edls(
    layout: ExportLayout, edl_path: str | os.PathLike[str], staging: Path | None = None
) -> list[Path]:
    """Write every EDL (into ``staging`` when given, under the final names); returns the paths written."""
    written = []
    for path, track, items, lane in edl_files(layout, edl_path):
        target = (staging / path.name) if staging is not None else path
        try:
            atomic_write_bytes(target, build_edl(layout, track, items, lane).encode("ascii", "replace"))
        except OSError as exc:
            raise ExportError(f"cannot write EDL: {exc.strerror or exc}", target) from exc
        written.append(target)
    return written


def _frames(samples: int, layout: ExportLayout) -> int:
    """Nearest whole frame of a sample count."""
    return round(Fraction(samples) * layout.fps / layout.sample_rate)


def _range(start: int, duration: int, rate: float) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(
        otio.opentime.RationalTime(start, rate), otio.opentime.RationalTime(duration, rate)
    )


def _reel(item: PlacedItem, track: PlacedTrack, index: int) -> str:
    if item.kind == "stem":
        return f"ST{track.number:02d}"
    if item.kind == "clip":
        return f"C{track.number:02d}{index:03d}"
    return f"R{index:03d}"
