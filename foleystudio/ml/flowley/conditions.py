"""The conditions of one Flowley forward: a frozen bundle of optional tensors (docs/architecture.md §5).

Every field is optional; an absent condition and a dropped one (its ``keep`` row False) give
the network the same learned null embedding, so classifier-free guidance is one batched
forward of the conditional and the unconditional rows (:meth:`Conditions.unconditional`,
:meth:`Conditions.concat`).

Droppable groups (``CONDITION_NAMES``): ``visual`` (visual tokens and their pooled global
vector), ``text`` (text tokens and pooled text), ``sync``, ``mix``, ``ref``. The inpainting
context is not a guidance condition: it is never dropped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch

from foleystudio.core.requests import CONDITION_GROUPS
from foleystudio.errors import GenerationError

CONDITION_NAMES = CONDITION_GROUPS  # defined in core, so requests are checked without torch
#: Conditions that classifier-free guidance contrasts (docs/architecture.md §5); ref and the inpainting
#: context stay in the unconditional branch. Sync is guided like the picture it comes from:
#: without it in this list it stayed in both branches and guidance pushed the sound away
#: from the motion (measured on 16 held-out clips with the bundled model: onset F1 0.171 →
#: 0.272 at w = 2, 0.154 → 0.186 at w = 3 once sync is guided).
GUIDED_CONDITIONS = ("visual", "text", "mix", "sync")

# Tensor field → the droppable group it belongs to (None: never dropped).
_FIELDS: dict[str, str | None] = {
    "visual": "visual",
    "visual_times": "visual",
    "text": "text",
    "text_mask": "text",
    "text_pooled": "text",
    "sync": "sync",
    "mix": "mix",
    "ref_audio": "ref",
    "ref_mask": "ref",
    "context": None,
    "context_mask": None,
    "audio_start": None,
}


@dataclass(frozen=True, eq=False)
class Conditions:
    """Per-example conditioning tensors (batch first; times in seconds on the video clock).

    - ``visual`` ``[B, Tv, clip_dim]`` CLIP image embeddings; ``visual_times`` ``[B, Tv]``.
    - ``text`` ``[B, L, text_dim]`` CLIP text token features; ``text_mask`` ``[B, L]`` bool
      (True = real token); ``text_pooled`` ``[B, text_pooled_dim]``.
    - ``sync`` ``[B, Na, sync_dim]`` motion features resampled to the audio tokens.
    - ``mix`` ``[B, mix_dim]`` SSV2A mix embedding.
    - ``ref_audio`` ``[B, Nr, latent_dim]`` codec tokens of a reference recording;
      ``ref_mask`` ``[B, Nr]`` bool.
    - ``context`` ``[B, Na, latent_dim]`` known audio tokens; ``context_mask`` ``[B, Na]`` bool
      (True = known, kept; False = to generate).
    - ``audio_start`` ``[B]`` time of the window's first audio sample (default 0).
    - ``keep`` maps a name of ``CONDITION_NAMES`` to a ``[B]`` bool tensor; a missing name
      keeps every row.
    """

    visual: torch.Tensor | None = None
    visual_times: torch.Tensor | None = None
    text: torch.Tensor | None = None
    text_mask: torch.Tensor | None = None
    text_pooled: torch.Tensor | None = None
    sync: torch.Tensor | None = None
    mix: torch.Tensor | None = None
    ref_audio: torch.Tensor | None = None
    ref_mask: torch.Tensor | None = None
    context: torch.Tensor | None = None
    context_mask: torch.Tensor | None = None
    audio_start: torch.Tensor | None = None
    keep: Mapping[str, torch.Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.keep) - set(CONDITION_NAMES)
        if unknown:
            raise GenerationError(f"unknown condition names in keep: {sorted(unknown)}")

    # -- queries ----------------------------------------------------------------------------

    def tensors(self) -> dict[str, torch.Tensor]:
        """The present tensor fields by name (``keep`` excluded)."""
        return {name: getattr(self, name) for name in _FIELDS if getattr(self, name) is not None}

    def batch_size(self, default: int | None = None) -> int:
        """Batch size of the present tensors (``default`` when none is present)."""
        sizes = {t.shape[0] for t in self.tensors().values()} | {k.shape[0] for k in self.keep.values()}
        if len(sizes) > 1:
            raise GenerationError(f"conditions disagree on the batch size: {sorted(sizes)}")
        if sizes:
            return sizes.pop()
        if default is None:
            raise GenerationError("conditions are empty; the batch size must be given")
        return default

    def present(self, name: str) -> bool:
        """Whether condition group ``name`` has any tensor."""
        return any(getattr(self, f) is not None for f, group in _FIELDS.items() if group == name)

    def keep_mask(self, name: str, batch: int, device: torch.device) -> torch.Tensor:
        """``[B]`` bool: rows where condition ``name`` is kept."""
        mask = self.keep.get(name)
        if mask is None:
            return torch.ones(batch, dtype=torch.bool, device=device)
        return mask.to(device=device, dtype=torch.bool)

    # -- derived conditions ----------------------------------------------------------------

    def replace(self, **changes: object) -> Conditions:
        return dataclasses.replace(self, **changes)

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> Conditions:
        """Moved to ``device``; floating tensors (not times) cast to ``dtype`` when given."""

        def move(name: str, tensor: torch.Tensor) -> torch.Tensor:
            if (
                dtype is not None
                and tensor.is_floating_point()
                and name not in ("visual_times", "audio_start")
            ):
                return tensor.to(device=device, dtype=dtype)
            return tensor.to(device=device)

        moved = {name: move(name, t) for name, t in self.tensors().items()}
        keep = {name: mask.to(device) for name, mask in self.keep.items()}
        return dataclasses.replace(self, **moved, keep=keep)

    def dropped(self, names: Sequence[str] = CONDITION_NAMES) -> Conditions:
        """A copy with every row of ``names`` dropped (replaced by the learned nulls)."""
        batch = self.batch_size(default=1)
        device = _device_of(self)
        keep = dict(self.keep)
        for name in names:
            if name not in CONDITION_NAMES:
                raise GenerationError(f"unknown condition '{name}'")
            if self.present(name):  # an absent condition is already its null
                keep[name] = torch.zeros(batch, dtype=torch.bool, device=device)
        return dataclasses.replace(self, keep=keep)

    def with_keep(self, name: str, mask: torch.Tensor) -> Conditions:
        """A copy whose ``name`` rows are kept where ``mask`` (combined with the current mask)."""
        batch = self.batch_size(default=mask.shape[0])
        current = self.keep_mask(name, batch, mask.device)
        return dataclasses.replace(self, keep={**self.keep, name: current & mask.to(torch.bool)})

    def unconditional(
        self,
        negative_text: torch.Tensor | None = None,
        negative_text_mask: torch.Tensor | None = None,
        negative_text_pooled: torch.Tensor | None = None,
        guided: Sequence[str] = GUIDED_CONDITIONS,
    ) -> Conditions:
        """The unconditional branch for CFG: ``guided`` conditions dropped.

        With a negative prompt (token features ``[B or 1, L, D]`` and/or pooled ``[B or 1, D]``),
        the text condition is replaced by it and kept, so guidance steers away from it.
        """
        batch = self.batch_size(default=1)
        if negative_text is None and negative_text_pooled is None:
            return self.dropped(guided)
        for name, negative in (("text", negative_text), ("text_pooled", negative_text_pooled)):
            # One keep flag covers tokens and pooled text, so the negative needs what the prompt has.
            if getattr(self, name) is not None and negative is None:
                raise GenerationError(f"the prompt has '{name}' but the negative prompt does not")
        result = self.dropped([g for g in guided if g != "text"])
        text = _expand(negative_text, batch)
        mask = _expand(negative_text_mask, batch)
        if text is not None and mask is None:
            mask = torch.ones(text.shape[:2], dtype=torch.bool, device=text.device)
        keep = {**result.keep, "text": torch.ones(batch, dtype=torch.bool, device=_device_of(self))}
        return dataclasses.replace(
            result, text=text, text_mask=mask, text_pooled=_expand(negative_text_pooled, batch), keep=keep
        )

    def repeat(self, count: int) -> Conditions:
        """Each row repeated ``count`` times consecutively (for several candidates)."""
        moved = {name: t.repeat_interleave(count, dim=0) for name, t in self.tensors().items()}
        keep = {name: mask.repeat_interleave(count, dim=0) for name, mask in self.keep.items()}
        return dataclasses.replace(self, **moved, keep=keep)

    def select(self, rows: torch.Tensor | slice) -> Conditions:
        """The rows ``rows`` (index tensor or slice)."""
        moved = {name: t[rows] for name, t in self.tensors().items()}
        keep = {name: mask[rows] for name, mask in self.keep.items()}
        return dataclasses.replace(self, **moved, keep=keep)

    @staticmethod
    def concat(parts: Sequence[Conditions]) -> Conditions:
        """Batch-concatenate conditions.

        A group present in some parts only is filled with zeros and dropped (keep False) in
        the others; text and reference token sequences are padded to the longest (masked).
        """
        known = [p.batch_size() for p in parts if p.tensors() or p.keep]
        if not known:
            raise GenerationError("cannot concatenate conditions that are all empty (no batch size)")
        sizes = [p.batch_size(default=known[0]) for p in parts]
        device = next((_device_of(p) for p in parts if p.tensors()), torch.device("cpu"))
        values: dict[str, torch.Tensor | None] = {}
        for tokens_name, mask_name in _SEQUENCES.items():
            values[tokens_name], values[mask_name] = _concat_sequence(
                parts, sizes, tokens_name, mask_name, device
            )
        for name in _FIELDS:
            if name in values:
                continue
            pieces = [getattr(p, name) for p in parts]
            template = next((t for t in pieces if t is not None), None)
            if template is None:
                values[name] = None
                continue
            values[name] = torch.cat(
                [
                    (t if t is not None else template.new_zeros((n, *template.shape[1:]))).to(device)
                    for t, n in zip(pieces, sizes, strict=True)
                ]
            )
        keep: dict[str, torch.Tensor] = {}
        for name in CONDITION_NAMES:
            if not any(name in p.keep or p.present(name) for p in parts):
                continue
            masks = []
            for p, n in zip(parts, sizes, strict=True):
                row = p.keep_mask(name, n, device)
                masks.append(row if p.present(name) else torch.zeros_like(row))
            keep[name] = torch.cat(masks)
        return Conditions(**values, keep=keep)


_SEQUENCES = {"text": "text_mask", "ref_audio": "ref_mask"}


def _concat_sequence(
    parts: Sequence[Conditions], sizes: Sequence[int], tokens_name: str, mask_name: str, device: torch.device
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Concatenate a token sequence and its mask, padding every part to the longest (mask False)."""
    tokens = [getattr(p, tokens_name) for p in parts]
    template = next((t for t in tokens if t is not None), None)
    if template is None:
        return None, None
    length = max(t.shape[1] for t in tokens if t is not None)
    out_tokens, out_masks = [], []
    for part, part_tokens, batch in zip(parts, tokens, sizes, strict=True):
        if part_tokens is None:
            out_tokens.append(template.new_zeros((batch, length, template.shape[2])).to(device))
            out_masks.append(torch.zeros(batch, length, dtype=torch.bool, device=device))
            continue
        mask = getattr(part, mask_name)
        if mask is None:
            mask = torch.ones(part_tokens.shape[:2], dtype=torch.bool, device=part_tokens.device)
        pad = length - part_tokens.shape[1]
        out_tokens.append(torch.nn.functional.pad(part_tokens, (0, 0, 0, pad)).to(device))
        out_masks.append(torch.nn.functional.pad(mask.to(torch.bool), (0, pad), value=False).to(device))
    return torch.cat(out_tokens), torch.cat(out_masks)


def _device_of(cond: Conditions) -> torch.device:
    for tensor in cond.tensors().values():
        return tensor.device
    for mask in cond.keep.values():
        return mask.device
    return torch.device("cpu")


def _expand(tensor: torch.Tensor | None, batch: int) -> torch.Tensor | None:
    if tensor is None or tensor.shape[0] == batch:
        return tensor
    if tensor.shape[0] != 1:
        raise GenerationError(f"negative prompt has batch {tensor.shape[0]}, expected 1 or {batch}")
    return tensor.expand(batch, *tensor.shape[1:])
