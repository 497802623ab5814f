"""Video features for Flowley, shared by the engine and the training feature cache.

One decoding pass (``ml.video_pass.decode_range``) gives the frames at :data:`MOTION_FPS`
(24 fps, long side ≤ 160 px) for the motion energy (every frame), the CLIP visual tokens
(every third frame = 8 fps) and the visual onset network, and, with optical flow, the grey
frames at the video's own rate, so training and inference see exactly the same features. Object sources add per-object crops and in-box
motion (docs/architecture.md §6, per-object regeneration).

Times are seconds on the video clock; visual token ``k`` of a range starting at ``start`` is
the frame displayed at ``start + k / 8``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from foleystudio.core.boxes import Box, BoxKeyframe
from foleystudio.core.events import EventTrack, render_track
from foleystudio.core.jobs import CancelToken, ProgressCallback, no_progress, sub_progress
from foleystudio.core.media import VideoFile
from foleystudio.errors import MediaError, UsageError
from foleystudio.ml.encoders.clip_encoder import ClipEncoder
from foleystudio.ml.encoders.flow_events import FlowEventNet
from foleystudio.ml.encoders.motion import (
    MOTION_FPS,
    SYNC_FEATURE_NAMES,
    MotionFeatures,
    boxes_at_times,
    grey_small,
    motion_energy,
    resample_to_rate,
    sync_features,
)
from foleystudio.ml.encoders.optical_flow import FlowFeatures
from foleystudio.ml.encoders.visual_onsets import VisualOnsetNet, onset_tracks
from foleystudio.ml.event_detector import SourceEvents, choose_events
from foleystudio.ml.video_pass import decode_range

#: Visual tokens per second (CLIP frames); MOTION_FPS must be a multiple of it.
VISUAL_FPS = 8.0
_STRIDE = round(MOTION_FPS / VISUAL_FPS)


@dataclass(frozen=True, eq=False)
class VideoFeatures:
    """Features of ``[start, end)`` s of a video.

    ``visual`` [Tv, D] l2-normalised CLIP embeddings of whole frames at :data:`VISUAL_FPS`,
    stamped ``visual_times`` [Tv]; ``motion`` at 24 fps (box series in the order of
    ``object_ids``); ``object_visual`` maps an object id to [Tv, D] crop embeddings.
    With a visual onset network, ``onsets`` [T] is its per-frame onset probability of the whole
    picture (at the motion frames' times) and ``object_onsets`` [K, T] that of each object box.
    ``flow`` holds the optical-flow features at the video's own frame rate (boxes in the order
    of ``object_ids``), which the visual event detector reads.
    """

    start: float
    end: float
    visual: np.ndarray
    visual_times: np.ndarray
    motion: MotionFeatures
    object_ids: tuple[str, ...] = ()
    object_visual: Mapping[str, np.ndarray] = field(default_factory=dict)
    onsets: np.ndarray | None = None
    object_onsets: np.ndarray | None = None
    flow: FlowFeatures | None = None

    def window(
        self,
        start: float,
        n_visual: int,
        n_audio: int,
        token_rate: float,
        object_id: str | None = None,
        events: EventTrack | None = None,
    ) -> dict[str, np.ndarray]:
        """Conditions of one window from ``start`` s: ``visual`` [n_visual, D] (zero-padded,
        with ``visual_valid`` [n_visual] bool), ``visual_times`` [n_visual], ``sync`` [n_audio, S]:
        the motion features, plus (with onsets) the visual onset probability, bin maximum.

        With ``object_id`` the visual tokens are that object's crops and the sync features its
        in-box motion and onsets. With ``events`` (an event track that the generation must
        follow) the onset column is that track, rendered at the token rate
        (``core.events.render_track``), instead of the detector's probability, and the motion
        columns are zero.
        """
        source = self.visual if object_id is None else self.object_visual[object_id]
        first = int(round((start - self.start) * VISUAL_FPS))
        idx = np.arange(first, first + n_visual)
        valid = (idx >= 0) & (idx < len(source))
        visual = np.zeros((n_visual, source.shape[1]), np.float32)
        visual[valid] = source[idx[valid]]
        times = (start + np.arange(n_visual) / VISUAL_FPS).astype(np.float32)
        box = None if object_id is None else self.object_ids.index(object_id)
        if events is not None:
            if self.onsets is None:
                raise UsageError("this model has no event condition: it cannot follow an event track")
            # Every event at full value: the bundled model learned an onset probability that is
            # ~0 or ~1 and ignores weaker values (docs/decisions.md, "The event condition").
            onset = render_track(events, token_rate, n_audio, start=start, use_strength=False)
            # Where a track says when, the picture's motion is turned off so that the track
            # alone does: a track moved, thinned or padded against the picture was followed
            # with F1 0.98 / 0.96 / 0.98 instead of 0.89 / 0.86 / 0.89 (docs/decisions.md,
            # "A given track turns the motion features off").
            motion_off = np.zeros((n_audio, len(SYNC_FEATURE_NAMES)), np.float32)
            sync = np.concatenate([motion_off, onset[:, None]], axis=1)
        else:
            sync = sync_features(self.motion, token_rate, n_audio, start=start, box=box)
            if self.onsets is not None:
                track = self.onsets if box is None else self.object_onsets[box]
                onset = onset_feature(track, self.motion.times, token_rate, n_audio, start)
                sync = np.concatenate([sync, onset[:, None]], axis=1)
        return {"visual": visual, "visual_valid": valid, "visual_times": times, "sync": sync}

    def events(self, object_id: str | None = None, flow_net: FlowEventNet | None = None) -> SourceEvents:
        """The detected events of the whole picture or of object ``object_id``
        (``ml.event_detector.choose_events``, with the model's flow event network
        ``flow_net`` if it has one); needs the flow features."""
        if self.flow is None:
            raise UsageError("these video features were computed without optical flow")
        box = None if object_id is None else self.object_ids.index(object_id)
        probs = None
        if self.onsets is not None:
            probs = self.onsets if box is None else self.object_onsets[box]
        return choose_events(self.flow, probs, self.motion.times, box, flow_net=flow_net)


def onset_feature(
    track: np.ndarray, times: np.ndarray, token_rate: float, n_audio: int, start: float
) -> np.ndarray:
    """The visual-onset sync feature ``[n_audio]``: a per-frame onset probability ``track``
    stamped ``times`` (s), as its maximum over each audio token from ``start`` s."""
    return resample_to_rate(track, times, token_rate, n_audio, start=start, reduce="max")


def extract_video_features(
    video: str | os.PathLike[str] | VideoFile,
    start: float,
    end: float,
    clip: ClipEncoder,
    *,
    objects: Mapping[str, Sequence[BoxKeyframe]] | None = None,
    onset_net: VisualOnsetNet | None = None,
    with_flow: bool = False,
    cancel: CancelToken | None = None,
    progress: ProgressCallback = no_progress,
) -> VideoFeatures:
    """Decode ``[start, end)`` s once and compute CLIP tokens, crops and motion energy (and,
    with ``onset_net``, the visual onset tracks; with ``with_flow``, optical flow at the
    video's own rate). One decoding pass gives the frames of all of them
    (``ml.video_pass.decode_range``)."""
    if not isinstance(video, VideoFile):
        with VideoFile(video) as opened:
            return extract_video_features(
                opened,
                start,
                end,
                clip,
                objects=objects,
                onset_net=onset_net,
                with_flow=with_flow,
                cancel=cancel,
                progress=progress,
            )
    objects = dict(objects or {})
    decoded = decode_range(
        video, start, end, flow=with_flow, cancel=cancel, progress=sub_progress(progress, 0.0, 0.5)
    )
    end = decoded.end
    frames, times, previous = decoded.frames, decoded.times, decoded.previous
    ids = tuple(objects)
    boxes = np.stack([boxes_at_times(objects[i], times) for i in ids]) if ids else None
    motion = motion_energy(frames, boxes, fps=MOTION_FPS, start=times[0], previous=previous)
    picked = list(range(0, len(frames), _STRIDE))
    visual_frames = np.stack([frames[i] for i in picked])
    visual = clip.encode_images(visual_frames).cpu().numpy()
    progress(0.6, "visual tokens")
    object_visual = {}
    for k, object_id in enumerate(ids):
        crops = [Box(*boxes[k, i]) for i in picked]
        object_visual[object_id] = clip.encode_crops(list(visual_frames), crops).cpu().numpy()
    onsets = object_onsets = None
    if onset_net is not None:
        if abs(onset_net.config.fps - MOTION_FPS) > 1e-6:
            raise MediaError(f"the visual onset network runs at {onset_net.config.fps} fps, not {MOTION_FPS}")
        onsets, object_onsets = onset_tracks(onset_net, [grey_small(f) for f in frames], boxes)
    flow = None
    if with_flow:
        progress(0.7, "optical flow")
        flow = decoded.flow_features([objects[i] for i in ids], cancel=cancel)
    progress(1.0, "features")
    return VideoFeatures(
        start=start,
        end=end,
        visual=visual.astype(np.float32),
        visual_times=times[picked].astype(np.float32),
        motion=motion,
        object_ids=ids,
        object_visual=object_visual,
        onsets=onsets,
        object_onsets=object_onsets,
        flow=flow,
    )
