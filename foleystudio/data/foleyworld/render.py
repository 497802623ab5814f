"""Anti-aliased 2-D drawing on a float32 RGB canvas, in NumPy only.

All coordinates are normalised frame coordinates (``x`` right, ``y`` down, both in [0, 1] of
the frame side; FoleyWorld frames are square), colours are RGB floats in [0, 1]. Every shape
is drawn through a signed distance in pixels: coverage = clip(0.5 - distance, 0, 1), which
gives one pixel of anti-aliasing at any size. Work is restricted to the shape's bounding box,
so a frame of a few shapes at 128 px costs well under a millisecond.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

Color = tuple[float, float, float]

#: Direction of the light for shaded spheres (towards the viewer, from the upper left).
_LIGHT = np.array([-0.45, -0.6, 0.66], np.float32) / np.linalg.norm([-0.45, -0.6, 0.66])


class Canvas:
    """One frame being drawn: ``pixels`` is float32 (H, W, 3) in [0, 1]."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pixels = np.zeros((size, size, 3), np.float32)
        self._centres = np.arange(size, dtype=np.float32) + 0.5
        self._tmp = np.empty_like(self.pixels)

    def reset(self, background: np.ndarray) -> None:
        """Start a new frame from ``background`` (float32 (H, W, 3))."""
        np.copyto(self.pixels, background)

    def to_uint8(self, out: np.ndarray) -> None:
        """Write the canvas into ``out`` (uint8 (H, W, 3)), rounding to nearest."""
        np.multiply(self.pixels, 255.0, out=self._tmp)
        self._tmp += 0.5
        np.clip(self._tmp, 0.0, 255.0, out=self._tmp)
        out[...] = self._tmp

    # --- region helpers --------------------------------------------------------------
    def _grid(self, x0: float, y0: float, x1: float, y1: float, pad: float = 1.0):
        """Pixel slices and pixel-centre grids covering a normalised box (+ ``pad`` px)."""
        s = self.size
        c0 = max(int(np.floor(x0 * s - pad)), 0)
        c1 = min(int(np.ceil(x1 * s + pad)), s)
        r0 = max(int(np.floor(y0 * s - pad)), 0)
        r1 = min(int(np.ceil(y1 * s + pad)), s)
        if c1 <= c0 or r1 <= r0:
            return None
        return (slice(r0, r1), slice(c0, c1)), self._centres[c0:c1][None, :], self._centres[r0:r1][:, None]

    def _blend(self, region, coverage: np.ndarray, color) -> None:
        target = self.pixels[region]
        target += coverage[..., None] * (np.asarray(color, np.float32) - target)

    def _fill(self, bounds, distance: Callable, color, alpha: float) -> None:
        grid = self._grid(*bounds)
        if grid is None or alpha <= 0:
            return
        region, gx, gy = grid
        coverage = np.clip(0.5 - distance(gx, gy), 0.0, 1.0)
        if alpha < 1.0:
            coverage *= alpha
        self._blend(region, coverage, color)

    # --- shapes ----------------------------------------------------------------------
    def circle(self, cx: float, cy: float, r: float, color: Color, alpha: float = 1.0) -> None:
        """A filled disc of radius ``r`` centred at (cx, cy)."""
        s = self.size
        px, py, pr = cx * s, cy * s, r * s
        self._fill(
            (cx - r, cy - r, cx + r, cy + r),
            lambda gx, gy: np.sqrt((gx - px) ** 2 + (gy - py) ** 2) - pr,
            color,
            alpha,
        )

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, color: Color, alpha: float = 1.0) -> None:
        """A filled axis-aligned ellipse with half-axes ``rx``, ``ry``."""
        s = self.size
        px, py = cx * s, cy * s
        prx, pry = max(rx * s, 0.3), max(ry * s, 0.3)
        scale = min(prx, pry)

        def distance(gx, gy):
            return (np.sqrt(((gx - px) / prx) ** 2 + ((gy - py) / pry) ** 2) - 1.0) * scale

        self._fill((cx - rx, cy - ry, cx + rx, cy + ry), distance, color, alpha)

    def ring(
        self, cx: float, cy: float, rx: float, ry: float, width: float, color: Color, alpha: float = 1.0
    ) -> None:
        """An ellipse outline of line width ``width`` (normalised)."""
        s = self.size
        px, py = cx * s, cy * s
        prx, pry = max(rx * s, 0.5), max(ry * s, 0.5)
        scale = min(prx, pry)
        half = max(width * s / 2, 0.5)

        def distance(gx, gy):
            return np.abs(np.sqrt(((gx - px) / prx) ** 2 + ((gy - py) / pry) ** 2) - 1.0) * scale - half

        pad = width
        self._fill((cx - rx - pad, cy - ry - pad, cx + rx + pad, cy + ry + pad), distance, color, alpha)

    def rect(self, x0: float, y0: float, x1: float, y1: float, color: Color, alpha: float = 1.0) -> None:
        """A filled axis-aligned rectangle between corners (x0, y0) and (x1, y1)."""
        s = self.size
        hx, hy = abs(x1 - x0) * s / 2, abs(y1 - y0) * s / 2
        mx, my = (x0 + x1) * s / 2, (y0 + y1) * s / 2

        def distance(gx, gy):
            return np.maximum(np.abs(gx - mx) - hx, np.abs(gy - my) - hy)

        self._fill((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)), distance, color, alpha)

    def capsule(
        self, x0: float, y0: float, x1: float, y1: float, radius: float, color: Color, alpha: float = 1.0
    ) -> None:
        """A thick line with round ends: all points within ``radius`` of the segment."""
        s = self.size
        ax, ay, bx, by = x0 * s, y0 * s, x1 * s, y1 * s
        dx, dy = bx - ax, by - ay
        length2 = max(dx * dx + dy * dy, 1e-9)
        pr = max(radius * s, 0.5)

        def distance(gx, gy):
            t = np.clip(((gx - ax) * dx + (gy - ay) * dy) / length2, 0.0, 1.0)
            return np.sqrt((gx - ax - t * dx) ** 2 + (gy - ay - t * dy) ** 2) - pr

        bounds = (min(x0, x1) - radius, min(y0, y1) - radius, max(x0, x1) + radius, max(y0, y1) + radius)
        self._fill(bounds, distance, color, alpha)

    def polygon(self, points: Sequence[tuple[float, float]], color: Color, alpha: float = 1.0) -> None:
        """A filled convex polygon (vertices in either winding order)."""
        s = self.size
        pts = np.asarray(points, np.float32) * s
        edges = np.roll(pts, -1, axis=0) - pts
        normals = np.stack([edges[:, 1], -edges[:, 0]], axis=1)
        normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-9)
        offsets = (normals * pts).sum(axis=1)
        centre = pts.mean(axis=0)
        if (normals @ centre - offsets).mean() > 0:  # make normals point outwards
            normals, offsets = -normals, -offsets

        def distance(gx, gy):
            d = normals[0, 0] * gx + normals[0, 1] * gy - offsets[0]
            for (nx, ny), c in zip(normals[1:], offsets[1:], strict=True):
                d = np.maximum(d, nx * gx + ny * gy - c)
            return d

        lo, hi = pts.min(axis=0) / s, pts.max(axis=0) / s
        self._fill((lo[0], lo[1], hi[0], hi[1]), distance, color, alpha)

    def sphere(
        self,
        cx: float,
        cy: float,
        rx: float,
        ry: float,
        color: Color,
        *,
        shininess: float = 0.0,
        alpha: float = 1.0,
        stripes: tuple[float, float, float] | None = None,
        rim: float = 0.0,
    ) -> None:
        """A lit ball (ellipse when squashed): diffuse shading, optional specular highlight.

        ``shininess`` in [0, 1] sets the specular highlight's strength; ``stripes`` =
        (frequency, phase, depth) darkens bands (wood grain) that roll with the phase;
        ``rim`` brightens the outline (glass).
        """
        grid = self._grid(cx - rx, cy - ry, cx + rx, cy + ry)
        if grid is None:
            return
        region, gx, gy = grid
        s = self.size
        prx, pry = max(rx * s, 0.5), max(ry * s, 0.5)
        u = (gx - cx * s) / prx
        v = (gy - cy * s) / pry
        d2 = u * u + v * v
        coverage = np.clip((1.0 - np.sqrt(d2)) * min(prx, pry) + 0.5, 0.0, 1.0) * alpha
        nz = np.sqrt(np.clip(1.0 - d2, 0.0, 1.0))
        lambert = np.clip(u * _LIGHT[0] + v * _LIGHT[1] + nz * _LIGHT[2], 0.0, 1.0)
        shade = 0.35 + 0.75 * lambert
        base = np.asarray(color, np.float32)
        rgb = shade[..., None] * base
        if stripes is not None:
            frequency, phase, depth = stripes
            band = 0.5 + 0.5 * np.sin(frequency * np.pi * (u + 0.3 * v) + phase)
            rgb *= (1.0 - depth * band)[..., None]
        if shininess > 0:
            # Blinn-Phong with the half vector between light and viewer (0, 0, 1).
            half = _LIGHT + np.array([0, 0, 1], np.float32)
            half /= np.linalg.norm(half)
            spec = np.clip(u * half[0] + v * half[1] + nz * half[2], 0.0, 1.0) ** 40
            rgb += (shininess * spec)[..., None]
        if rim > 0:
            rgb += (rim * np.clip(d2 - 0.6, 0.0, 0.4) / 0.4)[..., None]
        np.clip(rgb, 0.0, 1.0, out=rgb)
        target = self.pixels[region]
        target += coverage[..., None] * (rgb - target)


def vertical_gradient(size: int, top: Color, bottom: Color, y0: float = 0.0, y1: float = 1.0) -> np.ndarray:
    """(rows, 1, 3) colours blending ``top`` → ``bottom`` from row ``y0`` to ``y1`` (normalised)."""
    rows = (np.arange(size, dtype=np.float32) + 0.5) / size
    t = np.clip((rows - y0) / max(y1 - y0, 1e-6), 0.0, 1.0)[:, None, None]
    return (1 - t) * np.asarray(top, np.float32) + t * np.asarray(bottom, np.float32)
