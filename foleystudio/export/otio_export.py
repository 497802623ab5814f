"""OpenTimelineIO timeline of an export: the video on a video track, the Foley on audio tracks.

Times are exact: video times are frame counts at the project's frame rate, audio times are
sample counts at the export sample rate (OTIO stores a rate per time, so 23.976 is
24000/1001 and a clip at sample 48 013 is at 48 013/48 000 s). The timeline's
``global_start_time`` is the project's start timecode as a frame count.

OTIO tracks cannot hold overlapping clips, so a project track whose items overlap (only
possible when items reference renders) is split into lanes: ``FEET``, ``FEET (2)``, ….
Muted tracks are disabled (``enabled = False``); gain (dB), pan and solo of each track and
the gain of each item are kept in ``metadata["foleystudio"]`` — OTIO has no standard
audio-mix schema. Media references are ``file://`` URLs of absolute paths.
"""

from __future__ import annotations

import os
from pathlib import Path

import opentimelineio as otio

from foleystudio.core.atomicfile import atomic_write_bytes
from foleystudio.errors import ExportError
from foleystudio.export.layout import ExportLayout, PlacedItem, PlacedTrack, split_lanes


def build_timeline(layout: ExportLayout) -> otio.schema.Timeline:
    """The OTIO timeline for ``layout``."""
    fps = float(layout.fps)
    timeline = otio.schema.Timeline(
        name=layout.project_name,
        global_start_time=otio.opentime.RationalTime(layout.start_frames, fps),
        metadata={
            "foleystudio": {
                "fps": f"{layout.fps.numerator}/{layout.fps.denominator}",
                "start_timecode": layout.start_timecode,
                "sample_rate": layout.sample_rate,
                "length_samples": layout.length,
            }
        },
    )
    if layout.video is not None:
        timeline.tracks.append(_video_track(layout))
    for track in layout.tracks:
        for lane_number, lane in enumerate(split_lanes(track.items), start=1):
            timeline.tracks.append(_audio_track(track, lane, lane_number, layout.sample_rate))
    return timeline


def write_otio(layout: ExportLayout, path: str | os.PathLike[str]) -> Path:
    """Write the timeline as ``.otio`` JSON, atomically; returns the path."""
    path = Path(path)
    text = otio.adapters.write_to_string(build_timeline(layout), adapter_name="otio_json")
    try:
        return atomic_write_bytes(path, text.encode("utf-8"))
    except OSError as exc:
        raise ExportError(f"cannot write OTIO file: {exc.strerror or exc}", path) from exc


def file_url(path: Path) -> str:
    """The ``file://`` URL OTIO uses for a local file."""
    return otio.url_utils.url_from_filepath(str(Path(path).absolute()))


def _video_track(layout: ExportLayout) -> otio.schema.Track:
    fps = float(layout.fps)
    media_range = otio.opentime.TimeRange(
        otio.opentime.RationalTime(layout.video_start_frames, fps),
        otio.opentime.RationalTime(layout.video_frames, fps),
    )
    assert layout.video is not None
    clip = otio.schema.Clip(
        name=layout.video.name,
        media_reference=otio.schema.ExternalReference(
            target_url=file_url(layout.video), available_range=media_range
        ),
        source_range=media_range,
    )
    return otio.schema.Track(name="Picture", kind=otio.schema.TrackKind.Video, children=[clip])


def _audio_track(
    track: PlacedTrack, items: list[PlacedItem], lane: int, sample_rate: int
) -> otio.schema.Track:
    def at(samples: int) -> otio.opentime.RationalTime:
        return otio.opentime.RationalTime(samples, sample_rate)

    name = track.name if lane == 1 else f"{track.name} ({lane})"
    result = otio.schema.Track(
        name=name,
        kind=otio.schema.TrackKind.Audio,
        metadata={
            "foleystudio": {
                "track_number": track.number,
                "lane": lane,
                "gain_db": track.gain_db,
                "pan": track.pan,
                "mute": track.mute,
                "solo": track.solo,
            }
        },
    )
    result.enabled = not track.mute
    cursor = 0
    for item in items:
        if item.start > cursor:
            result.append(
                otio.schema.Gap(source_range=otio.opentime.TimeRange(at(0), at(item.start - cursor)))
            )
        reference = otio.schema.ExternalReference(
            target_url=file_url(item.file),
            available_range=otio.opentime.TimeRange(at(item.file_time_reference), at(item.file_length)),
        )
        result.append(
            otio.schema.Clip(
                name=item.name,
                media_reference=reference,
                source_range=otio.opentime.TimeRange(
                    at(item.file_time_reference + item.source_start), at(item.length)
                ),
                metadata={"foleystudio": {"gain_db": item.gain_db}},
            )
        )
        cursor = item.end
    return result
