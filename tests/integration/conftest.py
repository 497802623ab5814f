"""Fixtures for engine-level tests: an untrained debug bundle and a test video."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import moving_square_frames


@pytest.fixture(scope="session")
def debug_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from foleystudio.train.model_bundle import random_bundle

    return random_bundle(tmp_path_factory.mktemp("models") / "debug-random")


@pytest.fixture(scope="session")
def long_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """22 s, 24 fps, 96x64, a square moving left to right, with a sine soundtrack."""
    import numpy as np

    from foleystudio.core.videowriter import write_video

    t = np.arange(22 * 48000) / 48000
    sound = (0.2 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    return write_video(
        tmp_path_factory.mktemp("media") / "long.mp4", moving_square_frames(22 * 24), 24, sound, 48000
    )
