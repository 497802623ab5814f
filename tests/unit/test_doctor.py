"""``foleystudio doctor``: every check's problem path gives one problem and one fix."""

from __future__ import annotations

import json
import shutil
from collections import namedtuple
from pathlib import Path
from typing import Any

import pytest

from foleystudio.cli import doctor_checks as checks
from foleystudio.cli import main
from foleystudio.cli.doctor import collect


@pytest.fixture
def bundles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(user models folder, packaged folder), isolated, each with one small bundle."""
    import torch

    import foleystudio.ml.model_bundle as checkpoints
    from foleystudio.ml.model_bundle import save_bundle

    monkeypatch.delenv("FOLEYSTUDIO_MODELS", raising=False)
    monkeypatch.setenv("FOLEYSTUDIO_USER_DIR", str(tmp_path / "user"))
    user, packaged = tmp_path / "user" / "models", tmp_path / "packaged"
    save_bundle(user / "mine", "mine", {"a": {"w": torch.ones(4)}}, {})
    save_bundle(packaged / "shipped", "shipped", {"a": {"w": torch.ones(4)}}, {})
    monkeypatch.setattr(checkpoints, "packaged_models_dir", lambda: packaged)
    return user, packaged


def fixes_for(findings: list[checks.Finding], text: str) -> list[str]:
    return [f.fix for f in findings if text in f.problem]


def test_the_report_pairs_each_problem_with_a_fix(
    bundles: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"devices", "audio", "disk", "models", "qt", "problems", "fixes"} <= set(report)
    assert len(report["problems"]) == len(report["fixes"])
    assert all(b["verified"] for b in report["models"]["bundles"])
    assert report["devices"]["cpu"]["dtype"] == "float32"
    assert report["qt"]["plugins"]["offscreen"]["available"] is True  # the tests run on it
    assert set(report["disk"]) == {"models", "cache"}
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "qt platform plugins:" in out and "disk:" in out and "sha256 ok" in out
    assert out.count("    fix: ") == len(report["problems"])


def test_a_broken_torch_and_an_unusable_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    import foleystudio.ml.device as device

    def broken() -> dict[str, Any]:
        raise OSError("libtorch_cuda.so: cannot open shared object file")

    monkeypatch.setattr(device, "describe_devices", broken)
    section, findings = checks.check_devices()
    assert "error" in section and "reinstall" in fixes_for(findings, "torch cannot be used")[0]

    def cpu_only() -> dict[str, Any]:
        return {
            "cpu": {"threads": 1, "dtype": "float32"},
            "cuda": {"available": False, "built_with": None, "devices": []},
            "mps": {"available": False},
            "auto": "cpu",
            "dtype": "float32",
        }

    monkeypatch.setattr(device, "describe_devices", cpu_only)
    monkeypatch.setattr(checks, "nvidia_gpu_present", lambda: True)
    _, findings = checks.check_devices()
    assert "CUDA build of torch" in fixes_for(findings, "CPU-only build")[0]

    def busy_gpu() -> dict[str, Any]:
        info = cpu_only()
        info["cuda"] = {
            "available": True,
            "built_with": "13.0",
            "devices": [{"index": 0, "name": "GPU", "memory_gib": 8.0, "free_gib": 0.3, "dtype": "bfloat16"}],
        }
        return info

    monkeypatch.setattr(device, "describe_devices", busy_gpu)
    _, findings = checks.check_devices()
    assert "--device cpu" in fixes_for(findings, "0.3 GiB of free memory")[0]


def test_no_portaudio_and_no_output_device(monkeypatch: pytest.MonkeyPatch) -> None:
    import sounddevice

    def missing() -> None:
        raise OSError("PortAudio library not found")

    monkeypatch.setattr(sounddevice, "query_devices", missing)
    section, findings = checks.check_audio()
    assert section["ok"] is False
    assert "libportaudio2" in fixes_for(findings, "audio playback unavailable")[0]

    monkeypatch.setattr(sounddevice, "query_devices", lambda: [])
    section, findings = checks.check_audio()
    assert section["devices"] == [] and "output device" in fixes_for(findings, "no output device")[0]

    device = {
        "name": "Speakers",
        "max_output_channels": 2,
        "default_samplerate": 48000.0,
        "default_low_output_latency": 0.0087,
        "default_high_output_latency": 0.0348,
    }
    monkeypatch.setattr(sounddevice, "query_devices", lambda: [device])
    section, findings = checks.check_audio()
    assert findings == [] and section["devices"][0]["latency_low_ms"] == 8.7


def test_low_disk_space(bundles: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10 * 2**30, 10 * 2**30 - 2**28, 2**28))
    section, findings = checks.check_disk()
    assert section["cache"]["free_bytes"] == 2**28  # the cache folder does not exist yet: its parent's disk
    assert len(findings) == 2
    assert all("FOLEYSTUDIO_USER_DIR" in f.fix for f in findings)


def test_tampered_and_missing_bundles(bundles: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    user, packaged = bundles
    (user / "mine" / "a.safetensors").write_bytes(b"tampered")
    (packaged / "shipped" / "a.safetensors").unlink()
    section, findings = checks.check_bundles()
    assert [b["verified"] for b in section["bundles"]] == [False, False]
    assert fixes_for(findings, "mine")[0].startswith("foleystudio models remove mine")
    assert "reinstall FoleyStudio" in fixes_for(findings, "shipped")[0]
    assert "models import" in fixes_for(findings, "no usable model bundle")[0]

    report = collect()
    assert any("sha256 does not match" in p for p in report["problems"])


def test_qt_plugins_that_cannot_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        checks,
        "load_plugin",
        lambda path: None if "offscreen" in path.name else "libxcb-cursor.so.0: cannot open",
    )
    monkeypatch.setattr(checks.sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    section, findings = checks.check_qt()
    assert section["plugins"]["offscreen"]["available"] is True
    assert section["plugins"]["xcb"]["available"] is False
    assert "libxcb-cursor0" in fixes_for(findings, "'xcb' cannot load")[0]
    assert "desktop session" in fixes_for(findings, "no display")[0]

    monkeypatch.setattr(checks, "qt_plugins_dir", lambda: None)
    section, findings = checks.check_qt()
    assert "PySide6-Essentials" in fixes_for(findings, "PySide6 is not installed")[0]
