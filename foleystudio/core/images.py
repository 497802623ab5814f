"""Still pictures (PNG, JPEG, BMP, TIFF, WebP…) as uint8 RGB, decoded by PyAV (FFmpeg's image
decoders), so no imaging library is needed beside the video stack."""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np

from foleystudio.errors import MediaError

#: Suffixes (lower case) taken as still pictures.
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """The picture in ``path`` as uint8 RGB ``[H, W, 3]``; :class:`MediaError` naming the file
    when it is missing or not a picture FFmpeg decodes."""
    path = Path(path)
    if not path.is_file():
        raise MediaError("picture file not found", path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError("not a picture (no image stream)", path)
            for frame in container.decode(video=0):
                return frame.to_ndarray(format="rgb24")
    except av.FFmpegError as exc:
        raise MediaError(f"not a readable picture ({exc.strerror or exc})", path) from None
    raise MediaError("the picture file holds no image", path)
