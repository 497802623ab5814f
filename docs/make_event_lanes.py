"""Make ``docs/event_lanes.png``: the Timeline's event lanes on the demo project (offscreen-safe).

The project is ``make_screenshot.build_demo_project``'s (the committed FoleyWorld demo clip,
its two objects with box keyframes and their reference stems, a text prompt, in/out 2–6 s).
Then, as the app does it: the event detector (``ml.event_detector.detect_events`` with the
bundled model's visual onset network) gives the picture's and each object's track, set as
one undoable command; the metal ball's events inside in/out are selected. The main window
renders off-screen and the Timeline panel is saved — detected events, not drawn ones.

Run: ``QT_QPA_PLATFORM=offscreen .venv/bin/python docs/make_event_lanes.py [OUT.png]``
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_screenshot import build_demo_project  # noqa: E402

from foleystudio.core.requests import WHOLE_PICTURE  # noqa: E402
from foleystudio.core.sources import ObjectSource  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SIZE = QSize(1600, 1100)


def detected_tracks(project) -> dict:  # noqa: ANN001
    """The picture's and each object's detected track over the whole clip."""
    import torch

    from foleystudio.ml.encoders.visual_onsets import load_from_bundle
    from foleystudio.ml.event_detector import detect_events
    from foleystudio.ml.model_bundle import load_bundle

    onset_net = load_from_bundle(load_bundle(project.settings.model, torch.device("cpu")))
    objects = {s.id: s.keyframes for s in project.sources if isinstance(s, ObjectSource)}
    whole, per_object = detect_events(
        project.video, 0.0, project.duration, objects=objects, onset_net=onset_net
    )
    return {WHOLE_PICTURE: whole.track, **{k: v.track for k, v in per_object.items()}}


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "event_lanes.png"
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from foleystudio.gui.app import create_app
    from foleystudio.gui.main_window import MainWindow

    app = create_app()
    with tempfile.TemporaryDirectory() as tmp:
        bundle = build_demo_project(Path(tmp))
        window = MainWindow(audio_output=False)
        try:
            window.open_path(bundle)
            doc = window.document
            doc.apply_detected_events(detected_tracks(doc.project))
            ball = next(s for s in doc.project.sources if isinstance(s, ObjectSource))
            inside = doc.event_track(ball.id).within(2.0, 6.0).times.tolist()
            doc.select_events(ball.id, inside[: max(len(inside) // 2, 1)])
            doc.set_playhead(3.0)
            window.resize(SIZE)
            window.show()
            QApplication.processEvents()
            window.arrange_docks()
            window.resizeDocks(
                [window.viewer_dock, window.timeline_dock], [430, 620], Qt.Orientation.Vertical
            )
            QApplication.processEvents()
            window.timeline.view.zoom_to_fit()
            window.settle()
            out.parent.mkdir(parents=True, exist_ok=True)
            if not window.timeline_dock.grab().save(str(out), "PNG"):
                print(f"cannot write {out}", file=sys.stderr)
                return 1
        finally:
            window.shutdown()
            doc.undo_stack.setClean()
            window.discard_untitled()
            window.close()
            window.deleteLater()
            app.processEvents()
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
