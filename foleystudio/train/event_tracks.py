"""Teach Flowley to follow an event track, not the picture (issue 15).

At generation the onset column of the sync features is either the visual onset network's
probability or an event track (given by the user, or the optical-flow detector's), rendered
binary at the token rate (``core.events.render_track``). A model fine-tuned only on the network's
track follows a given track where it agrees with the picture, and drifts back to the picture
where it does not (a track moved 0.3 s late was followed with F1 0.80 only).

So for a share of the training rows the onset column becomes the row's true onsets rendered the
same way, and for some of those the audio and its onsets are moved together against the picture
by a random whole number of tokens: the picture (CLIP tokens, motion features) then disagrees
with the track, and only following the track lowers the loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from foleystudio.errors import UsageError


@dataclass(frozen=True)
class EventTrackSettings:
    """How often a training row's onset feature is its true event track.

    ``track_prob``: share of rows given the true track (binary, as at generation);
    ``shift_prob``: share of those moved against the picture; ``min_shift_s``/``max_shift_s``:
    the size of the move in seconds, either direction; ``motion_drop_prob``: see the field."""

    track_prob: float = 0.0
    shift_prob: float = 0.5
    min_shift_s: float = 0.15
    max_shift_s: float = 0.6
    #: Share of the track rows whose motion features (every sync column but the onset one)
    #: are zeroed, so the track alone says when: a picture whose motion the model cannot read.
    motion_drop_prob: float = 0.0

    def __post_init__(self) -> None:
        for name in ("track_prob", "shift_prob", "motion_drop_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise UsageError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        if not 0.0 < self.min_shift_s <= self.max_shift_s:
            raise UsageError(
                f"need 0 < min_shift_s <= max_shift_s, got {self.min_shift_s}, {self.max_shift_s}"
            )

    @property
    def enabled(self) -> bool:
        return self.track_prob > 0


def with_event_tracks(
    batch: dict[str, torch.Tensor],
    token_rate: float,
    settings: EventTrackSettings,
    generator: torch.Generator,
) -> dict[str, torch.Tensor]:
    """A copy of ``batch`` whose chosen rows follow their true event track.

    ``batch`` holds ``tokens`` [B, Na, D], ``onsets`` [B, Na] (1 at each onset token) and
    ``sync`` [B, Na, S] whose last column is the onset feature. A shifted row has its tokens and
    onsets rolled by ±k tokens (what leaves one end re-enters at the other, still with its own
    onset marks, so audio and track agree everywhere)."""
    b, n = batch["onsets"].shape
    pick = torch.rand(b, generator=generator) < settings.track_prob
    shift = pick & (torch.rand(b, generator=generator) < settings.shift_prob)
    lo = max(1, round(settings.min_shift_s * token_rate))
    hi = max(lo, round(settings.max_shift_s * token_rate))
    amount = torch.randint(lo, hi + 1, (b,), generator=generator)
    sign = torch.where(torch.rand(b, generator=generator) < 0.5, -1, 1)
    # Drawn only when used, so runs without it keep the random stream they always had.
    blind = (
        torch.rand(b, generator=generator) < settings.motion_drop_prob
        if settings.motion_drop_prob > 0
        else None
    )
    if not bool(pick.any()):
        return batch
    out = dict(batch)
    tokens, onsets, sync = batch["tokens"].clone(), batch["onsets"].clone(), batch["sync"].clone()
    for row in torch.nonzero(pick).flatten().tolist():
        if shift[row]:
            k = int(sign[row] * amount[row])
            tokens[row] = torch.roll(tokens[row], k, dims=0)
            onsets[row] = torch.roll(onsets[row], k, dims=0)
        sync[row, :, -1] = (onsets[row] > 0.5).to(sync.dtype)
        if blind is not None and blind[row]:
            sync[row, :, :-1] = 0.0
    out.update(tokens=tokens, onsets=onsets, sync=sync)
    return out
