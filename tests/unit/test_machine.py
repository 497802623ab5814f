"""The machine description kept with results: its keys, and that it never imports torch or PyAV."""

from __future__ import annotations

import json
import subprocess
import sys

from foleystudio.core.machine import machine_description, package_version


def test_description_has_the_machine_and_the_versions() -> None:
    info = machine_description(packages=("numpy", "no-such-distribution-xyz"), load_average=True)
    assert info["cpu_count"] >= 1 and info["platform"] and info["python"] and info["cpu"]
    assert info["numpy"] == package_version("numpy") is not None
    assert info["no-such-distribution-xyz"] is None
    assert isinstance(info.get("load_average_1min", 0.0), float)
    json.dumps(info)  # JSON-ready
    assert "load_average_1min" not in machine_description()


def test_describing_does_not_import_torch_or_av() -> None:
    code = (
        "import json, sys\n"
        "from foleystudio.core.machine import machine_description\n"
        "info = machine_description()\n"
        "print(json.dumps([info['torch'], 'cuda' in info, 'libavcodec' in info, 'torch' in sys.modules, 'av' in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    torch_version, has_cuda, has_libavcodec, torch_loaded, av_loaded = json.loads(out)
    assert torch_version == package_version("torch")
    assert not (has_cuda or has_libavcodec or torch_loaded or av_loaded)
