"""``foleystudio doctor [--json]``: what this installation can do, and what is missing.

Reports the Python and library versions, the compute devices (CUDA, MPS, CPU), the audio
output devices (through sounddevice; a missing PortAudio or sound card is reported, not
fatal) and the model bundles found. Problems are listed; the command itself always succeeds.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

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


def audio_outputs() -> dict[str, Any]:
    """Output devices via sounddevice: ``{"ok", "default", "devices": [...]}`` or ``{"ok": False, "error"}``."""
    try:
        import sounddevice

        devices = sounddevice.query_devices()
        default_out = sounddevice.default.device[1]
    except Exception as exc:  # OSError without PortAudio, PortAudioError without a sound system
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}", "devices": []}
    outputs = [
        {
            "index": index,
            "name": device["name"],
            "channels": int(device["max_output_channels"]),
            "sample_rate": float(device["default_samplerate"]),
        }
        for index, device in enumerate(devices)
        if device["max_output_channels"] > 0
    ]
    default = next((d["name"] for d in outputs if d["index"] == default_out), None)
    return {"ok": bool(outputs), "default": default, "devices": outputs}


def collect() -> dict[str, Any]:
    """Everything the doctor reports, JSON-ready, with a list of ``problems``."""
    import foleystudio

    report: dict[str, Any] = {
        "foleystudio": foleystudio.__version__,
        # Versions are listed once, under "libraries".
        **machine_description(packages=()),
        "libraries": library_versions(),
    }
    problems = [
        f"{name} is not installed" for name, version in report["libraries"].items() if version is None
    ]
    try:
        from foleystudio.ml.device import describe_devices

        report["devices"] = describe_devices()
    except Exception as exc:  # a broken torch install must still give a report
        report["devices"] = {"error": f"{type(exc).__name__}: {exc}"}
        problems.append(f"torch devices cannot be queried: {exc}")
    report["audio"] = audio_outputs()
    if not report["audio"]["ok"]:
        reason = report["audio"].get("error") or "no output device"
        problems.append(f"audio playback unavailable ({reason}); generation and export still work")
    from foleystudio.ml.model_bundle import list_bundles, model_dirs

    bundles = list_bundles()
    report["models"] = {
        "search_path": [{"source": s, "path": str(p)} for s, p in model_dirs()],
        "bundles": [b.to_dict() for b in bundles],
    }
    usable = [b for b in bundles if b.error is None]
    if not usable:
        problems.append("no usable model bundle found (train one, or `foleystudio models pull`)")
    problems += [f"model bundle {b.path} is unusable: {b.error}" for b in bundles if b.error is not None]
    report["problems"] = problems
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
            f"  cpu             yes ({report['cpu_count']} cores, torch uses {devices['cpu']['threads']} threads)"
        )
        cuda = devices["cuda"]
        if cuda["available"]:
            for gpu in cuda["devices"]:
                print(f"  cuda:{gpu['index']:<10} {gpu['name']} ({gpu['memory_gib']} GiB)")
        else:
            print("  cuda            no")
        print(f"  mps             {'yes' if devices['mps']['available'] else 'no'}")
        print(f"  auto picks      {devices['auto']} ({devices['dtype']})")
    audio = report["audio"]
    print("audio output:")
    if audio["devices"]:
        for device in audio["devices"]:
            marker = " (default)" if device["name"] == audio.get("default") else ""
            print(f"  [{device['index']}] {device['name']}, {device['channels']} ch{marker}")
    else:
        print(f"  none ({audio.get('error') or 'no output device'})")
    print("model bundles:")
    for bundle in report["models"]["bundles"]:
        state = "" if bundle["error"] is None else f"  UNUSABLE: {bundle['error']}"
        print(f"  {bundle['name']} {bundle['version']} [{bundle['source']}] {bundle['path']}{state}")
    if not report["models"]["bundles"]:
        print("  none found")
    if report["problems"]:
        print("problems:")
        for problem in report["problems"]:
            print(f"  - {problem}")
    else:
        print("no problems found")
    return 0
