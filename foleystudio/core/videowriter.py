"""Writing video files with PyAV (H.264 + AAC by default).

Used by FoleyWorld to write its clips and by tests to make media with known content.
Frames are RGB ``uint8`` arrays of shape (H, W, 3); audio is float32 (samples,) or
(samples, channels) in [-1, 1]. The file is written to a temporary name and moved into place,
so a failure leaves no half-written file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from foleystudio.errors import MediaError, UsageError


def write_video(
    path: str | os.PathLike[str],
    frames: Iterable[np.ndarray],
    fps: Fraction | int,
    audio: np.ndarray | None = None,
    sample_rate: int = 48000,
    *,
    codec: str = "libx264",
    crf: int = 20,
    gop: int = 48,
    audio_codec: str = "aac",
    pts_seconds: Sequence[float] | None = None,
    rotation: int | None = None,
    timecode: str | None = None,
    preset: str | None = None,
    bframes: int = 0,
) -> Path:
    """Encode ``frames`` (and optional ``audio``) to ``path``; returns the path.

    ``pts_seconds`` gives each frame's presentation time for variable-frame-rate files
    (default: ``i / fps``). ``rotation`` (0/90/180/270, degrees clockwise, the convention of
    the legacy ``rotate`` tag and of :attr:`foleystudio.core.media.MediaInfo.rotation`) is
    stored as a display matrix; the pixels are written unrotated, as phones do.
    ``timecode`` (``HH:MM:SS:FF``) becomes the start timecode (a ``tmcd`` track in MP4/MOV).
    ``preset`` is the x264 speed preset (None: the encoder's default); ``bframes`` the
    number of consecutive B-frames (0: decode order = display order).
    """
    path = Path(path)
    fps = Fraction(fps)
    if rotation is not None and rotation % 90 != 0:
        raise UsageError(f"rotation must be a multiple of 90 degrees, got {rotation}")
    tmp = path.with_name(f".{path.name}.part{path.suffix}")
    try:
        with av.open(str(tmp), "w") as container:
            if timecode:
                container.metadata["timecode"] = timecode
            vstream = None
            time_base = Fraction(1, 90000) if pts_seconds is not None else 1 / fps
            astream = None
            if audio is not None:
                audio = np.asarray(audio, dtype=np.float32)
                if audio.ndim == 1:
                    audio = audio[:, None]
                astream = container.add_stream(
                    audio_codec, rate=sample_rate, layout=audio_layout_name(audio.shape[1])
                )
            for index, frame in enumerate(frames):
                frame = np.ascontiguousarray(frame, dtype=np.uint8)
                if vstream is None:
                    height, width = frame.shape[:2]
                    vstream = container.add_stream(codec, rate=fps)
                    vstream.width, vstream.height = width - width % 2, height - height % 2
                    vstream.pix_fmt = "yuv420p"
                    vstream.time_base = time_base
                    vstream.codec_context.time_base = time_base
                    options = {"crf": str(crf), "g": str(gop), "bf": str(bframes)}
                    if preset:
                        options["preset"] = preset
                    vstream.options = options
                    if rotation and rotation % 360:
                        # The display matrix holds the counter-clockwise angle.
                        vstream.set_display_rotation(-(rotation % 360))
                vframe = av.VideoFrame.from_ndarray(frame[: vstream.height, : vstream.width], format="rgb24")
                if pts_seconds is not None:
                    vframe.pts = round(pts_seconds[index] / time_base)
                else:
                    vframe.pts = index
                vframe.time_base = time_base
                for packet in vstream.encode(vframe):
                    container.mux(packet)
            if vstream is None and astream is None:
                raise MediaError("nothing to write: no frames and no audio", path)
            if vstream is not None:
                for packet in vstream.encode():
                    container.mux(packet)
            if astream is not None:
                for packet in encode_audio(astream, audio, sample_rate):
                    container.mux(packet)
        os.replace(tmp, path)
    except MediaError:
        tmp.unlink(missing_ok=True)
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        raise MediaError(f"cannot write video: {exc}", path) from exc
    return path


def encode_audio(
    stream: av.AudioStream, audio: np.ndarray, sample_rate: int, start_pts: int = 0
) -> Iterator[av.Packet]:
    """Encode float32 ``audio`` ((samples,) or (samples, channels)) into ``stream``.

    Yields the packets (the caller muxes them, so it can interleave them with video).
    ``start_pts`` is the time of the first sample, in samples. The encoder converts the
    float frames to its own sample format (e.g. ``s16`` for PCM).
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[:, None]
    chunk = 1024
    planar = np.ascontiguousarray(audio.T)  # (channels, samples) for the fltp format
    layout = audio_layout_name(planar.shape[0])
    for start in range(0, planar.shape[1], chunk):
        block = np.ascontiguousarray(planar[:, start : start + chunk])
        frame = av.AudioFrame.from_ndarray(block, format="fltp", layout=layout)
        frame.sample_rate = sample_rate
        frame.pts = start_pts + start
        frame.time_base = Fraction(1, sample_rate)
        yield from stream.encode(frame)
    yield from stream.encode()


def audio_layout_name(channels: int) -> str:
    """FFmpeg's default channel layout name for a channel count ("mono", "stereo", "5.1"...)."""
    return av.AudioLayout({1: "mono", 2: "stereo"}.get(channels, f"{channels}c")).name
