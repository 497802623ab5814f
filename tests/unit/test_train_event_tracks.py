"""Training rows that follow their true event track, some moved against the picture (issue 15)."""

from __future__ import annotations

import pytest
import torch

from foleystudio.errors import UsageError
from foleystudio.train.event_tracks import EventTrackSettings, with_event_tracks

RATE = 15.625


def _batch(b: int = 6, n: int = 125, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    onsets = (torch.rand(b, n, generator=g) < 0.08).float()
    sync = torch.rand(b, n, 5, generator=g)
    return {"tokens": torch.randn(b, n, 4, generator=g), "onsets": onsets, "sync": sync}


def test_unshifted_rows_get_their_onsets_as_the_binary_onset_feature():
    batch = _batch()
    out = with_event_tracks(batch, RATE, EventTrackSettings(1.0, shift_prob=0.0), torch.Generator())
    assert torch.equal(out["sync"][..., -1], batch["onsets"])
    assert torch.equal(out["sync"][..., :-1], batch["sync"][..., :-1])  # the picture's features stay
    assert torch.equal(out["tokens"], batch["tokens"]) and torch.equal(out["onsets"], batch["onsets"])


def test_shifted_rows_move_audio_and_onsets_together_by_a_bounded_amount():
    batch = _batch()
    settings = EventTrackSettings(1.0, shift_prob=1.0, min_shift_s=0.15, max_shift_s=0.6)
    out = with_event_tracks(batch, RATE, settings, torch.Generator().manual_seed(3))
    lo, hi = round(0.15 * RATE), round(0.6 * RATE)
    for row in range(6):
        moves = [
            k
            for k in range(-hi, hi + 1)
            if torch.equal(torch.roll(batch["tokens"][row], k, 0), out["tokens"][row])
        ]
        assert len(moves) == 1 and lo <= abs(moves[0]) <= hi
        assert torch.equal(torch.roll(batch["onsets"][row], moves[0], 0), out["onsets"][row])
        assert torch.equal(out["sync"][row, :, -1], out["onsets"][row])
        assert torch.equal(out["sync"][row, :, :-1], batch["sync"][row, :, :-1])  # not the picture


def test_share_of_rows_and_determinism():
    batch = _batch(b=400)
    settings = EventTrackSettings(0.5, shift_prob=0.0)
    a = with_event_tracks(batch, RATE, settings, torch.Generator().manual_seed(1))
    b = with_event_tracks(batch, RATE, settings, torch.Generator().manual_seed(1))
    assert torch.equal(a["sync"], b["sync"])
    changed = (a["sync"][..., -1] != batch["sync"][..., -1]).any(dim=1).float().mean()
    assert 0.4 < float(changed) < 0.6
    assert with_event_tracks(batch, RATE, EventTrackSettings(0.0), torch.Generator()) is batch


@pytest.mark.parametrize(
    "kwargs",
    [{"track_prob": 1.5}, {"track_prob": 0.5, "shift_prob": -0.1}, {"min_shift_s": 0.7, "max_shift_s": 0.6}],
)
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(UsageError):
        EventTrackSettings(**kwargs)


def test_motion_drop_zeroes_the_motion_features_of_some_track_rows_only():
    batch = _batch(b=400)
    settings = EventTrackSettings(0.5, shift_prob=0.0, motion_drop_prob=0.5)
    out = with_event_tracks(batch, RATE, settings, torch.Generator().manual_seed(2))
    track_rows = (out["sync"][..., -1] != batch["sync"][..., -1]).any(dim=1)
    blind = (out["sync"][..., :-1] == 0).all(dim=(1, 2))
    assert not bool((blind & ~track_rows).any())  # only rows given their track
    share = float(blind[track_rows].float().mean())
    assert 0.35 < share < 0.65
    # Their onset column is still the track.
    assert torch.equal(out["sync"][blind][..., -1], batch["onsets"][blind])
    with pytest.raises(UsageError):
        EventTrackSettings(0.5, motion_drop_prob=1.5)
