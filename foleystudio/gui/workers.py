"""Background jobs: generation, feature extraction, export, track rendering (docs/architecture.md §2.3).

A job is a plain function ``fn(progress, cancel) -> result`` from ``core``/``ml``/``export``;
it runs on a ``QThreadPool`` thread and reports back through Qt signals (queued onto the GUI
thread). Results cross as NumPy arrays or frozen dataclasses. Model work goes to a pool with
one thread, so one loaded engine serves jobs in order and never runs twice at once.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from foleystudio.core.jobs import CancelToken, ProgressCallback
from foleystudio.errors import FoleyStudioError, JobCancelled

JobFunction = Callable[[ProgressCallback, CancelToken], Any]


class JobSignals(QObject):
    """Signals of one job; lives on the GUI thread, emitted from the worker."""

    progress = Signal(float, str)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    ended = Signal()


class Job(QRunnable):
    """One background call with its cancel token and last reported progress."""

    def __init__(self, name: str, fn: JobFunction) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the manager keeps it until its signals are delivered
        self.name = name
        self.fn = fn
        self.token = CancelToken()
        self.signals = JobSignals()
        self.fraction = 0.0
        self.message = "waiting"
        self._returned = threading.Event()
        self.signals.progress.connect(self._remember)

    def _remember(self, fraction: float, message: str) -> None:
        self.fraction, self.message = fraction, message

    def cancel(self) -> None:
        self.token.cancel()

    def run(self) -> None:
        def progress(fraction: float, message: str) -> None:
            self.signals.progress.emit(float(fraction), str(message))

        try:
            result = self.fn(progress, self.token)
        except JobCancelled:
            self.signals.cancelled.emit()
        except FoleyStudioError as exc:
            self.signals.failed.emit(str(exc))
        except Exception as exc:  # an unexpected bug: report it instead of killing the worker
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            traceback.print_exc()
            self.signals.failed.emit(f"internal error in {self.name}: {detail}")
        else:
            if self.token.cancelled:
                self.signals.cancelled.emit()
            else:
                self.signals.finished.emit(result)
        finally:
            self._returned.set()
            self.signals.ended.emit()

    def wait(self, timeout: float) -> bool:
        """Block until ``fn`` has returned (seconds); True if it did. Only for a started job."""
        return self._returned.wait(timeout)


class JobManager(QObject):
    """Starts jobs, tracks the running ones for the status bar, cancels and waits on exit."""

    jobs_changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(2)
        self.model_pool = QThreadPool(self)
        self.model_pool.setMaxThreadCount(1)
        self.jobs: list[Job] = []

    def submit(
        self,
        name: str,
        fn: JobFunction,
        on_done: Callable[[Any], None] | None = None,
        on_failed: Callable[[str], None] | None = None,
        on_cancelled: Callable[[], None] | None = None,
        model: bool = False,
    ) -> Job:
        """Run ``fn(progress, cancel)`` in the background; callbacks run on the GUI thread."""
        job = Job(name, fn)
        if on_done is not None:
            job.signals.finished.connect(on_done)
        if on_failed is not None:
            job.signals.failed.connect(on_failed)
        if on_cancelled is not None:
            job.signals.cancelled.connect(on_cancelled)
        job.signals.progress.connect(lambda *_: self.jobs_changed.emit())
        job.signals.ended.connect(lambda: self._finish(job))
        self.jobs.append(job)
        (self.model_pool if model else self.pool).start(job)
        self.jobs_changed.emit()
        return job

    def _finish(self, job: Job) -> None:
        if job in self.jobs:
            self.jobs.remove(job)
        self.jobs_changed.emit()

    def stop(self, job: Job, timeout: float = 30.0) -> None:
        """Cancel ``job`` and make sure it no longer runs: a queued job is taken off its pool
        (it never starts), a running one is waited for (``timeout`` s)."""
        job.cancel()
        if self.pool.tryTake(job) or self.model_pool.tryTake(job):
            self._finish(job)
            return
        job.wait(timeout)

    def cancel_all(self) -> None:
        for job in list(self.jobs):
            job.cancel()

    def wait(self, timeout_ms: int = 30000) -> bool:
        """Block until every job has returned (used on exit and in tests)."""
        ok = self.pool.waitForDone(timeout_ms)
        return self.model_pool.waitForDone(timeout_ms) and ok

    def shutdown(self, timeout_ms: int = 30000) -> None:
        """Cancel everything, wait, and drop pending jobs."""
        self.pool.clear()
        self.model_pool.clear()
        self.cancel_all()
        self.wait(timeout_ms)
