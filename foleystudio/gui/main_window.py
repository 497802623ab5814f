"""The main window: dockable Viewer, Timeline, Inspector and Candidates; menus, keys, status
bar, jobs, autosave and the safety prompts (docs/architecture.md §9, §11).

Everything here wires widgets to the document, the playback controller and background
jobs; the edits themselves are document methods over ``core`` commands.
"""

from __future__ import annotations

import copy
import importlib.util
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QToolButton,
    QWidget,
)

from foleystudio import __version__
from foleystudio.core import project_bundle as bundles
from foleystudio.core.events import describe_detector, detection_advice
from foleystudio.core.paths import user_dir
from foleystudio.core.playback import PlaybackEngine
from foleystudio.core.project_requests import build_request
from foleystudio.core.proxy import build_proxy, wants_proxy
from foleystudio.core.requests import WHOLE_PICTURE, Candidate
from foleystudio.core.tapping import TAP_RATES
from foleystudio.errors import FoleyStudioError, UsageError
from foleystudio.export.options import ExportDestinations, ExportOptions
from foleystudio.gui.candidates import CandidatesPanel
from foleystudio.gui.dialogs import SHORTCUTS_HELP, Prompts
from foleystudio.gui.document import Document
from foleystudio.gui.dropping import dropped_paths, kind_of
from foleystudio.gui.generation import ENGINE_MODULE, DetectedTracks, EngineHolder, detect_source_events
from foleystudio.gui.inspector import Inspector
from foleystudio.gui.library_dock import LibraryPanel
from foleystudio.gui.playback_control import PlaybackController
from foleystudio.gui.timeline import TimelinePanel
from foleystudio.gui.viewer import ViewerPanel
from foleystudio.gui.workers import Job, JobManager

if TYPE_CHECKING:
    from foleystudio.export import ExportResult

#: Autosave period while there are unsaved edits (ms).
AUTOSAVE_INTERVAL_MS = 60_000
DEFAULT_SIZE = QSize(1600, 1000)


class MainWindow(QMainWindow):
    """The application window around one :class:`Document`."""

    def __init__(self, audio_output: bool = True, autosave_ms: int = AUTOSAVE_INTERVAL_MS) -> None:
        super().__init__()
        self.setObjectName("FoleyStudioMainWindow")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self.document = Document(self)
        self.prompts = Prompts(self)
        self.jobs = JobManager(self)
        self._proxy_job: Job | None = None
        self.engines = EngineHolder()
        self.audio = PlaybackEngine(open_device=audio_output)
        self.playback = PlaybackController(self.document, self.audio, self)
        self.last_export: ExportResult | None = None
        #: The options of the last export this session: the next Export dialog starts from them.
        self.export_settings = ExportOptions()
        #: Untitled bundles to delete once the document no longer refers to them.
        self._leftovers: list[Path] = []

        self.viewer = ViewerPanel(self.document)
        self.timeline = TimelinePanel(self.document)
        self.inspector = Inspector(self.document)
        self.candidates = CandidatesPanel(self.document)
        self.library = LibraryPanel(self.document, self.jobs)
        self._build_docks()
        self._build_actions()
        self._build_menus()
        self._build_status_bar()
        self._wire()

        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(autosave_ms)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()
        self.resize(DEFAULT_SIZE)
        self._update_title()
        self._update_actions()

    # --- layout --------------------------------------------------------------------------
    def _dock(self, title: str, name: str, widget: QWidget) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        return dock

    def _build_docks(self) -> None:
        placeholder = QWidget()
        self.setCentralWidget(placeholder)
        placeholder.hide()  # every panel is a dock, as in an NLE; a hidden centre lets them fill
        self.viewer_dock = self._dock("Viewer", "viewer", self.viewer)
        self.candidates_dock = self._dock("Candidates", "candidates", self.candidates)
        self.inspector_dock = self._dock("Inspector", "inspector", self.inspector)
        self.timeline_dock = self._dock("Timeline", "timeline", self.timeline)
        self.library_dock = self._dock("Library", "library", self.library)
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.viewer_dock)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.inspector_dock)
        self.splitDockWidget(self.viewer_dock, self.candidates_dock, Qt.Orientation.Horizontal)
        self.tabifyDockWidget(self.candidates_dock, self.library_dock)
        self.candidates_dock.raise_()
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.timeline_dock)
        self._docks_arranged = False

    def arrange_docks(self) -> None:
        """Default proportions: picture large, timeline below, candidates and inspector right."""
        width, height = self.width(), self.height()
        self.resizeDocks(
            [self.viewer_dock, self.candidates_dock, self.inspector_dock],
            [round(width * 0.5), round(width * 0.27), round(width * 0.23)],
            Qt.Orientation.Horizontal,
        )
        self.resizeDocks(
            [self.viewer_dock, self.timeline_dock],
            [round(height * 0.58), round(height * 0.36)],
            Qt.Orientation.Vertical,
        )
        self._docks_arranged = True

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._docks_arranged:
            self.arrange_docks()

    def _action(
        self, text: str, slot: Any, shortcut: str | QKeySequence | list | None = None, tip: str = ""
    ) -> QAction:
        action = QAction(text, self)
        if isinstance(shortcut, list):
            action.setShortcuts([QKeySequence(s) for s in shortcut])
        elif shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(lambda *_: self._run(slot))
        self.addAction(action)  # so its key works even when its menu is hidden
        return action

    def _run(self, slot: Any) -> None:
        """Run a user action, turning a FoleyStudioError into a dialog."""
        try:
            slot()
        except FoleyStudioError as exc:
            self.prompts.error(str(exc))

    def _build_actions(self) -> None:
        d = self.document
        self.act_open_video = self._action(
            "Open &Video…", self.choose_video, QKeySequence.StandardKey.Open, "Start a project on a video"
        )
        self.act_open_project = self._action("Open &Project…", self.choose_project, "Ctrl+Shift+O")
        self.act_save = self._action("&Save", self.save, QKeySequence.StandardKey.Save)
        self.act_save_as = self._action("Save &As…", self.save_as, "Ctrl+Shift+S")
        self.act_import_audio = self._action("&Import Audio to Track…", self.import_audio, "Ctrl+Shift+I")
        self.act_quit = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit)

        self.act_undo = d.undo_stack.createUndoAction(self, "&Undo")
        self.act_undo.setShortcut(QKeySequence("Ctrl+Z"))
        self.act_redo = d.undo_stack.createRedoAction(self, "&Redo")
        self.act_redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.addAction(self.act_undo)
        self.addAction(self.act_redo)
        self.act_delete = self._action(
            "&Delete", self.delete_selection, [QKeySequence.StandardKey.Delete, "Backspace"]
        )
        self.act_split = self._action("S&plit at Playhead", self.split, "S")
        self.act_in = self._action("Mark &In", d.mark_in, "I")
        self.act_out = self._action("Mark &Out", d.mark_out, "O")
        self.act_clear_in_out = self._action("&Clear In/Out", lambda: d.set_in_out(None, None), "Alt+X")
        self.act_add_track = self._action("Add &Track", d.add_track)

        self.act_generate = self._action("&Generate", lambda: self.generate("all"), "Ctrl+G")
        self.act_regen_object = self._action("Regenerate &Object", lambda: self.generate("object"))
        self.act_regen_range = self._action("Regenerate &Range", lambda: self.generate("range"))
        self.act_detect_events = self._action(
            "&Detect Events",
            lambda: self.detect_events(),
            "Ctrl+Shift+D",
            "Detect the events of the picture and every object (in the in/out range if set, else the "
            "whole clip); edit them in the event lanes",
        )
        self.act_tap_mode = self._action(
            "&Tap Events",
            lambda: self.set_tap_mode(self.act_tap_mode.isChecked()),
            "Shift+T",
            "Tap to picture: play at the tap rate and press T on each event of the selected "
            "object (or the whole picture)",
        )
        self.act_tap_mode.setCheckable(True)
        self.act_tap = self._action("Tap Event Here (T)", self.tap, "T")
        self.act_tap.setEnabled(False)
        self.tap_rate_group = QActionGroup(self)
        self.act_tap_rates: dict[float, QAction] = {}
        for rate, text in zip(TAP_RATES, ("1×", "½×", "¼×"), strict=True):
            action = self._action(f"Tap Rate {text}", lambda r=rate: self.set_tap_rate(r))
            action.setCheckable(True)
            action.setChecked(rate == 1.0)
            self.tap_rate_group.addAction(action)
            self.act_tap_rates[rate] = action
        self.tap_rate = 1.0
        self.tap_target: str | None = None
        self.act_cancel_jobs = self._action("&Cancel Running Jobs", self.jobs.cancel_all, "Ctrl+.")
        self.act_export = self._action("&Export…", self.export, "Ctrl+E")

        self.act_play = self._action("&Play / Pause", self.playback.toggle, "Space")
        self.act_shuttle_back = self._action("Play &Backwards (J)", self.playback.shuttle_reverse, "J")
        self.act_stop = self._action("&Stop (K)", self.playback.stop, "K")
        self.act_shuttle_fwd = self._action("Play &Forwards (L)", self.playback.shuttle_forward, "L")
        self.act_prev_frame = self._action("Previous Frame", lambda: self._step(-1), "Left")
        self.act_next_frame = self._action("Next Frame", lambda: self._step(1), "Right")
        self.act_home = self._action("Go to Start", lambda: d.set_playhead(0.0), "Home")
        self.act_end = self._action("Go to End", lambda: d.set_playhead(d.length), "End")
        self.act_zoom_in = self._action(
            "Zoom &In", lambda: self.timeline.view.zoom_by(1.25), ["+", "=", "Ctrl++"]
        )
        self.act_zoom_out = self._action(
            "Zoom &Out", lambda: self.timeline.view.zoom_by(0.8), ["-", "Ctrl+-"]
        )
        self.act_zoom_fit = self._action("Zoom to &Fit", self.timeline.view.zoom_to_fit, "Shift+Z")
        self.act_snap = self._action(
            "&Snapping", lambda: self.timeline.set_snapping(self.act_snap.isChecked()), "N"
        )
        self.act_snap.setCheckable(True)
        self.act_snap.setChecked(True)
        self.act_shortcuts = self._action("&Keyboard Shortcuts", lambda: self.prompts.info(SHORTCUTS_HELP))
        self.act_about = self._action("&About FoleyStudio", self.about)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        for a in (
            self.act_open_video,
            self.act_open_project,
            None,
            self.act_save,
            self.act_save_as,
            None,
            self.act_import_audio,
            None,
            self.act_quit,
        ):
            file_menu.addSeparator() if a is None else file_menu.addAction(a)
        edit = bar.addMenu("&Edit")
        for a in (
            self.act_undo,
            self.act_redo,
            None,
            self.act_delete,
            self.act_split,
            None,
            self.act_in,
            self.act_out,
            self.act_clear_in_out,
            None,
            self.act_add_track,
        ):
            edit.addSeparator() if a is None else edit.addAction(a)
        generate = bar.addMenu("&Generate")
        for a in (
            self.act_generate,
            self.act_regen_object,
            self.act_regen_range,
            None,
            self.act_detect_events,
            self.act_tap_mode,
            self.act_tap,
            None,
            self.act_cancel_jobs,
        ):
            generate.addSeparator() if a is None else generate.addAction(a)
        rates = generate.addMenu("Tap &Rate")
        rates.addActions(list(self.act_tap_rates.values()))
        export = bar.addMenu("E&xport")
        export.addAction(self.act_export)
        view = bar.addMenu("&View")
        for a in (
            self.act_play,
            self.act_shuttle_back,
            self.act_stop,
            self.act_shuttle_fwd,
            self.act_prev_frame,
            self.act_next_frame,
            self.act_home,
            self.act_end,
            None,
            self.act_zoom_in,
            self.act_zoom_out,
            self.act_zoom_fit,
            self.act_snap,
            None,
        ):
            view.addSeparator() if a is None else view.addAction(a)
        for dock in (
            self.viewer_dock,
            self.timeline_dock,
            self.inspector_dock,
            self.candidates_dock,
            self.library_dock,
        ):
            view.addAction(dock.toggleViewAction())
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.act_shortcuts)
        help_menu.addAction(self.act_about)

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.audio_label = QLabel()
        self.device_label = QLabel()
        self.model_label = QLabel()
        self.job_label = QLabel()
        self.tap_label = QLabel()
        self.tap_label.setVisible(False)
        self.job_progress = QProgressBar()
        self.job_progress.setRange(0, 1000)
        self.job_progress.setFixedWidth(160)
        self.job_progress.setTextVisible(False)
        self.job_cancel = QToolButton()
        self.job_cancel.setText("Cancel")
        self.job_cancel.clicked.connect(self.jobs.cancel_all)
        status.addWidget(self.tap_label)
        for w in (
            self.job_label,
            self.job_progress,
            self.job_cancel,
            self.audio_label,
            self.device_label,
            self.model_label,
        ):
            status.addPermanentWidget(w)
        if self.audio.available:
            self.audio_label.setText(f"Audio: {self.audio.sample_rate / 1000:g} kHz")
        else:
            self.audio_label.setText("Audio: off")
            self.audio_label.setToolTip(self.audio.unavailable_reason)
            status.showMessage(f"Playback is silent: {self.audio.unavailable_reason}", 10000)
        self._update_engine_labels()
        self._update_jobs()

    def _wire(self) -> None:
        d = self.document
        d.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        d.error.connect(lambda text: self.prompts.error(text))
        d.dirty_changed.connect(lambda _: self._update_title())
        d.project_replaced.connect(self._on_project_replaced)
        d.selection_changed.connect(self._update_actions)
        d.changed.connect(lambda _: self._update_actions())
        d.playhead_changed.connect(self._on_playhead)
        self.jobs.jobs_changed.connect(self._update_jobs)
        self.viewer.play_toggled.connect(self.playback.toggle)
        self.playback.playing_changed.connect(self.viewer.set_playing)
        self.inspector.generate_requested.connect(lambda mode: self._run(lambda: self.generate(mode)))
        self.candidates.audition_requested.connect(self.audition)
        self.library.audition_requested.connect(
            lambda audio, rate: self.playback.audition_sound(audio, rate, self.document.playhead)
        )
        self.candidates.use_requested.connect(lambda c: self._run(lambda: self.use_candidate(c)))
        self.candidates.more_requested.connect(lambda c: self._run(lambda: self.more_like_this(c)))
        self.timeline.view.video_dropped.connect(lambda p: self._run(lambda: self.open_path(p)))
        self.timeline.snap_button.toggled.connect(self.act_snap.setChecked)
        self.timeline.event_action.connect(
            lambda target, action: self._run(lambda: self.event_action(target, action))
        )

    # --- state display -------------------------------------------------------------------
    def _update_title(self) -> None:
        d = self.document
        name = d.project.name if d.bundle_dir is not None else "No project"
        self.setWindowTitle(f"{name}[*] — FoleyStudio")
        self.setWindowModified(d.dirty)

    def _update_actions(self) -> None:
        d = self.document
        has_project = d.bundle_dir is not None
        has_video = d.media is not None
        for a in (
            self.act_save,
            self.act_save_as,
            self.act_import_audio,
            self.act_export,
            self.act_add_track,
        ):
            a.setEnabled(has_project)
        for a in (self.act_generate, self.act_regen_object, self.act_regen_range, self.act_detect_events):
            a.setEnabled(has_video)
        self.act_tap_mode.setEnabled(has_video or self.act_tap_mode.isChecked())
        self.act_delete.setEnabled(bool(d.selected_clip_id or d.selected_source_id or d.selected_event_times))

    def _update_engine_labels(self) -> None:
        device, model = self.engines.describe()
        settings = self.document.project.settings
        self.device_label.setText(f"Device: {device if device != '—' else settings.device}")
        self.model_label.setText(
            f"Model: {model if model != 'not loaded' else settings.model + ' (not loaded)'}"
        )

    def _update_jobs(self) -> None:
        jobs = self.jobs.jobs
        running = bool(jobs)
        for w in (self.job_label, self.job_progress, self.job_cancel):
            w.setVisible(running)
        if running:
            job = jobs[0]
            more = f" (+{len(jobs) - 1})" if len(jobs) > 1 else ""
            self.job_label.setText(f"{job.name}: {job.message}{more}")
            self.job_progress.setValue(round(job.fraction * 1000))

    def _on_project_replaced(self) -> None:
        self.set_tap_mode(False)
        self._update_title()
        self._update_actions()
        self._update_engine_labels()
        self._start_proxy()
        QTimer.singleShot(0, self.timeline.view, self.timeline.view.zoom_to_fit)

    def _start_proxy(self) -> None:
        """Build (or find) the video's scrubbing proxy in the background (core/proxy.py);
        the viewer scrubs from it once ready. A new project cancels the previous build."""
        self._stop_proxy()
        d = self.document
        if d.media is None or not d.project.video or not wants_proxy(d.media):
            return
        video, cache = d.project.video, bundles.cache_folder(d.bundle_dir)

        def done(path: Path) -> None:
            if d.media is not None and d.project.video == video:
                self.viewer.set_proxy(path)

        self._proxy_job = self.jobs.submit(
            "Scrubbing proxy",
            lambda progress, cancel: build_proxy(video, cache, progress, cancel),
            on_done=done,
            on_failed=lambda text: self.statusBar().showMessage(f"scrubbing proxy: {text}", 8000),
        )

    def _stop_proxy(self) -> None:
        """Cancel a proxy build and wait for it, so it writes nothing into a bundle about to
        be deleted."""
        if self._proxy_job is not None:
            self.jobs.stop(self._proxy_job)
            self._proxy_job = None

    def _on_playhead(self, _: float) -> None:
        if self.playback.playing:
            self.timeline.view.ensure_playhead_visible()

    # --- tap to picture (issue 15) ------------------------------------------------------------
    def set_tap_mode(self, on: bool) -> None:
        """Tap mode: plain play runs at the tap rate and T adds an event to the source that
        was selected when the mode began (an object, else the whole picture)."""
        if on:
            try:
                self.tap_target = self.document.tap_target()
            except FoleyStudioError:
                self.act_tap_mode.setChecked(False)
                raise
        else:
            self.tap_target = None
        self.act_tap_mode.setChecked(on)
        self.act_tap.setEnabled(on)
        self.playback.set_rate(self.tap_rate if on else 1.0)
        self._update_tap_label()

    def set_tap_rate(self, rate: float) -> None:
        self.tap_rate = float(rate)
        self.act_tap_rates[self.tap_rate].setChecked(True)
        if self.tap_target is not None:
            self.playback.set_rate(self.tap_rate)
        self._update_tap_label()

    def _update_tap_label(self) -> None:
        on = self.tap_target is not None
        self.tap_label.setVisible(on)
        if on:
            rate = self.act_tap_rates[self.tap_rate].text().removeprefix("Tap Rate ")
            label = self.document.event_label(self.tap_target)
            self.tap_label.setText(f"● Tapping {label} at {rate}: press T on each event")

    def tap(self) -> None:
        """T in tap mode: an event where the user heard/saw it (latency-compensated clock),
        on a frame while snapping is on; one undo step per tap."""
        if self.tap_target is None:
            return
        self.document.tap_event(self.tap_target, self.playback.heard_time(), self.timeline.scene.snapping)

    def _step(self, frames: int) -> None:
        self.playback.stop()
        self.document.step_frames(frames)

    # --- files ---------------------------------------------------------------------------
    def maybe_save(self) -> bool:
        """Ask about unsaved edits; False means the user cancelled."""
        d = self.document
        if not d.dirty:
            return True
        answer = self.prompts.unsaved_changes(d.project.name)
        if answer == "cancel":
            return False
        if answer == "save":
            try:
                return self.save()
            except FoleyStudioError as exc:
                self.prompts.error(str(exc))
                return False
        if d.bundle_dir is not None:
            bundles.discard_recovery(d.bundle_dir)
        return True

    def untitled_bundle(self) -> Path | None:
        """The current bundle if it is an untitled one in the user folder (never saved)."""
        d = self.document
        if d.bundle_dir is not None and not d.has_location and d.bundle_dir.parent == user_dir() / "untitled":
            return d.bundle_dir
        return None

    def discard_untitled(self) -> None:
        """Delete the current untitled bundle when leaving it unsaved (its renders and
        autosave have no other use), and any left behind earlier."""
        # Background writers into a bundle's cache/ (the proxy, playback files) finish first,
        # or they would create the folder again after it is deleted.
        self._stop_proxy()
        self.playback.wait_for_layout()
        bundle = self.untitled_bundle()
        if bundle is not None:
            shutil.rmtree(bundle, ignore_errors=True)
        self._remove_leftovers()

    def _remove_leftovers(self) -> None:
        for folder in self._leftovers:
            if folder != self.document.bundle_dir:
                shutil.rmtree(folder, ignore_errors=True)
        self._leftovers = [f for f in self._leftovers if f.exists()]

    def open_path(self, path: str | Path) -> None:
        """Open a video (new project) or a project bundle, after the unsaved-changes prompt."""
        path = Path(path)
        kind = "project" if path.is_dir() else kind_of(path)
        if kind is None:
            # Unknown suffix: let the media probe decide (it names the file if it cannot).
            kind = "video"
        if kind == "audio":
            raise FoleyStudioError(
                "drop audio on the timeline or a source; open a video or a project here", path
            )
        if not self.maybe_save():
            return
        previous = self.untitled_bundle()
        self.playback.stop()
        if kind == "project":
            self._open_project(path)
        else:
            self.document.open_video(path)
        if previous is not None and previous != self.document.bundle_dir:
            self._leftovers.append(previous)  # left for another project, unsaved
        self._remove_leftovers()

    def _open_project(self, path: Path) -> None:
        bundle = bundles.bundle_folder(path)
        recovered = None
        if bundles.has_recovery(bundle):
            if self.prompts.recover(bundle):
                recovered = bundles.load_recovery(bundle)
            else:
                bundles.discard_recovery(bundle)
        self.document.open_project(bundle, recovered=recovered)
        missing = bundles.missing_media(self.document.project)
        if missing:
            listed = "\n".join(missing[:8]) + ("\n…" if len(missing) > 8 else "")
            self.prompts.info(f"{len(missing)} media file(s) of this project are missing:\n{listed}")

    def choose_video(self) -> None:
        path = self.prompts.open_video()
        if path is not None:
            self.open_path(path)

    def choose_project(self) -> None:
        path = self.prompts.open_project()
        if path is not None:
            self.open_path(path)

    def save(self) -> bool:
        d = self.document
        if d.bundle_dir is None:
            return False
        if not d.has_location:
            return self.save_as()
        d.save()
        return True

    def save_as(self) -> bool:
        d = self.document
        if d.bundle_dir is None:
            return False
        path = self.prompts.save_as(str(Path.home() / f"{d.project.name}{bundles.BUNDLE_SUFFIX}"))
        if path is None:
            return False
        old = self.untitled_bundle()
        d.save_as(path)
        if old is not None:
            # Its renders were copied, but commands on the undo stack still name the old
            # paths: the folder goes when this document is left, not now.
            self._leftovers.append(old)
        self._update_title()
        return True

    def autosave(self) -> None:
        try:
            written = self.document.autosave()
        except FoleyStudioError as exc:
            self.statusBar().showMessage(f"Autosave failed: {exc}", 10000)
            return
        if written is not None:
            self.statusBar().showMessage("Autosaved", 3000)

    def import_audio(self) -> None:
        path = self.prompts.import_audio()
        if path is not None:
            d = self.document
            d.import_audio_clip(path, d.selected_track_id, d.playhead)

    # --- editing -------------------------------------------------------------------------
    def delete_selection(self) -> None:
        self.document.delete_selection()

    def split(self) -> None:
        if self.document.split_at_playhead() == 0:
            self.statusBar().showMessage("No clip under the playhead to split", 4000)

    # --- generation ----------------------------------------------------------------------
    def generate(self, mode: str = "all") -> None:
        """Start a generation job (the engine loads on first use, on the model worker)."""
        d = self.document
        if importlib.util.find_spec(ENGINE_MODULE) is None:
            self.prompts.error(
                "Generation is unavailable: the generation engine is not installed in this build "
                f"({ENGINE_MODULE} is missing). Everything else works."
            )
            return
        request = build_request(d.project, mode, d.selected_source_id, d.selected_clip_id)
        label = {"all": "Generate", "object": "Regenerate object", "range": "Regenerate range"}[mode]
        self.jobs.submit(
            label,
            lambda progress, cancel: self.engines.generate(request, progress, cancel),
            on_done=self._on_generated,
            on_failed=self._on_job_failed,
            on_cancelled=lambda: self.statusBar().showMessage(f"{label} cancelled; nothing changed", 5000),
            model=True,
        )

    def more_like_this(self, candidate: Candidate) -> None:
        """Start a generation job searching near ``candidate``'s noise (σ small moves)."""
        if importlib.util.find_spec(ENGINE_MODULE) is None:
            self.prompts.error(
                f"Generation is unavailable: {ENGINE_MODULE} is missing. Everything else works."
            )
            return
        request = self.document.more_like_this_request(candidate)
        self.jobs.submit(
            "More like this",
            lambda progress, cancel: self.engines.generate(request, progress, cancel),
            on_done=self._on_generated,
            on_failed=self._on_job_failed,
            on_cancelled=lambda: self.statusBar().showMessage(
                "More like this cancelled; nothing changed", 5000
            ),
            model=True,
        )

    # --- event tracks --------------------------------------------------------------------
    def event_action(self, target: str, action: str) -> None:
        """Run a lane's action (``timeline.events.EVENT_ACTIONS``) for one source's events."""
        d = self.document
        if action == "detect_range":
            self.detect_events([target], use_in_out=True)
        elif action == "detect_all":
            self.detect_events([target], use_in_out=False)
        elif action == "import":
            path = self.prompts.open_events()
            if path is not None:
                d.import_events(target, path)
        elif action == "export":
            name = "picture" if target == WHOLE_PICTURE else d.event_label(target)
            folder = d.bundle_dir.parent if d.bundle_dir is not None and d.has_location else Path.home()
            path = self.prompts.save_events(str(folder / f"{d.project.name}-{name}-events.json"))
            if path is not None:
                d.export_events(target, path)
        else:
            raise UsageError(f"unknown event action {action!r}")

    def detect_events(self, targets: list[str] | None = None, use_in_out: bool = True) -> Any:
        """Detect the events of ``targets`` (default: the picture and every object) on the
        model worker; the result replaces their tracks in the in/out range (when set and
        ``use_in_out``), else whole, as one undo step. Returns the job."""
        d = self.document
        project = d.project
        if not project.video or d.media is None:
            raise UsageError("open a video first: events are detected in the picture")
        targets = list(targets) if targets else d.event_targets()
        objects = {t: project.source(t).keyframes for t in targets if t != WHOLE_PICTURE}
        start, end, ranged = d.detection_range(use_in_out)
        if end - start <= 0:
            raise UsageError("the range to detect events in is empty")
        video, model, device = project.video, project.settings.model, project.settings.device
        engines = self.engines if importlib.util.find_spec(ENGINE_MODULE) is not None else None
        job = self.jobs.submit(
            "Detect events",
            lambda progress, cancel: detect_source_events(
                engines, video, start, end, targets, objects, progress, cancel, model=model, device=device
            ),
            on_done=lambda result: self._on_detected(result, ranged),
            on_failed=self._on_job_failed,
            on_cancelled=lambda: self.statusBar().showMessage(
                "Event detection cancelled; nothing changed", 5000
            ),
            model=True,
        )
        return job

    def _on_detected(self, result: DetectedTracks, ranged: bool) -> None:
        d = self.document
        start, end = (result.start, result.end) if ranged else (None, None)
        self._run(lambda: d.apply_detected_events(result.tracks, start, end))
        counts = ", ".join(
            f"{d.event_label(t)}: {len(track)} ({describe_detector(result.detectors[t])})"
            for t, track in result.tracks.items()
        )
        notes = [n for n in (result.note, detection_advice(result.detectors.values())) if n]
        note = "".join(f" — {n}" for n in notes)
        self.statusBar().showMessage(f"Detected events {counts}{note}", 15000)

    def _on_generated(self, candidates: list[Candidate]) -> None:
        self.document.set_candidates(candidates)
        self._update_engine_labels()
        self.candidates_dock.raise_()
        self.statusBar().showMessage(f"{len(candidates)} candidate(s) ready", 5000)

    def _on_job_failed(self, text: str) -> None:
        self._update_engine_labels()
        self.prompts.error(text)

    def audition(self, candidate: Candidate) -> None:
        self.playback.audition(candidate)

    def use_candidate(self, candidate: Candidate) -> None:
        self.playback.stop()
        _, model = self.engines.describe()
        self.document.use_candidate(candidate, "" if model == "not loaded" else model)

    # --- export --------------------------------------------------------------------------
    def export(self) -> None:
        d = self.document
        if d.bundle_dir is None:
            return
        chosen = self.prompts.export_options(d.project.name, d.bundle_dir, self.export_settings)
        if chosen is None:
            return
        destinations, self.export_settings = chosen
        self.start_export(destinations, self.export_settings)

    def start_export(
        self, destinations: ExportDestinations, options: ExportOptions = ExportOptions()
    ) -> None:
        """Export to ``destinations`` with ``options`` on a worker (a snapshot of the project)."""
        from foleystudio.export import export_project

        d = self.document
        project = copy.deepcopy(d.project)
        bundle_dir = d.bundle_dir
        self.jobs.submit(
            "Export",
            lambda progress, cancel: export_project(
                project, destinations, options, bundle_dir=bundle_dir, progress=progress, cancel=cancel
            ),
            on_done=self._on_exported,
            on_failed=self._on_job_failed,
            on_cancelled=lambda: self.statusBar().showMessage("Export cancelled; nothing was written", 5000),
        )

    def _on_exported(self, result: ExportResult) -> None:
        self.last_export = result
        written = [p.name for p in (result.mix, result.video) if p is not None]
        summary = f"Exported {len(result.stems)} stem(s)" + (f", {', '.join(written)}" if written else "")
        self.statusBar().showMessage(summary, 10000)

    # --- help ----------------------------------------------------------------------------
    def about(self) -> None:
        from PySide6 import __version__ as pyside_version

        device, model = self.engines.describe()
        QMessageBox.about(
            self,
            "About FoleyStudio",
            f"<b>FoleyStudio {__version__}</b><p>Synchronized Foley generation and authoring.</p>"
            f"<p>Qt for Python {pyside_version} · model: {model} · device: {device}</p>",
        )

    # --- drag and drop -------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(kind_of(p) or p.is_dir() for p in dropped_paths(event.mimeData())):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        """A video or project opens; an audio file goes on the selected track at the playhead."""
        d = self.document
        for path in dropped_paths(event.mimeData()):
            kind = "project" if path.is_dir() else kind_of(path)
            if kind in ("video", "project") or (kind == "audio" and d.bundle_dir is not None):
                event.acceptProposedAction()
                self.open_or_import(path, kind)
                return
        event.ignore()

    def open_or_import(self, path: Path, kind: str) -> None:
        if kind == "audio":
            self._run(
                lambda: self.document.import_audio_clip(
                    path, self.document.selected_track_id, self.document.playhead
                )
            )
        else:
            self._run(lambda: self.open_path(path))

    # --- screenshots and shutdown ----------------------------------------------------------
    def settle(self, timeout: float = 10.0) -> None:
        """Wait for background work that changes what is shown (frame, thumbnails, buffers)."""
        app = QApplication.instance()
        self.viewer.show_frame_now()
        self.timeline.ruler.loader.wait(timeout)
        for clip_item in self.timeline.scene.clip_items.values():
            self.timeline.peak_cache.compute_now(clip_item.clip.render)
        self.playback.wait_for_layout(timeout)
        self.jobs.wait(round(timeout * 1000))
        for _ in range(5):
            app.processEvents()

    def save_screenshot(self, path: str | Path, size: QSize = DEFAULT_SIZE) -> Path:
        """Render the window at ``size`` into a PNG at ``path``."""
        self.resize(size)
        self.show()
        QApplication.processEvents()
        self.arrange_docks()
        QApplication.processEvents()
        self.timeline.view.zoom_to_fit()
        self.settle()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not self.grab().save(str(path), "PNG"):
            raise FoleyStudioError("cannot write the screenshot", path)
        return path

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.maybe_save():
            event.ignore()
            return
        self.discard_untitled()
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Stop playback, cancel jobs, end decoder threads (idempotent)."""
        if getattr(self, "_shut", False):
            return
        self._shut = True
        self.autosave_timer.stop()
        self.playback.shutdown()
        self.jobs.shutdown()
        self.viewer.shutdown()
        self.timeline.shutdown()
        self.library.shutdown()
