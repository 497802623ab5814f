"""What a dropped file is: a project bundle, a video or an audio file (by name, then probe).

Used by every drop target (main window, timeline, sources list) so they agree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData

from foleystudio.core.audio import AUDIO_SUFFIXES
from foleystudio.core.media import VIDEO_SUFFIXES

PROJECT_SUFFIXES = {".foley"}
#: Mime type a drag from the Library panel adds beside the file URL: JSON ``{"path", "start"}``
#: (the timeline places such a drop at the playhead).
LIBRARY_MIME = "application/x-foleystudio-library-sound"


def dropped_paths(mime: QMimeData) -> list[Path]:
    """Local files in a drop (URLs that are not local files are ignored)."""
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


def kind_of(path: Path) -> str | None:
    """``"project"``, ``"video"``, ``"audio"`` or None for a file we do not take."""
    suffix = path.suffix.lower()
    if suffix in PROJECT_SUFFIXES or (path.name == "project.json" and path.parent.suffix in PROJECT_SUFFIXES):
        return "project"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in AUDIO_SUFFIXES:
        return "audio"
    return None


def first_of(mime: QMimeData, *kinds: str) -> tuple[str, Path] | None:
    """The first dropped file of one of ``kinds`` as ``(kind, path)``."""
    for path in dropped_paths(mime):
        kind = kind_of(path)
        if kind in kinds:
            return kind, path
    return None


def library_drop(mime: QMimeData) -> dict[str, Any] | None:
    """The ``{"path", "start"}`` of a drag from the Library panel, or None."""
    if not mime.hasFormat(LIBRARY_MIME):
        return None
    try:
        return json.loads(bytes(mime.data(LIBRARY_MIME).data()).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
