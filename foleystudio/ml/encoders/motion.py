"""Motion energy: a training-free, weight-free visual timing signal (docs/architecture.md §7.2). NumPy only.

Per frame at 24 fps: the mean absolute difference between consecutive grey frames (grey in
[0, 1], frames block-averaged down to at most 160 px on the long side), over the whole frame
and inside each object box, plus its half-wave-rectified derivative (onset-like: it jumps
when something starts to move or changes speed).

Conventions:
- ``energy[t]`` measures the change from frame ``t - 1`` to frame ``t`` and is stamped at
  frame ``t``'s time ``times[t]`` (seconds). For ``energy[0]`` the frame before the first one
  is used when given (``previous``); otherwise ``energy[0] = energy[1]`` so a range that starts
  mid-motion shows no false jump.
- ``onset[t] = max(0, energy[t] - energy[t - 1])``, ``onset[0] = 0``.
- A box is measured on frame ``t``'s box (normalised ``x, y, w, h``) in both frames ``t - 1``
  and ``t``: the change *in that region*.

The sync features that Flowley adds to its audio tokens come from :func:`sync_features`,
which resamples these series to the audio token rate (e.g. 15.625 tokens/s).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from foleystudio.core.boxes import Box, BoxKeyframe, box_at
from foleystudio.core.jobs import CancelToken, ProgressCallback, no_progress
from foleystudio.errors import UsageError

#: Frame rate motion energy is computed at (frames per second).
MOTION_FPS = 24.0
#: Frames are block-averaged down to at most this many pixels on their long side.
MAX_SIDE = 160
#: Names of the columns of :func:`sync_features`, in order.
SYNC_FEATURE_NAMES = ("log_energy", "energy_rel", "onset_rel", "log_onset")
#: Floor of the log features and of the relative features' normaliser (mean abs grey diff);
#: below ~1e-3 a change is codec noise, so a static shot is not blown up to full scale.
_LOG_FLOOR = 1e-4
_REL_FLOOR = 1e-3
_GREY = np.array([0.299, 0.587, 0.114], np.float32)


@dataclass(frozen=True)
class MotionFeatures:
    """Motion energy of a run of frames; all series are float32, one value per frame.

    ``times`` [T] seconds; ``energy``/``onset`` [T] global; ``box_energy``/``box_onset``
    [K, T] per object box (K = 0 without boxes). Energies are mean absolute grey differences
    in [0, 1].
    """

    times: np.ndarray
    fps: float
    energy: np.ndarray
    onset: np.ndarray
    box_energy: np.ndarray
    box_onset: np.ndarray

    @property
    def n_frames(self) -> int:
        return len(self.times)

    @property
    def n_boxes(self) -> int:
        return int(self.box_energy.shape[0])

    def series(self, box: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(energy, onset)`` of the whole frame (``box=None``) or of object box ``box``."""
        if box is None:
            return self.energy, self.onset
        if not 0 <= box < self.n_boxes:
            raise UsageError(f"box index {box} out of range (have {self.n_boxes} boxes)")
        return self.box_energy[box], self.box_onset[box]


def grey_small(frame: np.ndarray, max_side: int = MAX_SIDE) -> np.ndarray:
    """Grey float32 [h, w] in [0, 1] of an RGB uint8 [H, W, 3] frame, block-averaged by the
    smallest integer factor that brings the long side to <= ``max_side`` (edge pixels that do
    not fill a block are dropped)."""
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise UsageError(f"a frame must be uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
    height, width = frame.shape[:2]
    k = max(1, math.ceil(max(height, width) / max_side))
    if k == 1:
        return frame.astype(np.float32) @ (_GREY / 255.0)
    h, w = height // k, width // k
    if h == 0 or w == 0:
        raise UsageError(f"frame {width}x{height} is too thin to measure motion")
    x = frame[: h * k, : w * k]
    # Sum rows then columns in integers (k*k*255 fits in uint32; k*255 in uint16): ~4 ms for
    # 1080p, versus ~36 ms for one strided 4-D reduction.
    rows = np.add.reduce(x.reshape(h, k, w * k * 3), axis=1, dtype=np.uint16)
    blocks = rows.reshape(h, w, k, 3).sum(axis=2, dtype=np.uint32)
    return blocks.astype(np.float32) @ (_GREY / (255.0 * k * k))


def _as_box_array(boxes: np.ndarray | None, n_frames: int) -> np.ndarray:
    if boxes is None:
        return np.zeros((0, n_frames, 4), np.float64)
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1:] != (n_frames, 4):
        raise UsageError(
            f"boxes must be (T, 4) or (K, T, 4) with T = {n_frames} frames, got shape {arr.shape}"
        )
    return arr


def boxes_at_times(keyframes: Sequence[BoxKeyframe], times: np.ndarray) -> np.ndarray:
    """[T, 4] normalised ``x, y, w, h`` of an object's keyframed box at each time (seconds)."""
    out = np.empty((len(times), 4))
    for i, t in enumerate(np.asarray(times, dtype=np.float64)):
        b = box_at(keyframes, float(t))
        out[i] = (b.x, b.y, b.w, b.h)
    return out


def _rectified_derivative(series: np.ndarray) -> np.ndarray:
    out = np.zeros_like(series)
    if series.shape[-1] > 1:
        out[..., 1:] = np.maximum(np.diff(series, axis=-1), 0.0)
    return out


def motion_energy(
    frames: np.ndarray | Iterable[np.ndarray],
    boxes: np.ndarray | None = None,
    *,
    fps: float = MOTION_FPS,
    start: float = 0.0,
    previous: np.ndarray | None = None,
    max_side: int = MAX_SIDE,
) -> MotionFeatures:
    """Motion energy of RGB uint8 frames [T, H, W, 3] (or an iterable of [H, W, 3]) at ``fps``.

    ``boxes``: None, [T, 4] or [K, T, 4] normalised ``x, y, w, h`` per frame (one row per
    object). ``start``: time of the first frame in seconds (``times = start + arange(T)/fps``).
    ``previous``: the frame just before the first, if known, so ``energy[0]`` is measured.
    """
    if fps <= 0:
        raise UsageError(f"fps must be positive, got {fps}")
    greys = [grey_small(f, max_side) for f in frames]
    n = len(greys)
    if n == 0:
        raise UsageError("no frames to measure motion on")
    if any(g.shape != greys[0].shape for g in greys):
        raise UsageError("all frames must have the same size")
    box_arr = _as_box_array(boxes, n)
    stack = np.stack(greys)
    has_previous = previous is not None
    if has_previous:
        before = grey_small(previous, max_side)
        if before.shape != greys[0].shape:
            raise UsageError("the previous frame must have the same size as the frames")
        stack = np.concatenate([before[None], stack])
    diffs = np.abs(np.diff(stack, axis=0))  # [T or T-1, h, w]; diffs[i] ends at frame i(+1)
    h, w = stack.shape[1:]

    def with_first(values: np.ndarray) -> np.ndarray:
        # values[..., i] is the change ending at frame i+1 (no previous) or at frame i (previous)
        if has_previous:
            return values
        if values.shape[-1] == 0:  # a single frame without a previous one: no motion measurable
            return np.zeros(values.shape[:-1] + (1,), np.float32)
        return np.concatenate([values[..., :1], values], axis=-1)

    energy = with_first(diffs.mean(axis=(1, 2)).astype(np.float32))
    box_energy = np.zeros((box_arr.shape[0], diffs.shape[0]), np.float32)
    offset = 0 if has_previous else 1
    for k in range(box_arr.shape[0]):
        for i in range(diffs.shape[0]):
            x, y, bw, bh = box_arr[k, i + offset]
            left, top, right, bottom = Box(x, y, bw, bh).to_pixels(w, h)
            box_energy[k, i] = diffs[i, top:bottom, left:right].mean()
    box_energy = with_first(box_energy)
    times = (start + np.arange(n) / fps).astype(np.float64)
    return MotionFeatures(
        times=times,
        fps=float(fps),
        energy=energy,
        onset=_rectified_derivative(energy),
        box_energy=box_energy,
        box_onset=_rectified_derivative(box_energy),
    )


def motion_from_video(
    video: object,
    start: float,
    end: float,
    *,
    fps: float = MOTION_FPS,
    objects: Sequence[Sequence[BoxKeyframe]] | None = None,
    cancel: CancelToken | None = None,
    progress: ProgressCallback = no_progress,
) -> MotionFeatures:
    """Motion energy of ``video`` (a ``core.media.VideoFile`` or a path) from ``start`` to ``end`` s.

    Frames are decoded at ``fps`` and at most :data:`MAX_SIDE` px by the reader (scaling in
    the decoder is far cheaper than in NumPy); one frame before ``start`` is decoded too when
    ``start > 0`` so ``energy[0]`` is measured. ``objects``: box keyframes of each object.
    """
    if end <= start:
        raise UsageError(f"empty range: start {start} s, end {end} s")
    if not hasattr(video, "iter_frames"):
        from foleystudio.core.media import VideoFile  # the PyAV reader; imported only when needed

        with VideoFile(os.fspath(video)) as opened:  # type: ignore[arg-type]
            return motion_from_video(
                opened, start, end, fps=fps, objects=objects, cancel=cancel, progress=progress
            )
    lead = 1.0 / fps if start > 0 else 0.0
    frames: list[np.ndarray] = []
    times: list[float] = []
    span = end - start + lead
    for t, frame in video.iter_frames(fps, MAX_SIDE, start=max(0.0, start - lead), end=end):  # type: ignore[attr-defined]
        if cancel is not None:
            cancel.raise_if_cancelled()
        frames.append(np.asarray(frame))
        times.append(float(t))
        progress(min(1.0, (t - start + lead) / span), "motion energy")
    previous = None
    if lead and len(frames) > 1 and times[0] < start - 0.5 / fps:
        previous = frames.pop(0)
        times.pop(0)
    if not frames:
        raise UsageError(f"no video frames between {start} s and {end} s")
    boxes = None
    if objects:
        boxes = np.stack([boxes_at_times(keys, np.asarray(times)) for keys in objects])
    features = motion_energy(frames, boxes, fps=fps, start=times[0], previous=previous)
    progress(1.0, "motion energy")
    return features


def resample_to_rate(
    values: np.ndarray,
    times: np.ndarray,
    rate: float,
    n: int,
    *,
    start: float = 0.0,
    reduce: str = "mean",
) -> np.ndarray:
    """Put a series sampled at ``times`` (seconds) onto ``n`` bins of ``1/rate`` s from ``start``.

    Bin ``i`` covers ``[start + i/rate, start + (i+1)/rate)``. ``reduce="mean"`` averages the
    samples inside a bin, ``"max"`` takes their maximum (for impulse-like series such as
    onsets, so a one-frame spike is never averaged away). A bin holding no sample (bins
    shorter than the frame period) takes the linear interpolation at its centre. Outside the
    series' time span the edge value is held. ``values`` [T] or [T, C] -> [n] or [n, C] float32.
    """
    if rate <= 0 or n < 0:
        raise UsageError(f"need rate > 0 and n >= 0, got rate {rate}, n {n}")
    if reduce not in ("mean", "max"):
        raise UsageError(f"reduce must be 'mean' or 'max', got {reduce!r}")
    vals = np.asarray(values, dtype=np.float64)
    squeeze = vals.ndim == 1
    vals = vals[:, None] if squeeze else vals
    t = np.asarray(times, dtype=np.float64)
    if len(t) != len(vals) or len(t) == 0:
        raise UsageError(f"need as many times as values (> 0), got {len(t)} and {len(vals)}")
    centres = start + (np.arange(n) + 0.5) / rate
    out = np.stack([np.interp(centres, t, vals[:, c]) for c in range(vals.shape[1])], axis=1)
    bins = np.floor((t - start) * rate + 1e-9).astype(np.int64)
    inside = (bins >= 0) & (bins < n)
    if np.any(inside):
        b, v = bins[inside], vals[inside]
        if reduce == "mean":
            sums = np.zeros((n, vals.shape[1]))
            np.add.at(sums, b, v)
            counts = np.bincount(b, minlength=n)
            filled = counts > 0
            out[filled] = sums[filled] / counts[filled, None]
        else:
            maxima = np.full((n, vals.shape[1]), -np.inf)
            np.maximum.at(maxima, b, v)
            filled = np.isfinite(maxima[:, 0])
            out[filled] = maxima[filled]
    out = out.astype(np.float32)
    return out[:, 0] if squeeze else out


def sync_features(
    motion: MotionFeatures,
    rate: float,
    n: int,
    *,
    start: float = 0.0,
    box: int | None = None,
) -> np.ndarray:
    """[n, 4] float32 sync features at the audio token rate (``rate`` tokens/s from ``start`` s).

    Columns (:data:`SYNC_FEATURE_NAMES`), each in about [0, 1]:
    0 ``log_energy``: (log10(energy + 1e-4) + 4) / 4, clipped to [0, 1] — absolute level;
    1 ``energy_rel``: energy / max(energy over the analysed range, 1e-3) — shape of the motion;
    2 ``onset_rel``: onset / max(onset over the range, 1e-3), bin maximum — when motion starts;
    3 ``log_onset``: (log10(onset + 1e-4) + 4) / 4, clipped, bin maximum.
    Energies are bin means, onsets bin maxima (see :func:`resample_to_rate`). ``box``: use
    object box ``box`` instead of the whole frame.
    """
    energy, onset = motion.series(box)
    e = resample_to_rate(energy, motion.times, rate, n, start=start, reduce="mean").astype(np.float64)
    o = resample_to_rate(onset, motion.times, rate, n, start=start, reduce="max").astype(np.float64)
    e_max = max(float(np.max(energy)), _REL_FLOOR)
    o_max = max(float(np.max(onset)), _REL_FLOOR)

    def log_scale(x: np.ndarray) -> np.ndarray:
        return np.clip((np.log10(np.maximum(x, 0.0) + _LOG_FLOOR) + 4.0) / 4.0, 0.0, 1.0)

    feats = np.stack([log_scale(e), e / e_max, o / o_max, log_scale(o)], axis=1)
    return feats.astype(np.float32)
