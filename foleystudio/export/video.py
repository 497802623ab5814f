"""The picture with the new mix: the original video stream remuxed, never re-encoded.

:func:`foleystudio.core.media.remux_with_audio` copies the video packets and encodes the
mix as AAC (``.mp4``/``.m4v``/``.mov``/``.mkv``) or PCM (``.mov``/``.mkv``: MP4 players do
not read PCM). The mix is cut to the video's duration, since a file whose sound outlasts
its picture plays a black tail in most players.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from foleystudio.core.media import AAC_CONTAINERS, PCM_CONTAINERS, remux_with_audio
from foleystudio.errors import ExportError, MediaError, UsageError
from foleystudio.export.options import VIDEO_AUDIO_CODECS

#: What each user-facing codec name may go in (PCM depth follows the export bits).
_CONTAINERS = {"aac": AAC_CONTAINERS, "pcm": PCM_CONTAINERS}


def check_video_output(path: str | os.PathLike[str], audio_codec: str) -> None:
    """Raise :class:`UsageError` before any work when ``path``'s container cannot hold the codec."""
    if audio_codec not in VIDEO_AUDIO_CODECS:
        raise UsageError(f"unknown video audio codec {audio_codec!r}; use one of {VIDEO_AUDIO_CODECS}")
    suffix = Path(path).suffix.lower()
    if suffix not in _CONTAINERS[audio_codec]:
        raise UsageError(
            f"{audio_codec.upper()} audio needs a {'/'.join(_CONTAINERS[audio_codec])} file, not {suffix or 'no suffix'}",
            path,
        )


def remux_video(
    video: str | os.PathLike[str],
    mix: np.ndarray,
    sample_rate: int,
    out_path: str | os.PathLike[str],
    *,
    audio_codec: str = "aac",
    bits: int = 24,
    duration: float | None = None,
) -> Path:
    """Write ``out_path``: ``video``'s picture with ``mix`` (``(frames, 2)`` float32) as its sound.

    ``duration`` (seconds) cuts the mix to the picture's length. Raises :class:`ExportError`.
    """
    check_video_output(out_path, audio_codec)
    if duration is not None and duration > 0:
        mix = mix[: max(1, round(duration * sample_rate))]
    codec = "aac" if audio_codec == "aac" else ("pcm_s16le" if bits == 16 else "pcm_s24le")
    try:
        return remux_with_audio(video, mix, sample_rate, out_path, audio_codec=codec)
    except MediaError as exc:
        raise ExportError(f"cannot remux the video: {exc.problem}", exc.path) from exc
