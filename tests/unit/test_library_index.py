"""Indexing and searching the sound library with a small random model bundle: incremental
scans, bad files, cancel, segments and "more like this"."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from foleystudio.core.jobs import CancelToken
from foleystudio.core.library import load_library
from foleystudio.errors import DataError, JobCancelled, UsageError
from foleystudio.ml.library_index import index_folder, load_library_model, segment_starts
from foleystudio.ml.library_search import LibraryQuery, LibrarySearcher

RATE = 16000


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from foleystudio.train.model_bundle import random_bundle

    return random_bundle(tmp_path_factory.mktemp("models") / "lib-debug", with_ssv2a=True)


@pytest.fixture(scope="module")
def model(bundle: Path):
    return load_library_model(str(bundle))


def sound(seconds: float, seed: int) -> np.ndarray:
    """A distinct noisy sound: a chirp plus noise, different per seed."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * RATE)) / RATE
    f0 = 200 + 300 * seed
    wave = 0.2 * np.sin(2 * np.pi * (f0 + 400 * seed * t) * t) + 0.05 * rng.standard_normal(len(t))
    return wave.astype(np.float32)


def write_sounds(folder: Path) -> dict[str, Path]:
    folder.mkdir(exist_ok=True)
    files = {f"s{i}": folder / f"s{i}.wav" for i in range(3)}
    for i, path in enumerate(files.values()):
        sf.write(path, sound(1.0 + 0.5 * i, i), RATE)
    bad = folder / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really")
    files["broken"] = bad
    return files


def test_segments_cover_long_files_and_end_at_the_end() -> None:
    assert segment_starts(3 * RATE, RATE) == [0]
    assert segment_starts(4 * RATE, RATE) == [0]
    assert segment_starts(9 * RATE, RATE) == [0, 2 * RATE, 4 * RATE, 5 * RATE]


def test_indexing_is_incremental_and_lists_bad_files(tmp_path: Path, model) -> None:
    files = write_sounds(tmp_path / "sounds")
    libdir = tmp_path / "lib"
    first = index_folder(tmp_path / "sounds", model, libdir)
    assert sorted(Path(p).name for p in first.added) == ["s0.wav", "s1.wav", "s2.wav"]
    assert [(Path(p).name, "\n" in m) for p, m in first.skipped] == [("broken.wav", False)]
    library = load_library(libdir)
    assert len(library.entries) == 3 and model.made(library)
    assert library.entry(files["s1"]).duration == pytest.approx(1.5)
    assert [s.path for s in library.skipped] == [str(files["broken"])]

    again = index_folder(tmp_path / "lib" / ".." / "sounds", model, libdir)  # same folder, spelt otherwise
    assert (again.added, again.updated, again.unchanged) == ([], [], 3)
    assert [Path(p).name for p, _ in again.skipped] == ["broken.wav"]  # still listed, not re-read

    sf.write(files["s0"], sound(2.0, 7), RATE)  # changed: new size
    os.utime(files["s0"], ns=(1, 10**18))
    files["s2"].unlink()
    sf.write(files["broken"], sound(0.5, 3), RATE)  # repaired
    third = index_folder(tmp_path / "sounds", model, libdir)
    assert third.updated == [str(files["s0"])]
    assert third.added == [str(files["broken"])]
    assert third.removed == [str(files["s2"])]
    assert third.unchanged == 1 and third.skipped == []
    library = load_library(libdir)
    assert sorted(e.name for e in library.entries) == ["broken.wav", "s0.wav", "s1.wav"]
    assert library.entry(files["s0"]).duration == pytest.approx(2.0)


def test_cancel_leaves_the_library_unchanged(tmp_path: Path, model) -> None:
    write_sounds(tmp_path / "sounds")
    libdir = tmp_path / "lib"
    index_folder(tmp_path / "sounds", model, libdir)
    before = {p.name: p.read_bytes() for p in libdir.iterdir()}
    more = tmp_path / "more"
    more.mkdir()
    for i in range(3):
        sf.write(more / f"m{i}.wav", sound(1.0, 10 + i), RATE)
    token = CancelToken()

    def progress(fraction: float, message: str) -> None:
        if fraction > 0:  # after the first batch was read and embedded
            token.cancel()

    with pytest.raises(JobCancelled):
        index_folder(more, model, libdir, progress, token)
    assert {p.name: p.read_bytes() for p in libdir.iterdir()} == before


def test_a_long_recording_is_found_at_the_segment_that_matches(tmp_path: Path, model, bundle: Path) -> None:
    folder = tmp_path / "sounds"
    folder.mkdir()
    long = np.concatenate([sound(4.0, 1), sound(4.0, 2), sound(2.0, 3)])  # 10 s
    sf.write(folder / "long.wav", long, RATE)
    sf.write(folder / "other.wav", sound(3.0, 4), RATE)
    sf.write(tmp_path / "query.wav", long[4 * RATE : 8 * RATE], RATE)  # exactly segment 3 (4 s)
    searcher = LibrarySearcher(tmp_path / "lib", str(bundle))
    searcher.add_folder(folder)
    assert load_library(tmp_path / "lib").entry(folder / "long.wav").starts == (0.0, 2.0, 4.0, 6.0)
    hits = searcher.search(LibraryQuery(like=str(tmp_path / "query.wav")), n=2)
    assert hits[0].entry.name == "long.wav" and hits[0].start == 4.0
    assert hits[0].score == pytest.approx(1.0, abs=2e-3)  # the same samples: the same embedding
    # "More like" an indexed entry leaves that entry out.
    hits = searcher.search(LibraryQuery(like=str(folder / "long.wav")), n=5)
    assert [h.entry.name for h in hits] == ["other.wav"]


def test_text_and_picture_queries_run_and_rank_every_entry(tmp_path: Path, bundle: Path, make_video) -> None:
    write_sounds(tmp_path / "sounds")
    searcher = LibrarySearcher(tmp_path / "lib", str(bundle))
    searcher.add_folder(tmp_path / "sounds")
    by_text = searcher.search(LibraryQuery(text="a door slamming"), n=10)
    assert len(by_text) == 3 and by_text[0].score >= by_text[-1].score
    from foleystudio.core.boxes import Box

    video = make_video("clip.mp4", seconds=2.0)
    by_box = searcher.search(LibraryQuery(video=str(video), time=1.0, box=Box(0.2, 0.3, 0.4, 0.4)), n=2)
    assert len(by_box) == 2
    from foleystudio.core.boxes import BoxKeyframe

    moving = (BoxKeyframe(0.0, Box(0.0, 0.3, 0.3, 0.3)), BoxKeyframe(2.0, Box(0.6, 0.3, 0.3, 0.3)))
    following = searcher.search(LibraryQuery(video=str(video), time=1.0, keyframes=moving), n=3)
    assert len(following) == 3
    with pytest.raises(UsageError, match="past the video"):
        searcher.search(LibraryQuery(video=str(video), time=30.0), n=2)


def test_a_library_made_by_another_model_is_refused_for_search_and_re_embedded_on_add(
    tmp_path: Path, bundle: Path
) -> None:
    from foleystudio.train.model_bundle import random_bundle

    write_sounds(tmp_path / "sounds")
    LibrarySearcher(tmp_path / "lib", str(bundle)).add_folder(tmp_path / "sounds")
    other = random_bundle(tmp_path / "other", name="other-debug", seed=1, with_audio=True)
    searcher = LibrarySearcher(tmp_path / "lib", str(other))
    with pytest.raises(DataError, match="re-index"):
        searcher.search(LibraryQuery(text="a bell"), n=2)
    report = searcher.add_folder(tmp_path / "sounds")
    assert len(report.updated) == 3 and report.unchanged == 0
    assert load_library(tmp_path / "lib").model["name"] == "other-debug"


def test_queries_are_one_of_a_kind() -> None:
    with pytest.raises(UsageError, match="exactly one"):
        LibraryQuery(text="a", like="b.wav")
    with pytest.raises(UsageError, match="exactly one"):
        LibraryQuery()
    with pytest.raises(UsageError, match="needs a time"):
        LibraryQuery(video="v.mp4")
    from foleystudio.core.boxes import Box, BoxKeyframe

    with pytest.raises(UsageError, match="keyframes apply to a video"):
        LibraryQuery(image="p.png", keyframes=(BoxKeyframe(0.0, Box(0, 0, 1, 1)),))
