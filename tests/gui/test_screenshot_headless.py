"""``foleystudio gui --screenshot`` works on a machine without a display, with no Qt setting."""

from __future__ import annotations

import os
import subprocess
import sys


def test_screenshot_needs_no_display_or_platform_setting(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    out = tmp_path / "shot.png"
    done = subprocess.run(
        [sys.executable, "-m", "foleystudio", "gui", "--screenshot", str(out), "--size", "800x500"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
