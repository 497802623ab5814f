"""Sync and relevance metrics (docs/architecture.md §7.3), NumPy + SciPy; each is unit-tested on signals
whose answer is known (``tests/unit/test_metrics.py``).

Event times are in seconds. Onsets of audio come from :func:`foleystudio.ml.onsets.detect_onsets`
so generated and reference audio are always measured the same way; motion peaks of video from
:func:`video_motion_peaks`.

Matching: where a metric pairs events, it pairs them **one to one**, greedily by smallest
time difference (:func:`match_events`). The original AV-Align/AA-Align scripts count a
predicted peak as hit if *any* reference peak is near, so two audio peaks next to one video
peak both count and the "IoU" can exceed 1; one-to-one matching keeps every score in [0, 1]
and equals the original whenever peaks are further apart than twice the window.

Empty sets: when both sets are empty the signals agree (score 1.0: silence vs silence, a static
shot with no sound events); when exactly one is empty the score is 0.0. Onset Acc / Onset AP
follow their protocol instead (0.0 when either set is empty), see there.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import linalg

from foleystudio.errors import UsageError


def _times(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(arr)):
        raise UsageError(f"{name} must be finite times in seconds")
    return arr


def match_events(
    pred: Sequence[float] | np.ndarray,
    ref: Sequence[float] | np.ndarray,
    tolerance: float,
    *,
    strict: bool = False,
) -> list[tuple[int, int]]:
    """One-to-one pairs ``(i_pred, j_ref)`` with ``|pred[i] - ref[j]| <= tolerance``
    (``< tolerance`` when ``strict``), chosen greedily from the closest pair up; ties go to the
    earlier events. Returns the pairs sorted by ``i_pred``."""
    p, r = _times(pred, "predicted events"), _times(ref, "reference events")
    if tolerance < 0:
        raise UsageError(f"tolerance must be >= 0 s, got {tolerance}")
    if len(p) == 0 or len(r) == 0:
        return []
    dist = np.abs(p[:, None] - r[None, :])
    ok = dist < tolerance if strict else dist <= tolerance + 1e-12
    ii, jj = np.nonzero(ok)
    order = np.lexsort((jj, ii, dist[ii, jj]))
    used_p, used_r, pairs = set(), set(), []
    for k in order:
        i, j = int(ii[k]), int(jj[k])
        if i not in used_p and j not in used_r:
            used_p.add(i)
            used_r.add(j)
            pairs.append((i, j))
    return sorted(pairs)


def onset_f1(
    pred_onsets: Sequence[float] | np.ndarray,
    true_onsets: Sequence[float] | np.ndarray,
    tolerance: float = 0.05,
) -> tuple[float, float, float]:
    """``(precision, recall, f1)`` of predicted onsets against true ones, matched one to one
    within ±``tolerance`` s (inclusive, as mir_eval). Both empty -> (1, 1, 1)."""
    p, t = _times(pred_onsets, "predicted onsets"), _times(true_onsets, "true onsets")
    if len(p) == 0 and len(t) == 0:
        return 1.0, 1.0, 1.0
    hits = len(match_events(p, t, tolerance))
    precision = hits / len(p) if len(p) else 0.0
    recall = hits / len(t) if len(t) else 0.0
    f1 = 2 * hits / (len(p) + len(t))
    return precision, recall, f1


def _iou(a: np.ndarray, b: np.ndarray, window: float) -> float:
    if len(a) == 0 and len(b) == 0:
        return 1.0
    hits = len(match_events(a, b, window, strict=True))
    return hits / (len(a) + len(b) - hits)


def av_align(
    audio_onsets: Sequence[float] | np.ndarray,
    video_peaks: Sequence[float] | np.ndarray,
    fps: float,
) -> float:
    """AV-Align: IoU of audio onsets and video motion peaks, an audio onset matching a video
    peak strictly within ±1 frame (``1/fps`` s): ``hits / (|A| + |V| - hits)`` in [0, 1]."""
    if fps <= 0:
        raise UsageError(f"fps must be positive, got {fps}")
    return _iou(_times(audio_onsets, "audio onsets"), _times(video_peaks, "video peaks"), 1.0 / fps)


def aa_align(
    gen_onsets: Sequence[float] | np.ndarray,
    ref_onsets: Sequence[float] | np.ndarray,
    tolerance: float = 0.1,
) -> float:
    """AA-Align (STA-V2A eq. 8): ``sum over generated peaks of 1[a reference peak lies
    strictly within ±tolerance s] / |A_gt ∪ A_gen|``, with the union counted as
    ``|A_gen| + |A_gt| - hits`` (matched pairs once). ``tolerance`` T = 0.1 s as in the paper."""
    return _iou(_times(gen_onsets, "generated onsets"), _times(ref_onsets, "reference onsets"), tolerance)


# ---------------------------------------------------------------------------------------------
# Onset Acc / Onset AP (AvSyncDiff Table 2)
#
# AvSyncDiff takes both from Xie et al. 2024, whose protocol is CondFoleyGen's onset evaluation
# (the seed defines neither). Our reading of that protocol:
# - onsets of the generated audio are detected, and each gets a confidence: the peak of the
#   min–max normalised |wave| within ±50 ms (``ml.onsets.onset_confidence``);
# - Onset Acc is the *number-of-onsets accuracy*: the fraction of clips whose generated audio
#   has exactly as many onsets as the reference. (Table 2's 20–31 % values fit this reading;
#   the protocol's other "detection accuracy", a per-clip hit rate, is
#   :func:`onset_detection_accuracy`.)
# - Onset AP is the average precision of the generated onsets as detections of the reference
#   onsets within ±0.1 s: each reference onset, in time order, takes the most confident
#   unused generated onset in its window (a true positive with that confidence) or, if none,
#   counts as a missed positive with score 0; leftover generated onsets are false positives
#   with their confidence. AP = sum over thresholds of (R_k - R_{k-1}) * P_k.
# - A clip where either side has no onsets scores 0 (count match False, AP 0), as in the
#   protocol. Per-clip values are averaged over clips by the caller.


def onset_count_match(
    gen_onsets: Sequence[float] | np.ndarray, ref_onsets: Sequence[float] | np.ndarray
) -> bool:
    """Whether generated and reference audio have the same number of onsets (both non-empty)."""
    g, r = _times(gen_onsets, "generated onsets"), _times(ref_onsets, "reference onsets")
    return len(g) > 0 and len(r) > 0 and len(g) == len(r)


def onset_accuracy(
    gen_onsets_per_clip: Sequence[Sequence[float] | np.ndarray],
    ref_onsets_per_clip: Sequence[Sequence[float] | np.ndarray],
) -> float:
    """Onset Acc (AvSyncDiff Table 2, our reading above): the fraction of clips in [0, 1]
    whose generated onset count equals the reference count."""
    if len(gen_onsets_per_clip) != len(ref_onsets_per_clip):
        raise UsageError(
            f"need one reference per clip, got {len(gen_onsets_per_clip)} and {len(ref_onsets_per_clip)}"
        )
    if len(gen_onsets_per_clip) == 0:
        raise UsageError("onset accuracy needs at least one clip")
    matches = [onset_count_match(g, r) for g, r in zip(gen_onsets_per_clip, ref_onsets_per_clip, strict=True)]
    return float(np.mean(matches))


def onset_detection_accuracy(
    gen_onsets: Sequence[float] | np.ndarray,
    ref_onsets: Sequence[float] | np.ndarray,
    tolerance: float = 0.1,
) -> float:
    """The fraction of reference onsets that have a generated onset within ±``tolerance`` s
    (one to one); 0 when either side is empty."""
    g, r = _times(gen_onsets, "generated onsets"), _times(ref_onsets, "reference onsets")
    if len(g) == 0 or len(r) == 0:
        return 0.0
    return len(match_events(g, r, tolerance, strict=True)) / len(r)


def average_precision(y_true: Sequence[int] | np.ndarray, y_score: Sequence[float] | np.ndarray) -> float:
    """Step-wise average precision ``sum_k (R_k - R_{k-1}) P_k`` over the distinct score
    thresholds, high to low (tied scores enter together). 0 when there is no positive."""
    truth = np.asarray(y_true, dtype=np.float64).reshape(-1)
    score = np.asarray(y_score, dtype=np.float64).reshape(-1)
    if len(truth) != len(score):
        raise UsageError(f"need one score per label, got {len(score)} and {len(truth)}")
    positives = truth.sum()
    if positives == 0:
        return 0.0
    order = np.argsort(-score, kind="stable")
    truth, score = truth[order], score[order]
    tp = np.cumsum(truth)
    last_of_tie = np.r_[np.nonzero(np.diff(score))[0], len(score) - 1]
    tp_at, n_at = tp[last_of_tie], last_of_tie + 1.0
    precision = tp_at / n_at
    recall = tp_at / positives
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def onset_ap(
    gen_onsets: Sequence[float] | np.ndarray,
    gen_confidence: Sequence[float] | np.ndarray,
    ref_onsets: Sequence[float] | np.ndarray,
    tolerance: float = 0.1,
) -> float:
    """Onset AP of one clip (AvSyncDiff Table 2, our reading above) in [0, 1].

    ``gen_confidence``: one score per generated onset (``ml.onsets.onset_confidence``).
    """
    g, r = _times(gen_onsets, "generated onsets"), _times(ref_onsets, "reference onsets")
    conf = np.asarray(gen_confidence, dtype=np.float64).reshape(-1)
    if len(conf) != len(g):
        raise UsageError(f"need one confidence per generated onset, got {len(conf)} for {len(g)}")
    if len(g) == 0 or len(r) == 0:
        return 0.0
    unused = set(range(len(g)))
    labels: list[int] = []
    scores: list[float] = []
    for ref_time in np.sort(r):
        near = [i for i in unused if abs(g[i] - ref_time) < tolerance]
        labels.append(1)
        if near:
            best = max(near, key=lambda i: (conf[i], -abs(g[i] - ref_time)))
            unused.discard(best)
            scores.append(float(conf[best]))
        else:
            scores.append(0.0)
    for i in sorted(unused):
        labels.append(0)
        scores.append(float(conf[i]))
    return average_precision(labels, scores)


# ---------------------------------------------------------------------------------------------
# Relevance and distribution


def _top_sets(
    scores_or_labels: np.ndarray | Sequence[Sequence[int]], top_n: int, n_items: int
) -> list[set[int]]:
    if isinstance(scores_or_labels, np.ndarray) and scores_or_labels.ndim == 2:
        scores = scores_or_labels
        if top_n <= 0 or top_n > scores.shape[1]:
            raise UsageError(f"top_n must be in 1..{scores.shape[1]} classes, got {top_n}")
        top = np.argsort(-scores, axis=1, kind="stable")[:, :top_n]
        return [set(int(c) for c in row) for row in top]
    sets = [set(int(c) for c in labels) for labels in scores_or_labels]
    if len(sets) != n_items:
        raise UsageError(f"need {n_items} reference label sets, got {len(sets)}")
    return sets


def ssms(
    pred_scores: np.ndarray,
    ref: np.ndarray | Sequence[Sequence[int]],
    top_n: int = 3,
) -> float:
    """SSMS (SSV2A): mean over items of the F1 between the top-``top_n`` classes a classifier
    predicts for the generated audio and those of the reference, in [0, 1].

    ``pred_scores`` [N, C] classifier scores of generated audio. ``ref``: either an ndarray
    [N, C] of the reference audio's scores (its top-``top_n`` is taken, as in the paper) or, on
    FoleyWorld, a list of N lists of true label indices (any number each; an ndarray is always
    read as scores). Per item, TP = shared labels,
    FP = generated-only, FN = reference-only, F1 = 2TP / (2TP + FP + FN); SSV2A uses N = 10
    of VGGSound's 310 classes, we default to 3 of FoleyWorld's ~10.
    """
    pred = np.asarray(pred_scores, dtype=np.float64)
    if pred.ndim != 2 or len(pred) == 0:
        raise UsageError(f"pred_scores must be [N, C] with N >= 1, got shape {pred.shape}")
    pred_sets = _top_sets(pred, top_n, len(pred))
    if isinstance(ref, np.ndarray):
        ref = np.asarray(ref, dtype=np.float64)
        if ref.shape != pred.shape:
            raise UsageError(
                f"reference scores must have the shape of pred_scores {pred.shape}, got {ref.shape}"
            )
    ref_sets = _top_sets(ref, top_n, len(pred))
    f1s = []
    for p, r in zip(pred_sets, ref_sets, strict=True):
        total = len(p) + len(r)
        f1s.append(1.0 if total == 0 else 2 * len(p & r) / total)
    return float(np.mean(f1s))


def frechet_distance(emb_a: np.ndarray, emb_b: np.ndarray, eps: float = 1e-6) -> float:
    """Fréchet distance between Gaussians fitted to embeddings [N, D] and [M, D] (N, M >= 2):
    ``|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^{1/2})`` (as FID/FAD).

    Numerics: if the matrix square root is not finite (near-singular covariances, e.g. fewer
    samples than dimensions) it is retried with ``eps`` added to both diagonals; a tiny
    imaginary part from rounding is dropped, a large one is an error. Result >= 0.
    """
    a = np.asarray(emb_a, dtype=np.float64)
    b = np.asarray(emb_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise UsageError(f"embeddings must be [N, D] and [M, D] with the same D, got {a.shape} and {b.shape}")
    if len(a) < 2 or len(b) < 2:
        raise UsageError("the Fréchet distance needs at least 2 embeddings on each side")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    covmean = linalg.sqrtm(cov_a @ cov_b)
    if not np.all(np.isfinite(covmean)):
        offset = np.eye(len(cov_a)) * eps
        covmean = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    if np.iscomplexobj(covmean):
        if np.max(np.abs(covmean.imag)) > 1e-3 * max(1.0, np.max(np.abs(covmean.real))):
            raise UsageError(
                "Fréchet distance: the covariance square root is not real (degenerate embeddings)"
            )
        covmean = covmean.real
    diff = mu_a - mu_b
    value = diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(covmean)
    return float(max(value, 0.0))


# ---------------------------------------------------------------------------------------------
# Video side


def video_motion_peaks(
    motion_energy: Sequence[float] | np.ndarray,
    fps: float,
    *,
    start: float = 0.0,
    threshold: float = 1e-3,
) -> np.ndarray:
    """Times (s) of the video "peaks" AV-Align compares audio onsets with: strict local maxima
    of a per-frame motion series (``MotionFeatures.energy`` or ``.onset``) above ``threshold``
    (mean absolute grey difference; 1e-3 ≈ codec noise). Frame ``i`` is at ``start + i/fps``.

    The original AV-Align uses the same rule on mean optical-flow magnitude (threshold 0.1 px);
    motion energy stands in for optical flow (docs/architecture.md §7.2).
    """
    x = np.asarray(motion_energy, dtype=np.float64).reshape(-1)
    if fps <= 0:
        raise UsageError(f"fps must be positive, got {fps}")
    if len(x) < 3:
        return np.zeros(0)
    mid = x[1:-1]
    is_peak = (mid > x[:-2]) & (mid > x[2:]) & (mid > threshold)
    return start + (np.nonzero(is_peak)[0] + 1) / fps
