"""Stems: sample-exact placement at every rate, exact lengths, gains, BWF metadata."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import wavinfo

from foleystudio.export import ExportDestinations, ExportOptions, export_project
from tests.unit.test_export_support import add_clip, click, make_project, write_render

RATES = (44100, 48000, 96000)


@pytest.mark.parametrize("rate", RATES)
def test_click_lands_at_round_t_times_sr_in_its_stem(tmp_path: Path, rate: int) -> None:
    # Render at the export rate: no resampling, so the click must be exactly one sample.
    render = write_render(tmp_path / "renders", "click.wav", click(rate, 1.0, 0.5), rate)
    project = make_project(duration=3.0)
    position = 1.2000167  # between samples at every rate, nearer the next one: round != floor
    add_clip(project, "Footsteps", render, position=position, duration=0.8, offset=0.25)
    result = export_project(
        project,
        ExportDestinations(stems=tmp_path / "stems"),
        ExportOptions(sample_rate=rate),
        bundle_dir=tmp_path,
    )
    stem, sr = sf.read(str(result.stems[0]), dtype="float32")
    assert sr == rate
    expected = round((position + 0.5 - 0.25) * rate)  # click at 0.5 s in the render, clip reads from 0.25 s
    assert round(position * rate) + round(0.25 * rate) == expected  # the arithmetic the test relies on
    assert np.flatnonzero(stem).tolist() == [expected]
    assert stem[expected] == pytest.approx(0.5, abs=2**-22)


@pytest.mark.parametrize("rate", (44100, 96000))
def test_resampled_click_peaks_at_its_sample(tmp_path: Path, rate: int) -> None:
    # A 48 kHz render exported at another rate: the band-limited click peaks where it belongs.
    render = write_render(tmp_path / "renders", "click.wav", click(48000, 1.0, 0.5), 48000)
    project = make_project(duration=2.0)
    add_clip(project, "Props", render, position=0.3, duration=1.0)
    result = export_project(
        project,
        ExportDestinations(stems=tmp_path / "stems"),
        ExportOptions(sample_rate=rate),
        bundle_dir=tmp_path,
    )
    stem, _ = sf.read(str(result.stems[0]), dtype="float32")
    assert int(np.argmax(np.abs(stem))) == round(0.8 * rate)


def test_every_stem_has_the_project_length(tmp_path: Path) -> None:
    sr = 48000
    render = write_render(tmp_path / "renders", "r.wav", np.full(sr, 0.1, np.float32), sr)
    project = make_project(duration=2.5)
    add_clip(project, "Feet", render, position=0.1, duration=0.5)
    add_clip(project, "Cloth", render, position=2.2, duration=0.9)  # ends after the video: 3.1 s
    add_clip(project, "Props", render, position=1.0, duration=0.25)
    project.tracks.append(type(project.tracks[0])(name="Empty"))  # no clips: no stem
    result = export_project(
        project,
        ExportDestinations(stems=tmp_path / "stems"),
        ExportOptions(sample_rate=sr),
        bundle_dir=tmp_path,
    )
    assert len(result.stems) == 3
    assert result.length_samples == round(3.1 * sr)
    for path in result.stems:
        info = sf.info(str(path))
        assert (info.frames, info.channels, info.samplerate, info.subtype) == (
            round(3.1 * sr),
            1,
            sr,
            "PCM_24",
        )


def test_clip_and_track_gain_are_applied_pan_is_not(tmp_path: Path) -> None:
    sr = 48000
    render = write_render(tmp_path / "renders", "dc.wav", np.full(sr, 0.25, np.float32), sr)
    project = make_project(duration=1.0)
    add_clip(project, "Props", render, position=0.0, duration=0.5, gain_db=-6.0, pan=-1.0)
    project.tracks[0].gain_db = 6.0
    result = export_project(
        project, ExportDestinations(stems=tmp_path / "stems"), ExportOptions(bits=32), bundle_dir=tmp_path
    )
    stem, _ = sf.read(str(result.stems[0]), dtype="float32")
    assert stem[: sr // 2] == pytest.approx(np.full(sr // 2, 0.25), abs=1e-6)  # -6 + 6 dB, no pan law
    assert not stem[sr // 2 :].any()


def test_stems_are_mono_and_exported_for_muted_tracks(tmp_path: Path) -> None:
    sr = 48000
    stereo = np.stack([np.full(sr, 0.2), np.full(sr, 0.4)], axis=1).astype(np.float32)
    render = write_render(tmp_path / "renders", "st.wav", stereo, sr)
    project = make_project(duration=1.0)
    add_clip(project, "Props", render, position=0.0, duration=1.0, mute=True)
    result = export_project(
        project, ExportDestinations(stems=tmp_path / "stems"), ExportOptions(bits=32), bundle_dir=tmp_path
    )
    stem, _ = sf.read(str(result.stems[0]), dtype="float32")
    assert stem.ndim == 1 and stem[100] == pytest.approx(0.3)  # channels averaged


def test_render_shorter_than_clip_is_padded_with_silence(tmp_path: Path) -> None:
    sr = 48000
    render = write_render(tmp_path / "renders", "short.wav", np.full(sr // 10, 0.5, np.float32), sr)
    project = make_project(duration=1.0)
    add_clip(project, "Props", render, position=0.5, duration=0.4)
    result = export_project(
        project, ExportDestinations(stems=tmp_path / "stems"), ExportOptions(bits=32), bundle_dir=tmp_path
    )
    stem, _ = sf.read(str(result.stems[0]), dtype="float32")
    assert np.flatnonzero(stem).tolist() == list(range(round(0.5 * sr), round(0.6 * sr)))


@pytest.mark.parametrize(
    ("fps", "timecode", "expected"),
    [
        (Fraction(24), "01:00:00:00", 172_800_000),  # 3600 s × 48 000
        (Fraction(24000, 1001), "01:00:00:00", 172_972_800),  # 86 400 frames × 2002 samples
        (Fraction(30000, 1001), "01:00:00:00", 172_972_800),  # 108 000 frames × 1601.6 samples (NDF)
        (Fraction(30000, 1001), "01:00:00;00", 172_799_827),  # 107 892 frames (DF) × 1601.6, rounded
        (Fraction(25), "10:00:00:12", 1_728_023_040),  # (36 000 s + 12/25 s) × 48 000
    ],
)
def test_bext_time_reference_read_by_wavinfo(
    tmp_path: Path, fps: Fraction, timecode: str, expected: int
) -> None:
    render = write_render(tmp_path / "renders", "c.wav", click(48000, 0.5, 0.1), 48000)
    project = make_project(name="Reel 3", duration=1.0, fps=fps, start_timecode=timecode)
    add_clip(project, "Feet", render, position=0.2, duration=0.3)
    result = export_project(
        project, ExportDestinations(stems=tmp_path / "stems", mix=tmp_path / "mix.wav"), bundle_dir=tmp_path
    )
    assert result.start_samples == expected
    for path in (*result.stems, result.mix):
        info = wavinfo.WavInfoReader(str(path))
        assert info.bext is not None and info.bext.time_reference == expected
        assert info.bext.version == 2 and info.bext.originator == "FoleyStudio"
        assert info.bext.coding_history.startswith("A=PCM,F=48000,W=24,M=")
        assert info.ixml is not None and info.ixml.project == "Reel 3"
        speed = info.ixml.raw_xml.find("SPEED")
        assert int(speed.findtext("TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO")) == expected
        assert speed.findtext("TIMECODE_RATE") == f"{fps.numerator}/{fps.denominator}"
        assert speed.findtext("TIMECODE_FLAG") == ("DF" if ";" in timecode else "NDF")
    stem_info = wavinfo.WavInfoReader(str(result.stems[0]))
    assert [t.name for t in stem_info.ixml.track_list] == ["Feet"]
    assert stem_info.bext.loudness_value == pytest.approx(327.67)  # 7FFFh: not measured for stems


@pytest.mark.parametrize(("bits", "subtype"), [(16, "PCM_16"), (24, "PCM_24"), (32, "FLOAT")])
def test_bit_depths_read_back_by_soundfile_and_wavinfo(tmp_path: Path, bits: int, subtype: str) -> None:
    sr = 44100
    rng = np.random.default_rng(7)
    render = write_render(tmp_path / "renders", "n.wav", rng.uniform(-0.5, 0.5, sr).astype(np.float32), sr)
    project = make_project(duration=1.0, start_timecode="00:00:00:00")
    add_clip(project, "Props", render, position=0.0, duration=1.0)
    result = export_project(
        project,
        ExportDestinations(stems=tmp_path / "stems"),
        ExportOptions(sample_rate=sr, bits=bits),
        bundle_dir=tmp_path,
    )
    stem, _ = sf.read(str(result.stems[0]), dtype="float32")
    source, _ = sf.read(render, dtype="float32")
    assert sf.info(str(result.stems[0])).subtype == subtype
    assert np.max(np.abs(stem - source)) <= (0 if bits == 32 else 2.0 ** -(bits - 1))
    info = wavinfo.WavInfoReader(str(result.stems[0]))
    assert (info.fmt.bits_per_sample, info.fmt.sample_rate, info.data.frame_count) == (bits, sr, sr)


def test_odd_sized_chunks_are_padded(tmp_path: Path) -> None:
    # 24-bit mono with an odd frame count gives an odd data chunk; the RIFF size must count the pad.
    sr = 48000
    render = write_render(tmp_path / "renders", "c.wav", click(sr, 0.5, 0.1), sr)
    project = make_project(duration=1001 / sr, start_timecode="00:00:00:00")
    add_clip(project, "Props", render, position=0.0, duration=1001 / sr)
    result = export_project(project, ExportDestinations(stems=tmp_path / "stems"), bundle_dir=tmp_path)
    data = result.stems[0].read_bytes()
    assert int.from_bytes(data[4:8], "little") == len(data) - 8
    assert len(data) % 2 == 0 and sf.info(str(result.stems[0])).frames == 1001


def test_per_clip_files_are_time_stamped_at_their_position(tmp_path: Path) -> None:
    sr = 48000
    render = write_render(tmp_path / "renders", "c.wav", click(sr, 1.0, 0.0), sr)
    project = make_project(duration=3.0, start_timecode="01:00:00:00")
    add_clip(project, "Feet", render, position=2.0, duration=0.5, label="heel scuff")
    add_clip(project, "Feet", render, position=0.5, duration=0.25, label="step")
    result = export_project(
        project,
        ExportDestinations(stems=tmp_path / "stems"),
        ExportOptions(per_clip=True),
        bundle_dir=tmp_path,
    )
    names = [p.name for p in result.stems]
    assert names == ["Scene-12_01_FEET_001_step.wav", "Scene-12_01_FEET_002_heel-scuff.wav"]
    for path, position, seconds in zip(result.stems, (0.5, 2.0), (0.25, 0.5), strict=True):
        info = wavinfo.WavInfoReader(str(path))
        assert info.bext.time_reference == 172_800_000 + round(position * sr)
        assert info.data.frame_count == round(seconds * sr)
        audio, _ = sf.read(str(path), dtype="float32")
        assert audio[0] == pytest.approx(0.5, abs=1e-6)
