"""Assemble model bundles (``ml/model_bundle.py`` format) from trained parts.

The default bundle holds the Flowley network, its codec and the CLIP encoder whose
features it was trained on (they must travel together). :func:`random_bundle` builds an
untrained bundle of any size, for tests (``debug``) and for speed benchmarks.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from foleystudio.data.foleyworld import CATEGORIES
from foleystudio.errors import UsageError
from foleystudio.ml.codec import Codec, MelCodec
from foleystudio.ml.encoders.audio import AudioEncoder, CategoryClassifier
from foleystudio.ml.encoders.clip_encoder import ClipEncoder, ClipEncoderConfig
from foleystudio.ml.encoders.motion import SYNC_FEATURE_NAMES
from foleystudio.ml.encoders.visual_onsets import MODULE as ONSETS_MODULE
from foleystudio.ml.encoders.visual_onsets import VisualOnsetConfig, VisualOnsetNet
from foleystudio.ml.flowley import Flowley
from foleystudio.ml.flowley.config import flowley_config
from foleystudio.ml.model_bundle import save_bundle
from foleystudio.ml.ssv2a.io import bundle_parts
from foleystudio.ml.ssv2a.manifold import CMSSManifold, ManifoldConfig
from foleystudio.ml.ssv2a.remixer import Remixer, RemixerConfig


def write_model_bundle(
    directory: str | os.PathLike[str],
    name: str,
    flowley: Flowley,
    codec: Codec,
    clip: ClipEncoder,
    training: dict[str, Any] | None = None,
    description: str = "",
    version: str = "1.0.0",
    audio: tuple[AudioEncoder, CategoryClassifier] | None = None,
    ssv2a: tuple[CMSSManifold, Remixer] | None = None,
    onsets: VisualOnsetNet | None = None,
) -> Path:
    """Write a bundle with modules ``flowley`` and ``clip`` (and optionally ``audio`` +
    ``audio_classifier``, the SSV2A ``ssv2a_manifold`` + ``ssv2a_remixer``, and the visual
    onset network ``visual_onsets``, whose track is Flowley's last sync feature) and their configs.

    The CLIP weights are stored as float16 (they load into the float32 model): 70 % of them
    are the 49k-token text embedding, and half precision halves the bundle at no measurable
    cost to the embeddings.
    """
    clip_half = {k: (v.half() if v.is_floating_point() else v) for k, v in clip.model.state_dict().items()}
    modules: dict[str, Any] = {"flowley": flowley, "clip": clip_half}
    configs: dict[str, Any] = {
        "flowley": flowley.config.to_dict(),
        "codec": codec.to_config(),
        "clip": clip.config.to_dict(),
    }
    if audio is not None:  # the audio encoder (scores, SSMS) and its category classifier
        encoder, classifier = audio
        modules.update(audio=encoder, audio_classifier=classifier)
        configs.update(
            audio=encoder.config.to_dict(), audio_classifier={"categories": list(classifier.categories)}
        )
    if ssv2a is not None:  # sources → the mix embedding Flowley's mix condition takes
        if flowley.config.mix_dim != ssv2a[1].config.audio_dim:
            raise UsageError(
                f"the Remixer gives {ssv2a[1].config.audio_dim}-d mix embeddings, Flowley takes {flowley.config.mix_dim}"
            )
        parts, parts_configs = bundle_parts(*ssv2a)
        modules.update(parts)
        configs.update(parts_configs)
    if onsets is not None:
        expected = len(SYNC_FEATURE_NAMES) + 1
        if flowley.config.sync_dim != expected:
            raise UsageError(f"with a visual onset network Flowley must take {expected} sync features")
        modules[ONSETS_MODULE] = onsets
        configs[ONSETS_MODULE] = onsets.config.to_dict()
    return save_bundle(
        directory,
        name,
        modules,
        configs,
        training=training,
        description=description,
        version=version,
    )


def debug_codec() -> MelCodec:
    """A coarse mel codec for tests: 16 mel bins, 16 tokens/s."""
    return MelCodec(sample_rate=16000, n_mels=16, hop=1000, n_fft=2048, patch=1, griffin_lim_iters=4)


def random_bundle(
    directory: str | os.PathLike[str],
    name: str = "debug-random",
    size: str = "debug",
    seed: int = 0,
    with_audio: bool = False,
    with_ssv2a: bool = False,
    with_onsets: bool = False,
) -> Path:
    """An untrained bundle: ``size`` ``debug`` (tiny everything, for tests) or ``tiny``
    (the default model's shapes, for speed benchmarks). Says so in its manifest.
    ``with_ssv2a`` (implies ``with_audio``) adds SSV2A modules and a mix condition of the
    audio encoder's width; ``with_onsets`` a visual onset network and its sync feature."""
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
        sync_dim=len(SYNC_FEATURE_NAMES) + with_onsets,
        visual_fps=8.0,
        **overrides,
    )
    audio = ssv2a = None
    if with_audio or with_ssv2a:
        encoder = AudioEncoder.create(f"fw-audio-{'debug' if size == 'debug' else 'tiny'}", seed=seed)
        audio = (encoder, CategoryClassifier(encoder.config.embed_dim, CATEGORIES))
    if with_ssv2a:
        dims = {"clip_dim": clip.embed_dim, "audio_dim": encoder.config.embed_dim, "joint_dim": 16}
        ssv2a = (
            CMSSManifold(
                ManifoldConfig(**dims, projector_widths=(32,), reconstructor_widths=(32,)), seed=seed
            ),
            Remixer(RemixerConfig(**dims, width=32, heads=2, head_hidden=(32,)), seed=seed),
        )
        config = config.replace(mix_dim=encoder.config.embed_dim)
    model = Flowley(config)
    # Zero-initialised layers (adaLN gates, the output) would make an untrained data-predicting
    # model ignore its input entirely; small random values keep every path alive.
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            if not parameter.any():
                parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.02)
    return write_model_bundle(
        directory,
        name,
        model,
        codec,
        clip,
        training={"trained": False, "note": "random weights"},
        description=f"untrained {size} bundle (tests and speed benchmarks only)",
        audio=audio,
        ssv2a=ssv2a,
        onsets=VisualOnsetNet(VisualOnsetConfig(size=16, channels=(4, 8, 8), hidden=16))
        if with_onsets
        else None,
    )
