"""Cancellation and progress for long jobs (generation, features, export, training).

Jobs take a :class:`CancelToken` and a :data:`ProgressCallback` per call; there is no global
job state. A job checks the token at every step and raises :class:`JobCancelled`, leaving
everything it would have changed untouched.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from foleystudio.errors import JobCancelled

#: ``progress(fraction, message)``: fraction of the whole job done, in [0, 1].
ProgressCallback = Callable[[float, str], None]


def no_progress(fraction: float, message: str) -> None:
    """A progress callback that ignores reports."""


class CancelToken:
    """Thread-safe cancel flag shared between a job and whoever may cancel it."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the job to stop at its next check."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise :class:`JobCancelled` if :meth:`cancel` was called."""
        if self._event.is_set():
            raise JobCancelled()


def sub_progress(progress: ProgressCallback, start: float, end: float) -> ProgressCallback:
    """A callback mapping a sub-job's [0, 1] onto ``[start, end]`` of the parent's."""

    def report(fraction: float, message: str) -> None:
        progress(start + (end - start) * min(max(fraction, 0.0), 1.0), message)

    return report
