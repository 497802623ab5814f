"""The sound library's NumPy side: reading sound files and their BWF/iXML description, the
store (atomic commit), ranking by best segment, removing entries."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from foleystudio.core import library as lib
from foleystudio.core.library import (
    LibraryEntry,
    Ranker,
    build_library,
    load_library,
    remove_from_library,
    save_library,
)
from foleystudio.core.sound_files import read_sound, scan_sound_files
from foleystudio.core.wav_metadata import read_wav_metadata
from foleystudio.errors import DataError, FoleyStudioError, UsageError

MODEL = {"name": "m", "audio_sha256": "abc"}


def tone(seconds: float, rate: int, freq: float = 440.0) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def entry(path: str, segments: int = 1) -> LibraryEntry:
    return LibraryEntry(path, 10, 1, 4.0, 16000, 1, "wav", tuple(2.0 * i for i in range(segments)))


# -- files ----------------------------------------------------------------------------------


def test_bext_description_and_ixml_note_are_read_back_from_a_bwf(tmp_path: Path) -> None:
    from foleystudio.export.bwf import BextInfo, IXMLInfo, write_bwf

    path = tmp_path / "door.wav"
    ixml = IXMLInfo("Reel 7", ("door",), Fraction(24), False, 48000, 24, 0, note="take 3, heavy oak door")
    write_bwf(path, tone(0.5, 48000), 48000, 24, BextInfo(description="Door slam, heavy oak"), ixml)
    meta = read_wav_metadata(path)
    assert meta["description"] == "Door slam, heavy oak"
    assert meta["originator"] == "FoleyStudio"
    assert meta["ixml"] == {"project": "Reel 7", "note": "take 3, heavy oak door"}
    _, info = read_sound(path, 16000)
    assert info.metadata["description"] == "Door slam, heavy oak"


def test_files_without_chunks_or_not_wav_have_no_metadata(tmp_path: Path) -> None:
    plain = tmp_path / "plain.wav"
    sf.write(plain, tone(0.2, 16000), 16000)
    assert read_wav_metadata(plain) == {}
    flac = tmp_path / "x.flac"
    sf.write(flac, tone(0.2, 16000), 16000)
    assert read_wav_metadata(flac) == {}
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x10\x00\x00\x00WAVEbext\xff\xff")
    assert read_wav_metadata(broken) == {}


def test_read_sound_gives_mono_at_the_asked_rate_and_the_files_own_properties(tmp_path: Path) -> None:
    path = tmp_path / "stereo.flac"
    wave = tone(1.5, 48000)
    sf.write(path, np.stack([wave, wave], axis=1), 48000, subtype="PCM_24")
    mono, info = read_sound(path, 16000)
    assert mono.ndim == 1 and abs(len(mono) - 24000) <= 1
    assert (info.sample_rate, info.channels, round(info.duration, 3)) == (48000, 2, 1.5)
    # Resampled, the tone keeps its level (the resampler is band-limited, not a decimator).
    assert np.sqrt(np.mean(mono[2000:-2000] ** 2)) == pytest.approx(0.3 / np.sqrt(2), rel=0.02)


def test_unreadable_and_silent_files_raise_naming_the_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio at all" * 10)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(8000, np.float32), 16000)
    for path in (junk, silent, tmp_path / "missing.wav"):
        with pytest.raises(FoleyStudioError) as info:
            read_sound(path, 16000)
        assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_scan_finds_sound_files_recursively_skipping_hidden_and_others(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name in ("a.wav", "sub/b.FLAC", "sub/c.mp3", ".hidden/d.wav", ".e.wav", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    found = [Path(f.path).relative_to(tmp_path).as_posix() for f in scan_sound_files(tmp_path)]
    assert found == ["a.wav", "sub/b.FLAC", "sub/c.mp3"]
    with pytest.raises(FoleyStudioError, match="not a folder"):
        scan_sound_files(tmp_path / "a.wav")


# -- store ----------------------------------------------------------------------------------


def make_library(folder: Path, rows: dict[str, np.ndarray]) -> lib.Library:
    parts = [(entry(p, len(r)), r) for p, r in rows.items()]
    return build_library(folder, parts, [], MODEL, 4.0, 2.0)


def test_save_and_load_round_trip_as_float16(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = {"/s/b.wav": rng.standard_normal((3, 8)), "/s/a.wav": rng.standard_normal((1, 8))}
    save_library(make_library(tmp_path, rows))
    loaded = load_library(tmp_path)
    assert [e.path for e in loaded.entries] == ["/s/a.wav", "/s/b.wav"]  # sorted, rows renumbered
    assert [e.row for e in loaded.entries] == [0, 1]
    assert loaded.embeddings.dtype == np.float16 and loaded.embeddings.shape == (4, 8)
    b = loaded.entry("/s/b.wav")
    expected = rows["/s/b.wav"] / np.linalg.norm(rows["/s/b.wav"], axis=1, keepdims=True)
    np.testing.assert_allclose(loaded.rows_of(b), expected, atol=2e-3)
    assert loaded.model == MODEL and b.starts == (0.0, 2.0, 4.0)
    assert len(list(tmp_path.glob("embeddings-*.npy"))) == 1


def test_a_failed_commit_leaves_the_previous_library_whole(tmp_path: Path, monkeypatch) -> None:
    rng = np.random.default_rng(1)
    save_library(make_library(tmp_path, {"/s/a.wav": rng.standard_normal((1, 8))}))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(lib, "atomic_write_bytes", fail)
    with pytest.raises(OSError):
        save_library(make_library(tmp_path, {"/s/b.wav": rng.standard_normal((2, 8))}))
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert after == before
    assert [e.path for e in load_library(tmp_path).entries] == ["/s/a.wav"]


def test_a_damaged_library_is_refused_with_one_line(tmp_path: Path) -> None:
    save_library(make_library(tmp_path, {"/s/a.wav": np.ones((2, 4))}))
    matrix = next(tmp_path.glob("embeddings-*.npy"))
    np.save(matrix, np.ones((5, 4), np.float16))
    with pytest.raises(DataError, match="lists 2 segments"):
        load_library(tmp_path)
    (tmp_path / "library.json").write_text("{")
    with pytest.raises(DataError, match="unreadable"):
        load_library(tmp_path)
    assert load_library(tmp_path / "none").entries == ()


# -- ranking --------------------------------------------------------------------------------


def test_ranking_uses_each_entrys_best_segment_and_reports_its_start(tmp_path: Path) -> None:
    e = np.eye(4)
    library = make_library(
        tmp_path,
        {
            "/s/long.wav": np.stack([e[1], e[2], e[0] + 0.1 * e[1]]),  # segment 3 (start 4 s) matches
            "/s/near.wav": (e[0] + 0.5 * e[3])[None],
            "/s/far.wav": e[3][None],
        },
    )
    hits = library.search(e[0], n=3)
    assert [Path(h.entry.path).name for h in hits] == ["long.wav", "near.wav", "far.wav"]
    assert hits[0].start == 4.0 and hits[0].score == pytest.approx(1 / np.sqrt(1.01), abs=1e-3)
    assert hits[2].score == pytest.approx(0.0, abs=1e-3)
    ranker = Ranker(library)
    assert [h.entry.name for h in ranker.search(e[0], n=1)] == ["long.wav"]
    assert [h.entry.name for h in ranker.search(e[0], n=5, exclude=["/s/long.wav"])] == [
        "near.wav",
        "far.wav",
    ]
    with pytest.raises(UsageError, match="dimensions"):
        ranker.search(np.ones(3))
    with pytest.raises(UsageError, match="zero"):
        ranker.search(np.zeros(4))
    assert Ranker(lib.Library(tmp_path)).search(np.ones(4)) == []


def test_remove_forgets_files_and_folders(tmp_path: Path) -> None:
    rows = {p: np.ones((1, 4)) for p in ("/s/a.wav", "/s/sub/b.wav", "/s/sub/c.wav", "/t/d.wav")}
    library = make_library(tmp_path, rows)
    smaller, removed = remove_from_library(library, ["/s/sub", "/t/d.wav"])
    assert removed == 3 and [e.path for e in smaller.entries] == ["/s/a.wav"]
    assert smaller.embeddings.shape == (1, 4)
