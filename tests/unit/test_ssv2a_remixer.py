"""Remixer ψ, Efficient Attention, Cycle Mix (Algorithm 1), Temporal Aggregation and the
inference entry ``mix_embedding`` (SSV2A §3.3, App. A.2.2)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from foleystudio.errors import UsageError
from foleystudio.ml.ssv2a.manifold import CMSSManifold, ManifoldConfig
from foleystudio.ml.ssv2a.remixer import (
    EfficientAttention,
    Remixer,
    RemixerConfig,
    cycle_mix,
    drop_tokens,
    make_tokens,
    pad_sources,
    temporal_positions,
)
from foleystudio.ml.ssv2a.sources import PerceivedSource, frame_tokens, mix_embedding

MANIFOLD = ManifoldConfig(
    clip_dim=12, audio_dim=10, joint_dim=8, projector_widths=(16,), reconstructor_widths=(16,), dropout=0.0
)
REMIXER = RemixerConfig(
    joint_dim=8, clip_dim=12, audio_dim=10, width=16, heads=2, head_hidden=(16,), max_sources=5, dropout=0.0
)


def _models(seed: int = 0) -> tuple[CMSSManifold, Remixer]:
    return CMSSManifold(MANIFOLD, seed=seed).eval(), Remixer(REMIXER, seed=seed).eval()


def _tokens(n: int, seed: int, rows: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    sets = [torch.randn(n, REMIXER.token_dim, generator=g) for _ in range(rows)]
    return pad_sources(sets, REMIXER.max_sources)


def test_efficient_attention_matches_its_definition_and_ignores_padding():
    torch.manual_seed(0)
    attn = EfficientAttention(4, heads=1)
    x = torch.randn(1, 3, 4)
    mask = torch.tensor([[True, True, False]])
    out = attn(x, mask)
    q, k, v = attn.query(x[0]), attn.key(x[0, :2]), attn.value(x[0, :2])
    context = k.softmax(dim=0).T @ v  # softmax over the (real) keys, per channel: [d, d]
    expected = attn.out(q.softmax(dim=-1) @ context)
    assert torch.allclose(out[0], expected, atol=1e-6)
    other = x.clone()
    other[0, 2] = 100.0  # a padded token's value must not matter to the real ones
    assert torch.allclose(attn(other, mask)[0, :2], out[0, :2], atol=1e-6)


def test_remix_shape_norm_order_and_padding_invariance():
    _, r = _models()
    tokens, mask = _tokens(3, seed=1)
    out = r.remix(tokens, mask)
    assert out.shape == (2, 10)
    assert torch.allclose(out.norm(dim=-1), torch.ones(2), atol=1e-5)
    permuted = tokens.clone()
    permuted[:, :3] = tokens[:, [2, 0, 1]]
    assert torch.allclose(r.remix(permuted, mask), out, atol=1e-5)
    wider, wider_mask = pad_sources([tokens[0, :3], tokens[1, :3]], 9)
    assert torch.allclose(r.remix(wider, wider_mask), out, atol=1e-5)
    with pytest.raises(UsageError):
        pad_sources([torch.zeros(6, REMIXER.token_dim)], 5)


def test_token_dropout():
    mask = torch.ones(200, 4, dtype=torch.bool)
    assert torch.equal(drop_tokens(mask, 0.0), mask)
    assert not drop_tokens(mask, 1.0).any()
    half = drop_tokens(mask, 0.5, torch.Generator().manual_seed(0))
    assert 0.4 < half.float().mean() < 0.6
    assert torch.equal(half, drop_tokens(mask, 0.5, torch.Generator().manual_seed(0)))
    padded = torch.tensor([[True, False]])
    assert not drop_tokens(padded, 0.0)[0, 1]  # padding stays off
    # Every token dropped = the unconditional output, whatever the tokens were.
    _, r = _models()
    a, _ = _tokens(3, seed=1, rows=1)
    b, _ = _tokens(3, seed=2, rows=1)
    none = torch.zeros(1, REMIXER.max_sources, dtype=torch.bool)
    assert torch.allclose(r.remix(a, none), r.remix(b, none))
    full = torch.zeros(1, REMIXER.max_sources, dtype=torch.bool)
    full[0, :3] = True
    dropped = r(a, full, token_drop=1.0, sample=False).mean
    assert torch.allclose(dropped, r.psi(a, none, sample=False).mean)


def test_remixer_learns_a_mixture_rule():
    """Target = normalise(Σ_m W e_m) of 1–3 sources; ψ must beat the global-mean baseline."""
    g = torch.Generator().manual_seed(0)
    w = torch.randn(8, 10, generator=g)

    def batch(n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        sets, targets = [], []
        for _ in range(n):
            k = int(torch.randint(1, 4, (1,), generator=g))
            e = F.normalize(torch.randn(k, 8, generator=g), dim=-1)
            sets.append(make_tokens(e, torch.zeros(k, 12)))
            targets.append(F.normalize((e @ w).sum(0), dim=0))
        tokens, mask = pad_sources(sets, REMIXER.max_sources)
        return tokens, mask, torch.stack(targets)

    config = RemixerConfig(**{**REMIXER.to_dict(), "width": 32, "token_drop": 0.0, "kl_weight": 1e-4})
    r = Remixer(config, seed=0)
    opt = torch.optim.AdamW(r.parameters(), lr=3e-3)
    seen = []
    for _ in range(200):
        tokens, mask, target = batch(32)
        seen.append(target)
        loss, _ = r.loss(tokens, mask, target, g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    r.eval()
    tokens, mask, target = batch(200)
    baseline = F.normalize(torch.cat(seen).mean(0), dim=0)
    with torch.no_grad():
        learned = float(F.cosine_similarity(r.remix(tokens, mask), target).mean())
    assert learned > 0.85
    assert learned > float(F.cosine_similarity(baseline[None], target).mean()) + 0.3


@torch.no_grad()
def _reference_cycle_mix(m, r, tokens, mask, iterations, samples, gen):
    """Algorithm 1 written out line by line for one row (the test's reading of the paper)."""
    real = int(mask[0].sum())
    e = tokens[0, :real, : REMIXER.joint_dim]
    a_src = m.reconstruct(e)
    best, s, extra = None, 0.0, None
    for _ in range(iterations):
        toks = tokens[0, :real]
        if extra is not None:
            toks = torch.cat([toks, extra[None]])
        t, k = pad_sources([toks], REMIXER.max_sources)
        a_mix = r.draw(t, k, samples, gen)[:, 0]  # N samples of ψ
        d = (a_mix @ a_src.T).mean(dim=1)  # 1/M Σ_m sim(a_mix^n, a_src^m)
        if float(d.max()) > s:
            best = a_mix[int(d.argmax())]
            s = float(d.max())
            extra = make_tokens(m.embed_audio(best[None]), None, REMIXER.clip_dim)[0]
    return best


def test_cycle_mix_follows_algorithm_1():
    m, r = _models()
    tokens, mask = _tokens(3, seed=3, rows=1)
    got = cycle_mix(m, r, tokens, mask, iterations=4, samples=6, generator=torch.Generator().manual_seed(7))
    want = _reference_cycle_mix(m, r, tokens, mask, 4, 6, torch.Generator().manual_seed(7))
    assert want is not None
    assert torch.allclose(got[0], want, atol=1e-5)


def test_cycle_mix_seeds_and_zero_iterations():
    m, r = _models()
    tokens, mask = _tokens(2, seed=4)
    plain = r.remix(tokens, mask)
    assert torch.equal(cycle_mix(m, r, tokens, mask, iterations=0, samples=8), plain)
    a = cycle_mix(m, r, tokens, mask, iterations=3, samples=8, generator=torch.Generator().manual_seed(1))
    b = cycle_mix(m, r, tokens, mask, iterations=3, samples=8, generator=torch.Generator().manual_seed(1))
    c = cycle_mix(m, r, tokens, mask, iterations=3, samples=8, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.allclose(a.norm(dim=-1), torch.ones(2), atol=1e-5)
    full, full_mask = _tokens(REMIXER.max_sources, seed=5)
    with pytest.raises(UsageError, match="free token slot"):
        cycle_mix(m, r, full, full_mask, iterations=1, samples=2)


def test_temporal_positions_follow_eqs_11_12():
    pos = temporal_positions(torch.tensor([1, 2, 64]), 10)
    assert pos.shape == (3, 10)
    for row, t in enumerate((1, 2, 64)):
        for i in range(5):
            assert pos[row, 2 * i] == pytest.approx(math.sin(t / 1024 ** (2 * i / 10)), abs=1e-6)
            assert pos[row, 2 * i + 1] == pytest.approx(math.cos(t / 1024 ** (2 * i / 10)), abs=1e-6)


def test_temporal_aggregation_masks_absent_frames():
    _, r = _models()
    frames = F.normalize(torch.randn(2, 6, 10), dim=-1)
    present = torch.tensor([[True] * 4 + [False] * 2] * 2)
    out = r.temporal_embed(frames, present)
    assert out.shape == (2, 10) and torch.allclose(out.norm(dim=-1), torch.ones(2), atol=1e-5)
    changed = frames.clone()
    changed[:, 4:] = 5.0
    assert torch.allclose(r.temporal_embed(changed, present), out, atol=1e-5)
    shuffled = frames[:, [1, 0, 2, 3, 4, 5]]  # positions make ω order-aware
    assert not torch.allclose(r.temporal_embed(shuffled, present), out, atol=1e-4)


def test_mix_embedding_paths_and_determinism():
    m, r = _models()
    g = torch.Generator().manual_seed(0)
    text, audio = torch.randn(12, generator=g), torch.randn(10, generator=g)
    static = [PerceivedSource.text(text, "rain"), PerceivedSource.audio(audio, "ref.wav")]
    out = mix_embedding(m, r, static)
    assert out.shape == (1, 10) and float(out.norm()) == pytest.approx(1.0, abs=1e-5)
    tokens, mask = pad_sources(
        [
            torch.cat(
                [
                    make_tokens(m.embed_clip(text[None]), text[None]),
                    make_tokens(m.embed_audio(audio[None]), None, 12),
                ]
            )
        ],
        REMIXER.max_sources,
    )
    assert torch.allclose(out, r.remix(tokens, mask), atol=1e-6)  # T = 0: plain remix
    crops = torch.randn(6, 12, generator=g)
    valid = torch.tensor([False, True, True, True, False, False])
    obj = PerceivedSource.object(crops, valid, "dog")
    a = mix_embedding(
        m, r, [obj, *static], cycle_iters=2, cycle_samples=4, generator=torch.Generator().manual_seed(3)
    )
    b = mix_embedding(
        m, r, [obj, *static], cycle_iters=2, cycle_samples=4, generator=torch.Generator().manual_seed(3)
    )
    assert torch.equal(a, b) and a.shape == (1, 10)
    # Object only: frames without the object take no part, whatever their crops hold.
    alone = mix_embedding(m, r, [obj])
    other = crops.clone()
    other[0] = 9.0
    assert torch.allclose(mix_embedding(m, r, [PerceivedSource.object(other, valid)]), alone, atol=1e-6)
    toks, msk = frame_tokens(m, r, crops[None], valid[None], torch.zeros(0, REMIXER.token_dim))
    frames = torch.zeros(6, 10)
    frames[valid] = r.remix(toks[valid], msk[valid])
    assert torch.allclose(alone, r.temporal_embed(frames[None], valid[None]), atol=1e-6)


def test_mix_embedding_rejects_bad_sources():
    m, r = _models()
    with pytest.raises(UsageError, match="no sound sources"):
        mix_embedding(m, r, [])
    with pytest.raises(UsageError, match="text source 1 'x'"):
        mix_embedding(m, r, [PerceivedSource.text(torch.randn(7), "x")])
    with pytest.raises(UsageError, match="zero"):
        mix_embedding(m, r, [PerceivedSource.audio(torch.zeros(10))])
    with pytest.raises(UsageError, match="not visible"):
        mix_embedding(m, r, [PerceivedSource.object(torch.zeros(4, 12))])
    with pytest.raises(UsageError, match="frames"):
        mix_embedding(
            m, r, [PerceivedSource.object(torch.randn(4, 12)), PerceivedSource.object(torch.randn(5, 12))]
        )
    with pytest.raises(UsageError, match="maximum"):
        mix_embedding(m, r, [PerceivedSource.text(torch.randn(12))] * 5, cycle_iters=1)
    with pytest.raises(UsageError, match="unknown kind"):
        mix_embedding(m, r, [PerceivedSource("video", torch.randn(12))])
