"""CMSS manifold (SSV2A §3.2): shapes, CCMR mask, contrastive learning, and the A.3 check."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from foleystudio.errors import UsageError
from foleystudio.ml.ssv2a.analysis import (
    discriminant_test,
    manifold_check,
    modality_gap,
    partition_coefficient,
)
from foleystudio.ml.ssv2a.manifold import CMSSManifold, ManifoldConfig, VariationalOutput, ccmr_mask

TINY = ManifoldConfig(
    clip_dim=12,
    audio_dim=10,
    joint_dim=16,
    projector_widths=(32, 32),
    reconstructor_widths=(24, 32),
    dropout=0.0,
)


def _paired_set(n_per: int, categories: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Paired clip/audio embeddings: per item a latent z (category centre + its own offset),
    seen through unrelated random linear maps, so raw clip·audio similarity carries no pairing."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(categories, 8, generator=g)
    maps = torch.Generator().manual_seed(1234)
    to_clip, to_audio = torch.randn(8, 12, generator=maps), torch.randn(8, 10, generator=maps)
    labels = torch.arange(categories).repeat_interleave(n_per)
    z = centres[labels] + 0.6 * torch.randn(len(labels), 8, generator=g)
    clip = F.normalize(z @ to_clip + 0.05 * torch.randn(len(z), 12, generator=g), dim=-1)
    audio = F.normalize(z @ to_audio + 0.05 * torch.randn(len(z), 10, generator=g), dim=-1)
    return clip, audio, [f"c{int(k)}" for k in labels]


def test_shapes_unit_norm_and_eval_is_the_mean():
    m = CMSSManifold(TINY, seed=0).eval()
    clip, audio = torch.randn(5, 12), torch.randn(5, 10)
    e_clip, e_audio = m.embed_clip(clip), m.embed_audio(audio)
    assert e_clip.shape == (5, 16) and e_audio.shape == (5, 16)
    recon = m.reconstruct(e_audio)
    assert recon.shape == (5, 10)
    for x in (e_clip, e_audio, recon):
        assert torch.allclose(x.norm(dim=-1), torch.ones(5), atol=1e-5)
    out = m.clip_projector(clip)
    assert isinstance(out, VariationalOutput) and torch.equal(out.sample, out.mean)
    assert torch.allclose(e_clip, F.normalize(out.mean, dim=-1))
    # Training mode samples: the same generator seed gives the same draw, another differs.
    m.train()
    a = m.clip_projector(clip, generator=torch.Generator().manual_seed(1)).sample
    b = m.clip_projector(clip, generator=torch.Generator().manual_seed(1)).sample
    c = m.clip_projector(clip, generator=torch.Generator().manual_seed(2)).sample
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_same_seed_same_weights_and_config_round_trip():
    a, b = CMSSManifold(TINY, seed=3), CMSSManifold(TINY, seed=3)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)
    assert ManifoldConfig.from_dict(TINY.to_dict()) == TINY


def test_ccmr_mask_matches_a_hand_computation():
    s = 1 / math.sqrt(2)
    clip = torch.tensor([[1.0, 0.0], [s, s], [-1.0, 0.0]])
    audio = torch.tensor([[1.0, 0.0], [0.6, 0.8], [1.0, 0.0]])
    literal = ccmr_mask(clip, audio, alpha=0.35, mask_positives=True)
    # Diagonal: sims 1·1 -> exp(-0.35) = 0.704688. Pair (0, 1): cos 0.707107 · 0.6 = 0.424264,
    # 0.424264^0.35 = 0.740752, exp(-0.35 · 0.740752) = 0.771620. Pairs with item 2 have a
    # negative CLIP similarity: clamped to 0 -> mask 1.
    expected = torch.tensor([[0.704688, 0.771620, 1.0], [0.771620, 0.704688, 1.0], [1.0, 1.0, 0.704688]])
    assert torch.allclose(literal, expected, atol=1e-5)
    # Default: only cross-pair entries are masked; each sample's own pair keeps weight 1.
    expected.fill_diagonal_(1.0)
    assert torch.allclose(ccmr_mask(clip, audio, alpha=0.35), expected, atol=1e-5)
    assert torch.equal(ccmr_mask(clip, audio, alpha=0.0), torch.ones(3, 3))  # α = 0: no regularisation


def test_ccmr_mask_enters_the_loss_as_an_elementwise_product():
    m = CMSSManifold(TINY, seed=0).eval()
    clip, audio = torch.randn(6, 12), torch.randn(6, 10)
    loss, parts = m.loss(clip, audio)
    ec, ea = m.embed_clip(clip), m.embed_audio(audio)
    logits = m.logit_scale.exp() * ec @ ea.T * ccmr_mask(clip, audio, 0.35)
    target = torch.arange(6)
    expected = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
    assert parts["contrastive"] == pytest.approx(float(expected.detach()), rel=1e-5)
    recon = 0.5 * (
        (1 - F.cosine_similarity(audio, m.reconstructor(ea).mean, dim=-1)).mean()
        + (1 - F.cosine_similarity(audio, m.reconstructor(ec).mean, dim=-1)).mean()
    )
    assert parts["reconstruction"] == pytest.approx(float(recon.detach()), rel=1e-5)
    total = parts["contrastive"] + parts["reconstruction"] + TINY.kl_weight * parts["kl"]
    assert float(loss.detach()) == pytest.approx(total, rel=1e-5)


def test_parameter_halves_are_disjoint_and_complete():
    m = CMSSManifold(TINY)
    proj = {id(p) for p in m.projector_parameters()}
    recon = {id(p) for p in m.reconstructor_parameters()}
    assert not proj & recon
    assert proj | recon == {id(p) for p in m.parameters()}


def test_contrastive_training_falls_and_retrieval_beats_chance():
    clip, audio, _ = _paired_set(12, 6, seed=0)
    val_clip, val_audio, _ = _paired_set(6, 6, seed=1)
    m = CMSSManifold(TINY, seed=0)
    opt = torch.optim.AdamW(m.parameters(), lr=5e-3)
    gen = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(100):
        rows = torch.randperm(len(clip), generator=gen)[:32]
        loss, parts = m.loss(clip[rows], audio[rows], gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
        m.clamp_logit_scale()
        losses.append(parts["contrastive"])
    assert np.mean(losses[-15:]) < 0.6 * np.mean(losses[:15])
    m.eval()
    with torch.no_grad():
        hits = (m.embed_clip(val_clip) @ m.embed_audio(val_audio).T).argmax(dim=1) == torch.arange(36)
        raw = (val_clip[:, :10] @ val_audio.T).argmax(dim=1) == torch.arange(36)
    chance = 1 / 36
    assert float(hits.float().mean()) > 6 * chance
    assert float(hits.float().mean()) > float(raw.float().mean())


def test_partition_coefficient_by_hand():
    x = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    # Centroids e1, e2; u = (cos + 1) / 2: own cluster 1, the other 0.5 -> Σ u² = 1.25.
    assert partition_coefficient(x, ["a", "a", "b", "b"]) == pytest.approx(1.25)
    # Normalised memberships (1, 0.5)/1.5 -> (4 + 1) / 9.
    assert partition_coefficient(x, ["a", "a", "b", "b"], normalise_memberships=True) == pytest.approx(5 / 9)
    with pytest.raises(UsageError):
        partition_coefficient(x, ["a"] * 4)


def test_discriminant_test_separates_a_gap_and_not_a_shuffle():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(30, 8)) + np.array([3.0] + [0] * 7)
    b = rng.normal(size=(30, 8)) - np.array([3.0] + [0] * 7)
    gap = discriminant_test(a, b)
    assert gap["percent_misclassified"] < 10 and gap["entropy_r2"] > 0.5
    same = discriminant_test(rng.normal(size=(30, 8)), rng.normal(size=(30, 8)))
    assert same["percent_misclassified"] > 25 and same["entropy_r2"] < 0.2
    assert same["neg2_log_likelihood"] > gap["neg2_log_likelihood"]
    assert modality_gap(a, b) > modality_gap(rng.normal(size=(30, 8)), rng.normal(size=(30, 8)))


def test_manifold_check_reports_every_space():
    clip, audio, labels = _paired_set(8, 3, seed=2)
    report = manifold_check(CMSSManifold(TINY, seed=0), clip, audio, labels, per_category=8)
    assert report["categories"] == ["c0", "c1", "c2"]
    for space in ("raw", "cmss", "reconstructed"):
        r = report[space]
        assert set(r) >= {"modality_gap", "discriminant_mean", "partition_coefficient"}
        assert 0.0 <= r["discriminant_mean"]["percent_misclassified"] <= 100.0
        assert 1.0 / 3 - 1e-9 <= r["partition_coefficient_normalised"] <= 1.0
    with pytest.raises(UsageError):
        manifold_check(CMSSManifold(TINY), clip[:5], audio, labels)
