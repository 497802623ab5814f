"""The Flowley network: shapes under every condition combination, nulls, batching, configs."""

from __future__ import annotations

import itertools

import pytest
import torch

from foleystudio.errors import CheckpointError, GenerationError, UsageError
from foleystudio.ml.flowley import CONDITION_NAMES, Conditions, Flowley, FlowleyConfig, flowley_config
from tests.unit.flowley_helpers import debug_model, make_conditions, noise_like

GROUPS = ("visual", "text", "sync", "mix", "ref")


def test_every_combination_of_conditions_gives_the_right_shapes() -> None:
    model = debug_model()
    config = model.config
    x = noise_like(config)
    t = torch.tensor([0.3, 0.8])
    outputs = []
    with torch.no_grad():
        for present in itertools.product([False, True], repeat=len(GROUPS) + 1):
            groups = tuple(g for g, on in zip(GROUPS, present[:-1], strict=True) if on)
            cond = make_conditions(config, groups=groups, context=present[-1])
            out = model(x, t, cond)
            assert out.velocity.shape == x.shape, groups
            assert torch.isfinite(out.velocity).all(), groups
            if "sync" in groups:
                assert out.onset_logits is not None and out.onset_logits.shape == (2, config.num_audio_tokens)
            else:
                assert out.onset_logits is None
            outputs.append(out.velocity)
    # Conditions matter: the outputs are not all the same.
    assert len({round(float(v.sum()), 3) for v in outputs}) > 32


@pytest.mark.parametrize("group", GROUPS)
def test_a_dropped_condition_equals_an_absent_one(group: str) -> None:
    model = debug_model()
    config = model.config
    x = noise_like(config)
    t = torch.tensor([0.2, 0.6])
    full = make_conditions(config)
    without = make_conditions(config, groups=tuple(g for g in GROUPS if g != group))
    with torch.no_grad():
        dropped = model(x, t, full.dropped([group])).velocity
        absent = model(x, t, without).velocity
        kept = model(x, t, full).velocity
    assert torch.allclose(dropped, absent, atol=1e-5)
    assert (dropped - kept).abs().max() > 1e-3  # dropping changes the result


def test_keep_masks_act_per_row() -> None:
    model = debug_model()
    config = model.config
    x = noise_like(config)
    t = torch.tensor([0.5, 0.5])
    cond = make_conditions(config)
    half = cond.with_keep("visual", torch.tensor([True, False]))
    with torch.no_grad():
        mixed = model(x, t, half).velocity
        kept = model(x, t, cond).velocity
        dropped = model(x, t, cond.dropped(["visual"])).velocity
    assert torch.allclose(mixed[0], kept[0], atol=1e-5)
    assert torch.allclose(mixed[1], dropped[1], atol=1e-5)


def test_batched_rows_do_not_influence_each_other() -> None:
    model = debug_model()
    config = model.config
    a = make_conditions(config, batch=1, seed=1, text_length=5)
    b = make_conditions(config, batch=1, seed=2, text_length=3, groups=("visual", "text", "sync"))
    x = noise_like(config, batch=2)
    t = torch.tensor([0.4, 0.9])
    both = Conditions.concat([a, b])
    assert both.text.shape[1] == 5 and not both.text_mask[1, 3:].any()
    assert both.keep["mix"].tolist() == [True, False] and both.keep["ref"].tolist() == [True, False]
    with torch.no_grad():
        together = model(x, t, both).velocity
        alone_a = model(x[:1], t[:1], a).velocity
        alone_b = model(x[1:], t[1:], b).velocity
    # Batched and single-row matmuls may sum in another order: equal to float32 rounding.
    assert torch.allclose(together[:1], alone_a, rtol=1e-5, atol=1e-4)
    assert torch.allclose(together[1:], alone_b, rtol=1e-5, atol=1e-4)


def test_forward_is_deterministic_and_window_start_invariant() -> None:
    model = debug_model()
    config = model.config
    cond = make_conditions(config)
    x = noise_like(config)
    t = torch.tensor([0.1, 0.9])
    with torch.no_grad():
        first = model(x, t, cond).velocity
        second = model(x, t, cond).velocity
        # The same window 100 s later in the video (all times shifted) gives the same result.
        later = cond.replace(audio_start=torch.full((2,), 100.0), visual_times=cond.visual_times + 100.0)
        shifted = model(x, t, later).velocity
        # A visual clock offset changes the result (PSCA and RoPE see time).
        offset = model(x, t, cond.replace(visual_times=cond.visual_times + 0.5)).velocity
    assert torch.equal(first, second)
    assert torch.allclose(first, shifted, atol=1e-4)
    assert (first - offset).abs().max() > 1e-3


def test_all_visual_attention_modes_and_no_ref_run() -> None:
    for mode in ("psca", "plain", "none"):
        model = debug_model(visual_attention=mode, ref_audio=False, text_attention=mode != "none")
        cond = make_conditions(model.config)
        with torch.no_grad():
            out = model(noise_like(model.config), torch.tensor([0.5, 0.5]), cond)
        assert out.velocity.shape == (2, model.config.num_audio_tokens, model.config.latent_dim)


def test_mismatched_conditions_are_clear_errors() -> None:
    model = debug_model()
    config = model.config
    x = noise_like(config)
    t = torch.tensor([0.5, 0.5])
    cond = make_conditions(config)
    with pytest.raises(GenerationError, match="'visual'.*channels"):
        model(x, t, cond.replace(visual=torch.zeros(2, 4, config.clip_dim + 1)))
    with pytest.raises(GenerationError, match="'sync' covers"):
        model(x, t, cond.replace(sync=torch.zeros(2, 3, config.sync_dim)))
    with pytest.raises(GenerationError, match="batch"):
        model(x, t, cond.replace(mix=torch.zeros(3, config.mix_dim)))
    with pytest.raises(GenerationError, match="context_mask"):
        model(x, t, cond.replace(context=torch.zeros_like(x)))
    with pytest.raises(GenerationError, match="channels"):
        model(torch.zeros(2, config.num_audio_tokens, 3), t, cond)
    with pytest.raises(GenerationError, match="unknown condition"):
        Conditions(keep={"video": torch.ones(2, dtype=torch.bool)})


def test_unconditional_branch_and_negative_prompt() -> None:
    config = flowley_config("debug")
    cond = make_conditions(config)
    uncond = cond.unconditional()
    assert [uncond.keep[g].tolist() for g in ("visual", "text", "mix", "sync")] == [[False, False]] * 4
    assert "ref" not in uncond.keep  # not guided
    negative = torch.randn(1, 4, config.text_token_dim)
    with_negative = cond.unconditional(
        negative_text=negative, negative_text_pooled=torch.randn(1, config.text_pooled_dim)
    )
    assert with_negative.keep["text"].tolist() == [True, True]
    assert with_negative.text.shape == (2, 4, config.text_token_dim) and with_negative.text_mask.all()
    assert with_negative.keep["visual"].tolist() == [False, False]
    repeated = cond.repeat(3)
    assert repeated.batch_size() == 6 and torch.equal(repeated.mix[0], repeated.mix[2])


def test_named_configs_and_their_sizes() -> None:
    tiny = flowley_config("tiny")
    assert tiny.num_audio_tokens == 125 and tiny.num_visual_tokens == 64 and tiny.latent_dim == 320
    assert 2.5e6 < Flowley(tiny).num_parameters() < 4e6
    assert Flowley(flowley_config("debug")).num_parameters() < 150_000
    small = flowley_config("small")
    assert small.num_audio_tokens == 250 and small.latent_dim == 160
    assert flowley_config("tiny", visual_attention="plain").visual_attention == "plain"
    with pytest.raises(UsageError, match="unknown Flowley config"):
        flowley_config("huge")
    with pytest.raises(UsageError, match="visual_attention"):
        flowley_config("debug", visual_attention="cross")


def test_config_dict_round_trip() -> None:
    config = flowley_config("debug", single_depth=3)
    assert FlowleyConfig.from_dict(config.to_dict()) == config
    with pytest.raises(CheckpointError, match="unknown fields"):
        FlowleyConfig.from_dict({**config.to_dict(), "wings": 2})
    with pytest.raises(CheckpointError, match="bad network config"):
        FlowleyConfig.from_dict({**config.to_dict(), "hidden": 33})


def test_beta_starts_on_a_progressive_schedule() -> None:
    model = Flowley(flowley_config("debug", single_depth=3, beta_first=0.5, beta_last=0.9))
    betas = [float(block.beta.detach()) for block in model.single_blocks]
    assert betas == pytest.approx([0.5, 0.7, 0.9], abs=1e-5)


def test_condition_names_are_the_documented_ones() -> None:
    assert CONDITION_NAMES == GROUPS
