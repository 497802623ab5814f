"""Waveform thumbnails for clips: min/max peaks of each render, computed off the GUI thread.

Peaks are taken at :data:`PEAKS_PER_SECOND` of the render's own time, so a clip of any trim
and zoom draws from the same cached array (renders are immutable, so the cache never goes
stale).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PySide6.QtCore import QObject, Signal

from foleystudio.core.audio import load_audio
from foleystudio.errors import FoleyStudioError

PEAKS_PER_SECOND = 200


def peaks(audio: np.ndarray, sample_rate: int, per_second: int = PEAKS_PER_SECOND) -> np.ndarray:
    """``(bins, 2)`` float32 of (min, max) per bin of ``sample_rate / per_second`` samples."""
    mono = np.asarray(audio, dtype=np.float32).reshape(len(audio), -1).mean(axis=1)
    size = max(1, round(sample_rate / per_second))
    bins = -(-len(mono) // size)
    padded = np.zeros(bins * size, np.float32)
    padded[: len(mono)] = mono
    blocks = padded.reshape(bins, size)
    return np.stack([blocks.min(axis=1), blocks.max(axis=1)], axis=1)


class PeakCache(QObject):
    """Render path -> peaks; ``ready(path)`` fires when a requested one has been computed."""

    ready = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._peaks: dict[str, np.ndarray | None] = {}
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="peaks")

    def get(self, path: str) -> np.ndarray | None:
        """The peaks if known; otherwise starts computing them and returns None."""
        with self._lock:
            if path in self._peaks:
                return self._peaks[path]
            self._peaks[path] = None
        self._executor.submit(self._compute, path)
        return None

    def compute_now(self, path: str) -> np.ndarray | None:
        """Compute on this thread (tests, screenshots); None for an unreadable file."""
        try:
            audio, rate = load_audio(path, mono=True)
        except FoleyStudioError:
            return None
        result = peaks(audio, rate)
        with self._lock:
            self._peaks[path] = result
        return result

    def _compute(self, path: str) -> None:
        if self.compute_now(path) is not None:
            self.ready.emit(path)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
