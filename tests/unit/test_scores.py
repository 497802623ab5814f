"""Scores on signals whose answer is known (ml/scores.py) and their totals (core/ranking.py)."""

from __future__ import annotations

import numpy as np
import pytest

from foleystudio.core.events import EventTrack
from foleystudio.core.ranking import STD_FLOOR, population_totals, reweighted, with_totals
from foleystudio.core.requests import Candidate, GenerationRequest
from foleystudio.errors import UsageError
from foleystudio.ml.encoders.motion import MOTION_FPS, MotionFeatures
from foleystudio.ml.scores import ScoreReference, score_population, semantic_reference

RATE = 16000
EVENTS = [0.5, 1.25, 2.0, 2.6, 3.4]
WEIGHTS = {"semantic": 1.0, "text": 1.0, "sync": 1.0}


def clicks(times, duration=4.0, start=0.0) -> np.ndarray:
    wave = np.zeros(round(duration * RATE), np.float32)
    for t in times:
        a = round((t - start) * RATE)
        if 0 <= a < len(wave):
            piece = 0.5 * np.exp(-np.arange(320) / 60.0) * np.sin(np.arange(320) * 0.9)
            wave[a : a + 320] += piece[: len(wave) - a]
    return wave


def test_a_synced_signal_outscores_the_same_signal_shifted_against_an_event_track():
    track = EventTrack.from_times([t + 10.0 for t in EVENTS])
    waves = np.stack([clicks(EVENTS), clicks([t + 0.25 for t in EVENTS]), clicks([t + 0.03 for t in EVENTS])])
    rows = score_population(waves, RATE, ScoreReference(start=10.0, events=track), WEIGHTS)
    synced, shifted, nudged = (r["sync"] for r in rows)
    assert synced == pytest.approx(1.0) and shifted == 0.0 and nudged == pytest.approx(1.0)  # ±50 ms
    assert rows[0]["total"] > 0.5 > rows[1]["total"]


def test_a_synced_signal_outscores_the_same_signal_shifted_against_motion_peaks():
    times = np.arange(round(4.0 * MOTION_FPS)) / MOTION_FPS
    energy = np.full(len(times), 0.01, np.float32)
    for t in EVENTS:
        energy[round(t * MOTION_FPS)] = 0.5
    motion = MotionFeatures(
        times, MOTION_FPS, energy, energy.copy(), np.zeros((0, len(times))), np.zeros((0, len(times)))
    )
    waves = np.stack([clicks(EVENTS), clicks([t + 0.4 for t in EVENTS])])
    rows = score_population(waves, RATE, ScoreReference(start=0.0, motion=motion), WEIGHTS)
    assert rows[0]["sync"] > 0.8 > 0.3 > rows[1]["sync"]


class FixedEncoder:
    """Stands in for the audio encoder: each wave's embedding is given."""

    def __init__(self, embeddings: np.ndarray) -> None:
        self.embeddings = embeddings

    def embed_numpy(self, waves: np.ndarray, sample_rate: int | None = None) -> np.ndarray:
        assert len(waves) == len(self.embeddings)
        return self.embeddings


def test_the_audio_encoder_hears_candidates_at_its_own_rate():
    """A 24 kHz codec's candidates are embedded by the 16 kHz audio encoder as their 16 kHz
    resampling, not read as 16 kHz samples (which would play them 1.5x slow)."""
    import torch

    from foleystudio.core.audio import resample
    from foleystudio.ml.encoders.audio import AudioEncoder

    encoder = AudioEncoder.create("fw-audio-debug", seed=0).eval()
    assert encoder.config.sample_rate == 16000
    rng = np.random.default_rng(0)
    t = np.arange(24000) / 24000
    waves = np.stack(
        [0.3 * np.sin(2 * np.pi * f * t) + 0.01 * rng.standard_normal(len(t)) for f in (300, 2000)]
    )
    waves = waves.astype(np.float32)
    heard = np.stack([resample(w, 24000, 16000) for w in waves])
    with torch.no_grad():
        direct = encoder.embed(torch.from_numpy(heard)).numpy()
    np.testing.assert_allclose(encoder.embed_numpy(waves, 24000), direct, atol=1e-5)
    assert np.abs(encoder.embed_numpy(waves) - direct).max() > 1e-3  # read as 16 kHz: another sound
    reference = ScoreReference(start=0.0, semantic=direct[0] / np.linalg.norm(direct[0]))
    rows = score_population(waves, 24000, reference, {"semantic": 1.0}, encoder=encoder)
    same = score_population(heard, 16000, reference, {"semantic": 1.0}, encoder=encoder)
    assert [r["semantic"] for r in rows] == pytest.approx([r["semantic"] for r in same], abs=1e-6)
    assert rows[0]["semantic"] == pytest.approx(1.0, abs=1e-6)


def test_the_embedding_nearest_the_sources_mix_and_the_text_scores_highest():
    mix = np.array([1.0, 0.0, 0.0, 0.0])
    text = np.array([0.0, 1.0, 0.0, 0.0])
    embeddings = np.array([[0.9, 0.1, 0.0, 0.0], [0.1, 0.9, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]])
    reference = ScoreReference(start=0.0, text=text, semantic=semantic_reference(None, mix=mix))
    rows = score_population(np.zeros((3, RATE)), RATE, reference, WEIGHTS, encoder=FixedEncoder(embeddings))
    assert [set(r) for r in rows] == [{"semantic", "text", "total"}] * 3  # no sync reference: no sync
    assert np.argmax([r["semantic"] for r in rows]) == 0 and np.argmax([r["text"] for r in rows]) == 1
    assert rows[2]["semantic"] == pytest.approx(0.5)  # orthogonal: cosine 0 → 0.5
    assert semantic_reference(None) is None


def test_totals_are_z_scores_within_the_population_and_follow_the_weights():
    assert population_totals([{"sync": 0.2, "text": 0.9}], WEIGHTS) == [0.5]
    rows = [{"sync": 0.9, "text": 0.50}, {"sync": 0.1, "text": 0.56}]  # text spreads less
    equal = population_totals(rows, WEIGHTS)
    assert equal == pytest.approx([0.5, 0.5])  # each ±1 σ on one criterion: a tie
    assert population_totals(rows, {"sync": 1.0, "text": 3.0})[1] > 0.5
    assert population_totals(rows, {"sync": 3.0, "text": 1.0})[0] > 0.5
    # Differences far below STD_FLOOR stay near the average instead of becoming ±1 σ.
    tiny = population_totals([{"sync": 0.5}, {"sync": 0.5 + STD_FLOOR / 10}], WEIGHTS)
    assert abs(tiny[1] - 0.5) < 0.05
    assert with_totals([{"sync": 0.3, "total": 9.0}], WEIGHTS) == [{"sync": 0.3, "total": 0.5}]


def test_reweighting_re_ranks_each_sources_candidates_without_touching_audio():
    request = GenerationRequest(video="/v.mp4")
    audio = np.zeros(4, np.float32)
    a = Candidate(audio, RATE, 0.0, 1, request, scores={"sync": 0.9, "text": 0.50, "total": 0.5})
    b = Candidate(audio, RATE, 0.0, 2, request, scores={"sync": 0.1, "text": 0.56, "total": 0.5})
    other = Candidate(audio, RATE, 0.0, 3, request, scores={"sync": 0.5}, source_id="x")
    by_text = reweighted([a, b, other], {"semantic": 1.0, "text": 4.0, "sync": 1.0})
    assert [c.seed for c in by_text] == [2, 3, 1]
    assert next(c for c in by_text if c.seed == 3).scores["total"] == 0.5  # alone in its source
    by_sync = reweighted([a, b], {"semantic": 1.0, "text": 1.0, "sync": 4.0})
    assert [c.seed for c in by_sync] == [1, 2] and by_sync[0].audio is audio
    for bad in ({"sync": -1.0}, {"sync": 0.0, "text": 0.0}, {"loudness": 1.0}):
        with pytest.raises(UsageError):
            reweighted([a, b], bad)
