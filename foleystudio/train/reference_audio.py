"""Teach Flowley's reference-audio path that a reference carries timbre, not timing (issue 17).

At generation an audio prompt reaches Flowley as codec tokens of the recording
(``Conditions.ref_audio``) through cross-attention in the single-stream blocks. A model
trained without references leaves that path untrained, so a prompt only perturbs the sound.

For a share of the object rows (one source's stem) the reference is a short crop, 1.5–4 s,
either of the row's own stem, rolled round by a random amount first so its events fall
elsewhere than the target's, or of another clip's stem of the same category. Both sound like
the target and neither tells when the target's events happen: only the picture and the event
track do, so the model learns to take what a sound is like from the reference and when it
happens from the picture.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from foleystudio.errors import UsageError


@dataclass(frozen=True)
class ReferenceSettings:
    """How often an object row gets a reference recording.

    ``ref_prob``: share of object rows given one; ``own_prob``: share of those whose reference
    is their own stem (rolled), the rest another clip's stem of the same category;
    ``min_seconds``/``max_seconds``: the crop's length; ``hide_prob``: see the field."""

    ref_prob: float = 0.0
    own_prob: float = 0.5
    min_seconds: float = 1.5
    max_seconds: float = 4.0
    #: Share of the rows with a reference whose picture, text and mix are hidden, so only the
    #: reference tells what the sound is (the motion features still tell when).
    hide_prob: float = 0.0

    def __post_init__(self) -> None:
        for name in ("ref_prob", "own_prob", "hide_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise UsageError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        if not 0.0 < self.min_seconds <= self.max_seconds:
            raise UsageError(
                f"need 0 < min_seconds <= max_seconds, got {self.min_seconds}, {self.max_seconds}"
            )

    @property
    def enabled(self) -> bool:
        return self.ref_prob > 0


@dataclass(frozen=True)
class ReferencePool:
    """Which cache rows may lend a reference to which: per row, the rows of the same category
    from other clips (object rows only; empty for a mix row)."""

    objects: tuple[bool, ...]
    partners: tuple[tuple[int, ...], ...]

    @classmethod
    def from_examples(cls, examples: Sequence[dict[str, Any]]) -> ReferencePool:
        by_category: dict[str, list[int]] = {}
        for i, example in enumerate(examples):
            if example["kind"] == "object":
                by_category.setdefault(example["category"], []).append(i)
        partners = tuple(
            tuple(j for j in by_category.get(e["category"], []) if examples[j]["clip"] != e["clip"])
            if e["kind"] == "object"
            else ()
            for e in examples
        )
        return cls(tuple(e["kind"] == "object" for e in examples), partners)


def with_references(
    batch: dict[str, torch.Tensor],
    rows: torch.Tensor,
    all_tokens: torch.Tensor,
    pool: ReferencePool,
    token_rate: float,
    settings: ReferenceSettings,
    generator: torch.Generator,
) -> dict[str, torch.Tensor]:
    """A copy of ``batch`` (rows ``rows`` of the cache whose tokens are ``all_tokens`` [E, Na, D])
    with ``ref_audio`` [B, Nr, D] and ``ref_mask`` [B, Nr]: the chosen object rows' references
    (:class:`ReferenceSettings`), padded and masked; rows without one have an all-False mask.
    ``hide_picture`` [B] bool marks the rows whose picture, text and mix are to be dropped."""
    b = len(rows)
    n_audio = all_tokens.shape[1]
    lo = max(1, round(settings.min_seconds * token_rate))
    hi = min(n_audio, max(lo, round(settings.max_seconds * token_rate)))
    pick = torch.rand(b, generator=generator) < settings.ref_prob
    own = torch.rand(b, generator=generator) < settings.own_prob
    lengths = torch.randint(lo, hi + 1, (b,), generator=generator)
    starts = torch.rand(b, generator=generator)
    rolls = torch.randint(n_audio, (b,), generator=generator)
    choices = torch.rand(b, generator=generator)
    hide = torch.rand(b, generator=generator) < settings.hide_prob
    ref = all_tokens.new_zeros(b, hi, all_tokens.shape[2])
    mask = torch.zeros(b, hi, dtype=torch.bool)
    hidden = torch.zeros(b, dtype=torch.bool)
    for i, row in enumerate(rows.tolist()):
        if not (pick[i] and pool.objects[row]):
            continue
        partners = pool.partners[row]
        if own[i] or not partners:
            source = torch.roll(all_tokens[row], int(rolls[i]), dims=0)
        else:
            source = all_tokens[partners[int(choices[i] * len(partners))]]
        length = int(lengths[i])
        start = int(starts[i] * (n_audio - length + 1))
        ref[i, :length] = source[start : start + length]
        mask[i, :length] = True
        hidden[i] = hide[i]
    out = dict(batch)
    out.update(ref_audio=ref, ref_mask=mask, hide_picture=hidden)
    return out


def reference_path_trained(run_dir: str | os.PathLike[str]) -> bool:
    """Whether the Flowley of run or bundle ``run_dir`` was last trained with references: its
    training log's latest start/resume line has ``references.ref_prob > 0``."""
    from foleystudio.train.parts import part_training_log

    log = part_training_log(run_dir, "flowley")
    if log is None:
        return False
    trained = False
    for line in log.read_text().splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") in ("start", "resume"):
            references = (event.get("settings") or {}).get("references") or {}
            trained = float(references.get("ref_prob", 0.0)) > 0
    return trained


def silence_reference_path(model: nn.Module) -> None:
    """Make a Flowley's reference path a no-op that can learn: the reference projection maps
    every token to the learned null reference token (weight 0, bias = that token). A reference
    then gives exactly what no reference gives (the cross-attention has no positions, so
    attending to copies of the null token returns its value), instead of the random
    perturbation an untrained projection adds to a trained model's sound; its weight still
    gets gradients from the reference tokens, so the path learns from there."""
    with torch.no_grad():
        model.ref_proj.weight.zero_()
        model.ref_proj.bias.copy_(model.null_tokens[2])
