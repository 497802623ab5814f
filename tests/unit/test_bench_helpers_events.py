"""Helpers of the other-renderer and audio-prompt benchmarks: the drawn clips, the given tracks
and the prompt pairing."""

from __future__ import annotations

import numpy as np

from benchmarks.audio_prompt import prompt_pairs
from benchmarks.other_renderer import EVENTS, FPS, SECONDS, SIZE, draw_clip, track_away_from


def test_drawn_clips_and_tracks_away_from_the_turns():
    rng = np.random.default_rng(0)
    for _ in range(5):
        frames, turns = draw_clip(rng)
        assert len(frames) == round(SECONDS * FPS) and frames[0].shape == (*SIZE, 3)
        assert frames[0].dtype == np.uint8 and len(turns) >= 5
        given = track_away_from(turns, rng)
        assert len(given) == EVENTS and np.all(np.diff(given) >= 0.3)
        assert np.min(np.abs(given[:, None] - turns[None, :])) >= 0.15
    # The disc moves: consecutive frames differ where it is.
    assert np.abs(frames[1].astype(int) - frames[0]).max() > 50


def test_each_clip_is_prompted_by_another_category():
    categories = ["a", "a", "b", "c", "a"]
    pairs = prompt_pairs(categories)
    assert all(categories[p] != categories[i] for i, p in enumerate(pairs))
    assert pairs == [2, 2, 3, 4, 2]
    assert prompt_pairs(["a", "a"]) == [-1, -1]
