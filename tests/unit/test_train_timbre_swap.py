"""Timbre-swap training rows: another category's voice at the row's own events, its embedding
as the mix, the caption hidden and the mix never dropped."""

from __future__ import annotations

import math

import pytest
import torch

from foleystudio.errors import UsageError
from foleystudio.train.timbre_swap import (
    MelLayout,
    SwapPool,
    TimbreSwapSettings,
    onset_frames,
    swapped_log_mel,
    swapped_references,
    with_timbre_swaps,
)

LAYOUT = MelLayout(patch=4, n_mels=6, norm_mean=-5.0, norm_std=2.0, floor=1e-5, frame_rate=62.5)
N_TOKENS = 40
SILENCE = math.log(LAYOUT.floor)


def _stem(starts: list[int], spectrum: list[float], decay: float) -> torch.Tensor:
    """Log-mel frames [N·patch, n_mels]: at each start a strike with ``spectrum`` (log levels
    per bin) decaying by ``decay`` per frame, over silence."""
    frames = torch.full((N_TOKENS * LAYOUT.patch, LAYOUT.n_mels), SILENCE)
    for s in starts:
        for f in range(s, len(frames)):
            frames[f] = torch.logaddexp(frames[f], torch.tensor(spectrum) - decay * (f - s))
    return frames


def _onsets(starts: list[int]) -> torch.Tensor:
    out = torch.zeros(N_TOKENS)
    out[[s // LAYOUT.patch for s in starts]] = 1.0
    return out


A_STARTS = [10, 41, 70, 103]  # frames, category a
B_STARTS = [21, 90]  # category b
A_SPECTRUM = [1.0, 0.5, 0.0, -2.0, -4.0, -6.0]  # low and dull
B_SPECTRUM = [-6.0, -4.0, -2.0, 0.0, 0.5, 1.0]  # high and bright


def _cache() -> tuple[list[dict[str, str]], dict[str, torch.Tensor]]:
    examples = [
        {"clip": "c0", "kind": "mix", "category": "a"},
        {"clip": "c0", "kind": "object", "category": "a"},
        {"clip": "c1", "kind": "object", "category": "b"},
        {"clip": "c2", "kind": "object", "category": "a"},
        {"clip": "c3", "kind": "object", "category": "b"},  # no onsets: cannot lend or take
    ]
    stems = [
        _stem(A_STARTS, A_SPECTRUM, 0.3),
        _stem(A_STARTS, A_SPECTRUM, 0.3),
        _stem(B_STARTS, B_SPECTRUM, 0.1),
        _stem(A_STARTS[:2], A_SPECTRUM, 0.3),
        _stem([], B_SPECTRUM, 0.1),
    ]
    onsets = [
        _onsets(A_STARTS),
        _onsets(A_STARTS),
        _onsets(B_STARTS),
        _onsets(A_STARTS[:2]),
        torch.zeros(N_TOKENS),
    ]
    tensors = {
        "tokens": torch.stack([LAYOUT.tokens(s) for s in stems]),
        "onsets": torch.stack(onsets),
        "audio_embedding": torch.eye(5, 8),
    }
    return examples, tensors


def test_pool_pairs_objects_of_other_categories_with_events():
    examples, tensors = _cache()
    pool = SwapPool.from_examples(examples, tensors["onsets"])
    assert pool.partners == ((), (2,), (1, 3), (2,), ())


def test_onset_frames_find_where_each_strike_starts():
    stem = _stem(A_STARTS, A_SPECTRUM, 0.3)
    assert onset_frames(stem, _onsets(A_STARTS), LAYOUT.patch) == A_STARTS
    tokens = LAYOUT.tokens(stem)
    assert tokens.shape == (N_TOKENS, LAYOUT.patch * LAYOUT.n_mels)
    assert torch.allclose(LAYOUT.log_mel(tokens), stem, atol=1e-5)


def test_a_swapped_sound_has_the_voice_at_the_rows_own_events_and_their_levels():
    a = _stem(A_STARTS, A_SPECTRUM, 0.3)
    voice = _stem([0], B_SPECTRUM, 0.1)[:30]
    out = swapped_log_mel(a, A_STARTS, voice, LAYOUT)
    level = torch.logsumexp(out, dim=1)
    rise = level[1:] - level[:-1]
    # Attacks exactly on the row's own starts, nowhere else; silence before the first.
    attacks = (torch.nonzero(rise > 1.0).flatten() + 1).tolist()
    assert attacks == A_STARTS
    assert torch.allclose(out[: A_STARTS[0]], torch.full_like(out[: A_STARTS[0]], SILENCE))
    # The sound is the voice's: bright where the row was dull.
    at = A_STARTS[1]
    assert int(torch.argmax(out[at])) == LAYOUT.n_mels - 1 and int(torch.argmax(a[at])) == 0
    # Each strike peaks at the level the row's own strike reached there (give or take the
    # previous strike's tail, which runs two frames into the next).
    for s in A_STARTS:
        assert abs(float(level[s]) - float(torch.logsumexp(a, dim=1)[s])) < 0.1


def test_chosen_rows_are_swapped_with_the_partners_embedding_and_timing_kept():
    examples, tensors = _cache()
    pool = SwapPool.from_examples(examples, tensors["onsets"])
    rows = torch.tensor([0, 1, 2, 3, 4] * 4)
    batch = {k: v[rows] for k, v in tensors.items()}
    out = with_timbre_swaps(
        batch,
        rows,
        tensors,
        pool,
        LAYOUT,
        TimbreSwapSettings(swap_prob=1.0),
        torch.Generator().manual_seed(0),
    )
    swapped = out["timbre_swapped"]
    assert swapped.tolist() == [False, True, True, True, False] * 4
    for i, row in enumerate(rows.tolist()):
        partner = int(out["swap_partner"][i])
        if not swapped[i]:
            assert partner == -1 and torch.equal(out["tokens"][i], batch["tokens"][i])
            assert torch.equal(out["audio_embedding"][i], batch["audio_embedding"][i])
            continue
        assert partner in pool.partners[row]
        assert torch.equal(out["audio_embedding"][i], tensors["audio_embedding"][partner])
        mel = LAYOUT.log_mel(out["tokens"][i])
        own = onset_frames(LAYOUT.log_mel(tensors["tokens"][row]), tensors["onsets"][row], LAYOUT.patch)
        assert onset_frames(mel, tensors["onsets"][row], LAYOUT.patch) == own
    assert torch.equal(out["onsets"], batch["onsets"])  # the timing is the row's own
    none = with_timbre_swaps(
        batch,
        rows,
        tensors,
        pool,
        LAYOUT,
        TimbreSwapSettings(swap_prob=0.0),
        torch.Generator().manual_seed(0),
    )
    assert not none["timbre_swapped"].any() and torch.equal(none["tokens"], batch["tokens"])
    assert not out["swap_hides_picture"].any()  # hide_picture 0
    hidden = with_timbre_swaps(
        batch,
        rows,
        tensors,
        pool,
        LAYOUT,
        TimbreSwapSettings(swap_prob=1.0, hide_picture=0.5),
        torch.Generator().manual_seed(0),
    )["swap_hides_picture"]
    assert not hidden[~swapped].any() and 0.2 < float(hidden[swapped].float().mean()) < 0.8


def test_a_swapped_rows_reference_is_its_voice():
    examples, tensors = _cache()
    tokens = tensors["tokens"]
    batch = {
        "ref_audio": torch.zeros(3, 5, tokens.shape[2]),
        "ref_mask": torch.tensor([[True] * 5, [True] * 5, [False] * 5]),
        "swap_partner": torch.tensor([2, -1, 2]),
    }
    out = swapped_references(batch, tokens, torch.Generator().manual_seed(0))
    crop = out["ref_audio"][0]
    assert any(torch.equal(crop, tokens[2, s : s + 5]) for s in range(N_TOKENS - 4))
    assert not out["ref_audio"][1:].any()  # not swapped / no reference: unchanged


def test_swapped_rows_hide_the_caption_and_never_drop_the_mix():
    from foleystudio.ml.flowley import Flowley
    from foleystudio.ml.flowley.conditions import Conditions
    from foleystudio.ml.flowley.config import flowley_config
    from foleystudio.ml.flowley.flow import FlowTrainingConfig, training_loss
    from foleystudio.train.flowley import batch_conditions

    b = 4
    batch = {
        "visual": torch.zeros(b, 4, 8),
        "text": torch.zeros(b, 2, 8),
        "text_mask": torch.ones(b, 2, dtype=torch.bool),
        "text_pooled": torch.zeros(b, 8),
        "sync": torch.zeros(b, 6, 5),
        "audio_embedding": torch.ones(b, 8),
        "timbre_swapped": torch.tensor([True, False, True, False]),
    }
    cond = batch_conditions(batch, torch.device("cpu"), with_mix=True)
    cpu = torch.device("cpu")
    assert cond.keep_mask("text", b, cpu).tolist() == [False, True, False, True]
    assert cond.keep_mask("visual", b, cpu).all() and cond.keep_mask("mix", b, cpu).all()
    hidden = batch_conditions(
        {**batch, "swap_hides_picture": torch.tensor([True, False, False, False])}, cpu, with_mix=True
    )
    assert hidden.keep_mask("visual", b, cpu).tolist() == [False, True, True, True]
    assert hidden.keep_mask("sync", b, cpu).all()

    # training_loss drops the mix of every row (probability 1) except those it must keep.
    config = flowley_config("debug", mix_dim=8)
    model = Flowley(config)
    seen: list[torch.Tensor] = []

    def record(module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
        seen.append(args[2].keep_mask("mix", b, cpu))

    model.register_forward_pre_hook(record, with_kwargs=True)
    conditions = Conditions(
        sync=torch.zeros(b, 16, config.sync_dim), mix=torch.nn.functional.normalize(torch.ones(b, 8), dim=-1)
    )
    x1 = torch.randn(b, 16, config.latent_dim)
    flow = FlowTrainingConfig(drop_probs={"mix": 1.0}, inpaint_prob=0.0)
    training_loss(model, x1, conditions, torch.Generator().manual_seed(0), flow)
    training_loss(
        model,
        x1,
        conditions,
        torch.Generator().manual_seed(0),
        flow,
        always_keep={"mix": batch["timbre_swapped"]},
    )
    assert seen[0].tolist() == [False] * 4
    assert seen[1].tolist() == [True, False, True, False]


def test_settings_are_checked():
    assert not TimbreSwapSettings().enabled and TimbreSwapSettings(swap_prob=0.3).enabled
    with pytest.raises(UsageError):
        TimbreSwapSettings(swap_prob=1.5)
    with pytest.raises(UsageError):
        TimbreSwapSettings(max_voice_s=0.0)
    with pytest.raises(UsageError):
        TimbreSwapSettings(hide_picture=-0.1)
    with pytest.raises(UsageError):
        MelLayout.from_codec({"type": "dac"})
