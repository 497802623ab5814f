"""The Library panel: search the user's sound library and put a recording to use
(docs/architecture.md §9, §13). Results show a waveform thumbnail (peaks read off the GUI
thread by the timeline's ``PeakCache``).

The product logic is ``core/library.py`` and ``ml/library_search.py``; this widget only asks.
Every call that loads the model, indexes or searches runs on the model worker
(``gui/workers.JobManager``, ``model=True``), where one :class:`LibrarySearcher` lives for the
session; reading a recording to audition runs on the general pool.

A result is dragged as a local file URL, which every drop target already understands: on a
source in the Inspector it becomes an audio prompt (replacing the file of an audio source,
else added as one, ``Document.add_audio_prompt``); on the timeline it is placed on the track
under the drop at the **playhead** (the drag carries :data:`LIBRARY_MIME`, which tells the
timeline the drop came from here). "Use as Prompt" and "Place at Playhead" do the same
without dragging, for the selected source and track. Both are ordinary undoable edits.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QMimeData, QPointF, QSize, Qt, QUrl, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from foleystudio.core.library import SearchHit
from foleystudio.core.sources import AudioSource, ObjectSource
from foleystudio.errors import FoleyStudioError, UsageError
from foleystudio.gui import theme
from foleystudio.gui.document import Document
from foleystudio.gui.dropping import LIBRARY_MIME
from foleystudio.gui.timeline.waveforms import PeakCache
from foleystudio.gui.workers import JobManager

#: Results shown per search.
RESULTS = 20
#: Size (px) of a result's waveform thumbnail.
THUMBNAIL = QSize(96, 24)


def waveform_icon(peaks: np.ndarray, size: QSize = THUMBNAIL) -> QIcon:
    """A thumbnail of a recording's (min, max) ``peaks`` (``timeline.waveforms.peaks``): one
    vertical line per pixel column, the whole recording across the width."""
    pixmap = QPixmap(size)
    pixmap.fill(QColor(0, 0, 0, 0))
    width, half = size.width(), size.height() / 2
    edges = np.linspace(0, len(peaks), width + 1).astype(int)
    painter = QPainter(pixmap)
    painter.setPen(QColor(theme.ACCENT))
    for x in range(width):
        block = peaks[edges[x] : max(edges[x + 1], edges[x] + 1)]
        low, high = float(block[:, 0].min()), float(block[:, 1].max())
        painter.drawLine(QPointF(x + 0.5, half - high * half), QPointF(x + 0.5, half - low * half))
    painter.end()
    return QIcon(pixmap)


class ResultList(QListWidget):
    """The ranked results; dragging one carries its file (see the module doc)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setIconSize(THUMBNAIL)

    def mimeData(self, items: Sequence[QListWidgetItem]) -> QMimeData:  # noqa: N802 - Qt override
        return hit_mime(
            [
                item.data(Qt.ItemDataRole.UserRole)
                for item in items
                if item.data(Qt.ItemDataRole.UserRole) is not None
            ]
        )


def hit_mime(hits: Sequence[SearchHit]) -> QMimeData:
    """Drag data of results: their files as URLs and, for the first, :data:`LIBRARY_MIME`."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(h.entry.path) for h in hits])
    if hits:
        info = {"path": hits[0].entry.path, "start": hits[0].start}
        mime.setData(LIBRARY_MIME, json.dumps(info).encode("utf-8"))
    return mime


class LibraryPanel(QWidget):
    """Search field, "Find Sounds for This Box", results, audition and use (module doc)."""

    #: ``(mono audio, sample rate)`` to play alone, from the playhead.
    audition_requested = Signal(object, int)
    #: The shown results changed (tests wait on it).
    results_changed = Signal()
    #: A folder finished indexing: the report's dict.
    indexed = Signal(object)

    def __init__(
        self,
        document: Document,
        jobs: JobManager,
        library_dir: str | os.PathLike[str] | None = None,
        model_name: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.document = document
        self.jobs = jobs
        self.library_dir = library_dir
        self.model_name = model_name
        self._searcher: Any = None  # created on the model worker at first use
        self.hits: list[SearchHit] = []
        #: Waveform peaks of the results' files, read off the GUI thread.
        self.peaks = PeakCache(self)
        self.peaks.ready.connect(self._on_peaks)

        self.query = QLineEdit()
        self.query.setPlaceholderText("Describe a sound, e.g. a door slamming")
        self.query.returnPressed.connect(lambda: self._guard(self.search_text))
        self.search_button = QPushButton("Search")
        self.search_button.clicked.connect(lambda: self._guard(self.search_text))
        self.box_button = QPushButton("Find Sounds for This Box")
        self.box_button.setToolTip("Search by the selected object's box at the playhead")
        self.box_button.clicked.connect(lambda: self._guard(self.search_box))
        self.add_button = QPushButton("Add Folder…")
        self.add_button.setToolTip("Index a folder of recordings (only new or changed files)")
        self.add_button.clicked.connect(self._choose_folder)
        self.results = ResultList()
        self.results.itemDoubleClicked.connect(lambda _: self.audition_selected())
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.play_button = QPushButton("Audition")
        self.play_button.clicked.connect(self.audition_selected)
        self.prompt_button = QPushButton("Use as Prompt")
        self.prompt_button.setToolTip("Make it the selected source's audio prompt (or drag it onto a source)")
        self.prompt_button.clicked.connect(lambda: self._guard(self.use_as_prompt))
        self.place_button = QPushButton("Place at Playhead")
        self.place_button.setToolTip("Put it on the selected track at the playhead (or drag it onto a track)")
        self.place_button.clicked.connect(lambda: self._guard(self.place_at_playhead))

        row = QHBoxLayout()
        row.addWidget(self.query, 1)
        row.addWidget(self.search_button)
        tools = QHBoxLayout()
        tools.addWidget(self.box_button)
        tools.addWidget(self.add_button)
        actions = QHBoxLayout()
        for button in (self.play_button, self.prompt_button, self.place_button):
            actions.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addLayout(tools)
        layout.addWidget(self.results, 1)
        layout.addLayout(actions)
        layout.addWidget(self.status)

    # --- background calls ------------------------------------------------------------------
    def searcher(self) -> Any:
        """The session's searcher (call on the model worker: it may load the model)."""
        if self._searcher is None:
            from foleystudio.ml.library_search import LibrarySearcher

            self._searcher = LibrarySearcher(self.library_dir, self.model_name)
        return self._searcher

    def _submit(self, name: str, fn: Any, on_done: Any) -> Any:
        self.status.setText(f"{name}…")
        return self.jobs.submit(
            name,
            fn,
            on_done=on_done,
            on_failed=self._failed,
            on_cancelled=lambda: self.status.setText(f"{name} cancelled; the library is unchanged"),
            model=True,
        )

    def _failed(self, text: str) -> None:
        self.status.setText(text)
        self.document.error.emit(text)

    def _guard(self, action: Any) -> None:
        try:
            action()
        except FoleyStudioError as exc:
            self.document.report_error(exc)

    # --- searching -------------------------------------------------------------------------
    def search(self, query: Any) -> Any:
        """Run ``query`` (a ``LibraryQuery``) in the background; returns the job."""
        return self._submit(
            "Library search",
            lambda progress, cancel: self.searcher().search(query, RESULTS, progress, cancel),
            self.show_results,
        )

    def search_text(self) -> Any:
        from foleystudio.ml.library_search import LibraryQuery

        return self.search(LibraryQuery(text=self.query.text()))

    def search_box(self) -> Any:
        """Search by the selected object's box (following its keyframes) in the frames within
        ±0.5 s of the playhead."""
        from foleystudio.ml.library_search import LibraryQuery

        d = self.document
        source = d.selected_source()
        if not isinstance(source, ObjectSource):
            raise UsageError("select an object (a box in the Viewer) to find sounds for it")
        if not d.project.video:
            raise UsageError("open a video first: the box is searched in its picture")
        if not source.active_at(d.playhead):
            raise UsageError(f"'{source.label}' is not in the picture at the playhead")
        return self.search(LibraryQuery(video=d.project.video, time=d.playhead, keyframes=source.keyframes))

    def add_folder(self, folder: str | os.PathLike[str]) -> Any:
        """Index ``folder`` in the background; returns the job."""
        return self._submit(
            "Index sounds",
            lambda progress, cancel: self.searcher().add_folder(folder, progress, cancel),
            self._on_indexed,
        )

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of recordings")
        if folder:
            self.add_folder(folder)

    def _on_indexed(self, report: Any) -> None:
        data = report.to_dict()
        skipped = f", {len(report.skipped)} skipped (unreadable)" if report.skipped else ""
        self.status.setText(
            f"{len(report.added)} added, {len(report.updated)} updated{skipped}; {report.entries} sounds"
        )
        self.indexed.emit(data)

    def show_results(self, hits: list[SearchHit]) -> None:
        self.hits = list(hits)
        self.results.clear()
        for hit in self.hits:
            e = hit.entry
            text = f"{e.name}   {hit.score:+.2f}   at {hit.start:.1f} s of {e.duration:.1f} s"
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, hit)
            item.setToolTip("\n".join(x for x in (e.path, e.description, *e.ixml.values()) if x))
            known = self.peaks.get(e.path)
            if known is not None:
                item.setIcon(waveform_icon(known))
            self.results.addItem(item)
        if self.hits:
            self.results.setCurrentRow(0)
        self.status.setText(f"{len(self.hits)} results" if self.hits else "no sounds in the library yet")
        self.results_changed.emit()

    def _on_peaks(self, path: str) -> None:
        known = self.peaks.get(path)
        for row in range(self.results.count()):
            item = self.results.item(row)
            hit = item.data(Qt.ItemDataRole.UserRole)
            if known is not None and hit is not None and hit.entry.path == path:
                item.setIcon(waveform_icon(known))

    def shutdown(self) -> None:
        """End the thumbnail thread (the window's shutdown calls it)."""
        self.peaks.shutdown()

    def selected_hit(self) -> SearchHit | None:
        item = self.results.currentItem()
        return None if item is None else item.data(Qt.ItemDataRole.UserRole)

    # --- using a result --------------------------------------------------------------------
    def audition_selected(self) -> None:
        hit = self.selected_hit()
        if hit is None:
            return
        from foleystudio.core.audio import load_audio

        def read(progress: Any, cancel: Any) -> tuple[Any, int]:
            audio, rate = load_audio(hit.entry.path, mono=True)
            return audio[round(hit.start * rate) :], rate

        self.jobs.submit(
            "Load sound",
            read,
            on_done=lambda result: self.audition_requested.emit(result[0], result[1]),
            on_failed=self._failed,
        )

    def use_as_prompt(self) -> AudioSource:
        """The selected result as the selected source's audio prompt (see the module doc)."""
        hit = self._require_hit()
        return self.document.add_audio_prompt(hit.entry.path, replace_id=self.document.selected_source_id)

    def place_at_playhead(self) -> Any:
        """The selected result on the selected track (a new one without) at the playhead."""
        hit = self._require_hit()
        d = self.document
        return d.import_audio_clip(Path(hit.entry.path), d.selected_track_id, d.playhead)

    def _require_hit(self) -> SearchHit:
        hit = self.selected_hit()
        if hit is None:
            raise UsageError("choose a sound in the Library results first")
        return hit
