"""Water dripping from a tap into a pool.

Motion: a drop swells at the nozzle, lets go and falls freely, y(t) = y_detach + g/2·(t -
t_d)²; the detach time is solved so that the drop reaches the water surface exactly on its
impact frame. The impact throws up a few droplets and starts ripples whose radius grows
like √age while they fade.

Sound: most drops trap a bubble whose resonance gives the familiar "plop" (a damped sine
with rising pitch, Minnaert/van den Doel model, synth.bubble); every drop also makes a
tiny splash tick. One tap makes drops of a typical size, so its plops share a pitch.
"""

from __future__ import annotations

import numpy as np

from foleystudio.data.foleyworld import synth
from foleystudio.data.foleyworld.categories.base import Category, SourceTrack, events_from_frames
from foleystudio.data.foleyworld.render import Canvas
from foleystudio.data.foleyworld.scene import BoxTrack, SceneContext, Slot, jittered_frames

_PIPE = (0.55, 0.57, 0.6)
_WATER = (0.2, 0.45, 0.8)
_DROP = (0.45, 0.7, 1.0)
_RIPPLE = (0.75, 0.88, 1.0)
_RIPPLE_LIFE = 0.8  # seconds


class Drips(Category):
    name = "water_drips"
    settings = ("indoor", "outdoor")

    def make(self, rng: np.random.Generator, ctx: SceneContext, slot: Slot) -> SourceTrack:
        u = slot.unit
        floor = ctx.floor_y
        side = 1.0 if rng.random() < 0.5 else -1.0
        x_tap = slot.centre + side * rng.uniform(0.0, 0.1) * u
        pipe_y = rng.uniform(0.16, 0.28)
        nozzle_y = pipe_y + 0.06 * u
        pool_rx, pool_ry = 0.34 * u, 0.06 * u
        surface = floor + 0.6 * pool_ry
        drop_r = max(rng.uniform(0.026, 0.034) * u, 0.8 / ctx.size)
        fall_time = rng.uniform(0.3, 0.45)
        fall = surface - nozzle_y - drop_r
        g_half = fall / fall_time**2
        period = rng.uniform(0.35, 1.2)
        impacts = jittered_frames(rng, ctx, period, rng.uniform(0.03, 0.2), rng.uniform(0.1, 0.1 + period))
        impacts = [k for k in impacts if k >= 1]
        strengths = rng.uniform(0.7, 1.0, len(impacts))
        # Drops that land just after the clip ends are already falling on its last frames.
        later = [impacts[-1] + ctx.frames_for(period)] if impacts else [ctx.frames_for(period)]
        drops = [(k / ctx.fps - fall_time, k) for k in impacts + later]
        swell = 0.35
        splash_dirs = {k: rng.uniform(-1, 1, 3) for k in impacts}

        def drop_state(t: float) -> list[tuple[float, float]]:
            """(centre y, radius) of every drop visible at time t."""
            state = []
            for t_d, k in drops:
                t_hit = k / ctx.fps
                if t_d - swell <= t < t_d:
                    grow = 0.35 + 0.65 * (t - (t_d - swell)) / swell
                    state.append((nozzle_y + grow * drop_r, grow * drop_r))
                elif t_d <= t <= t_hit + 1e-9:
                    state.append((nozzle_y + drop_r + g_half * (t - t_d) ** 2, drop_r))
            return state

        boxes = BoxTrack()
        for k in range(ctx.n_frames):
            ys = [y - r for y, r in drop_state(k / ctx.fps)]
            boxes.add(x_tap - pool_rx, min(ys + [surface - pool_ry]), x_tap + pool_rx, floor + 1.6 * pool_ry)

        root = slot.x0 if side < 0 else slot.x1

        def draw(canvas: Canvas, k: int) -> None:
            t = k / ctx.fps
            canvas.ellipse(x_tap, floor + 0.6 * pool_ry, pool_rx * 1.08, pool_ry * 1.25, (0.35, 0.35, 0.38))
            canvas.ellipse(x_tap, floor + 0.6 * pool_ry, pool_rx, pool_ry, _WATER)
            for k_hit in impacts:
                age = t - k_hit / ctx.fps
                if 0 <= age < _RIPPLE_LIFE:
                    fade = 1.0 - age / _RIPPLE_LIFE
                    for scale in (1.0, 0.55):
                        rx = min(
                            0.03 * u + 0.9 * pool_rx * scale * np.sqrt(age / _RIPPLE_LIFE), pool_rx * 0.95
                        )
                        canvas.ring(x_tap, surface, rx, rx * pool_ry / pool_rx, 0.006, _RIPPLE, 0.8 * fade)
                    if age * ctx.fps < 3.5:
                        for j, dx in enumerate(splash_dirs[k_hit]):
                            a = age + 1.0 / ctx.fps
                            canvas.circle(
                                x_tap + dx * 0.08 * u * a * ctx.fps / 3,
                                surface - (0.05 + 0.02 * j) * u * np.sin(np.pi * min(a * ctx.fps / 4, 1)),
                                0.5 * drop_r,
                                _DROP,
                            )
            canvas.capsule(root, pipe_y, x_tap, pipe_y, 0.035 * u, _PIPE)
            canvas.capsule(x_tap, pipe_y, x_tap, nozzle_y - 0.005, 0.025 * u, _PIPE)
            for y, r in drop_state(t):
                canvas.circle(x_tap, y, r, _DROP)
                canvas.polygon(
                    [(x_tap - 0.7 * r, y - 0.3 * r), (x_tap + 0.7 * r, y - 0.3 * r), (x_tap, y - 1.9 * r)],
                    _DROP,
                )

        stem = self._sound(rng, ctx, impacts, strengths)
        details = {"period": period, "into": "a puddle" if ctx.setting != "indoor" else "a basin of water"}
        return SourceTrack(
            self.name,
            events_from_frames(impacts, strengths, "drip"),
            boxes.boxes,
            draw,
            stem,
            continuous=False,
            details=details,
        )

    def _sound(
        self, rng: np.random.Generator, ctx: SceneContext, impacts: list[int], strengths: np.ndarray
    ) -> np.ndarray:
        sr = ctx.sample_rate
        out = np.zeros(ctx.n_samples, np.float32)
        radius = rng.uniform(1.6, 3.5)  # mm: 0.9–2 kHz plops
        for k, s in zip(impacts, strengths, strict=True):
            drop = np.zeros(int(0.15 * sr), np.float32)
            synth.place(drop, 0.35 * synth.noise_burst(rng, sr, 2000, 7500, 0.0, 0.002), 0)
            if rng.random() < 0.85:
                plop = synth.bubble(sr, radius * rng.uniform(0.85, 1.15), rise=rng.uniform(0.05, 0.2))
                synth.place(drop, plop, int(0.001 * sr))
            synth.place(out, drop, ctx.frame_sample(k), gain=s)
        return out
