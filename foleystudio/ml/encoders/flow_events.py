"""Flow event network: a learned visual event detector over optical-flow features (issue 14).

The hand-made detector (``ml.event_detector.impact_envelope``) takes one cue, the strongest
local motion reversal. This small network reads all the flow statistics of a region
(``optical_flow.RegionFlow``: speed, direction histogram, flow change, per-cell reversal,
acceleration) and learns which patterns make a sound. It sees no pixels, so it does not learn
how FoleyWorld's renderer draws things, and it is trained on domain-randomised FoleyWorld
(textures, shake, zoom, noise, blur, frame rates 12–60, distractors) where the true onsets
are known.

Input: per frame, :data:`N_FEATURES` numbers (:func:`region_features`). Every feature comes
twice: scaled by its own 95th percentile over the analysed range (so a small object's motion
counts as much as a large one's, whatever the renderer), and in absolute units (long-sides/s,
log-compressed). Frames are resampled to :data:`NET_RATE` Hz (max over the frames in each
bin, the nearest frame where a bin has none), so the receptive field is the same in seconds
at any frame rate; the output comes back to the video's own frame times.

Network: a per-frame linear layer, residual dilated temporal convolutions (dilations 1, 2, 4,
8, 1: about ±0.5 s of context) and one logit per bin.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.signal import find_peaks
from torch import nn

from foleystudio.errors import UsageError
from foleystudio.ml.config_dict import config_from_dict
from foleystudio.ml.encoders.optical_flow import FlowFeatures, RegionFlow
from foleystudio.ml.encoders.visual_onsets import TemporalBlock
from foleystudio.ml.model_bundle import ModelBundle

#: Name of the network's module and config in a model bundle.
MODULE = "flow_events"
#: Rate (Hz) the network runs at, whatever the video's frame rate.
NET_RATE = 30.0
#: Per-frame signals before the two scalings (see :func:`region_features`).
_SIGNALS = 17
#: Features per frame: each signal relative and absolute, plus the cut flag.
N_FEATURES = 2 * _SIGNALS + 1
#: The relative scale of a signal is this percentile of it over the range, at least _SCALE_FLOOR.
_SCALE_PERCENTILE = 95.0
_SCALE_FLOOR = 1e-3


@dataclass(frozen=True)
class FlowEventConfig:
    """Shape of a :class:`FlowEventNet` and its peak picking: events are the probability's
    peaks above ``threshold``, at least ``min_gap`` seconds apart."""

    features: int = N_FEATURES
    hidden: int = 64
    dilations: tuple[int, ...] = (1, 2, 4, 8, 1)
    rate: float = NET_RATE
    threshold: float = 0.5
    min_gap: float = 0.1

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FlowEventConfig:
        return config_from_dict(cls, data, "flow event config", ("dilations",))


class FlowEventNet(nn.Module):
    """Flow features ``[B, T, features]`` at ``config.rate`` Hz → event logits ``[B, T]``."""

    def __init__(self, config: FlowEventConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or FlowEventConfig()
        self.frame_proj = nn.Linear(config.features, config.hidden)
        self.temporal = nn.Sequential(*(TemporalBlock(config.hidden, d) for d in config.dilations))
        self.head = nn.Conv1d(config.hidden, 1, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if features.dim() != 3 or features.shape[-1] != self.config.features:
            raise UsageError(f"features must be [B, T, {self.config.features}], got {list(features.shape)}")
        x = self.frame_proj(features).transpose(1, 2)
        return self.head(self.temporal(x)).squeeze(1)


def _signals(region: RegionFlow, fps: float) -> np.ndarray:
    """[T, _SIGNALS] non-negative per-frame signals of one region."""
    magnitude = region.magnitude
    reversal = region.reversal  # [T, C]
    speeds = np.linalg.norm(region.cells, axis=-1)  # [T, C]
    cell_change = np.zeros_like(speeds)
    if len(region.cells) > 1:
        cell_change[1:] = np.linalg.norm(np.diff(region.cells, axis=0), axis=-1)
    # Per-cell reversal relative to the cell's own level: a small object's turn counts fully.
    level = (
        np.maximum(np.percentile(reversal, _SCALE_PERCENTILE, axis=0), _SCALE_FLOOR) if reversal.size else 1.0
    )
    relative_reversal = reversal / level
    columns = [
        magnitude,
        region.flow_change,
        region.impact,
        region.acceleration(fps) / fps,
        region.deceleration(fps) / fps,
        reversal.max(axis=1),
        reversal.mean(axis=1),
        np.sort(reversal, axis=1)[:, -3:].mean(axis=1),
        relative_reversal.max(axis=1),
        speeds.max(axis=1),
        speeds.std(axis=1),
        cell_change.max(axis=1),
        cell_change.mean(axis=1),
        # direction: the share of the strongest sector and its change, and the vertical balance
        region.direction.max(axis=1),
        np.abs(np.diff(region.direction, axis=0, prepend=region.direction[:1])).max(axis=1),
        region.direction[:, 1:4].sum(axis=1),  # upward sectors (45°–135°)
        region.direction[:, 5:8].sum(axis=1),  # downward sectors
    ]
    return np.stack([np.asarray(c, np.float32) for c in columns], axis=1)


def region_features(region: RegionFlow, cut: np.ndarray, fps: float) -> np.ndarray:
    """``[T, N_FEATURES]`` float32 network input of one region at its own frame rate ``fps``:
    each signal scaled by its range's 95th percentile and, log-compressed, in absolute units;
    then the shot-cut flag. Frames at a cut (and the frame after) have zero signals."""
    signals = _signals(region, fps)
    blocked = np.asarray(cut, bool).copy()
    blocked[1:] |= blocked[:-1].copy()
    signals[blocked] = 0.0
    scale = (
        np.maximum(np.percentile(signals, _SCALE_PERCENTILE, axis=0), _SCALE_FLOOR) if len(signals) else 1.0
    )
    relative = np.log1p(signals / scale)
    absolute = np.log1p(signals * 10.0)
    return np.concatenate([relative, absolute, blocked[:, None].astype(np.float32)], axis=1).astype(
        np.float32
    )


def bin_times(times: np.ndarray, rate: float) -> np.ndarray:
    """Centre times (s) of the ``rate`` Hz bins covering frame ``times`` (the first bin centred
    on the first frame)."""
    times = np.asarray(times, np.float64)
    if len(times) == 0:
        return np.zeros(0)
    count = int(np.floor((times[-1] - times[0]) * rate + 1e-6)) + 1
    return times[0] + np.arange(count) / rate


def to_rate(values: np.ndarray, times: np.ndarray, rate: float) -> np.ndarray:
    """``values`` [T, F] at frame ``times`` → [N, F] at :func:`bin_times`: the max over the frames
    in each bin (a 60 fps spike survives), the nearest frame for a bin with none."""
    values = np.asarray(values, np.float32)
    grid = bin_times(times, rate)
    index = np.clip(np.round((np.asarray(times) - times[0]) * rate).astype(np.int64), 0, len(grid) - 1)
    out = np.full((len(grid), values.shape[1]), -np.inf, np.float32)
    np.maximum.at(out, index, values)
    empty = ~np.isfinite(out[:, 0])
    if empty.any():
        nearest = np.abs(grid[empty, None] - np.asarray(times)[None, :]).argmin(axis=1)
        out[empty] = values[nearest]
    return out


@torch.no_grad()
def event_probability(
    net: FlowEventNet, flow: FlowFeatures, box: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Event probability of the whole picture (``box=None``) or of object box ``box``:
    ``(probability [N], bin times [N] s)`` at the network's rate."""
    region = flow.region(box)
    features = region_features(region, flow.cut, flow.fps)
    grid_features = to_rate(features, flow.times, net.config.rate)
    device = next(net.parameters()).device
    logits = net(torch.from_numpy(grid_features).to(device)[None])[0]
    return torch.sigmoid(logits).float().cpu().numpy(), bin_times(flow.times, net.config.rate)


def pick_events(
    probability: np.ndarray, grid: np.ndarray, frame_times: np.ndarray, config: FlowEventConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Events ``(times s, strengths)`` of a probability track at ``grid`` times: peaks above the
    config's threshold, ``min_gap`` apart, each moved to the nearest frame time (events land on
    real frames) with strength = its probability."""
    distance = max(1, int(round(config.min_gap * config.rate)))
    padded = np.concatenate([[0.0], probability, [0.0]])
    peaks, _ = find_peaks(padded, height=config.threshold, distance=distance)
    peaks = peaks - 1
    if len(peaks) == 0 or len(frame_times) == 0:
        return np.zeros(0), np.zeros(0)
    frame_times = np.asarray(frame_times, np.float64)
    nearest = np.abs(grid[peaks, None] - frame_times[None, :]).argmin(axis=1)
    times, first = np.unique(frame_times[nearest], return_index=True)
    return times, np.clip(probability[peaks][first], 0.0, 1.0)


def load_from_bundle(bundle: ModelBundle) -> FlowEventNet | None:
    """The flow event network of a loaded bundle (eval mode, the bundle's device), or None."""
    if not bundle.has_module(MODULE):
        return None
    net = FlowEventNet(FlowEventConfig.from_dict(bundle.config(MODULE)))
    bundle.load_into(MODULE, net)
    return net.eval()
