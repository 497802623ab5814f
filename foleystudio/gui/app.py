"""Starting the desktop app: the QApplication, the theme, the main window.

``run(path, screenshot=...)`` is what ``foleystudio gui`` calls. With a screenshot path the
window is rendered off-screen-safe (works with ``QT_QPA_PLATFORM=offscreen``), saved as PNG,
and the app exits without entering the event loop.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QApplication

from foleystudio import __version__
from foleystudio.gui.theme import apply_dark_theme


def create_app(argv: list[str] | None = None) -> QApplication:
    """The QApplication (reused if one exists), named and themed."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("FoleyStudio")
    app.setOrganizationName("FoleyStudio")
    app.setApplicationVersion(__version__)
    apply_dark_theme(app)
    return app


def run(
    path: str | Path | None = None, screenshot: str | Path | None = None, size: tuple[int, int] | None = None
) -> int:
    """Open the main window (on ``path``: a video or a project) and run the app.

    With ``screenshot``, save the rendered window (``size`` = (width, height) px) there and
    return 0 instead of running.
    Raises the :class:`~foleystudio.errors.FoleyStudioError` of a file that cannot be opened.
    """
    from foleystudio.gui.main_window import DEFAULT_SIZE, MainWindow

    app = create_app()
    window = MainWindow(audio_output=screenshot is None)
    try:
        if path is not None:
            window.open_path(path)
        if screenshot is not None:
            window.save_screenshot(screenshot, QSize(*size) if size else DEFAULT_SIZE)
            return 0
    except BaseException:
        window.shutdown()
        window.deleteLater()
        raise
    else:
        window.show()
        return int(app.exec())
    finally:
        if screenshot is not None:
            window.shutdown()
            window.document.undo_stack.setClean()
            window.discard_untitled()
            window.close()
            window.deleteLater()
            app.processEvents()
