"""The transport: drives ``core.playback.PlaybackEngine`` from the document and moves the
playhead with the engine's audio clock (docs/architecture.md §9).

When clips change, a background thread builds the :class:`StreamLayout` the engine streams
(``export.playback_files.playback_layout``: the stems' placement rules, playback files made
once per render in the project's cache, track gain left to the mixer); gain, pan, mute and
solo changes only swap the engine's mix state. Shuttle keys
follow editors' J/K/L: L plays forward (again: faster), J backwards, K stops. ``rate`` is the
speed a plain play uses: 1, or ½ / ¼ while tapping events to picture (issue 15).
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from foleystudio.core.playback import PlaybackEngine, mix_state
from foleystudio.core.playback_stream import StreamLayout
from foleystudio.core.project import Project
from foleystudio.core.project_bundle import cache_folder
from foleystudio.core.requests import Candidate
from foleystudio.core.tapping import tap_time
from foleystudio.errors import FoleyStudioError
from foleystudio.gui.document import Document

#: How often the playhead follows the clock while playing (ms): ~60 Hz.
FOLLOW_INTERVAL_MS = 16
MAX_SHUTTLE = 8


def clip_signature(project: Project) -> tuple:
    """What the streamed layout depends on (everything except track gain/pan/mute/solo)."""
    return tuple(
        (t.id, tuple((c.id, c.render, c.position, c.duration, c.offset, c.gain_db) for c in t.clips))
        for t in project.tracks
    )


class PlaybackController(QObject):
    """Play/pause/shuttle/audition, and the playhead following the audio clock."""

    playing_changed = Signal(bool)
    layout_ready = Signal()
    _rendered = Signal(int, object)

    def __init__(self, document: Document, engine: PlaybackEngine, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.engine = engine
        self.layout = StreamLayout(sample_rate=engine.sample_rate)
        self._signature: tuple | None = None
        self._generation = 0
        self._following = False
        self._end = 0.0
        #: The speed Space / play uses (1, or a tap rate: 0.5, 0.25).
        self.rate: float = 1.0
        self._closed = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="playback-render")
        self.timer = QTimer(self)
        self.timer.setInterval(FOLLOW_INTERVAL_MS)
        self.timer.timeout.connect(self._follow)
        self._rendered.connect(self._on_rendered)
        document.changed.connect(lambda _: self.update_mix())
        document.project_replaced.connect(self._on_project)
        document.playhead_changed.connect(self._on_playhead)

    # --- mix -----------------------------------------------------------------------------
    def _on_project(self) -> None:
        self.stop()
        self._signature = None
        self.layout = StreamLayout(sample_rate=self.engine.sample_rate)
        self.update_mix()

    def update_mix(self) -> None:
        """Rebuild the streamed layout when clips changed (in the background), else just remix."""
        project = self.document.project
        signature = clip_signature(project)
        if signature != self._signature:
            self._signature = signature
            self._generation += 1
            generation = self._generation
            # Render from a copy: edits on the GUI thread must not change clips under the renderer.
            tracks = [
                dataclasses.replace(t, clips=[dataclasses.replace(c) for c in t.clips])
                for t in project.tracks
            ]
            snapshot = dataclasses.replace(project, tracks=tracks)
            cache = cache_folder(self.document.bundle_dir)
            self._executor.submit(self._render, generation, snapshot, cache)
        self._apply_mix()

    def _render(self, generation: int, project: Project, cache: Path) -> None:
        from foleystudio.export.playback_files import playback_layout

        try:
            layout = playback_layout(project, self.engine.sample_rate, cache)
        except FoleyStudioError as exc:
            self.document.message.emit(f"playback: {exc}")
            layout = StreamLayout(sample_rate=self.engine.sample_rate)
        self._rendered.emit(generation, layout)

    def _on_rendered(self, generation: int, layout: StreamLayout) -> None:
        if generation != self._generation:
            return  # a newer edit is being prepared
        self.layout = layout
        self._apply_mix()
        self.layout_ready.emit()

    def _apply_mix(self) -> None:
        project = self.document.project
        self.engine.set_state(mix_state(self.layout, project.tracks, project.audible_tracks()))

    def wait_for_layout(self, timeout: float = 10.0) -> None:
        """Block until pending layouts are built (tests, screenshots); applying them is a
        queued signal, delivered when the event loop runs. After :meth:`shutdown` there
        is nothing to wait for."""
        if self._closed:
            return
        self._executor.submit(lambda: None).result(timeout)

    # --- transport -----------------------------------------------------------------------
    @property
    def playing(self) -> bool:
        return self.engine.playing

    def set_rate(self, rate: float) -> None:
        """Make ``rate`` the play speed; while playing forwards it takes effect at once."""
        self.rate = float(rate)
        if self.engine.playing and self.engine.speed > 0:
            self.engine.set_speed(self.rate)

    def heard_time(self) -> float:
        """The media time the user hears and sees now (s): the clock less the output latency
        (scaled by the play rate) while playing; the playhead when stopped."""
        if not self.engine.playing:
            return self.document.playhead
        return tap_time(self.engine.mix_position(), self.engine.output_latency, self.engine.speed)

    def play(self, speed: float | None = None) -> None:
        if speed is None:
            speed = self.rate
        doc = self.document
        self._end = doc.project.length
        start = doc.playhead
        if speed > 0 and start >= self._end - doc.frame_duration / 2:
            start = doc.project.in_point or 0.0
        self.engine.start(start, speed)
        self.timer.start()
        self.playing_changed.emit(True)

    def stop(self) -> None:
        was = self.engine.playing
        self.engine.stop()
        self.timer.stop()
        if was:
            self._set_playhead_from_clock(self.engine.position())
            self.playing_changed.emit(False)

    def toggle(self) -> None:
        if self.engine.playing:
            self.stop()
        else:
            self.play()

    def shuttle_forward(self) -> None:
        """L: play forward; pressed again while playing forward, twice as fast."""
        if self.engine.playing and self.engine.speed > 0:
            self.engine.set_speed(min(self.engine.speed * 2, MAX_SHUTTLE))
        elif self.engine.playing:
            self.engine.set_speed(1)
        else:
            self.play(1)

    def shuttle_reverse(self) -> None:
        """J: play backwards; pressed again while reversing, twice as fast."""
        if self.engine.playing and self.engine.speed < 0:
            self.engine.set_speed(max(self.engine.speed * 2, -MAX_SHUTTLE))
        elif self.engine.playing:
            self.engine.set_speed(-1)
        else:
            self.play(-1)

    def audition(self, candidate: Candidate) -> None:
        """Play a candidate alone, placed at its time, with the picture following."""
        self.audition_sound(candidate.audio, candidate.sample_rate, candidate.start)

    def audition_sound(self, audio: np.ndarray, sample_rate: int, start: float) -> None:
        """Play mono ``audio`` alone, placed at ``start`` s, with the picture following."""
        self.stop()
        self._end = start + len(audio) / sample_rate
        self.engine.audition(audio, sample_rate, start)
        self._set_playhead_from_clock(start)
        self.timer.start()
        self.playing_changed.emit(True)

    def _follow(self) -> None:
        position = self.engine.position()
        speed = self.engine.speed
        if (speed > 0 and position >= self._end) or (speed < 0 and position <= 0.0):
            self.stop()
            self._set_playhead_from_clock(min(max(position, 0.0), self._end))
            return
        self._set_playhead_from_clock(position)

    def _set_playhead_from_clock(self, seconds: float) -> None:
        self._following = True
        try:
            self.document.set_playhead(seconds)
        finally:
            self._following = False

    def _on_playhead(self, seconds: float) -> None:
        if self.engine.playing and not self._following:
            self.engine.seek(seconds)  # the user scrubbed while playing

    def shutdown(self) -> None:
        self._closed = True
        self.timer.stop()
        self.engine.close()
        self._executor.shutdown(wait=True, cancel_futures=True)
