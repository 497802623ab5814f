"""The shared frame of a FoleyWorld scene: time grid, layout slots, events, boxes.

Time: frame ``k`` is shown at ``k / fps`` seconds and corresponds to audio sample
``round(k * sample_rate / fps)``. Every sound event happens *on* a frame (physics is solved
so that contact happens exactly at a frame time), so a visual event and its sound onset
coincide to the sample. Space: normalised coordinates, ``x`` right and ``y`` down in [0, 1];
the floor is the horizontal line ``y = floor_y``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from foleystudio.data.foleyworld.look import Look
from foleystudio.data.foleyworld.samples import SampleBank


@dataclass(frozen=True)
class SceneContext:
    """Everything a source needs to know about the clip it is part of."""

    duration: float  #: seconds
    fps: int  #: frames per second
    sample_rate: int  #: Hz
    size: int  #: frame side in pixels (frames are square)
    floor_y: float  #: normalised y of the floor line
    setting: str  #: "indoor", "outdoor" or "street"
    surface: str  #: floor material word used in captions ("wooden", "concrete", ...)
    look: Look
    samples: SampleBank | None = None  #: recorded samples, when the clip may use them

    @property
    def n_frames(self) -> int:
        return int(round(self.duration * self.fps))

    @property
    def n_samples(self) -> int:
        return int(round(self.duration * self.sample_rate))

    def frame_time(self, k: int | np.ndarray) -> float | np.ndarray:
        """Seconds at which frame ``k`` is shown."""
        return k / self.fps

    def frame_sample(self, k: int) -> int:
        """The audio sample at which frame ``k`` is shown."""
        return int(round(k * self.sample_rate / self.fps))

    @property
    def times(self) -> np.ndarray:
        """Frame times in seconds, float64 (n_frames,)."""
        return np.arange(self.n_frames, dtype=np.float64) / self.fps

    def frames_for(self, seconds: float) -> int:
        """Whole number of frames closest to ``seconds`` (at least 1)."""
        return max(1, int(round(seconds * self.fps)))


@dataclass(frozen=True)
class Slot:
    """The horizontal band [x0, x1] of the frame given to one source."""

    x0: float
    x1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def centre(self) -> float:
        return 0.5 * (self.x0 + self.x1)

    @property
    def unit(self) -> float:
        """Size unit for objects in this slot: large in a wide slot, capped so objects fit."""
        return min(self.width, 0.55)


@dataclass(frozen=True)
class Event:
    """A sound event of a source, on frame ``frame``; ``strength`` in [0, 1] (impact speed)."""

    frame: int
    strength: float
    kind: str = "impact"


@dataclass
class BoxTrack:
    """Per-frame boxes of one source: (x, y, w, h) normalised, origin top-left, or None."""

    boxes: list[tuple[float, float, float, float] | None] = field(default_factory=list)

    def add(self, x0: float, y0: float, x1: float, y1: float) -> None:
        """Append the box spanning the given corners, clipped to the frame (None if outside)."""
        cx0, cy0 = max(min(x0, x1), 0.0), max(min(y0, y1), 0.0)
        cx1, cy1 = min(max(x0, x1), 1.0), min(max(y0, y1), 1.0)
        if cx1 - cx0 <= 1e-4 or cy1 - cy0 <= 1e-4:
            self.boxes.append(None)
        else:
            self.boxes.append((cx0, cy0, cx1 - cx0, cy1 - cy0))


def slots_for(n_narrow: int) -> list[Slot]:
    """Equal side-by-side slots for the sources that stay in one place."""
    if n_narrow <= 0:
        return []
    edges = np.linspace(0.0, 1.0, n_narrow + 1)
    return [Slot(float(edges[i]), float(edges[i + 1])) for i in range(n_narrow)]


def ease_in_out(x: np.ndarray | float) -> np.ndarray | float:
    """Smoothstep on [0, 1]: starts and ends at rest."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def jittered_frames(
    rng: np.random.Generator,
    ctx: SceneContext,
    period: float,
    jitter: float,
    start: float,
    end: float | None = None,
    min_gap: int = 2,
) -> list[int]:
    """Frames of events roughly every ``period`` s (± ``jitter`` fraction) in [start, end)."""
    end = ctx.duration if end is None else end
    frames: list[int] = []
    t = start
    while t < end:
        k = int(round(t * ctx.fps))
        if k >= ctx.n_frames:
            break
        if not frames or k - frames[-1] >= min_gap:
            frames.append(k)
        t += period * (1.0 + jitter * rng.uniform(-1.0, 1.0))
    return frames
