"""The cost of a higher codec rate: Flowley's training step and an 8 s generation per codec preset.

Run ``python benchmarks/codec_rate_cost.py [--quick] [--presets 16k,24k,24k-p6]``. Each preset is
measured by ``generate_speed.run`` (the ``tiny`` Flowley sized for that codec's tokens: 125 tokens
of 320 channels per 8 s at 16k, 188 of 400 at 24k, 125 of 600 at 24k-p6; random weights, speed
does not depend on them) in one process, one after the other, so the figures share the
machine's load. Results: ``benchmarks/results/codec_rate_cost.json``, with each figure's ratio to
16k's (docs/decisions.md, "A 24 kHz codec").

Per preset: tokens/s and tokens per 8 s window; ``train_step_s`` (one step at batch 8:
``training_loss`` + backward + AdamW); ``generate_8s_s``: sampling an 8 s window at the request
default (16 Euler steps with sync guidance) plus its decode, by Griffin-Lim (32 iterations) and by
a default-size vocoder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "codec_rate_cost.json"


def summary(figures: dict[str, Any]) -> dict[str, Any]:
    """The cost figures of one ``generate_speed.run`` result (medians and best runs, seconds)."""
    sampling = figures["sample_s"]["euler_16_steps_sync_guidance"]
    return {
        "token_rate": figures["codec"]["token_rate"],
        "tokens_per_8s": figures["model"]["audio_tokens"],
        "latent_dim": figures["model"]["latent_dim"],
        "sample_rate": figures["codec"]["sample_rate"],
        "n_mels": figures["codec"]["n_mels"],
        "train_step_s": figures["train_step_s"],
        "sample_16_steps_s": sampling,
        "generate_8s_s": {
            "griffin_lim": round(sampling["median"] + figures["decode_s"]["median"], 4),
            "vocoder": round(sampling["median"] + figures["vocoder_decode_s"]["median"], 4),
            "griffin_lim_best_run": round(sampling["min"] + figures["decode_s"]["min"], 4),
            "vocoder_best_run": round(sampling["min"] + figures["vocoder_decode_s"]["min"], 4),
        },
        "decode_s": {"griffin_lim": figures["decode_s"], "vocoder": figures["vocoder_decode_s"]},
    }


def run(quick: bool = False, presets: tuple[str, ...] = ("16k", "24k", "24k-p6")) -> dict[str, Any]:
    """Measure every preset, write :data:`RESULTS` and return the figures."""
    from benchmarks.generate_speed import run as generate_speed
    from foleystudio.core.machine import machine_description

    machine = machine_description(load_average=True)
    rows = {name: summary(generate_speed(quick=quick, codec=name, write=False)) for name in presets}
    base = rows.get("16k")
    if base is not None:
        for row in rows.values():
            row["vs_16k"] = {
                "tokens": round(row["tokens_per_8s"] / base["tokens_per_8s"], 3),
                "train_step": round(row["train_step_s"]["median"] / base["train_step_s"]["median"], 3),
                "train_step_best_run": round(row["train_step_s"]["min"] / base["train_step_s"]["min"], 3),
                "sample_16_steps": round(
                    row["sample_16_steps_s"]["median"] / base["sample_16_steps_s"]["median"], 3
                ),
                "generate_8s_vocoder": round(
                    row["generate_8s_s"]["vocoder"] / base["generate_8s_s"]["vocoder"], 3
                ),
            }
    result = {"benchmark": "codec_rate_cost", "quick": quick, "machine": machine, "presets": rows}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run per figure")
    parser.add_argument("--presets", default="16k,24k,24k-p6", help="comma-separated codec presets")
    args = parser.parse_args(argv)
    result = run(quick=args.quick, presets=tuple(p for p in args.presets.split(",") if p))
    print(json.dumps(result["presets"], indent=2))
    print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
