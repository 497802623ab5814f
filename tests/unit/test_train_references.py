"""Reference-audio training rows: which rows get a reference, where it comes from, and that
it never tells the target's timing."""

from __future__ import annotations

import pytest
import torch

from foleystudio.errors import UsageError
from foleystudio.train.reference_audio import ReferencePool, ReferenceSettings, with_references

RATE = 10.0  # tokens per second


def _examples() -> list[dict[str, str]]:
    return [
        {"clip": "a", "kind": "mix", "category": "ball_wood,bell"},
        {"clip": "a", "kind": "object", "category": "ball_wood"},
        {"clip": "b", "kind": "object", "category": "ball_wood"},
        {"clip": "c", "kind": "object", "category": "bell"},
    ]


def _tokens() -> torch.Tensor:
    # Each row's tokens hold its row number in channel 0 and the token index in channel 1.
    rows, n = 4, 80
    out = torch.zeros(rows, n, 2)
    out[:, :, 0] = torch.arange(rows)[:, None].float()
    out[:, :, 1] = torch.arange(n).float()
    return out


def test_pool_pairs_objects_of_one_category_across_clips():
    pool = ReferencePool.from_examples(_examples())
    assert pool.objects == (False, True, True, True)
    assert pool.partners == ((), (2,), (1,), ())


def test_references_come_from_the_same_kind_of_sound_and_are_cropped():
    tokens = _tokens()
    rows = torch.tensor([0, 1, 2, 3] * 8)
    batch = {"tokens": tokens[rows]}
    settings = ReferenceSettings(ref_prob=1.0, own_prob=0.5, min_seconds=1.5, max_seconds=4.0)
    out = with_references(
        batch,
        rows,
        tokens,
        ReferencePool.from_examples(_examples()),
        RATE,
        settings,
        torch.Generator().manual_seed(0),
    )
    ref, mask = out["ref_audio"], out["ref_mask"]
    assert ref.shape == (32, 40, 2) and mask.shape == (32, 40)
    sources = set()
    for i, row in enumerate(rows.tolist()):
        length = int(mask[i].sum())
        if row == 0:
            assert length == 0  # a mix row gets none
            continue
        assert 15 <= length <= 40 and bool(mask[i, :length].all())
        origin = set(ref[i, :length, 0].tolist())
        assert len(origin) == 1
        origin_row = int(origin.pop())
        allowed = {1: {1, 2}, 2: {1, 2}, 3: {3}}[row]
        assert origin_row in allowed
        sources.add((row, origin_row))
        # A crop of consecutive tokens (an own-stem crop may wrap round once).
        steps = torch.diff(ref[i, :length, 1])
        assert bool(((steps == 1) | (steps == -79)).all())
    assert (1, 1) in sources and (1, 2) in sources  # own stem and another clip's
    assert not out["hide_picture"].any()  # hide_prob 0
    hidden = with_references(
        batch,
        rows,
        tokens,
        ReferencePool.from_examples(_examples()),
        RATE,
        ReferenceSettings(ref_prob=1.0, hide_prob=0.5),
        torch.Generator().manual_seed(0),
    )["hide_picture"]
    # Only rows with a reference are hidden, about half of them.
    assert not hidden[rows == 0].any() and 0.2 < float(hidden[rows != 0].float().mean()) < 0.8


def test_no_reference_when_disabled_share_and_settings_checked():
    tokens = _tokens()
    rows = torch.tensor([1, 2, 3])
    out = with_references(
        {"tokens": tokens[rows]},
        rows,
        tokens,
        ReferencePool.from_examples(_examples()),
        RATE,
        ReferenceSettings(ref_prob=0.0),
        torch.Generator().manual_seed(0),
    )
    assert not out["ref_mask"].any()
    assert not ReferenceSettings().enabled
    with pytest.raises(UsageError):
        ReferenceSettings(ref_prob=1.5)
    with pytest.raises(UsageError):
        ReferenceSettings(min_seconds=5.0, max_seconds=4.0)


def test_a_silenced_reference_path_changes_nothing_until_it_learns():
    from foleystudio.ml.flowley import Flowley
    from foleystudio.ml.flowley.conditions import Conditions
    from foleystudio.ml.flowley.config import flowley_config
    from foleystudio.train.reference_audio import silence_reference_path

    torch.manual_seed(0)
    model = Flowley(flowley_config("debug")).eval()
    for layer in (model.output, model.final_modulation[-1], model.modulation[-1]):
        torch.nn.init.normal_(layer.weight, std=0.02)  # a "trained" model: outputs depend on inputs
    cfg = model.config
    x = torch.randn(2, 16, cfg.latent_dim)
    ref = torch.randn(2, 7, cfg.latent_dim)
    plain = Conditions(sync=torch.randn(2, 16, cfg.sync_dim))
    with_ref = plain.replace(ref_audio=ref, ref_mask=torch.ones(2, 7, dtype=torch.bool))
    with torch.no_grad():
        assert not torch.allclose(model(x, 0.4, plain).velocity, model(x, 0.4, with_ref).velocity, atol=1e-5)
        silence_reference_path(model)
        np_plain, np_ref = model(x, 0.4, plain).velocity, model(x, 0.4, with_ref).velocity
    assert torch.allclose(np_plain, np_ref, atol=1e-5)
    model.train()
    model(x, 0.4, with_ref).velocity.square().mean().backward()
    assert float(model.ref_proj.weight.grad.abs().sum()) > 0


def test_reference_path_trained_reads_the_latest_run_settings(tmp_path):
    import json

    from foleystudio.train.reference_audio import reference_path_trained

    assert not reference_path_trained(tmp_path)  # no log at all
    lines = [
        {"event": "start", "settings": {"references": {"ref_prob": 0.0}}},
        {"event": "train", "step": 1},
        {"event": "resume", "settings": {"references": {"ref_prob": 0.5}}},
    ]
    (tmp_path / "log.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    assert reference_path_trained(tmp_path)
    (tmp_path / "log.jsonl").write_text(json.dumps(lines[0]) + "\n")
    assert not reference_path_trained(tmp_path)


def test_hidden_rows_drop_picture_text_and_mix_but_keep_the_timing():
    from foleystudio.train.flowley import batch_conditions

    b = 3
    batch = {
        "visual": torch.zeros(b, 4, 8),
        "text": torch.zeros(b, 2, 8),
        "text_mask": torch.ones(b, 2, dtype=torch.bool),
        "text_pooled": torch.zeros(b, 8),
        "sync": torch.zeros(b, 6, 5),
        "audio_embedding": torch.ones(b, 8),
        "hide_picture": torch.tensor([True, False, True]),
    }
    cond = batch_conditions(batch, torch.device("cpu"), with_mix=True)
    for name in ("visual", "text", "mix"):
        assert cond.keep_mask(name, b, torch.device("cpu")).tolist() == [False, True, False]
    assert cond.keep_mask("sync", b, torch.device("cpu")).all()
