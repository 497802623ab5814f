"""Optical-flow motion features at the video's own frame rate (issue 14; docs/architecture.md §7.2).

Motion energy (``motion.py``) measures how much the pixels changed; it barely moves when a
ball bounces (the ball is as visible just before the impact as just after) and it depends on
how the picture was drawn. Dense optical flow measures how things *move*, so the moment a
motion stops or reverses — the visual signature of an impact — shows on any footage.

Flow: OpenCV's DIS optical flow (``DISOPTICAL_FLOW_PRESET_ULTRAFAST``) on grey frames scaled
to at most :data:`FLOW_SIDE` px on the long side, between each frame and the one before, at
the video's native frame rate (docs/decisions.md). Velocities are in frame long-sides per
second, so they do not depend on the frame size or rate.

Per region (the whole picture, or an object box on each frame), per frame ``t`` (the change
from frame ``t - 1`` to ``t``, stamped at frame ``t``'s display time):

- ``magnitude`` [T]: mean flow speed;
- ``direction`` [T, 8]: the speed-weighted histogram of flow direction (8 sectors, 0 = +x,
  counter-clockwise in image coordinates), each row summing to ``magnitude``;
- ``flow_change`` [T]: mean length of the change of the flow vector per pixel;
- ``cells`` [T, C, 2]: the mean flow vector of each cell of a grid over the region (6 × 8
  for the whole picture, 3 × 3 in a box) — where the local motion reverses;
- derived: ``impact`` (the L1 change of ``direction``, Davis & Agrawala's visual impact
  envelope), ``acceleration`` and ``deceleration`` (the rectified change of ``magnitude``
  per second), ``reversal`` (per cell, how strongly the motion turned back at frame t).

``cut`` [T] marks shot cuts (the grey histogram changes completely), where flow is garbage.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from foleystudio.core.boxes import Box, BoxKeyframe
from foleystudio.core.jobs import CancelToken, ProgressCallback, no_progress, sub_progress
from foleystudio.errors import UsageError

#: Long side (px) of the frames optical flow is computed on.
FLOW_SIDE = 256
#: Direction sectors of the flow histogram.
N_DIRECTIONS = 8
#: Grid (rows, columns) of local cells over the whole picture, and inside an object box.
WHOLE_GRID = (6, 8)
BOX_GRID = (3, 3)
#: Frame rate assumed for a stream that declares none (frames/s).
FALLBACK_FPS = 30.0
#: Shot cut: grey histogram correlation below this, or mean absolute grey change above the next.
_CUT_CORRELATION = 0.7
_CUT_GREY_CHANGE = 0.15


@dataclass(frozen=True, eq=False)
class RegionFlow:
    """Flow statistics of one region over T frames (see the module docstring; float32)."""

    magnitude: np.ndarray
    direction: np.ndarray
    flow_change: np.ndarray
    cells: np.ndarray

    @property
    def impact(self) -> np.ndarray:
        """[T] L1 change of the direction histogram from the previous frame (long-sides/s)."""
        out = np.zeros_like(self.magnitude)
        out[1:] = np.abs(np.diff(self.direction, axis=0)).sum(axis=1)
        return out

    def _speed_change(self, fps: float) -> np.ndarray:
        out = np.zeros_like(self.magnitude)
        out[1:] = np.diff(self.magnitude) * fps
        return out

    def acceleration(self, fps: float) -> np.ndarray:
        """[T] rectified increase of the mean speed (long-sides/s²)."""
        return np.maximum(self._speed_change(fps), 0.0)

    def deceleration(self, fps: float) -> np.ndarray:
        """[T] rectified decrease of the mean speed (long-sides/s²)."""
        return np.maximum(-self._speed_change(fps), 0.0)

    @property
    def reversal(self) -> np.ndarray:
        """[T, C] per cell: sqrt(max(0, −v_{t−1} · v_t, −v_{t−1} · v_{t+1})) (long-sides/s):
        large where a local motion turns back. The second pair catches a turn sampled exactly
        on a frame, where the one flow between the two equal positions is zero."""
        out = np.zeros(self.cells.shape[:2], np.float32)
        if len(self.cells) > 1:
            dot = -(self.cells[1:] * self.cells[:-1]).sum(axis=-1)
            if len(self.cells) > 2:
                dot[:-1] = np.maximum(dot[:-1], -(self.cells[2:] * self.cells[:-2]).sum(axis=-1))
            out[1:] = np.sqrt(np.maximum(dot, 0.0))
        return out


@dataclass(frozen=True, eq=False)
class FlowFeatures:
    """Optical-flow features of a run of frames at ``fps``: ``times`` [T] (s, video clock),
    ``cut`` [T] bool, ``whole`` the picture, ``boxes`` one :class:`RegionFlow` per object."""

    times: np.ndarray
    fps: float
    cut: np.ndarray
    whole: RegionFlow
    boxes: tuple[RegionFlow, ...] = ()

    @property
    def n_frames(self) -> int:
        return len(self.times)

    def region(self, box: int | None = None) -> RegionFlow:
        """The whole picture (``box=None``) or object box ``box``."""
        if box is None:
            return self.whole
        if not 0 <= box < len(self.boxes):
            raise UsageError(f"box index {box} out of range (have {len(self.boxes)} boxes)")
        return self.boxes[box]


def _cell_means(field: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """[rows * cols, 2] mean vector of each grid cell of a flow field [h, w, 2] (area
    averaging: exact where the cells divide the field, area-weighted at shared pixels)."""
    rows, cols = grid
    cells = cv2.resize(field, (cols, rows), interpolation=cv2.INTER_AREA)
    return np.asarray(cells, np.float32).reshape(rows * cols, 2)


def _region_stats(
    field: np.ndarray, previous: np.ndarray | None, grid: tuple[int, int]
) -> tuple[float, np.ndarray, float, np.ndarray]:
    field = np.ascontiguousarray(field)
    # cartToPolar's angle is clockwise in image coordinates (y down); negate y for CCW sectors.
    speed, angle = cv2.cartToPolar(field[..., 0], -field[..., 1])
    sector = (angle * (N_DIRECTIONS / (2 * np.pi)) + N_DIRECTIONS / 2).astype(np.int64) % N_DIRECTIONS
    hist = np.bincount(sector.ravel(), weights=speed.ravel(), minlength=N_DIRECTIONS) / speed.size
    change = 0.0
    if previous is not None:
        diff = field - previous
        change = float(cv2.magnitude(diff[..., 0], diff[..., 1]).mean())
    return float(speed.mean()), hist.astype(np.float32), change, _cell_means(field, grid)


def _is_cut(a: np.ndarray, b: np.ndarray) -> bool:
    if float(np.abs(a.astype(np.float32) - b).mean()) / 255.0 > _CUT_GREY_CHANGE:
        return True
    ha = np.bincount((a >> 3).ravel(), minlength=32).astype(np.float64)
    hb = np.bincount((b >> 3).ravel(), minlength=32).astype(np.float64)
    ha, hb = ha - ha.mean(), hb - hb.mean()
    denom = np.sqrt((ha * ha).sum() * (hb * hb).sum())
    return denom > 0 and float((ha * hb).sum() / denom) < _CUT_CORRELATION


def flow_features(
    greys: Sequence[np.ndarray],
    fps: float,
    *,
    start: float = 0.0,
    times: np.ndarray | None = None,
    boxes: np.ndarray | None = None,
    previous: np.ndarray | None = None,
    cancel: CancelToken | None = None,
) -> FlowFeatures:
    """Flow features of uint8 grey frames (long side at most :data:`FLOW_SIDE` px) at ``fps`` frames/s.

    ``times`` [T] display times (default ``start + arange(T) / fps``); ``boxes`` [K, T, 4]
    normalised ``x, y, w, h`` per frame; ``previous`` the frame just before the first, so
    frame 0 is measured (else its values are 0).
    """
    if not fps or fps <= 0:
        raise UsageError(f"fps must be positive, got {fps}")
    n = len(greys)
    if n == 0:
        raise UsageError("no frames to compute optical flow on")
    shape = greys[0].shape
    if any(g.shape != shape for g in greys) or (previous is not None and previous.shape != shape):
        raise UsageError("all frames must have the same size")
    times = start + np.arange(n) / fps if times is None else np.asarray(times, dtype=np.float64)
    box_arr = np.zeros((0, n, 4)) if boxes is None else np.asarray(boxes, dtype=np.float64)
    if box_arr.ndim != 3 or box_arr.shape[1:] != (n, 4):
        raise UsageError(f"boxes must be (K, {n}, 4), got shape {box_arr.shape}")
    height, width = shape
    to_velocity = float(fps) / max(height, width)
    flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
    n_regions = 1 + box_arr.shape[0]
    grids = [WHOLE_GRID] + [BOX_GRID] * box_arr.shape[0]
    magnitude = np.zeros((n_regions, n), np.float32)
    direction = np.zeros((n_regions, n, N_DIRECTIONS), np.float32)
    change = np.zeros((n_regions, n), np.float32)
    cells = [np.zeros((n, g[0] * g[1], 2), np.float32) for g in grids]
    cut = np.zeros(n, bool)
    last_fields: list[np.ndarray | None] = [None] * n_regions
    sequence = ([previous] if previous is not None else []) + list(greys)
    offset = 1 if previous is None else 0  # frame index of the first measured change
    for i in range(1, len(sequence)):
        if cancel is not None:
            cancel.raise_if_cancelled()
        t = i - 1 + offset  # the frame this change ends at
        a, b = sequence[i - 1], sequence[i]
        if _is_cut(a, b):
            cut[t] = True
            last_fields = [None] * n_regions
            continue
        field = flow.calc(a, b, None) * to_velocity
        for r in range(n_regions):
            if r == 0:
                part = field
            else:
                left, top, right, bottom = Box(*box_arr[r - 1, t]).to_pixels(width, height)
                part = field[top:bottom, left:right]
            previous_part = last_fields[r]
            if previous_part is not None and previous_part.shape != part.shape:
                previous_part = None  # the box changed size: no per-pixel change this frame
            magnitude[r, t], direction[r, t], change[r, t], cells[r][t] = _region_stats(
                part, previous_part, grids[r]
            )
            last_fields[r] = part
    regions = [RegionFlow(magnitude[r], direction[r], change[r], cells[r]) for r in range(n_regions)]
    return FlowFeatures(times, float(fps), cut, regions[0], tuple(regions[1:]))


def video_fps(info: object) -> float:
    """The frame rate flow is computed at for a probed video: its own (mean for VFR)."""
    fps = getattr(info, "fps", None)
    return float(fps) if fps else FALLBACK_FPS


def flow_from_video(
    video: object,
    start: float,
    end: float,
    *,
    objects: Sequence[Sequence[BoxKeyframe]] | None = None,
    cancel: CancelToken | None = None,
    progress: ProgressCallback = no_progress,
) -> FlowFeatures:
    """Flow features of ``video`` (a ``core.media.VideoFile`` or a path) from ``start`` to ``end``
    seconds at its own frame rate; ``objects`` are each object's box keyframes. One frame before
    ``start`` is decoded too, so the first frame is measured (``ml.video_pass.decode_range``,
    which also gives the 24 fps frames of the other video features from the same pass)."""
    if not hasattr(video, "iter_frames"):
        from foleystudio.core.media import VideoFile

        with VideoFile(os.fspath(video)) as opened:  # type: ignore[arg-type]
            return flow_from_video(opened, start, end, objects=objects, cancel=cancel, progress=progress)
    from foleystudio.ml.video_pass import decode_range  # imports this module

    frames = decode_range(
        video,  # type: ignore[arg-type]
        start,
        end,
        motion=False,
        flow=True,
        cancel=cancel,
        progress=sub_progress(progress, 0.0, 0.5),
    )
    features = frames.flow_features(objects, cancel=cancel)
    progress(1.0, "optical flow")
    return features
