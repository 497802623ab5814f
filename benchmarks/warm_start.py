"""Warm start across codecs: a new Flowley's validation flow loss before its first step.

Run ``python benchmarks/warm_start.py CACHE [--init BUNDLE] [--out FILE]`` on the feature cache
of a run of another codec than ``BUNDLE`` (e.g. ``runs/24k-warm/flowley/cache.safetensors``
after ``make train-24k-warm``). Three starts, each measured with the trainer's own
``validation_loss`` on the cache's validation split:

- ``carried``: ``train flowley --init``'s start, the token projections carried bin by bin
  (``train/codec_transfer.py``);
- ``fresh_projections``: every other weight taken, the projections left at their fresh
  initialisation (what ``--init`` does when the run's codec is unknown);
- ``fresh_model``: no start at all.

A fresh output layer predicts zeros, so the last two give the same loss.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "train_24k_warm_step0_val.json"


def run(cache: Path, init: str, out: Path | None = RESULTS) -> dict:
    import torch

    from foleystudio.core.machine import machine_description
    from foleystudio.data.datasets import FeatureCache
    from foleystudio.ml.flowley import Flowley
    from foleystudio.train.flowley import (
        FlowleyTrainSettings,
        init_from_run,
        model_config_for,
        validation_loss,
    )

    train = FeatureCache(cache, "train", ("mix", "object"))
    val = FeatureCache(cache, "val", ("mix",))
    config = model_config_for(train, FlowleyTrainSettings(config="tiny"))
    losses = {}
    for start, codec in (
        ("carried", train.meta["codec"]),
        ("fresh_projections", None),
        ("fresh_model", None),
    ):
        torch.manual_seed(0)
        model = Flowley(config)
        if start != "fresh_model":
            init_from_run(model, init, codec)
        losses[start] = round(validation_loss(model.eval(), val, torch.device("cpu")), 4)
    result = {
        "benchmark": "warm_start",
        "machine": machine_description(),
        "cache": str(cache),
        "init": init,
        "codec": train.meta["codec"],
        "val_flow": losses,
    }
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cache", help="feature cache (.safetensors) of the new codec's run")
    parser.add_argument("--init", default="models/foleyworld-tiny", help="bundle or run to start from")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    result = run(Path(args.cache), args.init, Path(args.out))
    print(", ".join(f"{k} {v}" for k, v in result["val_flow"].items()))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
