"""The BWF writer on its own, and the Foley naming presets."""

from __future__ import annotations

import json
import struct
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import wavinfo

from foleystudio.errors import ExportError, UsageError
from foleystudio.export import FOLEY_PRESET, PLAIN_PRESET, NamingPreset, NamingRule
from foleystudio.export.bwf import BextInfo, IXMLInfo, bext_payload, write_bwf
from foleystudio.export.naming import sanitize_component


def chunks(data: bytes) -> list[tuple[bytes, int]]:
    """(id, size) of the top-level chunks of a RIFF/WAVE file, walking the pad bytes."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    found, pos = [], 12
    while pos < len(data):
        ident, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        found.append((ident, size))
        pos += 8 + size + (size & 1)
    assert pos == len(data)
    return found


def test_chunk_layout_and_sizes(tmp_path: Path) -> None:
    audio = np.zeros((7, 2), np.float32)
    info = BextInfo(description="x", time_reference=5, coding_history="A=PCM,F=48000,W=32,M=stereo,T=t\r\n")
    ixml = IXMLInfo("P", ("L", "R"), Fraction(25), False, 48000, 32, 5)
    path = write_bwf(tmp_path / "a.wav", audio, 48000, 32, info, ixml)
    data = path.read_bytes()
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8
    ids = [ident for ident, _ in chunks(data)]
    assert ids == [b"fmt ", b"fact", b"bext", b"iXML", b"data"]
    sizes = dict(chunks(data))
    assert sizes[b"fmt "] == 18 and sizes[b"data"] == 7 * 2 * 4
    assert sizes[b"bext"] == 602 + len(info.coding_history)
    assert struct.unpack("<I", data[data.index(b"fact") + 8 :][:4])[0] == 7  # fact: frame count


def test_time_reference_above_32_bits_and_loudness_words(tmp_path: Path) -> None:
    reference = 5 * 2**32 + 123  # ~ 5 days at 48 kHz: needs the high word
    info = BextInfo(time_reference=reference, loudness_value=-23.456, max_true_peak_level=-1.0)
    path = write_bwf(tmp_path / "a.wav", np.zeros(3, np.float32), 48000, 24, info)
    bext = wavinfo.WavInfoReader(str(path)).bext
    assert bext.time_reference == reference
    assert bext.loudness_value == pytest.approx(-23.46)  # round(100 x LUFS)
    assert bext.max_true_peak == pytest.approx(-1.0)
    assert bext.loudness_range == pytest.approx(327.67)  # 7FFFh = not used (EBU Tech 3285 v2)
    assert len(bext_payload(info)) == 602


def test_integer_formats_clip_instead_of_wrapping(tmp_path: Path) -> None:
    audio = np.array([1.5, -1.5, 1.0, -1.0, 0.5], np.float32)
    for bits in (16, 24):
        path = write_bwf(tmp_path / f"c{bits}.wav", audio, 48000, bits, BextInfo())
        back, _ = sf.read(str(path), dtype="float64")
        top = 1 - 2.0 ** -(bits - 1)
        assert back.tolist() == [top, -1.0, top, -1.0, 0.5]


def test_too_long_for_riff_is_refused_before_writing(tmp_path: Path) -> None:
    huge = np.broadcast_to(np.zeros(1, np.float32), (600_000_000, 2))  # 4.8 GB as float: no memory used
    with pytest.raises(ExportError, match="too long"):
        write_bwf(tmp_path / "big.wav", huge, 48000, 32, BextInfo())
    assert list(tmp_path.iterdir()) == []


def test_unsupported_bits(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="bit depth"):
        write_bwf(tmp_path / "a.wav", np.zeros(3, np.float32), 48000, 8, BextInfo())


# --- naming ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("track", "expected"),
    [
        ("Footsteps John", "Reel-3_04_FEET_Footsteps-John.wav"),
        ("Jacket rustle", "Reel-3_04_CLOTH_Jacket-rustle.wav"),
        ("Keys & cup", "Reel-3_04_PROPS_Keys-cup.wav"),
        ("FEET", "Reel-3_04_FEET.wav"),
        ("Café / à côté", "Reel-3_04_PROPS_Cafe-a-cote.wav"),
    ],
)
def test_foley_preset_names(track: str, expected: str) -> None:
    assert FOLEY_PRESET.stem_name("Reel 3", 4, track) == expected


def test_plain_preset_and_clip_names() -> None:
    assert PLAIN_PRESET.stem_name("Reel 3", 12, "Footsteps") == "Reel-3_12_Footsteps.wav"
    assert (
        FOLEY_PRESET.clip_name("Reel 3", 1, "Feet", 7, "heel: scuff?") == "Reel-3_01_FEET_007_heel-scuff.wav"
    )
    assert FOLEY_PRESET.clip_name("R", 1, "Props", 2, "x" * 200).count("x") == 40


def test_user_preset_round_trips_through_json() -> None:
    preset = NamingPreset(
        name="Studio B",
        template="{nn}-{category}-{track}",
        rules=(NamingRule("FS", ("footsteps",)), NamingRule("HANDS", ("keys", "cup"))),
        default_category="MISC",
    )
    again = NamingPreset.from_dict(json.loads(json.dumps(preset.to_dict())))
    assert again == preset
    assert again.stem_name("Film", 3, "Keys") == "03-HANDS-Keys.wav"
    assert again.stem_name("Film", 3, "Door") == "03-MISC-Door.wav"


def test_bad_presets_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="unknown field"):
        NamingPreset(template="{project}_{reel}")
    with pytest.raises(UsageError, match="malformed"):
        NamingPreset.from_dict({"rules": [{"category": "X"}]})


def test_sanitising() -> None:
    assert sanitize_component('  a/b\\c:d*e?f"g<h>i|j  ') == "a-b-c-d-e-f-g-h-i-j"
    assert sanitize_component("....") == ""
    assert FOLEY_PRESET.stem_name("", 1, "") == "01_PROPS.wav"
    assert NamingPreset(template="{track}").stem_name("x", 1, "con") == "_con.wav"  # reserved on Windows
