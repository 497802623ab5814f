"""Metrics and onset detection on constructed signals whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from foleystudio.errors import UsageError
from foleystudio.ml import metrics
from foleystudio.ml.onsets import detect_onsets, onset_confidence, onset_envelope, pick_peaks

SR = 16000
ONSETS = np.array([0.31, 0.9, 1.55, 2.2, 2.62, 3.4])


def impacts(times: np.ndarray, seconds: float = 4.0, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """Decaying modal 'knocks' (two partials) starting exactly at ``times``, plus white noise."""
    rng = np.random.default_rng(seed)
    wave = noise * rng.standard_normal(int(seconds * SR))
    tt = np.arange(int(0.6 * SR)) / SR
    for i, t0 in enumerate(times):
        f = 400.0 + 150.0 * (i % 3)
        knock = (np.sin(2 * np.pi * f * tt) + 0.5 * np.sin(2 * np.pi * 2.76 * f * tt)) * np.exp(-tt * 12)
        start = int(round(t0 * SR))
        end = min(len(wave), start + len(knock))
        wave[start:end] += rng.uniform(0.2, 0.5) * knock[: end - start]
    return wave


# ----------------------------------------------------------------- onsets


def test_detect_onsets_finds_known_impacts_within_20_ms() -> None:
    found = detect_onsets(impacts(ONSETS), SR)
    assert len(found) == len(ONSETS)
    assert np.max(np.abs(found - ONSETS)) < 0.02


def test_detect_onsets_in_background_noise() -> None:
    found = detect_onsets(impacts(ONSETS, noise=0.01), SR)
    assert metrics.onset_f1(found, ONSETS, 0.05)[2] == 1.0


def test_silence_and_steady_noise_have_no_onsets() -> None:
    assert len(detect_onsets(np.zeros(SR * 2), SR)) == 0
    assert len(detect_onsets(0.01 * np.random.default_rng(1).standard_normal(SR * 4), SR)) <= 1
    env, times = onset_envelope(np.zeros(SR), SR)
    assert np.all(env == 0) and times[1] == pytest.approx(0.005)


def test_stereo_input_is_mixed_to_mono() -> None:
    mono = impacts(ONSETS[:3], seconds=2.0)
    stereo = np.stack([mono, mono], axis=1)
    assert np.allclose(detect_onsets(stereo, SR), detect_onsets(mono, SR))


def test_pick_peaks_respects_min_gap_and_threshold() -> None:
    x = np.zeros(200)
    x[[20, 23, 100, 150]] = [1.0, 0.8, 0.5, 0.05]
    peaks = pick_peaks(x, rate=100.0, min_gap=0.05, delta=0.1)
    assert peaks.tolist() == [20, 100]  # 23 is within 50 ms of a higher peak; 150 is below 0.1*max


def test_onset_confidence_is_normalised_peak_amplitude() -> None:
    wave = np.zeros(SR)
    wave[SR // 4] = 0.5
    wave[3 * SR // 4] = -1.0
    conf = onset_confidence(wave, SR, np.array([0.25, 0.75, 0.5]))
    assert conf.tolist() == pytest.approx([0.5, 1.0, 0.0])


# ----------------------------------------------------------------- onset F1, AV-Align, AA-Align


def test_onset_f1_shift_within_and_beyond_tolerance() -> None:
    assert metrics.onset_f1(ONSETS, ONSETS) == (1.0, 1.0, 1.0)
    assert metrics.onset_f1(ONSETS + 0.03, ONSETS, 0.05) == (1.0, 1.0, 1.0)
    assert metrics.onset_f1(ONSETS + 0.1, ONSETS, 0.05) == (0.0, 0.0, 0.0)


def test_onset_f1_counts_and_empty_sets() -> None:
    p, r, f = metrics.onset_f1([0.3, 0.9, 5.0], [0.31, 0.9, 1.55, 2.2], 0.05)
    assert (p, r) == pytest.approx((2 / 3, 2 / 4)) and f == pytest.approx(2 * 2 / 7)
    assert metrics.onset_f1([], []) == (1.0, 1.0, 1.0)
    assert metrics.onset_f1([], [1.0]) == (0.0, 0.0, 0.0)
    assert metrics.onset_f1([1.0], []) == (0.0, 0.0, 0.0)


def test_matching_is_one_to_one_and_closest_first() -> None:
    # Two predictions near one reference: only one can match it.
    assert metrics.onset_f1([1.0, 1.02], [1.01], 0.05)[0] == pytest.approx(0.5)
    # 1.04 could take either reference; the closest pair (1.04, 1.05) wins, 0.99 takes 1.0.
    assert metrics.match_events([0.99, 1.04], [1.0, 1.05], 0.06) == [(0, 0), (1, 1)]


def test_av_align_iou_with_one_frame_window() -> None:
    fps = 24.0
    video = np.array([0.5, 1.0, 2.0])
    assert metrics.av_align(video, video, fps) == 1.0
    assert metrics.av_align(video + 0.5 / fps, video, fps) == 1.0
    assert metrics.av_align(video + 2 / fps, video, fps) == 0.0
    assert metrics.av_align(video + 1.01 / fps, video, fps) == 0.0
    # 1 hit among 3 audio + 3 video peaks: 1 / (3 + 3 - 1)
    assert metrics.av_align([0.5, 3.0, 4.0], video, fps) == pytest.approx(1 / 5)
    assert metrics.av_align([], [], fps) == 1.0 and metrics.av_align([1.0], [], fps) == 0.0


def test_aa_align_follows_eq8() -> None:
    assert metrics.aa_align(ONSETS, ONSETS) == 1.0
    assert metrics.aa_align(ONSETS + 0.03, ONSETS, 0.1) == 1.0
    assert metrics.aa_align(ONSETS + 0.15, ONSETS, 0.1) == 0.0
    # 2 of 3 generated peaks hit; union = 3 + 4 - 2 = 5
    assert metrics.aa_align([0.32, 0.95, 3.0], [0.31, 0.9, 1.55, 2.2]) == pytest.approx(2 / 5)
    # IoU never exceeds 1 even with many generated peaks crowding one reference peak
    assert metrics.aa_align([1.0, 1.02, 1.04], [1.01]) == pytest.approx(1 / 3)


def test_shifted_audio_scores_far_below_aligned_audio() -> None:
    wave = impacts(ONSETS)
    ref = detect_onsets(wave, SR)
    shifted = detect_onsets(np.roll(wave, int(0.5 * SR)), SR)
    assert metrics.aa_align(ref, ref) == 1.0
    assert metrics.aa_align(shifted, ref) < 0.3


# ----------------------------------------------------------------- Onset Acc / AP


def test_onset_accuracy_is_count_match_rate() -> None:
    gen = [[1.0, 2.0], [1.0], [], [0.5, 0.6, 0.7]]
    ref = [[1.1, 2.5], [1.0, 2.0], [], [0.1, 0.2, 0.3]]
    assert metrics.onset_accuracy(gen, ref) == pytest.approx(2 / 4)  # clip 3 is empty -> no match
    with pytest.raises(UsageError):
        metrics.onset_accuracy(gen, ref[:2])


def test_onset_detection_accuracy_is_hit_rate() -> None:
    assert metrics.onset_detection_accuracy([1.05, 2.5], [1.0, 2.0], 0.1) == 0.5
    assert metrics.onset_detection_accuracy([], [1.0]) == 0.0


def test_average_precision_matches_known_value() -> None:
    # the textbook example (also scikit-learn's docstring): AP = 0.8333...
    assert metrics.average_precision([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(5 / 6)
    assert metrics.average_precision([1, 1, 0], [0.9, 0.8, 0.1]) == 1.0
    assert metrics.average_precision([0, 0], [0.9, 0.8]) == 0.0


def test_onset_ap_ranks_detections_by_confidence() -> None:
    ref = [1.0, 2.0]
    assert metrics.onset_ap([1.02, 2.03], [0.9, 0.8], ref) == 1.0
    # a false positive more confident than both true detections: P = 0, 1/2, 2/3 at R = 0, .5, 1
    assert metrics.onset_ap([1.02, 2.03, 3.0], [0.9, 0.8, 0.95], ref) == pytest.approx(
        0.5 * 0.5 + 0.5 * 2 / 3
    )
    # the same false positive ranked last does not hurt
    assert metrics.onset_ap([1.02, 2.03, 3.0], [0.9, 0.8, 0.1], ref) == 1.0
    assert metrics.onset_ap([], [], ref) == 0.0
    with pytest.raises(UsageError):
        metrics.onset_ap([1.0], [0.5, 0.2], ref)


# ----------------------------------------------------------------- SSMS, Fréchet


def test_ssms_top_n_f1() -> None:
    scores = np.array([[0.9, 0.8, 0.1, 0.0], [0.1, 0.2, 0.3, 0.9]])
    assert metrics.ssms(scores, scores, top_n=2) == 1.0
    assert metrics.ssms(scores, scores[::-1].copy(), top_n=1) == 0.0
    # top-2 {0, 1} vs {1, 2}: F1 = 2*1/4; item 2 {3, 2} vs {3, 2}: 1
    ref = np.array([[0.1, 0.8, 0.9, 0.0], [0.0, 0.1, 0.5, 0.9]])
    assert metrics.ssms(scores, ref, top_n=2) == pytest.approx((0.5 + 1.0) / 2)
    # reference as true label sets (FoleyWorld): {0} vs top-2 {0, 1} -> 2/3; {3} vs {3, 2} -> 2/3
    assert metrics.ssms(scores, [[0], [3]], top_n=2) == pytest.approx(2 / 3)
    with pytest.raises(UsageError):
        metrics.ssms(scores, scores, top_n=5)


def test_frechet_distance_of_identical_and_shifted_sets() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((400, 8))
    a -= a.mean(axis=0)  # so that scaling below leaves the mean at 0
    assert metrics.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    shift = np.arange(8) * 0.25
    assert metrics.frechet_distance(a, a + shift) == pytest.approx(float(shift @ shift), rel=1e-6)
    # scaling by 2: Tr(S + 4S - 2*2S) = Tr(S)
    cov_trace = np.trace(np.cov(a, rowvar=False))
    assert metrics.frechet_distance(a, 2 * a) == pytest.approx(cov_trace, rel=1e-6)


def test_frechet_distance_with_fewer_samples_than_dimensions_is_finite() -> None:
    rng = np.random.default_rng(1)
    value = metrics.frechet_distance(rng.standard_normal((5, 32)), rng.standard_normal((6, 32)))
    assert np.isfinite(value) and value >= 0
    with pytest.raises(UsageError):
        metrics.frechet_distance(np.zeros((1, 4)), np.zeros((3, 4)))


# ----------------------------------------------------------------- video peaks


def test_video_motion_peaks_are_strict_local_maxima_above_threshold() -> None:
    energy = np.zeros(48)
    energy[[12, 30]] = [0.05, 0.02]
    energy[40] = 0.0005  # below the codec-noise threshold
    energy[20:23] = [0.01, 0.01, 0.0]  # a plateau is not a strict maximum
    peaks = metrics.video_motion_peaks(energy, 24.0, start=1.0)
    assert peaks.tolist() == pytest.approx([1.0 + 12 / 24, 1.0 + 30 / 24])
