"""Scrubbing proxies: a small all-intra copy of a video, on the source's own timeline.

Seeking in long-GOP H.264 costs a decode from the previous keyframe (up to a GOP of 1080p
frames); an NLE scrubs from a *proxy* instead. Ours (docs/architecture.md §9,
docs/decisions.md "Scrubbing proxies"):

* **Format.** Every frame a keyframe (``MJPEG`` in a QuickTime ``.mov``), long side
  :data:`PROXY_LONG_SIDE` px, rotation and pixel aspect already applied (square pixels,
  display orientation, no display matrix), no audio. Any seek is one small intra decode.
* **Same frame times.** Each proxy frame keeps its source frame's presentation time (pts
  minus the source's first pts, in the source stream's time base), so
  ``VideoFile(proxy).frame_at(t)`` shows the picture of the source frame displayed at
  ``t``, variable frame rate included.
* **Where.** ``proxies/`` in a cache folder: the project bundle's ``cache/``
  (:func:`foleystudio.core.project_bundle.cache_folder`; an unsaved project's bundle lives in
  the user folder). The name carries a hash of the source's absolute path and one of its
  state (size in bytes + mtime in ns + proxy format), so a changed source finds no proxy
  and a new one is built; building removes the stale proxies of that source.
* **Atomic, cancellable.** The proxy is written to a hidden temporary file beside the final
  one and renamed into place only when complete (:mod:`foleystudio.core.atomicfile`); a
  cancel or failure removes the temporary file, so a half-written proxy is never found.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from foleystudio.core.atomicfile import fsync_dir
from foleystudio.core.jobs import CancelToken, ProgressCallback, no_progress
from foleystudio.core.media import MediaInfo, probe
from foleystudio.errors import MediaError

#: Longest side of a proxy frame (px): a scrub preview, not the still at rest.
PROXY_LONG_SIDE = 480
#: The proxy's codec and container (docs/decisions.md "Scrubbing proxies": MJPEG decoded
#: fastest of the all-intra choices measured at this size, and encodes fastest).
PROXY_CODEC = "mjpeg"
PROXY_SUFFIX = ".mov"
#: MJPEG quality (FFmpeg qscale, 2 best … 31 worst): 8 is clean enough to scrub at 480 px.
PROXY_QSCALE = 8
#: Bumped when the proxy format changes, so older proxies are never used.
PROXY_VERSION = 1
PROXIES_DIR = "proxies"


def _source_key(source: Path) -> str:
    return hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:12]


def _state_key(source: Path, codec: str) -> str:
    try:
        stat = source.stat()
    except OSError as exc:
        raise MediaError(f"cannot read the file: {exc.strerror or exc}", source) from exc
    state = f"{stat.st_size}|{stat.st_mtime_ns}|{PROXY_VERSION}|{codec}|{PROXY_LONG_SIDE}|{PROXY_QSCALE}"
    return hashlib.sha256(state.encode()).hexdigest()[:12]


def proxy_path(
    source: str | os.PathLike[str], cache_dir: str | os.PathLike[str], codec: str = PROXY_CODEC
) -> Path:
    """Where the proxy of ``source`` in its current state (size, mtime) lives under
    ``cache_dir``; the file exists only once a complete proxy was built."""
    source = Path(source)
    name = f"{_source_key(source)}-{_state_key(source, codec)}{PROXY_SUFFIX}"
    return Path(cache_dir) / PROXIES_DIR / name


def find_proxy(
    source: str | os.PathLike[str], cache_dir: str | os.PathLike[str], codec: str = PROXY_CODEC
) -> Path | None:
    """The up-to-date proxy of ``source``, or None (never built, or the source changed)."""
    path = proxy_path(source, cache_dir, codec)
    return path if path.is_file() else None


def carry_proxy(
    source: str | os.PathLike[str], old_cache: str | os.PathLike[str], new_cache: str | os.PathLike[str]
) -> Path | None:
    """Give ``new_cache`` the up-to-date proxy of ``source`` found in ``old_cache`` (a project
    saved under a new name keeps scrubbing at once): a hard link where the file system
    allows, else a copy through a temporary file. Returns the new path, or None when there
    was none to carry or it could not be placed (it will then be built again)."""
    found = find_proxy(source, old_cache)
    if found is None:
        return None
    target = proxy_path(source, new_cache)
    if target.is_file():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(found, target)
        except OSError:  # another file system, or no hard links: copy, renamed when complete
            fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".part", dir=target.parent)
            os.close(fd)
            try:
                shutil.copyfile(found, tmp_name)
                os.replace(tmp_name, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp_name)
                raise
    except OSError:
        return None
    return target


def wants_proxy(info: MediaInfo) -> bool:
    """Whether a proxy pays for this video: only when it is larger than a proxy would be.
    A video at most :data:`PROXY_LONG_SIDE` px decodes a whole GOP of frames about as fast
    as a proxy frame is converted, and the copy would only cost disk."""
    return info.has_video and max(info.width, info.height) > PROXY_LONG_SIDE


def proxy_size(width: int, height: int, long_side: int = PROXY_LONG_SIDE) -> tuple[int, int]:
    """The proxy frame size (px) for a displayed ``width`` × ``height``: long side at most
    ``long_side``, aspect kept, both even (4:2:0 chroma), never upscaled."""
    scale = min(1.0, long_side / max(width, height))
    w = max(2, round(width * scale / 2) * 2)
    h = max(2, round(height * scale / 2) * 2)
    return w, h


def build_proxy(
    source: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str],
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    codec: str = PROXY_CODEC,
) -> Path:
    """Build (or find) the proxy of ``source`` and return its path.

    Decodes every frame once (frame threads on), scales it to :func:`proxy_size` and encodes
    it intra-only with its own presentation time. Checks ``cancel`` at every frame; a
    cancel raises :class:`JobCancelled` and leaves no file. Raises :class:`MediaError`
    naming the source for an unreadable video, or the cache folder when it cannot be written.
    ``codec``: :data:`PROXY_CODEC`, or ``"libx264"`` (every frame an IDR frame), which the
    media benchmark compares.
    """
    source = Path(source)
    existing = find_proxy(source, cache_dir, codec)
    if existing is not None:
        return existing
    info = probe(source)
    if not info.has_video:
        raise MediaError("no video stream (an audio-only file?)", source)
    final = proxy_path(source, cache_dir, codec)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MediaError(f"cannot create the proxy folder: {exc.strerror or exc}", final.parent) from exc
    width, height = proxy_size(info.width, info.height)
    # A unique hidden name: two builds of one proxy (two windows) never share a file.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=f".part{PROXY_SUFFIX}", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        _encode(source, tmp, codec, (width, height), info.rotation, info.duration, progress, cancel)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, av.FFmpegError):
            raise MediaError(f"cannot build the scrubbing proxy: {exc.strerror or exc}", source) from exc
        if isinstance(exc, OSError):
            raise MediaError(f"cannot write the scrubbing proxy: {exc.strerror or exc}", final) from exc
        raise
    fsync_dir(final.parent)
    _remove_stale(source, final)
    progress(1.0, "proxy ready")
    return final


def _remove_stale(source: Path, keep: Path) -> None:
    """Delete this source's proxies of earlier states (another source's are left alone)."""
    for old in keep.parent.glob(f"{_source_key(source)}-*{PROXY_SUFFIX}"):
        if old != keep:
            with contextlib.suppress(OSError):
                old.unlink()


def _encode(
    source: Path,
    out: Path,
    codec: str,
    size: tuple[int, int],
    rotation: int,
    duration: float,
    progress: ProgressCallback,
    cancel: CancelToken | None,
) -> None:
    width, height = size
    # Scale in the coded orientation, then rotate (as VideoFile does for its frames).
    scaled_w, scaled_h = (height, width) if rotation in (90, 270) else (width, height)
    with av.open(str(source)) as container, av.open(str(out), "w", format="mov") as output:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # frame threads: the full-size decode is the cost
        time_base = Fraction(stream.time_base)
        origin = stream.start_time if stream.start_time is not None else 0
        encoder = output.add_stream(codec, rate=stream.average_rate or 24)
        encoder.width, encoder.height = width, height
        pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        encoder.pix_fmt = pix_fmt
        # The source's time base keeps every pts exact (the MOV muxer's timescale follows it).
        encoder.time_base = time_base
        encoder.codec_context.time_base = time_base
        if codec == "mjpeg":
            context = encoder.codec_context
            context.qmin = context.qmax = PROXY_QSCALE
            context.flags |= av.codec.context.Flags.qscale
            context.global_quality = PROXY_QSCALE * 118  # FF_QP2LAMBDA: fixed quality
        else:  # H.264, every frame an IDR frame
            encoder.options = {"g": "1", "bf": "0", "crf": "23", "preset": "veryfast"}
        last_pts: int | None = None
        for frame in container.decode(stream):
            if cancel is not None:
                cancel.raise_if_cancelled()
            pts = frame.pts if frame.pts is not None else frame.dts
            if pts is None or (last_pts is not None and pts <= last_pts):
                continue  # no time or a duplicate: VideoFile would never show it either
            last_pts = pts
            if rotation:
                rgb = frame.to_ndarray(format="rgb24", width=scaled_w, height=scaled_h, interpolation="AREA")
                rgb = np.ascontiguousarray(np.rot90(rgb, k=-(rotation // 90)))
                small = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix_fmt)
            else:
                small = frame.reformat(width=width, height=height, format=pix_fmt, interpolation="AREA")
            small.pts = pts - origin
            small.time_base = time_base
            for packet in encoder.encode(small):
                output.mux(packet)
            if duration > 0:
                progress(min(float((pts - origin) * time_base) / duration, 0.999), "building scrubbing proxy")
        if last_pts is None:
            raise MediaError("no decodable video frame", source)
        for packet in encoder.encode():
            output.mux(packet)
