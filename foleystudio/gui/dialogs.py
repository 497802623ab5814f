"""Dialogs and prompts: errors, unsaved changes, crash recovery, file choosers, Export.

The main window asks through a :class:`Prompts` object, so tests (and automation) can
answer without modal dialogs by replacing its methods.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from foleystudio.core.audio import AUDIO_SUFFIXES
from foleystudio.core.media import VIDEO_SUFFIXES
from foleystudio.errors import UsageError
from foleystudio.export.naming import load_preset
from foleystudio.export.options import ExportDestinations, ExportOptions
from foleystudio.gui.settings_form import SettingsForm

VIDEO_FILTER = "Video (" + " ".join(f"*{s}" for s in sorted(VIDEO_SUFFIXES)) + ");;All files (*)"
AUDIO_FILTER = "Audio (" + " ".join(f"*{s}" for s in sorted(AUDIO_SUFFIXES)) + ");;All files (*)"
EVENTS_FILTER = "Event tracks (*.json *.txt);;JSON (*.json);;Audacity labels (*.txt *.labels);;All files (*)"


class Prompts:
    """Questions the main window asks the user (modal dialogs by default)."""

    def __init__(self, parent: QWidget) -> None:
        self.parent = parent

    def error(self, text: str) -> None:
        QMessageBox.critical(self.parent, "FoleyStudio", text)

    def info(self, text: str) -> None:
        QMessageBox.information(self.parent, "FoleyStudio", text)

    def unsaved_changes(self, name: str) -> str:
        """ "save", "discard" or "cancel"."""
        answer = QMessageBox.question(
            self.parent,
            "Unsaved changes",
            f"Save the changes to “{name}” first?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        return {QMessageBox.StandardButton.Save: "save", QMessageBox.StandardButton.Discard: "discard"}.get(
            answer, "cancel"
        )

    def recover(self, bundle: Path) -> bool:
        """Whether to restore the autosaved edits of ``bundle``."""
        answer = QMessageBox.question(
            self.parent,
            "Recover unsaved work",
            f"“{bundle.name}” has unsaved edits from a session that did not close normally.\n"
            "Restore them? (No discards them and opens the last saved version.)",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.Yes,
        )
        return answer == QMessageBox.StandardButton.Yes

    def open_video(self) -> Path | None:
        path, _ = QFileDialog.getOpenFileName(self.parent, "Open video", "", VIDEO_FILTER)
        return Path(path) if path else None

    def open_project(self) -> Path | None:
        path = QFileDialog.getExistingDirectory(self.parent, "Open project (.foley folder)")
        return Path(path) if path else None

    def save_as(self, suggestion: str) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(
            self.parent, "Save project as", suggestion, "FoleyStudio project (*.foley)"
        )
        return Path(path) if path else None

    def import_audio(self) -> Path | None:
        path, _ = QFileDialog.getOpenFileName(self.parent, "Import audio", "", AUDIO_FILTER)
        return Path(path) if path else None

    def open_events(self) -> Path | None:
        path, _ = QFileDialog.getOpenFileName(self.parent, "Import events", "", EVENTS_FILTER)
        return Path(path) if path else None

    def save_events(self, suggestion: str) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(self.parent, "Export events", suggestion, EVENTS_FILTER)
        return Path(path) if path else None

    def export_options(
        self, project_name: str, bundle_dir: Path | None, options: ExportOptions
    ) -> tuple[ExportDestinations, ExportOptions] | None:
        """Where and how to export (starting from ``options``), or None when cancelled."""
        dialog = ExportDialog(project_name, bundle_dir, options, self.parent)
        if dialog.exec() != QDialog.DialogCode.Accepted or dialog.chosen is None:
            return None
        return dialog.chosen


class PathField(QWidget):
    """A checkbox, a path and a Browse button for one export destination."""

    def __init__(self, default: Path, folder: bool, file_filter: str = "", checked: bool = True) -> None:
        super().__init__()
        self.folder = folder
        self.file_filter = file_filter
        self.enabled = QCheckBox()
        self.enabled.setChecked(checked)
        self.edit = QLineEdit(str(default))
        browse = QToolButton()
        browse.setText("…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.enabled)
        row.addWidget(self.edit, 1)
        row.addWidget(browse)
        self.enabled.toggled.connect(self.edit.setEnabled)
        self.edit.setEnabled(checked)

    def _browse(self) -> None:
        if self.folder:
            path = QFileDialog.getExistingDirectory(self, "Choose folder", self.edit.text())
        else:
            path, _ = QFileDialog.getSaveFileName(self, "Choose file", self.edit.text(), self.file_filter)
        if path:
            self.edit.setText(path)

    def value(self) -> str | None:
        if not self.enabled.isChecked():
            return None
        return self.edit.text().strip() or None


class ExportDialog(QDialog):
    """Destinations and options of an export (the work runs in a worker afterwards).

    The options' rows are made from :class:`ExportOptions`' field descriptions; Export is
    refused, with the reason, while the destinations do not make an export."""

    def __init__(
        self, name: str, bundle_dir: Path | None, options: ExportOptions, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.export_options = options
        #: What the user accepted: ``(destinations, options)``.
        self.chosen: tuple[ExportDestinations, ExportOptions] | None = None
        base = (bundle_dir or Path.cwd()) / "exports"
        self.stems = PathField(base / f"{name}_stems", folder=True)
        self.mix = PathField(base / f"{name}_mix.wav", folder=False, file_filter="WAV (*.wav)")
        self.video = PathField(
            base / f"{name}_with_foley.mp4", folder=False, file_filter="Video (*.mp4 *.mov)", checked=False
        )
        self.otio = PathField(
            base / f"{name}.otio", folder=False, file_filter="OpenTimelineIO (*.otio)", checked=False
        )
        self.rpp = PathField(
            base / f"{name}.rpp", folder=False, file_filter="Reaper project (*.rpp)", checked=False
        )
        self.edl = PathField(
            base / f"{name}.edl", folder=False, file_filter="CMX 3600 EDL (*.edl)", checked=False
        )
        form = QFormLayout()
        form.addRow("Stems folder", self.stems)
        form.addRow("Stereo mix", self.mix)
        form.addRow("Video with mix", self.video)
        form.addRow("OpenTimelineIO", self.otio)
        form.addRow("Reaper project", self.rpp)
        form.addRow("EDL", self.edl)
        self.form = SettingsForm(ExportOptions)
        self.form.show_value(options)
        self.form.edited.connect(self._edit)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.form)
        layout.addWidget(buttons)
        self.resize(640, 0)

    def destinations(self) -> ExportDestinations:
        """The checked destinations; raises :class:`UsageError` when there is none."""
        return ExportDestinations(
            stems=self.stems.value(),
            mix=self.mix.value(),
            video=self.video.value(),
            otio=self.otio.value(),
            rpp=self.rpp.value(),
            edl=self.edl.value(),
        )

    def accept(self) -> None:
        try:
            destinations = self.destinations()
            destinations.check_for(self.export_options)
            load_preset(self.export_options.naming)  # a typed preset name or file, checked now
        except UsageError as exc:
            QMessageBox.warning(self, "Export", str(exc))
            return
        self.chosen = (destinations, self.export_options)
        super().accept()

    def _edit(self, changes: dict) -> None:
        # The form's editors keep to each setting's choices and range, so this is checked.
        self.export_options = self.export_options.replace(**changes)


SHORTCUTS_HELP = """<table>
<tr><td><b>Space</b></td><td>play / pause</td></tr>
<tr><td><b>J / K / L</b></td><td>reverse (again: faster) / stop / forward (again: faster)</td></tr>
<tr><td><b>← / →</b></td><td>one frame back / forward</td></tr>
<tr><td><b>Home / End</b></td><td>start / end</td></tr>
<tr><td><b>I / O</b></td><td>set in / out point; <b>Alt+X</b> clears them</td></tr>
<tr><td><b>S</b></td><td>split the selected clip (or all clips) at the playhead</td></tr>
<tr><td><b>Delete</b></td><td>delete the selected events, clip (or source)</td></tr>
<tr><td><b>N</b></td><td>snapping on / off (events snap to frames)</td></tr>
<tr><td><b>Ctrl+Shift+D</b></td><td>detect events (in/out range, or the whole clip)</td></tr>
<tr><td><b>Shift+T</b> then <b>T</b></td><td>tap events mode; T adds an event where you heard/saw it</td></tr>
<tr><td><b>+ / −</b>, Ctrl+wheel</td><td>zoom the timeline</td></tr>
<tr><td><b>Ctrl+Z / Ctrl+Shift+Z</b></td><td>undo / redo</td></tr>
<tr><td><b>Ctrl+S</b></td><td>save</td></tr>
<tr><td><b>Ctrl+G</b></td><td>generate</td></tr>
<tr><td><b>Ctrl+E</b></td><td>export</td></tr>
</table>
<p>In the viewer: drag on the picture to draw an object box; drag a box to move it, its
edges or corners to resize; each change is a keyframe at the playhead.</p>
<p>In an event lane (under an object's track; the picture's is last): click to add an
event; drag a marker to move the selection; Ctrl+drag up/down scales strengths; drag on
empty lane to select several (Shift adds); right-click to detect again, import or
export.</p>"""
