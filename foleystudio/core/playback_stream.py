"""What playback streams: each track's clips as spans of sample files, read in blocks.

Playback used to hold every track as one buffer from time 0 (about 192 kB per second per
track at 48 kHz: 41 GB for a 2-hour film with 30 tracks). Now the engine's reader thread
(``core/playback.py``) asks :func:`fill_track` for one block of a track at a time, which
reads only the clips under that block from their files (docs/architecture.md §9).

* A :class:`StreamLayout` is immutable: one :class:`StreamTrack` per track with clips, each
  a sorted tuple of :class:`StreamSpan` (timeline start and length in samples, the file
  and the first sample read from it, clip gain). Placement follows the stems exactly
  (``export.stems.clip_spans``: ``round(position · rate)`` …), and :func:`fill_track` sums
  the clips in the same order with the same float32 operations as
  ``export.stems.render_track``, so a streamed track equals the rendered one sample for
  sample.
* Files are :class:`RawFloatFile`: mono little-endian float32 at the engine rate, made
  once per render and rate in the project's cache (``export/playback_files.py``) with the
  same loader and resampler the stems use. Reading one is a seek and a ``readinto`` a
  preallocated buffer: no decoding, no resampling, no memory that grows with the project.
  :class:`ArrayStore` is an in-memory one (a candidate being auditioned, tests).

Units: samples at the layout's ``sample_rate`` Hz; gain as a linear float32 factor.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from foleystudio.errors import AudioFileError

#: Sample format of playback files and of the reader's buffers (mono, little-endian).
SAMPLE_DTYPE = np.dtype("<f4")


class SampleStore(Protocol):
    """Mono samples readable in blocks."""

    @property
    def length(self) -> int:
        """How many samples there are."""
        ...

    def read(self, out: np.ndarray, first: int) -> None:
        """Fill ``out`` with samples ``first …``; zeros past the end (as a short render is
        padded with silence). Called from the reader thread only."""
        ...


@dataclass(frozen=True)
class ArrayStore:
    """Samples held in memory (read-only view of a 1-D float32 array)."""

    audio: np.ndarray

    @property
    def length(self) -> int:
        return len(self.audio)

    def read(self, out: np.ndarray, first: int) -> None:
        count = max(0, min(len(out), len(self.audio) - first))
        out[:count] = self.audio[first : first + count]
        out[count:] = 0.0


@dataclass(frozen=True)
class RawFloatFile:
    """A file of raw mono :data:`SAMPLE_DTYPE` samples (no header); ``length`` in samples."""

    path: Path
    length: int

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> RawFloatFile:
        """The file at ``path``; raises :class:`AudioFileError` naming it when unreadable."""
        path = Path(path)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise AudioFileError(f"cannot read the playback file: {exc.strerror or exc}", path) from exc
        if size % SAMPLE_DTYPE.itemsize:
            raise AudioFileError("playback file is truncated (not whole float32 samples)", path)
        return cls(path, size // SAMPLE_DTYPE.itemsize)

    def read(self, out: np.ndarray, first: int) -> None:
        count = max(0, min(len(out), self.length - first))
        got = 0
        if count:
            # Opened per block: a long project refers to many files, and an open handle each
            # would exhaust descriptors; the open costs microseconds next to the read.
            try:
                with open(self.path, "rb", buffering=0) as fh:
                    fh.seek(first * SAMPLE_DTYPE.itemsize)
                    got = (fh.readinto(out[:count]) or 0) // SAMPLE_DTYPE.itemsize
            except OSError:
                got = 0  # a file gone while playing plays as silence; the next layout says why
        out[got:] = 0.0


@dataclass(frozen=True)
class StreamSpan:
    """One clip: timeline samples ``start … start + length`` play ``store`` from
    ``source_start``, times ``gain`` (the clip's; the track's is the mixer's)."""

    start: int
    length: int
    store: SampleStore
    source_start: int
    gain: np.float32

    @property
    def end(self) -> int:
        return self.start + self.length


@dataclass(frozen=True)
class StreamTrack:
    """A track's spans in stem order (by start, then clip id), with search arrays."""

    key: str
    spans: tuple[StreamSpan, ...]
    starts: np.ndarray = field(init=False, repr=False, compare=False)
    # Running maximum of the span ends: spans ``i`` with reach[i] <= a end before sample a.
    reach: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        starts = np.array([s.start for s in self.spans], np.int64)
        ends = np.array([s.end for s in self.spans], np.int64)
        object.__setattr__(self, "starts", starts)
        object.__setattr__(self, "reach", np.maximum.accumulate(ends) if len(ends) else ends)


@dataclass(frozen=True)
class StreamLayout:
    """Everything the tracks play: ``length`` samples from time 0 at ``sample_rate`` Hz."""

    tracks: tuple[StreamTrack, ...] = ()
    sample_rate: int = 48000
    #: Samples from time 0 to the end of the last clip (computed once: the callback reads it).
    length: int = field(init=False, compare=False)

    def __post_init__(self) -> None:
        length = max((int(t.reach[-1]) for t in self.tracks if len(t.reach)), default=0)
        object.__setattr__(self, "length", length)

    def row(self, key: str) -> int | None:
        """The index of track ``key`` (its row in the reader's ring), or None."""
        for index, track in enumerate(self.tracks):
            if track.key == key:
                return index
        return None


def array_layout(buffers: Mapping[str, np.ndarray], sample_rate: int = 48000, start: int = 0) -> StreamLayout:
    """A layout playing in-memory buffers (key -> mono samples placed at sample ``start``,
    unit gain): an audition, or tests."""
    tracks = []
    for key, audio in buffers.items():
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        span = StreamSpan(start, len(audio), ArrayStore(audio), 0, np.float32(1.0))
        tracks.append(StreamTrack(key, (span,)))
    return StreamLayout(tuple(tracks), sample_rate)


def fill_track(track: StreamTrack, out: np.ndarray, first: int, scratch: np.ndarray) -> None:
    """Write timeline samples ``first … first + len(out)`` of ``track`` into ``out``.

    ``scratch`` is a buffer at least as long as ``out``. Each clip under the block is read
    into it, scaled by its gain and added, in stem order: the float32 operations of
    ``export.stems.render_track``, so the result is bit-identical to the rendered stem.
    """
    out[:] = 0.0
    last = first + len(out)
    if not track.spans or last <= 0:
        return
    lo = int(np.searchsorted(track.reach, first, side="right"))
    hi = int(np.searchsorted(track.starts, last, side="left"))
    for index in range(lo, hi):
        span = track.spans[index]
        a, b = max(span.start, first), min(span.end, last)
        if b <= a:
            continue
        piece = scratch[: b - a]
        span.store.read(piece, span.source_start + (a - span.start))
        np.multiply(piece, span.gain, out=piece)
        target = out[a - first : b - first]
        np.add(target, piece, out=target)
