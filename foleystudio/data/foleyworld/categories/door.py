"""A door that is opened and slammed shut.

Motion: the door panel turns about its hinge towards the viewer; seen from the front its
free edge sits at hinge + width·cos θ and grows taller by perspective (1 + 0.3·sin θ). It
opens smoothly, waits, then is slammed: θ(s) = θ_open·(1 - s²), an accelerating swing that
reaches 0 (closed) exactly on the slam frame, followed by a tiny rebound.

Sound: a slam is the low thump of a large wooden panel (modal, 60–110 Hz fundamental), a
short crack, the latch's metallic click a few ms later and a short room tail; some doors
also creak while they are opened (a stick-slip pulse train whose rate follows the angular
speed — the continuous part of this source). With the recorded palette (samples.py) a recorded
door slam, pitched per door, replaces the synthesised one.
"""

from __future__ import annotations

import numpy as np

from foleystudio.data.foleyworld import synth
from foleystudio.data.foleyworld.categories.base import Category, SourceTrack, events_from_frames
from foleystudio.data.foleyworld.render import Canvas
from foleystudio.data.foleyworld.samples import pick_voice
from foleystudio.data.foleyworld.scene import BoxTrack, SceneContext, Slot, ease_in_out

_FRAME = (0.3, 0.2, 0.12)
_DARK = (0.06, 0.05, 0.05)
_KNOB = (0.85, 0.7, 0.25)


def door_schedule(
    rng: np.random.Generator, ctx: SceneContext
) -> tuple[np.ndarray, list[int], list[float], np.ndarray]:
    """Per-frame angle θ (radians, 0 = closed), slam frames, slam strengths, opening flag."""
    n = ctx.n_frames
    theta = np.zeros(n)
    opening = np.zeros(n, bool)
    slams: list[int] = []
    strengths: list[float] = []
    k = -ctx.frames_for(rng.uniform(0.0, 2.0))  # the first cycle may be under way at t = 0
    while k < n:
        th_open = rng.uniform(0.8, 1.35)
        open_f = ctx.frames_for(rng.uniform(0.5, 1.1))
        hold_f = ctx.frames_for(rng.uniform(0.15, 1.2))
        slam_f = max(ctx.frames_for(rng.uniform(0.12, 0.24)), 3)
        closed_f = ctx.frames_for(rng.uniform(0.3, 1.4))
        a = k
        b = a + open_f
        c = b + hold_f
        d = c + slam_f  # slam frame
        for j in range(max(a, 0), min(d + closed_f, n)):
            if j < b:
                theta[j] = th_open * ease_in_out((j - a) / open_f)
                opening[j] = True
            elif j < c:
                theta[j] = th_open
            elif j < d:
                s = (j - c) / slam_f
                theta[j] = th_open * (1 - s * s)
            else:
                age = (j - d) / ctx.fps
                theta[j] = 0.07 * np.sin(np.pi * age / 0.12) if age < 0.12 else 0.0
        if 1 <= d < n:
            slams.append(d)
            speed = 2 * th_open / (slam_f / ctx.fps)  # rad/s at contact
            strengths.append(float(np.clip(speed / 20.0, 0.35, 1.0)))
        k = d + closed_f
    return theta, slams, strengths, opening


class Door(Category):
    name = "door_slam"
    settings = ("indoor", "street")

    def make(self, rng: np.random.Generator, ctx: SceneContext, slot: Slot) -> SourceTrack:
        u = slot.unit
        floor = ctx.floor_y
        height = min(0.95 * u, floor - 0.12)
        width = 0.46 * height
        hinge_left = rng.random() < 0.5
        side = 1.0 if hinge_left else -1.0
        x_h = slot.centre - side * width / 2
        top = floor - height
        theta, slams, strengths, opening = door_schedule(rng, ctx)
        color_name, color = ctx.look.pick("door", rng)

        def panel(th: float) -> list[tuple[float, float]]:
            x_f = x_h + side * width * np.cos(th)
            grow = 0.3 * np.sin(th) * height / 2
            return [(x_h, top), (x_f, top - grow), (x_f, floor + grow), (x_h, floor)]

        boxes = BoxTrack()
        for k in range(ctx.n_frames):
            pts = np.array(panel(theta[k]))
            boxes.add(pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max())

        frame_pad = 0.03 * height
        left, right = min(x_h, x_h + side * width), max(x_h, x_h + side * width)

        def draw(canvas: Canvas, k: int) -> None:
            canvas.rect(left - frame_pad, top - frame_pad, right + frame_pad, floor, _FRAME)
            canvas.rect(left, top, right, floor, _DARK)
            th = abs(theta[k])
            shade = 0.7 + 0.3 * np.cos(th)
            canvas.polygon(panel(th), tuple(c * shade for c in color))
            # Two recessed panels and the knob move with the door.
            c = np.cos(th)
            for y0, y1 in ((0.1, 0.45), (0.55, 0.9)):
                xa, xb = x_h + side * width * 0.15 * c, x_h + side * width * 0.85 * c
                canvas.rect(
                    min(xa, xb),
                    top + y0 * height,
                    max(xa, xb),
                    top + y1 * height,
                    tuple(cc * shade * 0.85 for cc in color),
                )
            canvas.circle(x_h + side * width * 0.87 * c, top + 0.55 * height, 0.03 * height, _KNOB)

        creaks = bool(rng.random() < 0.45 and opening.any())
        stem = self._sound(rng, ctx, slams, strengths, theta, opening if creaks else None)
        details = {"color": color_name, "creaks": creaks}
        return SourceTrack(
            self.name,
            events_from_frames(slams, strengths, "slam"),
            boxes.boxes,
            draw,
            stem,
            continuous=creaks,
            details=details,
        )

    def _sound(
        self,
        rng: np.random.Generator,
        ctx: SceneContext,
        slams: list[int],
        strengths: list[float],
        theta: np.ndarray,
        opening: np.ndarray | None,
    ) -> np.ndarray:
        sr = ctx.sample_rate
        out = np.zeros(ctx.n_samples, np.float32)
        f0 = rng.uniform(60, 110)
        tau0 = rng.uniform(0.08, 0.18)
        ratios = np.array([1.0, 1.65, 2.4, 3.3, 4.6])
        latch_f = rng.uniform(2500, 4500)
        voice = pick_voice(ctx.samples, "door", rng)
        for k, s in zip(slams, strengths, strict=True):
            if voice is not None:  # a recorded slam (samples.py); the creak stays procedural
                synth.place(out, voice.hit(sr, rng), ctx.frame_sample(k), gain=s)
                continue
            hit = synth.modal(
                f0 * ratios, tau0 / np.arange(1, 6) ** 0.5, [1.0, 0.7, 0.5, 0.35, 0.25], sr, length=0.6
            )
            hit += 0.5 * synth.noise_burst(rng, sr, 800, 6000, 0.0, 0.006, length=0.6)
            hit += 0.2 * synth.noise_burst(rng, sr, 0, 1500, 0.005, 0.12, length=0.6)
            latch = synth.modal([latch_f, 1.7 * latch_f], [0.03, 0.02], [1.0, 0.5], sr)
            synth.place(hit, 0.3 * latch, int(rng.uniform(0.01, 0.03) * sr))
            synth.place(out, hit, ctx.frame_sample(k), gain=s)
        if opening is not None:
            # Angular speed at audio rate drives the creak's pulse rate and loudness.
            speed = np.abs(np.gradient(theta)) * ctx.fps * opening
            t_frames = np.arange(ctx.n_samples) * ctx.fps / sr
            speed_s = np.interp(t_frames, np.arange(ctx.n_frames), speed)
            rate = rng.uniform(180, 320) + 250 * speed_s
            creak = synth.harmonic_tone(rate, [1.0 / h for h in range(1, 12)], sr, rng, roughness=0.4)
            creak = synth.bandpass(creak, 500, 3500, sr)
            level = np.clip(speed_s / 2.0, 0.0, 1.0)
            out += 0.06 * creak * level
        return out
