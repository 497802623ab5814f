"""``foleystudio doctor [--json]``: what this installation can do, what is wrong, how to fix it.

Reports the Python and library versions, the compute devices (CUDA GPUs with memory and
dtype, MPS, CPU), PortAudio and the audio output devices with their latencies, free disk in
the models and cache folders, every model bundle with its sha256 check, and the Qt platform
plugins. Each problem comes with one line saying what to do (``cli/doctor_checks.py``). The
command itself always succeeds.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from foleystudio.cli.doctor_checks import (
    Finding,
    check_audio,
    check_bundles,
    check_devices,
    check_disk,
    check_qt,
)
from foleystudio.core.machine import machine_description, package_version

#: (label, distribution name) of the libraries FoleyStudio relies on.
LIBRARIES = (
    ("numpy", "numpy"),
    ("torch", "torch"),
    ("torchaudio", "torchaudio"),
    ("open_clip", "open_clip_torch"),
    ("safetensors", "safetensors"),
    ("PyAV", "av"),
    ("PySide6", "PySide6-Essentials"),
    ("pyqtgraph", "pyqtgraph"),
    ("soundfile", "soundfile"),
    ("sounddevice", "sounddevice"),
    ("opentimelineio", "opentimelineio"),
    ("scipy", "scipy"),
)


def register(subparsers: Any) -> None:
    """Add the ``doctor`` sub-command."""
    parser = subparsers.add_parser(
        "doctor",
        help="check libraries, devices, audio output and model bundles",
        description="Print what this FoleyStudio installation can use and what is missing.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def library_versions() -> dict[str, str | None]:
    """Installed version of each library (None when it is not installed)."""
    versions = {label: package_version(dist) for label, dist in LIBRARIES}
    if versions["PySide6"] is None:  # the full PySide6 wheel instead of the Essentials one
        versions["PySide6"] = package_version("PySide6")
    return versions


def collect() -> dict[str, Any]:
    """Everything the doctor reports, JSON-ready: ``problems`` (one line each) and, in the same
    order, ``fixes`` (what to do about each)."""
    import foleystudio

    report: dict[str, Any] = {
        "foleystudio": foleystudio.__version__,
        # Versions are listed once, under "libraries".
        **machine_description(packages=()),
        "libraries": library_versions(),
    }
    findings = [
        Finding(f"{name} is not installed", f"pip install -c .ci/constraints.txt {dict(LIBRARIES)[name]}")
        for name, version in report["libraries"].items()
        if version is None
    ]
    for key, check in (
        ("devices", check_devices),
        ("audio", check_audio),
        ("disk", check_disk),
        ("models", check_bundles),
        ("qt", check_qt),
    ):
        report[key], found = check()
        findings += found
    report["problems"] = [f.problem for f in findings]
    report["fixes"] = [f.fix for f in findings]
    return report


def run(args: argparse.Namespace) -> int:
    report = collect()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"FoleyStudio {report['foleystudio']} on Python {report['python']} ({report['platform']})")
    print("libraries:")
    for name, version in report["libraries"].items():
        print(f"  {name:<15} {version or 'MISSING'}")
    devices = report["devices"]
    print("devices:")
    if "error" in devices:
        print(f"  error: {devices['error']}")
    else:
        print(
            f"  cpu             yes ({report['cpu_count']} cores, torch uses {devices['cpu']['threads']} threads, "
            f"{devices['cpu'].get('dtype', 'float32')})"
        )
        cuda = devices["cuda"]
        if cuda["available"]:
            for gpu in cuda["devices"]:
                free = "" if gpu.get("free_gib") is None else f", {gpu['free_gib']} GiB free"
                print(
                    f"  cuda:{gpu['index']:<10} {gpu['name']} ({gpu['memory_gib']} GiB{free}, {gpu.get('dtype', '')})"
                )
        else:
            build = (
                "CPU-only torch"
                if cuda.get("built_with") is None
                else f"torch built for CUDA {cuda['built_with']}"
            )
            print(f"  cuda            no ({build})")
        print(f"  mps             {'yes' if devices['mps']['available'] else 'no'}")
        print(f"  auto picks      {devices['auto']} ({devices['dtype']})")
    audio = report["audio"]
    version = f" ({audio['portaudio']})" if audio.get("portaudio") else ""
    print(f"audio output{version}:")
    if audio["devices"]:
        for device in audio["devices"]:
            marker = " (default)" if device["name"] == audio.get("default") else ""
            print(
                f"  [{device['index']}] {device['name']}, {device['channels']} ch, "
                f"latency {device['latency_low_ms']}–{device['latency_high_ms']} ms{marker}"
            )
    else:
        print(f"  none ({audio.get('error') or 'no output device'})")
    print("disk:")
    for name, entry in report["disk"].items():
        free = f"{entry['free_bytes'] / 2**30:.1f} GiB free" if "free_bytes" in entry else entry.get("error")
        print(f"  {name:<15} {free}  {entry['path']}")
    print("model bundles:")
    for bundle in report["models"]["bundles"]:
        state = "sha256 ok" if bundle.get("verified") else f"UNUSABLE: {bundle['error']}"
        print(f"  {bundle['name']} {bundle['version']} [{bundle['source']}] {state}  {bundle['path']}")
    if not report["models"]["bundles"]:
        print("  none found")
    qt = report["qt"]
    print("qt platform plugins:")
    if "error" in qt:
        print(f"  error: {qt['error']}")
    else:
        for name, entry in qt["plugins"].items():
            print(f"  {name:<15} {'yes' if entry['available'] else 'no (' + str(entry['error']) + ')'}")
    if report["problems"]:
        print("problems:")
        for problem, fix in zip(report["problems"], report["fixes"], strict=True):
            print(f"  - {problem}")
            print(f"    fix: {fix}")
    else:
        print("no problems found")
    return 0
