"""Visual onset network: where in a video a sound event starts, frame by frame (docs/architecture.md §7.2).

The hand-made motion energy (``motion.py``) is one number per frame for the whole picture: a
bouncing ball's impact (a reversal of its motion) hardly changes it, and a car driving past
dominates it. This small learned network reads the frames themselves, at 24 fps and 32 × 32
grey pixels, and gives one onset probability per frame; Flowley gets it, resampled to the audio
tokens, as a fifth sync feature (STA-V2A feeds its onset prediction to the generator the same
way).

Structure: per frame, the grey image, its backward and its forward difference (3 channels) →
three stride-2 convolutions (32 → 4 px, so the coarse position of the motion survives) → a
linear layer → residual dilated temporal convolutions (dilations 1, 2, 4, 8: about ±0.6 s of
context) → one logit per frame. An object's track is the same network on its box, cropped
from each frame and scaled to 32 × 32.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy.signal import find_peaks
from torch import nn

from foleystudio.core.boxes import Box
from foleystudio.errors import UsageError
from foleystudio.ml.config_dict import config_from_dict
from foleystudio.ml.model_bundle import ModelBundle

#: Name of the network's module and config in a model bundle.
MODULE = "visual_onsets"


@dataclass(frozen=True)
class VisualOnsetConfig:
    """Shape of a :class:`VisualOnsetNet` (``size`` px square grey input at ``fps`` frames/s)."""

    size: int = 32
    fps: float = 24.0
    channels: tuple[int, int, int] = (16, 32, 48)
    hidden: int = 128
    dilations: tuple[int, ...] = (1, 2, 4, 8)

    def __post_init__(self) -> None:
        if self.size % 8 or self.size < 8:
            raise UsageError(f"size must be a multiple of 8 (three stride-2 layers), got {self.size}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VisualOnsetConfig:
        return config_from_dict(cls, data, "visual onset config", ("channels", "dilations"))


class TemporalBlock(nn.Module):
    """Residual dilated temporal convolution over ``[B, width, T]`` (per-frame norm)."""

    def __init__(self, width: int, dilation: int) -> None:
        super().__init__()
        # Per-frame norm over channels only, so a frame's output never depends on how long
        # the sequence is (chunked inference equals one pass).
        self.norm = nn.LayerNorm(width)
        self.conv = nn.Conv1d(width, width, 3, padding=dilation, dilation=dilation)
        self.mix = nn.Conv1d(width, width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mix(F.gelu(self.conv(self.norm(x.transpose(1, 2)).transpose(1, 2))))


class VisualOnsetNet(nn.Module):
    """Grey frames ``[B, T, size, size]`` in [0, 1] → onset logits ``[B, T]`` (one per frame)."""

    def __init__(self, config: VisualOnsetConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or VisualOnsetConfig()
        c1, c2, c3 = config.channels
        self.spatial = nn.Sequential(
            nn.Conv2d(3, c1, 3, stride=2, padding=1),
            nn.GELU(),
            nn.Conv2d(c1, c2, 3, stride=2, padding=1),
            nn.GELU(),
            nn.Conv2d(c2, c3, 3, stride=2, padding=1),
            nn.GELU(),
        )
        cells = (config.size // 8) ** 2
        self.frame_proj = nn.Linear(c3 * cells, config.hidden)
        self.temporal = nn.Sequential(*(TemporalBlock(config.hidden, d) for d in config.dilations))
        self.head = nn.Conv1d(config.hidden, 1, 1)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        if frames.dim() != 4 or frames.shape[-2:] != (self.config.size, self.config.size):
            raise UsageError(
                f"frames must be [B, T, {self.config.size}, {self.config.size}], got {list(frames.shape)}"
            )
        batch, length = frames.shape[:2]
        # Backward/forward differences with the edge frame repeated (zero difference there).
        padded = torch.cat([frames[:, :1], frames, frames[:, -1:]], dim=1)
        backward = padded[:, 1:-1] - padded[:, :-2]
        forward = padded[:, 2:] - padded[:, 1:-1]
        x = torch.stack([frames, backward * 4.0, forward * 4.0], dim=2)  # diffs are small: scale up
        x = self.spatial(x.flatten(0, 1)).flatten(1)
        x = self.frame_proj(x).view(batch, length, -1).transpose(1, 2)
        return self.head(self.temporal(x)).squeeze(1)


def scale_grey(grey: np.ndarray, size: int, box: Box | None = None) -> np.ndarray:
    """``[size, size]`` float32 area-average of a grey image ``[H, W]`` in [0, 1] (or of its
    ``box``, normalised coords, at least one pixel) — the network's input frame."""
    grey = np.asarray(grey, dtype=np.float32)
    if box is not None:
        height, width = grey.shape
        left, top, right, bottom = box.to_pixels(width, height)
        right, bottom = max(right, left + 1), max(bottom, top + 1)
        grey = grey[top:bottom, left:right]
    tensor = torch.from_numpy(np.ascontiguousarray(grey))[None, None]
    return F.adaptive_avg_pool2d(tensor, size)[0, 0].numpy()


def network_frames(greys: Sequence[np.ndarray], size: int, boxes: np.ndarray | None = None) -> np.ndarray:
    """``[T, size, size]`` float32 input frames from grey frames (``motion.grey_small``) of the
    whole picture, or of one object's box per frame (``boxes`` [T, 4] normalised x, y, w, h)."""
    if boxes is None:
        return np.stack([scale_grey(g, size) for g in greys])
    if len(boxes) != len(greys):
        raise UsageError(f"need one box per frame, got {len(boxes)} boxes for {len(greys)} frames")
    return np.stack([scale_grey(g, size, Box(*b)) for g, b in zip(greys, boxes, strict=True)])


def onset_tracks(
    net: VisualOnsetNet, greys: Sequence[np.ndarray], boxes: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Onset probabilities of the whole picture ``[T]`` and of each object box ``[K, T]``
    (``boxes`` [K, T, 4], or None for K = 0) for grey frames at the network's fps."""
    size = net.config.size
    whole = onset_probabilities(net, network_frames(greys, size))
    per_box = [
        onset_probabilities(net, network_frames(greys, size, b)) for b in (boxes if boxes is not None else [])
    ]
    return whole, np.stack(per_box) if per_box else np.zeros((0, len(greys)), np.float32)


@torch.no_grad()
def onset_probabilities(net: VisualOnsetNet, frames: np.ndarray, *, chunk: int = 480) -> np.ndarray:
    """Per-frame onset probability ``[T]`` float32 of input frames ``[T, size, size]`` (from
    :func:`scale_grey`), run in chunks of ``chunk`` frames overlapping by the receptive field so
    long videos stay in bounded memory and give the same result as one pass."""
    frames = np.asarray(frames, dtype=np.float32)
    total = len(frames)
    if total == 0:
        return np.zeros(0, np.float32)
    margin = 2 * sum(net.config.dilations) + 2
    device = next(net.parameters()).device
    out = np.zeros(total, np.float32)
    for begin in range(0, total, chunk):
        end = min(total, begin + chunk)
        lo, hi = max(0, begin - margin), min(total, end + margin)
        x = torch.from_numpy(frames[lo:hi]).to(device)[None]
        probs = torch.sigmoid(net(x))[0].float().cpu().numpy()
        out[begin:end] = probs[begin - lo : end - lo]
    return out


def peak_onsets(probs: np.ndarray, fps: float, threshold: float) -> np.ndarray:
    """Onset times (s) of a per-frame probability track: local maxima above ``threshold``,
    at least two frames apart."""
    peaks, _ = find_peaks(np.concatenate([[0.0], probs, [0.0]]), height=threshold, distance=2)
    return (peaks - 1) / fps


def load_from_bundle(bundle: ModelBundle) -> VisualOnsetNet | None:
    """The visual onset network of a loaded bundle (eval mode, the bundle's device), or None."""
    if not bundle.has_module(MODULE):
        return None
    net = VisualOnsetNet(VisualOnsetConfig.from_dict(bundle.config(MODULE)))
    bundle.load_into(MODULE, net)
    return net.eval()
