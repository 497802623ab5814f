"""Bouncing balls of wood, metal, rubber and glass.

Physics: between two floor contacts at frames a and b (times ta, tb) the height of the
ball's bottom above the floor is h(t) = g/2·(t - ta)·(tb - t), a parabola that is exactly 0
on both contact frames. Flight times shrink by the restitution e per bounce
(T_{i+1} = e·T_i, each rounded to whole frames); when a flight would be shorter than three
frames the ball rests, then is thrown up again (silently). Impact speed g·T/2 ∝ T, so the
strength of a hit is the duration of the flight before it.

Sound: modal synthesis with material-specific mode ratios and decays (free-free bar for
wood, inharmonic plate-like modes for metal and glass, a heavily damped membrane-like set
for rubber), a contact click whose brightness follows the material, and a short floor thud
coloured by the floor's surface. With the recorded palette (samples.py) a recorded hit of a
fitting material replaces the modes and the click of wood, metal and rubber balls (glass
stays modal: the package has no glass impact); the floor thud stays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from foleystudio.data.foleyworld import synth
from foleystudio.data.foleyworld.categories.base import Category, SourceTrack, events_from_frames
from foleystudio.data.foleyworld.render import Canvas
from foleystudio.data.foleyworld.samples import pick_voice
from foleystudio.data.foleyworld.scene import BoxTrack, SceneContext, Slot


@dataclass(frozen=True)
class Material:
    """Modal parameters of a ball material."""

    name: str
    f0: tuple[float, float]  #: range of the lowest mode, Hz
    ratios: tuple[float, ...]  #: mode frequencies / f0
    amps: tuple[float, ...]  #: relative mode amplitudes
    tau: tuple[float, float]  #: range of the lowest mode's decay time, s
    tau_power: float  #: τ_k = τ_0 / k^tau_power (higher modes die faster)
    restitution: tuple[float, float]
    click_hz: float  #: lower edge of the contact click's band
    click_level: float
    radius: tuple[float, float]  #: ball radius in slot units


MATERIALS: dict[str, Material] = {
    "wood": Material(
        "wood",
        (380, 780),
        (1.0, 2.756, 5.404, 8.933),
        (1.0, 0.55, 0.3, 0.15),
        (0.035, 0.07),
        0.8,
        (0.55, 0.68),
        2500,
        0.45,
        (0.14, 0.18),
    ),
    "metal": Material(
        "metal",
        (950, 1900),
        (1.0, 2.32, 4.25, 6.63, 9.38),
        (1.0, 0.8, 0.55, 0.4, 0.25),
        (0.25, 0.6),
        0.5,
        (0.65, 0.78),
        4000,
        0.7,
        (0.12, 0.16),
    ),
    "rubber": Material(
        "rubber",
        (110, 220),
        (1.0, 1.59, 2.14, 2.65),
        (1.0, 0.5, 0.3, 0.2),
        (0.012, 0.024),
        0.6,
        (0.78, 0.88),
        700,
        0.25,
        (0.15, 0.19),
    ),
    "glass": Material(
        "glass",
        (1900, 3100),
        (1.0, 1.62, 2.61, 3.83),
        (1.0, 0.6, 0.4, 0.25),
        (0.1, 0.25),
        0.6,
        (0.6, 0.72),
        5000,
        0.7,
        (0.12, 0.16),
    ),
}

#: Floor thud band (Hz) and how much of the ball's ring a surface lets through.
_SURFACE_THUD = {
    "wooden": (70, 500, 1.0),
    "concrete": (100, 2500, 1.0),
    "tiled": (150, 3000, 1.0),
    "grassy": (40, 300, 0.45),
    "stone": (100, 2500, 1.0),
    "asphalt": (90, 2000, 0.9),
}


def bounce_heights(
    rng: np.random.Generator, ctx: SceneContext, restitution: float, first_flight: tuple[float, float]
) -> tuple[np.ndarray, list[int], list[float]]:
    """Per-frame height factor h(t)/(g/2) and the impact frames with their strengths.

    Returns ``(shape, impact_frames, strengths)`` where height = g/2 · shape. The first
    flight is already under way at t = 0 (a random phase of it).
    """
    n = ctx.n_frames
    t = ctx.times
    shape = np.zeros(n, np.float64)
    impacts: list[int] = []
    strengths: list[float] = []
    flight = ctx.frames_for(rng.uniform(*first_flight))
    start = -int(rng.integers(1, flight))  # the virtual launch frame before the clip starts
    while start < n:
        frames = flight
        while frames >= 3 and start < n:
            end = start + frames
            ta, tb = start / ctx.fps, end / ctx.fps
            lo, hi = max(start, 0), min(end, n)
            shape[lo:hi] = (t[lo:hi] - ta) * (tb - t[lo:hi])
            if end < n:
                impacts.append(end)
                strengths.append(frames / ctx.fps / 1.1)
            start = end
            frames = int(round(frames * restitution))
        start += ctx.frames_for(rng.uniform(0.3, 1.0))  # rest on the floor, then a new throw
        flight = ctx.frames_for(rng.uniform(*first_flight))
    return shape, impacts, strengths


class BouncingBall(Category):
    """A ball of one material bouncing on the floor."""

    settings = ("indoor", "outdoor")

    def __init__(self, material: str) -> None:
        self.material = MATERIALS[material]
        self.name = f"ball_{material}"

    def make(self, rng: np.random.Generator, ctx: SceneContext, slot: Slot) -> SourceTrack:
        mat = self.material
        r = rng.uniform(*mat.radius) * slot.unit
        restitution = rng.uniform(*mat.restitution)
        longest = rng.uniform(0.6, 1.1)  # s: the longest flight; it nearly fills the room above
        shape, impacts, strengths = bounce_heights(rng, ctx, restitution, (0.6 * longest, longest))
        room = ctx.floor_y - 2 * r - 0.08
        g_half = rng.uniform(0.6, 0.95) * room / (longest / 2) ** 2
        height = g_half * shape
        # Slow drift across the slot, never reaching its sides.
        margin = r + 0.02
        travel = max(slot.width - 2 * margin, 0.0) * rng.uniform(0.2, 0.9)
        x_start = rng.uniform(slot.x0 + margin, slot.x1 - margin - travel) if travel > 0 else slot.centre
        direction = 1 if rng.random() < 0.5 else -1
        x = x_start + travel * ctx.times / ctx.duration
        if direction < 0:
            x = x[::-1].copy()
        color = ctx.look.ball_color(mat.name, rng)
        squash = np.zeros(ctx.n_frames)
        if mat.name == "rubber":
            for k, s in zip(impacts, strengths, strict=True):
                squash[k] = 0.22 * min(s, 1.0)
        roll = (x - x[0]) / r  # rolling angle in radians, for the wood grain

        boxes = BoxTrack()
        for k in range(ctx.n_frames):
            rx, ry = r * (1 + squash[k]), r * (1 - squash[k])
            bottom = ctx.floor_y - height[k]
            boxes.add(x[k] - rx, bottom - 2 * ry, x[k] + rx, bottom)

        floor_y = ctx.floor_y

        def draw(canvas: Canvas, k: int) -> None:
            rx, ry = r * (1 + squash[k]), r * (1 - squash[k])
            cy = floor_y - height[k] - ry
            lift = min(height[k] / 0.4, 1.0)
            canvas.ellipse(
                x[k], floor_y + 0.006, r * (1.1 - 0.5 * lift), r * 0.28, (0, 0, 0), 0.35 * (1 - 0.7 * lift)
            )
            if mat.name == "wood":
                canvas.sphere(x[k], cy, rx, ry, color, stripes=(3.0, roll[k], 0.35))
            elif mat.name == "metal":
                canvas.sphere(x[k], cy, rx, ry, color, shininess=1.0)
            elif mat.name == "glass":
                canvas.sphere(x[k], cy, rx, ry, color, shininess=0.8, alpha=0.6, rim=0.5)
            else:
                canvas.sphere(x[k], cy, rx, ry, color, shininess=0.15)

        stem = self._sound(rng, ctx, impacts, strengths)
        details = {
            "material": mat.name,
            "restitution": restitution,
            "surface": ctx.surface,
            "novel_color": ctx.look.variant == "novel",
        }
        return SourceTrack(
            self.name,
            events_from_frames(impacts, strengths),
            boxes.boxes,
            draw,
            stem,
            continuous=False,
            details=details,
        )

    def _sound(
        self, rng: np.random.Generator, ctx: SceneContext, impacts: list[int], strengths: list[float]
    ) -> np.ndarray:
        mat = self.material
        sr = ctx.sample_rate
        out = np.zeros(ctx.n_samples, np.float32)
        f0 = rng.uniform(*mat.f0)
        tau0 = rng.uniform(*mat.tau)
        low, high, ring = _SURFACE_THUD.get(ctx.surface, (80, 1500, 1.0))
        ratios = np.asarray(mat.ratios)
        decays = tau0 / np.arange(1, ratios.size + 1) ** mat.tau_power
        bank = synth.mode_bank(f0 * ratios, decays, sr, min(5 * tau0, ctx.duration))
        voice = pick_voice(ctx.samples, self.name, rng)
        for k, s in zip(impacts, strengths, strict=True):
            s = min(s, 1.0)
            if voice is not None:  # a recorded hit of a fitting material (samples.py)
                hit = ring * voice.hit(sr, rng)
            else:
                # Where the ball is struck changes how much each mode rings (not its pitch).
                amps = np.asarray(mat.amps) * rng.uniform(0.6, 1.3, ratios.size)
                hit = ring * (amps.astype(np.float32) @ bank)
                synth.place(hit, synth.click(rng, sr, mat.click_hz), 0, mat.click_level)
            synth.place(hit, synth.noise_burst(rng, sr, low, high, 0.0005, 0.012), 0, 0.35)
            synth.place(out, hit, ctx.frame_sample(k), gain=s)
        return out


BALLS = tuple(BouncingBall(m) for m in ("wood", "metal", "rubber", "glass"))
