"""Playback files: each render once at the engine's rate, raw, for streaming (docs/architecture.md §9).

The playback engine streams the tracks block by block (``core/playback_stream.py``), so the
files it reads must be cheap to read at any sample: mono little-endian float32 with no header
at the engine rate. :func:`playback_file` makes one per render and rate, in ``playback/`` of
the project's cache folder (``core.project_bundle.cache_folder``), with the loader and
resampler the stems use (``load_audio(…, sample_rate=rate, mono=True)``, as
:class:`export.stems.RenderCache` does), written atomically. Renders are immutable and
content-named, but the file name also carries the render's size and mtime, so a render
replaced under the same name is converted again. A render placed many times on the
timeline is stored once. :func:`playback_layout` turns a project into the
:class:`StreamLayout` the engine plays, placing clips exactly as the stems do.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from foleystudio.core.atomicfile import atomic_output
from foleystudio.core.audio import db_to_gain, load_audio
from foleystudio.core.jobs import CancelToken
from foleystudio.core.playback_stream import SAMPLE_DTYPE, RawFloatFile, StreamLayout, StreamSpan, StreamTrack
from foleystudio.core.project import Project
from foleystudio.errors import AudioFileError, FoleyStudioError
from foleystudio.export.stems import clip_spans

PLAYBACK_DIR = "playback"
PLAYBACK_SUFFIX = ".f32"


def playback_file_path(
    render: str | os.PathLike[str], sample_rate: int, cache_dir: str | os.PathLike[str]
) -> Path:
    """Where the playback file of ``render`` (in its current state) at ``sample_rate`` Hz lives."""
    render = Path(render)
    try:
        stat = render.stat()
    except OSError as exc:
        raise AudioFileError(f"cannot read render: {exc.strerror or exc}", render) from exc
    state = f"{render.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{sample_rate}"
    key = hashlib.sha256(state.encode()).hexdigest()[:16]
    return Path(cache_dir) / PLAYBACK_DIR / f"{render.stem}-{sample_rate}-{key}{PLAYBACK_SUFFIX}"


def playback_file(
    render: str | os.PathLike[str], sample_rate: int, cache_dir: str | os.PathLike[str]
) -> RawFloatFile:
    """The playback file of ``render`` at ``sample_rate`` Hz, made on first use.

    Raises :class:`AudioFileError` naming the render when it cannot be read, or the cache
    folder when the file cannot be written.
    """
    path = playback_file_path(render, sample_rate, cache_dir)
    if path.is_file():
        return RawFloatFile.open(path)
    try:
        audio, _ = load_audio(render, sample_rate=sample_rate, mono=True)
    except FoleyStudioError as exc:
        raise AudioFileError(f"cannot read render: {exc.problem}", render) from exc
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as fh:
            fh.write(np.ascontiguousarray(audio, dtype=SAMPLE_DTYPE).tobytes())
    except OSError as exc:
        raise AudioFileError(f"cannot write the playback file: {exc.strerror or exc}", path) from exc
    return RawFloatFile(path, len(audio))


def playback_layout(
    project: Project,
    sample_rate: int,
    cache_dir: str | os.PathLike[str],
    cancel: CancelToken | None = None,
) -> StreamLayout:
    """What the engine streams for ``project``: every track with clips, placed as its stem
    (``export.stems.clip_spans``) with clip gain; track gain, pan, mute and solo are the
    mixer's. Makes missing playback files (one render at a time, so memory stays that of
    the largest render); checks ``cancel`` between renders."""
    files: dict[str, RawFloatFile] = {}
    tracks = []
    for track in project.tracks:
        if not track.clips:
            continue
        spans = []
        for span in clip_spans(track, sample_rate):
            render = span.clip.render
            if render not in files:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                files[render] = playback_file(render, sample_rate, cache_dir)
            # Track gain 0 dB, as the rendered stem the mixer's gain is applied to.
            gain = np.float32(db_to_gain(span.clip.gain_db + 0.0))
            spans.append(StreamSpan(span.start, span.length, files[render], span.source_start, gain))
        tracks.append(StreamTrack(track.id, tuple(spans)))
    return StreamLayout(tuple(tracks), sample_rate)
