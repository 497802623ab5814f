"""The dark theme: a neutral grey palette for picture work (no saturated chrome near the image).

Colour-critical viewing wants a dim, neutral surround, so the UI is mid-dark grey with one
accent colour; the style sheet adds spacing and the few custom touches (docks, sliders).
"""

from __future__ import annotations

from importlib import resources

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

ACCENT = "#4f8fd6"
PLAYHEAD = "#ff5555"
IN_OUT = "#e0b050"
WINDOW = "#2b2b2b"
BASE = "#1f1f1f"
TEXT = "#d8d8d8"
DIM_TEXT = "#8a8a8a"


def dark_palette() -> QPalette:
    """A neutral dark palette (Fusion style)."""
    pal = QPalette()
    colours = {
        QPalette.ColorRole.Window: WINDOW,
        QPalette.ColorRole.WindowText: TEXT,
        QPalette.ColorRole.Base: BASE,
        QPalette.ColorRole.AlternateBase: "#262626",
        QPalette.ColorRole.ToolTipBase: "#3a3a3a",
        QPalette.ColorRole.ToolTipText: TEXT,
        QPalette.ColorRole.Text: TEXT,
        QPalette.ColorRole.Button: "#353535",
        QPalette.ColorRole.ButtonText: TEXT,
        QPalette.ColorRole.BrightText: "#ffffff",
        QPalette.ColorRole.Highlight: ACCENT,
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: ACCENT,
        QPalette.ColorRole.PlaceholderText: DIM_TEXT,
    }
    for role, colour in colours.items():
        pal.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6a6a6a"))
    return pal


def style_sheet() -> str:
    """The application style sheet shipped in ``gui/resources/style/dark.qss``."""
    return resources.files("foleystudio.gui").joinpath("resources/style/dark.qss").read_text()


def apply_dark_theme(app: QApplication) -> None:
    """Fusion style + dark palette + style sheet, and matching pyqtgraph defaults."""
    import pyqtgraph as pg

    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    app.setStyleSheet(style_sheet())
    pg.setConfigOptions(background=BASE, foreground=TEXT, antialias=True)
