"""Shared builders for the Flowley tests: a `debug` network and conditions of matching shapes."""

from __future__ import annotations

import torch

from foleystudio.ml.flowley import Conditions, Flowley, FlowleyConfig, flowley_config


def debug_model(seed: int = 0, perturb: float = 0.2, **overrides: object) -> Flowley:
    """A `debug` Flowley whose zero-initialised layers are perturbed, so every path matters."""
    torch.manual_seed(seed)
    model = Flowley(flowley_config("debug", **overrides))
    if perturb:
        generator = torch.Generator().manual_seed(seed + 1)
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(torch.randn(parameter.shape, generator=generator) * perturb)
    return model.eval()


def make_conditions(
    config: FlowleyConfig,
    batch: int = 2,
    seed: int = 0,
    groups: tuple[str, ...] = ("visual", "text", "sync", "mix", "ref"),
    context: bool = False,
    text_length: int = 5,
) -> Conditions:
    """Random conditions for ``groups`` (plus an inpainting context when asked)."""
    g = torch.Generator().manual_seed(seed)
    na, tv = config.num_audio_tokens, config.num_visual_tokens
    # Every tensor is drawn whatever the groups, so a group's values do not depend on others.
    mask = torch.ones(batch, text_length, dtype=torch.bool)
    mask[0, text_length - 2 :] = False  # row 0 has padding
    known = torch.zeros(batch, na, dtype=torch.bool)
    known[:, : na // 4] = True
    drawn = {
        "visual": {
            "visual": torch.randn(batch, tv, config.clip_dim, generator=g),
            "visual_times": (torch.arange(tv, dtype=torch.float64) / config.visual_fps).repeat(batch, 1),
        },
        "text": {
            "text": torch.randn(batch, text_length, config.text_token_dim, generator=g),
            "text_mask": mask,
            "text_pooled": torch.randn(batch, config.text_pooled_dim, generator=g),
        },
        "sync": {"sync": torch.rand(batch, na, config.sync_dim, generator=g)},
        "mix": {"mix": torch.randn(batch, config.mix_dim, generator=g)},
        "ref": {"ref_audio": torch.randn(batch, 6, config.latent_dim, generator=g)},
        "context": {"context": torch.randn(batch, na, config.latent_dim, generator=g), "context_mask": known},
    }
    values: dict[str, torch.Tensor] = {}
    for group in (*groups, "context") if context else groups:
        values.update(drawn[group])
    return Conditions(**values)


def noise_like(config: FlowleyConfig, batch: int = 2, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, config.num_audio_tokens, config.latent_dim, generator=g)
