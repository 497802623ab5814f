"""The main window end to end: open, keys, save/reopen, recovery, prompts, screenshot, no leaks."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from foleystudio.core import project_bundle as bundles
from foleystudio.core.boxes import Box
from foleystudio.export.options import ExportDestinations, ExportOptions

pytestmark = pytest.mark.gui


def test_opening_a_video_shows_its_first_frame(window, video, qtbot) -> None:
    window.open_path(video)
    canvas = window.viewer.canvas
    qtbot.waitUntil(lambda: canvas.has_frame, timeout=5000)
    doc = window.document
    assert doc.media is not None and abs(doc.media.duration - 2.0) < 0.05
    assert doc.project.fps == 24 and doc.bundle_dir is not None and doc.bundle_dir.is_dir()
    # Frame 0 has the white square at x 0..12, y 26..38 (96×64): the picture is that frame.
    image = canvas.image
    assert (image.width(), image.height()) == (96, 64)
    assert grey(image.pixel(5, 32)) > 200 and grey(image.pixel(60, 32)) < 40
    assert "picture" in window.windowTitle()
    # The playhead moves the picture: at frame 10 the square is at x = 30.
    doc.set_playhead(10 / 24)
    qtbot.waitUntil(lambda: canvas.frame_time == pytest.approx(10 / 24), timeout=5000)
    assert grey(canvas.image.pixel(35, 32)) > 200 and grey(canvas.image.pixel(5, 32)) < 40


def grey(rgb: int) -> int:
    """Lightness (0..255) of a QRgb pixel."""
    return QColor(rgb).lightness()


def test_transport_keys_step_mark_and_play(window, video, qtbot) -> None:
    window.open_path(video)
    doc = window.document
    window.activateWindow()
    view = window.timeline.view
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_Right)
    QTest.keyClick(view, Qt.Key.Key_Right)
    assert doc.playhead == pytest.approx(2 / 24)
    QTest.keyClick(view, Qt.Key.Key_I)
    QTest.keyClick(view, Qt.Key.Key_L)  # play forwards (silent clock without a device)
    qtbot.waitUntil(lambda: doc.playhead > 0.3, timeout=3000)
    QTest.keyClick(view, Qt.Key.Key_K)
    assert not window.playback.playing
    QTest.keyClick(view, Qt.Key.Key_O)
    assert doc.project.in_point == pytest.approx(2 / 24)
    assert doc.project.out_point == pytest.approx(doc.playhead)
    QTest.keyClick(view, Qt.Key.Key_Left)
    assert doc.playhead < doc.project.out_point
    QTest.keyClick(view, Qt.Key.Key_Space)
    assert window.playback.playing
    QTest.keyClick(view, Qt.Key.Key_Space)
    assert not window.playback.playing
    QTest.keyClick(view, Qt.Key.Key_N)
    assert window.timeline.scene.snapping is False
    QTest.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo the out point
    assert doc.project.out_point is None and doc.project.in_point == pytest.approx(2 / 24)
    QTest.keyClick(
        view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert doc.project.out_point is not None


def test_save_reopen_and_crash_recovery(window, video, tmp_path, qtbot) -> None:
    window.open_path(video)
    doc = window.document
    untitled = doc.bundle_dir
    doc.set_playhead(0.5)
    source = doc.add_object(Box(0.1, 0.2, 0.3, 0.4), label="ball")
    doc.add_text("wooden ball bouncing")
    assert doc.dirty
    window.prompts.save_as_path = tmp_path / "scene"
    window.act_save.trigger()  # Ctrl+S on an untitled project asks where
    assert not doc.dirty and doc.bundle_dir == tmp_path / "scene.foley" and doc.has_location
    # Undo still works after the move (the scratch bundle goes when the document is left).
    doc.undo()
    doc.redo()
    assert untitled.exists()
    saved = doc.project.to_dict()

    # An edit autosaved but never saved, then the app "crashes" (a new window opens it).
    doc.set_box(source.id, Box(0.5, 0.5, 0.2, 0.2), time=1.0)
    window.autosave()
    assert bundles.has_recovery(doc.bundle_dir)
    edited = doc.project.to_dict()

    from foleystudio.gui.main_window import MainWindow
    from tests.gui.conftest import ScriptedPrompts

    other = MainWindow(audio_output=False)
    qtbot.addWidget(other)
    other.prompts = ScriptedPrompts()
    other.open_path(tmp_path / "scene.foley")
    assert other.prompts.asked == ["recover"]
    assert other.document.project.to_dict() == edited and other.document.dirty
    other.prompts.recover_answer = False
    other.document.undo_stack.setClean()
    other.open_path(tmp_path / "scene.foley")  # declined: the saved version, autosave gone
    assert other.document.project.to_dict() == saved
    assert not bundles.has_recovery(tmp_path / "scene.foley")
    other.shutdown()
    window.open_path(video)
    assert not untitled.exists()


def test_unsaved_changes_prompt_can_cancel_closing(window, video) -> None:
    window.open_path(video)
    window.document.add_text("rain")
    window.prompts.unsaved_answer = "cancel"
    assert not window.close()
    assert window.isVisible() and window.prompts.asked == ["unsaved"]
    window.prompts.unsaved_answer = "discard"
    bundle = window.document.bundle_dir
    assert window.close()
    assert not bundle.exists()  # a discarded untitled project leaves nothing behind


def test_bad_video_gives_a_clear_error_and_changes_nothing(window, video, tmp_path) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_text("not a video")
    window._run(lambda: window.open_path(bad))
    assert len(window.prompts.errors) == 1 and "broken.mp4" in window.prompts.errors[0]
    assert window.document.bundle_dir is None
    # With a project open, a bad file leaves it (and its untitled bundle) as it was.
    window.open_path(video)
    bundle = window.document.bundle_dir
    window._run(lambda: window.open_path(bad))
    assert len(window.prompts.errors) == 2
    assert window.document.bundle_dir == bundle and bundle.is_dir()
    # Opening another video leaves the unsaved untitled bundle behind: it is removed.
    window.open_path(video)
    assert not bundle.exists() and window.document.bundle_dir.is_dir()


def test_generate_without_engine_says_so_plainly(window, video, monkeypatch) -> None:
    window.open_path(video)
    import foleystudio.gui.main_window as mw

    monkeypatch.setattr(mw, "ENGINE_MODULE", "foleystudio.ml.no_such_engine")
    window.act_generate.trigger()
    assert window.prompts.errors and "Generation is unavailable" in window.prompts.errors[0]
    assert not window.jobs.jobs


def test_no_top_level_widgets_leak_after_closing(qtbot, video) -> None:
    from foleystudio.gui.app import create_app
    from foleystudio.gui.main_window import MainWindow
    from tests.gui.conftest import ScriptedPrompts

    app = create_app()
    before = {id(w) for w in app.topLevelWidgets()}
    win = MainWindow(audio_output=False)
    win.prompts = ScriptedPrompts()
    win.show()
    win.open_path(video)
    win.document.add_text("steps")
    win.inspector.plot.set_params(0.3, 0.4)
    assert win.close()
    win.deleteLater()
    del win
    for _ in range(3):
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
        app.processEvents()
        gc.collect()  # pyqtgraph's parentless menus go with their plot items
    leaked = [w for w in app.topLevelWidgets() if id(w) not in before]
    assert not leaked, [type(w).__name__ for w in leaked]


def test_cli_screenshot_writes_a_png(video, tmp_path) -> None:
    from foleystudio.cli import main

    out = tmp_path / "shot.png"
    assert main(["gui", str(video), "--screenshot", str(out), "--size", "1200x760"]) == 0
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    from PySide6.QtGui import QImage

    image = QImage(str(out))
    assert (image.width(), image.height()) == (1200, 760)
    # Not a blank image: the dark UI has many distinct colours.
    pixels = {image.pixel(x, y) for x in range(0, 1200, 37) for y in range(0, 760, 29)}
    assert len(pixels) > 8


def test_cli_gui_rejects_a_missing_file(tmp_path, capsys) -> None:
    from foleystudio.cli import main

    assert main(["gui", str(tmp_path / "nope.mp4"), "--screenshot", str(tmp_path / "x.png")]) == 2
    assert "nope.mp4" in capsys.readouterr().err


def test_export_runs_in_a_worker_and_writes_stems_and_mix(window, video, make_wav, tmp_path, qtbot) -> None:
    window.open_path(video)
    doc = window.document
    doc.import_audio_clip(make_wav("hit.wav", 0.5), None, 0.25)
    window.prompts.export_answer = (
        ExportDestinations(stems=tmp_path / "stems", mix=tmp_path / "mix.wav"),
        ExportOptions(sample_rate=48000, bits=24),
    )
    window.act_export.trigger()
    qtbot.waitUntil(lambda: window.last_export is not None or bool(window.prompts.errors), timeout=20000)
    assert not window.prompts.errors, window.prompts.errors
    assert (tmp_path / "mix.wav").is_file() and len(list((tmp_path / "stems").glob("*.wav"))) == 1
    import soundfile as sf

    mix, rate = sf.read(tmp_path / "mix.wav")
    assert rate == 48000 and len(mix) == round(doc.project.length * 48000)
    onset = np.argmax(np.abs(mix[:, 0]) > 1e-4)
    assert abs(onset - 0.25 * 48000) <= 2


def test_status_bar_shows_a_running_job_and_its_cancel_button_stops_it(window, qtbot) -> None:
    import threading

    started = threading.Event()
    outcome: list[str] = []

    def slow_job(progress, cancel) -> str:
        for i in range(500):
            progress(i / 500, f"step {i}")
            started.set()
            cancel.raise_if_cancelled()
            threading.Event().wait(0.01)
        return "finished"

    window.jobs.submit(
        "Test job", slow_job, on_done=outcome.append, on_cancelled=lambda: outcome.append("cancelled")
    )
    qtbot.waitUntil(lambda: window.job_label.text().startswith("Test job: step"), timeout=5000)
    assert window.job_cancel.isVisible() and window.job_progress.isVisible()
    window.job_cancel.click()
    qtbot.waitUntil(lambda: outcome == ["cancelled"], timeout=5000)
    qtbot.waitUntil(lambda: not window.jobs.jobs, timeout=5000)
    assert not window.job_cancel.isVisible()
    assert window.device_label.text().startswith("Device:") and window.model_label.text().startswith("Model:")
