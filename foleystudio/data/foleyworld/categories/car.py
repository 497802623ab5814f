"""A car driving past along the street.

Motion: the car's centre follows x(t) = 0.5 + dir·(v0·τ + a·τ²/2) with τ = t - t_c (it
crosses the middle of the frame at t_c), so it may speed up or slow down; its wheels turn
by distance / radius. It is a wide source: it crosses the whole frame behind the others.

Sound (continuous, no impulsive events): a harmonic engine whose firing frequency rises
with speed, f = f_idle + k·v, plus tyre roar growing with speed. The listener stands D0
metres in front of the frame centre (the frame is 12 m wide): level ∝ D0/distance and a
Doppler factor c/(c + radial speed) with c = 343 m/s, so the car is heard approaching
before it is seen, peaks as it passes and drops in pitch as it leaves.
"""

from __future__ import annotations

import numpy as np

from foleystudio.data.foleyworld import synth
from foleystudio.data.foleyworld.categories.base import Category, SourceTrack
from foleystudio.data.foleyworld.render import Canvas
from foleystudio.data.foleyworld.scene import BoxTrack, SceneContext, Slot

FRAME_METRES = 12.0  #: width of the frame in metres at the road
SPEED_OF_SOUND = 343.0  #: m/s
_WINDOW = (0.6, 0.8, 0.92)
_TYRE = (0.08, 0.08, 0.08)
_HUB = (0.7, 0.7, 0.72)


def car_path(rng: np.random.Generator, duration: float) -> tuple[float, float, float, float]:
    """(direction, v0, accel, t_cross): speed v0 (frames widths/s) when crossing x = 0.5."""
    direction = 1.0 if rng.random() < 0.5 else -1.0
    v0 = rng.uniform(0.4, 1.0)
    t_c = rng.uniform(0.3, 0.7) * duration
    low, high = 0.18, 1.4
    a_min = max(-(v0 - low) / max(duration - t_c, 1e-3), -(high - v0) / max(t_c, 1e-3), -0.25)
    a_max = min((v0 - low) / max(t_c, 1e-3), (high - v0) / max(duration - t_c, 1e-3), 0.25)
    accel = rng.uniform(a_min, a_max) if a_max > a_min else 0.0
    return direction, v0, accel, t_c


class Car(Category):
    name = "car_passing"
    wide = True
    settings = ("street",)

    def make(self, rng: np.random.Generator, ctx: SceneContext, slot: Slot) -> SourceTrack:
        floor = ctx.floor_y
        length = rng.uniform(0.3, 0.4)
        wheel = 0.1 * length
        body_h = 0.2 * length
        cabin_h = 0.19 * length
        direction, v0, accel, t_c = car_path(rng, ctx.duration)
        tau = ctx.times - t_c
        x = 0.5 + direction * (v0 * tau + 0.5 * accel * tau**2)
        color_name, color = ctx.look.pick("car", rng)
        body_bottom = floor - 0.9 * wheel
        body_top = body_bottom - body_h
        roof = body_top - cabin_h

        boxes = BoxTrack()
        for k in range(ctx.n_frames):
            boxes.add(x[k] - length / 2, roof, x[k] + length / 2, floor)

        def draw(canvas: Canvas, k: int) -> None:
            cx, face = x[k], direction
            if cx + length < -0.05 or cx - length > 1.05:
                return
            canvas.ellipse(cx, floor + 0.004, 0.55 * length, 0.015, (0, 0, 0), 0.35)
            canvas.rect(cx - length / 2, body_top, cx + length / 2, body_bottom, color)
            rear, front = cx - face * 0.3 * length, cx + face * 0.22 * length
            canvas.polygon(
                [
                    (rear - face * 0.05 * length, body_top),
                    (rear + face * 0.02 * length, roof),
                    (front - face * 0.04 * length, roof),
                    (front + face * 0.1 * length, body_top),
                ],
                color,
            )
            mid = 0.5 * (rear + front)
            canvas.polygon(
                [
                    (rear + face * 0.02 * length, body_top - 0.1 * cabin_h),
                    (rear + face * 0.05 * length, roof + 0.2 * cabin_h),
                    (mid - face * 0.01 * length, roof + 0.2 * cabin_h),
                    (mid - face * 0.01 * length, body_top - 0.1 * cabin_h),
                ],
                _WINDOW,
            )
            canvas.polygon(
                [
                    (mid + face * 0.01 * length, body_top - 0.1 * cabin_h),
                    (mid + face * 0.01 * length, roof + 0.2 * cabin_h),
                    (front - face * 0.05 * length, roof + 0.2 * cabin_h),
                    (front + face * 0.05 * length, body_top - 0.1 * cabin_h),
                ],
                _WINDOW,
            )
            canvas.circle(
                cx + face * 0.47 * length, body_top + 0.3 * body_h, 0.035 * length, (1.0, 0.95, 0.6)
            )
            canvas.circle(cx - face * 0.48 * length, body_top + 0.3 * body_h, 0.03 * length, (0.9, 0.1, 0.1))
            angle = (x[k] - 0.5) / wheel * face
            for wx in (cx - 0.3 * length, cx + 0.3 * length):
                canvas.circle(wx, floor - wheel, wheel, _TYRE)
                canvas.circle(wx, floor - wheel, 0.5 * wheel, _HUB)
                canvas.capsule(
                    wx - 0.45 * wheel * np.cos(angle),
                    floor - wheel - 0.45 * wheel * np.sin(angle),
                    wx + 0.45 * wheel * np.cos(angle),
                    floor - wheel + 0.45 * wheel * np.sin(angle),
                    0.1 * wheel,
                    _TYRE,
                )

        stem = self._sound(rng, ctx, direction, v0, accel, t_c)
        trend = "speeding up" if accel > 0.05 else "slowing down" if accel < -0.05 else "at a steady speed"
        details = {
            "color": color_name,
            "direction": "left to right" if direction > 0 else "right to left",
            "trend": trend,
            "speed_mps": float(v0 * FRAME_METRES),
        }
        return SourceTrack(self.name, [], boxes.boxes, draw, stem, continuous=True, details=details)

    def _sound(
        self,
        rng: np.random.Generator,
        ctx: SceneContext,
        direction: float,
        v0: float,
        accel: float,
        t_c: float,
    ) -> np.ndarray:
        sr = ctx.sample_rate
        t = np.arange(ctx.n_samples) / sr
        tau = t - t_c
        pos = direction * (v0 * tau + 0.5 * accel * tau**2) * FRAME_METRES  # metres from the centre
        vel = direction * (v0 + accel * tau) * FRAME_METRES
        d0 = rng.uniform(4.0, 8.0)
        dist = np.sqrt(pos**2 + d0**2)
        radial = pos * vel / dist
        doppler = SPEED_OF_SOUND / (SPEED_OF_SOUND + radial)
        speed = np.abs(vel)
        f_idle, k_v = rng.uniform(22, 35), rng.uniform(2.5, 4.0)
        f0 = (f_idle + k_v * speed) * doppler
        n_harm = 24
        amps = (1.0 / np.arange(1, n_harm + 1) ** 0.8) * rng.uniform(0.5, 1.5, n_harm)
        engine = synth.harmonic_tone(f0, amps, sr, rng, roughness=0.08)
        engine = synth.bandpass(engine, 30, 3500, sr)
        tyres = synth.bandpass(synth.colored_noise(rng, ctx.n_samples, 1.0), 80, 1500, sr)
        tyre_level = 0.08 * (speed / 12.0) ** 1.5
        gain = d0 / dist
        out = (engine / max(float(np.abs(engine).max()), 1e-9) + tyre_level * tyres) * gain
        return out.astype(np.float32)
