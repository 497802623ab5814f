"""The user's sound files: which files in a folder are sounds, and reading one for the library.

A sound is any file with a suffix of :data:`SOUND_SUFFIXES` (WAV, AIFF, FLAC, OGG, MP3, CAF,
W64) that soundfile (libsndfile) or, failing that, PyAV (FFmpeg) decodes.
Reading gives the mono wave at the rate the caller asks for (the audio encoder's 16 kHz)
plus the file's own properties and any BWF/iXML description (``core/wav_metadata.py``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from foleystudio.core.audio import AUDIO_SUFFIXES, load_audio
from foleystudio.core.wav_metadata import read_wav_metadata
from foleystudio.errors import AudioFileError, MediaError

#: Suffixes (lower case) the library indexes: the app's audio files, so that every indexed
#: recording can also become an audio prompt or a timeline clip (those read with soundfile).
SOUND_SUFFIXES = AUDIO_SUFFIXES


@dataclass(frozen=True)
class FileState:
    """A file as the folder scan saw it: absolute ``path``, ``size`` in bytes, ``mtime_ns``."""

    path: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class SoundInfo:
    """A sound file's own properties: ``duration`` s, ``sample_rate`` Hz, ``channels``,
    ``format`` (container name), and ``metadata`` (:func:`read_wav_metadata`'s dict)."""

    duration: float
    sample_rate: int
    channels: int
    format: str
    metadata: dict[str, Any] = field(default_factory=dict)


def scan_sound_files(folder: str | os.PathLike[str]) -> list[FileState]:
    """Every sound file under ``folder`` (recursive, hidden files and folders skipped), sorted
    by path. Raises :class:`MediaError` when ``folder`` is not a readable folder."""
    root = Path(os.path.abspath(folder))  # abspath also folds "..", so one file has one key
    if not root.is_dir():
        raise MediaError("not a folder", root)
    found: list[FileState] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=None):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.startswith(".") or Path(name).suffix.lower() not in SOUND_SUFFIXES:
                continue
            path = Path(dirpath) / name
            try:
                st = path.stat()
            except OSError:
                continue  # vanished between listing and stat: not there to index
            found.append(FileState(str(path), st.st_size, st.st_mtime_ns))
    return sorted(found, key=lambda f: f.path)


def read_sound(path: str | os.PathLike[str], sample_rate: int) -> tuple[np.ndarray, SoundInfo]:
    """``(mono float32 wave at sample_rate Hz, SoundInfo)`` of a sound file.

    soundfile reads files at ``sample_rate`` and the properties of every file it opens; PyAV
    decodes the others and resamples (:func:`_decode_resampled`). Raises :class:`AudioFileError` (or
    :class:`MediaError`) naming the file for unreadable, empty or silent files.
    """
    path = Path(path)
    try:
        info = sf.info(str(path))
    except (sf.SoundFileError, RuntimeError, OSError, ValueError):
        info = None
    if info is not None and info.frames > 0:
        if info.samplerate == sample_rate:
            wave, _ = load_audio(path, mono=True)
        else:
            wave = _decode_resampled(path, sample_rate)
        sound = SoundInfo(
            duration=info.frames / info.samplerate,
            sample_rate=int(info.samplerate),
            channels=int(info.channels),
            format=str(info.format).lower(),
            metadata=read_wav_metadata(path) if info.format in ("WAV", "WAVEX", "RF64") else {},
        )
    else:
        wave, sound = _read_with_pyav(path, sample_rate)
    if len(wave) == 0:
        raise AudioFileError("audio file has no samples", path)
    if not np.any(wave):
        raise AudioFileError("audio file is silent", path)
    return wave, sound


def _decode_resampled(path: Path, sample_rate: int) -> np.ndarray:
    """The mono wave at ``sample_rate`` decoded and resampled by FFmpeg (``core.media.read_audio``).

    Why not ``core.audio.resample``: its 90 dB polyphase filter costs ~17 ms per 4 s of 48 kHz
    audio on a 2-core CPU, libswresample ~4 ms, and indexing a library of short files is
    bound by that step; the embeddings only read a mel spectrogram of the result.
    """
    from foleystudio.core.media import read_audio

    wave = read_audio(path, sample_rate, mono=True)
    if not np.isfinite(wave).all():
        raise AudioFileError("audio file contains NaN or infinite samples", path)
    return wave


def _read_with_pyav(path: Path, sample_rate: int) -> tuple[np.ndarray, SoundInfo]:
    from foleystudio.core.media import probe

    if not path.is_file():
        raise AudioFileError("audio file not found", path)
    media = probe(path)  # MediaError naming the file when FFmpeg cannot open it either
    if not media.has_audio:
        raise AudioFileError("no audio stream in the file", path)
    wave = _decode_resampled(path, sample_rate)
    sound = SoundInfo(
        duration=len(wave) / sample_rate,
        sample_rate=int(media.sample_rate or sample_rate),
        channels=int(media.channels or 1),
        format=str(media.audio_codec or media.format_name),
    )
    return wave, sound
