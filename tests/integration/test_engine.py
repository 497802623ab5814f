"""GenerationEngine end to end on an untrained debug bundle (mechanics, not quality)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from foleystudio.core.audio import save_audio
from foleystudio.core.boxes import Box, BoxKeyframe
from foleystudio.core.events import EventTrack
from foleystudio.core.jobs import CancelToken, no_progress
from foleystudio.core.ranking import population_totals
from foleystudio.core.requests import GenerationRequest, InpaintContext
from foleystudio.core.sources import AudioSource, ObjectSource
from foleystudio.errors import FoleyStudioError, JobCancelled, UsageError
from foleystudio.ml.engine import GenerationEngine


@pytest.fixture(scope="module")
def engine() -> GenerationEngine:
    return GenerationEngine("cpu")


def request(video, bundle, **kw) -> GenerationRequest:
    base = GenerationRequest(str(video), end=3.0, text="a sliding box")
    return base.replace(**{"model": str(bundle), "steps": 3, **kw})


def test_candidates_are_deterministic_per_seed(engine, debug_bundle, long_video):
    a = engine.generate(request(long_video, debug_bundle, num_candidates=2, seed=5))
    b = engine.generate(request(long_video, debug_bundle, num_candidates=2, seed=5))
    assert sorted(c.seed for c in a) == [5, 6]
    assert all(len(c.audio) == round(3.0 * c.sample_rate) for c in a)
    for x, y in zip(sorted(a, key=lambda c: c.seed), sorted(b, key=lambda c: c.seed), strict=True):
        assert np.array_equal(x.audio, y.audio)
    alone = engine.generate(request(long_video, debug_bundle, num_candidates=1, seed=6))[0]
    # Candidate 6 is the same whether sampled alone or in a batch of two, up to float noise of
    # the batched matmuls (~1e-6 in the network) that Griffin-Lim's phase search grows; another
    # seed differs by far more.
    batched = next(c for c in a if c.seed == 6).audio
    batch_noise = np.abs(alone.audio - batched).max()
    assert batch_noise <= 0.05 * np.abs(batched).max()
    assert np.abs(a[0].audio - a[1].audio).max() > 10 * batch_noise
    assert all(0.0 <= c.scores["total"] <= 1.0 for c in a)


def test_long_range_is_windowed_without_seams(engine, debug_bundle, long_video):
    (cand,) = engine.generate(request(long_video, debug_bundle, start=1.0, end=21.0))
    rate = cand.sample_rate
    assert len(cand.audio) == 20 * rate
    frame = rate // 50  # 20 ms RMS frames
    rms = np.sqrt(
        np.mean(cand.audio[: len(cand.audio) // frame * frame].reshape(-1, frame) ** 2, axis=1) + 1e-9
    )
    jumps = np.abs(np.diff(20 * np.log10(rms)))
    window, hop = 4.0, 4.0 - 2.0  # debug window 4 s, overlap 2 s
    borders = [round((window + k * hop) * 50) for k in range(8) if window + k * hop < 20]
    at_borders = max(jumps[b - 2 : b + 2].max() for b in borders)
    assert at_borders <= np.percentile(jumps, 99.5) + 1.0


def test_object_stems_follow_sources(engine, debug_bundle, long_video):
    left = ObjectSource("a", "left thing", (BoxKeyframe(0, Box(0, 0, 0.5, 1)),))
    right = ObjectSource("b", "right thing", (BoxKeyframe(0, Box(0.5, 0, 0.5, 1)),))
    stems = engine.generate(request(long_video, debug_bundle, sources=(left, right), per_source=True))
    assert {c.source_id for c in stems} == {"a", "b"}
    assert {c.label for c in stems} == {"left thing", "right thing"}
    (mix,) = engine.generate(request(long_video, debug_bundle, sources=(left, right)))
    assert mix.source_id is None
    assert np.allclose(mix.audio, sum(c.audio for c in stems), atol=1e-4)


def test_range_regeneration_keeps_the_outside(engine, debug_bundle, long_video, tmp_path):
    rate = 16000
    kept = (0.1 * np.sin(2 * np.pi * 220 * np.arange(4 * rate) / rate)).astype(np.float32)
    render = save_audio(tmp_path / "render.wav", kept, rate, subtype="FLOAT")
    inpaint = InpaintContext(render=str(render), render_start=2.0, start=3.0, end=4.0)
    (cand,) = engine.generate(request(long_video, debug_bundle, inpaint=inpaint))
    assert cand.start == 2.0 and len(cand.audio) == len(kept)
    outside = np.r_[0 : int(0.98 * rate), int(2.02 * rate) : len(kept)]
    assert np.allclose(cand.audio[outside], kept[outside], atol=1e-6)
    assert not np.allclose(
        cand.audio[int(1.1 * rate) : int(1.9 * rate)], kept[int(1.1 * rate) : int(1.9 * rate)]
    )


def test_cancel_mid_way(engine, debug_bundle, long_video):
    token = CancelToken()
    seen = []

    def progress(fraction: float, message: str) -> None:
        seen.append(fraction)
        if "sampling step 2" in message:
            token.cancel()

    with pytest.raises(JobCancelled):
        engine.generate(request(long_video, debug_bundle, steps=6), progress, token)
    assert seen and max(seen) < 1.0


def test_bad_requests_are_clear_errors(engine, debug_bundle, long_video, tmp_path):
    with pytest.raises(UsageError, match="steps"):
        engine.generate(request(long_video, debug_bundle, steps=0))
    for bad in (-1.0, float("inf"), float("nan")):
        with pytest.raises(UsageError, match="sync-cfg"):
            engine.generate(request(long_video, debug_bundle, sync_cfg=bad))
    with pytest.raises(FoleyStudioError, match="does not exist"):
        engine.generate(request(tmp_path / "missing.mp4", debug_bundle))
    silent = save_audio(tmp_path / "silent.wav", np.zeros(16000, np.float32), 16000)
    with pytest.raises(FoleyStudioError, match="silent"):
        engine.generate(request(long_video, debug_bundle, sources=(AudioSource("r", str(silent)),)))
    short = save_audio(tmp_path / "short.wav", np.ones(100, np.float32) * 0.1, 16000)
    with pytest.raises(FoleyStudioError, match="too short"):
        engine.generate(request(long_video, debug_bundle, sources=(AudioSource("r", str(short)),)))


def test_reference_audio_becomes_codec_tokens(engine, debug_bundle, tmp_path):
    from foleystudio.ml.engine import _reference_tokens

    rate = 16000
    ref = save_audio(
        tmp_path / "ref.wav", (0.3 * np.sign(np.sin(np.arange(rate) / 7))).astype(np.float32), rate
    )
    codec = engine.model(str(debug_bundle)).codec
    req = GenerationRequest(video="unused.mp4", sources=(AudioSource("r", str(ref)),))
    tokens = _reference_tokens(codec, req)
    assert tokens.shape == (1, codec.num_tokens(1.0), codec.latent_dim)


def test_engine_is_usable_from_a_worker_thread(engine, debug_bundle, long_video):
    out = []
    thread = threading.Thread(target=lambda: out.append(engine.generate(request(long_video, debug_bundle))))
    thread.start()
    thread.join(60)
    assert out and len(out[0]) == 1


def test_a_bundle_with_an_audio_encoder_scores_text(tmp_path, long_video):
    from foleystudio.train.model_bundle import random_bundle

    bundle = random_bundle(tmp_path / "with-audio", with_audio=True)
    engine = GenerationEngine("cpu")
    loaded = engine.model(str(bundle))
    assert loaded.audio is not None and loaded.audio_classifier is not None
    (cand,) = engine.generate(request(long_video, bundle))
    assert 0.0 <= cand.scores["text"] <= 1.0
    assert cand.scores["total"] == 0.5  # a lone candidate is its population's average (core/ranking)
    pair = engine.generate(request(long_video, bundle, num_candidates=2))
    assert [c.scores["total"] for c in pair] == pytest.approx(
        population_totals([c.scores for c in pair], {"semantic": 1.0, "text": 1.0, "sync": 1.0})
    )
    (no_text,) = engine.generate(request(long_video, bundle, text=""))
    assert "text" not in no_text.scores


def test_ssv2a_sources_give_the_mix_condition(tmp_path, long_video):
    import torch

    from foleystudio.core.sources import TextSource
    from foleystudio.train.model_bundle import random_bundle

    bundle = random_bundle(tmp_path / "with-ssv2a", with_ssv2a=True)
    engine = GenerationEngine("cpu")
    loaded = engine.model(str(bundle))
    assert loaded.ssv2a is not None and loaded.flowley.config.mix_dim == loaded.audio.config.embed_dim
    # Untrained output layers start at zero: perturb every weight so each condition matters.
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in loaded.flowley.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.2)
    rate = 16000
    ref = save_audio(tmp_path / "ref.wav", (0.3 * np.sin(np.arange(rate) / 5)).astype(np.float32), rate)
    thing = ObjectSource("a", "left thing", (BoxKeyframe(0, Box(0, 0, 0.5, 1)),))
    sources = (thing, TextSource("t", "a bell"), AudioSource("r", str(ref)))
    base = request(long_video, bundle, sources=sources, cfg=1.0)
    (with_mix,) = engine.generate(base)
    (no_mix,) = engine.generate(base.replace(drop_conditions=("mix",)))
    assert not np.allclose(with_mix.audio, no_mix.audio, atol=1e-4)
    # Deterministic, Cycle Mix included; Cycle Mix settings reach the Remixer.
    cycled = base.replace(cycle_iters=2, cycle_samples=3)
    a, b = engine.generate(cycled)[0], engine.generate(cycled)[0]
    assert np.array_equal(a.audio, b.audio)
    # Without sources there is no mix: the same as dropping it.
    plain = request(long_video, bundle, cfg=1.0)
    assert np.allclose(
        engine.generate(plain)[0].audio,
        engine.generate(plain.replace(drop_conditions=("mix",)))[0].audio,
        atol=1e-6,
    )
    with pytest.raises(UsageError, match="Cycle Mix"):
        engine.generate(base.replace(cycle_samples=0))


def test_a_bundle_with_a_visual_onset_network_feeds_its_track(tmp_path, long_video):
    """The onset track is the fifth sync feature: changing the network changes the audio; a
    bundle whose Flowley does not match its video features is refused at load."""
    import torch

    from foleystudio.errors import CheckpointError
    from foleystudio.ml.model_bundle import load_bundle, save_bundle
    from foleystudio.train.model_bundle import random_bundle

    bundle = random_bundle(tmp_path / "with-onsets", with_onsets=True)
    engine = GenerationEngine("cpu")
    loaded = engine.model(str(bundle))
    assert loaded.onsets is not None and loaded.flowley.config.sync_dim == 5
    thing = ObjectSource("a", "left thing", (BoxKeyframe(0, Box(0, 0, 0.5, 1)),))
    feats = engine.features(
        loaded, str(long_video), 0.0, 3.0, {"a": thing.keyframes}, CancelToken(), no_progress
    )
    assert feats.onsets.shape == feats.motion.times.shape and feats.object_onsets.shape[0] == 1
    window = feats.window(0.0, 8, 12, 4.0, object_id="a")
    assert window["sync"].shape == (12, 5)
    assert np.abs(window["sync"][:, :4]).max() > 0  # the box's motion
    # With an event track the track alone says when: the motion columns are off and the
    # onset column is the track, one token per event.
    track = EventTrack.from_times([0.5, 1.75])
    followed = feats.window(0.0, 8, 12, 4.0, object_id="a", events=track)
    assert followed["sync"].shape == (12, 5) and not followed["sync"][:, :4].any()
    assert np.flatnonzero(followed["sync"][:, 4]).tolist() == [2, 7]
    (first,) = engine.generate(request(long_video, bundle, cfg=1.0))
    with torch.no_grad():
        loaded.onsets.head.bias.add_(5.0)  # every frame now an onset
    engine._features.clear()
    (second,) = engine.generate(request(long_video, bundle, cfg=1.0))
    assert not np.allclose(first.audio, second.audio, atol=1e-5)
    # A Flowley taking 5 sync features without the network that makes the fifth: refused.
    parts = load_bundle(bundle)
    broken = tmp_path / "broken"
    modules = {k: v for k, v in parts.state_dicts.items() if k != "visual_onsets"}
    configs = {k: v for k, v in parts.configs.items() if k != "visual_onsets"}
    save_bundle(broken, "broken", modules, configs)
    with pytest.raises(CheckpointError, match="sync features"):
        GenerationEngine("cpu").model(str(broken))
