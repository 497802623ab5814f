"""Spectrogram and waveform of one candidate, x-linked in seconds (docs/architecture.md §9).

The spectrogram is a pyqtgraph ``ImageItem`` (row-major float32, frequency rows, time
columns) with a fixed dB range so candidates are compared on the same scale, placed with
``setRect`` in seconds × Hz. The waveform uses peak downsampling so long sounds stay exact
at any zoom without drawing every sample.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

from foleystudio.errors import UsageError
from foleystudio.gui import theme

#: Displayed dB range (relative to a full-scale sine), fixed across candidates.
LEVELS_DB = (-90.0, 0.0)


def spectrogram_db(audio: np.ndarray, sample_rate: int, n_fft: int = 512, hop: int = 128) -> np.ndarray:
    """Magnitude spectrogram in dBFS, shape (n_fft // 2 + 1, frames), float32, row-major.

    Hann window; frame ``j`` is centred on sample ``j * hop`` (zero-padded at the ends);
    0 dB is a full-scale sine.
    """
    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    pad = n_fft // 2
    x = np.pad(x, (pad, pad))
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    frames = 1 + (len(x) - n_fft) // hop
    windows = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop][:frames]
    window = np.hanning(n_fft).astype(np.float32)
    spectrum = np.abs(np.fft.rfft(windows * window, axis=1))
    # A full-scale sine gives a peak of sum(window) / 2 in the magnitude spectrum.
    scale = 2.0 / window.sum()
    db = 20.0 * np.log10(np.maximum(spectrum * scale, 1e-9))
    return np.ascontiguousarray(db.T, dtype=np.float32)


class SpectrogramView(pg.GraphicsLayoutWidget):
    """Spectrogram (top) and waveform (bottom) of a mono signal, sharing the time axis."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(160)
        self.spec_plot = self.addPlot(row=0, col=0)
        self.spec_plot.setLabel("left", "frequency", units="Hz")
        self.spec_plot.hideAxis("bottom")
        self.spec_plot.setMenuEnabled(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get("inferno"))
        self.image.setLevels(LEVELS_DB)
        self.spec_plot.addItem(self.image)
        self.wave_plot = self.addPlot(row=1, col=0)
        self.wave_plot.setLabel("bottom", "time", units="s")
        self.wave_plot.setLabel("left", "amplitude")
        self.wave_plot.setMenuEnabled(False)
        self.wave_plot.setYRange(-1.0, 1.0, padding=0.05)
        self.wave_plot.setXLink(self.spec_plot)
        self.wave_plot.setMouseEnabled(y=False)
        self.spec_plot.setMouseEnabled(y=False)
        self.ci.layout.setRowStretchFactor(0, 3)
        self.ci.layout.setRowStretchFactor(1, 2)
        self.wave = self.wave_plot.plot(pen=pg.mkPen(theme.ACCENT, width=1))
        self.wave.setDownsampling(auto=True, method="peak")
        self.wave.setClipToView(True)
        self.cursors = [pg.InfiniteLine(angle=90, pen=pg.mkPen(theme.PLAYHEAD)) for _ in range(2)]
        self.spec_plot.addItem(self.cursors[0])
        self.wave_plot.addItem(self.cursors[1])
        for line in self.cursors:
            line.hide()
        self.duration = 0.0
        self.spec_plot.setRange(xRange=(0.0, 1.0), yRange=(0.0, 8000.0), padding=0)

    def set_audio(self, audio: np.ndarray | None, sample_rate: int | None = None, start: float = 0.0) -> None:
        """Show ``audio`` (mono, at ``sample_rate`` Hz, the candidate's: the codec's rate) placed at
        ``start`` s, up to its Nyquist frequency; None clears. Audio without a positive rate →
        UsageError."""
        if audio is not None and len(audio) and (sample_rate is None or sample_rate <= 0):
            raise UsageError(f"the spectrogram needs the audio's sample rate, got {sample_rate}")
        if audio is None or len(audio) == 0 or sample_rate is None:
            self.image.clear()
            self.wave.setData([], [])
            self.duration = 0.0
            return
        mono = np.asarray(audio, dtype=np.float32).reshape(len(audio), -1).mean(axis=1)
        db = spectrogram_db(mono, sample_rate)
        self.duration = len(mono) / sample_rate
        self.image.setImage(db, autoLevels=False, levels=LEVELS_DB)
        self.image.setRect(start, 0.0, self.duration, sample_rate / 2.0)
        t = start + np.arange(len(mono), dtype=np.float64) / sample_rate
        self.wave.setData(t, mono)
        self.spec_plot.setYRange(0.0, sample_rate / 2.0, padding=0)
        self.spec_plot.setXRange(start, start + self.duration, padding=0)

    def set_cursor(self, seconds: float | None) -> None:
        """Show the playhead at ``seconds`` (None hides it)."""
        for line in self.cursors:
            if seconds is None:
                line.hide()
            else:
                line.setValue(seconds)
                line.show()
