"""A small bird on a branch, chirping.

Motion: the bird sings in phrases of 1–5 notes; its beak is open from the frame a note
starts for as long as the note lasts (at least one frame), and its head lifts slightly.
Between phrases it sometimes hops along the branch with flapping wings — silent motion,
so that not every movement makes a sound.

Sound: each note is an FM chirp (a glide up, a glide down, or a trill), 2–5 kHz, with a
weak second harmonic; one bird keeps its song's note type and pitch, like a species.
"""

from __future__ import annotations

import numpy as np

from foleystudio.data.foleyworld import synth
from foleystudio.data.foleyworld.categories.base import Category, SourceTrack, events_from_frames
from foleystudio.data.foleyworld.render import Canvas
from foleystudio.data.foleyworld.scene import BoxTrack, SceneContext, Slot

_BRANCH = (0.38, 0.25, 0.13)
_LEAF = (0.2, 0.55, 0.2)
_BEAK = (0.95, 0.55, 0.1)


class Bird(Category):
    name = "bird_chirps"
    settings = ("outdoor", "street", "indoor")

    def make(self, rng: np.random.Generator, ctx: SceneContext, slot: Slot) -> SourceTrack:
        u = slot.unit
        n = ctx.n_frames
        side = 1.0 if rng.random() < 0.5 else -1.0  # branch grows from this side of the slot
        branch_y = rng.uniform(0.3, 0.5)
        root = slot.x0 if side > 0 else slot.x1
        tip = slot.centre + side * 0.3 * u
        body_rx, body_ry, head_r = 0.13 * u, 0.09 * u, 0.068 * u
        facing = 1.0 if rng.random() < 0.5 else -1.0
        x_lo, x_hi = min(root, tip) + 0.15 * u, max(root, tip) - 0.05 * u
        x_lo, x_hi = min(x_lo, x_hi), max(x_lo, x_hi)

        # Song: phrases of notes; per bird one note type and pitch.
        note_type = ["up", "down", "trill"][int(rng.integers(3))]
        base_f = rng.uniform(2200, 4200)
        onsets: list[int] = []
        durations: list[float] = []
        hops: list[tuple[int, int, float, float]] = []  # (start, frames, x_from, x_to)
        x_now = rng.uniform(x_lo, x_hi)
        x_track = np.full(n, x_now)
        k = ctx.frames_for(rng.uniform(0.1, 1.2))
        while k < n:
            gap = ctx.frames_for(rng.uniform(3, 6) / 24.0)
            for _ in range(int(rng.integers(1, 6))):
                if k >= n:
                    break
                if k >= 1:
                    onsets.append(k)
                    durations.append(float(rng.uniform(0.04, min(0.12, 0.7 * gap / ctx.fps))))
                k += gap
            pause = ctx.frames_for(rng.uniform(0.6, 2.0))
            if rng.random() < 0.35 and k + 8 < n:
                x_to = float(rng.uniform(x_lo, x_hi))
                hops.append((k + 2, 6, x_now, x_to))
                x_now = x_to
            k += pause
        for start, frames, x_from, x_to in hops:
            for j in range(frames):
                if start + j < n:
                    x_track[start + j] = x_from + (x_to - x_from) * (j + 1) / frames
            x_track[start + frames :] = x_to
        hop_lift = np.zeros(n)
        flap = np.zeros(n)
        for start, frames, _, _ in hops:
            for j in range(frames):
                if start + j < n:
                    hop_lift[start + j] = 0.08 * u * np.sin(np.pi * (j + 1) / (frames + 1))
                    flap[start + j] = 1.0 if j % 2 == 0 else 0.3
        beak = np.zeros(n)
        for k0, dur in zip(onsets, durations, strict=True):
            for j in range(max(1, int(round(dur * ctx.fps)))):
                if k0 + j < n:
                    beak[k0 + j] = max(beak[k0 + j], 0.55 if j == 0 else 0.4)
        strengths = rng.uniform(0.6, 1.0, len(onsets))
        color_name, color = ctx.look.pick("bird", rng)
        wing_color = tuple(0.7 * c for c in color)
        body_y = branch_y - 0.006 - 0.85 * body_ry

        boxes = BoxTrack()
        for k in range(n):
            cx, cy = x_track[k], body_y - hop_lift[k]
            boxes.add(
                cx - 1.6 * body_rx,
                cy - body_ry - 1.6 * head_r - 0.3 * flap[k] * body_ry,
                cx + 1.6 * body_rx,
                cy + body_ry,
            )

        leaves = [
            (tip - side * f * 0.25 * u, branch_y + (-0.02 if i % 2 else 0.02) * u)
            for i, f in enumerate(rng.uniform(0.0, 1.0, 4))
        ]

        def draw(canvas: Canvas, k: int) -> None:
            canvas.capsule(root, branch_y + 0.01, tip, branch_y, 0.012 * u + 0.004, _BRANCH)
            for lx, ly in leaves:
                canvas.ellipse(lx, ly, 0.05 * u, 0.022 * u, _LEAF)
            cx, cy, f = x_track[k], body_y - hop_lift[k], facing
            # tail, body, wing, head, eye, beak
            canvas.polygon(
                [
                    (cx - f * 0.6 * body_rx, cy - 0.2 * body_ry),
                    (cx - f * 1.6 * body_rx, cy + 0.6 * body_ry),
                    (cx - f * 1.3 * body_rx, cy + 0.9 * body_ry),
                ],
                wing_color,
            )
            canvas.ellipse(cx, cy, body_rx, body_ry, color)
            up = flap[k]
            canvas.ellipse(
                cx - f * 0.15 * body_rx,
                cy - 0.1 * body_ry - up * 0.6 * body_ry,
                0.6 * body_rx,
                (0.45 + 0.4 * up) * body_ry,
                wing_color,
            )
            hx, hy = cx + f * 0.75 * body_rx, cy - 0.8 * body_ry - 0.25 * beak[k] * head_r
            canvas.circle(hx, hy, head_r, color)
            canvas.circle(hx + f * 0.35 * head_r, hy - 0.25 * head_r, 0.22 * head_r, (0.05, 0.05, 0.05))
            bx = hx + f * 0.85 * head_r
            opening = beak[k] * head_r
            canvas.polygon(
                [
                    (bx, hy - 0.35 * head_r),
                    (bx, hy + 0.05 * head_r),
                    (bx + f * 0.9 * head_r, hy - 0.15 * head_r - 0.8 * opening),
                ],
                _BEAK,
            )
            canvas.polygon(
                [
                    (bx, hy + 0.05 * head_r),
                    (bx, hy + 0.35 * head_r),
                    (bx + f * 0.8 * head_r, hy + 0.15 * head_r + 0.8 * opening),
                ],
                _BEAK,
            )

        stem = self._sound(rng, ctx, onsets, durations, strengths, note_type, base_f)
        details = {"color": color_name, "note": note_type, "pitch_hz": base_f}
        return SourceTrack(
            self.name,
            events_from_frames(onsets, strengths, "chirp"),
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
        onsets: list[int],
        durations: list[float],
        strengths: np.ndarray,
        note_type: str,
        base_f: float,
    ) -> np.ndarray:
        sr = ctx.sample_rate
        out = np.zeros(ctx.n_samples, np.float32)
        span = rng.uniform(0.08, 0.3) * base_f
        trill_rate = rng.uniform(25, 40)
        h2 = rng.uniform(0.05, 0.3)
        for k, dur, s in zip(onsets, durations, strengths, strict=True):
            f = base_f * rng.uniform(0.95, 1.05)
            if note_type == "up":
                note = synth.fm_chirp(sr, dur, f - span / 2, f + span / 2, harmonics=(1.0, h2))
            elif note_type == "down":
                note = synth.fm_chirp(sr, dur, f + span / 2, f - span / 2, harmonics=(1.0, h2))
            else:
                note = synth.fm_chirp(sr, dur, f, f * 0.95, trill_rate, 80.0, harmonics=(1.0, h2))
            synth.place(out, note, ctx.frame_sample(k), gain=s)
        return out
