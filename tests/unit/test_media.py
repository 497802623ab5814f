"""core/media.py on files made here with PyAV: probe, seeking, streaming, audio, remux, errors."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from foleystudio.core.media import MediaInfo, VideoFile, probe, read_audio, remux_with_audio
from foleystudio.core.videowriter import write_video
from foleystudio.errors import MediaError, UsageError
from tests.conftest import moving_square_frames

SR = 48000


def square_index(rgb: np.ndarray, step: int = 3) -> int:
    """Frame index encoded by the moving square: its left edge is at x = 3 * i."""
    row = rgb[rgb.shape[0] // 2].astype(np.float32).mean(axis=1)
    columns = np.nonzero(row > 128)[0]
    assert len(columns), "no square in the frame"
    return round(columns[0] / step)


def video_packets(path: Path) -> list[tuple[bytes, float, bool]]:
    """(bytes, presentation time in s, keyframe) of every video packet, in file order."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [
            (bytes(p), float(p.pts * p.time_base), p.is_keyframe) for p in container.demux(stream) if p.size
        ]


# ------------------------------------------------------------------------------------ probe


def test_probe_constant_rate_clip(make_video) -> None:
    path = make_video("cfr.mp4", seconds=1.0, fps=24)
    info = probe(path)
    assert isinstance(info, MediaInfo)
    assert info.has_video and info.has_audio
    assert info.fps == Fraction(24) and not info.is_vfr
    assert info.frame_count == 24
    assert info.duration == pytest.approx(1.0, abs=1e-3)
    assert (info.width, info.height) == (96, 64) == (info.coded_width, info.coded_height)
    assert info.rotation == 0
    assert (info.codec, info.pix_fmt) == ("h264", "yuv420p")
    assert (info.sample_rate, info.channels, info.audio_codec) == (SR, 1, "aac")
    assert info.start_time == 0.0 and info.start_timecode == "00:00:00:00"
    assert {s.kind for s in info.streams} == {"video", "audio"}
    data = json.loads(json.dumps(info.to_dict()))
    assert data["duration"] == pytest.approx(1.0, abs=1e-3)
    assert data["fps_exact"] == "24/1" and data["path"] == str(path)


def test_probe_ntsc_rate_is_exact(make_video) -> None:
    info = probe(make_video("ntsc.mp4", seconds=1.0, fps=Fraction(24000, 1001), audio=False))
    assert info.fps == Fraction(24000, 1001)
    assert info.frame_count == 24
    assert info.duration == pytest.approx(24 * 1001 / 24000, abs=1e-6)


def test_probe_reads_start_timecode(make_video) -> None:
    info = probe(make_video("tc.mov", audio=False, timecode="01:00:10:05"))
    assert info.start_timecode == "01:00:10:05"


def test_matroska_rate_and_timecode_despite_millisecond_timestamps(make_video) -> None:
    # Matroska stores ms: a 23.976 fps file alternates 41/42 ms frames, still constant rate.
    info = probe(make_video("ntsc.mkv", fps=Fraction(24000, 1001), audio=False, timecode="10:00:00:00"))
    assert info.fps == Fraction(24000, 1001) and not info.is_vfr
    assert info.start_timecode == "10:00:00:00"


# ------------------------------------------------------------------------- frame accuracy


@pytest.mark.parametrize("bframes", [0, 2])
def test_frame_at_is_frame_accurate_on_constant_rate(make_video, bframes: int) -> None:
    fps = 24
    path = make_video("seek.mp4", seconds=1.25, fps=fps, audio=False, gop=6, bframes=bframes)
    order = np.random.default_rng(0).permutation(28)  # 30 frames; x = 3 i stays in the picture
    with VideoFile(path) as video:
        for i in order:
            assert square_index(video.frame_at(i / fps)) == i, f"frame {i} at its start"
            assert square_index(video.frame_at((i + 0.9) / fps)) == i, f"frame {i} near its end"
        # scrubbing forward, then jumping back
        assert [square_index(video.frame_at(i / fps)) for i in range(10, 16)] == list(range(10, 16))
        assert square_index(video.frame_at(1 / fps)) == 1


def test_seeking_gives_the_same_pixels_as_decoding_from_the_start(make_video) -> None:
    # Seeks skip non-reference B-frames before the target: the result must still be exact.
    path = make_video("exact.mp4", seconds=2.0, fps=24, audio=False, gop=16, bframes=3)
    with av.open(str(path)) as container:
        reference = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    order = np.random.default_rng(2).permutation(len(reference))
    with VideoFile(path) as video:
        for i in order:
            assert np.array_equal(video.frame_at((i + 0.5) / 24), reference[i]), f"frame {i}"
        streamed = [rgb for _, rgb in video.iter_frames(24)]
    assert len(streamed) == len(reference)
    assert all(np.array_equal(a, b) for a, b in zip(streamed, reference, strict=True))


def test_a_gap_after_the_probed_packets_is_still_exact(make_video) -> None:
    # Constant rate as far as probe looks, then a 1 s hole: the frame before the hole (maybe
    # a skipped non-reference frame) stays displayed through it.
    times = [i / 24 for i in range(250)] + [250 / 24 + 1.0 + i / 24 for i in range(6)]
    path = make_video(
        "gap.mp4", seconds=len(times) / 24, fps=24, audio=False, gop=48, bframes=3, pts_seconds=times
    )
    assert not probe(path).is_vfr
    with av.open(str(path)) as container:
        reference = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    with VideoFile(path) as video:
        for t in (times[249] + 0.5, times[249] + 0.9, times[248] + 0.01, times[250]):
            expected = reference[max(i for i, start in enumerate(times) if start <= t + 1e-6)]
            assert np.array_equal(video.frame_at(t), expected), t


def test_frame_at_places_frames_by_pts_on_variable_rate(make_video) -> None:
    times = [0.0, 0.05, 0.1, 0.2, 0.25, 0.4, 0.45, 0.5, 0.7, 0.71]
    path = make_video("vfr.mp4", seconds=len(times) / 24, fps=24, audio=False, pts_seconds=times)
    info = probe(path)
    assert info.is_vfr and info.frame_count == len(times)
    with VideoFile(path) as video:
        for i in reversed(range(len(times))):  # backwards: every call seeks
            assert square_index(video.frame_at(times[i])) == i
            end = times[i + 1] if i + 1 < len(times) else info.duration
            assert square_index(video.frame_at((times[i] + end) / 2)) == i
        assert square_index(video.frame_at(0.19)) == 2  # between 0.1 and 0.2: still frame 2
        assert square_index(video.frame_at(5.0)) == len(times) - 1  # clamped to the last
        assert square_index(video.frame_at(-1.0)) == 0  # clamped to the first


def test_iter_frames_streams_at_target_rate_and_size(make_video) -> None:
    path = make_video("stream.mp4", seconds=1.0, fps=24, audio=False, width=192, height=128)
    with VideoFile(path) as video:
        got = list(video.iter_frames(8, size=96))
        assert [t for t, _ in got] == pytest.approx([k / 8 for k in range(8)])
        assert all(rgb.shape == (64, 96, 3) and rgb.dtype == np.uint8 for _, rgb in got)
        # square step is 3 px at full size, 1.5 px at half size
        assert [round(square_index(rgb, step=1) / 1.5) for _, rgb in got] == [3 * k for k in range(8)]
        window = [t for t, _ in video.iter_frames(4, size=(50, 40), start=0.5, end=0.9)]
        assert window == pytest.approx([0.5, 0.75])
        _, exact = next(video.iter_frames(4, size=(50, 40)))
        assert exact.shape == (40, 50, 3)


def test_iter_frames_on_variable_rate_repeats_held_frames(make_video) -> None:
    times = [0.0, 0.3, 0.35, 0.6]
    path = make_video("vfr2.mp4", seconds=4 / 24, fps=24, audio=False, pts_seconds=times)
    with VideoFile(path) as video:
        indices = [square_index(rgb) for _, rgb in video.iter_frames(10)]
    assert indices == [0, 0, 0, 1, 2, 2, 3]  # t = 0.0 .. 0.6 at 10 fps


# --------------------------------------------------------------------------------- rotation


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotated_video_is_shown_upright(make_video, rotation: int) -> None:
    path = make_video(f"rot{rotation}.mp4", seconds=0.25, fps=24, audio=False, rotation=rotation)
    info = probe(path)
    assert info.rotation == rotation
    assert (info.coded_width, info.coded_height) == (96, 64)
    assert (info.width, info.height) == ((64, 96) if rotation in (90, 270) else (96, 64))
    coded = moving_square_frames(6)[3]
    expected = np.rot90(coded, k=-rotation // 90)  # clockwise
    with VideoFile(path) as video:
        shown = video.frame_at(3 / 24)
        small = video.frame_at(3 / 24, size=48)
    assert shown.shape == expected.shape
    assert np.abs(shown.astype(int) - expected).mean() < 6
    assert (
        max(small.shape[:2]) == 48
        and small.shape[0] == small.shape[1] * expected.shape[0] // expected.shape[1]
    )


def test_write_video_rejects_odd_rotation(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        write_video(tmp_path / "x.mp4", moving_square_frames(2), 24, rotation=45)


# ------------------------------------------------------------------------------------ audio


def test_video_without_audio(make_video) -> None:
    path = make_video("silent.mp4", audio=False)
    info = probe(path)
    assert info.has_video and not info.has_audio and info.sample_rate is None
    with pytest.raises(MediaError, match="no audio stream"):
        read_audio(path, 16000)


@pytest.mark.parametrize(("name", "codec"), [("tone.m4a", "aac"), ("tone.wav", "pcm_s16le")])
def test_audio_only_file(tmp_path: Path, name: str, codec: str) -> None:
    t = np.arange(SR) / SR
    tone = (0.25 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    path = write_video(tmp_path / name, [], 24, tone, SR, audio_codec=codec)
    info = probe(path)
    assert info.has_audio and not info.has_video and info.fps is None
    assert info.duration == pytest.approx(1.0, abs=1e-3)
    with pytest.raises(MediaError, match="no video stream"):
        VideoFile(path)
    audio = read_audio(path, 16000)
    assert audio.dtype == np.float32 and audio.shape == (16000,)
    spectrum = np.abs(np.fft.rfft(audio[2000:14000]))
    assert np.argmax(spectrum) * 16000 / 12000 == pytest.approx(440, abs=2)
    assert np.abs(audio[2000:14000]).max() == pytest.approx(0.25, abs=0.02)


@pytest.mark.parametrize("name", ["clicks.mp4", "clicks.mkv"])
def test_read_audio_lines_up_with_the_video_timeline(tmp_path: Path, name: str) -> None:
    clicks = np.zeros(2 * SR, np.float32)
    clicks[SR // 2] = clicks[3 * SR // 2] = 0.9
    path = write_video(tmp_path / name, moving_square_frames(48), 24, clicks, SR)
    full = read_audio(path, SR)
    assert abs(len(full) - 2 * SR) <= SR // 100  # Matroska rounds the end to 1 ms
    assert np.argmax(np.abs(full)) == pytest.approx(SR // 2, abs=48)  # within 1 ms
    window = read_audio(path, 16000, start=1.25, end=2.5)
    assert window.shape == (20000,)  # exactly (end - start) * rate, silence past the end
    assert np.argmax(np.abs(window)) == pytest.approx(4000, abs=16)
    assert np.abs(window[13000:]).max() == 0.0
    stereo = read_audio(path, 24000, mono=False, end=1.0)
    assert stereo.shape == (24000, 1)


def test_read_audio_rejects_bad_ranges(make_video) -> None:
    path = make_video("a.mp4")
    with pytest.raises(UsageError):
        read_audio(path, 16000, start=1.0, end=0.5)
    with pytest.raises(UsageError):
        read_audio(path, 0)


# ----------------------------------------------------------------------------- bad input


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="not found") as err:
        probe(tmp_path / "nope.mp4")
    assert "nope.mp4" in str(err.value)


def test_zero_byte_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.touch()
    for call in (probe, VideoFile, lambda p: read_audio(p, 16000)):
        with pytest.raises(MediaError, match="empty"):
            call(empty)


def test_text_file_named_mp4(tmp_path: Path) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video\n" * 50)
    with pytest.raises(MediaError, match="not a readable video") as err:
        probe(fake)
    assert str(err.value).startswith(str(fake)) and "\n" not in str(err.value)


def test_folder_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="folder"):
        probe(tmp_path)


@pytest.mark.parametrize("name", ["cut.mp4", "cut.mkv"])
def test_truncated_file(make_video, name: str) -> None:
    path = make_video(name, seconds=2.0)
    data = path.read_bytes()
    for fraction in (0.5, 0.8):
        path.write_bytes(data[: int(len(data) * fraction)])
        with pytest.raises(MediaError, match="truncated"):
            probe(path)
        with pytest.raises(MediaError, match="truncated"):
            VideoFile(path)


def test_4k_frame_size(tmp_path: Path) -> None:
    frames = [np.full((2160, 3840, 3), 40 * (i + 1), np.uint8) for i in range(2)]
    path = write_video(tmp_path / "uhd.mp4", frames, 24, preset="ultrafast")
    info = probe(path)
    assert (info.width, info.height, info.frame_count) == (3840, 2160, 2)
    with VideoFile(path) as video:
        second = video.frame_at(1 / 24)
        assert second.shape == (2160, 3840, 3)
        assert abs(int(second[1000, 2000, 1]) - 80) <= 3
        assert video.frame_at(0, size=224).shape == (126, 224, 3)


# ------------------------------------------------------------------------------------ remux


def test_remux_keeps_video_packets_bit_identical(make_video, tmp_path: Path) -> None:
    source = make_video(
        "source.mp4", seconds=2.0, fps=24, bframes=2, gop=12, rotation=90, timecode="01:02:03:04"
    )
    new_audio = np.random.default_rng(1).uniform(-0.5, 0.5, (2 * SR, 2)).astype(np.float32)
    original = video_packets(source)
    for name, codec in [("out.mp4", "aac"), ("out.mov", "pcm_s24le"), ("out.mkv", "pcm_s16le")]:
        out = remux_with_audio(source, new_audio, SR, tmp_path / name, audio_codec=codec)
        copied = video_packets(out)
        assert [p[0] for p in copied] == [p[0] for p in original], name  # bytes
        assert [p[2] for p in copied] == [p[2] for p in original], name  # keyframes
        assert np.allclose([p[1] for p in copied], [p[1] for p in original], atol=1e-3), name
        info = probe(out)
        assert (info.rotation, info.start_timecode) == (90, "01:02:03:04"), name
        assert (info.audio_codec, info.channels, info.sample_rate) == (codec, 2, SR), name
        decoded = read_audio(out, SR, mono=False)
        assert decoded.shape == new_audio.shape, name
        if codec.startswith("pcm"):
            assert np.abs(decoded - new_audio).max() < 1e-4, name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mkv", "out.mov", "out.mp4", "source.mp4"]


def test_remux_refuses_pcm_in_mp4_and_leaves_nothing(make_video, tmp_path: Path) -> None:
    source = make_video("v.mp4", audio=False)
    with pytest.raises(MediaError, match=r"\.mov or \.mkv"):
        remux_with_audio(source, np.zeros(SR, np.float32), SR, tmp_path / "o.mp4", "pcm_s16le")
    with pytest.raises(MediaError, match="not a readable"):
        (tmp_path / "fake.mp4").write_text("text")
        remux_with_audio(tmp_path / "fake.mp4", np.zeros(SR, np.float32), SR, tmp_path / "o.mp4")
    with pytest.raises(UsageError, match="NaN"):
        remux_with_audio(source, np.full(SR, np.nan, np.float32), SR, tmp_path / "o.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake.mp4", "v.mp4"]
