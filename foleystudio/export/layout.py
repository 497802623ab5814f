"""What the interchange files (OTIO, Reaper, EDL) describe: tracks of placed audio items.

One layout is built per export and handed to every interchange writer, so they all agree.
Times are whole samples at the export rate, 0 = the video's first frame. Items reference

* the **stems** when stems were exported: one item per stretch of the stem where the
  track's clips sound (overlapping/abutting clips merge, since their sum is in the stem),
  gain already in the file, so the DAW track fader stays at 0 dB;
* the **per-clip files** when clips were exported one by one;
* otherwise the project's **renders** themselves, with clip gain on the item and track gain
  on the track.

A file's own time (``file_time_reference``) is where its sample 0 sits in samples since
midnight: the BWF TimeReference for our exported files, 0 for renders (which carry no
timecode). OTIO media ranges use it, as NLEs read a BWF file's timecode as its media time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import soundfile as sf

from foleystudio.core.project import Project
from foleystudio.core.timebase import (
    seconds_to_samples,
    timecode_to_frames,
    timecode_to_samples,
    uses_drop_frame,
)
from foleystudio.errors import ExportError
from foleystudio.export.stems import ClipSpan, clip_spans, tracks_with_clips


@dataclass(frozen=True)
class PlacedItem:
    """One piece of audio on a track (all times in samples at the export rate)."""

    name: str
    file: Path
    start: int
    length: int
    source_start: int
    file_length: int
    file_time_reference: int
    gain_db: float = 0.0
    kind: str = "render"  # "stem", "clip" (per-clip file) or "render"

    @property
    def end(self) -> int:
        return self.start + self.length


@dataclass(frozen=True)
class PlacedTrack:
    """A track: ``number`` is 1-based in project order; ``gain_db`` is what a DAW fader applies."""

    number: int
    name: str
    gain_db: float
    pan: float
    mute: bool
    solo: bool
    items: tuple[PlacedItem, ...]


@dataclass(frozen=True)
class ExportLayout:
    """Everything an interchange writer needs, with exact rates and sample/frame counts."""

    project_name: str
    sample_rate: int
    length: int
    fps: Fraction
    start_timecode: str
    video: Path | None
    video_frames: int
    video_start_frames: int
    tracks: tuple[PlacedTrack, ...]

    @property
    def drop_frame(self) -> bool:
        return uses_drop_frame(self.start_timecode, self.fps)

    @property
    def start_frames(self) -> int:
        """Frames since midnight of the first video frame (the project's start timecode)."""
        return timecode_to_frames(self.start_timecode, self.fps)

    @property
    def start_samples(self) -> int:
        """Samples since midnight of the first video frame (BWF TimeReference of the stems)."""
        return timecode_to_samples(self.start_timecode, self.fps, self.sample_rate)


def merged_regions(spans: list[ClipSpan]) -> list[tuple[int, int]]:
    """``(start, end)`` sample ranges covered by the spans, overlapping/abutting ones merged."""
    regions: list[list[int]] = []
    for span in sorted(spans, key=lambda s: s.start):
        if span.length <= 0:
            continue
        if regions and span.start <= regions[-1][1]:
            regions[-1][1] = max(regions[-1][1], span.end)
        else:
            regions.append([span.start, span.end])
    return [(a, b) for a, b in regions]


def split_lanes(items: tuple[PlacedItem, ...] | list[PlacedItem]) -> list[list[PlacedItem]]:
    """Items split into lanes without overlaps (first free lane, in time order); at least one lane."""
    lanes: list[list[PlacedItem]] = []
    for item in sorted(items, key=lambda i: (i.start, i.end)):
        for lane in lanes:
            if lane[-1].end <= item.start:
                lane.append(item)
                break
        else:
            lanes.append([item])
    return lanes or [[]]


def build_layout(
    project: Project,
    sample_rate: int,
    *,
    stem_files: dict[int, Path] | None = None,
    clip_files: dict[tuple[int, int], Path] | None = None,
    video_start_frames: int = 0,
) -> ExportLayout:
    """The layout of ``project`` at ``sample_rate``.

    ``stem_files`` maps track number -> exported stem; ``clip_files`` maps (track number,
    clip number) -> exported per-clip file; with neither, items reference the renders.
    ``video_start_frames`` is the video file's own start timecode in frames (0 if none).
    """
    length = seconds_to_samples(project.length, sample_rate)
    start_samples = timecode_to_samples(project.start_timecode, project.fps, sample_rate)
    tracks = []
    for number, track in tracks_with_clips(project):
        spans = clip_spans(track, sample_rate)
        if stem_files is not None:
            stem = stem_files[number]
            items = tuple(
                PlacedItem(track.name, stem, a, b - a, a, length, start_samples, kind="stem")
                for a, b in merged_regions(spans)
            )
            fader = 0.0
        elif clip_files is not None:
            items = tuple(
                PlacedItem(
                    span.clip.label or f"{track.name} {span.number}",
                    clip_files[(number, span.number)],
                    span.start,
                    span.length,
                    0,
                    span.length,
                    start_samples + span.start,
                    kind="clip",
                )
                for span in spans
                if span.length > 0
            )
            fader = 0.0
        else:
            items = tuple(
                PlacedItem(
                    span.clip.label or Path(span.clip.render).stem,
                    Path(span.clip.render),
                    span.start,
                    span.length,
                    span.source_start,
                    _render_length(span.clip.render, sample_rate),
                    0,
                    span.clip.gain_db,
                )
                for span in spans
                if span.length > 0
            )
            fader = track.gain_db
        tracks.append(PlacedTrack(number, track.name, fader, track.pan, track.mute, track.solo, items))
    video = Path(project.video) if project.video else None
    return ExportLayout(
        project_name=project.name,
        sample_rate=sample_rate,
        length=length,
        fps=project.fps,
        start_timecode=project.start_timecode,
        video=video,
        video_frames=round(Fraction(project.duration).limit_denominator(10**9) * project.fps) if video else 0,
        video_start_frames=video_start_frames,
        tracks=tuple(tracks),
    )


def _render_length(path: str | os.PathLike[str], sample_rate: int) -> int:
    """A render's length in samples at ``sample_rate`` (from its header, no decoding)."""
    try:
        info = sf.info(os.fspath(path))
    except (sf.SoundFileError, RuntimeError, OSError) as exc:
        raise ExportError(f"cannot read render: {exc}", path) from exc
    return round(Fraction(info.frames) * sample_rate / info.samplerate)
