"""Work around a reference-count bug of PySide6 6.12 on CPython < 3.12.

``SignalInstance.emit()`` and ``SignalInstance.disconnect()`` return ``True`` without taking a
new reference to it, so every call from Python leaves ``True`` with one reference fewer.
After a few thousand emits (a playhead following the clock emits 60 per second, pyqtgraph
emits on every view change) CPython deallocates ``True`` and aborts with "bool_dealloc:
deallocating True or False". CPython 3.12+ makes ``True`` immortal, which hides the bug.

:func:`install` measures whether this PySide6 has the bug and, only then, wraps the two
methods so they give the missing reference back. It is idempotent and runs when
``foleystudio.gui`` is imported, before any widget exists.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal, SignalInstance

_PROBES = 16
_installed = False


class _Probe(QObject):
    ping = Signal()


def _noop() -> None:
    pass


def _true_refs_lost(call: Callable[[], Any]) -> int:
    """References to ``True`` lost per call of ``call`` (0 for a correct implementation)."""
    before = sys.getrefcount(True)
    for _ in range(_PROBES):
        call()
    return round((before - sys.getrefcount(True)) / _PROBES)


def _give_back(method: Callable[..., Any]) -> Callable[..., Any]:
    incref = ctypes.pythonapi.Py_IncRef
    incref.argtypes = [ctypes.py_object]
    incref.restype = None

    def fixed(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = method(self, *args, **kwargs)
        if result is True or result is False:
            incref(result)  # the reference PySide6 returned without owning
        return result

    fixed.__name__ = getattr(method, "__name__", "fixed")
    fixed.__doc__ = getattr(method, "__doc__", None)
    return fixed


def install() -> list[str]:
    """Patch the affected ``SignalInstance`` methods; returns the names patched."""
    global _installed
    if _installed:
        return []
    _installed = True
    probe = _Probe()
    patched = []
    if _true_refs_lost(probe.ping.emit) == 1:
        SignalInstance.emit = _give_back(SignalInstance.emit)
        patched.append("emit")

    def connect_disconnect() -> None:
        probe.ping.connect(_noop)
        probe.ping.disconnect(_noop)

    if _true_refs_lost(connect_disconnect) == 1:
        SignalInstance.disconnect = _give_back(SignalInstance.disconnect)
        patched.append("disconnect")
    probe.deleteLater()
    return patched
