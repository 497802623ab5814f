"""Ground truth of a FoleyWorld clip, as dataclasses and as the JSON written beside it.

Conventions: times in seconds; ``onset_frames`` are frame indices (frame k at k / fps);
``onset_samples`` are sample indices at ``sample_rate``; boxes are normalised (x, y, w, h),
origin top-left, clipped to the frame, one per frame, ``None`` while the source is out of
view (in a randomised clip: as seen through its camera). Stems are named by source id
(``s0``, ``s1``, ``s2``, ``ambience``, ``offscreen``) and sum exactly to the mix.
``randomisation`` (randomised clips only) records the clip's drawn frame rate and, per
effect of randomise.py, False or the parameters it was applied with.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from foleystudio.errors import DataError

FORMAT = "foleyworld-1"


@dataclass
class SourceTruth:
    """One visible sound source."""

    id: str
    category: str
    label: str
    text: str
    caption: str
    continuous: bool
    onsets: list[float]
    onset_frames: list[int]
    onset_samples: list[int]
    strengths: list[float]
    boxes: list[list[float] | None]
    peak_dbfs: float
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class BackgroundTruth:
    """The ambience bed or the off-screen sounds (no box: nothing visible makes them)."""

    id: str
    kind: str
    phrase: str
    onsets: list[float] = field(default_factory=list)
    onset_samples: list[int] = field(default_factory=list)
    level_dbfs: float = -120.0  #: RMS for the ambience, peak for off-screen sounds


@dataclass
class ClipTruth:
    """Everything known about a generated clip."""

    seed: int
    duration: float
    fps: int
    sample_rate: int
    size: int
    n_frames: int
    n_samples: int
    look_variant: str
    setting: str
    surface: str
    floor_y: float  #: normalised y of the floor line (objects rest on it)
    text: str
    caption: str
    sources: list[SourceTruth]
    ambience: BackgroundTruth | None
    offscreen: BackgroundTruth | None
    mix_gain: float
    samples: list[str] = field(default_factory=list)  #: recorded sample files used
    spec: dict[str, Any] = field(default_factory=dict)  #: the ClipSpec it was generated from
    #: Effects applied by domain randomisation (randomise.py); None (left out of the JSON) when off.
    randomisation: dict[str, Any] | None = None
    files: dict[str, Any] = field(default_factory=dict)  #: written files, relative to the JSON
    format: str = FORMAT

    @property
    def stem_ids(self) -> list[str]:
        """Ids of every stem, sources first."""
        ids = [s.id for s in self.sources]
        ids += [b.id for b in (self.ambience, self.offscreen) if b is not None]
        return ids

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (only str, int, float, bool, None, lists and dicts)."""
        data = asdict(self)
        if data["randomisation"] is None:
            del data["randomisation"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClipTruth:
        """Inverse of :meth:`to_dict`; raises KeyError/TypeError on malformed data."""
        data = dict(data)
        data["sources"] = [SourceTruth(**s) for s in data["sources"]]
        for key in ("ambience", "offscreen"):
            data[key] = BackgroundTruth(**data[key]) if data.get(key) else None
        return cls(**data)


def load_truth(path: str | os.PathLike[str]) -> ClipTruth:
    """Read a clip's ``<name>.json``; raises :class:`DataError` naming the file if unusable."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        if data.get("format") != FORMAT:
            raise DataError(f"not a FoleyWorld clip description (format {data.get('format')!r})", path)
        return ClipTruth.from_dict(data)
    except DataError:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"cannot read FoleyWorld ground truth ({exc})", path) from exc
