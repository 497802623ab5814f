"""What every FoleyWorld category provides: a simulated, drawable, sounding source.

A category's :meth:`Category.make` runs the source's physics on the clip's frame grid,
synthesises its stem with every onset on the sample of its visual event, and returns a
:class:`SourceTrack`: per-frame boxes, the events, a ``draw(canvas, frame)`` function and
words (``details``) for the captions.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from foleystudio.data.foleyworld.render import Canvas
from foleystudio.data.foleyworld.scene import Event, SceneContext, Slot


@dataclass
class SourceTrack:
    """One simulated source of a clip."""

    category: str
    events: list[Event]  #: impulsive sound events, each on a frame
    boxes: list[tuple[float, float, float, float] | None]  #: per frame, normalised x, y, w, h
    draw: Callable[[Canvas, int], None]  #: draws the source as seen on frame k
    stem: np.ndarray  #: float32 (n_samples,), before the clip's level normalisation
    continuous: bool  #: True when the source sounds between events too (engine, creak, ring)
    details: dict[str, Any] = field(default_factory=dict)  #: caption words (material, colour, ...)


class Category(ABC):
    """A kind of sound-making object: its look, its motion and its sound model."""

    #: Stable identifier used in labels and ground truth.
    name: str = ""
    #: True for sources that cross the whole frame (drawn first, behind the others).
    wide: bool = False
    #: Settings it fits in ("indoor", "outdoor", "street"); the first is preferred.
    settings: tuple[str, ...] = ("indoor", "outdoor")

    @abstractmethod
    def make(self, rng: np.random.Generator, ctx: SceneContext, slot: Slot) -> SourceTrack:
        """Simulate, draw and sound one source of this category inside ``slot``."""


def events_from_frames(
    frames: list[int], strengths: list[float] | np.ndarray, kind: str = "impact"
) -> list[Event]:
    """Pair frame indices with strengths (clipped to [0, 1])."""
    return [Event(int(k), float(np.clip(s, 0.0, 1.0)), kind) for k, s in zip(frames, strengths, strict=True)]
