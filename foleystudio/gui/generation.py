"""Generation from the GUI: the loaded engine, created once on the model worker thread.

:class:`EngineHolder` imports and creates ``foleystudio.ml.engine.GenerationEngine`` once,
on the model worker thread, and keeps it for the next generations; if the engine cannot be
imported the reason is reported plainly and everything else keeps working. The request for
what the user asked is :func:`foleystudio.core.generation_requests.build_request` (no Qt).
"""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING

from foleystudio.core.jobs import CancelToken, ProgressCallback
from foleystudio.core.requests import Candidate, GenerationRequest
from foleystudio.errors import GenerationError

if TYPE_CHECKING:
    from foleystudio.ml.engine import GenerationEngine

ENGINE_MODULE = "foleystudio.ml.engine"


def engine_import_error() -> str | None:
    """Why the engine cannot be used, or None if its module imports."""
    try:
        importlib.import_module(ENGINE_MODULE)
    except ImportError as exc:
        return f"generation is unavailable: the engine ({ENGINE_MODULE}) cannot be imported ({exc})"
    return None


class EngineHolder:
    """One ``GenerationEngine`` per device, created on first use (on the worker thread).

    It remembers the name of the model that made the last candidates (the loaded bundle's
    name, as :meth:`GenerationEngine.model` gives it): the engine itself keeps several models
    and has no "current" one.
    """

    def __init__(self) -> None:
        self._engine: GenerationEngine | None = None
        self._device: str | None = None
        self._model_name: str | None = None
        self._lock = threading.Lock()

    @property
    def engine(self) -> GenerationEngine | None:
        return self._engine

    def get(self, device: str = "auto") -> GenerationEngine:
        """The engine for ``device``; raises :class:`GenerationError` if it cannot be loaded."""
        with self._lock:
            if self._engine is None or self._device != device:
                try:
                    module = importlib.import_module(ENGINE_MODULE)
                except ImportError as exc:
                    raise GenerationError(
                        f"generation is unavailable: the engine ({ENGINE_MODULE}) cannot be imported ({exc})"
                    ) from exc
                self._engine = module.GenerationEngine(device=device)
                self._device = device
                self._model_name = None
            return self._engine

    def describe(self) -> tuple[str, str]:
        """``(device, model)`` names for the status bar: "—" until the engine exists, and
        "not loaded" until a generation has loaded a model; then the model that made the
        last candidates."""
        engine = self._engine
        if engine is None:
            return "—", "not loaded"
        return engine.device_name, self._model_name or "not loaded"

    def generate(
        self, request: GenerationRequest, progress: ProgressCallback, cancel: CancelToken
    ) -> list[Candidate]:
        """Load (if needed) and run one generation; returns the candidates."""
        progress(0.0, "loading the model")
        engine = self.get(request.device)
        cancel.raise_if_cancelled()
        candidates = list(engine.generate(request, progress, cancel))
        self._model_name = engine.model(request.model).name  # loaded by now: no second load
        return candidates
