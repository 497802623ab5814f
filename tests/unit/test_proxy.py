"""Scrubbing proxies (core/proxy.py): built small and all-intra, on the source's timeline,
landing on the right frame, rebuilt when the source changes, and nothing left by a cancel."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from foleystudio.core.jobs import CancelToken
from foleystudio.core.media import VideoFile, probe
from foleystudio.core.proxy import PROXY_LONG_SIDE, build_proxy, find_proxy, proxy_size
from foleystudio.core.videowriter import write_video
from foleystudio.errors import JobCancelled, MediaError

FPS = 24


def level_frames(n: int, width: int = 640, height: int = 360) -> list[np.ndarray]:
    """Frame i is flat grey 10 + 9·i, so a frame's mean tells which frame it is."""
    return [np.full((height, width, 3), 10 + 9 * i, np.uint8) for i in range(n)]


def frame_times(path: Path) -> list[float]:
    """Presentation times (s) of every frame, origin at the first frame, as VideoFile places them."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        origin = stream.start_time or 0
        tb = Fraction(stream.time_base)
        return sorted(float((f.pts - origin) * tb) for f in container.decode(stream))


@pytest.fixture
def source(tmp_path: Path) -> Path:
    # Long GOP with B-frames: the kind of file that seeks slowly.
    return write_video(tmp_path / "src.mp4", level_frames(24), FPS, gop=12, bframes=3)


def test_proxy_is_small_all_intra_and_found_again(source: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert find_proxy(source, cache) is None
    reports: list[float] = []
    proxy = build_proxy(source, cache, lambda f, m: reports.append(f))
    assert proxy.is_file() and find_proxy(source, cache) == proxy
    assert reports and reports[-1] == 1.0 and all(0 <= f <= 1 for f in reports)
    info = probe(proxy)
    assert (info.width, info.height) == proxy_size(640, 360) == (PROXY_LONG_SIDE, 270)
    assert not info.has_audio
    with av.open(str(proxy)) as container:
        assert all(p.is_keyframe for p in container.demux(video=0) if p.size)
    assert build_proxy(source, cache) == proxy  # found, not rebuilt
    assert proxy_size(320, 200) == (320, 200)  # never upscaled


def test_frame_times_match_the_source_also_with_variable_frame_rate(tmp_path: Path) -> None:
    cfr = write_video(tmp_path / "cfr.mp4", level_frames(20, 96, 64), FPS, gop=10, bframes=2)
    pts = [0.0, 0.04, 0.1, 0.13, 0.3, 0.31, 0.5, 0.7, 0.72, 0.9]
    vfr = write_video(tmp_path / "vfr.mp4", level_frames(len(pts), 96, 64), FPS, pts_seconds=pts)
    for video in (cfr, vfr):
        proxy = build_proxy(video, tmp_path / "cache")
        source_times, proxy_times = frame_times(video), frame_times(proxy)
        assert len(proxy_times) == len(source_times)
        np.testing.assert_allclose(proxy_times, source_times, atol=1e-9)
    np.testing.assert_allclose(frame_times(vfr), pts, atol=1e-4)


def test_random_seeks_on_the_proxy_land_on_the_source_frame(source: Path, tmp_path: Path) -> None:
    proxy = build_proxy(source, tmp_path / "cache")
    rng = np.random.default_rng(3)
    with VideoFile(proxy) as small, VideoFile(source) as full:
        for t in rng.uniform(0.0, 1.0, 40):
            expected = full.frame_at(float(t), 64).mean()
            index = min(int(np.floor(t * FPS + 1e-9)), 23)
            got = small.frame_at(float(t)).mean()
            assert abs(got - expected) < 3.0, (t, got, expected)
            assert abs(got - (10 + 9 * index)) < 3.0, (t, got, index)


def test_rotated_source_gives_an_upright_proxy(tmp_path: Path) -> None:
    video = write_video(tmp_path / "rot.mp4", level_frames(4, 200, 100), FPS, rotation=90)
    proxy = build_proxy(video, tmp_path / "cache")
    assert (probe(video).width, probe(video).height) == (100, 200)
    info = probe(proxy)
    assert (info.width, info.height) == (100, 200) and info.rotation == 0


def test_changed_source_gets_a_new_proxy_and_the_stale_one_is_removed(source: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    old = build_proxy(source, cache)
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))  # edited later
    assert find_proxy(source, cache) is None  # the old proxy is not used for the new file
    new = build_proxy(source, cache)
    assert new != old and new.is_file() and not old.exists()
    # Replaced with other content (a different size): rebuilt from the new frames.
    write_video(source, [np.full((64, 96, 3), 200, np.uint8)] * 3, FPS)
    newest = build_proxy(source, cache)
    assert newest != new and not new.exists()
    with VideoFile(newest) as small:
        assert abs(small.frame_at(0.0).mean() - 200) < 3
    assert sorted(p.name for p in (cache / "proxies").iterdir()) == [newest.name]


def test_cancel_leaves_nothing(source: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    token = CancelToken()
    calls: list[float] = []

    def progress(fraction: float, message: str) -> None:
        calls.append(fraction)
        if len(calls) == 5:
            token.cancel()

    with pytest.raises(JobCancelled):
        build_proxy(source, cache, progress, token)
    assert len(calls) == 5  # it stopped at the next frame
    assert find_proxy(source, cache) is None
    assert list((cache / "proxies").iterdir()) == []  # no half-written or temporary file


def test_bad_input_names_the_file(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.mp4"
    bogus.write_bytes(b"not a video at all" * 10)
    with pytest.raises(MediaError, match="notes.mp4"):
        build_proxy(bogus, tmp_path / "cache")
    with pytest.raises(MediaError, match="missing.mp4"):
        build_proxy(tmp_path / "missing.mp4", tmp_path / "cache")
    assert not (tmp_path / "cache" / "proxies").exists() or not list(
        (tmp_path / "cache" / "proxies").iterdir()
    )


def test_only_videos_larger_than_a_proxy_want_one(source: Path, tmp_path: Path) -> None:
    from foleystudio.core.proxy import wants_proxy

    small = write_video(tmp_path / "small.mp4", level_frames(2, 96, 64), FPS)
    assert wants_proxy(probe(source)) and not wants_proxy(probe(small))


def test_a_proxy_is_carried_to_a_new_cache(source: Path, tmp_path: Path) -> None:
    from foleystudio.core.proxy import carry_proxy

    old, new = tmp_path / "old", tmp_path / "new"
    assert carry_proxy(source, old, new) is None  # nothing built yet
    built = build_proxy(source, old)
    carried = carry_proxy(source, old, new)
    assert carried == find_proxy(source, new) and carried.read_bytes() == built.read_bytes()
    assert carry_proxy(source, old, new) == carried  # already there
