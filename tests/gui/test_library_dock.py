"""The Library panel: index a folder and search in the background, then drop a result onto a
source (its audio prompt) and onto a track (placed at the playhead), each one undo step."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QDropEvent

from foleystudio.core.boxes import Box
from foleystudio.core.sources import AudioSource
from foleystudio.gui.dropping import LIBRARY_MIME, library_drop
from foleystudio.gui.timeline.geometry import TRACK_HEIGHT


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from foleystudio.train.model_bundle import random_bundle

    return random_bundle(tmp_path_factory.mktemp("models") / "gui-debug", with_ssv2a=True)


def drop_event(mime, at: QPointF) -> QDropEvent:
    return QDropEvent(
        at, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )


def test_search_then_drop_a_result_onto_a_source_and_a_track(
    window, video, make_wav, bundle, tmp_path, qtbot
) -> None:
    sounds = tmp_path / "sounds"
    sounds.mkdir()
    for i, name in enumerate(("gravel", "door", "glass")):
        make_wav(f"sounds/{name}.wav", 0.4 + 0.2 * i, 200.0 * (i + 1))
    window.open_path(video)
    doc, panel = window.document, window.library
    panel.library_dir, panel.model_name = tmp_path / "lib", str(bundle)

    with qtbot.waitSignal(panel.indexed, timeout=60000) as indexed:
        panel.add_folder(sounds)
    assert len(indexed.args[0]["added"]) == 3
    panel.query.setText("footsteps on gravel")
    with qtbot.waitSignal(panel.results_changed, timeout=60000):
        panel.search_button.click()
    assert panel.results.count() == 3 and {h.entry.name for h in panel.hits} == {
        "gravel.wav",
        "door.wav",
        "glass.wav",
    }
    assert panel.hits[0].score >= panel.hits[-1].score
    # Waveform thumbnails arrive from the peaks thread.
    qtbot.waitUntil(lambda: all(not panel.results.item(r).icon().isNull() for r in range(3)), timeout=10000)

    # Find sounds for the selected object's box at the playhead (runs on the model worker too).
    source = doc.add_object(Box(0.1, 0.3, 0.4, 0.4), "crate")
    doc.set_playhead(0.5)
    with qtbot.waitSignal(panel.results_changed, timeout=60000):
        panel.box_button.click()
    assert panel.results.count() == 3
    assert not window.prompts.errors

    # Drag the second result onto the object in the Inspector: it becomes an audio prompt.
    panel.results.setCurrentRow(1)
    hit = panel.hits[1]
    mime = panel.results.mimeData([panel.results.item(1)])
    assert library_drop(mime) == {"path": hit.entry.path, "start": hit.start}
    sources = window.inspector.sources
    row = next(
        r for r in range(sources.count()) if sources.item(r).data(Qt.ItemDataRole.UserRole) == source.id
    )
    sources.dropEvent(drop_event(mime, QPointF(sources.visualItemRect(sources.item(row)).center())))
    prompts = [s for s in doc.project.sources if isinstance(s, AudioSource)]
    assert [p.path for p in prompts] == [hit.entry.path]
    doc.undo()
    assert not any(isinstance(s, AudioSource) for s in doc.project.sources)

    # Drop it on the object's track in the timeline: placed at the playhead, not where dropped.
    view = window.timeline.view
    track = doc.project.track_for_source(source.id)
    row_top = next(r.top for r in window.timeline.scene.rows_layout if r.key == track.id)
    at = view.mapFromScene(QPointF(1.5 * window.timeline.scene.pixels_per_second, row_top + TRACK_HEIGHT / 2))
    assert mime.hasFormat(LIBRARY_MIME)
    view.dropEvent(drop_event(mime, QPointF(at)))
    (clip,) = doc.project.track_for_source(source.id).clips
    assert clip.position == pytest.approx(0.5) and clip.label == Path(hit.entry.path).stem
    doc.undo()
    assert not doc.project.track_for_source(source.id).clips

    # The buttons do the same for the selected source and track; Audition plays through playback.
    doc.select(source_id=source.id, track_id=track.id)
    panel.prompt_button.click()
    assert [s.path for s in doc.project.sources if isinstance(s, AudioSource)] == [hit.entry.path]
    panel.place_button.click()
    (clip,) = doc.project.track(track.id).clips
    assert clip.position == pytest.approx(0.5)
    with qtbot.waitSignal(panel.audition_requested, timeout=10000) as played:
        panel.play_button.click()
    audio, rate = played.args
    assert rate == 48000 and len(audio) == pytest.approx((hit.entry.duration - hit.start) * rate, abs=1)
    assert window.playback.engine.auditioning
