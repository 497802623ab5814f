"""The Candidates panel: the last generation's results, ranked, with a bar per score, audition,
"Use" and "More like this", the score weights (re-ranking without regenerating), and the
selected one's spectrogram and waveform (docs/architecture.md §7.2, §9).

The weights are the project's settings (``weight_semantic``/``_text``/``_sync``): editing one
here is an undoable settings edit, and the document re-ranks its candidates whenever the
weights change (``Document._rerank``), from here or from the inspector's form.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from foleystudio.core.ranking import CRITERIA
from foleystudio.core.requests import Candidate
from foleystudio.core.settings import GenerationSettings, setting_fields
from foleystudio.errors import FoleyStudioError
from foleystudio.gui import theme
from foleystudio.gui.document import Document
from foleystudio.gui.spectrogram import SpectrogramView

#: Order of the score bars; other score names follow alphabetically.
SCORE_ORDER = ("total", "semantic", "text", "sync")
SCORE_COLOURS = {"total": theme.ACCENT, "semantic": "#81b29a", "text": "#f2cc8f", "sync": "#e07a5f"}


def ordered_scores(scores: dict[str, float]) -> list[tuple[str, float]]:
    known = [(k, scores[k]) for k in SCORE_ORDER if k in scores]
    rest = sorted((k, v) for k, v in scores.items() if k not in SCORE_ORDER)
    return known + rest


class ScoreBars(QWidget):
    """One thin horizontal bar per score (values drawn clamped to [0, 1])."""

    def __init__(self, scores: dict[str, float], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scores = ordered_scores(scores)
        self.setMinimumWidth(120)
        self.setFixedHeight(max(12, 11 * len(self.scores)))
        self.setToolTip("\n".join(f"{k}: {v:.3f}" for k, v in self.scores) or "no scores reported")

    def sizeHint(self) -> QSize:
        return QSize(160, self.height())

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        label_w = 52
        for i, (name, value) in enumerate(self.scores):
            y = i * 11
            painter.setPen(QColor(theme.DIM_TEXT))
            font = painter.font()
            font.setPointSizeF(7.5)
            painter.setFont(font)
            painter.drawText(
                QRectF(0, y, label_w - 4, 10),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                name,
            )
            width = self.width() - label_w
            painter.fillRect(QRectF(label_w, y + 2, width, 7), QColor("#3a3a3a"))
            fraction = 0.0 if not math.isfinite(value) else min(max(value, 0.0), 1.0)
            painter.fillRect(
                QRectF(label_w, y + 2, width * fraction, 7), QColor(SCORE_COLOURS.get(name, "#9a9a9a"))
            )
        painter.end()


def noise_text(candidate: Candidate) -> str:
    """How a row names a candidate's noise: its seed, and how many search moves led there."""
    moves = len(candidate.recipe.moves)
    return f"seed {candidate.seed}" + (f" + {moves} move{'s' if moves > 1 else ''}" if moves else "")


class CandidateRow(QWidget):
    """Rank, label, noise, duration, score bars, ▶, More like this and Use."""

    audition = Signal(object)
    use = Signal(object)
    more = Signal(object)

    def __init__(self, rank: int, candidate: Candidate, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.candidate = candidate
        rank_label = QLabel(f"#{rank}")
        rank_label.setStyleSheet("font-weight: bold; font-size: 14px;")
        rank_label.setFixedWidth(30)
        title = candidate.label or "candidate"
        text = QLabel(
            f"{title}\n{noise_text(candidate)} · {candidate.duration:.2f} s @ {candidate.start:.2f} s"
        )
        text.setToolTip(f"{title}\nnoise {candidate.recipe.id}")
        self.play_button = QToolButton()
        self.play_button.setText("▶")
        self.play_button.setToolTip("Audition with the picture")
        self.play_button.clicked.connect(lambda: self.audition.emit(self.candidate))
        self.more_button = QToolButton()
        self.more_button.setText("≈")
        self.more_button.setToolTip("More like this: search near this candidate's noise")
        self.more_button.clicked.connect(lambda: self.more.emit(self.candidate))
        self.use_button = QPushButton("Use")
        self.use_button.setToolTip("Place on its track at its time")
        self.use_button.clicked.connect(lambda: self.use.emit(self.candidate))
        for button in (self.play_button, self.more_button, self.use_button):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Space must keep meaning play/pause
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 3, 4, 3)
        layout.addWidget(rank_label)
        layout.addWidget(text, 1)
        layout.addWidget(ScoreBars(candidate.scores))
        layout.addWidget(self.play_button)
        layout.addWidget(self.more_button)
        layout.addWidget(self.use_button)


class WeightsBar(QWidget):
    """One spin box per score weight, showing and editing the project's settings."""

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        specs = {f.name: spec for f, spec in setting_fields(GenerationSettings)}
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(QLabel("Weights"))
        self.boxes: dict[str, QDoubleSpinBox] = {}
        self._showing = False
        for name in CRITERIA:
            spec = specs[f"weight_{name}"]
            box = QDoubleSpinBox()
            box.setRange(spec.minimum or 0.0, spec.maximum or 10.0)
            box.setSingleStep(spec.step or 0.25)
            box.setDecimals(2)
            box.setPrefix(f"{name} ")
            box.setToolTip(f"{spec.help}; re-ranks the candidates")
            box.valueChanged.connect(lambda value, n=name: self._edit(n, value))
            box.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
            self.boxes[name] = box
            layout.addWidget(box)
        layout.addStretch(1)
        document.changed.connect(lambda _: self.sync())
        document.project_replaced.connect(self.sync)
        self.sync()

    def sync(self) -> None:
        """Show the project's weights."""
        self._showing = True
        try:
            for name, value in self.document.score_weights().items():
                self.boxes[name].setValue(value)
        finally:
            self._showing = False

    def _edit(self, name: str, value: float) -> None:
        if self._showing:
            return
        try:
            self.document.set_settings(**{f"weight_{name}": float(value)})
        except FoleyStudioError as exc:
            self.document.report_error(exc)
            self.sync()


class CandidatesPanel(QWidget):
    """The ranked list over the selected candidate's spectrogram/waveform."""

    audition_requested = Signal(object)
    use_requested = Signal(object)
    more_requested = Signal(object)

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.list = QListWidget()
        self.list.currentRowChanged.connect(self._on_row)
        self.empty = QLabel("No candidates yet: mark sources, then Generate (Ctrl+G).")
        self.empty.setObjectName("hint")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.spectrogram = SpectrogramView()
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        self.weights = WeightsBar(document)
        top_layout.addWidget(self.weights)
        top_layout.addWidget(self.empty)
        top_layout.addWidget(self.list, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(self.spectrogram)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self.rows: list[CandidateRow] = []
        document.candidates_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        self.list.clear()
        self.rows = []
        for rank, candidate in enumerate(self.document.candidates, start=1):
            row = CandidateRow(rank, candidate)
            row.audition.connect(self.audition_requested)
            row.use.connect(self.use_requested)
            row.more.connect(self.more_requested)
            item = QListWidgetItem()
            item.setSizeHint(row.sizeHint())
            self.list.addItem(item)
            self.list.setItemWidget(item, row)
            self.rows.append(row)
        self.empty.setVisible(not self.rows)
        if self.rows:
            self.list.setCurrentRow(0)
        else:
            self.spectrogram.set_audio(None)

    def _on_row(self, row: int) -> None:
        if 0 <= row < len(self.rows):
            c = self.rows[row].candidate
            self.spectrogram.set_audio(c.audio, c.sample_rate, c.start)
        else:
            self.spectrogram.set_audio(None)

    def current(self) -> Candidate | None:
        row = self.list.currentRow()
        return self.rows[row].candidate if 0 <= row < len(self.rows) else None
