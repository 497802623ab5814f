"""One decoding pass over a range of a video for every video feature (docs/architecture.md §7.2).

The video features need frames on two clocks: 24 fps RGB thumbnails (long side
:data:`~foleystudio.ml.encoders.motion.MAX_SIDE`) for the CLIP tokens, motion energy and the
visual onset network, and grey frames at the video's own rate (long side
:data:`~foleystudio.ml.encoders.optical_flow.FLOW_SIDE`) for optical flow. :func:`decode_range`
gets both from **one** pass of the decoder (``core.media.VideoFile.iter_grids``): each video
frame is decoded once, and FFmpeg converts the decoded picture to each size and format that
shows it. So every image is exactly what a separate ``VideoFile.iter_frames`` at that rate,
size and format would give — the frame displayed at that time (frame-accurate, VFR included),
scaled with the same area filter from the full picture — while the decoding, most of the cost
at 1080p, is paid once instead of twice.

Used by ``ml.features.extract_video_features``, ``ml.event_detector.detect_events`` and
``ml.encoders.optical_flow.flow_from_video``. Times are seconds on the video clock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from foleystudio.core.boxes import BoxKeyframe
from foleystudio.core.jobs import CancelToken, ProgressCallback, no_progress
from foleystudio.core.media import FrameGrid, VideoFile
from foleystudio.errors import MediaError
from foleystudio.ml.encoders.motion import MAX_SIDE, MOTION_FPS, boxes_at_times
from foleystudio.ml.encoders.optical_flow import FLOW_SIDE, FlowFeatures, flow_features, video_fps


@dataclass(frozen=True, eq=False)
class RangeFrames:
    """The frames of ``[start, end)`` s of a video from one decoding pass.

    ``frames`` RGB uint8 [h, w, 3] (long side <= ``MAX_SIDE``) at :data:`MOTION_FPS`, displayed at
    ``times`` [T] s, and ``previous`` the 24 fps frame before the first (None at the start of
    the file or when not asked for); empty without motion frames. ``flow_greys`` luma uint8
    [h, w] (long side <= ``FLOW_SIDE``) at the video's own rate ``flow_fps`` on the file's frame
    grid (frame ``k`` at ``k / flow_fps``), at ``flow_times``, with ``flow_previous`` the frame
    before; empty without flow.
    """

    start: float
    end: float
    frames: list[np.ndarray]
    times: np.ndarray
    previous: np.ndarray | None
    flow_greys: list[np.ndarray]
    flow_times: np.ndarray
    flow_previous: np.ndarray | None
    flow_fps: float

    def flow_features(
        self, objects: Sequence[Sequence[BoxKeyframe]] | None = None, cancel: CancelToken | None = None
    ) -> FlowFeatures:
        """Optical-flow features of the flow frames (``optical_flow.flow_features``), with one
        box series per object's keyframes in ``objects``."""
        boxes = None
        if objects:
            boxes = np.stack([boxes_at_times(keys, self.flow_times) for keys in objects])
        return flow_features(
            self.flow_greys,
            self.flow_fps,
            times=self.flow_times,
            boxes=boxes,
            previous=self.flow_previous,
            cancel=cancel,
        )


def decode_range(
    video: VideoFile,
    start: float,
    end: float,
    *,
    motion: bool = True,
    lead: bool = True,
    flow: bool = False,
    cancel: CancelToken | None = None,
    progress: ProgressCallback = no_progress,
) -> RangeFrames:
    """Decode ``[start, end)`` s of ``video`` once (``end`` clamped to its duration).

    ``motion``: the 24 fps RGB frames from ``start`` (with ``lead`` and ``start > 0``, the frame
    1/24 s before too, as ``previous``); ``flow``: the grey frames at the video's own rate from
    the first frame of its grid at or after ``start`` (and the one before it, as
    ``flow_previous``). Raises ``MediaError`` for an empty range or one without frames.
    """
    info = video.info
    end = min(end, info.duration)
    if end <= start:
        raise MediaError(f"no video between {start:.3f} s and {end:.3f} s", info.path)
    grids: list[FrameGrid] = []
    motion_lead = 1.0 / MOTION_FPS if lead and start > 0 else 0.0
    if motion:
        grids.append(FrameGrid(MOTION_FPS, MAX_SIDE, start - motion_lead, end))
    fps = video_fps(info)
    flow_lead = 0
    if flow:
        # Start on the frame grid of the file (frame k at k / fps), so events land on real frames.
        first = math.ceil(start * fps - 1e-6)
        flow_lead = 1 if first > 0 else 0
        grids.append(FrameGrid(fps, FLOW_SIDE, (first - flow_lead) / fps, end, grey=True))
    images: list[list[np.ndarray]] = [[] for _ in grids]
    stamps: list[list[float]] = [[] for _ in grids]
    span = max(end - start, 1e-9)
    for g, t, image in video.iter_grids(grids):
        if cancel is not None:
            cancel.raise_if_cancelled()
        images[g].append(np.ascontiguousarray(image))
        stamps[g].append(float(t))
        progress(min(1.0, max(0.0, t - start) / span), "decoding video")
    frames: list[np.ndarray] = []
    times: list[float] = []
    previous = None
    if motion:
        frames, times = images[0], stamps[0]
        if motion_lead and len(frames) > 1:
            previous = frames.pop(0)
            times.pop(0)
        if not frames:
            raise MediaError(f"no frames between {start:.3f} s and {end:.3f} s", info.path)
    greys: list[np.ndarray] = []
    flow_times: list[float] = []
    flow_previous = None
    if flow:
        greys, flow_times = images[-1], stamps[-1]
        if flow_lead and len(greys) > 1:
            flow_previous = greys.pop(0)
            flow_times.pop(0)
        if not greys:
            raise MediaError(f"no frames between {start:.3f} s and {end:.3f} s", info.path)
    progress(1.0, "decoding video")
    return RangeFrames(
        start=start,
        end=end,
        frames=frames,
        times=np.asarray(times, dtype=np.float64),
        previous=previous,
        flow_greys=greys,
        flow_times=np.asarray(flow_times, dtype=np.float64),
        flow_previous=flow_previous,
        flow_fps=fps,
    )
