"""Assemble model bundles (``ml/checkpoints.py`` format) from trained parts.

The default bundle holds the Flowley network, its codec and the CLIP encoder whose
features it was trained on (they must travel together). :func:`random_bundle` builds an
untrained bundle of any size, for tests (``debug``) and for speed benchmarks.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from foleystudio.ml.checkpoints import save_bundle
from foleystudio.ml.codec import Codec, MelCodec
from foleystudio.ml.encoders.clip import ClipEncoder, ClipEncoderConfig
from foleystudio.ml.encoders.motion import SYNC_FEATURE_NAMES
from foleystudio.ml.flowley import Flowley
from foleystudio.ml.flowley.config import flowley_config


def write_model_bundle(
    directory: str | os.PathLike[str],
    name: str,
    flowley: Flowley,
    codec: Codec,
    clip: ClipEncoder,
    training: dict[str, Any] | None = None,
    description: str = "",
    version: str = "1.0.0",
) -> Path:
    """Write a bundle with modules ``flowley`` and ``clip`` and their configs."""
    return save_bundle(
        directory,
        name,
        {"flowley": flowley, "clip": clip.model},
        {"flowley": flowley.config.to_dict(), "codec": codec.to_config(), "clip": clip.config.to_dict()},
        training=training,
        description=description,
        version=version,
    )


def debug_codec() -> MelCodec:
    """A coarse mel codec for tests: 16 mel bins, 16 tokens/s."""
    return MelCodec(sample_rate=16000, n_mels=16, hop=1000, n_fft=2048, patch=1, griffin_lim_iters=4)


def random_bundle(
    directory: str | os.PathLike[str], name: str = "debug-random", size: str = "debug", seed: int = 0
) -> Path:
    """An untrained bundle: ``size`` ``debug`` (tiny everything, for tests) or ``tiny``
    (the default model's shapes, for speed benchmarks). Says so in its manifest."""
    torch.manual_seed(seed)
    if size == "debug":
        codec = debug_codec()
        clip = ClipEncoder.from_config(ClipEncoderConfig("fw-clip-debug"), seed=seed)
        overrides = {"window_seconds": 4.0}
        base = "debug"
    else:
        codec = MelCodec()
        clip = ClipEncoder.from_config(ClipEncoderConfig("fw-clip-tiny"), seed=seed)
        overrides = {}
        base = size
    config = flowley_config(
        base,
        latent_dim=codec.latent_dim,
        token_rate=codec.token_rate,
        clip_dim=clip.embed_dim,
        text_dim=clip.embed_dim,
        text_pooled_dim=clip.embed_dim,
        sync_dim=len(SYNC_FEATURE_NAMES),
        visual_fps=8.0,
        **overrides,
    )
    model = Flowley(config)
    return write_model_bundle(
        directory,
        name,
        model,
        codec,
        clip,
        training={"trained": False, "note": "random weights"},
        description=f"untrained {size} bundle (tests and speed benchmarks only)",
    )
