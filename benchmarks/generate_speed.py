"""Generation speed of the ``tiny`` Flowley: one 8 s window (125 tokens) on this machine.

Run ``python benchmarks/generate_speed.py [--quick] [--codec 16k|24k|24k-p6]``; ``foleystudio
bench`` imports :func:`run`. ``--codec`` sizes the model for another codec preset
(``ml/codec_presets.py``: 188 tokens of 400 channels per 8 s at 24k) and writes
``generate_speed_<preset>.json`` instead, the cost of a higher rate (docs/decisions.md).

Measured (batch 1, Euler unless noted, weights random — speed does not depend on them):
- ``sample_s``: sampling one window at 8 / 16 / 25 steps, without CFG (w = 1, one forward
  per step) and with CFG (w = 3, conditional + unconditional rows in one batched forward);
  Heun at 16 steps as well.
- ``decode_s``: MelCodec decode (mel pseudo-inverse + 32 Griffin-Lim iterations);
  ``vocoder_decode_s``: the same window through an (untrained) default-size vocoder.
- ``real_time_factor``: (sampling + decode) / 8 s from the medians, so < 1 is faster than
  real time (docs/architecture.md §12 budget: ≤ 0.2 at 16 steps on a 2-core CPU);
  ``real_time_factor_best_run`` from the fastest runs (a shared CPU inflates medians; the
  load average at start and end is recorded).
- ``train_step_s``: one training step (``training_loss`` + backward + AdamW) at batch 8.
- ``peak_rss_mib``: the process's peak resident memory (``resource.getrusage``); torch's
  allocations are invisible to tracemalloc, so RSS is the honest figure.

Conditions have the shapes the engine feeds: 64 visual tokens (CLIP dim 512), 77 text
token slots of which 12 are real, pooled text, sync features per audio token, a mix vector.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "generate_speed.json"
WINDOW_S = 8.0
RTF_BUDGET_16_STEPS = 0.2


def _peak_rss_mib() -> float | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


def _conditions(config: Any, batch: int, generator: Any) -> Any:
    import torch

    from foleystudio.ml.flowley import Conditions

    na, tv, length = config.num_audio_tokens, config.num_visual_tokens, 77
    text_mask = torch.zeros(batch, length, dtype=torch.bool)
    text_mask[:, :12] = True
    return Conditions(
        visual=torch.randn(batch, tv, config.clip_dim, generator=generator),
        visual_times=(torch.arange(tv, dtype=torch.float64) / config.visual_fps).repeat(batch, 1),
        text=torch.randn(batch, length, config.text_token_dim, generator=generator),
        text_mask=text_mask,
        text_pooled=torch.randn(batch, config.text_pooled_dim, generator=generator),
        sync=torch.rand(batch, na, config.sync_dim, generator=generator),
        mix=torch.randn(batch, config.mix_dim, generator=generator),
    )


def _timed(fn: Any, repeats: int) -> dict[str, float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return {"median": round(statistics.median(times), 4), "min": round(min(times), 4), "runs": repeats}


def results_path(codec: str = "16k") -> Path:
    """The results file of a codec preset: ``generate_speed.json`` for the default preset."""
    return RESULTS if codec == "16k" else RESULTS.with_name(f"generate_speed_{codec}.json")


def run(quick: bool = False, codec: str = "16k", write: bool = True) -> dict[str, Any]:
    """Measure and return the figures with the model sized for codec preset ``codec`` (with
    ``write``, also written to :func:`results_path`)."""
    import torch

    from foleystudio.core.machine import machine_description
    from foleystudio.core.settings import GenerationSettings
    from foleystudio.ml.codec import codec_preset
    from foleystudio.ml.device import make_generator
    from foleystudio.ml.flowley import Flowley, FlowTrainingConfig, flowley_config, sample, training_loss

    machine = machine_description(load_average=True)  # the load at the start
    rss_start = _peak_rss_mib()
    preset = codec
    codec = codec_preset(preset)
    config = flowley_config("tiny", latent_dim=codec.latent_dim, token_rate=codec.token_rate)
    assert codec.latent_dim == config.latent_dim and codec.num_tokens(WINDOW_S) == config.num_audio_tokens
    torch.manual_seed(0)  # benchmark-only: weights are random, their values do not matter
    model = Flowley(config).eval()
    generator = torch.Generator().manual_seed(0)
    cond = _conditions(config, 1, generator)
    noise = torch.randn(1, config.num_audio_tokens, config.latent_dim, generator=generator)
    repeats = 1 if quick else 3

    sample(
        model, noise, cond, GenerationSettings(steps=2, cfg=3.0, sync_cfg=1.0)
    )  # warm-up (allocator, kernels)
    sampling: dict[str, Any] = {}
    for steps in (8, 16, 25):
        for cfg in (1.0, 3.0):
            key = f"euler_{steps}_steps_{'cfg' if cfg != 1.0 else 'no_cfg'}"
            sampling[key] = _timed(
                lambda s=steps, w=cfg: sample(
                    model, noise, cond, GenerationSettings(steps=s, cfg=w, sync_cfg=1.0)
                ),
                repeats,
            )
    # The request default: sync guidance only (a second branch, as with CFG).
    sampling["euler_16_steps_sync_guidance"] = _timed(
        lambda: sample(model, noise, cond, GenerationSettings(steps=16)), repeats
    )
    sampling["heun_16_steps_cfg"] = _timed(
        lambda: sample(
            model, noise, cond, GenerationSettings(steps=16, sampler="heun", cfg=3.0, sync_cfg=1.0)
        ),
        repeats,
    )
    latent = sample(model, noise, cond, GenerationSettings(steps=4, sync_cfg=1.0))
    codec.decode(latent)  # warm-up
    decode = _timed(lambda: codec.decode(latent), repeats + 2)
    from foleystudio.ml.vocoder import Vocoder, VocoderConfig

    vocoder_codec = codec_preset(preset).attach_vocoder(Vocoder(VocoderConfig(**codec.mel_settings())))
    vocoder_codec.decode(latent)  # warm-up
    vocoder_decode = _timed(lambda: vocoder_codec.decode(latent), repeats + 2)
    rtf = {key: round((value["median"] + decode["median"]) / WINDOW_S, 4) for key, value in sampling.items()}
    # The CPU may be shared: the best run is the least disturbed estimate of the real cost.
    rtf_best = {key: round((value["min"] + decode["min"]) / WINDOW_S, 4) for key, value in sampling.items()}

    train_model = Flowley(config).train()
    optimizer = torch.optim.AdamW(train_model.parameters(), lr=1e-4)
    train_cond = _conditions(config, 8, generator)
    x1 = torch.randn(8, config.num_audio_tokens, config.latent_dim, generator=generator)
    onsets = (torch.rand(8, config.num_audio_tokens, generator=generator) < 0.05).float()
    loss_generator = make_generator(1)

    def train_step() -> None:
        loss, _ = training_loss(train_model, x1, train_cond, loss_generator, FlowTrainingConfig(), onsets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    train_step()  # warm-up
    train = _timed(train_step, 3 if quick else 8)

    result = {
        "benchmark": "generate_speed",
        "quick": quick,
        "machine": machine,
        "codec": {"preset": preset, **codec.to_config(), "token_rate": codec.token_rate},
        "model": {
            "config": "tiny",
            "parameters": model.num_parameters(),
            "hidden": config.hidden,
            "joint_blocks": config.joint_depth,
            "single_blocks": config.single_depth,
            "audio_tokens": config.num_audio_tokens,
            "latent_dim": config.latent_dim,
            "visual_tokens": config.num_visual_tokens,
            "text_tokens": 77,
            "visual_attention": config.visual_attention,
        },
        "window_s": WINDOW_S,
        "sample_s": sampling,
        "decode_s": {**decode, "griffin_lim_iters": codec.griffin_lim_iters},
        "vocoder_decode_s": vocoder_decode,
        "real_time_factor": rtf,
        "real_time_factor_best_run": rtf_best,
        "rtf_budget_16_steps": RTF_BUDGET_16_STEPS,
        "rtf_16_steps_cfg_within_budget": rtf["euler_16_steps_cfg"] <= RTF_BUDGET_16_STEPS,
        "train_step_s": {**train, "batch": 8},
        "load_average_1min_at_end": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "peak_rss_mib": _peak_rss_mib(),
        "rss_peak_before_mib": rss_start,
    }
    if write:
        path = results_path(preset)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run per figure")
    parser.add_argument("--codec", default="16k", help="codec preset the model is sized for (default 16k)")
    args = parser.parse_args(argv)
    result = run(quick=args.quick, codec=args.codec)
    print(json.dumps(result, indent=2))
    print(f"written to {results_path(args.codec)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
