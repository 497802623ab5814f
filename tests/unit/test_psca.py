"""PSCA (docs/architecture.md §5): the piecewise mask, its bias, attention through SDPA, the bias cache."""

from __future__ import annotations

import math

import pytest
import torch

from foleystudio.core.settings import GenerationSettings
from foleystudio.ml.flowley import PscaBiasCache, clamp_omega, psca_bias, psca_mask, sample
from foleystudio.ml.flowley.psca import EPSILON, min_omega, psca_attention
from tests.unit.flowley_helpers import debug_model, make_conditions, noise_like


def reference_mask(d: float, omega: float, delta: float, beta: float) -> float:
    """The poster's formula, written out scalar by scalar."""
    if d <= omega:
        return 1.0
    if d <= omega + delta:
        return beta * 0.5 * (math.cos(math.pi * (d - omega) / delta) + 1.0)
    return 0.0


def mask_at(distances: list[float], omega: float, delta: float, beta: float) -> torch.Tensor:
    audio = torch.tensor([[5.0]], dtype=torch.float64)
    visual = 5.0 + torch.tensor([distances], dtype=torch.float64)
    return psca_mask(audio, visual, omega, delta, beta)[0, 0]


@pytest.mark.parametrize(
    "omega,delta,beta", [(0.25, 0.5, 1.0), (0.25, 0.5, 0.6), (0.1, 0.05, 0.3), (0.5, 1.0, 0.9)]
)
def test_mask_equals_the_piecewise_formula_around_the_edges(omega: float, delta: float, beta: float) -> None:
    tiny = 1e-9
    distances = [
        0.0,
        omega / 2,
        omega - tiny,
        omega,
        omega + tiny,
        omega + delta / 4,
        omega + delta / 2,
        omega + delta - tiny,
        omega + delta,
        omega + delta + tiny,
        omega + delta + 1.0,
    ]
    got = mask_at(distances, omega, delta, beta)
    want = torch.tensor([reference_mask(d, omega, delta, beta) for d in distances], dtype=torch.float64)
    assert torch.allclose(got, want, atol=1e-12), (got, want)
    # Spot values: full weight up to ω, β just past it, β/2 half way, 0 at the end.
    assert got[3] == 1.0
    assert got[4] == pytest.approx(beta, abs=1e-6)
    assert got[6] == pytest.approx(beta / 2, abs=1e-12)
    assert got[8] == pytest.approx(0.0, abs=1e-12) and got[9] == 0.0


def test_mask_is_symmetric_in_time_and_batched() -> None:
    audio = torch.tensor([[1.0, 2.0], [0.0, 3.0]], dtype=torch.float64)
    visual = torch.tensor([[0.7, 1.3, 2.6], [0.0, 3.4, 2.6]], dtype=torch.float64)
    mask = psca_mask(audio, visual, 0.25, 0.5, 0.8)
    assert mask.shape == (2, 2, 3)
    for b in range(2):
        for i in range(2):
            for j in range(3):
                d = abs(float(audio[b, i] - visual[b, j]))
                assert float(mask[b, i, j]) == pytest.approx(reference_mask(d, 0.25, 0.5, 0.8), abs=1e-12)


def test_hard_window_when_delta_is_zero() -> None:
    got = mask_at([0.0, 0.25, 0.2500001, 1.0], 0.25, 0.0, 0.5)
    assert got.tolist() == [1.0, 1.0, 0.0, 0.0]


def test_bias_is_log_of_mask_plus_epsilon_and_beta_has_a_gradient() -> None:
    audio = torch.linspace(0, 2, 9, dtype=torch.float64)[None]
    visual = torch.linspace(0, 2, 5, dtype=torch.float64)[None]
    beta = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    bias = psca_bias(audio, visual, 0.2, 0.4, beta)
    mask = psca_mask(audio, visual, 0.2, 0.4, 0.7)
    assert torch.allclose(bias, torch.log(mask + EPSILON))
    assert float(bias.detach().min()) == pytest.approx(math.log(EPSILON))
    bias.sum().backward()
    assert beta.grad is not None and float(beta.grad) > 0


def test_omega_is_clamped_to_half_a_visual_frame() -> None:
    assert min_omega(8.0) == 0.0625
    assert clamp_omega(0.0, 8.0) == 0.0625
    assert clamp_omega(0.3, 8.0) == 0.3
    with pytest.raises(ValueError):
        psca_mask(torch.zeros(1, 1), torch.zeros(1, 1), -0.1, 0.5)


def test_attention_applies_the_bias_through_sdpa() -> None:
    g = torch.Generator().manual_seed(0)
    q = torch.randn(1, 2, 6, 8, generator=g)
    k = torch.randn(1, 2, 4, 8, generator=g)
    v = torch.randn(1, 2, 4, 8, generator=g)
    audio = torch.linspace(0, 1, 6, dtype=torch.float64)[None]
    visual = torch.linspace(0, 1, 4, dtype=torch.float64)[None]
    bias = psca_bias(audio, visual, 0.1, 0.2, 0.5).float()[:, None]
    out = psca_attention(q, k, v, bias)
    weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(8) + bias, dim=-1)
    assert torch.allclose(out, weights @ v, atol=1e-5)


def attention_weights(omega: float, delta: float) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    q = torch.randn(10, 8, generator=g)
    k = torch.randn(16, 8, generator=g)
    audio = torch.linspace(0, 2, 10, dtype=torch.float64)
    visual = torch.linspace(0, 2, 16, dtype=torch.float64)
    bias = psca_bias(audio, visual, omega, delta, 0.8).float()
    return torch.softmax(q @ k.T / math.sqrt(8) + bias, dim=-1)


def test_omega_and_delta_change_the_attention_weights() -> None:
    base = attention_weights(0.1, 0.2)
    wider = attention_weights(0.5, 0.2)
    longer = attention_weights(0.1, 1.0)
    assert (base - wider).abs().max() > 0.05
    assert (base - longer).abs().max() > 0.05
    # A wider window spreads attention over more frames: the far-away mass grows.
    audio = torch.linspace(0, 2, 10)[:, None]
    visual = torch.linspace(0, 2, 16)[None, :]
    far = (audio - visual).abs() > 0.6
    assert (wider * far).sum() > (base * far).sum()


def test_network_output_depends_on_omega_only_with_psca() -> None:
    model = debug_model()
    cond = make_conditions(model.config)
    x = noise_like(model.config)
    t = torch.full((2,), 0.5)
    with torch.no_grad():
        narrow = model(x, t, cond, omega=0.1, delta=0.1).velocity
        wide = model(x, t, cond, omega=1.0, delta=0.5).velocity
        default = model(x, t, cond).velocity
        explicit = model(x, t, cond, omega=model.config.omega, delta=model.config.delta).velocity
    assert (narrow - wide).abs().max() > 1e-3
    assert torch.equal(default, explicit)
    plain = debug_model(visual_attention="plain")
    with torch.no_grad():
        a = plain(x, t, cond, omega=0.1, delta=0.1).velocity
        b = plain(x, t, cond, omega=1.0, delta=0.5).velocity
    assert torch.equal(a, b)


def test_cache_builds_once_per_layer_and_rebinds_to_new_conditions() -> None:
    model = debug_model()
    cond = make_conditions(model.config)
    x = noise_like(model.config)
    cache = PscaBiasCache()
    with torch.no_grad():
        first = model(x, torch.full((2,), 0.2), cond, psca_cache=cache).velocity
        model(x, torch.full((2,), 0.7), cond, psca_cache=cache)
    layers = model.config.single_depth
    assert (cache.misses, cache.hits, len(cache)) == (layers, layers, layers)
    with torch.no_grad():
        model(x, torch.full((2,), 0.2), cond, omega=0.5, psca_cache=cache)  # new ω: new entries
    assert cache.misses == 2 * layers
    other = make_conditions(model.config, seed=5)
    with torch.no_grad():
        model(x, torch.full((2,), 0.2), other, psca_cache=cache)
    assert len(cache) == layers  # emptied for the new owner, then refilled
    with torch.no_grad():  # cached and uncached biases give the same output
        again = model(x, torch.full((2,), 0.2), cond, psca_cache=PscaBiasCache()).velocity
    assert torch.equal(first, again)


def test_sampler_builds_the_bias_once_per_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    import foleystudio.ml.flowley.network as network

    calls = []
    real = network.psca_bias

    def counting(*args: object, **kwargs: object) -> torch.Tensor:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(network, "psca_bias", counting)
    model = debug_model()
    cond = make_conditions(model.config)
    sample(
        model,
        noise_like(model.config),
        cond,
        GenerationSettings(steps=5, cfg=2.0, omega=0.3, delta=0.2, sync_cfg=1.0),
    )
    assert len(calls) == model.config.single_depth
