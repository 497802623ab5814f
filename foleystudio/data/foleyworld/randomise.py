"""Domain randomisation of FoleyWorld pictures: the same scene, sound and events, other looks.

A randomised clip is simulated and sounded exactly as a plain one (the scene, source,
ambience and level streams are untouched); only its pictures change, plus its frame rate,
which is drawn from :data:`FPS_CHOICES` (a clip generated plainly at that frame rate has the
same audio and the same onset times). Each clip draws, from its own random stream, which
effects it gets and their parameters:

- ``background``: a procedural texture (fractal value noise, stripes, a soft checker, a
  gradient or blurred blobs) replaces or is blended into the backdrop before any object is
  drawn, so objects stay on top. Wall and floor get separate textures (the floor line stays)
  unless one texture covers both.
- ``shake``, ``pan``, ``zoom``: a per-frame camera view (zoom about a point of the world,
  no rotation). Objects are drawn through the view (:class:`ViewCanvas`), so they stay
  sharp at any zoom; the backdrop is resampled bilinearly and mirrored beyond the scene.
  The zoom makes the source it aims at span 2–60 % of the frame (log-uniform; the
  categories have no size parameter, so the zoom is what varies the scale; zoom 0.15–4).
  Zooming out shows the scene in a window of a larger backdrop: objects are cut at the
  scene's border, so their clipped boxes stay exact. Boxes are mapped by the same view
  (:meth:`Randomiser.transform_boxes`).
- ``distractors``: one or two silent shapes drifting on smooth paths (constant speed along
  their heading plus a slow sideways sway: they never stop or turn back, so nothing looks
  like an impact), behind or in front of the sources.
- ``occlusion``: an opaque shape in front of the scene for part of the clip; it slides in
  from an edge, rests or drifts slowly, and slides out.
- ``lighting``: brightness, contrast and colour-temperature ramps; ``flicker``: a small
  periodic plus per-frame brightness wobble.
- ``motion_blur`` (a short line kernel), ``blur`` (Gaussian), ``noise`` (Gaussian, new per
  frame) and ``compression`` (8x8 block DCT quantisation in YCbCr, optional chroma
  subsampling), in that order, last.

:func:`randomise_frames` applies the effects that need no scene (everything but background
and camera) to frames that are already rendered. NumPy and SciPy only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from scipy import fft, ndimage

from foleystudio.data.foleyworld.render import Canvas, Color

#: Frame rates a randomised clip draws from.
FPS_CHOICES: tuple[int, ...] = (12, 15, 24, 25, 30, 50, 60)
#: Every effect, in the order their on/off switches are drawn.
EFFECTS: tuple[str, ...] = (
    "background",
    "distractors",
    "occlusion",
    "shake",
    "pan",
    "zoom",
    "lighting",
    "flicker",
    "motion_blur",
    "blur",
    "noise",
    "compression",
)
#: Effects that need the scene (backdrop, world coordinates): :func:`randomise_frames` skips them.
SCENE_EFFECTS = ("background", "shake", "pan", "zoom")
TEXTURES = ("fractal", "stripes", "checker", "gradient", "blobs")

Box = tuple[float, float, float, float]
View = tuple[float, float, float]  #: (x, y) of the view's top-left corner in the world, zoom


@dataclass(frozen=True)
class RandomiseSettings:
    """Probabilities (``p_*``, per clip) and parameter ranges of the effects."""

    fps_choices: tuple[int, ...] = FPS_CHOICES
    p_background: float = 0.7
    background_alpha: tuple[float, float] = (0.35, 0.8)  #: texture weight when blended
    p_distractors: float = 0.4
    distractor_size: tuple[float, float] = (0.03, 0.12)  #: radius, fraction of the frame
    distractor_speed: tuple[float, float] = (0.03, 0.15)  #: frame widths per second
    p_occlusion: float = 0.25
    occluder_size: tuple[float, float] = (0.15, 0.4)  #: fraction of the frame
    p_shake: float = 0.3
    shake_px: tuple[float, float] = (0.5, 3.0)  #: RMS offset, pixels
    p_pan: float = 0.3
    pan_views: tuple[float, float] = (0.1, 0.35)  #: pan over the clip, view widths
    p_zoom: float = 0.5
    #: The zoom makes the source it aims at span this fraction of the frame (log-uniform,
    #: its median box side), within the ``zoom`` limits (> 1 magnifies).
    object_scale: tuple[float, float] = (0.02, 0.6)
    zoom: tuple[float, float] = (0.15, 4.0)
    zoom_change: float = 1.5  #: the zoom may change by up to this factor over the clip
    p_lighting: float = 0.5
    brightness: tuple[float, float] = (0.65, 1.3)
    contrast: tuple[float, float] = (0.7, 1.2)
    temperature: tuple[float, float] = (-1.0, 1.0)  #: -1 cold (blue) … +1 warm (red)
    p_flicker: float = 0.2
    flicker_depth: tuple[float, float] = (0.02, 0.08)
    p_motion_blur: float = 0.2
    motion_blur_px: tuple[float, float] = (3.0, 9.0)  #: kernel length
    p_blur: float = 0.25
    blur_sigma: tuple[float, float] = (0.5, 1.5)  #: pixels
    p_noise: float = 0.5
    noise_sigma: tuple[float, float] = (1.0, 8.0)  #: on the 0–255 scale
    p_compression: float = 0.3
    compression_step: tuple[float, float] = (3.0, 16.0)  #: DC quantiser step, 0–255 scale

    def probability(self, effect: str) -> float:
        return float(getattr(self, f"p_{effect}"))

    @classmethod
    def only(cls, *effects: str, **changes: Any) -> RandomiseSettings:
        """Settings with exactly ``effects`` always on and every other effect off."""
        unknown = sorted(set(effects) - set(EFFECTS))
        if unknown:
            raise ValueError(f"unknown effects {unknown}; known: {', '.join(EFFECTS)}")
        probs = {f"p_{e}": (1.0 if e in effects else 0.0) for e in EFFECTS}
        return cls(**{**probs, **changes})

    def validate(self) -> None:
        for f in fields(self):
            if f.name.startswith("p_") and not 0.0 <= getattr(self, f.name) <= 1.0:
                raise ValueError(f"{f.name} must lie in [0, 1], got {getattr(self, f.name)}")
        if not self.fps_choices or min(self.fps_choices) < 4 or max(self.fps_choices) > 120:
            raise ValueError(f"fps choices must lie within 4–120, got {self.fps_choices}")
        if self.zoom[0] <= 0 or self.zoom[0] > self.zoom[1] or self.zoom_change < 1:
            raise ValueError("zoom range must be positive and increasing, zoom_change >= 1")
        if not 0 < self.object_scale[0] <= self.object_scale[1] <= 1:
            raise ValueError(f"object scale must lie in (0, 1], got {self.object_scale}")


DEFAULT_SETTINGS = RandomiseSettings()


def draw_fps(rng: np.random.Generator, settings: RandomiseSettings = DEFAULT_SETTINGS) -> int:
    """The clip's frame rate (drawn first from the clip's randomisation stream)."""
    return int(settings.fps_choices[int(rng.integers(len(settings.fps_choices)))])


def ease(x: np.ndarray | float) -> np.ndarray:
    """Smoothstep on [0, 1]."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _r(value: float, digits: int = 4) -> float:
    return round(float(value), digits)


def _colour(rng: np.random.Generator, lo: float = 0.05, hi: float = 0.95) -> Color:
    c = rng.uniform(lo, hi, 3)
    grey = c.mean()
    c = grey + rng.uniform(0.3, 1.0) * (c - grey)  # some colours muted, some saturated
    return (float(c[0]), float(c[1]), float(c[2]))


# --- drawing through a camera view --------------------------------------------------------
class ViewCanvas(Canvas):
    """A :class:`Canvas` whose shapes are given in world coordinates and seen through a view.

    The view shows the world square [ox, ox + 1/zoom] x [oy, oy + 1/zoom]; a world point (x, y)
    lands on the frame at ((x - ox) * zoom, (y - oy) * zoom) and lengths scale by ``zoom``.
    The identity view (0, 0, 1) draws exactly as :class:`Canvas`.
    """

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.set_view((0.0, 0.0, 1.0))

    def set_view(self, view: View) -> None:
        self.ox, self.oy, self.zoom = (float(v) for v in view)

    def _x(self, x: float) -> float:
        return (x - self.ox) * self.zoom

    def _y(self, y: float) -> float:
        return (y - self.oy) * self.zoom

    def circle(self, cx, cy, r, color, alpha=1.0) -> None:
        super().circle(self._x(cx), self._y(cy), r * self.zoom, color, alpha)

    def ellipse(self, cx, cy, rx, ry, color, alpha=1.0) -> None:
        z = self.zoom
        super().ellipse(self._x(cx), self._y(cy), rx * z, ry * z, color, alpha)

    def ring(self, cx, cy, rx, ry, width, color, alpha=1.0) -> None:
        z = self.zoom
        super().ring(self._x(cx), self._y(cy), rx * z, ry * z, width * z, color, alpha)

    def rect(self, x0, y0, x1, y1, color, alpha=1.0) -> None:
        super().rect(self._x(x0), self._y(y0), self._x(x1), self._y(y1), color, alpha)

    def capsule(self, x0, y0, x1, y1, radius, color, alpha=1.0) -> None:
        super().capsule(self._x(x0), self._y(y0), self._x(x1), self._y(y1), radius * self.zoom, color, alpha)

    def polygon(self, points, color, alpha=1.0) -> None:
        super().polygon([(self._x(x), self._y(y)) for x, y in points], color, alpha)

    def sphere(self, cx, cy, rx, ry, color, *, shininess=0.0, alpha=1.0, stripes=None, rim=0.0) -> None:
        z = self.zoom
        super().sphere(
            self._x(cx),
            self._y(cy),
            rx * z,
            ry * z,
            color,
            shininess=shininess,
            alpha=alpha,
            stripes=stripes,
            rim=rim,
        )


def view_box(box: Sequence[float] | None, view: View) -> list[float] | None:
    """A normalised world box (x, y, w, h) as seen through ``view``, clipped to the frame."""
    if box is None:
        return None
    ox, oy, z = view
    x, y, w, h = box
    x0, y0 = max((x - ox) * z, 0.0), max((y - oy) * z, 0.0)
    x1, y1 = min((x + w - ox) * z, 1.0), min((y + h - oy) * z, 1.0)
    if x1 - x0 <= 1e-4 or y1 - y0 <= 1e-4:
        return None
    return [x0, y0, x1 - x0, y1 - y0]


# --- procedural textures -------------------------------------------------------------------
def _value_noise(rng: np.random.Generator, xs: np.ndarray, ys: np.ndarray, cells: float) -> np.ndarray:
    """Smooth value noise in [0, 1] on the grid xs (columns) x ys (rows), ``cells`` per unit."""
    gx, gy = xs * cells, ys * cells
    bx, by = np.floor(gx.min()), np.floor(gy.min())
    lattice = rng.random((int(np.floor(gy.max()) - by) + 2, int(np.floor(gx.max()) - bx) + 2))
    ix, iy = (np.floor(gx) - bx).astype(int), (np.floor(gy) - by).astype(int)
    fx, fy = ease(gx - np.floor(gx)), ease(gy - np.floor(gy))
    rows = lattice[iy] * (1 - fy)[:, None] + lattice[iy + 1] * fy[:, None]
    return rows[:, ix] * (1 - fx) + rows[:, ix + 1] * fx


def _palette(rng: np.random.Generator, s: np.ndarray) -> np.ndarray:
    """Map a field in [0, 1] through a ramp of 2–3 random colours: (H, W, 3)."""
    n = int(rng.integers(2, 4))
    colours = np.array([_colour(rng) for _ in range(n)], np.float32)
    pos = s.astype(np.float32) * (n - 1)
    i = np.clip(np.floor(pos).astype(int), 0, n - 2)
    f = (pos - i)[..., None]
    return colours[i] * (1 - f) + colours[i + 1] * f


def texture(rng: np.random.Generator, kind: str, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """A procedural RGB texture in [0, 1] over world columns ``xs`` and rows ``ys`` (H, W, 3)."""
    h, w = ys.size, xs.size
    angle = rng.uniform(0, np.pi)
    u = xs[None, :] * np.cos(angle) + ys[:, None] * np.sin(angle)
    v = -xs[None, :] * np.sin(angle) + ys[:, None] * np.cos(angle)
    if kind == "fractal":
        cells, persistence = rng.uniform(2.0, 8.0), rng.uniform(0.4, 0.7)
        s, amp, total = np.zeros((h, w)), 1.0, 0.0
        for octave in range(int(rng.integers(3, 6))):
            s += amp * _value_noise(rng, xs, ys, cells * 2**octave)
            total += amp
            amp *= persistence
        s /= total
        s = (s - s.min()) / max(np.ptp(s), 1e-6)
        image = _palette(rng, s)
        tint = _value_noise(rng, xs, ys, cells)[..., None] - 0.5  # colour variation, as in a photo
        image += 0.25 * tint * (np.asarray(_colour(rng), np.float32) - 0.5)
    elif kind == "stripes":
        s = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(2.0, 14.0) * u + rng.uniform(0, 2 * np.pi))
        image = _palette(rng, np.clip((s - 0.5) * rng.uniform(1.0, 8.0) + 0.5, 0.0, 1.0))
    elif kind == "checker":
        period = rng.uniform(0.04, 0.25)
        s = np.sin(np.pi * u / period) * np.sin(np.pi * v / period)
        image = _palette(rng, 0.5 + 0.5 * np.tanh(rng.uniform(4.0, 20.0) * s))
    elif kind == "gradient":
        if rng.random() < 0.5:
            s = u - u.min()
        else:
            cx, cy = rng.uniform(xs.min(), xs.max()), rng.uniform(ys.min(), ys.max())
            s = np.sqrt((xs[None, :] - cx) ** 2 + (ys[:, None] - cy) ** 2)
        image = _palette(rng, s / max(float(s.max()), 1e-6))
    elif kind == "blobs":
        image = np.empty((h, w, 3), np.float32)
        image[:] = _colour(rng)
        x_lo, x_hi, y_lo, y_hi = xs.min(), xs.max(), ys.min(), ys.max()
        area = (x_hi - x_lo) * (y_hi - y_lo)
        for _ in range(int(np.clip(rng.uniform(12, 40) * area, 6, 120))):
            sigma = rng.uniform(0.03, 0.2)
            cx, cy = rng.uniform(x_lo - sigma, x_hi + sigma), rng.uniform(y_lo - sigma, y_hi + sigma)
            weight = rng.uniform(0.5, 1.0) * np.outer(
                np.exp(-0.5 * ((ys - cy) / sigma) ** 2), np.exp(-0.5 * ((xs - cx) / sigma) ** 2)
            )
            image += weight[..., None].astype(np.float32) * (np.asarray(_colour(rng), np.float32) - image)
    else:
        raise ValueError(f"unknown texture {kind!r}")
    image = image.astype(np.float32) + rng.normal(0.0, 0.01, (h, w, 1)).astype(np.float32)
    return np.clip(image, 0.0, 1.0)


# --- image-space effects ---------------------------------------------------------------------
def _mirror(index: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Integer indices folded into [lo, hi) by repeated mirroring (edge pixels repeated)."""
    period = 2 * (hi - lo)
    k = np.mod(index - lo, period)
    return lo + np.where(k < hi - lo, k, period - 1 - k)


def _line_kernel(length: float, angle: float) -> np.ndarray:
    """A normalised straight-line kernel (motion blur) of ``length`` pixels."""
    half = int(np.ceil(length / 2)) + 1
    kernel = np.zeros((2 * half + 1, 2 * half + 1), np.float32)
    for t in np.linspace(-length / 2, length / 2, int(np.ceil(length)) * 4 + 1):
        x, y = half + t * np.cos(angle), half + t * np.sin(angle)
        x0, y0 = int(np.floor(x)), int(np.floor(y))
        fx, fy = x - x0, y - y0
        kernel[y0, x0] += (1 - fx) * (1 - fy)
        kernel[y0, x0 + 1] += fx * (1 - fy)
        kernel[y0 + 1, x0] += (1 - fx) * fy
        kernel[y0 + 1, x0 + 1] += fx * fy
    return kernel / kernel.sum()


_TO_YCC = np.array(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], np.float32
)
_FROM_YCC = np.linalg.inv(_TO_YCC).astype(np.float32)


def block_quantise(image: np.ndarray, step: float, chroma_subsampling: bool = False) -> np.ndarray:
    """JPEG-like artefacts: 8x8 block DCT of Y, Cb, Cr, each coefficient rounded to a step.

    ``image`` is float (H, W, 3) on the 0–255 scale; the step is ``step`` for the DC term and
    grows with frequency (x 1 + 0.75 (u + v)), 1.5x coarser for chroma.
    """
    h, w, _ = image.shape
    ycc = image @ _TO_YCC.T
    if chroma_subsampling:
        hh, ww = h - h % 2, w - w % 2
        c = ycc[:hh, :ww, 1:]
        c = c.reshape(hh // 2, 2, ww // 2, 2, 2).mean(axis=(1, 3))
        ycc[:hh, :ww, 1:] = np.repeat(np.repeat(c, 2, axis=0), 2, axis=1)
    ph, pw = -h % 8, -w % 8
    if ph or pw:
        ycc = np.pad(ycc, ((0, ph), (0, pw), (0, 0)), mode="edge")
    bh, bw = ycc.shape[0] // 8, ycc.shape[1] // 8
    blocks = ycc.reshape(bh, 8, bw, 8, 3)
    coeffs = fft.dctn(blocks, axes=(1, 3), norm="ortho")
    freq = np.arange(8, dtype=np.float32)
    q = step * (1.0 + 0.75 * (freq[:, None] + freq[None, :]))
    q = q[None, :, None, :, None] * np.array([1.0, 1.5, 1.5], np.float32)
    coeffs = np.round(coeffs / q) * q
    out = fft.idctn(coeffs, axes=(1, 3), norm="ortho").reshape(bh * 8, bw * 8, 3)[:h, :w]
    return out.astype(np.float32) @ _FROM_YCC.T


@dataclass
class _Shape:
    """A drifting distractor or an occluder: kind, colour, size and a path."""

    kind: str  #: "circle", "ellipse", "rect" or "polygon"
    color: Color
    size: tuple[float, float]  #: half-extents
    start: np.ndarray  #: (2,) position at t = 0
    velocity: np.ndarray  #: (2,) per second
    sway: np.ndarray  #: (2,) amplitude of the slow sinusoidal sway
    period: float  #: seconds
    phase: float
    spin: float = 0.0  #: rad/s (polygons)
    sides: int = 4

    def position(self, t: float) -> np.ndarray:
        return self.start + self.velocity * t + self.sway * np.sin(2 * np.pi * t / self.period + self.phase)

    def draw(self, canvas: Canvas, t: float, offset: tuple[float, float] = (0.0, 0.0)) -> None:
        x, y = self.position(t) + np.asarray(offset)
        rx, ry = self.size
        if self.kind == "circle":
            canvas.circle(x, y, rx, self.color)
        elif self.kind == "ellipse":
            canvas.ellipse(x, y, rx, ry, self.color)
        elif self.kind == "rect":
            canvas.rect(x - rx, y - ry, x + rx, y + ry, self.color)
        else:
            a = self.spin * t + self.phase + 2 * np.pi * np.arange(self.sides) / self.sides
            canvas.polygon(list(zip(x + rx * np.cos(a), y + ry * np.sin(a), strict=True)), self.color)


def _random_shape(rng: np.random.Generator, radius: float, kinds: Sequence[str]) -> _Shape:
    kind = str(kinds[int(rng.integers(len(kinds)))])
    aspect = rng.uniform(0.4, 1.0) if kind != "circle" else 1.0
    size = (radius, radius * aspect) if rng.random() < 0.5 else (radius * aspect, radius)
    zero = np.zeros(2)
    return _Shape(kind, _colour(rng), size, zero, zero, zero, 1.0, 0.0, sides=int(rng.integers(3, 7)))


class Randomiser:
    """The randomisation of one clip: every draw is made on construction, from ``rng``.

    ``boxes``: the sources' per-frame world boxes (the camera aims at one of them);
    ``scene=False`` leaves out the effects that need the scene (background and camera), for
    frames that are already rendered.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        size: int,
        fps: int,
        n_frames: int,
        *,
        floor_y: float = 0.8,
        boxes: Sequence[Sequence[Sequence[float] | None]] = (),
        settings: RandomiseSettings = DEFAULT_SETTINGS,
        scene: bool = True,
    ) -> None:
        settings.validate()
        self.size, self.fps, self.n_frames, self.floor_y = int(size), int(fps), int(n_frames), float(floor_y)
        self.settings = settings
        switches = rng.random(len(EFFECTS))
        streams = dict(zip(EFFECTS + ("grain",), rng.spawn(len(EFFECTS) + 1), strict=True))
        self.on = {
            e: bool(switches[i] < settings.probability(e)) and (scene or e not in SCENE_EFFECTS)
            for i, e in enumerate(EFFECTS)
        }
        self._streams = streams
        self.times = np.arange(self.n_frames) / self.fps
        self.duration = self.n_frames / self.fps
        self.effects: dict[str, Any] = {"fps": self.fps}
        self._plan_camera(boxes)
        self._plan_background()
        self._plan_distractors()
        self._plan_occluder()
        self._plan_image()
        self.effects = {"fps": self.fps, **{e: self.effects.get(e, False) for e in EFFECTS}}

    # --- planning -------------------------------------------------------------------------
    def _plan_camera(self, boxes) -> None:
        s, n, size = self.settings, self.n_frames, self.size
        e = ease(np.arange(n) / max(n - 1, 1))
        amp = 0.0
        if self.on["shake"]:
            rng = self._streams["shake"]
            amp = rng.uniform(*s.shake_px)
            sigma = max(rng.uniform(0.02, 0.06) * self.fps, 0.5)
            raw = ndimage.gaussian_filter1d(rng.normal(size=(n + 8, 2)), sigma, axis=0)[4 : n + 4]
            shake = raw / max(float(raw.std()), 1e-9) * amp
            self.effects["shake"] = {"px": _r(amp, 2)}
        else:
            shake = np.zeros((n, 2))
        # Aim at one source (the mean centre of its boxes), or the middle of the scene.
        zrng = self._streams["zoom"]
        seen = [np.array([b for b in t if b is not None], np.float64).reshape(-1, 4) for t in boxes]
        seen = [b for b in seen if len(b)]
        aim = seen[int(zrng.integers(len(seen)))] if seen else None
        focus = aim[:, :2].mean(axis=0) + aim[:, 2:].mean(axis=0) / 2 if aim is not None else np.full(2, 0.5)
        focus = focus + zrng.normal(0.0, 0.05, 2)
        if self.on["zoom"]:
            # Zoom so that the aimed-at source spans a drawn fraction of the frame.
            target = float(np.exp(zrng.uniform(*np.log(s.object_scale))))
            if aim is not None:
                side = float(np.median(aim[:, 2:].max(axis=1)))
                z0 = float(np.clip(target / max(side, 1e-3), *s.zoom))
            else:
                z0 = float(np.exp(zrng.uniform(*np.log(s.zoom))))
            change = (
                float(np.exp(zrng.uniform(-1, 1) * np.log(s.zoom_change))) if zrng.random() < 0.6 else 1.0
            )
            zoom = z0 * change**e
            self.effects["zoom"] = {"start": _r(zoom[0]), "end": _r(zoom[-1])}
            if aim is not None:
                self.effects["zoom"]["object"] = _r(min(side * z0, 1.0), 3)
        elif self.on["pan"]:
            zoom = np.full(n, zrng.uniform(1.25, 1.6))  # room to pan without leaving the scene
        elif self.on["shake"]:
            zoom = np.full(n, 1.0 + 2.0 * (amp + 1.0) / size)
        else:
            zoom = np.ones(n)
        start = end = focus
        if self.on["pan"]:
            prng = self._streams["pan"]
            angle = prng.uniform(0, 2 * np.pi)
            step = prng.uniform(*s.pan_views) / float(zoom.mean()) * np.array([np.cos(angle), np.sin(angle)])
            z = float(zoom.mean())  # centre the pan where the view may go, so it is not clamped away
            lo, hi = sorted((0.5 / z, 1.0 - 0.5 / z))
            middle = np.clip(focus, lo + np.abs(step) / 2, hi - np.abs(step) / 2)
            middle = np.where(lo + np.abs(step) / 2 > hi - np.abs(step) / 2, (lo + hi) / 2, middle)
            start, end = middle - step / 2, middle + step / 2
        centre = start[None, :] + (end - start)[None, :] * e[:, None]
        # Keep the view inside the scene when it magnifies (the scene inside the view otherwise).
        a, b = 0.5 / zoom, 1.0 - 0.5 / zoom
        margin = np.where(zoom >= 1.0, 2.0 * amp / (size * zoom), 0.0)
        lo, hi = np.minimum(a, b) + margin, np.maximum(a, b) - margin
        lo, hi = np.where(lo > hi, 0.5, lo), np.where(lo > hi, 0.5, hi)
        centre = np.clip(centre, lo[:, None], hi[:, None])
        if self.on["pan"]:
            moved = float(np.linalg.norm(centre[-1] - centre[0]) * zoom.mean())
            self.effects["pan"] = {"views": _r(moved), "zoom": _r(zoom.mean())}
        centre = centre + shake / (size * zoom[:, None])
        origin = centre - 0.5 / zoom[:, None]
        self.views: list[View] = [
            (float(o[0]), float(o[1]), float(z)) for o, z in zip(origin, zoom, strict=True)
        ]
        self.camera = any(self.on[k] for k in ("shake", "pan", "zoom"))

    def _plan_background(self) -> None:
        self.background: dict[str, Any] | None = None
        if not self.on["background"]:
            return
        rng = self._streams["background"]
        mode = ("replace", "blend", "single")[int(rng.choice(3, p=[0.4, 0.4, 0.2]))]
        wall = TEXTURES[int(rng.integers(len(TEXTURES)))]
        floor = TEXTURES[int(rng.integers(len(TEXTURES)))]
        alpha = rng.uniform(*self.settings.background_alpha) if mode == "blend" else 1.0
        self.background = {"mode": mode, "wall": wall, "floor": floor if mode != "single" else wall}
        if mode == "blend":
            self.background["alpha"] = _r(alpha, 3)
        self.effects["background"] = dict(self.background)

    def _plan_distractors(self) -> None:
        self.distractors: list[tuple[_Shape, bool]] = []  #: (shape, in front of the sources)
        if not self.on["distractors"]:
            return
        s, rng = self.settings, self._streams["distractors"]
        z0 = self.views[0][2]
        cx, cy = self.views[0][0] + 0.5 / z0, self.views[0][1] + 0.5 / z0
        front_count = 0
        for _ in range(int(rng.integers(1, 3))):
            shape = _random_shape(
                rng, rng.uniform(*s.distractor_size) / z0, ("circle", "ellipse", "rect", "polygon")
            )
            angle = rng.uniform(0, 2 * np.pi)
            speed = rng.uniform(*s.distractor_speed) / z0
            heading = np.array([np.cos(angle), np.sin(angle)])
            shape.start = np.array([cx, cy]) + rng.uniform(-0.4, 0.4, 2) / z0
            shape.velocity = speed * heading
            # A slow sway across the heading: the speed along it never changes, so the shape
            # never stops or turns back, and its acceleration stays tiny (nothing like an impact).
            shape.period = rng.uniform(3.0, 8.0)
            sway = rng.uniform(0.0, min(0.06 / z0, 0.8 * speed * shape.period / (2 * np.pi)))
            shape.sway = sway * np.array([-heading[1], heading[0]])
            shape.phase = rng.uniform(0, 2 * np.pi)
            shape.spin = rng.uniform(-0.6, 0.6)
            front = bool(rng.random() < 0.3)
            front_count += front
            self.distractors.append((shape, front))
        self.effects["distractors"] = {"count": len(self.distractors), "in_front": front_count}

    def _plan_occluder(self) -> None:
        self.occluder: _Shape | None = None
        if not self.on["occlusion"]:
            return
        s, rng = self.settings, self._streams["occlusion"]
        shape = _random_shape(
            rng, 0.5 * rng.uniform(*s.occluder_size), ("rect", "ellipse", "polygon", "pole")
        )
        if shape.kind == "pole":  # a post or a bar across the view
            shape.kind = "rect"
            long = rng.uniform(0.6, 0.8)
            shape.size = (shape.size[0] * 0.5, long) if rng.random() < 0.5 else (long, shape.size[1] * 0.5)
        shape.start = rng.uniform(0.2, 0.8, 2)
        drift = rng.uniform(0.0, 0.04) if rng.random() < 0.5 else 0.0  # frame widths per second
        angle = rng.uniform(0, 2 * np.pi)
        shape.velocity = drift * np.array([np.cos(angle), np.sin(angle)])
        shape.spin = rng.uniform(-0.2, 0.2)
        start = rng.uniform(0.0, 0.5) * self.duration
        length = rng.uniform(0.3, 0.7) * self.duration
        self.occluder_span = (start, min(start + length, self.duration))
        self.occluder_slide = min(0.4, 0.25 * length)
        # It slides in and out along the shorter way to leave the frame.
        side = int(rng.integers(4))
        self.occluder_exit = np.array([(-1, 0), (1, 0), (0, -1), (0, 1)][side], np.float64) * (
            1.0 + 2 * max(shape.size)
        )
        self.occluder = shape
        self.effects["occlusion"] = {
            "start": _r(start, 3),
            "end": _r(self.occluder_span[1], 3),
            "area": _r(min(4 * shape.size[0] * shape.size[1], 1.0), 3),
            "moving": drift > 0,
        }

    def _plan_image(self) -> None:
        s, n = self.settings, self.n_frames
        t = ease(np.arange(n) / max(n - 1, 1))
        self.gain = np.ones((n, 3), np.float32)
        self.contrast = np.ones(n, np.float32)
        if self.on["lighting"]:
            rng = self._streams["lighting"]
            b0, b1 = rng.uniform(*s.brightness, 2)
            c0, c1 = rng.uniform(*s.contrast, 2)
            k0, k1 = rng.uniform(*s.temperature, 2)
            green = rng.uniform(-0.04, 0.04)
            kelvin = k0 + (k1 - k0) * t
            tint = np.stack([1 + 0.12 * kelvin, np.full(n, 1 + green), 1 - 0.12 * kelvin], axis=1)
            self.gain = ((b0 + (b1 - b0) * t)[:, None] * tint).astype(np.float32)
            self.contrast = (c0 + (c1 - c0) * t).astype(np.float32)
            self.effects["lighting"] = {
                "brightness": [_r(b0, 3), _r(b1, 3)],
                "contrast": [_r(c0, 3), _r(c1, 3)],
                "temperature": [_r(k0, 3), _r(k1, 3)],
            }
        if self.on["flicker"]:
            rng = self._streams["flicker"]
            depth = rng.uniform(*s.flicker_depth)
            freq = rng.uniform(0.5, self.fps / 2)
            wobble = 0.6 * np.sin(2 * np.pi * freq * self.times + rng.uniform(0, 2 * np.pi))
            wobble += 0.4 * rng.uniform(-1, 1, n)
            self.gain = (self.gain * (1 + depth * wobble)[:, None]).astype(np.float32)
            self.effects["flicker"] = {"depth": _r(depth, 3), "hz": _r(freq, 2)}
        self.kernel = None
        if self.on["motion_blur"]:
            rng = self._streams["motion_blur"]
            length, angle = rng.uniform(*s.motion_blur_px), rng.uniform(0, np.pi)
            self.kernel = _line_kernel(length, angle)[..., None]
            self.effects["motion_blur"] = {"px": _r(length, 2), "angle": _r(np.degrees(angle), 1)}
        self.blur = 0.0
        if self.on["blur"]:
            self.blur = float(self._streams["blur"].uniform(*s.blur_sigma))
            self.effects["blur"] = {"sigma": _r(self.blur, 3)}
        self.noise = 0.0
        if self.on["noise"]:
            self.noise = float(self._streams["noise"].uniform(*s.noise_sigma))
            self.effects["noise"] = {"sigma": _r(self.noise, 3)}
        self.step = 0.0
        self.subsample = False
        if self.on["compression"]:
            rng = self._streams["compression"]
            self.step = float(rng.uniform(*s.compression_step))
            self.subsample = bool(rng.random() < 0.5)
            self.effects["compression"] = {"step": _r(self.step, 2), "chroma_subsampling": self.subsample}

    # --- backdrop ---------------------------------------------------------------------------
    def _build_backdrop(self, base: Callable[[int], np.ndarray]) -> None:
        """The world backdrop over every view of the clip, at a resolution for the largest zoom."""
        size = self.size
        if self.camera:
            views = np.array(self.views)
            n = int(min(max(round(size * views[:, 2].max()), 8), 2 * size))
            x_lo, y_lo = views[:, 0].min(), views[:, 1].min()
            x_hi, y_hi = (views[:, 0] + 1 / views[:, 2]).max(), (views[:, 1] + 1 / views[:, 2]).max()
            i0, j0 = int(np.floor(y_lo * n)) - 2, int(np.floor(x_lo * n)) - 2
            i1, j1 = int(np.ceil(y_hi * n)) + 2, int(np.ceil(x_hi * n)) + 2
        else:
            n, i0, j0, i1, j1 = size, 0, 0, size, size
        image = base(n).astype(np.float32)
        # Mirror the scene's backdrop beyond its edges (static: no copy of any moving object);
        # rows above the scene mirror within the wall, rows below it within the floor (clear
        # of the contact line), so the wall goes on above and the floor below.
        floor_row = int(np.clip(round(self.floor_y * n), 3, n - 3))
        rows = np.arange(i0, i1)
        rows = np.where(rows < 0, _mirror(rows, 0, floor_row - 2), rows)
        rows = np.where(rows >= n, _mirror(rows, floor_row + 2, n), rows)
        image = image[rows][:, _mirror(np.arange(j0, j1), 0, n)]
        ys = (np.arange(i0, i1) + 0.5) / n
        xs = (np.arange(j0, j1) + 0.5) / n
        if self.background is not None:
            image = self._texture_backdrop(image, xs, ys, n)
        self._backdrop, self._bd_n, self._bd_origin = np.ascontiguousarray(image, np.float32), n, (i0, j0)
        self._view_cache: dict[View, np.ndarray] = {}

    def _texture_backdrop(self, image: np.ndarray, xs: np.ndarray, ys: np.ndarray, n: int) -> np.ndarray:
        bg, rng = self.background, self._streams["background"]
        wall = texture(rng, bg["wall"], xs, ys)
        if bg["mode"] == "single":
            return wall
        floor = texture(rng, bg["floor"], xs, ys)
        floor_rows = (ys >= self.floor_y)[:, None, None]
        # The floor darkens towards the back, as the standard floors do.
        depth = np.clip((ys - self.floor_y) / max(1.0 - self.floor_y, 1e-6), 0.0, 1.0)
        floor = floor * (0.8 + 0.2 * depth)[:, None, None].astype(np.float32)
        tex = np.where(floor_rows, floor, wall)
        edge = np.abs(ys - self.floor_y) < 0.6 / n
        tex[edge] *= 0.8
        if bg["mode"] == "blend":
            alpha = np.float32(bg["alpha"])
            return (1 - alpha) * image + alpha * tex
        return tex

    def _backdrop_view(self, view: View) -> np.ndarray:
        """The backdrop seen through ``view``: (size, size, 3), bilinear."""
        if not self.camera:
            return self._backdrop
        cached = self._view_cache.get(view)
        if cached is not None:
            return cached
        ox, oy, z = view
        n, (i0, j0) = self._bd_n, self._bd_origin
        centres = (np.arange(self.size) + 0.5) / self.size / z
        img = self._backdrop

        def axis(origin: float, first: int, length: int):
            p = np.clip((origin + centres) * n - 0.5 - first, 0.0, length - 1.0)
            p0 = np.minimum(np.floor(p).astype(int), length - 2)
            return p0, (p - p0).astype(np.float32)

        r0, fr = axis(oy, i0, img.shape[0])
        c0, fc = axis(ox, j0, img.shape[1])
        top = img[r0] * (1 - fr)[:, None, None] + img[r0 + 1] * fr[:, None, None]
        out = top[:, c0] * (1 - fc)[None, :, None] + top[:, c0 + 1] * fc[None, :, None]
        out = np.ascontiguousarray(out, np.float32)
        if len(self._view_cache) < 4:
            self._view_cache[view] = out
        return out

    def _outside_scene(self, view: View) -> tuple[np.ndarray, np.ndarray]:
        """Rows and columns of the frame that show the world beyond the scene's square."""
        ox, oy, z = view
        centres = (np.arange(self.size) + 0.5) / self.size / z
        xs, ys = ox + centres, oy + centres
        return (ys < 0) | (ys > 1), (xs < 0) | (xs > 1)

    # --- rendering ----------------------------------------------------------------------------
    def render(
        self,
        draws: Sequence[Callable[[Canvas, int], None]],
        base_backdrop: Callable[[int], np.ndarray],
    ) -> np.ndarray:
        """Draw every frame: backdrop, distractors behind, sources, distractors in front,
        occluder, then the image effects. ``draws`` are the sources' ``draw(canvas, k)`` in
        drawing order; ``base_backdrop(n)`` renders the scene's own backdrop at n px
        (float32 (n, n, 3) over the scene's square). With no effect on, the frames are exactly
        those of the plain renderer.
        Returns uint8 (n_frames, size, size, 3)."""
        self._build_backdrop(base_backdrop)
        frames = np.empty((self.n_frames, self.size, self.size, 3), np.uint8)
        canvas = ViewCanvas(self.size)
        grain = self._streams["grain"]
        for k in range(self.n_frames):
            view = self.views[k]
            background = self._backdrop_view(view)
            canvas.reset(background)
            canvas.set_view(view)
            t = float(self.times[k])
            for shape, front in self.distractors:
                if not front:
                    shape.draw(canvas, t)
            for draw in draws:
                draw(canvas, k)
            for shape, front in self.distractors:
                if front:
                    shape.draw(canvas, t)
            rows, cols = self._outside_scene(view)
            if rows.any() or cols.any():
                canvas.pixels[rows] = background[rows]
                canvas.pixels[:, cols] = background[:, cols]
            canvas.set_view((0.0, 0.0, 1.0))
            self._draw_occluder(canvas, t)
            frames[k] = self._finish(canvas.pixels, k, grain)
        return frames

    def apply(self, frames: np.ndarray) -> np.ndarray:
        """The non-scene effects on rendered frames (uint8 0–255 or float 0–1, (T, S, S, 3))."""
        frames = np.asarray(frames)
        scale = np.float32(1 / 255) if frames.dtype == np.uint8 else np.float32(1)
        out = np.empty(frames.shape, np.uint8)
        canvas = Canvas(self.size)
        grain = self._streams["grain"]
        for k in range(frames.shape[0]):
            canvas.reset(frames[k].astype(np.float32) * scale)
            t = k / self.fps
            for shape, _front in self.distractors:
                shape.draw(canvas, t)
            self._draw_occluder(canvas, t)
            out[k] = self._finish(canvas.pixels, k, grain)
        return out

    def _draw_occluder(self, canvas: Canvas, t: float) -> None:
        if self.occluder is None:
            return
        t0, t1 = self.occluder_span
        if not t0 <= t <= t1:
            return
        slide = self.occluder_slide
        away = 0.0
        if t0 > 0 and t < t0 + slide:  # sliding in (already there when it starts the clip)
            away = 1.0 - float(ease((t - t0) / slide))
        if t1 < self.duration and t > t1 - slide:
            away = max(away, float(ease((t - (t1 - slide)) / slide)))
        offset = self.occluder_exit * away
        self.occluder.draw(canvas, t - t0, (float(offset[0]), float(offset[1])))

    def _finish(self, pixels: np.ndarray, k: int, grain: np.random.Generator) -> np.ndarray:
        """Lighting, motion blur, blur, sensor noise and compression; uint8 result."""
        x = pixels
        if self.on["lighting"] or self.on["flicker"]:
            x = ((x - 0.5) * self.contrast[k] + 0.5) * self.gain[k]
        x = x * np.float32(255.0)
        if self.kernel is not None:
            x = ndimage.convolve(x, self.kernel, mode="nearest")
        if self.blur > 0:
            x = ndimage.gaussian_filter(x, (self.blur, self.blur, 0), mode="nearest")
        if self.noise > 0:
            x = x + grain.standard_normal(x.shape, dtype=np.float32) * np.float32(self.noise)
        if self.step > 0:
            x = block_quantise(np.clip(x, 0.0, 255.0), self.step, self.subsample)
        return np.clip(x + np.float32(0.5), 0.0, 255.0).astype(np.uint8)

    def transform_boxes(self, boxes: Sequence[Sequence[float] | None]) -> list[list[float] | None]:
        """A source's per-frame world boxes as seen through the clip's views."""
        if not self.camera:
            return [None if b is None else [float(v) for v in b] for b in boxes]
        return [view_box(b, self.views[k]) for k, b in enumerate(boxes)]


def randomise_frames(
    frames: np.ndarray,
    rng: np.random.Generator,
    settings: RandomiseSettings = DEFAULT_SETTINGS,
    fps: int = 24,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Randomise already-rendered square frames (uint8 0–255 or float 0–1, (T, S, S, 3)).

    Applies the effects that need no scene: distractors (drawn on top), occlusion, lighting,
    flicker, motion blur, blur, noise and compression; background and camera need the scene
    and are applied by :class:`Randomiser` while a clip is drawn. Returns the uint8 frames and
    the record of the effects applied.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[3] != 3 or frames.shape[1] != frames.shape[2]:
        raise ValueError(f"frames must be (T, S, S, 3), got {frames.shape}")
    rnd = Randomiser(rng, frames.shape[1], fps, frames.shape[0], settings=settings, scene=False)
    return rnd.apply(frames), rnd.effects


__all__ = [
    "DEFAULT_SETTINGS",
    "EFFECTS",
    "FPS_CHOICES",
    "TEXTURES",
    "RandomiseSettings",
    "Randomiser",
    "ViewCanvas",
    "block_quantise",
    "draw_fps",
    "randomise_frames",
    "texture",
    "view_box",
]
