"""GUI test fixtures: a main window without sound output or modal dialogs, media on the fly."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from foleystudio.core.audio import save_audio
from foleystudio.export.options import ExportDestinations, ExportOptions

pytestmark = pytest.mark.gui


class ScriptedPrompts:
    """Answers the main window's questions without dialogs and records what it said."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.infos: list[str] = []
        self.unsaved_answer = "discard"
        self.recover_answer = True
        self.save_as_path: Path | None = None
        self.export_answer: tuple[ExportDestinations, ExportOptions] | None = None
        self.asked: list[str] = []

    def error(self, text: str) -> None:
        self.errors.append(text)

    def info(self, text: str) -> None:
        self.infos.append(text)

    def unsaved_changes(self, name: str) -> str:
        self.asked.append("unsaved")
        return self.unsaved_answer

    def recover(self, bundle: Path) -> bool:
        self.asked.append("recover")
        return self.recover_answer

    def open_video(self) -> Path | None:
        return None

    def open_project(self) -> Path | None:
        return None

    def save_as(self, suggestion: str) -> Path | None:
        self.asked.append("save_as")
        return self.save_as_path

    def import_audio(self) -> Path | None:
        return None

    def export_options(self, *args: Any) -> tuple[ExportDestinations, ExportOptions] | None:
        return self.export_answer


@pytest.fixture
def window(qtbot: Any) -> Iterator[Any]:
    """A themed main window (no audio device, prompts scripted), closed after the test."""
    from foleystudio.gui.app import create_app
    from foleystudio.gui.main_window import MainWindow

    create_app()
    win = MainWindow(audio_output=False)
    win.prompts = ScriptedPrompts()
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    yield win
    win.prompts.unsaved_answer = "discard"
    win.shutdown()


@pytest.fixture
def video(make_video: Callable[..., Path]) -> Path:
    """2 s, 24 fps, 96×64: a white square moving 3 px per frame (see tests/conftest.py)."""
    return make_video("picture.mp4", seconds=2.0)


@pytest.fixture
def make_wav(tmp_path: Path) -> Callable[..., Path]:
    """``make_wav(name, seconds, freq, rate)``: a decaying sine (real, synthesised audio)."""

    def make(name: str = "tone.wav", seconds: float = 0.5, freq: float = 440.0, rate: int = 48000) -> Path:
        t = np.arange(round(seconds * rate)) / rate
        audio = (0.5 * np.sin(2 * np.pi * freq * t) * np.exp(-3 * t)).astype(np.float32)
        return save_audio(tmp_path / name, audio, rate, subtype="FLOAT")

    return make
