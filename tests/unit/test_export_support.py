"""Shared helpers of the export tests (no tests here): projects with synthesised renders."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf

from foleystudio.core.project import Clip, Project, Track


def write_render(folder: Path, name: str, audio: np.ndarray, sample_rate: int) -> str:
    """A float32 WAV render, as core.project_bundle stores them; returns its absolute path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    sf.write(str(path), np.asarray(audio, np.float32), sample_rate, subtype="FLOAT")
    return str(path.absolute())


def click(sample_rate: int, seconds: float, at: float, amplitude: float = 0.5) -> np.ndarray:
    """Silence with one sample of ``amplitude`` at ``at`` seconds (``at * sample_rate`` whole)."""
    audio = np.zeros(round(seconds * sample_rate), np.float32)
    audio[round(at * sample_rate)] = amplitude
    return audio


def sine(sample_rate: int, seconds: float, freq: float, amplitude: float = 0.25) -> np.ndarray:
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def make_project(
    name: str = "Scene 12",
    duration: float = 3.0,
    fps: Fraction = Fraction(24),
    start_timecode: str = "01:00:00:00",
    video: str | None = None,
) -> Project:
    return Project(name=name, video=video, fps=fps, duration=duration, start_timecode=start_timecode)


def add_clip(
    project: Project,
    track_name: str,
    render: str,
    position: float,
    duration: float,
    offset: float = 0.0,
    gain_db: float = 0.0,
    label: str = "",
    **track_settings: object,
) -> Clip:
    """Add a clip on the track named ``track_name`` (created with ``track_settings`` if new)."""
    track = project.track_named(track_name)
    if track is None:
        track = Track(name=track_name, **track_settings)  # type: ignore[arg-type]
        project.tracks.append(track)
    clip = Clip(
        render=render, position=position, duration=duration, offset=offset, gain_db=gain_db, label=label
    )
    track.clips.append(clip)
    return clip


def files_under(folder: Path) -> list[str]:
    """Every file and folder under ``folder`` (relative, sorted), hidden ones included."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
