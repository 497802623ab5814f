"""The checks behind ``foleystudio doctor``: each reports what it found and, per problem, a fix.

Every check returns ``(section, findings)``: a JSON-ready dict for the report and a list of
:class:`Finding` (one problem, one line saying what to do). A check never raises: a broken
library is itself a finding. Thresholds are module constants so the tests can name them.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Below this much free disk (bytes) the models or cache folder is a problem: a bundle is
#: ~50 MiB, a downloaded archive twice that while staged, a larger model a few GiB.
MIN_FREE_DISK = 2 * 2**30
#: Below this much free GPU memory (GiB) generation on that GPU is likely to run out.
MIN_FREE_GPU_GIB = 1.0

APT_QT_XCB = "sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0"


@dataclass(frozen=True)
class Finding:
    """One problem and the one line that tells the user how to fix it."""

    problem: str
    fix: str


def check_devices() -> tuple[dict[str, Any], list[Finding]]:
    """torch's devices: CPU, CUDA GPUs (memory, free memory, dtype), MPS, and the pick."""
    try:
        from foleystudio.ml.device import describe_devices

        devices = describe_devices()
    except Exception as exc:  # a broken torch install must still give a report
        return {"error": f"{type(exc).__name__}: {exc}"}, [
            Finding(
                f"torch cannot be used: {exc}",
                "reinstall it: pip install -c .ci/constraints.txt --force-reinstall torch torchaudio",
            )
        ]
    findings: list[Finding] = []
    cuda = devices["cuda"]
    if not cuda["available"] and nvidia_gpu_present():
        if cuda.get("built_with") is None:
            fix = "install a CUDA build of torch (pip install -c .ci/constraints.txt torch), or use --device cpu"
            findings.append(Finding("an NVIDIA GPU is present but this torch is a CPU-only build", fix))
        else:
            findings.append(
                Finding(
                    f"an NVIDIA GPU is present but torch (CUDA {cuda['built_with']}) cannot use it",
                    "update the NVIDIA driver to one that supports this CUDA version (nvidia-smi shows it)",
                )
            )
    for gpu in cuda["devices"]:
        free = gpu.get("free_gib")
        if free is not None and free < MIN_FREE_GPU_GIB:
            findings.append(
                Finding(
                    f"cuda:{gpu['index']} ({gpu['name']}) has only {free} GiB of free memory",
                    "close other programs using the GPU, or generate with --device cpu",
                )
            )
    return devices, findings


def nvidia_gpu_present() -> bool:
    """Whether the NVIDIA kernel driver shows a GPU (Linux) or nvidia-smi exists (elsewhere)."""
    return Path("/proc/driver/nvidia/gpus").is_dir() or shutil.which("nvidia-smi") is not None


def check_audio() -> tuple[dict[str, Any], list[Finding]]:
    """PortAudio (through sounddevice) and the output devices with their latencies."""
    try:
        import sounddevice

        devices = sounddevice.query_devices()
        default_out = sounddevice.default.device[1]
        portaudio = sounddevice.get_portaudio_version()[1]
    except Exception as exc:  # OSError without PortAudio, PortAudioError without a sound system
        error = f"{type(exc).__name__}: {exc}"
        if "PortAudio library not found" in str(exc):
            fix = "install PortAudio: sudo apt-get install libportaudio2 (macOS: brew install portaudio)"
        else:
            fix = "check that a sound server or card is running (aplay -l lists ALSA cards)"
        return {"ok": False, "error": error, "devices": []}, [
            Finding(f"audio playback unavailable ({error}); generation and export still work", fix)
        ]
    outputs = [
        {
            "index": index,
            "name": device["name"],
            "channels": int(device["max_output_channels"]),
            "sample_rate": float(device["default_samplerate"]),
            "latency_low_ms": round(1000 * float(device["default_low_output_latency"]), 1),
            "latency_high_ms": round(1000 * float(device["default_high_output_latency"]), 1),
        }
        for index, device in enumerate(devices)
        if device["max_output_channels"] > 0
    ]
    default = next((d["name"] for d in outputs if d["index"] == default_out), None)
    section = {"ok": bool(outputs), "portaudio": portaudio, "default": default, "devices": outputs}
    if not outputs:
        return section, [
            Finding(
                "audio playback unavailable (no output device); generation and export still work",
                "connect or enable an output device (pavucontrol or the system sound settings)",
            )
        ]
    return section, []


def free_disk(path: Path) -> tuple[Path, int]:
    """Free bytes on the disk of ``path`` (or of its nearest existing parent, if it is not made yet)."""
    probe = path
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    return probe, shutil.disk_usage(probe).free


def check_disk() -> tuple[dict[str, Any], list[Finding]]:
    """Free disk in the user's models folder and the download cache."""
    from foleystudio.ml.model_bundle import user_models_dir
    from foleystudio.ml.model_install import user_cache_dir

    section: dict[str, Any] = {}
    findings: list[Finding] = []
    for name, folder in (("models", user_models_dir()), ("cache", user_cache_dir())):
        try:
            _, free = free_disk(folder)
        except OSError as exc:
            section[name] = {"path": str(folder), "error": str(exc)}
            findings.append(
                Finding(f"{folder}: cannot read free disk space ({exc})", "check the folder's permissions")
            )
            continue
        section[name] = {"path": str(folder), "free_bytes": free}
        if free < MIN_FREE_DISK:
            findings.append(
                Finding(
                    f"only {free / 2**30:.1f} GiB free for the {name} folder {folder}",
                    "free disk space there, or set FOLEYSTUDIO_USER_DIR to a folder on a larger disk",
                )
            )
    return section, findings


def check_bundles() -> tuple[dict[str, Any], list[Finding]]:
    """Every bundle found, with its sha256 integrity (every file against its manifest)."""
    from foleystudio.errors import CheckpointError
    from foleystudio.ml.model_bundle import list_bundles, model_dirs, verify_bundle

    bundles = list_bundles()
    entries: list[dict[str, Any]] = []
    findings: list[Finding] = []
    for bundle in bundles:
        entry = bundle.to_dict()
        problem = bundle.error
        if problem is None:
            try:
                verify_bundle(bundle.path)
            except CheckpointError as exc:
                problem = str(exc)
        entry["verified"] = problem is None
        if problem is not None:
            entry["error"] = problem
            if bundle.source == "packaged":
                fix = "reinstall FoleyStudio (pip install --force-reinstall foleystudio, or the app again)"
            else:
                fix = (
                    f"foleystudio models remove {bundle.name}, then import or pull it again"
                    if bundle.error is None
                    else f"delete or repair the folder {bundle.path}"
                )
            findings.append(Finding(f"model bundle {bundle.path} is unusable: {problem}", fix))
        entries.append(entry)
    if not any(e["verified"] for e in entries):
        findings.append(
            Finding(
                "no usable model bundle found",
                "reinstall FoleyStudio, or install one: foleystudio models import PATH | models pull SOURCE",
            )
        )
    section = {
        "search_path": [{"source": s, "path": str(p)} for s, p in model_dirs()],
        "bundles": entries,
    }
    return section, findings


def qt_plugins_dir() -> Path | None:
    """PySide6's ``plugins/platforms`` folder, found without importing Qt."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        for candidate in (Path(root) / "Qt" / "plugins" / "platforms", Path(root) / "plugins" / "platforms"):
            if candidate.is_dir():
                return candidate
    return None


def load_plugin(path: Path) -> str | None:
    """Try to load a Qt platform plugin's shared library; the loader's error, or None when it loads.

    Loading resolves its system libraries (``libxcb-cursor.so.0`` for xcb), which is what
    fails on a desktop missing them; nothing of Qt is started.
    """
    try:
        ctypes.CDLL(str(path))
    except OSError as exc:
        return str(exc)
    return None


def check_qt() -> tuple[dict[str, Any], list[Finding]]:
    """Qt platform plugins: offscreen (headless, tests) and the desktop one (xcb, cocoa, windows)."""
    folder = qt_plugins_dir()
    if folder is None:
        return {"error": "PySide6 is not installed"}, [
            Finding(
                "PySide6 is not installed: the app cannot open",
                "pip install -c .ci/constraints.txt PySide6-Essentials",
            )
        ]
    desktop = {"linux": "xcb", "darwin": "cocoa", "win32": "windows"}.get(sys.platform, "xcb")
    plugins: dict[str, Any] = {}
    findings: list[Finding] = []
    for name in ("offscreen", desktop, "wayland"):
        files = sorted(folder.glob(f"*q{name}.*"))
        if not files:
            plugins[name] = {"available": False, "error": "not shipped with this PySide6"}
            continue
        error = load_plugin(files[0])
        plugins[name] = {"available": error is None, "path": str(files[0]), "error": error}
    for name in ("offscreen", desktop):
        entry = plugins[name]
        if entry["available"]:
            continue
        if name == "xcb" and entry.get("path"):
            fix = f"install the X11 libraries Qt needs: {APT_QT_XCB}"
        else:
            fix = "reinstall PySide6: pip install -c .ci/constraints.txt --force-reinstall PySide6-Essentials"
        findings.append(Finding(f"Qt platform plugin '{name}' cannot load: {entry['error']}", fix))
    display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    forced = os.environ.get("QT_QPA_PLATFORM", "")
    section = {
        "plugins_dir": str(folder),
        "plugins": plugins,
        "display": display,
        "platform_override": forced,
    }
    if sys.platform.startswith("linux") and not display and not forced:
        findings.append(
            Finding(
                "no display ($DISPLAY and $WAYLAND_DISPLAY unset): `foleystudio gui` cannot open a window",
                "run the app in a desktop session (or set QT_QPA_PLATFORM=offscreen for headless use)",
            )
        )
    return section, findings
