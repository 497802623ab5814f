"""With the bundled model, library search by text and by picture finds the right one of a few
generated FoleyWorld sounds (the clips and categories on which the bundled encoders are known to
tell them apart, ``test_scores_bundled.py``; the rates over held-out clips are in
benchmarks/results/library.json)."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf

from foleystudio.ml.library_search import LibraryQuery, LibrarySearcher, picture_embedding

CATEGORIES = ("bell_ringing", "bird_chirps", "water_drips", "hammer_anvil", "footsteps", "ball_rubber")


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory):
    from foleystudio.data.foleyworld import generate_clip

    root = tmp_path_factory.mktemp("library")
    sounds = root / "sounds"
    sounds.mkdir()
    clips = {}
    for i, category in enumerate(CATEGORIES):
        clip = generate_clip(100 + i, duration=4.0, n_sources=1, categories=[category], offscreen=False)
        sf.write(sounds / f"{category}.wav", clip.audio, 16000)
        clips[category] = clip
    searcher = LibrarySearcher(root / "lib", "foleyworld-tiny")
    report = searcher.add_folder(sounds)
    assert len(report.added) == len(CATEGORIES)
    return searcher, clips


def test_text_finds_the_named_sound(indexed) -> None:
    searcher, clips = indexed
    for category in CATEGORIES:
        hits = searcher.search(LibraryQuery(text=clips[category].truth["text"]), n=3)
        assert Path(hits[0].entry.path).stem == category, [h.entry.path for h in hits]


def test_the_picture_finds_its_sound(indexed) -> None:
    searcher, clips = indexed
    model, ranker_library = searcher.model(), searcher.library()
    for category in ("bell_ringing", "bird_chirps", "water_drips", "hammer_anvil"):
        point = picture_embedding(model, list(clips[category].frames[::3]))  # 8 fps, as a video query
        hits = ranker_library.search(point, n=3)
        assert Path(hits[0].entry.path).stem == category, [h.entry.path for h in hits]
