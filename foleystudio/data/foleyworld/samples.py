"""Optional recorded samples (Debian package ``sonic-pi-samples``, CC0) for FoleyWorld.

FoleyWorld is fully procedural by default. With ``use_samples=True`` a few sound models use
recorded material instead, when the package is installed (``apt-get install
sonic-pi-samples``; files in ``/usr/share/sonic-pi/samples``, or the folder named by the
environment variable ``FOLEYSTUDIO_SONIC_PI_SAMPLES``). Each sample's onset is moved to its
first sample (leading silence below 1 % of the peak is cut), so an event placed at sample n
starts at n. Licences: see :data:`SAMPLES` (recorded per file from the package's
``copyright`` file and its ``samples/README.md``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

from foleystudio.errors import DataError

DEFAULT_FOLDER = Path("/usr/share/sonic-pi/samples")


@dataclass(frozen=True)
class SampleInfo:
    """A recorded sample: file name, licence and where it came from."""

    file: str
    licence: str
    source: str
    used_for: str


#: The samples FoleyWorld can use, by role.
SAMPLES: dict[str, SampleInfo] = {
    "bell": SampleInfo(
        "perc_bell.flac",
        "CC0-1.0 (AlaskaRobotics, 2014)",
        "https://freesound.org/people/AlaskaRobotics/sounds/221515/",
        "bell_ringing strikes",
    ),
    "crow": SampleInfo(
        "misc_crow.flac",
        "CC0-1.0 (davidworksonline, 2008)",
        "https://freesound.org/people/davidworksonline/sounds/54973/",
        "off-screen crow caws",
    ),
}


def sample_folder() -> Path:
    """Where the Sonic Pi samples are looked for."""
    return Path(os.environ.get("FOLEYSTUDIO_SONIC_PI_SAMPLES", DEFAULT_FOLDER))


class SampleBank:
    """The available recorded samples, loaded on first use and resampled on request."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else sample_folder()
        self.available = {role for role, info in SAMPLES.items() if (self.folder / info.file).is_file()}
        if not self.available:
            raise DataError(
                "no recorded samples found; install the Debian package sonic-pi-samples or drop --samples",
                self.folder,
            )

    def has(self, role: str) -> bool:
        return role in self.available

    def get(self, role: str, sample_rate: int, pitch: float = 1.0) -> np.ndarray:
        """The sample for ``role`` as float32 mono at ``sample_rate``, onset at index 0, peak 1.

        ``pitch`` > 1 plays it faster and higher (resampling, like a tape).
        """
        if role not in self.available:
            raise DataError(
                f"recorded sample for {role!r} is not installed", self.folder / SAMPLES[role].file
            )
        return _load(str(self.folder / SAMPLES[role].file), int(round(sample_rate / pitch)))


@lru_cache(maxsize=32)
def _load(path: str, rate: int) -> np.ndarray:
    try:
        audio, file_rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, OSError) as exc:
        raise DataError(f"cannot read recorded sample ({exc})", path) from exc
    mono = audio.mean(axis=1)
    peak = float(np.abs(mono).max())
    if peak <= 0:
        raise DataError("recorded sample is silent", path)
    start = int(np.argmax(np.abs(mono) >= 0.01 * peak))
    mono = mono[start:] / peak
    if rate != file_rate:
        g = np.gcd(rate, file_rate)
        mono = signal.resample_poly(mono, rate // g, file_rate // g).astype(np.float32)
        mono /= max(float(np.abs(mono).max()), 1e-9)
    mono.setflags(write=False)
    return mono
