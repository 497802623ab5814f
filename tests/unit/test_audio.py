"""core/audio.py: files, resampling, channels, gain/pan/mix, peak and loudness."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from foleystudio.core import audio as A
from foleystudio.errors import AudioFileError, UsageError


def sine(freq: float, seconds: float, rate: int, amplitude: float = 1.0) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_frequency(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * rate / len(x))


# --- files -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "subtype", "tolerance"),
    [
        ("a.wav", "PCM_16", 1.0 / 2**15),
        ("a.wav", "PCM_24", 1.0 / 2**23),
        ("a.wav", "FLOAT", 0.0),
        ("a.flac", "PCM_16", 1.0 / 2**15),
        ("a.flac", "PCM_24", 1.0 / 2**23),
    ],
)
def test_save_load_round_trip(tmp_path: Path, name: str, subtype: str, tolerance: float) -> None:
    rng = np.random.default_rng(0)
    audio = rng.uniform(-0.9, 0.9, (4800, 2)).astype(np.float32)
    path = A.save_audio(tmp_path / name, audio, 48000, subtype=subtype)
    assert sf.info(str(path)).subtype == subtype
    loaded, rate = A.load_audio(path)
    assert rate == 48000 and loaded.dtype == np.float32 and loaded.shape == audio.shape
    assert np.max(np.abs(loaded - audio)) <= tolerance
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temp file left


def test_integer_formats_clip_instead_of_wrapping(tmp_path: Path) -> None:
    loud = np.array([1.5, -2.0, 0.5], np.float32)
    loaded, _ = A.load_audio(A.save_audio(tmp_path / "c.wav", loud, 8000, "PCM_16"), mono=True)
    assert loaded[0] == pytest.approx(1.0, abs=1e-4) and loaded[1] == pytest.approx(-1.0, abs=1e-4)
    floats, _ = A.load_audio(A.save_audio(tmp_path / "f.wav", loud, 8000, "FLOAT"), mono=True)
    np.testing.assert_array_equal(floats, loud)  # float keeps overs


def test_load_mono_and_resample(tmp_path: Path) -> None:
    stereo = np.stack([sine(440, 0.5, 48000, 0.5), np.zeros(24000, np.float32)], axis=1)
    path = A.save_audio(tmp_path / "s.wav", stereo, 48000, "FLOAT")
    mono, rate = A.load_audio(path, sample_rate=16000, mono=True)
    assert rate == 16000 and mono.shape == (8000,)
    assert dominant_frequency(mono, 16000) == pytest.approx(440, abs=2)
    assert A.peak_dbfs(mono) == pytest.approx(A.gain_to_db(0.25), abs=0.05)


def test_save_replaces_atomically_and_keeps_old_file_on_failure(tmp_path: Path, monkeypatch) -> None:
    path = A.save_audio(tmp_path / "x.wav", np.zeros(100, np.float32), 8000)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(AudioFileError, match="No space left"):
        A.save_audio(path, np.ones(100, np.float32) * 0.5, 8000)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["x.wav"]


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("missing.wav", None, "not found"),
        ("empty.wav", b"", "empty"),
        ("text.wav", b"this is not audio at all, just words" * 10, "not a readable audio file"),
        ("truncated.wav", b"RIFF\x24\x00\x00\x00WAVEfmt ", "not a readable audio file"),
    ],
)
def test_bad_files_raise_audio_file_error(
    tmp_path: Path, name: str, content: bytes | None, match: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AudioFileError, match=match) as info:
        A.load_audio(path)
    assert info.value.path == str(path)


def test_zero_length_and_non_finite_files(tmp_path: Path) -> None:
    zero = tmp_path / "zero.wav"
    with sf.SoundFile(str(zero), "w", 48000, 1, "PCM_16") as fh:
        fh.write(np.zeros(0, np.float32))
    with pytest.raises(AudioFileError, match="no samples"):
        A.load_audio(zero)
    nan = tmp_path / "nan.wav"
    sf.write(str(nan), np.array([0.0, np.nan], np.float32), 8000, subtype="FLOAT")
    with pytest.raises(AudioFileError, match="NaN"):
        A.load_audio(nan)
    with pytest.raises(AudioFileError, match="folder"):
        A.load_audio(tmp_path)


def test_save_rejects_bad_requests(tmp_path: Path) -> None:
    ok = np.zeros(10, np.float32)
    with pytest.raises(AudioFileError, match=r"\.mp3"):
        A.save_audio(tmp_path / "a.mp3", ok, 8000)
    with pytest.raises(AudioFileError, match="FLAC cannot"):
        A.save_audio(tmp_path / "a.flac", ok, 8000, "FLOAT")
    with pytest.raises(AudioFileError, match="sample format"):
        A.save_audio(tmp_path / "a.wav", ok, 8000, "PCM_12")
    with pytest.raises(AudioFileError, match="NaN"):
        A.save_audio(tmp_path / "a.wav", np.array([np.nan], np.float32), 8000)
    with pytest.raises(AudioFileError, match="not empty"):
        A.save_audio(tmp_path / "a.wav", np.zeros(0, np.float32), 8000)
    with pytest.raises(UsageError):
        A.save_audio(tmp_path / "a.wav", ok, 0)
    with pytest.raises(AudioFileError, match="cannot write"):
        A.save_audio(tmp_path / "no" / "such" / "dir.wav", ok, 8000)
    assert not list(tmp_path.iterdir())
    # aliases for the subtype names
    assert sf.info(str(A.save_audio(tmp_path / "b.wav", ok, 8000, "24"))).subtype == "PCM_24"


# --- resampling and channels -------------------------------------------------------------
@pytest.mark.parametrize(("src", "dst"), [(48000, 44100), (44100, 48000), (48000, 16000), (16000, 48000)])
def test_resample_length_and_frequency(src: int, dst: int) -> None:
    x = sine(1000, 0.5, src, 0.5)
    y = A.resample(x, src, dst)
    assert y.dtype == np.float32
    assert len(y) == math.ceil(len(x) * dst / src)
    assert dominant_frequency(y, dst) == pytest.approx(1000, abs=dst / len(y))
    # amplitude is kept in the passband (away from the zero-padded edges)
    mid = y[len(y) // 4 : 3 * len(y) // 4]
    assert np.max(np.abs(mid)) == pytest.approx(0.5, abs=0.005)


def test_resample_removes_content_above_the_new_nyquist_and_is_deterministic() -> None:
    x = sine(12000, 0.5, 48000, 0.5)  # above 8 kHz: must not alias into the 16 kHz result
    y = A.resample(x, 48000, 16000)
    assert A.peak_dbfs(y[200:-200]) < -80
    stereo = np.stack([sine(300, 0.2, 48000), sine(500, 0.2, 48000)], axis=1)
    a, b = A.resample(stereo, 48000, 44100), A.resample(stereo, 48000, 44100)
    assert a.shape == (8820, 2)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a[:, 0], A.resample(stereo[:, 0], 48000, 44100), atol=1e-6)
    with pytest.raises(UsageError):
        A.resample(x, 0, 16000)


def test_mono_and_stereo_conversion() -> None:
    stereo = np.array([[1.0, 0.0], [0.5, -0.5]], np.float32)
    np.testing.assert_array_equal(A.to_mono(stereo), [0.5, 0.0])
    np.testing.assert_array_equal(
        A.to_stereo(np.array([0.25, -1.0], np.float32)), [[0.25, 0.25], [-1.0, -1.0]]
    )
    np.testing.assert_array_equal(A.to_stereo(stereo), stereo)
    surround = np.zeros((1, 6), np.float32)
    surround[0] = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0]  # L, C, LFE, Rs
    np.testing.assert_allclose(A.to_stereo(surround), [[1.7071, 1.4142]], atol=1e-4)
    with pytest.raises(UsageError):
        A.to_mono(np.zeros((2, 2, 2)))


# --- gain, pan, mix ----------------------------------------------------------------------
def test_db_gain_conversions() -> None:
    assert A.db_to_gain(0.0) == 1.0
    assert A.db_to_gain(-6.0) == pytest.approx(0.501187, abs=1e-6)
    assert A.db_to_gain(-math.inf) == 0.0
    assert A.gain_to_db(0.0) == -math.inf
    assert A.gain_to_db(A.db_to_gain(-17.5)) == pytest.approx(-17.5)


def test_constant_power_pan_law() -> None:
    left, right = A.pan_gains(0.0)
    assert left == pytest.approx(math.sqrt(0.5)) and right == pytest.approx(math.sqrt(0.5))
    assert A.gain_to_db(left) == pytest.approx(-3.0103, abs=1e-4)
    assert A.pan_gains(-1.0) == pytest.approx((1.0, 0.0))
    assert A.pan_gains(1.0) == pytest.approx((0.0, 1.0))
    for pan in np.linspace(-1, 1, 9):
        left, right = A.pan_gains(float(pan))
        assert left**2 + right**2 == pytest.approx(1.0)
    assert A.pan_gains(0.5)[1] > A.pan_gains(0.5)[0]
    assert A.pan_gains(1.2) == A.pan_gains(1.0)
    with pytest.raises(UsageError):
        A.pan_gains(math.nan)


def test_mix_offsets_gain_pan_and_cropping() -> None:
    ones = np.ones(4, np.float32)
    bus = A.mix_tracks(
        [
            (ones, 2, 0.0, -1.0),  # hard left, samples 2..5
            (ones * 2, -2, A.gain_to_db(0.5), 1.0),  # head cut: only 2 samples remain, at 0..1
            (ones, 8, 0.0, 0.0),  # runs past the end: 8..9 kept
            (ones, 20, 0.0, 0.0),  # wholly outside
        ],
        10,
    )
    assert bus.shape == (10, 2) and bus.dtype == np.float32
    np.testing.assert_allclose(bus[:, 0], [0, 0, 1, 1, 1, 1, 0, 0, 0.70711, 0.70711], atol=1e-5)
    np.testing.assert_allclose(bus[:, 1], [1, 1, 0, 0, 0, 0, 0, 0, 0.70711, 0.70711], atol=1e-5)
    assert A.mix_tracks([], 3).shape == (3, 2)
    with pytest.raises(UsageError):
        A.mix_tracks([(np.zeros((4, 2)), 0, 0.0, 0.0)], 4)


# --- levels ------------------------------------------------------------------------------
def test_peak_dbfs() -> None:
    assert A.peak_dbfs(sine(100, 0.1, 8000, 0.5)) == pytest.approx(-6.0206, abs=0.01)
    assert A.peak_dbfs(np.zeros(10)) == -math.inf
    assert A.peak_dbfs(np.array([[0.1, -1.0]])) == 0.0


def test_k_weighting_matches_the_48k_table_of_bs1770() -> None:
    (b1, a1), (b2, a2) = A.k_weighting(48000)
    np.testing.assert_allclose(b1, [1.53512485958697, -2.69169618940638, 1.19839281085285], atol=1e-12)
    np.testing.assert_allclose(a1, [1.0, -1.69065929318241, 0.73248077421585], atol=1e-12)
    np.testing.assert_allclose(b2, [1.0, -2.0, 1.0])
    np.testing.assert_allclose(a2, [1.0, -1.99004745483398, 0.99007225036621], atol=1e-12)


@pytest.mark.parametrize("rate", [48000, 44100])
def test_loudness_of_reference_sines(rate: int) -> None:
    full = sine(1000, 3.0, rate)
    assert A.loudness_lufs(full, rate) == pytest.approx(-3.01, abs=0.03)  # BS.1770 reference
    assert A.loudness_lufs(full * 0.1, rate) == pytest.approx(-23.01, abs=0.03)
    # the same sine in both channels of stereo is 3 dB louder
    assert A.loudness_lufs(np.stack([full, full], 1), rate) == pytest.approx(0.0, abs=0.03)


def test_loudness_gates() -> None:
    rate = 8000
    tone = sine(1000, 2.0, rate, 0.1)
    alone = A.loudness_lufs(tone, rate)
    # 2 s of tone = 17 whole 400 ms blocks; after it, three blocks straddle the edge with
    # 3/4, 1/2 and 1/4 of the tone's energy; every later block is gated away.
    edge_blocks_db = 10 * math.log10((17 + 0.75 + 0.5 + 0.25) / 20)
    # Absolute gate: 4 s of digital silence (ungated: -4.8 dB) only adds the edge blocks.
    padded = np.concatenate([tone, np.zeros(4 * rate, np.float32)])
    assert A.loudness_lufs(padded, rate) == pytest.approx(alone + edge_blocks_db, abs=0.01)
    # Relative gate: a passage 30 dB down (above the -70 LUFS absolute gate) is dropped too.
    quiet = sine(1000, 4.0, rate, 0.1 * A.db_to_gain(-30))
    assert A.loudness_lufs(np.concatenate([tone, quiet]), rate) == pytest.approx(
        alone + edge_blocks_db, abs=0.01
    )
    louder_mix = np.concatenate([tone, sine(1000, 2.0, rate, 0.05)])
    assert A.loudness_lufs(louder_mix, rate) < -24.0
    assert A.loudness_lufs(np.zeros(rate), rate) == -math.inf
    # a Foley hit shorter than one 400 ms block still gets a value
    assert A.loudness_lufs(tone[:800], rate) == pytest.approx(-23.0, abs=0.3)


def test_normalize_loudness() -> None:
    rate = 16000
    x = sine(1000, 2.0, rate, 0.05)
    y, gain_db = A.normalize_loudness(x, rate, -16.0)
    assert A.loudness_lufs(y, rate) == pytest.approx(-16.0, abs=0.01)
    assert gain_db == pytest.approx(-16.0 - A.loudness_lufs(x, rate))
    silent, gain = A.normalize_loudness(np.zeros(rate, np.float32), rate, -23.0)
    assert gain == 0.0 and not silent.any()
