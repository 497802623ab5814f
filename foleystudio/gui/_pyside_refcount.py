"""Work around PySide6 6.12's missing references to ``None``/``True``/``False`` on CPython 3.11.

With the PySide6 6.12 wheels on CPython < 3.12, Qt methods that return nothing hand back
``None`` without a new reference, and ``Signal.emit()``/``disconnect()`` do the same with
``True``: every such call leaves the singleton one reference short (measured: 50 calls of
``QWidget.update()`` take 50 references from ``None``). A GUI makes thousands of these calls
a second, so CPython soon deallocates ``None`` and aborts ("none_dealloc" / "bool_dealloc").
CPython 3.12+ makes these singletons immortal, which is what PySide6 evidently assumes.

:func:`install` measures the leak and, only if present, gives ``None``, ``True``, ``False``
(and ``NotImplemented``, ``Ellipsis``, returned the same way) 2**40 extra references, which
makes them immortal in practice exactly as in CPython 3.12 (no call count can reach zero).
It runs when ``foleystudio.gui`` is imported, before any widget exists. The real fix is a
PySide6 release that increments, or CPython >= 3.12.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

_PROBES = 64
#: Extra references given to each singleton (the low 32 bits stay small: see module doc).
_PIN = 2**40
_installed: list[str] | None = None


class _Probe(QObject):
    ping = Signal()


def _references_lost(obj: object, call: Callable[[], Any]) -> int:
    """References to ``obj`` lost per call of ``call`` (0 when the binding is correct)."""
    before = sys.getrefcount(obj)
    for _ in range(_PROBES):
        call()
    return round((before - sys.getrefcount(obj)) / _PROBES)


def install() -> list[str]:
    """Pin the singletons if this PySide6 leaks their references; returns what was pinned."""
    global _installed
    if _installed is not None:
        return _installed
    _installed = []
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return _installed  # immortal singletons (or no ob_refcnt to speak of)
    probe = _Probe()
    leaks_none = _references_lost(None, lambda: probe.setObjectName("probe")) > 0
    leaks_true = _references_lost(True, probe.ping.emit) > 0
    probe.deleteLater()
    if not (leaks_none or leaks_true):
        return _installed
    for name, obj in (
        ("None", None),
        ("True", True),
        ("False", False),
        ("NotImplemented", NotImplemented),
        ("Ellipsis", ...),
    ):
        # CPython: ob_refcnt is the first Py_ssize_t of every object, at id(obj).
        ctypes.c_ssize_t.from_address(id(obj)).value += _PIN
        _installed.append(name)
    return _installed
