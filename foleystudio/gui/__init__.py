"""The desktop app (PySide6 + pyqtgraph); the only package that imports Qt."""

from foleystudio.gui._pyside_refcount import install as _install_pyside_fix

_install_pyside_fix()
