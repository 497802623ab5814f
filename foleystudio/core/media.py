"""Reading video and audio with PyAV: probe, frame-accurate seeking, streaming, remux.

Time axis. Every time in this module is in seconds on the *media timeline*: 0 is the
presentation time of the first video frame (the video stream's start time), or of the first
audio sample for an audio-only file. ``MediaInfo.start_time`` gives that origin in the file's
own clock, so ``frame_at(0)`` and sample 0 of ``read_audio`` line up even when the file's
streams start at non-zero times (MPEG-TS, camera files).

Frame placement. The frame displayed at time ``t`` is the last frame whose presentation time
``pts * time_base`` is ``<= t`` (within half a time-base tick). Frames are never counted, so
variable-frame-rate files are placed correctly.

Rotation. ``MediaInfo.rotation`` is the clockwise rotation, in degrees (0/90/180/270), that
turns the coded pixels into the picture to display: the convention of the legacy ``rotate``
tag and of what phones record (portrait iPhone video is 90). It is read from the stream's
display matrix (FFmpeg reports the counter-clockwise angle; we negate it). Returned frames
are already rotated, and ``width``/``height`` are the displayed size. Non-square pixels
(``pixel_aspect`` != 1) are also resampled to square pixels on output.

Errors. Anything wrong with a file becomes a :class:`~foleystudio.errors.MediaError` naming
the file and the problem in one line.
"""

from __future__ import annotations

import math
import os
import re
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from foleystudio.core.videowriter import audio_layout_name, encode_audio
from foleystudio.errors import MediaError, UsageError

#: Video packets examined to tell constant from variable frame rate (decode order), and the
#: most bytes read for it (intra-only 4K ProRes runs at ~4 MB a frame).
_VFR_SCAN_PACKETS = 240
_VFR_SCAN_BYTES = 32 * 2**20
#: Packets left out at the end of that scan: with B-frames the last few presentation times
#: of a decode-order prefix are not contiguous yet.
_VFR_SCAN_REORDER_SLACK = 16
#: Without a seek index, decode forward instead of seeking when the target is this close (s).
_FORWARD_DECODE_WINDOW = 2.0
#: How much of the end of a file is read to find truncation (s, and at most bytes), and the
#: shortfall tolerated.
_TAIL_CHECK_SECONDS = 1.5
_TAIL_CHECK_BYTES = 64 * 2**20
_TRUNCATION_TOLERANCE = 0.1
#: Containers that carry PCM audio in a form editors read (MP4's ``ipcm`` is rarely supported).
PCM_CONTAINERS = (".mov", ".mkv")
#: Containers a remuxed video with AAC audio may be written to.
AAC_CONTAINERS = (".mp4", ".m4v", ".mov", ".mkv")
#: Suffixes (lower case) of the files taken as video: open dialogs, drops, dataset folders.
VIDEO_SUFFIXES = frozenset(
    {".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm", ".mxf", ".mts", ".m2ts", ".ts", ".mpg"}
)
#: Sizes/formats whose last converted frame and scaler a VideoFile keeps (iter_grids feeds several).
_CONVERTED_KEPT = 4
_TIMECODE = re.compile(r"^\d{2}:\d{2}:\d{2}[:;.]\d{2}$")
DEFAULT_TIMECODE = "00:00:00:00"


@dataclass(frozen=True)
class StreamSummary:
    """One stream of a file: its index, kind ("video", "audio", "data"...), codec and details."""

    index: int
    kind: str
    codec: str
    details: str


@dataclass(frozen=True)
class MediaInfo:
    """What :func:`probe` learns about a media file. Times in seconds, sizes in pixels.

    ``fps`` is exact (24000/1001 for 23.976); for variable-frame-rate files it is the mean
    rate. ``frame_count`` comes from the container; where the container does not store it
    (Matroska) it is estimated as ``round(duration * fps)``. ``width``/``height`` are the
    displayed size (after rotation and pixel aspect), ``coded_width``/``coded_height`` the
    stored one. Audio-only files have ``fps`` None and zero sizes.
    """

    path: Path
    format_name: str
    duration: float
    has_video: bool
    has_audio: bool
    fps: Fraction | None = None
    frame_count: int = 0
    width: int = 0
    height: int = 0
    coded_width: int = 0
    coded_height: int = 0
    pixel_aspect: Fraction = Fraction(1)
    rotation: int = 0
    pix_fmt: str | None = None
    codec: str | None = None
    is_vfr: bool = False
    sample_rate: int | None = None
    channels: int | None = None
    audio_codec: str | None = None
    start_time: float = 0.0
    start_timecode: str = DEFAULT_TIMECODE
    streams: tuple[StreamSummary, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ``duration``/``start_time`` in seconds, ``fps`` as a float
        with the exact rational in ``fps_exact`` ("24000/1001")."""
        data = asdict(self)
        data["path"] = str(self.path)
        data["fps"] = None if self.fps is None else float(self.fps)
        data["fps_exact"] = None if self.fps is None else f"{self.fps.numerator}/{self.fps.denominator}"
        data["pixel_aspect"] = f"{self.pixel_aspect.numerator}/{self.pixel_aspect.denominator}"
        data["streams"] = [asdict(s) for s in self.streams]
        return data


# --------------------------------------------------------------------------------------------
# Opening and probing


def _open_input(path: str | os.PathLike[str]) -> av.container.InputContainer:
    """Open ``path`` for reading, turning every failure into a one-line MediaError."""
    path = Path(path)
    if not path.exists():
        raise MediaError("file not found", path)
    if path.is_dir():
        raise MediaError("is a folder, not a media file", path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise MediaError(f"cannot read the file: {exc.strerror}", path) from exc
    if size == 0:
        raise MediaError("file is empty (0 bytes)", path)
    try:
        return av.open(str(path), "r")
    except (av.error.InvalidDataError, av.error.EOFError) as exc:
        raise MediaError(_unreadable_reason(path), path) from exc
    except av.FFmpegError as exc:
        raise MediaError(f"cannot open as media: {exc.strerror or exc}", path) from exc
    except OSError as exc:
        raise MediaError(f"cannot read the file: {exc.strerror or exc}", path) from exc


def _unreadable_reason(path: Path) -> str:
    """Why FFmpeg found no media in a file: a damaged MP4/MOV gets a more precise hint."""
    try:
        with path.open("rb") as handle:
            head = handle.read(12)
    except OSError:
        head = b""
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free"):
        return "MP4/MOV file cannot be read: truncated (no 'moov' index) or corrupt"
    return "not a readable video or audio file (unknown format, truncated or corrupt)"


def _seconds(ticks: int | None, time_base: Fraction | None) -> float | None:
    if ticks is None or time_base is None:
        return None
    return float(ticks * time_base)


def _nice_rate(rate: Fraction) -> Fraction | None:
    """The integer or NTSC (N*1000/1001) rate within 0.03 % of ``rate``, if any.

    0.03 % absorbs millisecond timestamp rounding over a few seconds while keeping 24 and
    23.976 (0.1 % apart) distinct.
    """
    tolerance = rate * Fraction(3, 10000)
    whole = round(rate)
    if whole and abs(rate - whole) <= tolerance:
        return Fraction(whole)
    ntsc = Fraction(round(rate * Fraction(1001, 1000)) * 1000, 1001)
    if ntsc and abs(rate - ntsc) <= tolerance:
        return ntsc
    return None


def _scan_pts(container: av.container.InputContainer, stream: av.VideoStream) -> list[int]:
    """Sorted presentation times (ticks) of the first video packets, read without decoding."""
    found: list[int] = []
    read = 0
    for packet in container.demux(stream):
        if packet.pts is not None:
            found.append(packet.pts)
        read += packet.size
        if len(found) >= _VFR_SCAN_PACKETS or read >= _VFR_SCAN_BYTES:
            found.sort()
            slack = min(_VFR_SCAN_REORDER_SLACK, len(found) // 4)
            return found[: len(found) - slack]
    return sorted(found)


def _is_vfr(sorted_pts: list[int], time_base: Fraction) -> bool:
    """Whether frame durations vary by more than timestamp rounding and jitter.

    Tolerated: 1.5 ticks, 1 % of the median duration, and 1.5 ms (Matroska and many
    cameras store milliseconds, so a 24 fps file alternates 41 and 42 ms).
    """
    deltas = np.diff(np.asarray(sorted_pts, dtype=np.int64))
    deltas = deltas[deltas > 0]
    if len(deltas) < 2:
        return False
    spread = int(deltas.max() - deltas.min())
    return spread > max(1.5, 0.01 * float(np.median(deltas)), 0.0015 / float(time_base))


def _frame_rate(stream: av.VideoStream, vfr: bool, sorted_pts: list[int]) -> Fraction | None:
    """Exact frame rate of a constant-rate stream; the mean rate of a variable one."""
    measured: list[Fraction] = []
    if len(sorted_pts) >= 2 and stream.time_base:
        span = (sorted_pts[-1] - sorted_pts[0]) * Fraction(stream.time_base)
        if span > 0:
            measured.append((len(sorted_pts) - 1) / span)
    # guessed_rate (r_frame_rate) may be a field rate for interlaced material, so the rate
    # measured from the packets comes first.
    measured += [Fraction(r) for r in (stream.average_rate, stream.guessed_rate) if r]
    if not measured:
        return None
    if vfr:
        return Fraction(stream.average_rate) if stream.average_rate else measured[0].limit_denominator(1001)
    for rate in measured:
        nice = _nice_rate(rate)
        if nice is not None:
            return nice
    return measured[0].limit_denominator(1001)


def _find_timecode(container: av.container.InputContainer, video: av.VideoStream | None) -> str:
    """The start timecode: video stream tag, then a ``tmcd``/data stream, then the file tag."""
    sources = [video.metadata] if video is not None else []
    sources += [s.metadata for s in container.streams if s.type == "data"]
    sources.append(container.metadata)
    for metadata in sources:
        # Matroska tags are upper case (TIMECODE), MP4/MOV/MXF lower case.
        values = [v for k, v in metadata.items() if k.lower() == "timecode"]
        for value in values:
            if _TIMECODE.match(value.strip()):
                return value.strip()
    return DEFAULT_TIMECODE


def _rotation_cw(frame: av.VideoFrame) -> int:
    """Clockwise display rotation of a decoded frame, snapped to 0/90/180/270."""
    try:
        counter_clockwise = frame.rotation
    except (AttributeError, ValueError):
        return 0
    return int(round(-counter_clockwise / 90.0)) * 90 % 360


def _stream_summary(stream: av.stream.Stream) -> StreamSummary:
    context = stream.codec_context
    if context is not None:
        codec = context.name
    else:  # data streams have no codec; the usual one in a video file is a timecode track
        has_timecode = any(key.lower() == "timecode" for key in stream.metadata)
        codec = "tmcd" if has_timecode else "unknown"
    if stream.type == "video":
        ctx = stream.codec_context
        rate = stream.average_rate
        details = f"{ctx.width}x{ctx.height} {ctx.pix_fmt or '?'}"
        if rate:
            details += f" {float(rate):.3f} fps"
    elif stream.type == "audio":
        ctx = stream.codec_context
        details = f"{ctx.sample_rate} Hz {ctx.channels} ch {ctx.format.name if ctx.format else '?'}"
    else:
        timecode = stream.metadata.get("timecode") or stream.metadata.get("TIMECODE")
        details = f"timecode {timecode}" if timecode else stream.metadata.get("handler_name", "")
    return StreamSummary(stream.index, stream.type, codec, details)


def _video_origin(stream: av.VideoStream) -> int:
    """Presentation time (ticks) of the first frame: 0 on the media timeline."""
    return stream.start_time if stream.start_time is not None else 0


def _timeline_origin_seconds(container: av.container.InputContainer) -> float:
    """Where the media timeline starts, in the file's clock (seconds)."""
    for streams in (container.streams.video, container.streams.audio):
        if streams:
            start = _seconds(streams[0].start_time, streams[0].time_base)
            if start is not None:
                return start
    return (container.start_time or 0) / av.time_base


def _check_not_truncated(container: av.container.InputContainer, path: Path) -> None:
    """Raise when the packets stop well before the duration the header promises.

    A cut-off MP4 usually fails to open (its index is at the end), but Matroska, MPEG-TS and
    fast-start MP4 open fine and simply run out of data. Reading the last seconds of packets
    finds that cheaply. All streams count (truncation cuts them all, and the header's
    duration covers subtitles too); a shortfall under 0.1 s goes unnoticed.
    """
    if not container.duration:
        return
    start = (container.start_time or 0) / av.time_base
    end = start + container.duration / av.time_base
    try:
        container.seek(max(0, int((end - _TAIL_CHECK_SECONDS) * av.time_base)), backward=True)
    except av.FFmpegError:
        return  # unseekable input: nothing cheap to check
    reached = -math.inf
    read = 0
    try:
        for packet in container.demux():
            read += packet.size
            if read > _TAIL_CHECK_BYTES:
                return  # a very high bitrate: too costly to check at every open
            if packet.pts is None or packet.time_base is None:
                continue
            reached = max(reached, float((packet.pts + (packet.duration or 0)) * packet.time_base))
    except av.FFmpegError:
        pass  # reading ran into the cut: judged below by how far it got
    if reached < end - _TRUNCATION_TOLERANCE:
        got = f"{reached:.2f} s" if reached > -math.inf else "no data near the end"
        raise MediaError(f"file is truncated: media stops at {got} of {end:.2f} s", path)


def _decode_first_frame(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    path: Path,
    decode: Callable[[], Iterator[av.VideoFrame]] | None = None,
) -> tuple[av.VideoFrame, Iterator[av.VideoFrame]]:
    """Seek back to the start and decode the first frame; returns it and the live decoder.

    ``decode`` makes the frame iterator (default: ``container.decode(stream)``).
    """
    try:
        container.seek(_video_origin(stream), stream=stream, backward=True, any_frame=False)
    except av.FFmpegError as exc:
        # Frame-accurate access needs seeking; an unseekable file is of no use to an editor.
        raise MediaError(f"cannot seek in the video: {exc.strerror or exc}", path) from exc
    frames = decode() if decode is not None else container.decode(stream)
    try:
        first = next(frames, None)
    except av.FFmpegError as exc:
        raise MediaError(f"video stream cannot be decoded: {exc.strerror or exc}", path) from exc
    if first is None:
        raise MediaError("video stream has no decodable frame (truncated or corrupt)", path)
    return first, frames


def _describe(
    container: av.container.InputContainer,
    path: Path,
    decode: Callable[[], Iterator[av.VideoFrame]] | None = None,
) -> tuple[MediaInfo, av.VideoFrame | None, Iterator[av.VideoFrame] | None]:
    """Build the MediaInfo; with video, also the first decoded frame and the decoder
    (made by ``decode``, see :func:`_decode_first_frame`)."""
    video = container.streams.video[0] if container.streams.video else None
    audio = container.streams.audio[0] if container.streams.audio else None
    if video is None and audio is None:
        raise MediaError("no video or audio stream in the file", path)
    container_duration = container.duration / av.time_base if container.duration else None
    fields: dict[str, Any] = {
        "path": path,
        "format_name": container.format.name,
        "has_video": video is not None,
        "has_audio": audio is not None,
        "start_time": _timeline_origin_seconds(container),
        "start_timecode": _find_timecode(container, video),
        "streams": tuple(_stream_summary(s) for s in container.streams),
    }
    if audio is not None:
        ctx = audio.codec_context
        fields.update(sample_rate=ctx.sample_rate, channels=ctx.channels, audio_codec=ctx.name)
    first = decoder = None
    if video is not None:
        video.thread_type = "AUTO"
        try:
            sorted_pts = _scan_pts(container, video)
        except av.FFmpegError as exc:
            raise MediaError(f"cannot read video packets: {exc.strerror or exc}", path) from exc
        vfr = _is_vfr(sorted_pts, Fraction(video.time_base))
        fps = _frame_rate(video, vfr, sorted_pts)
        _check_not_truncated(container, path)
        first, decoder = _decode_first_frame(container, video, path, decode)
        rotation = _rotation_cw(first)
        aspect = Fraction(video.sample_aspect_ratio or 1) or Fraction(1)
        shown_w, shown_h = max(1, round(first.width * aspect)), first.height
        if rotation in (90, 270):
            shown_w, shown_h = shown_h, shown_w
        duration = _seconds(video.duration, video.time_base) or container_duration or 0.0
        frame_count = video.frames or (round(duration * fps) if fps else 0)
        fields.update(
            duration=duration,
            fps=fps,
            frame_count=frame_count,
            width=shown_w,
            height=shown_h,
            coded_width=first.width,
            coded_height=first.height,
            pixel_aspect=aspect,
            rotation=rotation,
            pix_fmt=video.codec_context.pix_fmt,
            codec=video.codec_context.name,
            is_vfr=vfr,
        )
    else:
        fields["duration"] = _seconds(audio.duration, audio.time_base) or container_duration or 0.0
    return MediaInfo(**fields), first, decoder


def probe(path: str | os.PathLike[str]) -> MediaInfo:
    """Describe a video or audio file (reads the header, a few packets and the first frame)."""
    path = Path(path)
    with _open_input(path) as container:
        try:
            info, _, _ = _describe(container, path)
        except av.FFmpegError as exc:
            raise MediaError(f"cannot read the file: {exc.strerror or exc}", path) from exc
    return info


# --------------------------------------------------------------------------------------------
# Video frames


def _output_size(info: MediaInfo, size: int | tuple[int, int] | None) -> tuple[int, int]:
    """Displayed (width, height) of returned frames: native, longest side <= size, or exact."""
    width, height = info.width, info.height
    if size is None:
        return width, height
    if isinstance(size, int):
        if size <= 0:
            raise UsageError(f"frame size must be positive, got {size}")
        scale = min(1.0, size / max(width, height))
        return max(1, round(width * scale)), max(1, round(height * scale))
    out_w, out_h = (int(v) for v in size)
    if out_w <= 0 or out_h <= 0:
        raise UsageError(f"frame size must be positive, got {size}")
    return out_w, out_h


@dataclass(frozen=True)
class FrameGrid:
    """Frames wanted from a video at a regular rate: at ``start + k / fps`` s while ``< end``
    (None: the duration), scaled to ``size`` (None: displayed size; an int: longest side <=
    size; (w, h): exact), RGB uint8 [H, W, 3] or, with ``grey``, luma uint8 [H, W]."""

    fps: float
    size: int | tuple[int, int] | None = None
    start: float = 0.0
    end: float | None = None
    grey: bool = False


class VideoFile:
    """An open video file: frames by time, or streamed at a target rate.

    Opens the file once and keeps the decoder between calls, so scrubbing forward decodes
    on instead of seeking. Use as a context manager (or call :meth:`close`). Not thread
    safe: one decoding thread per instance (FFmpeg's own frame threads work underneath).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._container = _open_input(self.path)
        try:
            if not self._container.streams.video:
                raise MediaError("no video stream (an audio-only file?)", self.path)
            self._stream = self._container.streams.video[0]
            # Packets with an earlier pts are decoded with non-reference frames skipped.
            self._skip_before_pts: int | None = None
            self._skipping = False
            self._skipped_packets = 0
            info, first, decoder = _describe(self._container, self.path, self._decode_packets)
        except av.FFmpegError as exc:
            self._container.close()
            raise MediaError(f"cannot read the video: {exc.strerror or exc}", self.path) from exc
        except BaseException:
            self._container.close()
            raise
        self.info: MediaInfo = info
        self._time_base = Fraction(self._stream.time_base)
        self._origin = _video_origin(self._stream)
        # Half a tick absorbs the rounding of times to ticks when callers pass ``i / fps``.
        self._tolerance = float(self._time_base) / 2 + 1e-6
        self._frame_step = 1.0 / float(info.fps) if info.fps else 1.0 / 30
        # Skipping is only worth it, and only rarely needs a redo, when frames are regular.
        self._may_skip = not info.is_vfr and info.fps is not None
        self._decoder: Iterator[av.VideoFrame] | None = decoder
        self._shown: av.VideoFrame | None = first  # last decoded frame at or before the target
        self._shown_time = self._frame_time(first, None)
        self._ahead: av.VideoFrame | None = None  # decoded, but later than the last target
        self._keyframe_times: list[float] | None = None
        # The last conversion per (size, format), for a few: (pts, image). Frames repeat at
        # rates above the source's, and one decoding pass may feed several grids.
        self._converted: dict[tuple[tuple[int, int], str], tuple[int, np.ndarray]] = {}
        self._reformatters: dict[tuple[tuple[int, int], str], VideoReformatter] = {}

    # -- context management

    def __enter__(self) -> VideoFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the file and the decoder."""
        self._decoder = None
        self._shown = self._ahead = None
        self._container.close()

    # -- public reading

    def frame_at(self, t: float, size: int | tuple[int, int] | None = None) -> np.ndarray:
        """RGB uint8 (H, W, 3) of the frame displayed at ``t`` seconds, rotation applied.

        ``t`` is clamped to the file (before the first frame: the first; after the last: the
        last). ``size``: None (displayed size), an int (longest side <= size) or (w, h).
        """
        out_size = _output_size(self.info, size)
        frame = self._frame_displayed_at(max(0.0, float(t)))
        return self._to_rgb(frame, out_size)

    def iter_frames(
        self,
        fps: float,
        size: int | tuple[int, int] | None = None,
        start: float = 0.0,
        end: float | None = None,
        grey: bool = False,
    ) -> Iterator[tuple[float, np.ndarray]]:
        """Yield ``(t, rgb)`` for ``t = start + k / fps`` while ``t < end`` (default: duration);
        with ``grey``, uint8 [H, W] luma instead of RGB (converted and scaled by FFmpeg in one
        step, several times cheaper than RGB then grey).

        Each image is the frame displayed at ``t`` (so a VFR file or a rate above the
        source's repeats frames as a player would). Decoding streams forward: memory stays
        bounded by a few frames whatever the length.
        """
        for _, t, image in self.iter_grids([FrameGrid(fps, size, start, end, grey)]):
            yield t, image

    def grid_times(self, grid: FrameGrid) -> list[float]:
        """The times (s) :meth:`iter_grids` visits for ``grid``: ``max(0, start) + k / fps``
        while ``< end`` (clamped to the duration)."""
        if not grid.fps or grid.fps <= 0:
            raise UsageError(f"target frame rate must be positive, got {grid.fps}")
        end = self.info.duration if grid.end is None else min(float(grid.end), self.info.duration)
        start = max(0.0, float(grid.start))
        times = []
        index = 0
        while True:
            t = start + index / grid.fps
            if t >= end - 1e-9:
                return times
            times.append(t)
            index += 1

    def iter_grids(self, grids: Sequence[FrameGrid]) -> Iterator[tuple[int, float, np.ndarray]]:
        """Several frame grids from **one** decoding pass: yield ``(grid index, t, image)`` for
        every time of every grid (:meth:`grid_times`), in time order (ties in grid order).

        Each image is exactly what :meth:`iter_frames` gives for that grid: the frame displayed
        at ``t``, converted and scaled by FFmpeg from the decoded picture to the grid's size and
        format. Each video frame is decoded once however many grids show it, so e.g. optical
        flow at the video's own rate and 24 fps RGB thumbnails cost one decode, not two.
        """
        sizes = [_output_size(self.info, grid.size) for grid in grids]
        formats = ["gray" if grid.grey else "rgb24" for grid in grids]
        visits = sorted((t, g) for g, grid in enumerate(grids) for t in self.grid_times(grid))
        for t, g in visits:
            frame = self._frame_displayed_at(t)
            yield g, t, self._to_rgb(frame, sizes[g], formats[g])

    # -- decoding machinery

    def _frame_time(self, frame: av.VideoFrame, previous: float | None) -> float:
        pts = frame.pts if frame.pts is not None else frame.dts
        if pts is None:  # rare raw streams: assume the nominal frame step
            return 0.0 if previous is None else previous + self._frame_step
        return float((pts - self._origin) * self._time_base)

    def _keyframe_before(self, t: float) -> float | None:
        """Time of the last indexed keyframe at or before ``t``; None without an index."""
        if self._keyframe_times is None:
            entries = self._stream.index_entries
            times = [
                float((entry.timestamp - self._origin) * self._time_base)
                for entry in entries
                if entry.is_keyframe
            ]
            self._keyframe_times = sorted(times)
        if not self._keyframe_times:
            return None
        position = bisect_right(self._keyframe_times, t + self._tolerance)
        return self._keyframe_times[position - 1] if position else None

    def _can_decode_forward(self, t: float) -> bool:
        if self._shown is None or self._shown_time > t + self._tolerance:
            return False
        if self._decoder is None:  # at the end of the stream: the last frame stays displayed
            return True
        if t - self._shown_time < 2 * self._frame_step:  # a frame or two on: never worth a seek
            return True
        keyframe = self._keyframe_before(t)
        if keyframe is None:
            return t - self._shown_time <= _FORWARD_DECODE_WINDOW
        # The demuxer seeks with this same index, so a seek cannot land later than where the
        # decoder already is: decoding on is never slower.
        return keyframe <= self._shown_time + self._tolerance

    def _seek(self, t: float) -> None:
        target = self._origin + math.floor(Fraction(t) / self._time_base)
        try:
            self._container.seek(target, stream=self._stream, backward=True, any_frame=False)
        except av.FFmpegError as exc:
            raise MediaError(f"cannot seek to {t:.3f} s: {exc.strerror or exc}", self.path) from exc
        self._decoder = self._decode_packets()
        self._shown = self._ahead = None
        self._shown_time = -math.inf

    def _decode_packets(self) -> Iterator[av.VideoFrame]:
        """Decode the video packets, skipping non-reference frames before the target.

        A non-reference frame (most B-frames) is needed only for itself. Frames well before
        the requested time cannot be the one displayed, so the decoder drops those
        (``skip_frame = NONREF``). With x264's default 3 B-frames that is about half the
        frames of a GOP and a quarter of the decode time (P-frames cost the most). FFmpeg
        reads the setting when each packet is submitted, also under frame threading.
        """
        context = self._stream.codec_context
        for packet in self._container.demux(self._stream):
            limit = self._skip_before_pts
            skip = limit is not None and packet.pts is not None and packet.pts < limit
            if skip != self._skipping:
                context.skip_frame = "NONREF" if skip else "DEFAULT"
                self._skipping = skip
            self._skipped_packets += skip
            yield from packet.decode()

    def _next_frame(self) -> av.VideoFrame | None:
        if self._decoder is None:
            return None
        try:
            frame = next(self._decoder, None)
        except av.FFmpegError as exc:
            raise MediaError(f"video cannot be decoded: {exc.strerror or exc}", self.path) from exc
        if frame is None:
            self._decoder = None
        return frame

    def _decode_up_to(self, t: float) -> None:
        """Decode on until the next frame would be later than ``t``."""
        while True:
            if self._ahead is None:
                self._ahead = self._next_frame()
                if self._ahead is None:
                    return
            previous = self._shown_time if self._shown is not None else None
            ahead_time = self._frame_time(self._ahead, previous)
            if self._shown is not None and ahead_time > t + self._tolerance:
                return
            self._shown, self._shown_time, self._ahead = self._ahead, ahead_time, None

    def _frame_displayed_at(self, t: float) -> av.VideoFrame:
        # The displayed frame starts at most one frame step before t; two steps of margin.
        skip_until = t - 2 * self._frame_step
        self._skip_before_pts = None
        if self._may_skip and skip_until > 0:
            self._skip_before_pts = self._origin + math.floor(Fraction(skip_until) / self._time_base)
        skipped_before = self._skipped_packets
        frame = self._locate(t)
        if self._skipped_packets != skipped_before and self._shown_time < skip_until:
            # A gap in the timestamps: the frame displayed at t may be one that was skipped.
            # Decode again from the keyframe with nothing skipped (exact, rarely needed).
            self._skip_before_pts = None
            self._shown = None  # forces a seek
            frame = self._locate(t)
        return frame

    def _locate(self, t: float) -> av.VideoFrame:
        """Bring the decoder to the frame displayed at ``t`` (seeking only when needed)."""
        if not self._can_decode_forward(t):
            self._seek(t)
            self._decode_up_to(t)
            if self._shown is None or self._shown_time > t + self._tolerance:
                # The seek landed after t (a sparse or missing index): start from the top.
                self._seek(0.0)
                self._decode_up_to(t)
        else:
            self._decode_up_to(t)
        if self._shown is None:
            raise MediaError(f"no decodable video frame at {t:.3f} s (truncated or corrupt)", self.path)
        return self._shown

    def _to_rgb(
        self, frame: av.VideoFrame, display_size: tuple[int, int], pix_format: str = "rgb24"
    ) -> np.ndarray:
        key = (display_size, pix_format)
        cached = self._converted.get(key)
        if cached is not None and frame.pts is not None and cached[0] == frame.pts:
            return cached[1].copy()
        rotation = self.info.rotation
        width, height = display_size
        if rotation in (90, 270):
            width, height = height, width  # scale in coded orientation, rotate afterwards
        # One reformatter per output: it keeps its SwsContext from frame to frame, where
        # ``frame.to_ndarray(width=...)`` builds one per frame (5 ms of 5.4 at 1080p -> 256 px).
        reformatter = self._reformatters.get(key)
        if reformatter is None:
            reformatter = self._reformatters[key] = VideoReformatter()
            if len(self._reformatters) > _CONVERTED_KEPT:
                del self._reformatters[next(iter(self._reformatters))]
        if (width, height) == (frame.width, frame.height):
            rgb = reformatter.reformat(frame, format=pix_format).to_ndarray()
        else:
            rgb = reformatter.reformat(frame, width, height, pix_format, interpolation="AREA").to_ndarray()
        if rotation:
            # np.rot90 turns counter-clockwise for positive k.
            rgb = np.rot90(rgb, k=-(rotation // 90))
        rgb = np.ascontiguousarray(rgb)
        if frame.pts is not None:
            if key not in self._converted and len(self._converted) >= _CONVERTED_KEPT:
                del self._converted[next(iter(self._converted))]  # the oldest size/format
            self._converted[key] = (frame.pts, rgb)
        return rgb.copy()


# --------------------------------------------------------------------------------------------
# Audio


def read_audio(
    path: str | os.PathLike[str],
    sample_rate: int,
    mono: bool = True,
    start: float = 0.0,
    end: float | None = None,
) -> np.ndarray:
    """Decode the first audio stream to float32 at ``sample_rate`` Hz.

    Returns (samples,) when ``mono`` (the mean of the channels) else (samples, channels).
    ``start``/``end`` are seconds on the media timeline (0 = first video frame, see the
    module docstring). Without ``end`` the result stops where the audio stream ends; with
    it the result has exactly ``round((end - start) * sample_rate)`` samples, silence
    where the file has no audio. Works for audio-only and video files.
    """
    path = Path(path)
    if sample_rate <= 0:
        raise UsageError(f"sample rate must be positive, got {sample_rate}")
    if start < 0 or (end is not None and end <= start):
        raise UsageError(f"bad audio range: start={start}, end={end}")
    with _open_input(path) as container:
        if not container.streams.audio:
            raise MediaError("no audio stream in the file", path)
        stream = container.streams.audio[0]
        origin = _timeline_origin_seconds(container)
        stream_start = _seconds(stream.start_time, stream.time_base)
        stream_length = _seconds(stream.duration, stream.time_base)
        if stream_start is not None and stream_length:
            stream_end = stream_start - origin + stream_length
        elif container.duration:
            stream_end = ((container.start_time or 0) + container.duration) / av.time_base - origin
        else:
            stream_end = None
        try:
            first_time, planar = _decode_audio(container, stream, sample_rate, origin, start, end)
        except av.FFmpegError as exc:
            raise MediaError(f"audio cannot be decoded: {exc.strerror or exc}", path) from exc
    if end is None:
        # Stop at the stream's stated end: this drops the encoder padding of AAC's last frame.
        available_end = first_time + planar.shape[1] / sample_rate
        end = available_end if stream_end is None else min(stream_end, available_end)
        end = max(end, start)
    count = round((end - start) * sample_rate)
    out = np.zeros((planar.shape[0], count), dtype=np.float32)
    offset = round((first_time - start) * sample_rate)  # where buffer sample 0 lands in out
    src_from, dst_from = max(0, -offset), max(0, offset)
    length = min(planar.shape[1] - src_from, count - dst_from)
    if length > 0:
        out[:, dst_from : dst_from + length] = planar[:, src_from : src_from + length]
    if mono:
        return out.mean(axis=0, dtype=np.float32)
    return np.ascontiguousarray(out.T)


def _decode_audio(
    container: av.container.InputContainer,
    stream: av.AudioStream,
    sample_rate: int,
    origin: float,
    start: float,
    end: float | None,
) -> tuple[float, np.ndarray]:
    """Decode and resample from a little before ``start``; returns (time of sample 0, (ch, n))."""
    if start > 1.0:
        # Seek a second early: the decoder needs a few packets of pre-roll for AAC/Opus.
        target = math.floor(Fraction(origin + start - 1.0) / stream.time_base)
        container.seek(max(target, 0), stream=stream, backward=True, any_frame=False)
    resampler: av.AudioResampler | None = None
    chunks: list[np.ndarray] = []
    produced = 0
    first_time: float | None = None
    for frame in container.decode(stream):
        if first_time is None:
            frame_start = _seconds(frame.pts, frame.time_base)
            first_time = (frame_start - origin) if frame_start is not None else 0.0
            resampler = av.AudioResampler(format="fltp", layout=frame.layout.name, rate=sample_rate)
        for converted in resampler.resample(frame):
            chunks.append(converted.to_ndarray())
            produced += converted.samples
        if end is not None and first_time + produced / sample_rate > end + 0.1:
            break
    if resampler is not None:
        for converted in resampler.resample(None):
            chunks.append(converted.to_ndarray())
    if first_time is None:
        channels = stream.codec_context.channels or 1
        return start, np.zeros((channels, 0), dtype=np.float32)
    return first_time, np.concatenate(chunks, axis=1).astype(np.float32, copy=False)


# --------------------------------------------------------------------------------------------
# Remux


def remux_with_audio(
    video_path: str | os.PathLike[str],
    audio: np.ndarray,
    sample_rate: int,
    out_path: str | os.PathLike[str],
    audio_codec: str = "aac",
) -> Path:
    """Write ``out_path``: the video stream of ``video_path`` copied packet for packet (no
    re-encode, so bit-identical) plus ``audio`` as the only audio track.

    ``audio`` is float32 (samples,) or (samples, channels) at ``sample_rate`` Hz; its first
    sample is placed at the first video frame. ``audio_codec``: "aac" (into .mp4, .m4v,
    .mov, .mkv) or "pcm_s16le"/"pcm_s24le" (into .mov or .mkv only: MP4's PCM mapping is
    not read by most editors and players). Rotation, start timecode and language are kept;
    the original audio and other streams are dropped. The file is written under a temporary
    name and moved into place, so a failure leaves nothing behind.
    """
    video_path, out_path = Path(video_path), Path(out_path)
    suffix = out_path.suffix.lower()
    if audio_codec == "aac":
        if suffix not in AAC_CONTAINERS:
            raise MediaError(f"AAC audio needs a {'/'.join(sorted(AAC_CONTAINERS))} file", out_path)
    elif audio_codec in ("pcm_s16le", "pcm_s24le"):
        if suffix not in PCM_CONTAINERS:
            raise MediaError("PCM audio needs a .mov or .mkv file (MP4 players do not read PCM)", out_path)
    else:
        raise UsageError(f"unsupported audio codec {audio_codec!r} (aac, pcm_s16le, pcm_s24le)")
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[:, None]
    if audio.ndim != 2 or not 1 <= audio.shape[1] <= 8 or audio.shape[0] == 0:
        raise UsageError(f"audio must be (samples,) or (samples, 1..8 channels), got {audio.shape}")
    if not np.isfinite(audio).all():
        raise UsageError("audio contains NaN or infinite samples")
    if sample_rate <= 0:
        raise UsageError(f"sample rate must be positive, got {sample_rate}")

    tmp = out_path.with_name(f".{out_path.name}.part{out_path.suffix}")
    try:
        with _open_input(video_path) as source:
            if not source.streams.video:
                raise MediaError("no video stream to remux", video_path)
            _copy_video_with_audio(source, tmp, audio, sample_rate, audio_codec)
        os.replace(tmp, out_path)
    except (MediaError, UsageError):
        tmp.unlink(missing_ok=True)
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        raise MediaError(f"cannot write the remuxed video: {exc}", out_path) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out_path


def _copy_video_with_audio(
    source: av.container.InputContainer, tmp: Path, audio: np.ndarray, sample_rate: int, codec: str
) -> None:
    video_in = source.streams.video[0]
    timecode = _find_timecode(source, video_in)
    origin = _seconds(video_in.start_time, video_in.time_base) or 0.0
    with av.open(str(tmp), "w") as target:
        for key in ("creation_time", "title", "comment"):
            if key in source.metadata:
                target.metadata[key] = source.metadata[key]
        # The template copies the codec parameters, extradata and display matrix verbatim.
        video_out = target.add_stream_from_template(video_in)
        if video_in.language:
            video_out.metadata["language"] = video_in.language
        if timecode != DEFAULT_TIMECODE:
            video_out.metadata["timecode"] = timecode  # mov/mp4 write a tmcd track from this
        audio_out = target.add_stream(codec, rate=sample_rate, layout=audio_layout_name(audio.shape[1]))
        audio_packets = encode_audio(audio_out, audio, sample_rate, start_pts=round(origin * sample_rate))
        pending = next(audio_packets, None)
        for packet in source.demux(video_in):
            if packet.size == 0:  # the demuxer's empty flush packet
                continue
            # Interleave: audio up to this video packet's decode time first. (Matroska stores
            # no decode times, so its first packets may carry only a pts.)
            stamp = packet.dts if packet.dts is not None else packet.pts
            video_time = float(stamp * packet.time_base) if stamp is not None else -math.inf
            while pending is not None and float(pending.pts * pending.time_base) <= video_time:
                target.mux(pending)
                pending = next(audio_packets, None)
            packet.stream = video_out
            target.mux(packet)
        while pending is not None:
            target.mux(pending)
            pending = next(audio_packets, None)
