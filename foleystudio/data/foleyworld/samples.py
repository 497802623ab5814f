"""The recorded palette (Debian package ``sonic-pi-samples``, CC0) for FoleyWorld.

FoleyWorld is fully procedural by default. With ``use_samples=True`` the sound models whose
material a recording honestly matches play recorded hits instead of (or layered with) their
synthesis, when the package is installed (``apt-get install sonic-pi-samples``; files in
``/usr/share/sonic-pi/samples``, or the folder named by the environment variable
``FOLEYSTUDIO_SONIC_PI_SAMPLES``). Only CC0 files are used, so nothing trained on them
carries an obligation (docs/decisions.md, "A recorded palette for FoleyWorld").

Each role (:data:`ROLES`) names the files that may play it and how they vary per object and
per event. Each file (:data:`SAMPLES`) carries its author, licence and source address, as
given by the package's ``copyright`` file or, for files that file does not list, by the
samples' ``README.md`` (which puts the whole folder under CC0).

Sync: a recording's onset is moved to index 0 — after ``skip`` seconds (material before the
hit, such as a door's swing before its slam), at the first sample whose magnitude reaches
:data:`ONSET_LEVEL` of the peak — so a hit placed at sample n is heard from sample n on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

from foleystudio.errors import DataError

DEFAULT_FOLDER = Path("/usr/share/sonic-pi/samples")
#: The onset is the first sample at this fraction of the peak (-12 dB): quieter lead-ins
#: (a bell's 16 ms of handling noise at -18 dB) are cut, so sync stays exact.
ONSET_LEVEL = 0.25
CC0 = "CC0-1.0"


@dataclass(frozen=True)
class SampleInfo:
    """A recorded file: its name, author, licence and where it came from."""

    file: str
    author: str
    year: int | None  #: as the package's copyright file gives it (None: not given)
    source: str  #: the original's address (freesound.org)
    licence: str = CC0
    skip: float = 0.0  #: s of lead-in before the hit, cut before the onset is found

    @property
    def attribution(self) -> str:
        """One line: licence, author and year, source."""
        year = f", {self.year}" if self.year else ""
        return f"{self.licence} ({self.author}{year}), {self.source}"


def _info(file: str, author: str, year: int | None, source: str, skip: float = 0.0) -> SampleInfo:
    return SampleInfo(file, author, year, source, CC0, skip)


_FS = "http://freesound.org/people/"
_FS_WWW = "http://www.freesound.org/people/"
_FS_HTTPS = "https://freesound.org/people/"

#: Every recorded file FoleyWorld may use, by file name, with the source address exactly as
#: the package gives it. Checked against the installed package by
#: tests/unit/test_foleyworld_palette.py.
SAMPLES: dict[str, SampleInfo] = {
    info.file: info
    for info in (
        _info("perc_bell.flac", "AlaskaRobotics", 2014, _FS + "AlaskaRobotics/sounds/221515/"),
        _info("perc_bell2.flac", "hullum", None, _FS_HTTPS + "hullum/sounds/415559/"),
        _info("misc_crow.flac", "davidworksonline", 2008, _FS + "davidworksonline/sounds/54973/"),
        # The door's swing and rattle (172 ms, up to -5 dB) comes before its slam.
        _info("perc_door.flac", "hullum", None, _FS_HTTPS + "hullum/sounds/415579/", skip=0.172),
        _info("perc_impact1.flac", "hullum", None, _FS_HTTPS + "hullum/sounds/415578/"),
        _info("perc_impact2.flac", "hullum", None, _FS_HTTPS + "hullum/sounds/415581/"),
        _info("drum_cowbell.flac", "Neotone", 2009, _FS + "Neotone/sounds/75338/"),
        _info("tabla_te2.flac", "dio_333", 2011, _FS + "dio_333/sounds/130418/"),
        _info("tabla_tas1.flac", "dio_333", 2011, _FS + "dio_333/sounds/130427/"),
        _info("tabla_tas2.flac", "dio_333", 2011, _FS + "dio_333/sounds/130425/"),
        _info("tabla_tas3.flac", "dio_333", 2011, _FS + "dio_333/sounds/130430/"),
        *(
            _info(f"drum_tom_{pitch}_{force}.flac", "menegass", 2010, f"{_FS_WWW}menegass/sounds/{sound}/")
            for pitch, force, sound in (
                ("hi", "hard", 100062),
                ("hi", "soft", 100063),
                ("lo", "hard", 100064),
                ("lo", "soft", 100065),
                ("mid", "hard", 100066),
                ("mid", "soft", 100067),
            )
        ),
    )
}


@dataclass(frozen=True)
class Role:
    """A sound a recording can play, the files that may play it and how they vary."""

    files: tuple[str, ...]
    used_for: str
    #: Playback-speed range (tape-style; > 1 is faster and higher), drawn once per object.
    pitch: tuple[float, float] = (1.0, 1.0)
    #: Each event's speed differs from the object's by up to this fraction.
    jitter: float = 0.0
    #: True: every event draws its file anew (takes of one kind of hit); False: an object
    #: keeps the file it drew (it is one body with one voice).
    takes: bool = False
    length: float | None = None  #: s: longer recordings fade out (last 30 %) to this length
    damp: float | None = None  #: s: an extra exponential decay (a more damped body)


#: The recorded palette, by role.
ROLES: dict[str, Role] = {
    "bell": Role(("perc_bell.flac", "perc_bell2.flac"), "bell_ringing strikes", (0.8, 1.25), 0.005),
    "crow": Role(("misc_crow.flac",), "off-screen crow caws"),
    "door": Role(("perc_door.flac",), "door_slam slams", (0.85, 1.15), 0.03, length=1.2),
    "anvil": Role(
        ("perc_impact1.flac", "perc_impact2.flac"),
        "hammer_anvil contact and thunk, under the procedural ring",
        (0.9, 1.1),
        0.04,
        takes=True,
    ),
    "ball_metal": Role(("drum_cowbell.flac",), "ball_metal bounces", (0.75, 1.3), 0.02),
    "ball_wood": Role(
        ("tabla_te2.flac", "tabla_tas1.flac", "tabla_tas2.flac", "tabla_tas3.flac"),
        "ball_wood bounces",
        (0.8, 1.3),
        0.03,
        takes=True,
        length=0.25,
    ),
    "ball_rubber": Role(
        tuple(f"drum_tom_{p}_{f}.flac" for p in ("hi", "mid", "lo") for f in ("hard", "soft")),
        "ball_rubber bounces (tom strokes, damped)",
        (0.9, 1.3),
        0.03,
        takes=True,
        length=0.3,
        damp=0.05,
    ),
}


def sample_folder() -> Path:
    """Where the Sonic Pi samples are looked for."""
    return Path(os.environ.get("FOLEYSTUDIO_SONIC_PI_SAMPLES", DEFAULT_FOLDER))


@dataclass(frozen=True)
class Voice:
    """What one object plays: its role, the file it drew and its playback speed."""

    role: str
    file: str
    pitch: float
    bank: SampleBank = field(repr=False, compare=False)

    def hit(self, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        """One event's recording (see :meth:`SampleBank.hit`); read-only, peak 1."""
        return self.bank.hit(self, sample_rate, rng)


def pick_voice(bank: SampleBank | None, role: str, rng: np.random.Generator) -> Voice | None:
    """An object's voice for ``role``, or None (drawing nothing from ``rng``) when the clip
    has no palette or the role's files are not installed."""
    if bank is None or not bank.has(role):
        return None
    return bank.voice(role, rng)


class SampleBank:
    """The installed part of the palette; loads files on first use and records what it played.

    ``used`` holds the file names served so far (for the clip's licence record).
    """

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else sample_folder()
        self.files = {name for name in SAMPLES if (self.folder / name).is_file()}
        self.available = {role for role, r in ROLES.items() if any(f in self.files for f in r.files)}
        if not self.available:
            raise DataError(
                "no recorded samples found; install the Debian package sonic-pi-samples or drop --samples",
                self.folder,
            )
        self.used: set[str] = set()

    def has(self, role: str) -> bool:
        """True when at least one file of ``role`` is installed."""
        return role in self.available

    def _files(self, role: str) -> list[str]:
        if role not in self.available:
            raise DataError(f"recorded sample for {role!r} is not installed", self.folder)
        return [f for f in ROLES[role].files if f in self.files]

    def voice(self, role: str, rng: np.random.Generator) -> Voice:
        """Draw an object's file and playback speed for ``role``."""
        files = self._files(role)
        lo, hi = ROLES[role].pitch
        return Voice(role, files[int(rng.integers(len(files)))], float(rng.uniform(lo, hi)), self)

    def hit(self, voice: Voice, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        """One event of ``voice``: float32 mono at ``sample_rate``, onset at index 0, peak 1.

        The file is drawn anew for roles of takes; the speed varies by the role's jitter.
        """
        role = ROLES[voice.role]
        file = voice.file
        if role.takes:
            files = self._files(voice.role)
            file = files[int(rng.integers(len(files)))]
        pitch = voice.pitch * (1.0 + float(rng.uniform(-role.jitter, role.jitter)))
        return self._play(voice.role, file, sample_rate, pitch)

    def get(self, role: str, sample_rate: int, pitch: float = 1.0) -> np.ndarray:
        """The role's first installed file as float32 mono at ``sample_rate``, onset at 0, peak 1.

        ``pitch`` > 1 plays it faster and higher (resampling, like a tape).
        """
        return self._play(role, self._files(role)[0], sample_rate, pitch)

    def _play(self, role: str, file: str, sample_rate: int, pitch: float) -> np.ndarray:
        r = ROLES[role]
        base = _load(str(self.folder / file), sample_rate, SAMPLES[file].skip, r.length, r.damp)
        self.used.add(file)
        if pitch == 1.0:
            return base
        return speed_change(base, pitch)


def speed_change(sound: np.ndarray, factor: float) -> np.ndarray:
    """``sound`` played ``factor`` times faster (linear interpolation), index 0 kept, peak 1."""
    if factor <= 0:
        raise DataError(f"playback speed must be positive, got {factor}")
    positions = np.arange(0.0, sound.size - 1, factor)
    out = np.interp(positions, np.arange(sound.size), sound).astype(np.float32)
    return out / max(float(np.abs(out).max()), 1e-9)


def find_onset(mono: np.ndarray, level: float = ONSET_LEVEL) -> int:
    """Index of the first sample whose magnitude reaches ``level`` × the peak."""
    peak = float(np.abs(mono).max())
    if peak <= 0:
        raise DataError("recorded sample is silent")
    return int(np.argmax(np.abs(mono) >= level * peak))


@lru_cache(maxsize=64)
def _load(path: str, rate: int, skip: float, length: float | None, damp: float | None) -> np.ndarray:
    """A file as float32 mono at ``rate``: ``skip`` s cut, onset at 0, shaped, peak 1."""
    try:
        audio, file_rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, OSError) as exc:
        raise DataError(f"cannot read recorded sample ({exc})", path) from exc
    mono = audio.mean(axis=1)[int(round(skip * file_rate)) :]
    if mono.size == 0 or float(np.abs(mono).max()) <= 0:
        raise DataError("recorded sample is silent", path)
    mono = mono[find_onset(mono) :].astype(np.float64)
    if rate != file_rate:
        g = np.gcd(rate, file_rate)
        mono = signal.resample_poly(mono, rate // g, file_rate // g)
        # The resampling filter rings a little before the onset: start exactly on it again.
        mono = mono[find_onset(mono) :]
    if damp is not None:
        mono = mono * np.exp(-np.arange(mono.size) / (damp * rate))
    if length is not None and mono.size > int(length * rate):
        mono = mono[: int(length * rate)]
        tail = int(0.3 * mono.size)
        mono[-tail:] *= 0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, tail))
    out = (mono / float(np.abs(mono).max())).astype(np.float32)
    out.setflags(write=False)
    return out
