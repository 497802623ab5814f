"""Generation from the GUI: the request for what the user asked, and the loaded engine.

:func:`build_request` turns the project's settings and the selection into a frozen
``GenerationRequest`` (no Qt here, so tests and scripts can make the same requests).
:class:`EngineHolder` imports and creates ``foleystudio.ml.engine.GenerationEngine`` once,
on the model worker thread, and keeps it for the next generations; if the engine cannot be
imported the reason is reported plainly and everything else keeps working.

Decisions: "Generate" covers the in/out range (or the whole video) with every source (the
engine joins the text sources into its prompt, so the request's own ``text`` stays empty); "Regenerate object" covers the object's
own time range (or in/out) with that object alone, ``per_source=True``, so the stem lands
on its track; "Regenerate range" regenerates in/out inside the selected clip, keeping the
clip's audio outside it as inpainting context.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

from foleystudio.core.jobs import CancelToken, ProgressCallback
from foleystudio.core.project import Project
from foleystudio.core.requests import Candidate, GenerationRequest, InpaintContext
from foleystudio.core.sources import ObjectSource
from foleystudio.errors import GenerationError, UsageError

ENGINE_MODULE = "foleystudio.ml.engine"


def build_request(
    project: Project, mode: str = "all", source_id: str | None = None, clip_id: str | None = None
) -> GenerationRequest:
    """The request for ``mode`` "all", "object" (``source_id``) or "range" (``clip_id``)."""
    if not project.video:
        raise UsageError("open a video first: generation follows the picture")
    s = project.settings
    start = project.in_point or 0.0
    end = project.out_point
    sources = tuple(project.sources)
    per_source = False
    inpaint = None
    if mode == "object":
        if source_id is None:
            raise UsageError("select an object source to regenerate")
        source = project.source(source_id)
        if not isinstance(source, ObjectSource):
            raise UsageError(f"'{source.label}' is a {source.kind} source; select an object")
        sources = (source,)
        per_source = True
        if project.in_point is None and project.out_point is None:
            start = source.start or 0.0
            end = source.end
    elif mode == "range":
        if project.in_point is None or project.out_point is None:
            raise UsageError("set in and out points (I, O) around the part to regenerate")
        if clip_id is None:
            raise UsageError("select the clip whose range should be regenerated")
        _, clip = project.find_clip(clip_id)
        start, end = max(project.in_point, clip.position), min(project.out_point, clip.end)
        if end <= start:
            raise UsageError("the in/out range does not overlap the selected clip")
        inpaint = InpaintContext(
            render=clip.render, render_start=clip.position - clip.offset, start=start, end=end
        )
    elif mode != "all":
        raise UsageError(f"unknown generation mode {mode!r}")
    return GenerationRequest(
        video=project.video,
        start=start,
        end=end,
        negative_text=s.negative_text,
        sources=sources,
        omega=s.omega,
        delta=s.delta,
        steps=s.steps,
        sampler=s.sampler,
        cfg=s.cfg,
        seed=s.seed,
        num_candidates=s.num_candidates,
        model=s.model,
        device=s.device,
        per_source=per_source,
        inpaint=inpaint,
    )


def engine_import_error() -> str | None:
    """Why the engine cannot be used, or None if its module imports."""
    try:
        importlib.import_module(ENGINE_MODULE)
    except ImportError as exc:
        return f"generation is unavailable: the engine ({ENGINE_MODULE}) cannot be imported ({exc})"
    return None


class EngineHolder:
    """One ``GenerationEngine`` per device, created on first use (on the worker thread)."""

    def __init__(self) -> None:
        self._engine: Any = None
        self._device: str | None = None
        self._lock = threading.Lock()

    @property
    def engine(self) -> Any:
        return self._engine

    def get(self, device: str = "auto") -> Any:
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
            return self._engine

    def describe(self) -> tuple[str, str]:
        """``(device, model)`` names for the status bar ("—" until loaded)."""
        engine = self._engine
        if engine is None:
            return "—", "not loaded"
        return str(getattr(engine, "device_name", "?")), str(getattr(engine, "model_name", "?"))

    def generate(
        self, request: GenerationRequest, progress: ProgressCallback, cancel: CancelToken
    ) -> list[Candidate]:
        """Load (if needed) and run one generation; returns the candidates."""
        progress(0.0, "loading the model")
        engine = self.get(request.device)
        cancel.raise_if_cancelled()
        return list(engine.generate(request, progress, cancel))
