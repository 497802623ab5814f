"""Make the screenshots of ``docs/first_project.md`` by driving the app (offscreen-safe).

The steps are the walkthrough's: open the bundled demo clip, box the walking figure (a
keyframe each second, from the clip's ground-truth boxes, as a user would drag them),
generate four candidates for that object with the bundled model, use the best, and export
stems plus a Reaper project. Each step saves ``docs/walkthrough/NN_name.png``.

Run: ``QT_QPA_PLATFORM=offscreen .venv/bin/python docs/make_walkthrough.py [OUT_DIR]``
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from foleystudio.core.boxes import Box
from foleystudio.data.foleyworld.demo import DEMO_DIR
from foleystudio.export.options import ExportDestinations

ROOT = Path(__file__).resolve().parents[1]


class QuietPrompts:
    """Answers no dialog; an error stops the walkthrough."""

    def error(self, text: str) -> None:
        raise SystemExit(f"the app reported an error: {text}")

    def info(self, text: str) -> None:
        print(text)

    def unsaved_changes(self, name: str) -> str:
        return "discard"


def wait_until(app, done: Callable[[], bool], seconds: float) -> None:
    """Let the app run (workers, signals) until ``done()`` or the time is up."""
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for the app")
        app.processEvents()
        time.sleep(0.02)


def main() -> int:
    from foleystudio.gui.app import create_app
    from foleystudio.gui.main_window import MainWindow

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "walkthrough"
    out.mkdir(parents=True, exist_ok=True)
    app = create_app()
    window = MainWindow(audio_output=False)
    window.prompts = QuietPrompts()
    window.resize(1600, 1000)
    window.show()

    def shot(name: str) -> None:
        app.processEvents()
        window.grab().save(str(out / f"{name}.png"))
        print(out / f"{name}.png")

    doc = window.document
    window.open_path(DEMO_DIR / "demo.mp4")
    shot("01_open")

    truth = json.loads((DEMO_DIR / "demo.json").read_text())
    walker = next(s for s in truth["sources"] if s["label"] == "footsteps")
    fps = truth["fps"]
    source = doc.add_object(Box(*walker["boxes"][0]), label="footsteps")
    for frame in range(fps, len(walker["boxes"]), fps):
        doc.set_box(source.id, Box(*walker["boxes"][frame]), frame / fps)
    doc.set_playhead(2.0)
    doc.select(source_id=source.id)
    shot("02_box")

    doc.set_settings(num_candidates=4)
    window.generate("object")
    wait_until(app, lambda: bool(doc.candidates), 300)
    shot("03_candidates")

    window.use_candidate(window.candidates.current())

    with tempfile.TemporaryDirectory() as tmp:
        window.start_export(ExportDestinations(stems=Path(tmp) / "stems", rpp=Path(tmp) / "scene.rpp"))
        wait_until(app, lambda: window.last_export is not None, 300)
        shot("04_used_and_exported")
    window.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
