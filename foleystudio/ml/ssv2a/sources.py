"""The SSV2A model's side: perceived sound sources → the mix embedding that conditions Flowley (docs/architecture.md §6).

The engine perceives each source (``ml/encoders``) and calls :func:`mix_embedding`:

- an **object** source: its box crops' CLIP image embeddings ``[T, clip_dim]`` at 8 fps over
  the generation window (frame k at ``window start + k/8`` s; frames where the box is absent
  are flagged by ``valid`` or are all-zero rows);
- a **text** source: the CLIP pooled text embedding ``[clip_dim]``;
- an **audio** source: the audio-encoder embedding ``[audio_dim]`` of the prompt recording.

Text and audio sources hold for the whole window. Without object sources the mix is one
Remixer call (with Cycle Mix when ``cycle_iters > 0``). With object sources SSV2A's
Temporal Aggregation applies: every frame t with at least one source present gets its own
generation ``a_gen^t`` = Remixer (+ Cycle Mix) over the objects visible at t plus the text
and audio sources, and ω fuses the frames (positions t = 1..T) into one embedding.

Result: ``[1, audio_dim]`` float32, l2-normalised, on the models' device.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from foleystudio.errors import UsageError
from foleystudio.ml.ssv2a.manifold import CMSSManifold
from foleystudio.ml.ssv2a.remixer import Remixer, cycle_mix, make_tokens, pad_sources

SOURCE_KINDS = ("object", "text", "audio")


@dataclass(frozen=True, eq=False)
class PerceivedSource:
    """One source as perceived (SSV2A §3.1). Build with :meth:`object`, :meth:`text` or :meth:`audio`.

    ``embedding``: object ``[T, clip_dim]`` crop embeddings at 8 fps; text ``[clip_dim]``;
    audio ``[audio_dim]``. ``valid`` (objects only) ``[T]`` bool: frames where the box is
    visible (None: every non-zero row). ``label`` is for messages.
    """

    kind: str
    embedding: torch.Tensor
    valid: torch.Tensor | None = None
    label: str = ""

    @classmethod
    def object(
        cls, crops: torch.Tensor, valid: torch.Tensor | None = None, label: str = ""
    ) -> PerceivedSource:
        return cls("object", crops, valid, label)

    @classmethod
    def text(cls, pooled: torch.Tensor, label: str = "") -> PerceivedSource:
        return cls("text", pooled, None, label)

    @classmethod
    def audio(cls, embedding: torch.Tensor, label: str = "") -> PerceivedSource:
        return cls("audio", embedding, None, label)

    def name(self, index: int) -> str:
        return f"{self.kind} source {index + 1}" + (f" '{self.label}'" if self.label else "")


def frame_tokens(
    manifold: CMSSManifold,
    remixer: Remixer,
    crops: torch.Tensor,
    valid: torch.Tensor,
    static: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frame Remixer tokens of a scene: object crops ``[K, T, clip_dim]`` (``valid``
    ``[K, T]``) + ``static`` tokens ``[S, token_dim]`` present in every frame →
    tokens ``[T, M, token_dim]`` and mask ``[T, M]`` (slot k = object k, then the static ones)."""
    config = remixer.config
    k, t, _ = crops.shape
    s = len(static)
    if k + s > config.max_sources:
        raise UsageError(f"{k + s} sources exceed the Remixer's maximum of {config.max_sources}")
    tokens = crops.new_zeros(t, config.max_sources, config.token_dim)
    mask = torch.zeros(t, config.max_sources, dtype=torch.bool, device=crops.device)
    if k:
        objects = make_tokens(manifold.embed_clip(crops), crops)  # [K, T, token_dim]
        tokens[:, :k] = objects.transpose(0, 1)
        mask[:, :k] = valid.transpose(0, 1)
    if s:
        tokens[:, k : k + s] = static
        mask[:, k : k + s] = True
    return tokens, mask


def _vector(source: PerceivedSource, index: int, dim: int, device: torch.device) -> torch.Tensor:
    x = torch.as_tensor(source.embedding).to(device, torch.float32)
    if x.shape != (dim,):
        raise UsageError(f"{source.name(index)}: embedding must have shape [{dim}], got {list(x.shape)}")
    if not bool(torch.isfinite(x).all()) or float(x.norm()) == 0.0:
        raise UsageError(f"{source.name(index)}: embedding is zero or not finite")
    return x


@torch.no_grad()
def mix_embedding(
    manifold: CMSSManifold,
    remixer: Remixer,
    sources: Sequence[PerceivedSource],
    *,
    cycle_iters: int = 0,
    cycle_samples: int = 16,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The mix embedding ``[1, audio_dim]`` (unit norm) of ``sources`` (see the module doc).

    ``cycle_iters`` T and ``cycle_samples`` N of Cycle Mix (T = 0: plain remix, no sampling);
    ``generator`` (CPU ``torch.Generator``; default seeded with 0) makes the draws
    reproducible on any device. Models must be in eval mode (``load_ssv2a`` returns them so).
    Every object source must have the same T. Bad shapes, zero/non-finite embeddings, too
    many sources or objects never visible (with nothing else to mix) raise ``UsageError``.
    """
    if not sources:
        raise UsageError("no sound sources to mix")
    if cycle_iters < 0 or cycle_samples < 1:
        raise UsageError(
            f"cycle iterations must be >= 0 and samples >= 1, got {cycle_iters} and {cycle_samples}"
        )
    config = remixer.config
    device = next(remixer.parameters()).device
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    static: list[torch.Tensor] = []
    crops: list[torch.Tensor] = []
    valids: list[torch.Tensor] = []
    for i, source in enumerate(sources):
        if source.kind == "text":
            x = _vector(source, i, config.clip_dim, device)[None]
            static.append(make_tokens(manifold.embed_clip(x), x))
        elif source.kind == "audio":
            x = _vector(source, i, config.audio_dim, device)[None]
            static.append(make_tokens(manifold.embed_audio(x), None, config.clip_dim))
        elif source.kind == "object":
            x = torch.as_tensor(source.embedding).to(device, torch.float32)
            if x.ndim != 2 or x.shape[1] != config.clip_dim or len(x) == 0:
                raise UsageError(
                    f"{source.name(i)}: crop embeddings must have shape [T, {config.clip_dim}], got {list(x.shape)}"
                )
            if crops and len(x) != len(crops[0]):
                raise UsageError(f"{source.name(i)}: has {len(x)} frames, other objects have {len(crops[0])}")
            ok = torch.isfinite(x).all(dim=1) & (x.norm(dim=1) > 1e-6)
            if source.valid is not None:
                flags = torch.as_tensor(source.valid).to(device).bool()
                if flags.shape != ok.shape:
                    raise UsageError(
                        f"{source.name(i)}: valid must have shape [{len(x)}], got {list(flags.shape)}"
                    )
                ok &= flags
            crops.append(torch.nan_to_num(x))
            valids.append(ok)
        else:
            raise UsageError(f"source {i + 1}: unknown kind '{source.kind}' (expected one of {SOURCE_KINDS})")
    limit = config.max_sources - (1 if cycle_iters > 0 else 0)
    if len(sources) > limit:
        raise UsageError(f"{len(sources)} sources exceed the Remixer's maximum of {limit}")
    static_tokens = torch.cat(static) if static else torch.zeros(0, config.token_dim, device=device)

    def mix(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return cycle_mix(
            manifold, remixer, tokens, mask, iterations=cycle_iters, samples=cycle_samples, generator=gen
        )

    if not crops:
        tokens, mask = pad_sources([static_tokens], config.max_sources)
        return mix(tokens, mask)
    valid = torch.stack(valids)
    if not bool(valid.any()) and not static:
        raise UsageError("the object sources are not visible in any frame of the window")
    tokens, mask = frame_tokens(manifold, remixer, torch.stack(crops), valid, static_tokens)
    present = mask.any(dim=1)  # [T] frames with at least one source
    frames = torch.zeros(len(present), config.audio_dim, device=device)
    frames[present] = mix(tokens[present], mask[present])
    return remixer.temporal_embed(frames[None], present[None])
