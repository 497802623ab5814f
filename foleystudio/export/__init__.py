"""Export: BWF stems, stereo mix, remuxed video, OpenTimelineIO, Reaper project, CMX EDL.

The one entry point is :func:`export_project` (the CLI ``foleystudio export`` and the GUI's
Export dialog both call it); see :mod:`foleystudio.export.pipeline` for its guarantees.
"""

from foleystudio.export.mixdown import MixReport
from foleystudio.export.naming import FOLEY_PRESET, PLAIN_PRESET, PRESETS, NamingPreset, NamingRule
from foleystudio.export.pipeline import BIT_DEPTHS, SAMPLE_RATES, ExportResult, export_project

__all__ = [
    "BIT_DEPTHS",
    "FOLEY_PRESET",
    "PLAIN_PRESET",
    "PRESETS",
    "SAMPLE_RATES",
    "ExportResult",
    "MixReport",
    "NamingPreset",
    "NamingRule",
    "export_project",
]
