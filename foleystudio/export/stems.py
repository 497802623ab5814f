"""Stems: one mono signal per track, laid out on the export timeline sample-exactly.

Decisions (docs/architecture.md §10 is the rule; these are the details):

* **Timeline.** Every stem starts at the video's first frame (time 0) and is exactly
  ``round(project.length * sample_rate)`` samples long, where ``project.length`` is the
  video's duration or the end of the last clip if that is later. All stems and the mix have
  this length, so they line up at 0 in any DAW and none is cut short.
* **Placement.** A clip starts at sample ``round(position * sr)`` and ends at
  ``round((position + duration) * sr)`` (so back-to-back clips neither overlap nor leave a
  gap); it reads its render from sample ``round(offset * sr)`` of the render resampled to the
  export rate. A render shorter than the clip is padded with silence. Overlapping clips on
  one track add.
* **Gain.** Clip gain and track gain are applied (the stem is what the track plays);
  pan is not, because the stems are **mono**: Foley is recorded and delivered mono per
  track and panned on the dub stage. Stereo renders (imported files) are folded to mono by
  averaging their channels. Mute/solo do not remove stems — every track with clips gets
  one; the interchange files carry the mute/solo state. Tracks without clips get none.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from foleystudio.core.audio import db_to_gain, load_audio
from foleystudio.core.project import Clip, Project, Track
from foleystudio.core.timebase import seconds_to_samples
from foleystudio.errors import ExportError, FoleyStudioError

#: Resampled renders kept in memory during one export (bytes), least recently used dropped.
RENDER_CACHE_BYTES = 512 * 2**20


@dataclass(frozen=True)
class ClipSpan:
    """A clip resolved to samples at the export rate.

    ``start``: first timeline sample; ``length``: samples; ``source_start``: first sample
    read from the render (at the export rate); ``number``: 1-based, in time order on its track.
    """

    clip: Clip
    start: int
    length: int
    source_start: int
    number: int

    @property
    def end(self) -> int:
        return self.start + self.length


def project_length_samples(project: Project, sample_rate: int) -> int:
    """The length of every stem and of the mix: ``round(project.length * sample_rate)``."""
    return seconds_to_samples(project.length, sample_rate)


def clip_spans(track: Track, sample_rate: int) -> list[ClipSpan]:
    """The track's clips at ``sample_rate``, in time order (start, then clip id for ties)."""
    ordered = sorted(track.clips, key=lambda c: (c.position, c.id))
    spans = []
    for number, clip in enumerate(ordered, start=1):
        start = max(0, seconds_to_samples(clip.position, sample_rate))
        end = seconds_to_samples(clip.position + clip.duration, sample_rate)
        source_start = max(0, seconds_to_samples(clip.offset, sample_rate))
        spans.append(ClipSpan(clip, start, max(0, end - start), source_start, number))
    return spans


class RenderCache:
    """Renders loaded once per export as mono float32 at the export rate (LRU by bytes)."""

    def __init__(self, sample_rate: int, max_bytes: int = RENDER_CACHE_BYTES) -> None:
        self.sample_rate = sample_rate
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._bytes = 0

    def get(self, path: str | os.PathLike[str]) -> np.ndarray:
        """The render at ``path``; raises :class:`ExportError` naming it when unreadable."""
        key = os.fspath(path)
        audio = self._items.get(key)
        if audio is not None:
            self._items.move_to_end(key)
            return audio
        try:
            audio, _ = load_audio(key, sample_rate=self.sample_rate, mono=True)
        except FoleyStudioError as exc:
            raise ExportError(f"cannot read render: {exc.problem}", key) from exc
        audio.setflags(write=False)
        self._items[key] = audio
        self._bytes += audio.nbytes
        while self._bytes > self.max_bytes and len(self._items) > 1:
            _, dropped = self._items.popitem(last=False)
            self._bytes -= dropped.nbytes
        return audio


def clip_audio(span: ClipSpan, cache: RenderCache) -> np.ndarray:
    """The ``span.length`` samples the clip plays, before gain (silence past the render's end)."""
    render = cache.get(span.clip.render)
    piece = render[span.source_start : span.source_start + span.length]
    if len(piece) < span.length:
        piece = np.concatenate([piece, np.zeros(span.length - len(piece), np.float32)])
    return piece


def render_track(track: Track, length: int, cache: RenderCache) -> np.ndarray:
    """The track's mono stem: ``(length,)`` float32 with clip and track gain applied."""
    stem = np.zeros(length, np.float32)
    for span in clip_spans(track, cache.sample_rate):
        count = min(span.length, length - span.start)
        if count <= 0:
            continue
        gain = np.float32(db_to_gain(span.clip.gain_db + track.gain_db))
        stem[span.start : span.start + count] += clip_audio(span, cache)[:count] * gain
    return stem


def render_clip(track: Track, span: ClipSpan, cache: RenderCache) -> np.ndarray:
    """One clip on its own (per-clip export): ``(span.length,)`` with clip and track gain."""
    gain = np.float32(db_to_gain(span.clip.gain_db + track.gain_db))
    return clip_audio(span, cache) * gain


def tracks_with_clips(project: Project) -> list[tuple[int, Track]]:
    """``(number, track)`` for every track that has clips; numbers are 1-based project order."""
    return [(index, track) for index, track in enumerate(project.tracks, start=1) if track.clips]
