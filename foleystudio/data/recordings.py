"""Recorded sounds for training and measuring the vocoder, each with its licence.

The vocoder must learn real recordings, not FoleyWorld's synthesis. Freely licensed recordings
come from Debian packages (``apt-get install sonic-pi-samples colobot-common-sounds
sound-theme-freedesktop``); :data:`PACKAGES` records where each installs its sounds and under
which licence (read from its ``/usr/share/doc/<package>/copyright``). Any other folder of audio
files can be used too; its licence is then the user's to know.

A fixed set of files (:data:`HELD_OUT`, by file name) is never trained on: the vocoder's
validation and ``benchmarks/codec.py`` measure on them. Files of other folders are held out by
a stable hash of their name (:data:`HASH_HELD_OUT_SHARE` of them).
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from foleystudio.core.audio import load_audio
from foleystudio.errors import DataError, FoleyStudioError

#: File suffixes read as recordings (libsndfile reads Ogg Vorbis ``.oga`` too).
SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff"})


@dataclass(frozen=True)
class RecordingPackage:
    """A Debian package of recordings: where its sounds are and their licence."""

    package: str
    folder: Path
    licence: str
    content: str


#: The Debian packages whose recordings the vocoder was trained on.
PACKAGES: dict[str, RecordingPackage] = {
    "sonic-pi-samples": RecordingPackage(
        "sonic-pi-samples",
        Path("/usr/share/sonic-pi/samples"),
        "CC0-1.0 (every sample; authors and freesound.org sources per file in the package's copyright)",
        "165 samples, 324 s: drums, percussion, tabla, impacts, door, ambiences, vinyl, bass, guitar, "
        "electronic sounds",
    ),
    "colobot-common-sounds": RecordingPackage(
        "colobot-common-sounds",
        Path("/usr/share/games/colobot/sounds"),
        "GPL-3+ (2001-2016 Daniel Roux, EPSITEC SA & TerranovaTeam)",
        "83 game sound effects, 102 s: motors, steps, impacts, explosions, machines (music not used)",
    ),
    "sound-theme-freedesktop": RecordingPackage(
        "sound-theme-freedesktop",
        Path("/usr/share/sounds/freedesktop/stereo"),
        "per file: CC-BY-SA-3.0 (e.g. camera-shutter, alarm-clock-elapsed), CC-BY-3.0 (bell, complete, "
        "trash-empty), GPL-2+ / GPL-2 (ALSA channel voices, phone tones, Pidgin login)",
        "35 desktop sounds, 39 s: shutter, bell, trash, speech, tones",
    ),
}

#: Files never trained on (by file name): the vocoder's validation and the codec benchmark.
#: Chosen across kinds of sound: drum and percussion hits, a cymbal, tabla, an impact, a door,
#: a guitar chord, ambiences, a breakbeat, vinyl, electronic sounds, game effects, a shutter.
HELD_OUT: frozenset[str] = frozenset(
    {
        # sonic-pi-samples
        "ambi_glass_rub.flac",
        "ambi_piano.flac",
        "bass_hit_c.flac",
        "bd_haus.flac",
        "drum_cymbal_open.flac",
        "drum_snare_hard.flac",
        "drum_tom_mid_hard.flac",
        "elec_bell.flac",
        "glitch_perc3.flac",
        "guit_em9.flac",
        "loop_amen.flac",
        "loop_safari.flac",
        "perc_door.flac",
        "perc_impact2.flac",
        "perc_snap.flac",
        "tabla_na.flac",
        "vinyl_scratch.flac",
        # colobot-common-sounds
        "sound005.wav",
        "sound027.wav",
        "sound048.wav",
        "sound066.wav",
        # sound-theme-freedesktop
        "camera-shutter.oga",
        "complete.oga",
    }
)
#: Share of the files of other folders held out (by a hash of the file name).
HASH_HELD_OUT_SHARE = 0.1


@dataclass(frozen=True)
class Recording:
    """One recording file: ``split`` ``train`` | ``val``, ``source`` its package or folder."""

    path: Path
    source: str
    licence: str
    split: str

    @property
    def name(self) -> str:
        return self.path.name


def is_held_out(name: str) -> bool:
    """Whether a file name is held out: listed in :data:`HELD_OUT`, or hashed into the share."""
    if name in HELD_OUT:
        return True
    return zlib.crc32(name.encode()) % 1000 < HASH_HELD_OUT_SHARE * 1000


def package_folders() -> list[Path]:
    """The folders of the :data:`PACKAGES` that are installed."""
    return [p.folder for p in PACKAGES.values() if p.folder.is_dir()]


def scan_recordings(folders: Iterable[str | os.PathLike[str]]) -> list[Recording]:
    """Every recording under ``folders`` (recursively), sorted by source then path.

    Files of a known package's folder carry its licence; files of other folders carry
    "unknown". Files of the known packages are held out only by :data:`HELD_OUT`, others by
    :func:`is_held_out`. Missing folders and folders without recordings → DataError.
    """
    known = {p.folder.resolve(): p for p in PACKAGES.values()}
    found: list[Recording] = []
    for folder in folders:
        root = Path(folder)
        if not root.is_dir():
            raise DataError("recordings folder does not exist", root)
        package = known.get(root.resolve())
        files = sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())
        if not files:
            raise DataError(f"no recordings ({', '.join(sorted(SUFFIXES))}) in the folder", root)
        for path in files:
            if package is not None:
                split = "val" if path.name in HELD_OUT else "train"
                found.append(Recording(path, package.package, package.licence, split))
            else:
                split = "val" if is_held_out(path.name) else "train"
                found.append(Recording(path, str(root), "unknown (not a listed package)", split))
    return found


def load_recording(recording: Recording, sample_rate: int) -> np.ndarray:
    """The recording as float32 mono at ``sample_rate`` Hz, peak-normalised to 0.95 (so that
    training gains are relative to each file's peak). Silent files → DataError."""
    try:
        audio, _ = load_audio(recording.path, sample_rate, mono=True)
    except FoleyStudioError as exc:
        raise DataError(f"cannot read recording: {exc.problem}", recording.path) from exc
    peak = float(np.abs(audio).max())
    if peak <= 1e-6:
        raise DataError("recording is silent", recording.path)
    return (audio * (0.95 / peak)).astype(np.float32)


def licence_summary(recordings: Sequence[Recording]) -> list[dict[str, object]]:
    """Per source: its licence and how many files are trained on and held out (for manifests)."""
    out: dict[str, dict[str, object]] = {}
    for r in recordings:
        entry = out.setdefault(r.source, {"source": r.source, "licence": r.licence, "train": 0, "val": 0})
        entry[r.split] = int(entry[r.split]) + 1  # type: ignore[call-overload]
    return list(out.values())
