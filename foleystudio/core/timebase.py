"""Frame rates, timecode and sample positions.

Times in the project are seconds (float). Frame rates are exact rationals (23.976 is
24000/1001), so conversions between timecode, frames and samples are exact: a timecode is a
frame count, and its sample position is ``frames * sample_rate / fps`` rounded to the nearest
sample. Drop-frame timecode (``;`` separator) is supported for 29.97 and 59.94.
"""

from __future__ import annotations

from fractions import Fraction

from foleystudio.errors import UsageError

#: Common NTSC rates written as decimals, mapped to their exact values.
_NTSC = {
    "23.976": Fraction(24000, 1001),
    "23.98": Fraction(24000, 1001),
    "29.97": Fraction(30000, 1001),
    "47.952": Fraction(48000, 1001),
    "59.94": Fraction(60000, 1001),
    "119.88": Fraction(120000, 1001),
}


def parse_rate(rate: str | float | int | Fraction) -> Fraction:
    """An exact frame rate from ``24``, ``"29.97"``, ``"30000/1001"`` or a Fraction."""
    if isinstance(rate, Fraction):
        value = rate
    elif isinstance(rate, int):
        value = Fraction(rate)
    else:
        text = str(rate).strip()
        if text in _NTSC:
            return _NTSC[text]
        try:
            value = Fraction(text) if "/" in text else Fraction(text).limit_denominator(1001)
        except (ValueError, ZeroDivisionError) as exc:
            raise UsageError(f"not a frame rate: {rate!r}") from exc
        # 29.97 given as a float or a rounded decimal means the exact NTSC rate.
        for exact in _NTSC.values():
            if abs(float(value) - float(exact)) < 5e-3:
                return exact
    if value <= 0:
        raise UsageError(f"frame rate must be positive, got {rate!r}")
    return value


def nominal_fps(fps: Fraction) -> int:
    """The integer frame count per timecode second (30 for 29.97, 24 for 23.976)."""
    return round(fps)


def is_drop_frame_rate(fps: Fraction) -> bool:
    """Whether drop-frame timecode exists for this rate (29.97, 59.94)."""
    return fps.denominator == 1001 and nominal_fps(fps) in (30, 60)


def uses_drop_frame(timecode: str, fps: Fraction) -> bool:
    """Whether ``timecode`` is drop frame: written with ``;`` before FF, at 29.97 or 59.94 fps."""
    return ";" in timecode and is_drop_frame_rate(fps)


def timecode_to_frames(timecode: str, fps: Fraction) -> int:
    """Frame count since 00:00:00:00 of ``HH:MM:SS:FF`` (``;`` before FF = drop frame)."""
    text = timecode.strip()
    drop = ";" in text
    parts = text.replace(";", ":").split(":")
    if len(parts) != 4 or not all(p.isdigit() for p in parts):
        raise UsageError(f"not a timecode (HH:MM:SS:FF): {timecode!r}")
    hh, mm, ss, ff = (int(p) for p in parts)
    base = nominal_fps(fps)
    if mm >= 60 or ss >= 60 or ff >= base:
        raise UsageError(f"timecode field out of range at {float(fps):g} fps: {timecode!r}")
    frames = ((hh * 60 + mm) * 60 + ss) * base + ff
    if drop:
        if not is_drop_frame_rate(fps):
            raise UsageError(f"drop-frame timecode needs 29.97 or 59.94 fps: {timecode!r}")
        dropped = 2 * (base // 30)
        total_minutes = hh * 60 + mm
        frames -= dropped * (total_minutes - total_minutes // 10)
    return frames


def frames_to_timecode(frames: int, fps: Fraction, drop_frame: bool = False) -> str:
    """``HH:MM:SS:FF`` (or ``HH:MM:SS;FF`` for drop frame) of a frame count."""
    if frames < 0:
        raise UsageError(f"negative frame count: {frames}")
    base = nominal_fps(fps)
    if drop_frame:
        if not is_drop_frame_rate(fps):
            raise UsageError("drop-frame timecode needs 29.97 or 59.94 fps")
        dropped = 2 * (base // 30)
        per_10min = base * 600 - dropped * 9
        per_min = base * 60 - dropped
        tens, rest = divmod(frames, per_10min)
        if rest > dropped:
            frames += dropped * 9 * tens + dropped * ((rest - dropped) // per_min)
        else:
            frames += dropped * 9 * tens
    ff = frames % base
    total_seconds = frames // base
    ss = total_seconds % 60
    mm = (total_seconds // 60) % 60
    hh = total_seconds // 3600
    sep = ";" if drop_frame else ":"
    return f"{hh:02d}:{mm:02d}:{ss:02d}{sep}{ff:02d}"


def frames_to_samples(frames: int, fps: Fraction, sample_rate: int) -> int:
    """Sample position of a frame boundary: ``round(frames * sample_rate / fps)``, exact."""
    return round(Fraction(frames) * sample_rate / fps)


def timecode_to_samples(timecode: str, fps: Fraction, sample_rate: int) -> int:
    """Samples since midnight of a timecode (BWF ``TimeReference``)."""
    return frames_to_samples(timecode_to_frames(timecode, fps), fps, sample_rate)


def seconds_to_samples(seconds: float, sample_rate: int) -> int:
    """Nearest sample index of a time in seconds: ``round(seconds * sample_rate)``."""
    return round(seconds * sample_rate)


def seconds_to_frames(seconds: float, fps: Fraction) -> int:
    """Index of the frame containing ``seconds`` (floor, with a 1e-6 frame tolerance; ≥ 0)."""
    frames = int(Fraction(seconds).limit_denominator(10**9) * fps + Fraction(1, 10**6))
    return max(frames, 0)


def seconds_to_timecode(seconds: float, fps: Fraction, drop_frame: bool = False) -> str:
    """Timecode of the frame containing ``seconds`` (floor, with a 1e-6 frame tolerance)."""
    return frames_to_timecode(seconds_to_frames(seconds, fps), fps, drop_frame)


def timecode_at(seconds: float, start_timecode: str, fps: Fraction) -> str:
    """Source timecode of the frame at ``seconds`` into a video starting at ``start_timecode``.

    Drop frame when the start timecode is (see :func:`uses_drop_frame`); times before 0 s
    give the start timecode. Raises :class:`UsageError` for a malformed start timecode.
    """
    origin = timecode_to_frames(start_timecode, fps)
    drop = uses_drop_frame(start_timecode, fps)
    return frames_to_timecode(origin + seconds_to_frames(seconds, fps), fps, drop)
