"""The machine a run, a benchmark or a report comes from, as a JSON-ready dict.

Plain Python: library versions are read from the installed distributions' metadata, so
describing the machine never imports torch or PyAV. What only a loaded library can say
(torch's thread count and CUDA device, FFmpeg's libavcodec version) is added when that
library is already imported by the caller.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

#: Distributions whose versions a machine description records (the ones figures depend on).
PACKAGES = ("numpy", "scipy", "torch", "torchaudio", "av")


def package_version(distribution: str) -> str | None:
    """Installed version of a distribution (``"av"``, ``"open_clip_torch"``), None when absent."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), else the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_description(*, packages: Sequence[str] = PACKAGES, load_average: bool = False) -> dict[str, Any]:
    """Where a run or benchmark happened (kept with every result).

    Keys: ``platform``, ``processor``, ``cpu`` (model name), ``cpu_count``, ``python``, one
    version per name in ``packages`` (None when not installed); ``torch_threads`` and
    ``cuda`` (device 0's name or None) when torch is already imported; ``libavcodec`` when
    PyAV is already imported; ``load_average_1min`` with ``load_average`` (other work on a
    shared machine slows the figures; omitted where the OS has no load average).
    """
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }
    info.update({name: package_version(name) for name in packages})
    torch = sys.modules.get("torch")
    if torch is not None:
        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    av = sys.modules.get("av")
    if av is not None:
        info["libavcodec"] = ".".join(str(v) for v in av.library_versions["libavcodec"])
    if load_average and hasattr(os, "getloadavg"):
        info["load_average_1min"] = round(os.getloadavg()[0], 2)
    return info
