"""The level policy of generated audio: a −1 dBTP true-peak ceiling, gain only down."""

from __future__ import annotations

import numpy as np
import pytest

from foleystudio.core.levels import (
    CEILING_DBTP,
    rows_under_ceiling,
    true_peak,
    true_peak_dbtp,
    under_ceiling,
)

RATE = 16000


def test_true_peak_sees_the_peak_between_the_samples() -> None:
    # A sine at a quarter of the rate, sampled 45° off its crests: every sample is at
    # 0.707·A, but the waveform between them reaches A (3 dB above the sample peak).
    n = np.arange(RATE)
    sine = (0.5 * np.sin(2 * np.pi * n / 4 + np.pi / 4)).astype(np.float32)
    assert np.abs(sine).max() == pytest.approx(0.5 / np.sqrt(2), rel=1e-5)
    assert true_peak(sine) == pytest.approx(0.5, rel=0.02)  # (+ a little ringing at the abrupt ends)
    assert true_peak(np.zeros(100, np.float32)) == 0.0 and true_peak_dbtp(np.zeros(3)) == -np.inf


def test_loud_audio_is_scaled_down_to_the_ceiling_and_quiet_audio_is_kept() -> None:
    rng = np.random.default_rng(0)
    loud = (3.0 * rng.standard_normal(RATE)).astype(np.float32)
    levelled = under_ceiling(loud)
    assert levelled.dtype == np.float32
    assert true_peak_dbtp(levelled) == pytest.approx(CEILING_DBTP, abs=0.01)
    np.testing.assert_allclose(levelled / loud, levelled[0] / loud[0], rtol=1e-5)  # one plain gain
    quiet = (0.01 * rng.standard_normal(RATE)).astype(np.float32)
    assert under_ceiling(quiet) is quiet  # gain only goes down: never raised to full scale


def test_rows_of_one_seed_share_one_gain_and_still_sum_to_the_mix() -> None:
    rng = np.random.default_rng(1)
    a = np.stack([2.0 * rng.standard_normal(RATE), 0.01 * rng.standard_normal(RATE)]).astype(np.float32)
    b = np.stack([0.5 * rng.standard_normal(RATE), 0.02 * rng.standard_normal(RATE)]).astype(np.float32)
    out = rows_under_ceiling({"a": a, "b": b})
    # Row 0 (loud): the loudest of a, b and a + b sits at the ceiling; a and b keep their balance.
    peaks = [
        true_peak_dbtp(out["a"][0]),
        true_peak_dbtp(out["b"][0]),
        true_peak_dbtp(out["a"][0] + out["b"][0]),
    ]
    assert max(peaks) == pytest.approx(CEILING_DBTP, abs=0.01)
    ratio = out["a"][0, 0] / a[0, 0]
    np.testing.assert_allclose(out["b"][0], b[0] * ratio, rtol=1e-5, atol=1e-7)
    # Row 1 (quiet) is untouched, whatever row 0 needed.
    np.testing.assert_array_equal(out["a"][1], a[1])
    np.testing.assert_array_equal(out["b"][1], b[1])
