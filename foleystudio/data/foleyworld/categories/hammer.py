"""A hammer striking an anvil.

Motion: a hand holds the hammer's handle at a pivot; the handle's angle θ above the
horizontal lifts after each strike, holds, then falls with constant angular acceleration,
θ(s) = θ_up·(1 - s²) for s in [0, 1], reaching 0 — the head's face on the anvil's top —
exactly on the strike frame. Sparks fly for a few frames after each strike.

Sound: an anvil is a heavy steel block: strongly inharmonic, long-ringing modes plus a hard
contact click and a low "thunk" of the mass. With the recorded palette (samples.py) a
recorded impact, drawn per strike, replaces the click and the thunk under the ring.
"""

from __future__ import annotations

import numpy as np

from foleystudio.data.foleyworld import synth
from foleystudio.data.foleyworld.categories.base import Category, SourceTrack, events_from_frames
from foleystudio.data.foleyworld.render import Canvas
from foleystudio.data.foleyworld.samples import pick_voice
from foleystudio.data.foleyworld.scene import BoxTrack, SceneContext, Slot, ease_in_out, jittered_frames

_ANVIL = (0.22, 0.22, 0.25)
_ANVIL_TOP = (0.45, 0.46, 0.5)
_HANDLE = (0.5, 0.32, 0.16)
_HEAD = (0.35, 0.36, 0.4)
_SKIN = (0.93, 0.75, 0.6)
_SPARK = (1.0, 0.85, 0.3)


def hammer_angles(ctx: SceneContext, strikes: list[int], theta_up: float, fall: int) -> np.ndarray:
    """Per-frame handle angle (radians above horizontal) for the given strike frames."""
    n = ctx.n_frames
    theta = np.full(n, theta_up)
    bounds = [-10 * fall] + strikes + [n + 10 * fall]
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        gap = b - a
        fall_frames = min(fall, max(gap // 2, 2))
        lift_end = a + max(int(0.45 * (gap - fall_frames)), 1)
        for k in range(max(a, 0), min(b, n)):
            if k < lift_end:  # rebound then lift
                theta[k] = theta_up * ease_in_out((k - a) / max(lift_end - a, 1))
            elif k < b - fall_frames:
                theta[k] = theta_up
            else:
                s = (k - (b - fall_frames)) / fall_frames
                theta[k] = theta_up * (1.0 - s * s)
    for k in strikes:
        if 0 <= k < n:
            theta[k] = 0.0
    return theta


class HammerAnvil(Category):
    name = "hammer_anvil"
    settings = ("indoor", "outdoor")

    def make(self, rng: np.random.Generator, ctx: SceneContext, slot: Slot) -> SourceTrack:
        u = slot.unit
        floor = ctx.floor_y
        aw, ah = 0.7 * u, 0.34 * u
        cx = slot.centre - 0.08 * u
        top = floor - ah
        strike_x = cx + 0.05 * u
        length = 0.42 * u
        head_len, head_w = 0.2 * u, 0.1 * u
        pivot = (strike_x + length, top - head_len / 2)
        theta_up = rng.uniform(1.1, 1.75)
        fall = ctx.frames_for(rng.uniform(0.12, 0.2))
        period = rng.uniform(0.45, 1.1)
        strikes = jittered_frames(rng, ctx, period, rng.uniform(0.0, 0.15), rng.uniform(0.25, 0.25 + period))
        strikes = [k for k in strikes if k >= 1]
        theta = hammer_angles(ctx, strikes, theta_up, fall)
        strengths = rng.uniform(0.75, 1.0, len(strikes))
        sparks = {k: rng.uniform(-1, 1, (6, 2)) for k in strikes}

        def head_polygon(th: float) -> np.ndarray:
            d = np.array([-np.cos(th), -np.sin(th)])
            nrm = np.array([-np.sin(th), np.cos(th)])
            end = np.array(pivot) + length * d
            return np.array(
                [
                    end + sa * nrm * head_len / 2 + sb * d * head_w / 2
                    for sa, sb in ((-1, -1), (-1, 1), (1, 1), (1, -1))
                ]
            )

        anvil_base = [
            (cx - 0.32 * aw, floor),
            (cx + 0.32 * aw, floor),
            (cx + 0.18 * aw, floor - 0.55 * ah),
            (cx - 0.18 * aw, floor - 0.55 * ah),
        ]
        anvil_top = (cx - 0.4 * aw, top, cx + 0.5 * aw, top + 0.45 * ah)
        horn = [(cx - 0.4 * aw, top), (cx - 0.4 * aw, top + 0.3 * ah), (cx - 0.75 * aw, top + 0.05 * ah)]

        boxes = BoxTrack()
        for k in range(ctx.n_frames):
            head = head_polygon(theta[k])
            boxes.add(
                min(cx - 0.75 * aw, head[:, 0].min()),
                min(top, head[:, 1].min()),
                max(cx + 0.5 * aw, head[:, 0].max()),
                floor,
            )

        def draw(canvas: Canvas, k: int) -> None:
            canvas.ellipse(cx, floor + 0.004, 0.45 * aw, 0.012, (0, 0, 0), 0.3)
            canvas.polygon(anvil_base, _ANVIL)
            canvas.polygon(horn, _ANVIL)
            canvas.rect(*anvil_top, _ANVIL)
            canvas.rect(anvil_top[0], top, anvil_top[2], top + 0.08 * ah, _ANVIL_TOP)
            th = theta[k]
            d = np.array([-np.cos(th), -np.sin(th)])
            end = np.array(pivot) + length * d
            canvas.capsule(pivot[0], pivot[1], end[0], end[1], 0.025 * u, _HANDLE)
            canvas.polygon(head_polygon(th), _HEAD)
            # Forearm and fist holding the handle.
            canvas.capsule(pivot[0], pivot[1], pivot[0] + 0.12 * u, pivot[1] - 0.16 * u, 0.03 * u, _SKIN)
            canvas.circle(pivot[0], pivot[1], 0.032 * u, _SKIN)
            for strike, dirs in sparks.items():
                age = k - strike
                if 0 <= age <= 2:
                    for dx, dy in dirs:
                        sx = strike_x + (0.04 + 0.06 * age) * u * dx
                        sy = top - (0.03 + 0.05 * age) * u * abs(dy)
                        canvas.circle(sx, sy, 0.012 * u, _SPARK, 1.0 - 0.3 * age)

        stem = self._sound(rng, ctx, strikes, strengths)
        return SourceTrack(
            self.name,
            events_from_frames(strikes, strengths),
            boxes.boxes,
            draw,
            stem,
            continuous=False,
            details={"period": period},
        )

    def _sound(
        self, rng: np.random.Generator, ctx: SceneContext, strikes: list[int], strengths: np.ndarray
    ) -> np.ndarray:
        sr = ctx.sample_rate
        out = np.zeros(ctx.n_samples, np.float32)
        f0 = rng.uniform(650, 1250)
        ratios = np.array([1.0, 1.47, 2.09, 2.56, 3.37, 4.15])
        tau0 = rng.uniform(0.6, 1.4)
        base_amps = np.array([1.0, 0.7, 0.8, 0.5, 0.4, 0.3])
        bank = synth.mode_bank(f0 * ratios, tau0 / np.arange(1, 7) ** 0.4, sr, min(5 * tau0, ctx.duration))
        voice = pick_voice(ctx.samples, "anvil", rng)
        for k, s in zip(strikes, strengths, strict=True):
            hit = (base_amps * rng.uniform(0.8, 1.2, 6)).astype(np.float32) @ bank
            if voice is not None:  # a recorded impact under the anvil's ring (samples.py)
                synth.place(hit, voice.hit(sr, rng), 0, 0.8 * float(np.abs(hit).max()))
            else:
                synth.place(hit, synth.click(rng, sr, 3500, 0.002), 0, 0.7)
                synth.place(hit, synth.noise_burst(rng, sr, 120, 900, 0.0005, 0.02), 0, 0.5)
            synth.place(out, hit, ctx.frame_sample(k), gain=s)
        return out
