"""Build the one-folder desktop app with PyInstaller, lay out the Linux tarball, check it.

Usage (from the repository root, with the project's environment)::

    python installer/build.py [--tarball] [--skip-build] [--out build/installer]

Steps: make sure PyInstaller is importable (installed into ``OUT/tools`` with pip when it
is not, so the project's environment is left as it is); run ``installer/foleystudio.spec``;
put the app folder, the ``.desktop`` entry, the icons and ``install.sh`` into
``OUT/foleystudio-VERSION-linux-x86_64/``; then run ``--version``, ``doctor`` and a short
headless ``generate`` from the built folder, in a temporary folder outside the checkout.
Sizes and times go to ``OUT/build-report.json`` and are printed. Exit code 0 only when
every step worked.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYINSTALLER = "pyinstaller>=6.10"


def folder_size(path: Path) -> int:
    """Bytes of every regular file under ``path`` (links not followed)."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def ensure_pyinstaller(tools: Path) -> dict[str, str]:
    """Environment in which ``python -m PyInstaller`` works; installs it into ``tools`` if needed."""
    env = dict(os.environ)
    # The checkout first, so the build takes this tree's foleystudio, not another install's.
    paths = [str(ROOT)]
    probe = subprocess.run([sys.executable, "-c", "import PyInstaller"], capture_output=True)
    if probe.returncode != 0:
        if not (tools / "PyInstaller").is_dir():
            print(f"installing {PYINSTALLER} into {tools}", flush=True)
            subprocess.run(
                [sys.executable, "-m", "pip", "install", "-q", "--target", str(tools), PYINSTALLER],
                check=True,
            )
        paths.append(str(tools))
    env["PYTHONPATH"] = os.pathsep.join(paths + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def render_png(svg: Path, png: Path, size: int = 256) -> bool:
    """Render the SVG icon to a PNG with Qt (offscreen); False when QtSvg is unavailable."""
    code = (
        "import sys\n"
        "from PySide6.QtGui import QGuiApplication, QImage, QPainter, QColor\n"
        "from PySide6.QtSvg import QSvgRenderer\n"
        "app = QGuiApplication([])\n"
        f"image = QImage({size}, {size}, QImage.Format.Format_ARGB32)\n"
        "image.fill(QColor(0, 0, 0, 0))\n"
        "painter = QPainter(image)\n"
        "QSvgRenderer(sys.argv[1]).render(painter)\n"
        "painter.end()\n"
        "sys.exit(0 if image.save(sys.argv[2]) else 1)\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run([sys.executable, "-c", code, str(svg), str(png)], env=env, capture_output=True)
    return result.returncode == 0


def lay_out(layout: Path) -> None:
    """Add the desktop entry, icons and install script next to the app folder."""
    linux = ROOT / "installer" / "linux"
    shutil.copy2(linux / "foleystudio.desktop", layout / "foleystudio.desktop")
    shutil.copy2(linux / "install.sh", layout / "install.sh")
    (layout / "install.sh").chmod(0o755)
    shutil.copy2(ROOT / "installer" / "foleystudio.svg", layout / "foleystudio.svg")
    if not render_png(layout / "foleystudio.svg", layout / "foleystudio.png"):
        print("warning: QtSvg could not render the PNG icon; the SVG is shipped alone")
    shutil.copy2(ROOT / "installer" / "README.md", layout / "README-installer.md")


def run_checks(app: Path) -> dict[str, object]:
    """``--version``, ``doctor`` and a 2 s, 4-step ``generate`` of the demo clip, outside the checkout."""
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="foleystudio-installer-check-") as tmp:
        work = Path(tmp)
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", FOLEYSTUDIO_USER_DIR=str(work / "user"))
        env.pop("PYTHONPATH", None)
        env.pop("FOLEYSTUDIO_MODELS", None)
        video = work / "demo.mp4"
        shutil.copy2(ROOT / "resources" / "demo" / "demo.mp4", video)
        commands = {
            "version": [str(app), "--version"],
            "doctor": [str(app), "doctor", "--json"],
            "generate": [
                str(app),
                "generate",
                str(video),
                "--end",
                "2",
                "--steps",
                "4",
                "--out",
                str(work / "out"),
                "--no-video",
            ],
        }
        for name, command in commands.items():
            start = time.perf_counter()
            done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True)
            seconds = round(time.perf_counter() - start, 1)
            ok = done.returncode == 0
            entry: dict[str, object] = {"ok": ok, "seconds": seconds, "exit_code": done.returncode}
            if name == "version":
                entry["output"] = done.stdout.strip()
            elif name == "doctor" and ok:
                report = json.loads(done.stdout)
                entry["problems"] = report.get("problems", [])
                entry["bundles"] = [b["name"] for b in report["models"]["bundles"] if b.get("verified")]
                entry["portaudio"] = report["audio"].get("portaudio") or report["audio"].get("error")
                entry["qt_plugins"] = {k: v["available"] for k, v in report["qt"].get("plugins", {}).items()}
                entry["devices"] = {
                    "auto": report["devices"].get("auto"),
                    "dtype": report["devices"].get("dtype"),
                }
            elif name == "generate" and ok:
                wavs = sorted((work / "out").glob("*.wav"))
                entry["outputs"] = [p.name for p in wavs]
                entry["ok"] = ok = bool(wavs)
            if not ok:
                entry["stderr"] = done.stderr.strip().splitlines()[-5:]
            print(f"check {name}: {'ok' if ok else 'FAILED'} ({seconds} s)", flush=True)
            results[name] = entry
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "installer", help="build folder")
    parser.add_argument("--tarball", action="store_true", help="also write the .tar.gz of the layout")
    parser.add_argument("--skip-build", action="store_true", help="check an existing build only")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    import foleystudio

    machine = f"{platform.system().lower()}-{platform.machine()}"
    layout = args.out / f"foleystudio-{foleystudio.__version__}-{machine}"
    app_dir = layout / "foleystudio"
    report: dict[str, object] = {"version": foleystudio.__version__, "machine": machine}
    if not args.skip_build:
        env = ensure_pyinstaller(args.out / "tools")
        start = time.perf_counter()
        built = subprocess.run(
            [
                sys.executable,
                "-m",
                "PyInstaller",
                "--noconfirm",
                "--log-level",
                "WARN",
                "--distpath",
                str(layout),
                "--workpath",
                str(args.out / "work"),
                str(ROOT / "installer" / "foleystudio.spec"),
            ],
            cwd=ROOT,
            env=env,
        )
        report["build_seconds"] = round(time.perf_counter() - start, 1)
        if built.returncode != 0:
            print(f"PyInstaller failed (exit {built.returncode})", file=sys.stderr)
            return 1
    executable = app_dir / ("foleystudio.exe" if os.name == "nt" else "foleystudio")
    if not executable.is_file():
        print(f"{executable}: no built program; run without --skip-build", file=sys.stderr)
        return 1
    lay_out(layout)
    report["app_bytes"] = folder_size(app_dir)
    report["checks"] = run_checks(executable)
    if args.tarball:
        start = time.perf_counter()
        tarball = layout.with_name(layout.name + ".tar.gz")
        with tarfile.open(tarball, "w:gz", compresslevel=6) as tf:
            tf.add(layout, arcname=layout.name)
        report["tarball"] = str(tarball)
        report["tarball_bytes"] = tarball.stat().st_size
        report["tarball_seconds"] = round(time.perf_counter() - start, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "build-report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    checks = report["checks"]
    assert isinstance(checks, dict)
    return 0 if all(entry["ok"] for entry in checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
