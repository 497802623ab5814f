"""The engine's GMDS search (settings search_iters > 0) on an untrained debug bundle: mechanics."""

from __future__ import annotations

import numpy as np
import pytest

from foleystudio.core.audio import save_audio
from foleystudio.core.boxes import Box, BoxKeyframe
from foleystudio.core.jobs import CancelToken
from foleystudio.core.requests import GenerationRequest, InpaintContext
from foleystudio.core.sources import ObjectSource
from foleystudio.errors import JobCancelled
from foleystudio.ml.engine import GenerationEngine


@pytest.fixture(scope="module")
def engine() -> GenerationEngine:
    return GenerationEngine("cpu")


def request(video, bundle, **kw) -> GenerationRequest:
    base = GenerationRequest(str(video), end=3.0, text="a sliding box")
    settings = {"model": str(bundle), "steps": 3, "num_candidates": 2, "search_iters": 1, "search_steps": 2}
    return base.replace(**{**settings, **kw})


def test_search_is_deterministic_and_its_noises_render_again_at_full_steps(engine, debug_bundle, long_video):
    messages: list[str] = []
    found = engine.generate(request(long_video, debug_bundle, seed=4), lambda f, m: messages.append(m))
    again = engine.generate(request(long_video, debug_bundle, seed=4))
    assert any("search: iteration 1/1" in m for m in messages)
    assert [c.noise for c in found] == [c.noise for c in again]
    assert all(np.array_equal(a.audio, b.audio) for a, b in zip(found, again, strict=True))
    assert sorted(c.seed for c in found) == [4, 5]  # one kept noise per starting seed
    assert all("objective" in c.preview_scores and "sync" in c.preview_scores for c in found)
    assert [c.scores["total"] for c in found] == sorted((c.scores["total"] for c in found), reverse=True)
    # A kept noise rendered on its own at full steps ("More like this" starts from it) is the
    # candidate, up to the float noise of a different batch (see test_engine).
    best = found[0]
    (alone,) = engine.generate(
        request(long_video, debug_bundle, search_iters=0, num_candidates=1).replace(noise_origin=best.noise)
    )
    assert alone.noise == best.noise
    assert np.abs(alone.audio - best.audio).max() <= 0.05 * np.abs(best.audio).max()


def test_search_zero_is_best_of_n_with_plain_seeds(engine, debug_bundle, long_video):
    plain = engine.generate(request(long_video, debug_bundle, search_iters=0, seed=7))
    assert sorted(c.noise.id for c in plain) == ["7", "8"]
    assert all(c.preview_scores == {} for c in plain)


def test_more_like_this_varies_the_chosen_noise(engine, debug_bundle, long_video):
    (chosen,) = engine.generate(request(long_video, debug_bundle, search_iters=0, num_candidates=1, seed=3))
    like = engine.generate(
        request(long_video, debug_bundle, search_iters=0, num_candidates=3, seed=9).replace(
            noise_origin=chosen.noise
        )
    )
    assert {c.noise.seed for c in like} == {3}
    assert sorted(len(c.noise.moves) for c in like) == [0, 1, 1]
    same = next(c for c in like if not c.noise.moves)
    assert np.abs(same.audio - chosen.audio).max() <= 0.05 * np.abs(chosen.audio).max()


def test_search_per_source_and_in_a_range(engine, debug_bundle, long_video, tmp_path):
    left = ObjectSource("a", "left thing", (BoxKeyframe(0, Box(0, 0, 0.5, 1)),))
    right = ObjectSource("b", "right thing", (BoxKeyframe(0, Box(0.5, 0, 0.5, 1)),))
    stems = engine.generate(request(long_video, debug_bundle, sources=(left, right), per_source=True))
    assert sorted(c.source_id for c in stems) == ["a", "a", "b", "b"]
    assert all(c.preview_scores for c in stems)
    rate = 16000
    kept = (0.1 * np.sin(2 * np.pi * 220 * np.arange(4 * rate) / rate)).astype(np.float32)
    render = save_audio(tmp_path / "render.wav", kept, rate, subtype="FLOAT")
    inpaint = InpaintContext(render=str(render), render_start=2.0, start=3.0, end=4.0)
    for cand in engine.generate(request(long_video, debug_bundle, inpaint=inpaint)):
        outside = np.r_[0 : int(0.98 * rate), int(2.02 * rate) : len(kept)]
        assert np.allclose(cand.audio[outside], kept[outside], atol=1e-6)


def test_cancel_during_the_search(engine, debug_bundle, long_video):
    token = CancelToken()

    def progress(fraction: float, message: str) -> None:
        if "iteration" in message:
            token.cancel()

    with pytest.raises(JobCancelled):
        engine.generate(request(long_video, debug_bundle, search_iters=2), progress, token)
