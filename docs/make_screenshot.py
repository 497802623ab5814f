"""Make ``docs/screenshot.png``: the main window on a loaded project (offscreen-safe).

The project is built from the committed FoleyWorld demo clip (``resources/demo``): its two
sound-making objects become object sources with box keyframes every second (from the
clip's ground-truth boxes), the clip's short description a text prompt, and each object's
*ground-truth* stem (FoleyWorld re-renders it deterministically) is placed on the object's
track as a clip labelled "reference stem" — real audio, not a generation. An in/out range
is set. Then ``foleystudio gui PROJECT --screenshot`` renders the window.

Run: ``QT_QPA_PLATFORM=offscreen .venv/bin/python docs/make_screenshot.py [OUT.png]``
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from foleystudio.core import commands as cmd
from foleystudio.core import project_bundle as bundles
from foleystudio.core.boxes import Box, BoxKeyframe
from foleystudio.core.media import probe
from foleystudio.core.project import Clip, Track, new_id
from foleystudio.core.sources import ObjectSource, TextSource
from foleystudio.data.foleyworld.corpus_clip import generate_from_spec
from foleystudio.data.foleyworld.demo import DEMO_DIR, DEMO_SPEC

ROOT = Path(__file__).resolve().parents[1]


def build_demo_project(folder: Path) -> Path:
    """Write the demo project bundle into ``folder``; returns the bundle path."""
    video = DEMO_DIR / "demo.mp4"
    truth = json.loads((DEMO_DIR / "demo.json").read_text())
    info = probe(video)
    project, bundle = bundles.new_bundle(folder / "demo-scene", video=video, info=info)
    clip = generate_from_spec(DEMO_SPEC)  # deterministic: the same stems as the demo's truth
    fps = truth["fps"]
    for entry in truth["sources"]:
        boxes = entry["boxes"]
        keys = tuple(BoxKeyframe(i / fps, Box(*boxes[i])) for i in range(0, len(boxes), fps))
        source = ObjectSource(new_id(), entry["label"], keys)
        track = Track(name=entry["label"], colour=project.next_colour(), source_id=source.id)
        render = bundles.store_render(bundle, clip.stems[entry["id"]], truth["sample_rate"])
        stem = Clip(
            str(render), position=0.0, duration=info.duration, label=f"{entry['label']} — reference stem"
        )
        cmd.AddSource(source).apply(project)
        cmd.AddTrack(track).apply(project)
        cmd.AddClip(track.id, stem).apply(project)
    cmd.AddSource(TextSource(new_id(), truth["text"])).apply(project)
    cmd.AddTrack(Track(name="Props", colour=project.next_colour())).apply(project)
    cmd.SetInOut(2.0, 6.0).apply(project)
    bundles.save_project(project, bundle)
    return bundle


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshot.png"
    with tempfile.TemporaryDirectory() as tmp:
        bundle = build_demo_project(Path(tmp))
        command = [sys.executable, "-m", "foleystudio", "gui", str(bundle), "--screenshot", str(out)]
        return subprocess.call(command)


if __name__ == "__main__":
    raise SystemExit(main())
