"""Rectified-flow training and the samplers: loss parts, inpainting masks, learning, CFG, cancel."""

from __future__ import annotations

import pytest
import torch

from foleystudio.core.jobs import CancelToken
from foleystudio.core.settings import GenerationSettings
from foleystudio.errors import GenerationError, JobCancelled, UsageError
from foleystudio.ml.device import make_generator
from foleystudio.ml.flowley import (
    Conditions,
    Flowley,
    FlowTrainingConfig,
    flowley_config,
    network_evaluations,
    onset_token_targets,
    sample,
    sample_flow_times,
    training_loss,
)
from foleystudio.ml.flowley.flow import contiguous_span_mask
from foleystudio.ml.flowley.network import FlowleyOutput
from tests.unit.flowley_helpers import debug_model, make_conditions, noise_like

# -- training loss --------------------------------------------------------------------------


def test_flow_times_are_logit_normal_in_the_open_interval() -> None:
    t = sample_flow_times(4000, make_generator(0))
    assert float(t.min()) > 0.0 and float(t.max()) < 1.0
    assert float(t.mean()) == pytest.approx(0.5, abs=0.02)
    assert float((t - 0.5).abs().lt(0.25).float().mean()) > 0.6  # mass in the middle


def test_inpainting_masks_are_one_contiguous_span_of_80_percent() -> None:
    masked = contiguous_span_mask(64, 125, 0.8, make_generator(3))
    assert masked.shape == (64, 125)
    assert (masked.sum(1) == 100).all()
    for row in masked:
        idx = row.nonzero().flatten()
        assert int(idx[-1] - idx[0]) == 99  # contiguous
    starts = {int(row.nonzero()[0]) for row in masked}
    assert 0 in starts or len(starts) > 5  # offsets vary (prefix, suffix and middle spans)


def test_loss_parts_and_determinism() -> None:
    model = debug_model(perturb=0.0)
    config = model.config
    x1 = noise_like(config, batch=4, seed=9)
    cond = make_conditions(config, batch=4)
    onsets = (
        torch.rand(4, config.num_audio_tokens, generator=torch.Generator().manual_seed(1)) < 0.2
    ).float()
    loss_a, parts_a = training_loss(model, x1, cond, make_generator(5), onset_targets=onsets)
    loss_b, parts_b = training_loss(model, x1, cond, make_generator(5), onset_targets=onsets)
    loss_c, _ = training_loss(model, x1, cond, make_generator(6), onset_targets=onsets)
    assert torch.equal(loss_a, loss_b) and parts_a == parts_b
    assert not torch.equal(loss_a, loss_c)
    assert set(parts_a) == {"loss", "flow", "onset", "inpaint_fraction"}
    assert parts_a["onset"] > 0
    assert parts_a["loss"] == pytest.approx(parts_a["flow"] + 0.1 * parts_a["onset"], rel=1e-5)
    loss_a.backward()
    assert model.onset_head.weight.grad is not None and model.onset_head.weight.grad.abs().sum() > 0
    # β of every PSCA layer is trained.
    assert all(block.beta_raw.grad is not None for block in model.single_blocks)


def test_without_sync_or_targets_there_is_no_onset_loss() -> None:
    model = debug_model()
    config = model.config
    cond = make_conditions(config, groups=("visual", "text"))
    _, parts = training_loss(
        model, noise_like(config), cond, make_generator(0), onset_targets=torch.zeros(2, 16)
    )
    assert parts["onset"] == 0.0
    with pytest.raises(UsageError, match="onset targets"):
        training_loss(
            model,
            noise_like(config),
            make_conditions(config),
            make_generator(0),
            onset_targets=torch.zeros(2, 3),
        )


def test_inpainting_loss_covers_only_the_masked_tokens() -> None:
    model = debug_model()
    config = model.config
    x1 = noise_like(config, seed=3)
    cond = make_conditions(config, groups=("visual",))
    all_inpaint = FlowTrainingConfig(drop_prob=0.0, inpaint_prob=1.0, mask_ratio=0.5)
    _, parts = training_loss(model, x1, cond, make_generator(0), all_inpaint)
    assert parts["inpaint_fraction"] == 1.0
    # A caller-given context is used as is: the loss covers only tokens whose mask is False.
    known = torch.ones(2, config.num_audio_tokens, dtype=torch.bool)
    known[:, 4:8] = False
    given = cond.replace(context=x1, context_mask=known)

    def exact_except_known(x_t: torch.Tensor, t: torch.Tensor, c: Conditions, **_: object) -> object:
        # Recover the exact target from x_t = (1 − t) x0 + t x1, then spoil the known tokens.
        x0 = (x_t - t[:, None, None] * x1) / (1 - t[:, None, None])
        velocity = (x1 - x0) + 100.0 * known[..., None].float()
        return FlowleyOutput(velocity, None)

    loss, parts = training_loss(exact_except_known, x1, given, make_generator(1))  # type: ignore[arg-type]
    assert float(loss) < 1e-6 and parts["inpaint_fraction"] == 1.0
    no_context = cond.replace(context=x1, context_mask=torch.zeros_like(known))
    loss, _ = training_loss(exact_except_known, x1, no_context, make_generator(1))  # type: ignore[arg-type]
    assert float(loss) > 1000.0  # now the spoiled tokens count


def test_onset_targets_mark_the_tokens_holding_an_onset() -> None:
    flags = onset_token_targets([10.0, 10.07, 10.5, 9.0, 19.0], num_tokens=125, token_rate=15.625, start=10.0)
    assert flags.shape == (125,)
    assert flags.nonzero().flatten().tolist() == [0, 1, 7]  # 0 s, 0.07 s → token 1, 0.5 s → token 7
    assert onset_token_targets([], 4, 15.625).sum() == 0


def test_bad_training_settings_are_usage_errors() -> None:
    with pytest.raises(UsageError):
        FlowTrainingConfig(inpaint_prob=1.5)
    with pytest.raises(UsageError, match="unknown conditions"):
        FlowTrainingConfig(drop_probs={"video": 0.1})


def test_a_debug_model_overfits_one_clip() -> None:
    """The training step really learns: the loss on one clip falls by more than 10x."""
    torch.manual_seed(0)
    config = flowley_config("debug")
    model = Flowley(config)
    g = make_generator(1)
    na = config.num_audio_tokens
    x1 = torch.randn(1, na, config.latent_dim, generator=g)
    onsets = (torch.rand(1, na, generator=g) < 0.2).float()
    cond = Conditions(
        visual=torch.randn(1, config.num_visual_tokens, config.clip_dim, generator=g),
        sync=onsets[..., None].repeat(1, 1, config.sync_dim)
        + 0.1 * torch.randn(1, na, config.sync_dim, generator=g),
    )
    batch_x, batch_cond, batch_onsets = x1.repeat(8, 1, 1), cond.repeat(8), onsets.repeat(8, 1)
    settings = FlowTrainingConfig(drop_prob=0.0, inpaint_prob=0.0)

    def held_out_loss() -> tuple[float, float]:
        eval_g = make_generator(123)
        with torch.no_grad():
            parts = [
                training_loss(model, batch_x, batch_cond, eval_g, settings, batch_onsets)[1] for _ in range(4)
            ]
        return sum(p["flow"] for p in parts) / 4, sum(p["onset"] for p in parts) / 4

    flow_before, onset_before = held_out_loss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    for _ in range(300):
        loss, _ = training_loss(model, batch_x, batch_cond, g, settings, batch_onsets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    flow_after, onset_after = held_out_loss()
    assert flow_before / flow_after > 10, (flow_before, flow_after)
    assert onset_after < onset_before / 10
    # Sampling from fresh noise now lands on the memorised clip.
    model.eval()
    out = sample(
        model,
        torch.randn(1, na, config.latent_dim, generator=make_generator(7)),
        cond,
        GenerationSettings(sync_cfg=1.0),
    )
    assert float((out - x1).pow(2).mean()) < 0.2 * float(x1.var())


# -- samplers -------------------------------------------------------------------------------


def test_sampling_is_deterministic_per_noise_and_shaped() -> None:
    model = debug_model()
    cond = make_conditions(model.config)
    a = sample(
        model, noise_like(model.config, seed=1), cond, GenerationSettings(steps=3, cfg=2.5, sync_cfg=1.0)
    )
    b = sample(
        model, noise_like(model.config, seed=1), cond, GenerationSettings(steps=3, cfg=2.5, sync_cfg=1.0)
    )
    c = sample(
        model, noise_like(model.config, seed=2), cond, GenerationSettings(steps=3, cfg=2.5, sync_cfg=1.0)
    )
    assert a.shape == noise_like(model.config).shape
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_cfg_with_every_condition_dropped_equals_the_unconditional_path() -> None:
    model = debug_model()
    cond = make_conditions(model.config)
    noise = noise_like(model.config)
    dropped = cond.dropped()
    guided = sample(model, noise, dropped, GenerationSettings(steps=4, cfg=4.0, sync_cfg=1.0))
    plain = sample(model, noise, dropped, GenerationSettings(steps=4, cfg=1.0, sync_cfg=1.0))
    unconditional = sample(model, noise, Conditions(), GenerationSettings(steps=4, sync_cfg=1.0))
    assert torch.allclose(guided, plain, atol=1e-5)
    assert torch.allclose(guided, unconditional, atol=1e-5)
    # With conditions, guidance changes the result.
    assert (
        sample(model, noise, cond, GenerationSettings(steps=4, cfg=4.0, sync_cfg=1.0))
        - sample(model, noise, cond, GenerationSettings(steps=4, sync_cfg=1.0))
    ).abs().max() > 1e-3


def test_cfg_matches_the_guidance_formula_on_one_step() -> None:
    model = debug_model()
    cond = make_conditions(model.config)
    noise = noise_like(model.config)
    w = 3.0
    with torch.no_grad():
        t0 = torch.zeros(2)
        v_c = model(noise, t0, cond).velocity
        v_u = model(noise, t0, cond.unconditional()).velocity
    expected = noise + (v_u + w * (v_c - v_u))
    assert torch.allclose(
        sample(model, noise, cond, GenerationSettings(steps=1, cfg=w, sync_cfg=1.0)), expected, atol=1e-5
    )


def test_sync_guidance_matches_its_formula_alone_and_with_cfg() -> None:
    model = debug_model()
    cond = make_conditions(model.config)
    noise = noise_like(model.config)
    with torch.no_grad():
        t0 = torch.zeros(2)
        v_c = model(noise, t0, cond).velocity
        v_u = model(noise, t0, cond.unconditional()).velocity
        v_s = model(noise, t0, cond.dropped(("sync",))).velocity
    assert (v_c - v_s).abs().max() > 1e-4  # the sync features matter to this model
    one = sample(model, noise, cond, GenerationSettings(steps=1, sync_cfg=3.0))
    assert torch.allclose(one, noise + v_s + 3.0 * (v_c - v_s), atol=1e-5)
    both = sample(model, noise, cond, GenerationSettings(steps=1, cfg=2.0, sync_cfg=3.0))
    assert torch.allclose(both, noise + v_u + 2.0 * (v_c - v_u) + 2.0 * (v_c - v_s), atol=1e-5)
    # Without sync features there is nothing to guide: the plain path.
    no_sync = cond.replace(sync=None)
    assert torch.equal(
        sample(model, noise, no_sync, GenerationSettings(steps=2, sync_cfg=3.0)),
        sample(model, noise, no_sync, GenerationSettings(steps=2, sync_cfg=1.0)),
    )


def test_mix_guidance_matches_its_formula_and_adds_to_sync_guidance() -> None:
    model = debug_model()
    cond = make_conditions(model.config)
    assert cond.present("mix")
    noise = noise_like(model.config)
    with torch.no_grad():
        t0 = torch.zeros(2)
        v_c = model(noise, t0, cond).velocity
        v_s = model(noise, t0, cond.dropped(("sync",))).velocity
        v_m = model(noise, t0, cond.dropped(("mix",))).velocity
    assert (v_c - v_m).abs().max() > 1e-4  # the mix condition matters to this model
    one = sample(model, noise, cond, GenerationSettings(steps=1, sync_cfg=1.0, mix_cfg=4.0))
    # (batched forwards differ in the last float bits, amplified 3x: 1e-5 failed once on a loaded CI)
    assert torch.allclose(one, noise + v_c + 3.0 * (v_c - v_m), atol=1e-4)
    both = sample(model, noise, cond, GenerationSettings(steps=1, sync_cfg=3.0, mix_cfg=4.0))
    # (the differences are amplified 5x, and batched forwards differ in the last float bits)
    assert torch.allclose(both, noise + v_c + 2.0 * (v_c - v_s) + 3.0 * (v_c - v_m), atol=1e-4)
    # Without a mix condition there is nothing to guide: the plain path.
    no_mix = cond.replace(mix=None)
    assert torch.equal(
        sample(model, noise, no_mix, GenerationSettings(steps=2, mix_cfg=4.0)),
        sample(model, noise, no_mix, GenerationSettings(steps=2, mix_cfg=1.0)),
    )


def test_negative_prompt_changes_the_unconditional_branch() -> None:
    model = debug_model()
    config = model.config
    cond = make_conditions(config)
    noise = noise_like(config)
    g = torch.Generator().manual_seed(4)
    negative = cond.unconditional(
        negative_text=torch.randn(1, 3, config.text_token_dim, generator=g),
        negative_text_pooled=torch.randn(1, config.text_pooled_dim, generator=g),
    )
    a = sample(model, noise, cond, GenerationSettings(steps=2, cfg=3.0, sync_cfg=1.0))
    b = sample(model, noise, cond, GenerationSettings(steps=2, cfg=3.0, sync_cfg=1.0), uncond=negative)
    assert (a - b).abs().max() > 1e-4
    # The batched CFG forward equals separate forwards of the prompt and the negative prompt.
    with torch.no_grad():
        t0 = torch.zeros(2)
        v_c = model(noise, t0, cond).velocity
        v_n = model(noise, t0, negative).velocity
    assert torch.allclose(
        sample(model, noise, cond, GenerationSettings(steps=1, cfg=3.0, sync_cfg=1.0), uncond=negative),
        noise + v_n + 3.0 * (v_c - v_n),
        atol=1e-5,
    )
    with pytest.raises(GenerationError, match="negative prompt does not"):
        cond.unconditional(negative_text=torch.randn(1, 3, config.text_token_dim))


def test_progress_every_step_and_cancel_between_steps() -> None:
    model = debug_model()
    cond = make_conditions(model.config)
    reports: list[tuple[float, str]] = []
    sample(
        model,
        noise_like(model.config),
        cond,
        GenerationSettings(steps=5, sampler="heun", sync_cfg=1.0),
        progress=lambda f, m: reports.append((f, m)),
    )
    assert [f for f, _ in reports] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert reports[-1][1] == "sampling step 5/5"
    token = CancelToken()

    def cancel_after_two(fraction: float, message: str) -> None:
        reports.append((fraction, message))
        if len(reports) == 7:
            token.cancel()

    with pytest.raises(JobCancelled):
        sample(
            model,
            noise_like(model.config),
            cond,
            GenerationSettings(steps=6),
            progress=cancel_after_two,
            cancel=token,
        )
    assert len(reports) == 7  # stopped before step 3


def test_heun_uses_more_evaluations_and_differs_from_euler() -> None:
    assert network_evaluations(8, "euler") == 8 and network_evaluations(8, "heun") == 15
    model = debug_model()
    cond = make_conditions(model.config)
    noise = noise_like(model.config)
    calls = []
    original = model.forward

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return original(*args, **kwargs)

    model.forward = counting  # type: ignore[method-assign]
    heun = sample(model, noise, cond, GenerationSettings(steps=4, sampler="heun", sync_cfg=1.0))
    assert len(calls) == 7
    euler = sample(model, noise, cond, GenerationSettings(steps=4, sync_cfg=1.0))
    assert (heun - euler).abs().max() > 1e-5
    with pytest.raises(UsageError, match=r"Sampler \(--sampler\) must be one of euler, heun"):
        GenerationSettings(sampler="ddim")
    with pytest.raises(UsageError, match=r"Steps \(--steps\) must be between 1 and"):
        GenerationSettings(steps=0)


def test_an_explicit_unconditional_branch_shares_the_context() -> None:
    model = debug_model()
    cond = make_conditions(model.config, context=True)
    noise = noise_like(model.config)
    bare = make_conditions(model.config).unconditional()  # no context of its own
    assert torch.equal(
        sample(model, noise, cond, GenerationSettings(steps=2, cfg=2.0, sync_cfg=1.0), uncond=bare),
        sample(model, noise, cond, GenerationSettings(steps=2, cfg=2.0, sync_cfg=1.0)),
    )


def test_inpainting_keeps_the_known_tokens() -> None:
    model = debug_model()
    cond = make_conditions(model.config, context=True)
    out = sample(model, noise_like(model.config), cond, GenerationSettings(steps=3, cfg=2.0, sync_cfg=1.0))
    known = cond.context_mask
    assert torch.equal(out[known], cond.context[known])
    assert not torch.equal(out[~known], cond.context[~known])


def test_empty_conditions_and_batch_mismatches() -> None:
    model = debug_model()
    config = model.config
    noise = noise_like(config)
    # No condition at all: guidance has nothing to contrast and changes nothing.
    assert torch.equal(
        sample(model, noise, Conditions(), GenerationSettings(steps=2, cfg=3.0, sync_cfg=1.0)),
        sample(model, noise, Conditions(), GenerationSettings(steps=2, sync_cfg=1.0)),
    )
    # A negative prompt against no prompt still runs as one batched forward.
    negative = Conditions(text=torch.randn(2, 3, config.text_token_dim))
    steered = sample(
        model, noise, Conditions(), GenerationSettings(steps=2, cfg=3.0, sync_cfg=1.0), uncond=negative
    )
    assert (
        steered - sample(model, noise, Conditions(), GenerationSettings(steps=2, sync_cfg=1.0))
    ).abs().max() > 1e-4
    with pytest.raises(GenerationError, match="batch"):
        sample(model, noise, make_conditions(config, batch=3), GenerationSettings(steps=1))
    with pytest.raises(GenerationError, match="batch"):
        sample(
            model,
            noise,
            Conditions(),
            GenerationSettings(steps=1, cfg=2.0),
            uncond=Conditions(text=torch.randn(1, 3, config.text_token_dim)),
        )


def test_uniform_time_fraction_reaches_the_ends_of_the_path(monkeypatch) -> None:
    """With uniform_time_prob = 1 the flow times cover (0, 1) evenly; logit-normal does not."""
    import foleystudio.ml.flowley.flow as flow

    seen: list[torch.Tensor] = []
    model = debug_model()
    real_forward = model.forward

    def spy(x, t, cond, **kw):
        seen.append(t.detach().clone())
        return real_forward(x, t, cond, **kw)

    monkeypatch.setattr(model, "forward", spy)
    config = model.config
    x1 = noise_like(config, batch=256, seed=3)
    cond = make_conditions(config, batch=256)
    for prob in (0.0, 1.0):
        training_loss(model, x1, cond, make_generator(0), flow.FlowTrainingConfig(uniform_time_prob=prob))
    logit_normal, uniform = seen
    assert (logit_normal < 0.1).float().mean() < 0.05
    assert 0.05 < (uniform < 0.1).float().mean() < 0.2


def test_data_prediction_gives_the_velocity_its_clean_latent_implies() -> None:
    # A data-predicting network returns x̂₁ and the velocity (x̂₁ − x_t)/(1 − t); one Euler
    # step from t to 1 therefore lands exactly on x̂₁.
    model = debug_model(prediction="data")
    config = model.config
    cond = make_conditions(config)
    x = noise_like(config)
    t = torch.tensor([0.25, 0.75])
    with torch.no_grad():
        out = model(x, t, cond)
    assert out.data is not None and out.data.shape == x.shape
    expected = (out.data - x) / (1 - t)[:, None, None]
    assert torch.allclose(out.velocity, expected, atol=1e-5)
    landed = x + (1 - t)[:, None, None] * out.velocity
    assert torch.allclose(landed, out.data, atol=1e-5)
    # A velocity-predicting network has no data output.
    assert debug_model(prediction="velocity")(x, t, cond).data is None


def test_data_prediction_loss_is_the_velocity_loss_with_a_capped_weight() -> None:
    config = flowley_config("debug", prediction="data")
    x1 = noise_like(config, seed=3)
    cond = make_conditions(config, groups=())
    err = 0.5

    def off_by_constant(x_t: torch.Tensor, t: torch.Tensor, c: Conditions, **_: object) -> FlowleyOutput:
        # Predicts x1 + err everywhere: the loss must be err² / max(1 − t, 0.05)² per row.
        data = x1 + err
        return FlowleyOutput((data - x_t) / (1 - t)[:, None, None], None, data)

    no_inpaint = FlowTrainingConfig(drop_prob=0.0, inpaint_prob=0.0)
    loss, _ = training_loss(off_by_constant, x1, cond, make_generator(5), no_inpaint)  # type: ignore[arg-type]
    # Redraw the same times: x0 first, then t, from the same generator.
    g = make_generator(5)
    torch.randn(x1.shape, generator=g)
    t = torch.sigmoid(torch.randn(x1.shape[0], generator=g))
    expected = (err**2 / (1 - t).clamp(min=0.05) ** 2).mean()
    assert abs(float(loss) - float(expected)) < 1e-4 * float(expected)
