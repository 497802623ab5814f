"""The Inspector: sound sources and generation settings (docs/architecture.md §9).

Sources: the project's object / text / audio sources, add and remove, rename, an object's
keyframes; an audio file dropped on the list becomes an audio prompt (dropped on an audio
source it replaces that source's file). Settings: a form made from ``GenerationSettings``' field descriptions
(gui/settings_form.py), with a live plot of the PSCA mask that ω and δ make. Every
change is a document edit (undoable); the Generate buttons ask the main window to run.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QDragEnterEvent, QDragMoveEvent, QDropEvent, QIcon, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from foleystudio.core.boxes import Box
from foleystudio.core.settings import GenerationSettings
from foleystudio.core.sources import AudioSource, ObjectSource
from foleystudio.errors import FoleyStudioError
from foleystudio.gui.dialogs import AUDIO_FILTER
from foleystudio.gui.document import Document
from foleystudio.gui.dropping import first_of
from foleystudio.gui.psca_plot import PscaPlot
from foleystudio.gui.settings_form import SettingsForm

KIND_SYMBOL = {"object": "▣", "text": "T", "audio": "♪"}
#: The box "+ Object" adds when none is drawn: centred, a third of the frame.
DEFAULT_BOX = Box(1 / 3, 1 / 3, 1 / 3, 1 / 3)


def colour_icon(colour: str) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(colour))
    return QIcon(pixmap)


class SourceList(QListWidget):
    """The sources, accepting dropped audio files."""

    audio_dropped = Signal(Path, object)  # (file, source id under the drop or None)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(True)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if first_of(event.mimeData(), "audio"):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if first_of(event.mimeData(), "audio"):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        found = first_of(event.mimeData(), "audio")
        if found is None:
            event.ignore()
            return
        item = self.itemAt(event.position().toPoint())
        event.acceptProposedAction()
        self.audio_dropped.emit(found[1], None if item is None else item.data(Qt.ItemDataRole.UserRole))


class Inspector(QWidget):
    """Sources + settings + Generate buttons."""

    #: "all", "object" or "range".
    generate_requested = Signal(str)

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self._session: int | None = None
        self._syncing = False

        # --- sources ---
        self.sources = SourceList()
        self.sources.setMinimumHeight(90)
        self.sources.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.sources.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.sources.currentItemChanged.connect(self._on_current_source)
        self.sources.audio_dropped.connect(self._on_audio_dropped)
        add_object = QToolButton()
        add_object.setText("+ Object")
        add_object.setToolTip("Add an object with a box at the playhead (or drag a box in the Viewer)")
        add_object.clicked.connect(self._add_object)
        add_text = QToolButton()
        add_text.setText("+ Text")
        add_text.setToolTip("Add a text prompt, e.g. 'boots on gravel, slow, close'")
        add_text.clicked.connect(self._add_text)
        add_audio = QToolButton()
        add_audio.setText("+ Audio")
        add_audio.setToolTip("Add a reference recording (or drop an audio file on the list)")
        add_audio.clicked.connect(self._add_audio)
        self.remove_button = QToolButton()
        self.remove_button.setText("Remove")
        self.remove_button.clicked.connect(self._remove_source)
        buttons = QHBoxLayout()
        for b in (add_object, add_text, add_audio):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.remove_button)
        self.label_edit = QLineEdit()
        self.label_edit.setPlaceholderText("label or prompt text")
        self.label_edit.editingFinished.connect(self._rename_source)
        self.keyframes = QListWidget()
        self.keyframes.setMaximumHeight(80)
        self.keyframes.itemDoubleClicked.connect(self._go_to_keyframe)
        self.remove_key_button = QToolButton()
        self.remove_key_button.setText("Remove keyframe")
        self.remove_key_button.clicked.connect(self._remove_keyframe)
        self.keyframe_box = QWidget()
        key_layout = QVBoxLayout(self.keyframe_box)
        key_layout.setContentsMargins(0, 0, 0, 0)
        key_layout.addWidget(QLabel("Box keyframes (double-click to go there)"))
        key_layout.addWidget(self.keyframes)
        key_layout.addWidget(self.remove_key_button, 0, Qt.AlignmentFlag.AlignRight)
        sources_group = QGroupBox("Sound sources")
        sg = QVBoxLayout(sources_group)
        sg.addWidget(self.sources)
        sg.addLayout(buttons)
        sg.addWidget(self.label_edit)
        sg.addWidget(self.keyframe_box)

        # --- settings: one row per GenerationSettings field, from its description ---
        dice = QToolButton()
        dice.setText("⚄")
        dice.setToolTip("New random seed")
        self.settings_form = SettingsForm(GenerationSettings, extras={"seed": dice})
        self.settings_form.edited.connect(lambda changes: self._set(**changes))
        self.settings_form.drag_started.connect(self._begin_drag)
        self.settings_form.drag_finished.connect(self._end_drag)
        seed = self.settings_form.editor("seed")
        dice.clicked.connect(lambda: seed.setValue(random.randrange(2**31 - 1)))
        self.plot = PscaPlot()
        for button in (add_object, add_text, add_audio, self.remove_button, dice, self.remove_key_button):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Space must keep meaning play/pause
        settings_group = QGroupBox("Generation")
        group_layout = QVBoxLayout(settings_group)
        group_layout.addWidget(self.settings_form)
        group_layout.addWidget(self.plot)

        # --- actions ---
        self.generate_button = QPushButton("Generate")
        self.generate_button.setObjectName("primary")
        self.generate_button.setToolTip(
            "Generate candidates for the in/out range (or the whole video) (Ctrl+G)"
        )
        self.generate_button.clicked.connect(lambda: self.generate_requested.emit("all"))
        self.regen_object_button = QPushButton("Regenerate object")
        self.regen_object_button.setToolTip("Generate a stem for the selected object only, following its box")
        self.regen_object_button.clicked.connect(lambda: self.generate_requested.emit("object"))
        self.regen_range_button = QPushButton("Regenerate range")
        self.regen_range_button.setToolTip(
            "Regenerate the in/out range inside the selected clip, keeping the rest"
        )
        self.regen_range_button.clicked.connect(lambda: self.generate_requested.emit("range"))
        for button in (self.generate_button, self.regen_object_button, self.regen_range_button):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        actions = QVBoxLayout()
        actions.addWidget(self.generate_button)
        row = QHBoxLayout()
        row.addWidget(self.regen_object_button)
        row.addWidget(self.regen_range_button)
        actions.addLayout(row)

        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(sources_group)
        layout.addWidget(settings_group)
        layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(content)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 6)
        outer.addWidget(scroll, 1)
        actions.setContentsMargins(6, 0, 6, 0)
        outer.addLayout(actions)  # always visible under the scrolling settings

        document.changed.connect(lambda _: self.sync())
        document.project_replaced.connect(self.sync)
        document.selection_changed.connect(self.sync)
        document.playhead_changed.connect(lambda _: self._update_buttons())
        self.sync()

    # --- construction helpers --------------------------------------------------------------
    def _begin_drag(self) -> None:
        self._session = self.document.new_merge_session()

    def _end_drag(self) -> None:
        self._session = None

    # --- model -> widgets ----------------------------------------------------------------
    def sync(self) -> None:
        """Show the project's sources and settings (no edits are emitted meanwhile)."""
        self._syncing = True
        try:
            self._sync_sources()
            self._sync_settings()
        finally:
            self._syncing = False
        self._update_buttons()

    def _sync_sources(self) -> None:
        doc = self.document
        self.sources.blockSignals(True)
        self.sources.clear()
        current = None
        for source in doc.project.sources:
            text = f"{KIND_SYMBOL.get(source.kind, '?')}  {source.label}"
            if isinstance(source, ObjectSource):
                text += f"   ({len(source.keyframes)} key{'s' if len(source.keyframes) != 1 else ''})"
            item = QListWidgetItem(colour_icon(doc.source_colour(source.id)), text)
            item.setData(Qt.ItemDataRole.UserRole, source.id)
            item.setToolTip(source.path if isinstance(source, AudioSource) else source.label)
            self.sources.addItem(item)
            if source.id == doc.selected_source_id:
                current = item
        self.sources.setCurrentItem(current)
        self.sources.blockSignals(False)
        selected = doc.selected_source()
        self.label_edit.setEnabled(selected is not None)
        if not self.label_edit.hasFocus():
            self.label_edit.setText("" if selected is None else selected.label)
        self.remove_button.setEnabled(selected is not None)
        self.keyframe_box.setVisible(isinstance(selected, ObjectSource))
        self.keyframes.clear()
        if isinstance(selected, ObjectSource):
            for key in selected.keyframes:
                b = key.box
                item = QListWidgetItem(
                    f"{doc.timecode(key.time)}   x {b.x:.2f} y {b.y:.2f}  {b.w:.2f}×{b.h:.2f}"
                )
                item.setData(Qt.ItemDataRole.UserRole, key.time)
                self.keyframes.addItem(item)
            self.remove_key_button.setEnabled(len(selected.keyframes) > 1)

    def _sync_settings(self) -> None:
        s = self.document.project.settings
        self.settings_form.show_value(s)
        self.plot.set_params(s.omega, s.delta)

    def _update_buttons(self) -> None:
        doc = self.document
        has_video = doc.media is not None
        self.generate_button.setEnabled(has_video)
        self.regen_object_button.setEnabled(has_video and isinstance(doc.selected_source(), ObjectSource))
        has_range = doc.project.in_point is not None and doc.project.out_point is not None
        self.regen_range_button.setEnabled(has_video and has_range and doc.selected_clip_id is not None)

    # --- widgets -> edits ----------------------------------------------------------------
    def _set(self, **changes: object) -> None:
        if self._syncing:
            return
        try:
            self.document.set_settings(self._session, **changes)  # its change signal redraws the plot
        except FoleyStudioError as exc:
            self.document.report_error(exc)
            self.sync()

    def _on_current_source(
        self, item: QListWidgetItem | None, _previous: QListWidgetItem | None = None
    ) -> None:
        self.document.select(source_id=None if item is None else item.data(Qt.ItemDataRole.UserRole))

    def _add_object(self) -> None:
        self._guard(lambda: self.document.add_object(DEFAULT_BOX))

    def _add_text(self) -> None:
        text, ok = QInputDialog.getText(
            self, "Text prompt", "Describe the sound (e.g. 'boots on gravel, slow, close'):"
        )
        if ok and text.strip():
            self._guard(lambda: self.document.add_text(text))

    def _add_audio(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Reference recording", "", AUDIO_FILTER)
        if path:
            self._guard(lambda: self.document.add_audio_prompt(path))

    def _on_audio_dropped(self, path: Path, source_id: str | None) -> None:
        self._guard(lambda: self.document.add_audio_prompt(path, replace_id=source_id))

    def _remove_source(self) -> None:
        if self.document.selected_source_id:
            self._guard(lambda: self.document.remove_source(self.document.selected_source_id))

    def _rename_source(self) -> None:
        source = self.document.selected_source()
        text = self.label_edit.text().strip()
        if source is not None and text and text != source.label:
            self._guard(lambda: self.document.rename_source(source.id, text))

    def _go_to_keyframe(self, item: QListWidgetItem) -> None:
        self.document.set_playhead(float(item.data(Qt.ItemDataRole.UserRole)))

    def _remove_keyframe(self) -> None:
        source = self.document.selected_source()
        item = self.keyframes.currentItem()
        if isinstance(source, ObjectSource) and item is not None:
            self._guard(
                lambda: self.document.remove_keyframe(source.id, float(item.data(Qt.ItemDataRole.UserRole)))
            )

    def _guard(self, action: Callable[[], object]) -> None:
        try:
            action()
        except FoleyStudioError as exc:
            self.document.report_error(exc)
