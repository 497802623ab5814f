"""Generation from the GUI: the loaded engine, created once on the model worker thread.

:class:`EngineHolder` imports and creates ``foleystudio.ml.engine.GenerationEngine`` once,
on the model worker thread, and keeps it for the next generations; if the engine cannot be
imported the reason is reported plainly and everything else keeps working. The request for
what the user asked is :func:`foleystudio.core.project_requests.build_request` (no Qt).

Event detection (issue 15) runs here too (:func:`detect_source_events`), on the model worker:
``ml.event_detector.detect_events`` with the project model's visual onset network (as the
engine would use it), or the optical-flow detector alone when the model cannot be loaded.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from foleystudio.core.boxes import BoxKeyframe
from foleystudio.core.events import EventTrack
from foleystudio.core.jobs import CancelToken, ProgressCallback, sub_progress
from foleystudio.core.requests import WHOLE_PICTURE, Candidate, GenerationRequest
from foleystudio.core.settings import DEFAULT_MODEL
from foleystudio.errors import FoleyStudioError, GenerationError

if TYPE_CHECKING:
    from foleystudio.ml.engine import GenerationEngine

ENGINE_MODULE = "foleystudio.ml.engine"


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
        engine = self.get(request.settings.device)
        cancel.raise_if_cancelled()
        candidates = list(engine.generate(request, progress, cancel))
        self._model_name = engine.model(request.settings.model).name  # loaded by now: no second load
        return candidates

    def event_nets(self, model: str, device: str = "auto") -> tuple[Any, Any, str]:
        """The visual onset and flow event networks of ``model`` (each None if it has none),
        and a note: empty, or why the hand-made optical-flow detector is used alone (the model
        cannot be loaded)."""
        try:
            loaded = self.get(device).model(model)
        except (FoleyStudioError, ImportError, OSError) as exc:
            return None, None, f"model {model!r} not loaded ({exc}); optical-flow detector only"
        return loaded.onsets, loaded.flow_events, ""


@dataclass(frozen=True)
class DetectedTracks:
    """Detected event tracks by target (``WHOLE_PICTURE`` or an object source's id) over
    ``[start, end)`` s, with each one's detector (``"onsets"``, ``"flow-net"`` or ``"flow"``)."""

    tracks: dict[str, EventTrack]
    detectors: dict[str, str]
    start: float
    end: float
    note: str = ""


def detect_source_events(
    engines: EngineHolder | None,
    video: str,
    start: float,
    end: float,
    targets: Sequence[str],
    objects: Mapping[str, Sequence[BoxKeyframe]],
    progress: ProgressCallback,
    cancel: CancelToken,
    *,
    model: str = DEFAULT_MODEL,
    device: str = "auto",
) -> DetectedTracks:
    """Run the event detector over ``[start, end)`` s for ``targets`` (``objects`` gives the
    box keyframes of each object target). ``engines=None`` uses the optical-flow detector."""
    try:
        from foleystudio.ml.event_detector import detect_events
    except ImportError as exc:
        raise GenerationError(
            f"event detection is unavailable: the detector cannot be imported ({exc})"
        ) from exc
    progress(0.0, "loading the model")
    onset_net, flow_net, note = (None, None, "") if engines is None else engines.event_nets(model, device)
    cancel.raise_if_cancelled()
    boxes = {t: objects[t] for t in targets if t != WHOLE_PICTURE}
    whole, per_object = detect_events(
        video,
        start,
        end,
        objects=boxes,
        onset_net=onset_net,
        flow_net=flow_net,
        cancel=cancel,
        progress=sub_progress(progress, 0.05, 1.0),
    )
    found = {WHOLE_PICTURE: whole, **per_object}
    chosen = {t: found[t] for t in targets if t in found}
    return DetectedTracks(
        tracks={t: e.track for t, e in chosen.items()},
        detectors={t: e.detector for t, e in chosen.items()},
        start=start,
        end=end,
        note=note,
    )
