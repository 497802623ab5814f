"""A swinging bell, rung by its clapper.

Motion: the bell swings as a pendulum, θ(t) = A(t)·cos(π·(k - e0)/h) in frames k, with
extremes every h frames (on frames, by construction). The clapper hangs from the same
pivot and swings less, φ = θ·(1 - α/A): relative to the bell it reaches exactly ±α — the
angle at which its ball touches the bell's inner wall — at each extreme, so it strikes the
bell on the extreme frames. Some bells are let go and swing down (A decays); once A ≤ α
the clapper no longer reaches the wall and the strikes stop.

Sound: church-bell partials relative to the prime — hum 0.5, prime 1, tierce 1.2, quint
1.5, nominal 2, and 2.5, 2.67, 3 — lower ones ringing longer, each split into a slightly
detuned pair (the beating of a real bell), plus the clapper's click. With the recorded
palette (samples.py) a recorded bell, drawn and pitch-shifted once per bell, replaces the
partials.
"""

from __future__ import annotations

import numpy as np

from foleystudio.data.foleyworld import synth
from foleystudio.data.foleyworld.categories.base import Category, SourceTrack, events_from_frames
from foleystudio.data.foleyworld.render import Canvas
from foleystudio.data.foleyworld.samples import pick_voice
from foleystudio.data.foleyworld.scene import BoxTrack, SceneContext, Slot

_BEAM = (0.3, 0.2, 0.12)
_CLAPPER = (0.15, 0.13, 0.12)
_RATIOS = np.array([0.5, 1.0, 1.2, 1.5, 2.0, 2.5, 2.67, 3.0])
_AMPS = np.array([0.5, 0.7, 1.0, 0.4, 0.9, 0.35, 0.25, 0.2])
_DECAYS = np.array([4.0, 2.5, 2.0, 1.5, 1.2, 0.8, 0.7, 0.6])


class Bell(Category):
    name = "bell_ringing"
    settings = ("outdoor", "indoor", "street")

    def make(self, rng: np.random.Generator, ctx: SceneContext, slot: Slot) -> SourceTrack:
        u = slot.unit
        n = ctx.n_frames
        pivot = (slot.centre, rng.uniform(0.12, 0.22))
        bell_h = 0.5 * u
        shoulder_w, lip_w = 0.125 * u, 0.25 * u
        wall = 0.02 * u
        clapper_len, clapper_r = 0.78 * bell_h, 0.045 * u
        # The profile: a waisted body down to ``waist_y``, then a flare to the lip.
        waist_y, waist_w = 0.7 * bell_h, 1.15 * shoulder_w
        # Inner half-width of the bell at the clapper ball's height, and the contact angle.
        frac = (clapper_len - waist_y) / (bell_h - waist_y)
        inner = waist_w + (lip_w - waist_w) * frac - wall
        alpha = float(np.arcsin((inner - clapper_r) / clapper_len))
        amp0 = rng.uniform(alpha + 0.12, alpha + 0.35)
        decay = rng.uniform(2.0, 5.0) if rng.random() < 0.3 else None
        half = ctx.frames_for(rng.uniform(0.5, 0.9))
        e0 = int(rng.integers(2, half + 2))
        k = np.arange(n, dtype=np.float64)
        amplitude = amp0 * (np.exp(-np.maximum(k / ctx.fps - 1.0, 0.0) / decay) if decay else np.ones(n))
        theta = amplitude * np.cos(np.pi * (k - e0) / half)
        ringing = amplitude > alpha * 1.02
        # When the clapper no longer reaches the wall it hangs nearly still inside the bell.
        phi = np.where(ringing, theta * (1 - alpha / amplitude), 0.3 * theta)
        strikes = [int(e) for e in range(e0 % half, n, half) if e >= 1 and ringing[e]]
        strengths = [float(np.clip((amplitude[e] - alpha) / 0.3, 0.3, 1.0)) for e in strikes]
        color_name, color = ctx.look.pick("bell", rng)
        dark = tuple(0.6 * c for c in color)
        body = np.array(
            [(-shoulder_w, shoulder_w), (shoulder_w, shoulder_w), (waist_w, waist_y), (-waist_w, waist_y)]
        )
        flare = np.array(
            [
                (-waist_w, waist_y - 0.01 * u),
                (waist_w, waist_y - 0.01 * u),
                (lip_w, bell_h - 0.03 * u),
                (lip_w, bell_h),
                (-lip_w, bell_h),
                (-lip_w, bell_h - 0.03 * u),
            ]
        )
        outline = np.concatenate([body, flare])

        def rotate(points: np.ndarray, angle: float) -> np.ndarray:
            c, s = np.cos(angle), np.sin(angle)
            x, y = points[:, 0], points[:, 1]
            return np.stack([pivot[0] + x * c + y * s, pivot[1] - x * s + y * c], axis=1)

        def clapper_ball(k: int) -> tuple[float, float]:
            return pivot[0] + clapper_len * np.sin(phi[k]), pivot[1] + clapper_len * np.cos(phi[k])

        boxes = BoxTrack()
        for j in range(n):
            pts = rotate(outline, theta[j])
            bx, by = clapper_ball(j)
            xs = np.append(pts[:, 0], [bx - clapper_r, bx + clapper_r])
            ys = np.append(pts[:, 1], [pivot[1], by + clapper_r])
            boxes.add(xs.min(), ys.min(), xs.max(), ys.max())

        def draw(canvas: Canvas, j: int) -> None:
            canvas.capsule(
                slot.x0 + 0.08 * u, pivot[1] - 0.02, slot.x1 - 0.08 * u, pivot[1] - 0.02, 0.018, _BEAM
            )
            bx, by = clapper_ball(j)
            canvas.capsule(pivot[0], pivot[1], bx, by, 0.008 * u, _CLAPPER)
            canvas.circle(bx, by, clapper_r, _CLAPPER)
            th = theta[j]
            canvas.polygon(rotate(body, th), color)
            canvas.polygon(rotate(flare, th), color)
            dome = rotate(np.array([(0.0, shoulder_w)]), th)[0]
            canvas.circle(dome[0], dome[1], shoulder_w, color)
            band = rotate(
                np.array([(-0.93 * lip_w, bell_h - 0.05 * u), (0.93 * lip_w, bell_h - 0.05 * u)]), th
            )
            canvas.capsule(band[0, 0], band[0, 1], band[1, 0], band[1, 1], 0.01 * u, dark)
            shine = rotate(np.array([(-0.55 * shoulder_w, 1.2 * shoulder_w), (-0.75 * waist_w, waist_y)]), th)
            canvas.capsule(
                shine[0, 0], shine[0, 1], shine[1, 0], shine[1, 1], 0.012 * u, (1.0, 0.95, 0.75), 0.6
            )
            # The clapper's ball shows below the lip when it hangs low.
            canvas.circle(bx, by, clapper_r, _CLAPPER, 0.35)
            canvas.capsule(pivot[0], pivot[1] - 0.01, pivot[0], pivot[1] + 0.01, 0.02 * u, _BEAM)

        stem = self._sound(rng, ctx, strikes, strengths)
        details = {"color": color_name, "fading": decay is not None, "period": 2 * half / ctx.fps}
        return SourceTrack(
            self.name,
            events_from_frames(strikes, strengths, "strike"),
            boxes.boxes,
            draw,
            stem,
            continuous=True,
            details=details,
        )

    def _sound(
        self, rng: np.random.Generator, ctx: SceneContext, strikes: list[int], strengths: list[float]
    ) -> np.ndarray:
        sr = ctx.sample_rate
        out = np.zeros(ctx.n_samples, np.float32)
        prime = rng.uniform(350, 800)
        beat = rng.uniform(0.5, 2.0, _RATIOS.size)
        freqs = np.concatenate([prime * _RATIOS - beat / 2, prime * _RATIOS + beat / 2])
        decays = np.tile(_DECAYS * rng.uniform(0.7, 1.1), 2)
        length = min(float(_DECAYS.max()) * 1.6, ctx.duration)
        bank = synth.mode_bank(freqs, decays, sr, length)
        voice = pick_voice(ctx.samples, "bell", rng)  # one bell: one recording, one pitch
        for k, s in zip(strikes, strengths, strict=True):
            if voice is not None:
                hit = voice.hit(sr, rng).copy()
            else:
                amps = np.tile(_AMPS * rng.uniform(0.85, 1.15, _RATIOS.size), 2) / 2
                hit = amps.astype(np.float32) @ bank
            synth.place(hit, synth.click(rng, sr, 3000, 0.0015), 0, 1.0)
            synth.place(out, hit, ctx.frame_sample(k), gain=s)
        return out
