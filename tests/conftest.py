"""Shared test set-up: no display, no sound card, no network, media made on the fly."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Qt without a display; PortAudio against ALSA's null device (set before any import of
    # sounddevice, which reads ~/.asoundrc when PortAudio initialises).
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = Path(tempfile.mkdtemp(prefix="foleystudio-home-"))
    (home / ".asoundrc").write_text("pcm.!default { type null }\nctl.!default { type hw card 0 }\n")
    os.environ["HOME"] = str(home)
    os.environ["FOLEYSTUDIO_USER_DIR"] = str(home / "foleystudio")
    # Tests use small tensors: one intra-op thread is faster than two spinning on a shared CPU.
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def moving_square_frames(n: int, width: int = 96, height: int = 64, size: int = 12) -> list[np.ndarray]:
    """Frames of a white square moving left to right; frame i encodes i in its position."""
    frames = []
    for i in range(n):
        frame = np.zeros((height, width, 3), np.uint8)
        x = (i * 3) % (width - size)
        frame[height // 2 - size // 2 : height // 2 + size // 2, x : x + size] = 255
        frames.append(frame)
    return frames


@pytest.fixture
def make_video(tmp_path: Path) -> Callable[..., Path]:
    """``make_video(name, seconds=1.0, fps=24, audio=True, **write_video_kwargs) -> Path``."""
    from foleystudio.core.videowriter import write_video

    def make(
        name: str = "clip.mp4",
        seconds: float = 1.0,
        fps: int = 24,
        audio: bool = True,
        width: int = 96,
        height: int = 64,
        sample_rate: int = 48000,
        **kwargs,
    ) -> Path:
        n = max(1, round(seconds * fps))
        sound = None
        if audio:
            t = np.arange(round(seconds * sample_rate)) / sample_rate
            sound = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        return write_video(
            tmp_path / name, moving_square_frames(n, width, height), fps, sound, sample_rate, **kwargs
        )

    return make
