"""Which sources make up each generation target's sound, perceived over the requested range and handed to SSV2A (docs/architecture.md §6).

The engine generates one target per object source (or one whole-frame target when there are
none). Each target's mix embedding comes from the sources that make up *its* sound: the
target object's crops over the whole requested range (8 fps CLIP embeddings, Temporal
Aggregation in :func:`~foleystudio.ml.ssv2a.sources.mix_embedding`), plus every text source
(CLIP pooled text) and every audio source (audio-encoder embedding). The plain text prompt
is not a source: it conditions Flowley through CLIP text alone, so a request without sources
gets no mix condition, as in training half of the time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from foleystudio.core.audio import load_audio
from foleystudio.core.requests import GenerationRequest
from foleystudio.core.sources import AudioSource, TextSource
from foleystudio.errors import FoleyStudioError
from foleystudio.ml.encoders.audio import AudioEncoder
from foleystudio.ml.encoders.clip_encoder import ClipEncoder
from foleystudio.ml.features import VideoFeatures
from foleystudio.ml.ssv2a.manifold import CMSSManifold
from foleystudio.ml.ssv2a.remixer import Remixer
from foleystudio.ml.ssv2a.sources import PerceivedSource, mix_embedding

#: Shortest usable audio prompt (seconds).
MIN_AUDIO_PROMPT = 0.25


def load_audio_prompt(source: AudioSource, sample_rate: int) -> np.ndarray:
    """An audio source's recording as mono float32 at ``sample_rate`` Hz; a recording shorter
    than :data:`MIN_AUDIO_PROMPT` or silent is a :class:`FoleyStudioError` naming the file."""
    wave, _ = load_audio(source.path, sample_rate, mono=True)
    if len(wave) < MIN_AUDIO_PROMPT * sample_rate:
        raise FoleyStudioError(
            f"audio prompt is too short (needs at least {MIN_AUDIO_PROMPT} s)", source.path
        )
    if float(np.max(np.abs(wave))) < 1e-4:
        raise FoleyStudioError("audio prompt is silent", source.path)
    return wave.astype(np.float32, copy=False)


def perceive_static_sources(
    request: GenerationRequest, clip: ClipEncoder, audio: AudioEncoder | None
) -> list[PerceivedSource]:
    """The request's text and audio sources as SSV2A perceives them (CLIP text; audio encoder).

    An audio source needs the bundle's audio encoder; without one it is skipped (it still
    reaches Flowley as reference audio)."""
    out: list[PerceivedSource] = []
    for source in request.sources:
        if isinstance(source, TextSource) and source.text.strip():
            _, _, pooled = clip.encode_text([source.text.strip()])
            out.append(PerceivedSource.text(pooled[0].float().cpu(), source.text))
        elif isinstance(source, AudioSource) and audio is not None:
            wave = load_audio_prompt(source, audio.config.sample_rate)
            emb = torch.from_numpy(audio.embed_numpy(wave)[0])
            out.append(PerceivedSource.audio(emb, source.label or source.path))
    return out


def target_mix_embeddings(
    ssv2a: tuple[CMSSManifold, Remixer],
    request: GenerationRequest,
    feats: VideoFeatures,
    targets: Sequence[str | None],
    static: Sequence[PerceivedSource],
) -> dict[str | None, torch.Tensor | None]:
    """``{target: [1, audio_dim] mix embedding or None}``: None for a whole-frame target without
    text or audio sources. Cycle Mix uses ``request.settings.cycle_iters``/``cycle_samples`` and draws
    from a generator seeded with ``request.settings.seed``, so results repeat."""
    manifold, remixer = ssv2a
    out: dict[str | None, torch.Tensor | None] = {}
    for index, target in enumerate(targets):
        sources = list(static)
        if target is not None:
            crops = torch.from_numpy(np.asarray(feats.object_visual[target], np.float32))
            if bool((crops.norm(dim=1) > 1e-6).any()):  # an object never on screen adds nothing
                sources.insert(0, PerceivedSource.object(crops, None, target))
        if not sources:
            out[target] = None
            continue
        generator = torch.Generator().manual_seed(request.settings.seed * 1009 + index)
        out[target] = mix_embedding(
            manifold,
            remixer,
            sources,
            cycle_iters=request.settings.cycle_iters,
            cycle_samples=request.settings.cycle_samples,
            generator=generator,
        ).cpu()
    return out
