"""The installed PySide6 keeps the references it returns to ``None``/``True`` (regression guard).

PySide6 6.12 on CPython 3.11 hands back ``None`` from every void Qt method, and ``True`` from
``Signal.emit()``/``disconnect()``, without a new reference: each call leaves the singleton one
reference short and a GUI soon aborts in ``none_dealloc``. pyproject pins ``<6.12`` for that
(docs/decisions.md). These tests fail on any PySide6 that leaks, so lifting the pin to a leaking
release is caught here rather than by a crashed session. CPython >= 3.12 makes the singletons
immortal (their count never moves), so there the tests pass trivially.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

pytestmark = pytest.mark.gui

# A leaking binding loses exactly one reference per call. Keep the count well below the few
# hundred references True has at start-up, so a leaking PySide6 fails these asserts instead of
# aborting the whole test process.
CALLS = 64


class Emitter(QObject):
    ping = Signal(float)
    bare = Signal()


def references_lost(obj: object, call: Callable[[], Any]) -> int:
    """How many references to ``obj`` disappear over ``CALLS`` calls of ``call``."""
    call()  # first call may create caches that hold a reference
    before = sys.getrefcount(obj)
    for _ in range(CALLS):
        call()
    return before - sys.getrefcount(obj)


def test_void_qt_methods_keep_none_alive(qtbot) -> None:
    widget = QWidget()
    qtbot.addWidget(widget)
    assert references_lost(None, widget.update) < CALLS // 2
    assert references_lost(None, lambda: widget.setObjectName("probe")) < CALLS // 2


def test_signal_emit_and_disconnect_keep_true_alive() -> None:
    emitter = Emitter()
    emitter.ping.connect(lambda _: None)
    assert references_lost(True, lambda: emitter.ping.emit(1.0)) < CALLS // 2
    assert references_lost(True, emitter.bare.emit) < CALLS // 2

    def connect_then_disconnect() -> None:
        emitter.bare.disconnect(emitter.bare.connect(lambda: None))

    assert references_lost(True, connect_then_disconnect) < CALLS // 2
