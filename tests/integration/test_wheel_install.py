"""The wheel: built from a copy of the checkout, installed into a fresh venv, run from elsewhere.

Slow (about a minute): run with ``make test-slow`` or
``python -m pytest -m slow tests/integration/test_wheel_install.py``.

The fresh venv gets the wheel with ``pip install --no-index --no-deps``. Its dependencies
(several GB with torch) are not copied again: a ``.pth`` file adds this environment's
site-packages after the venv's own, and the test checks that every requirement the wheel
declares is met there. FoleyStudio itself, its model and its demo clip must come from the
venv: nothing from the checkout is importable where the commands run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("foleystudio", "models", "resources", "pyproject.toml", "setup.py", "MANIFEST.in", "README.md")

CHECK_REQUIREMENTS = """
import sys
from importlib.metadata import PackageNotFoundError, distribution, version
from packaging.requirements import Requirement
missing = []
for text in distribution("foleystudio").requires or []:
    req = Requirement(text)
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        continue
    try:
        found = version(req.name)
    except PackageNotFoundError:
        missing.append(f"{req.name} not installed")
        continue
    if not req.specifier.contains(found, prereleases=True):
        missing.append(f"{req.name} {found} does not satisfy {req.specifier}")
print("\\n".join(missing))
sys.exit(1 if missing else 0)
"""


def _run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.slow
def test_the_wheel_installs_and_runs_outside_the_source_tree(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, source / name)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FOLEYSTUDIO_MODELS")}
    env["FOLEYSTUDIO_USER_DIR"] = str(tmp_path / "user")
    env["OMP_NUM_THREADS"] = "1"

    # Build with this environment's setuptools (no network for an isolated build env).
    dist = tmp_path / "dist"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(dist),
            str(source),
        ],
        tmp_path,
        env,
    )
    (wheel,) = dist.glob("foleystudio-*.whl")
    assert wheel.stat().st_size > 30 * 2**20, "the wheel should carry the model bundle"

    venv = tmp_path / "venv"
    _run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(venv)], tmp_path, env)
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "-q", "--no-index", "--no-deps", str(wheel)], tmp_path, env)
    site = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path, env
        ).strip()
    )
    # Dependencies from this environment, after the venv's own packages (see the docstring).
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([str(python), "-c", CHECK_REQUIREMENTS], tmp_path, env)

    work = tmp_path / "elsewhere"
    work.mkdir()
    where = _run([str(python), "-c", "import foleystudio; print(foleystudio.__file__)"], work, env)
    assert Path(where.strip()).is_relative_to(site)

    app = str(venv / "bin" / "foleystudio")
    assert _run([app, "--version"], work, env).strip().startswith("foleystudio ")
    listing = json.loads(_run([app, "models", "list", "--json"], work, env))
    packaged = [b for b in listing["bundles"] if b["source"] == "packaged"]
    assert [b["name"] for b in packaged] == ["foleyworld-tiny"]
    assert Path(packaged[0]["path"]).is_relative_to(site)
    _run([app, "models", "info", "foleyworld-tiny", "--verify"], work, env)

    video = work / "clip.mp4"
    shutil.copy2(ROOT / "resources" / "demo" / "demo.mp4", video)
    out = work / "out"
    _run(
        [app, "generate", str(video), "--end", "2", "--steps", "4", "--out", str(out), "--no-video"],
        work,
        env,
    )
    assert sorted(p.suffix for p in out.iterdir()) == [".json", ".wav"]

    # The demo finds its clip inside the installed package.
    demo = _run([app, "demo", "--candidates", "1", "--steps", "2", "--out", str(work / "demo")], work, env)
    assert str(site / "foleystudio" / "_shipped" / "demo" / "demo.mp4") in demo
    assert (work / "demo" / "export" / "mix.wav").is_file()
