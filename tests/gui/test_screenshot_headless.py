"""``foleystudio gui --screenshot`` works on a machine without a display, with no Qt setting."""

from __future__ import annotations

import os
import subprocess
import sys


def _screenshot(env: dict[str, str], out) -> subprocess.CompletedProcess:
    """Run ``foleystudio gui --screenshot OUT`` in ``env``; assert it wrote a PNG."""
    done = subprocess.run(
        [sys.executable, "-m", "foleystudio", "gui", "--screenshot", str(out), "--size", "800x500"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return done


def test_screenshot_needs_no_display_or_platform_setting(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    _screenshot(env, tmp_path / "shot.png")


def _free_display() -> int:
    """A display number with no X server socket yet."""
    for number in range(90, 200):
        if not os.path.exists(f"/tmp/.X11-unix/X{number}") and not os.path.exists(f"/tmp/.X{number}-lock"):
            return number
    raise RuntimeError("no free X display number")


def test_the_app_runs_on_a_real_x_server(tmp_path):
    """The xcb platform path (what a Linux desktop uses) under Xvfb: its libraries are present
    (libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1) and the app opens and draws a window."""
    import shutil
    import time

    import pytest

    xvfb = shutil.which("Xvfb")
    if xvfb is None:  # .ci/run installs it; a developer machine may not have it
        pytest.skip("Xvfb is not installed (apt-get install xvfb)")
    number = _free_display()
    server = subprocess.Popen(
        [xvfb, f":{number}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while not os.path.exists(f"/tmp/.X11-unix/X{number}"):
            assert server.poll() is None and time.monotonic() < deadline, "Xvfb did not start"
            time.sleep(0.1)
        env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
        env.update(DISPLAY=f":{number}", QT_QPA_PLATFORM="xcb")
        done = _screenshot(env, tmp_path / "x11.png")
        assert "xcb" not in done.stderr.lower() or "could not" not in done.stderr.lower(), done.stderr
    finally:
        server.terminate()
        server.wait(timeout=10)
