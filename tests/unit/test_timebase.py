"""Timecode helpers of core/timebase: frame of a time, drop-frame detection, source timecode."""

from __future__ import annotations

from fractions import Fraction

import pytest

from foleystudio.core.timebase import (
    parse_rate,
    seconds_to_frames,
    seconds_to_timecode,
    timecode_at,
    uses_drop_frame,
)
from foleystudio.errors import UsageError

NTSC = Fraction(30000, 1001)


def test_seconds_to_frames_floors_with_a_tolerance_and_never_goes_negative() -> None:
    assert seconds_to_frames(1.0, Fraction(24)) == 24
    assert seconds_to_frames(1.0 - 1e-9, Fraction(24)) == 24  # float noise below a boundary
    assert seconds_to_frames(1.0 - 0.01, Fraction(24)) == 23
    assert seconds_to_frames(1001 / 30000 * 7, NTSC) == 7
    assert seconds_to_frames(-3.0, Fraction(24)) == 0


def test_uses_drop_frame_needs_the_separator_and_a_drop_frame_rate() -> None:
    assert uses_drop_frame("01:00:00;00", NTSC)
    assert uses_drop_frame("01:00:00;00", parse_rate("59.94"))
    assert not uses_drop_frame("01:00:00:00", NTSC)
    assert not uses_drop_frame("01:00:00;00", Fraction(25))
    assert not uses_drop_frame("01:00:00;00", parse_rate("23.976"))


def test_timecode_at_adds_the_start_timecode() -> None:
    assert timecode_at(0.0, "10:00:00:00", Fraction(25)) == "10:00:00:00"
    assert timecode_at(61.5, "10:00:00:00", Fraction(25)) == "10:01:01:12"
    assert timecode_at(-1.0, "01:02:03:04", Fraction(24)) == "01:02:03:04"
    # No start timecode is the plain timecode of the time.
    assert timecode_at(3599.99, "00:00:00:00", Fraction(24)) == seconds_to_timecode(3599.99, Fraction(24))


def test_timecode_at_keeps_drop_frame_across_the_minute() -> None:
    # 29.97 drop frame skips ;00 and ;01 at each minute except every tenth.
    one_frame = 1001 / 30000
    start = "00:00:59;29"
    assert timecode_at(0.0, start, NTSC) == "00:00:59;29"
    assert timecode_at(one_frame, start, NTSC) == "00:01:00;02"
    assert timecode_at(one_frame, "00:00:59:29", NTSC) == "00:01:00:00"  # non-drop skips nothing
    assert timecode_at(one_frame, "00:09:59;29", NTSC) == "00:10:00;00"


def test_timecode_at_rejects_a_malformed_start() -> None:
    with pytest.raises(UsageError, match="timecode"):
        timecode_at(1.0, "not a timecode", Fraction(24))
    with pytest.raises(UsageError, match="drop-frame"):
        timecode_at(1.0, "00:00:00;00", Fraction(25))
