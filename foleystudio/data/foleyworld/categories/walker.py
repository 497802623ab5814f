"""Footsteps of a walker pacing across the floor.

Gait: feet land alternately every ``n`` frames; a landed foot stays planted while the other
swings from behind to ahead along a lifted arc and lands exactly on the next step frame
(heel strike = sound onset). The hip moves forward during each swing and rides on the
straight stance leg, so it bobs. Walking happens along an unwrapped line that is folded
back at the slot's sides (a triangle wave), so the walker turns around instead of leaving;
sometimes the walker pauses, both feet down, and the steps stop.

Sound: each step is a heel impact (band-limited noise burst + low body thump) followed by
a softer toe contact; the band, decay and grit depend on the floor surface and the shoes.
"""

from __future__ import annotations

import numpy as np

from foleystudio.data.foleyworld import synth
from foleystudio.data.foleyworld.categories.base import Category, SourceTrack, events_from_frames
from foleystudio.data.foleyworld.render import Canvas
from foleystudio.data.foleyworld.scene import BoxTrack, SceneContext, Slot, ease_in_out

_SKIN = (0.93, 0.75, 0.6)
_TROUSERS = ((0.15, 0.18, 0.3), (0.25, 0.25, 0.27), (0.35, 0.28, 0.2))
_SHOE = (0.08, 0.07, 0.07)

#: Per surface: heel noise band (Hz), decay τ (s), grit (extra crunch bursts per step).
_SURFACES = {
    "wooden": (150, 2500, 0.025, 0),
    "concrete": (300, 5000, 0.015, 0),
    "tiled": (600, 6500, 0.010, 0),
    "grassy": (200, 1800, 0.040, 4),
    "stone": (300, 6000, 0.018, 3),
    "asphalt": (250, 5000, 0.016, 2),
}


def fold(s: np.ndarray | float, lo: float, hi: float) -> np.ndarray | float:
    """Reflect an unwrapped coordinate into [lo, hi] (a triangle wave)."""
    w = hi - lo
    y = np.mod(np.asarray(s) - lo, 2 * w)
    return lo + w - np.abs(y - w)


class Walker(Category):
    name = "footsteps"
    settings = ("indoor", "outdoor", "street")

    def make(self, rng: np.random.Generator, ctx: SceneContext, slot: Slot) -> SourceTrack:
        u = slot.unit
        floor = ctx.floor_y
        height = min(0.95 * u, 0.5) * rng.uniform(0.9, 1.0)
        leg = 0.47 * height
        step = leg * rng.uniform(0.45, 0.7)
        n_step = ctx.frames_for(rng.uniform(0.42, 0.62))
        lo, hi = slot.x0 + 0.12 * height, slot.x1 - 0.12 * height
        direction = 1.0 if rng.random() < 0.5 else -1.0
        s0 = rng.uniform(lo, hi)

        # Landing frames and unwrapped foot positions; pauses stretch some intervals.
        first = -int(rng.integers(1, n_step + 1)) - n_step
        landings: list[int] = [first, first + n_step]  # the second one is still before frame 0
        while landings[-1] < ctx.n_frames + n_step:
            extra = ctx.frames_for(rng.uniform(0.8, 1.6)) if rng.random() < 0.07 else 0
            landings.append(landings[-1] + n_step + extra)
        positions = s0 + direction * step * np.arange(len(landings))
        events = [k for k in landings if 1 <= k < ctx.n_frames]
        strengths = rng.uniform(0.7, 1.0, len(events))
        feet = {k: j % 2 for j, k in enumerate(landings)}

        n = ctx.n_frames
        hip_s = np.zeros(n)
        foot_s = np.zeros((n, 2))
        foot_lift = np.zeros((n, 2))
        swing_phase = np.zeros(n)
        stance_foot = np.zeros(n, np.int64)
        for j in range(1, len(landings) - 1):
            a, b = landings[j], landings[j + 1]
            swing_start = b - n_step
            stance, swing = j % 2, (j + 1) % 2
            for k in range(max(a, 0), min(b, n)):
                p = float(np.clip((k - swing_start) / n_step, 0.0, 1.0))
                e = ease_in_out(p)
                hip_s[k] = positions[j] - direction * step / 2 + direction * step * p
                foot_s[k, stance] = positions[j]
                foot_s[k, swing] = positions[j - 1] + 2 * direction * step * e
                foot_lift[k, swing] = 0.12 * leg * np.sin(np.pi * p)
                swing_phase[k] = p if swing == 0 else -p
                stance_foot[k] = stance
        hip_x = fold(hip_s, lo, hi)
        foot_x = fold(foot_s, lo, hi)
        # Facing follows the folded motion (turns at the sides of the slot).
        moving = np.gradient(fold(hip_s + direction * 1e-3, lo, hi) - hip_x)
        facing = np.where(moving >= 0, 1.0, -1.0)
        stance_dx = np.abs(hip_s - foot_s[np.arange(n), stance_foot])
        hip_y = floor - np.sqrt(np.maximum(leg**2 - stance_dx**2, (0.8 * leg) ** 2))
        _, shirt = ctx.look.pick("shirt", rng)
        trousers = _TROUSERS[int(rng.integers(len(_TROUSERS)))]
        torso, head_r = 0.32 * height, 0.075 * height
        limb = 0.045 * height

        boxes = BoxTrack()
        for k in range(n):
            xs = [hip_x[k], foot_x[k, 0], foot_x[k, 1]]
            boxes.add(min(xs) - 0.1 * height, hip_y[k] - torso - 2.2 * head_r, max(xs) + 0.1 * height, floor)

        def draw(canvas: Canvas, k: int) -> None:
            hx, hy, face = hip_x[k], hip_y[k], facing[k]
            canvas.ellipse(hx, floor + 0.005, 0.12 * height, 0.012, (0, 0, 0), 0.25)
            shoulder = (hx + 0.03 * face * height, hy - torso)
            arm = 0.35 * swing_phase[k]
            for side, shade in ((1, 0.75), (0, 1.0)):  # far leg first, darker
                fx, fy = foot_x[k, side], floor - foot_lift[k, side] - 0.5 * limb
                knee_x = 0.5 * (hx + fx) + 0.12 * face * leg * np.sin(np.pi * abs(swing_phase[k])) * (
                    foot_lift[k, side] > 0
                )
                knee_y = 0.5 * (hy + fy)
                color = tuple(c * shade for c in trousers)
                canvas.capsule(hx, hy, knee_x, knee_y, limb, color)
                canvas.capsule(knee_x, knee_y, fx, fy, limb, color)
                canvas.ellipse(fx + 0.035 * face * height, fy + 0.2 * limb, 0.05 * height, 0.6 * limb, _SHOE)
                sign = 1 if side == 0 else -1
                canvas.capsule(
                    shoulder[0],
                    shoulder[1],
                    shoulder[0] + sign * arm * 0.25 * height * face,
                    shoulder[1] + 0.27 * height,
                    0.8 * limb,
                    tuple(c * shade for c in shirt),
                )
            canvas.capsule(hx, hy, shoulder[0], shoulder[1], 1.6 * limb, shirt)
            canvas.circle(shoulder[0] + 0.02 * face * height, shoulder[1] - 1.3 * head_r, head_r, _SKIN)
            canvas.circle(
                shoulder[0] + 0.02 * face * height + 0.5 * face * head_r,
                shoulder[1] - 1.45 * head_r,
                0.18 * head_r,
                (0.1, 0.1, 0.1),
            )

        shoes = "hard shoes" if rng.random() < 0.5 else "soft shoes"
        stem = self._sound(rng, ctx, events, strengths, [feet[k] for k in events], shoes)
        details = {"surface": ctx.surface, "shoes": shoes, "period": n_step / ctx.fps}
        return SourceTrack(
            self.name,
            events_from_frames(events, strengths, "step"),
            boxes.boxes,
            draw,
            stem,
            continuous=False,
            details=details,
        )

    def _sound(
        self,
        rng: np.random.Generator,
        ctx: SceneContext,
        frames: list[int],
        strengths: np.ndarray,
        feet: list[int],
        shoes: str,
    ) -> np.ndarray:
        sr = ctx.sample_rate
        out = np.zeros(ctx.n_samples, np.float32)
        low, high, decay, grit = _SURFACES.get(ctx.surface, (250, 4000, 0.02, 0))
        hard = shoes == "hard shoes"
        if not hard:
            high *= 0.5
        toe_delay = rng.uniform(0.02, 0.04)  # short enough to merge with the heel
        thump_f = rng.uniform(70, 120)
        for k, s, foot in zip(frames, strengths, feet, strict=True):
            heel = synth.noise_burst(rng, sr, low, high, 0.001, decay * (0.8 if hard else 1.3))
            thump = synth.modal(
                [thump_f, 2.3 * thump_f], [0.025, 0.012], [1.0, 0.4], sr, length=heel.size / sr
            )
            # heel.size / sr * sr can round down by one sample (e.g. 1867 at 24 kHz).
            heel[: thump.size] += 0.8 * thump[: heel.size]
            if hard:
                clk = synth.click(rng, sr, 2500, 0.0012)
                heel[: clk.size] += 0.5 * clk
            toe = 0.3 * synth.noise_burst(rng, sr, low * 1.5, high, 0.004, decay * 0.7)
            sound = np.zeros(int((toe_delay + 0.2) * sr), np.float32)
            synth.place(sound, heel, 0)
            synth.place(sound, toe, int(toe_delay * sr))
            for _ in range(grit):  # crunch of grass or grit under the sole
                synth.place(
                    sound,
                    0.25 * synth.noise_burst(rng, sr, 1500, 7000, 0.0005, 0.004),
                    int(rng.uniform(0.003, 0.035) * sr),
                )
            synth.place(out, sound, ctx.frame_sample(k), gain=s * (1.0 if foot == 0 else 0.9))
        return out
