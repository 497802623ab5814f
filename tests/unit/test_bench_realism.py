"""Helpers of the realism benchmark (benchmarks/realism.py): windows, the fixed spectral
embedding, the principal-component distance, category pairing and the paired bootstrap, on
small generated data."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.realism import (
    HOP_S,
    WINDOW_S,
    Embedded,
    clip_resample,
    distance_figures,
    log_mel_statistics,
    paired_categories,
    paired_difference,
    pca_basis,
    peak_normalise,
    per_category,
    project,
    window_pieces,
)

RATE = 16000


def _embedded(rows: np.ndarray, per_clip: int, category: str = "a") -> Embedded:
    clip = np.repeat(np.arange(len(rows) // per_clip), per_clip)
    return Embedded(rows, clip, np.full(len(rows), category, dtype=object))


def test_windows_of_long_and_short_waves():
    pieces = window_pieces(np.arange(8 * RATE, dtype=np.float32), RATE)
    # 2 s windows every 1 s: starts 0 … 6 s.
    assert len(pieces) == 7 and all(len(p) == WINDOW_S * RATE for p in pieces)
    assert pieces[1][0] == HOP_S * RATE
    # A wave of 2 s or less is one window of its own length; the last window of a longer one
    # ends at its end.
    assert [len(p) for p in window_pieces(np.zeros(RATE // 2, np.float32), RATE)] == [RATE // 2]
    last = window_pieces(np.arange(int(3.5 * RATE), dtype=np.float32), RATE)[-1]
    assert last[-1] == int(3.5 * RATE) - 1 and len(last) == 2 * RATE


def test_peak_normalise_and_silence():
    wave = np.array([0.1, -0.5, 0.2], np.float32)
    assert np.abs(peak_normalise(wave)).max() == pytest.approx(0.95)
    assert not peak_normalise(np.zeros(4, np.float32)).any()


def test_log_mel_statistics_tell_a_low_tone_from_a_high_one():
    from foleystudio.ml.codec import MelCodec

    codec = MelCodec(sample_rate=RATE)
    t = np.arange(RATE) / RATE
    low, high = (0.5 * np.sin(2 * np.pi * f * t).astype(np.float32) for f in (200.0, 3000.0))
    stats = log_mel_statistics(codec, [low, high, low[: RATE // 2]])
    assert stats.shape == (3, 2 * codec.n_mels)
    means = stats[:, : codec.n_mels]
    assert means[0].argmax() < means[1].argmax()
    # Means of a steady tone do not depend on its length; a steady tone varies little in time.
    np.testing.assert_allclose(means[2], means[0], atol=0.5)
    assert stats[0, codec.n_mels :].max() < 3.0


def test_fd_of_the_same_distribution_is_small_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    reference = _embedded(rng.standard_normal((400, 32)), per_clip=4)
    same = _embedded(rng.standard_normal((400, 32)), per_clip=4)
    shifted = _embedded(rng.standard_normal((400, 32)) + 1.0, per_clip=4)
    identical = distance_figures(reference, reference, dims=8)
    assert identical["fd"] == pytest.approx(0.0, abs=1e-6) and identical["fd_full"] == pytest.approx(
        0.0, abs=1e-6
    )
    near, far = distance_figures(same, reference, dims=8), distance_figures(shifted, reference, dims=8)
    assert near["fd"] < 1.0 < far["fd"] and near["fd_full"] < far["fd_full"]
    assert near["dims"] == 8 and near["windows"] == 400 and near["reference_windows"] == 400
    # Fewer windows than dimensions: no full-dimension distance.
    few = _embedded(rng.standard_normal((20, 32)), per_clip=4)
    assert distance_figures(few, reference, dims=8)["fd_full"] is None


def test_pca_basis_is_orthonormal_capped_and_keeps_the_spread():
    rng = np.random.default_rng(1)
    rows = rng.standard_normal((50, 6)) * np.array([10.0, 5.0, 1.0, 1.0, 1.0, 1.0])
    mean, basis = pca_basis(rows, 2)
    assert basis.shape == (6, 2)
    np.testing.assert_allclose(basis.T @ basis, np.eye(2), atol=1e-9)
    assert abs(basis[0, 0]) > 0.95 and abs(basis[1, 1]) > 0.95  # the two widest axes
    assert project(rows, (mean, basis)).mean(axis=0) == pytest.approx([0.0, 0.0], abs=1e-9)
    assert pca_basis(rows[:3], 16)[1].shape == (6, 2)  # at most N − 1 directions


def test_category_pairing_needs_more_windows_than_dimensions_on_both_sides():
    system = ["a"] * 10 + ["b"] * 10 + ["c"] * 3
    reference = ["a"] * 10 + ["b"] * 4 + ["d"] * 10
    assert paired_categories(system, reference, min_windows=5) == ["a"]
    assert paired_categories(system, reference, min_windows=2) == ["a", "b"]


def test_per_category_distance_finds_the_category_that_differs():
    rng = np.random.default_rng(2)

    def two_categories(shift_b: float) -> Embedded:
        a, b = rng.standard_normal((60, 4)), rng.standard_normal((60, 4)) + np.array([0.0, 3.0, 0.0, 0.0])
        rows = np.concatenate([a, b + shift_b])
        return Embedded(rows, np.repeat(np.arange(30), 4), np.array(["a"] * 60 + ["b"] * 60, dtype=object))

    figures = per_category(two_categories(2.0), two_categories(0.0), dims=4)
    assert set(figures) == {"a", "b"} and figures["b"] > 5 * figures["a"]


def test_paired_difference_and_clip_resampling():
    rng = np.random.default_rng(3)
    clip = np.repeat(np.arange(5), 3)
    index = clip_resample(clip, rng)
    assert len(index) == 15 and all(np.sum(clip[index] == c) % 3 == 0 for c in range(5))
    reference = _embedded(rng.standard_normal((200, 8)), per_clip=4)
    before = _embedded(rng.standard_normal((200, 8)) + 1.0, per_clip=4)
    after = Embedded(before.rows - 0.9, before.clip, before.category)  # the same clips, closer
    change = paired_difference(after, before, reference, 8, 100, rng)
    assert change["difference"] < 0 and change["interval"][1] < 0
    no_change = paired_difference(before, before, reference, 8, 20, rng)
    assert no_change["difference"] == 0.0 and no_change["interval"] == [0.0, 0.0]
    with pytest.raises(ValueError):
        paired_difference(after.subset(np.arange(100)), before, reference, 8, 5, rng)


def test_the_24khz_spectral_analysis_hears_the_band_above_8khz():
    from benchmarks.realism import SPECTRAL_MELS, embed_set
    from foleystudio.core.audio import resample
    from foleystudio.ml.codec import MelCodec
    from foleystudio.ml.encoders.audio import AudioEncoder, AudioEncoderConfig

    rate = 24000
    codec = MelCodec(sample_rate=rate, n_mels=SPECTRAL_MELS[rate])
    noise = np.random.default_rng(0).standard_normal(3 * rate).astype(np.float32)
    narrow = resample(resample(noise, rate, 16000), 16000, rate)  # what a 16 kHz model can give
    stats = log_mel_statistics(codec, [noise, narrow])
    top = codec.n_mels - 5  # bands well above 8 kHz
    assert stats[0, top : codec.n_mels].mean() > stats[1, top : codec.n_mels].mean() + 3.0
    # The 16 kHz analysis cannot tell them apart (but for the resampling filter's roll-off at
    # the top band).
    low = MelCodec(sample_rate=16000)
    heard = log_mel_statistics(low, [resample(noise, rate, 16000), resample(narrow, rate, 16000)])
    np.testing.assert_allclose(heard[0, : low.n_mels - 2], heard[1, : low.n_mels - 2], atol=0.3)
    # embed_set keeps the windows of both embeddings paired when the encoder hears 16 kHz.
    encoder = AudioEncoder(AudioEncoderConfig(sample_rate=16000))
    embedded = embed_set(encoder, codec, [noise, narrow], ["a", "b"])
    rows = embedded["log_mel_stats"].rows
    assert len(rows) == len(embedded["audio_encoder"].rows) == 4 and rows.shape[1] == 2 * codec.n_mels
