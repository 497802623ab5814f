"""SSV2A App. A.3 at our scale: does the CMSS manifold close the modality gap and cluster sources?

Two checks, each on raw embeddings (CLIP crops vs audio-encoder embeddings), on the CMSS
embeddings (``v(clip)`` vs ``φ(audio)``) and on the reconstructed audio embeddings
(``χ(v(clip))`` vs ``χ(φ(audio))``):

- **Discriminant test** (A.3.2): a linear binary classifier predicts the modality of each
  sample. The paper fits JMP's discriminant in-sample; with 128-d embeddings and 40 samples
  any two sets are linearly separable in-sample, so we fit an L2-regularised logistic
  regression and score it on held-out folds (stratified k-fold). Reported: percent
  misclassified (↑ = gap closed), entropy R² = 1 − LL/LL_null (↓; can go below 0 out of
  sample), −2·log-likelihood (↑), per category (20 + 20 samples, as the paper) and averaged.
  Also the modality-gap distance of Liang et al. (‖mean(first) − mean(second)‖ of unit vectors).
- **Partition coefficient** (A.3.3, eq. 13): ``PC = 1/N Σ_i Σ_j u_ij²`` over both modalities,
  clusters = categories, ``u_ij`` = cosine to the category centroid rescaled from [−1, 1] to
  [0, 1] (the paper's definition; note it grows when *all* points draw together, so we also
  give the classic fuzzy PC with memberships normalised to sum 1, in [1/M, 1]).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from scipy.optimize import minimize

from foleystudio.errors import UsageError
from foleystudio.ml.ssv2a.manifold import CMSSManifold


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def modality_gap(first: np.ndarray, second: np.ndarray) -> float:
    """Distance between the centroids of two sets of l2-normalised embeddings [N, D], [M, D]."""
    return float(np.linalg.norm(_unit(first).mean(axis=0) - _unit(second).mean(axis=0)))


def _fit_logistic(x: np.ndarray, y: np.ndarray, l2: float) -> np.ndarray:
    """Weights [D + 1] (last: bias) minimising mean log-loss + l2/2·|w|² (L-BFGS)."""
    xb = np.hstack([x, np.ones((len(x), 1))])

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = xb @ w
        loss = np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * l2 * np.sum(w[:-1] ** 2)
        p = 1.0 / (1.0 + np.exp(-z))
        grad = xb.T @ (p - y) / len(y)
        grad[:-1] += l2 * w[:-1]
        return float(loss), grad

    return minimize(objective, np.zeros(xb.shape[1]), jac=True, method="L-BFGS-B").x


def discriminant_test(
    first: np.ndarray, second: np.ndarray, *, folds: int = 5, l2: float = 1e-3, seed: int = 0
) -> dict[str, float]:
    """Held-out linear discrimination of ``first`` [N, D] (label 0) from ``second`` [M, D]
    (label 1): ``percent_misclassified``, ``entropy_r2``, ``neg2_log_likelihood``, ``n``."""
    a, b = _unit(first), _unit(second)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise UsageError(f"need two [N, D] sets with the same D, got {a.shape} and {b.shape}")
    if min(len(a), len(b)) < folds:
        raise UsageError(f"need at least {folds} samples of each modality, got {len(a)} and {len(b)}")
    x = np.vstack([a, b])
    y = np.concatenate([np.zeros(len(a)), np.ones(len(b))])
    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), dtype=np.int64)
    for label in (0, 1):  # stratified: each fold holds both modalities
        rows = rng.permutation(np.nonzero(y == label)[0])
        fold[rows] = np.arange(len(rows)) % folds
    prob = np.empty(len(y))
    for k in range(folds):
        test = fold == k
        w = _fit_logistic(x[~test], y[~test], l2)
        prob[test] = 1.0 / (1.0 + np.exp(-(np.hstack([x[test], np.ones((test.sum(), 1))]) @ w)))
    p_true = np.clip(np.where(y == 1, prob, 1.0 - prob), 1e-12, 1.0)
    ll = float(np.sum(np.log(p_true)))
    base = y.mean()
    ll_null = float(np.sum(y * np.log(base) + (1 - y) * np.log(1 - base)))
    return {
        "percent_misclassified": float(100.0 * np.mean((prob >= 0.5) != (y == 1))),
        "entropy_r2": 1.0 - ll / ll_null,
        "neg2_log_likelihood": -2.0 * ll,
        "n": int(len(y)),
    }


def partition_coefficient(
    embeddings: np.ndarray, labels: Sequence[str], *, normalise_memberships: bool = False
) -> float:
    """Eq. 13 with u_ij = (cos(x_i, centroid_j) + 1) / 2 over the label clusters; with
    ``normalise_memberships`` each sample's u is divided by its sum (classic fuzzy PC)."""
    x = _unit(embeddings)
    names = sorted(set(labels))
    if len(names) < 2:
        raise UsageError("the partition coefficient needs at least 2 categories")
    index = np.array([names.index(label) for label in labels])
    centroids = _unit(np.stack([x[index == j].mean(axis=0) for j in range(len(names))]))
    u = (x @ centroids.T + 1.0) / 2.0
    if normalise_memberships:
        u = u / u.sum(axis=1, keepdims=True)
    return float(np.mean(np.sum(u**2, axis=1)))


def _pick(labels: Sequence[str], per_category: int, max_categories: int, seed: int) -> dict[str, np.ndarray]:
    counts = Counter(labels)
    top = [c for c, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n >= 5][:max_categories]
    rng = np.random.default_rng(seed)
    picked = {}
    for category in top:
        rows = np.nonzero(np.asarray(labels) == category)[0]
        picked[category] = np.sort(rng.choice(rows, size=min(per_category, len(rows)), replace=False))
    return picked


def _space_report(
    first: np.ndarray, second: np.ndarray, picked: dict[str, np.ndarray], labels: np.ndarray, seed: int
) -> dict[str, Any]:
    per_category = {c: discriminant_test(first[r], second[r], seed=seed) for c, r in picked.items()}
    rows = np.concatenate(list(picked.values()))
    union = np.vstack([first[rows], second[rows]])
    union_labels = list(labels[rows]) * 2
    keys = ("percent_misclassified", "entropy_r2", "neg2_log_likelihood")
    return {
        "modality_gap": modality_gap(first[rows], second[rows]),
        "discriminant_mean": {k: float(np.mean([d[k] for d in per_category.values()])) for k in keys},
        "discriminant_all": discriminant_test(first[rows], second[rows], seed=seed),
        "discriminant_per_category": per_category,
        "partition_coefficient": partition_coefficient(union, union_labels),
        "partition_coefficient_normalised": partition_coefficient(
            union, union_labels, normalise_memberships=True
        ),
    }


@torch.no_grad()
def manifold_check(
    manifold: CMSSManifold,
    clip: torch.Tensor | np.ndarray,
    audio: torch.Tensor | np.ndarray,
    labels: Sequence[str],
    *,
    per_category: int = 20,
    max_categories: int = 16,
    seed: int = 0,
) -> dict[str, Any]:
    """A.3 on paired single-source samples: ``clip`` [N, clip_dim] (crop embeddings), ``audio``
    [N, audio_dim] (the same sources' sound), ``labels`` [N] categories. Uses up to
    ``per_category`` samples of each of the ``max_categories`` most frequent categories
    (paper: 20 of 16). Returns ``{"raw" | "cmss" | "reconstructed": report, "categories",
    "samples_per_category"}``; each report has ``modality_gap``, ``discriminant_mean``,
    ``discriminant_all``, ``discriminant_per_category``, ``partition_coefficient`` and
    ``partition_coefficient_normalised``. Raw spaces of different widths are compared after
    projecting the wider one on its principal components (as the paper's PCA 768 → 512).
    """
    clip_t = torch.as_tensor(clip, dtype=torch.float32)
    audio_t = torch.as_tensor(audio, dtype=torch.float32)
    if len(clip_t) != len(audio_t) or len(clip_t) != len(labels):
        raise UsageError(
            f"clip ({len(clip_t)}), audio ({len(audio_t)}) and labels ({len(labels)}) must pair up"
        )
    picked = _pick(list(labels), per_category, max_categories, seed)
    if len(picked) < 2:
        raise UsageError("the manifold check needs at least 2 categories with 5 or more samples")
    device = next(manifold.parameters()).device
    was_training = manifold.training
    manifold.eval()
    try:
        c, a = clip_t.to(device), audio_t.to(device)
        ec, ea = manifold.embed_clip(c), manifold.embed_audio(a)
        rc, ra = manifold.reconstruct(ec), manifold.reconstruct(ea)
    finally:
        manifold.train(was_training)
    raw_c, raw_a = clip_t.numpy(), audio_t.numpy()
    if raw_c.shape[1] != raw_a.shape[1]:
        k = min(raw_c.shape[1], raw_a.shape[1])
        wide = raw_c if raw_c.shape[1] > k else raw_a
        centred = wide - wide.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        reduced = centred @ vt[:k].T
        raw_c, raw_a = (reduced, raw_a) if wide is raw_c else (raw_c, reduced)
    names = np.asarray(labels)
    return {
        "raw": _space_report(raw_c, raw_a, picked, names, seed),
        "cmss": _space_report(ec.cpu().numpy(), ea.cpu().numpy(), picked, names, seed),
        "reconstructed": _space_report(rc.cpu().numpy(), ra.cpu().numpy(), picked, names, seed),
        "categories": sorted(picked),
        "samples_per_category": {c: int(len(r)) for c, r in picked.items()},
    }
