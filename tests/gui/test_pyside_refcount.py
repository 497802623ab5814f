"""The PySide6 6.12 / CPython 3.11 reference leak on None/True cannot crash the app."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

import foleystudio.gui  # noqa: F401 - importing the package installs the workaround
from foleystudio.gui import _pyside_refcount

pytestmark = pytest.mark.gui


class Emitter(QObject):
    ping = Signal(float)


def test_many_void_calls_and_emits_leave_the_singletons_alive(qtbot) -> None:
    widget = QWidget()
    emitter = Emitter()
    emitter.ping.connect(lambda _: None)
    # Far more calls than None/True have references in a fresh interpreter (~10^4): without
    # the workaround on an affected PySide6 this aborts the process.
    for _ in range(200_000):
        widget.update()
    for _ in range(100_000):
        emitter.ping.emit(1.0)
    assert sys.getrefcount(None) > 0 and sys.getrefcount(True) > 0
    widget.deleteLater()


def test_the_workaround_only_acts_where_the_leak_exists() -> None:
    pinned = _pyside_refcount.install()  # idempotent: returns what the first call did
    if sys.version_info >= (3, 12):
        assert pinned == []
    else:
        leak = _pyside_refcount._references_lost(None, lambda: QObject().setObjectName("x"))
        assert (leak > 0) == bool(pinned)
        if pinned:
            assert sys.getrefcount(None) > 2**39
