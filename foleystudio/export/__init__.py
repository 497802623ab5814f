"""Export: BWF stems, stereo mix, remuxed video, OpenTimelineIO, Reaper project, CMX EDL.

The one entry point is :func:`export_project` (the CLI ``foleystudio export`` and the GUI's
Export dialog both call it) with an :class:`ExportDestinations` (where) and an
:class:`ExportOptions` (how); see :mod:`foleystudio.export.pipeline` for its guarantees.
The pipeline (NumPy, PyAV) loads on first use of its names, so the CLI can build its
``export`` options from :mod:`foleystudio.export.options` at start-up without it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from foleystudio.export.naming import FOLEY_PRESET, PLAIN_PRESET, PRESETS, NamingPreset, NamingRule
from foleystudio.export.options import BIT_DEPTHS, SAMPLE_RATES, ExportDestinations, ExportOptions

if TYPE_CHECKING:
    from foleystudio.export.mixdown import MixReport
    from foleystudio.export.pipeline import ExportResult, export_project

#: Names loaded on first use, and the module that has each.
_LAZY = {
    "MixReport": "foleystudio.export.mixdown",
    "ExportResult": "foleystudio.export.pipeline",
    "export_project": "foleystudio.export.pipeline",
}

__all__ = [
    "BIT_DEPTHS",
    "FOLEY_PRESET",
    "PLAIN_PRESET",
    "PRESETS",
    "SAMPLE_RATES",
    "ExportDestinations",
    "ExportOptions",
    "ExportResult",
    "MixReport",
    "NamingPreset",
    "NamingRule",
    "export_project",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
