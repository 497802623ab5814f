"""What an export writes where: :class:`ExportOptions` (how) and :class:`ExportDestinations` (where).

``ExportOptions`` is a :class:`~foleystudio.core.settings.Settings` value: each field
describes itself (default, choices or range, unit, help), is checked on construction, and
gives the ``foleystudio export`` flags and the Export dialog's form. ``ExportDestinations``
holds the six optional destinations. This module is light (no NumPy, no media), so the CLI
can build its options from it at start-up.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

from foleystudio.core.settings import Settings, setting
from foleystudio.errors import UsageError
from foleystudio.export.naming import PRESETS

#: Export sample rates (Hz) and bit depths (32 = IEEE float) offered to the user.
SAMPLE_RATES = (44100, 48000, 96000)
BIT_DEPTHS = (16, 24, 32)

#: Audio codecs of the remuxed video: AAC (any container) or PCM (.mov/.mkv only).
VIDEO_AUDIO_CODECS = ("aac", "pcm")


@dataclass(frozen=True)
class ExportOptions(Settings):
    """How to export: format, file naming, loudness, the video's sound codec and metadata."""

    sample_rate: int = setting(
        48000,
        "Sample rate",
        "sample rate of every file",
        unit="Hz",
        choices=SAMPLE_RATES,
        choice_labels=("44.1 kHz", "48 kHz", "96 kHz"),
        option="--rate",
    )
    bits: int = setting(
        24,
        "Format",
        "bit depth, 32 = IEEE float",
        unit="bit",
        choices=BIT_DEPTHS,
        choice_labels=("16-bit", "24-bit", "32-bit float"),
    )
    per_clip: bool = setting(
        False, "Per-clip files", "one time-stamped file per clip instead of per track (needs a stems folder)"
    )
    naming: str = setting(
        "foley",
        "File naming",
        "naming preset: 'foley' (FEET/PROPS/CLOTH), 'plain', or a preset .json file",
        choices=tuple(PRESETS),
        free_text=True,
    )
    #: Off by default: normalising changes the level the user mixed at, so it is asked for.
    loudness_target: float | None = setting(
        None,
        "Loudness target",
        "normalise the mix (and the video's sound) to this integrated loudness",
        unit="LUFS",
        minimum=-70.0,
        maximum=0.0,
        step=0.5,
        decimals=1,
        suggested=-23.0,  # EBU R 128
        option="--loudness",
    )
    video_audio_codec: str = setting(
        "aac",
        "Video sound",
        "audio codec of the remuxed video (pcm needs a .mov or .mkv file)",
        choices=VIDEO_AUDIO_CODECS,
        option="--video-audio",
    )
    ixml: bool = setting(True, "iXML", "write an iXML chunk (track names, timecode) in every file")


@dataclass(frozen=True)
class ExportDestinations:
    """Where to export; each destination is optional, but at least one is needed.

    ``stems``: folder for the BWF stems (or per-clip files); ``mix``: stereo BWF mix;
    ``video``: the video remuxed with the mix; ``otio``/``rpp``/``edl``: OpenTimelineIO,
    Reaper and CMX 3600 files (one EDL per track when several). Relative paths resolve
    against the project's bundle folder at export (:meth:`resolved`).
    """

    stems: Path | None = None
    mix: Path | None = None
    video: Path | None = None
    otio: Path | None = None
    rpp: Path | None = None
    edl: Path | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if not isinstance(value, str | os.PathLike) or not os.fspath(value):
                raise UsageError(f"the {f.name} destination must be a path, got {value!r}")
            object.__setattr__(self, f.name, Path(value))
        if all(p is None for p in self.paths()):
            raise UsageError("nothing to export: give a stems folder, a mix, a video or an interchange file")

    def paths(self) -> tuple[Path | None, ...]:
        """The six destinations in field order (None where not exported)."""
        return tuple(getattr(self, f.name) for f in fields(self))

    def check_for(self, options: ExportOptions) -> None:
        """Raise :class:`UsageError` when ``options`` need a destination that is not given."""
        if options.per_clip and self.stems is None:
            raise UsageError("per-clip export needs a stems folder")

    def resolved(self, base: Path) -> ExportDestinations:
        """The same destinations as absolute paths, relative ones taken from ``base``."""
        absolute = {
            f.name: (base / path.expanduser()).absolute()
            for f, path in zip(fields(self), self.paths(), strict=True)
            if path is not None
        }
        return ExportDestinations(**absolute)
