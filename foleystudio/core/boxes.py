"""Object boxes and their keyframes.

Boxes are in normalised frame coordinates: ``x, y`` the top-left corner, ``w, h`` the size,
all in [0, 1] of the frame's width/height, origin top-left. Between keyframes a box is
interpolated linearly; before the first and after the last keyframe it holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from foleystudio.errors import UsageError


@dataclass(frozen=True)
class Box:
    """A rectangle in normalised frame coordinates (may extend past the frame)."""

    x: float
    y: float
    w: float
    h: float

    def __post_init__(self) -> None:
        if not (self.w > 0 and self.h > 0):
            raise UsageError(f"box width and height must be positive, got {self.w}x{self.h}")

    def clipped(self) -> Box | None:
        """The part inside the frame, or None when nothing of it is inside."""
        x0, y0 = max(self.x, 0.0), max(self.y, 0.0)
        x1, y1 = min(self.x + self.w, 1.0), min(self.y + self.h, 1.0)
        if x1 <= x0 or y1 <= y0:
            return None
        return Box(x0, y0, x1 - x0, y1 - y0)

    def to_pixels(self, width: int, height: int) -> tuple[int, int, int, int]:
        """``(left, top, right, bottom)`` pixel bounds inside a frame, at least 1 px each way."""
        box = self.clipped() or Box(
            min(max(self.x, 0.0), 1.0 - 1e-6), min(max(self.y, 0.0), 1.0 - 1e-6), 1e-6, 1e-6
        )
        left = min(int(box.x * width), width - 1)
        top = min(int(box.y * height), height - 1)
        right = max(min(round((box.x + box.w) * width), width), left + 1)
        bottom = max(min(round((box.y + box.h) * height), height), top + 1)
        return left, top, right, bottom


@dataclass(frozen=True)
class BoxKeyframe:
    """A box set at ``time`` seconds (video time)."""

    time: float
    box: Box


def box_at(keyframes: tuple[BoxKeyframe, ...] | list[BoxKeyframe], time: float) -> Box:
    """The box at ``time``: linear between keyframes, held outside them."""
    if not keyframes:
        raise UsageError("an object source needs at least one box keyframe")
    keys = sorted(keyframes, key=lambda k: k.time)
    if time <= keys[0].time:
        return keys[0].box
    if time >= keys[-1].time:
        return keys[-1].box
    for a, b in zip(keys, keys[1:], strict=False):
        if a.time <= time <= b.time:
            span = b.time - a.time
            u = 0.0 if span <= 0 else (time - a.time) / span
            return Box(
                a.box.x + u * (b.box.x - a.box.x),
                a.box.y + u * (b.box.y - a.box.y),
                a.box.w + u * (b.box.w - a.box.w),
                a.box.h + u * (b.box.h - a.box.h),
            )
    return keys[-1].box  # unreachable: the loop covers [first, last]
