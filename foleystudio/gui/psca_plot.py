"""Live plot of the PSCA soft mask M(d) for the inspector's ω and δ (docs/architecture.md §5).

The curve is what one audio token sees of the video: full weight within ω seconds, a raised
cosine falling to zero over the next δ seconds, nothing beyond.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

from foleystudio.core.psca_curve import psca_mask_curve
from foleystudio.gui import theme


class PscaPlot(pg.PlotWidget):
    """A small plot of M(d) for d in [0, max(2 s, ω + δ + 0.25 s)], redrawn on every change."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(110)
        self.setMaximumHeight(150)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        item = self.getPlotItem()
        item.setLabel("bottom", "|τ_audio − τ_video|", units="s")
        item.setLabel("left", "M")
        item.showGrid(x=True, y=True, alpha=0.15)
        self.setYRange(0.0, 1.05, padding=0)
        self._curve = self.plot(pen=pg.mkPen(theme.ACCENT, width=2), fillLevel=0.0, brush=(79, 143, 214, 60))
        self._omega_line = pg.InfiniteLine(
            angle=90, pen=pg.mkPen("#bdbdbd", style=pg.QtCore.Qt.PenStyle.DashLine)
        )
        self._end_line = pg.InfiniteLine(
            angle=90, pen=pg.mkPen("#777777", style=pg.QtCore.Qt.PenStyle.DotLine)
        )
        self.addItem(self._omega_line)
        self.addItem(self._end_line)
        self.omega = 0.25
        self.delta = 0.5
        self.set_params(self.omega, self.delta)

    def set_params(self, omega: float, delta: float) -> None:
        """Redraw for window ω and decay δ (seconds)."""
        self.omega, self.delta = float(omega), float(delta)
        span = max(2.0, omega + delta + 0.25)
        d = np.linspace(0.0, span, 400)
        self._curve.setData(d, psca_mask_curve(d, omega, delta))
        self._omega_line.setValue(omega)
        self._end_line.setValue(omega + delta)
        self.setXRange(0.0, span, padding=0)

    def curve_data(self) -> tuple[np.ndarray, np.ndarray]:
        """The plotted (d, M) arrays (for tests)."""
        x, y = self._curve.getData()
        return np.asarray(x), np.asarray(y)
