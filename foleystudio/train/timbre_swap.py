"""Teach Flowley that the mix condition says what a sound is like and the picture says when (issue 17).

In FoleyWorld every category moves its own way, so a model learns the category from the motion
as much as from anything it is told: an audio prompt of another category, reaching Flowley as
the SSV2A mix embedding, was heard in 3 % of takes, and with the picture's CLIP tokens and
text hidden the picture's category was still heard in 43 %. No clip ever paired one
category's motion with another's sound, so nothing taught the model that it can.

A *timbre swap* makes such pairs from the cache alone. For a share of the object rows (one
source's stem, category A), the target sound is rebuilt from another clip's object of a
category B ≠ A: one of B's events ("voice", the log-mel frames from its onset to the next
onset, at most ``max_voice_s``, faded out) is placed at every onset of A, on the frame where A's
sound starts, at the level A's own sound reaches there. The row keeps A's picture, motion
features and onsets; its mix condition becomes B's audio embedding and is never dropped; its
caption, which names A's sound, is hidden. Only the mix then says what the sound is, only the
picture says when, and lowering the loss needs both.

Mixing is in the mel domain: voices add as powers (log-add-exp of log-mels) over the codec's
floor, which is what silence encodes to.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from foleystudio.errors import UsageError


@dataclass(frozen=True)
class TimbreSwapSettings:
    """``swap_prob``: share of the object rows (0-1) whose sound is rebuilt from another
    category's voice; ``hide_picture``: share of the swapped rows whose picture's CLIP tokens
    are hidden too (the motion features stay), so the mix alone says what the sound is;
    ``max_voice_s``: the longest voice (seconds); ``fade_share``: the share of a voice's end
    over which it fades out (to −40 dB)."""

    swap_prob: float = 0.0
    hide_picture: float = 0.0
    max_voice_s: float = 1.0
    fade_share: float = 0.3

    def __post_init__(self) -> None:
        for name in ("swap_prob", "hide_picture"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise UsageError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        if self.max_voice_s <= 0 or not 0.0 <= self.fade_share <= 1.0:
            raise UsageError(
                f"need max_voice_s > 0 and 0 <= fade_share <= 1, got {self.max_voice_s}, {self.fade_share}"
            )

    @property
    def enabled(self) -> bool:
        return self.swap_prob > 0


@dataclass(frozen=True)
class MelLayout:
    """How a cache's tokens hold log-mel frames (its codec config): ``patch`` frames of
    ``n_mels`` bins per token, frame-major; log-mel = token · ``norm_std`` + ``norm_mean``."""

    patch: int
    n_mels: int
    norm_mean: float
    norm_std: float
    floor: float
    frame_rate: float  #: mel frames per second

    @classmethod
    def from_codec(cls, codec: Mapping[str, Any]) -> MelLayout:
        if codec.get("type", "mel") != "mel":
            raise UsageError(f"a timbre swap needs a mel codec, got {codec.get('type')!r}")
        return cls(
            patch=int(codec["patch"]),
            n_mels=int(codec["n_mels"]),
            norm_mean=float(codec["norm_mean"]),
            norm_std=float(codec["norm_std"]),
            floor=float(codec["floor"]),
            frame_rate=float(codec["sample_rate"]) / float(codec["hop"]),
        )

    def log_mel(self, tokens: torch.Tensor) -> torch.Tensor:
        """Tokens ``[N, patch·n_mels]`` → log-mel frames ``[N·patch, n_mels]``."""
        return tokens.float().reshape(-1, self.n_mels) * self.norm_std + self.norm_mean

    def tokens(self, log_mel: torch.Tensor) -> torch.Tensor:
        """Log-mel frames ``[N·patch, n_mels]`` → tokens ``[N, patch·n_mels]``."""
        frames = (log_mel - self.norm_mean) / self.norm_std
        return frames.reshape(-1, self.patch * self.n_mels)


@dataclass(frozen=True)
class SwapPool:
    """Per cache row, the rows that may lend it a voice: object rows of other clips and of
    another category, each with at least one onset (empty for a row that cannot be swapped)."""

    partners: tuple[tuple[int, ...], ...]

    @classmethod
    def from_examples(cls, examples: Sequence[dict[str, Any]], onsets: torch.Tensor) -> SwapPool:
        has_onsets = (onsets > 0.5).any(dim=1).tolist()
        eligible = [
            i
            for i, e in enumerate(examples)
            if e["kind"] == "object" and has_onsets[i] and "," not in e["category"]
        ]
        eligible_rows = set(eligible)
        partners = []
        for i, e in enumerate(examples):
            if i not in eligible_rows:
                partners.append(())
                continue
            partners.append(
                tuple(
                    j
                    for j in eligible
                    if examples[j]["category"] != e["category"] and examples[j]["clip"] != e["clip"]
                )
            )
        return cls(tuple(partners))


def onset_frames(log_mel: torch.Tensor, onsets: torch.Tensor, patch: int) -> list[int]:
    """The mel frame where each onset token's sound starts: the largest rise of the frame's
    total level within the token (and two frames either side, as labels round to tokens)."""
    level = torch.logsumexp(log_mel, dim=1)
    rise = torch.cat([level.new_zeros(1), level[1:] - level[:-1]])
    out = []
    for k in torch.nonzero(onsets > 0.5).flatten().tolist():
        lo, hi = max(1, k * patch - 2), min(len(level), (k + 1) * patch + 2)
        if lo >= hi:
            continue
        out.append(lo + int(torch.argmax(rise[lo:hi])))
    return out


def cut_voice(
    log_mel: torch.Tensor, starts: Sequence[int], pick: int, layout: MelLayout, settings: TimbreSwapSettings
) -> torch.Tensor:
    """The log-mel frames of the ``pick``-th event starting at ``starts`` (sorted), up to the
    next event or ``max_voice_s``, the last ``fade_share`` of it fading to −40 dB."""
    start = starts[pick]
    end = starts[pick + 1] if pick + 1 < len(starts) else len(log_mel)
    end = min(end, start + max(1, round(settings.max_voice_s * layout.frame_rate)), len(log_mel))
    voice = log_mel[start:end].clone()
    fade = round(settings.fade_share * len(voice))
    if fade > 0:
        # −40 dB of amplitude at the last frame: ln(0.01) in natural-log units.
        ramp = torch.linspace(0.0, math.log(0.01), fade + 1)[1:]
        voice[-fade:] = voice[-fade:] + ramp[:, None]
    return voice


def swapped_log_mel(
    target: torch.Tensor,
    target_starts: Sequence[int],
    voice: torch.Tensor,
    layout: MelLayout,
) -> torch.Tensor:
    """Log-mel frames shaped like ``target`` holding ``voice`` at each of ``target_starts``
    (sorted), its peak at the peak level ``target`` reaches in its first frames there, silence
    elsewhere. A voice stops two frames after the next start, as a struck object's ring is
    damped by the next strike, so every event keeps an attack of its own."""
    out = torch.full_like(target, math.log(layout.floor))
    voice_peak = float(torch.logsumexp(voice, dim=1).max())
    level = torch.logsumexp(target, dim=1)
    for j, start in enumerate(target_starts):
        stop = target_starts[j + 1] + 2 if j + 1 < len(target_starts) else len(target)
        length = min(len(voice), stop - start, len(target) - start)
        if length <= 0:
            continue
        gain = float(level[start : start + layout.patch].max()) - voice_peak
        out[start : start + length] = torch.logaddexp(out[start : start + length], voice[:length] + gain)
    return out


def with_timbre_swaps(
    batch: dict[str, torch.Tensor],
    rows: torch.Tensor,
    cache: Mapping[str, torch.Tensor],
    pool: SwapPool,
    layout: MelLayout,
    settings: TimbreSwapSettings,
    generator: torch.Generator,
) -> dict[str, torch.Tensor]:
    """A copy of ``batch`` (rows ``rows`` of ``cache``) whose chosen rows are timbre swaps (see
    the module doc): new ``tokens``, the partner's ``audio_embedding``, ``timbre_swapped`` [B]
    bool, which hides the row's text and keeps its mix, and ``swap_hides_picture`` [B] bool, the
    swapped rows whose CLIP tokens are hidden too (:func:`batch_conditions`). ``swap_partner``
    [B] long is the partner's cache row (−1 where none), for references."""
    b = len(rows)
    pick = torch.rand(b, generator=generator) < settings.swap_prob
    choices = torch.rand(b, generator=generator)
    voice_choices = torch.rand(b, generator=generator)
    # Drawn only when used, so runs without it keep the random stream they always had.
    hide = (
        torch.rand(b, generator=generator) < settings.hide_picture
        if settings.hide_picture > 0
        else torch.zeros(b, dtype=torch.bool)
    )
    tokens = batch["tokens"].clone()
    embedding = batch["audio_embedding"].clone() if "audio_embedding" in batch else None
    swapped = torch.zeros(b, dtype=torch.bool)
    partner_rows = torch.full((b,), -1, dtype=torch.long)
    for i, row in enumerate(rows.tolist()):
        partners = pool.partners[row]
        if not (pick[i] and partners):
            continue
        partner = partners[int(choices[i] * len(partners))]
        own = layout.log_mel(cache["tokens"][row])
        own_starts = onset_frames(own, cache["onsets"][row], layout.patch)
        theirs = layout.log_mel(cache["tokens"][partner])
        their_starts = onset_frames(theirs, cache["onsets"][partner], layout.patch)
        if not own_starts or not their_starts:
            continue
        voice = cut_voice(theirs, their_starts, int(voice_choices[i] * len(their_starts)), layout, settings)
        tokens[i] = layout.tokens(swapped_log_mel(own, own_starts, voice, layout)).to(tokens.dtype)
        if embedding is not None:
            embedding[i] = cache["audio_embedding"][partner]
        swapped[i] = True
        partner_rows[i] = partner
    out = dict(batch)
    out.update(
        tokens=tokens, timbre_swapped=swapped, swap_hides_picture=swapped & hide, swap_partner=partner_rows
    )
    if embedding is not None:
        out["audio_embedding"] = embedding
    return out


def swapped_references(
    batch: dict[str, torch.Tensor], all_tokens: torch.Tensor, generator: torch.Generator
) -> dict[str, torch.Tensor]:
    """After :func:`~foleystudio.train.reference_audio.with_references`: a swapped row that got
    a reference hears a crop of its voice's own stem instead of the stem it replaced."""
    if "ref_audio" not in batch or "swap_partner" not in batch:
        return batch
    ref, mask = batch["ref_audio"].clone(), batch["ref_mask"]
    starts = torch.rand(len(ref), generator=generator)
    n_audio = all_tokens.shape[1]
    for i, partner in enumerate(batch["swap_partner"].tolist()):
        length = int(mask[i].sum())
        if partner < 0 or length == 0:
            continue
        start = int(starts[i] * (n_audio - length + 1))
        ref[i, :length] = all_tokens[partner, start : start + length]
    out = dict(batch)
    out["ref_audio"] = ref
    return out
