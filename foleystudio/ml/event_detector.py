"""Visual event detector: where a source makes a sound, read from optical flow (issue 14).

Three detectors, in order of preference (:func:`choose_events`): the model's visual onset
network where its track is decisive (pictures like FoleyWorld's), the model's learned flow
event network (``encoders/flow_events.py``) when the bundle has one, and the hand-made
optical-flow detector below, which needs no model.

An impact shows in the picture as a local motion that stops dead or turns back: a stick on a
drum, a ball on the floor, a hand on a bag, a recoil. The detector's envelope is, per frame,
the strongest such reversal over the region's grid cells (:attr:`RegionFlow.reversal`), each
cell scaled by its own typical level over the analysed range so a small object's impact
counts as much as a large one's; frames at a shot cut (and the frame after) are zeroed.
Events are the envelope's peaks above its local median plus a margin
(``ml.onsets.pick_peaks``, the same peak picker the audio onsets use), at least
``min_gap`` seconds apart, with strength = peak / the range's strongest peak.

It needs no training and does not depend on how the picture was drawn; on the real-footage
development set it is the strongest of the flow signals tried (benchmarks/real_events.py,
docs/decisions.md). Times are seconds on the video clock, at the video's own frame times.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.signal import find_peaks

from foleystudio.core.boxes import BoxKeyframe
from foleystudio.core.events import EventTrack
from foleystudio.core.jobs import CancelToken, ProgressCallback, no_progress, sub_progress
from foleystudio.errors import UsageError
from foleystudio.ml.encoders.flow_events import FlowEventNet, event_probability, pick_events
from foleystudio.ml.encoders.motion import boxes_at_times, grey_small
from foleystudio.ml.encoders.optical_flow import FlowFeatures, RegionFlow
from foleystudio.ml.encoders.visual_onsets import VisualOnsetNet, onset_tracks
from foleystudio.ml.onsets import pick_peaks
from foleystudio.ml.video_pass import decode_range

#: A cell's typical level is this percentile of its reversal over the range.
_CELL_PERCENTILE = 95.0
#: ... and is at least this share of the median cell's level.
_FLOOR_SHARE = 0.5


@dataclass(frozen=True)
class DetectorSettings:
    """Peak picking of the impact envelope (see ``ml.onsets.pick_peaks``).

    ``min_gap`` s between events; ``noise_sigmas`` robust standard deviations above the local
    median (over ``median_window`` s) a peak must reach; ``delta`` share of the range's
    dynamic range it must also reach.
    """

    min_gap: float = 0.1
    noise_sigmas: float = 1.5
    median_window: float = 1.0
    delta: float = 0.05

    def __post_init__(self) -> None:
        for name in ("min_gap", "noise_sigmas", "median_window", "delta"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise UsageError(f"detector {name} must be a finite number >= 0, got {value}")


def impact_envelope(region: RegionFlow, cut: np.ndarray) -> np.ndarray:
    """[T] float32 >= 0: per frame, the largest per-cell-normalised motion reversal."""
    reversal = region.reversal
    if reversal.size == 0:
        return np.zeros(len(cut), np.float32)
    level = np.percentile(reversal, _CELL_PERCENTILE, axis=0)
    # A cell that hardly moves is scaled by (a share of) the region's typical level instead,
    # so its codec noise is not blown up to full scale.
    floor = max(1e-3, _FLOOR_SHARE * float(np.median(level)))
    envelope = (reversal / np.maximum(level, floor)).max(axis=1)
    blocked = cut.copy()
    blocked[1:] |= cut[:-1]
    envelope[blocked] = 0.0
    return envelope.astype(np.float32)


@dataclass(frozen=True, eq=False)
class SourceEvents:
    """The detected events of one source and which detector gave them: ``"onsets"`` (the
    model's visual onset network, decisive here), ``"flow-net"`` (the model's flow event
    network) or ``"flow"`` (the hand-made optical-flow detector); ``probability`` [T] in
    [0, 1] at ``times`` (s) is the track they were picked from."""

    track: EventTrack
    detector: str
    probability: np.ndarray
    times: np.ndarray


def detect_in_region(
    flow: FlowFeatures, box: int | None = None, settings: DetectorSettings | None = None
) -> SourceEvents:
    """The optical-flow detector's events of the whole picture (``box=None``) or of object box
    ``box``; its probability is the impact envelope scaled by the range's largest value."""
    settings = settings or DetectorSettings()
    envelope = impact_envelope(flow.region(box), flow.cut)
    peaks = pick_peaks(
        envelope.astype(np.float64),
        flow.fps,
        min_gap=settings.min_gap,
        delta=settings.delta,
        noise_sigmas=settings.noise_sigmas,
        median_window=settings.median_window,
    )
    top = float(envelope[peaks].max()) if len(peaks) else 1.0
    strengths = np.clip(envelope[peaks] / top, 0.0, 1.0) if len(peaks) else np.zeros(0)
    track = EventTrack.from_times(flow.times[peaks], strengths)
    peak = float(envelope.max()) if envelope.size else 0.0
    probability = envelope / peak if peak > 0 else np.zeros_like(envelope)
    return SourceEvents(track, "flow", probability.astype(np.float32), flow.times)


# -- the events generation follows --------------------------------------------------------------

#: The learned visual onset network's track counts as decisive where at least this share of its
#: peaks above 0.3 also pass 0.5 and it has at least :data:`_DECISIVE_MIN_PEAKS` of them.
_DECISIVE_SHARE = 0.75
_DECISIVE_MIN_PEAKS = 3
#: ... or where its whole track stays below this (it is sure nothing happens). On the real
#: development clips its maximum was never below 0.35.
_DECISIVE_SILENCE = 0.2
#: Onset-network peaks at least this probable are events.
ONSET_EVENT_THRESHOLD = 0.5


def onsets_are_decisive(probabilities: np.ndarray) -> bool:
    """Whether a visual onset network's per-frame track is decisive: its peaks are nearly all
    clearly above one half, or it stays below 0.2 throughout, as on pictures like those it was
    trained on. On footage unlike its training data its peaks sit at 0.3–0.6 and it is not
    trusted (docs/decisions.md)."""
    probabilities = np.asarray(probabilities)
    if probabilities.size and float(probabilities.max()) < _DECISIVE_SILENCE:
        return True  # confidently nothing: a car gliding past, a static shot it knows
    peaks, _ = find_peaks(np.concatenate([[0.0], probabilities, [0.0]]), height=0.3)
    if len(peaks) == 0:
        return False
    strong = int((probabilities[peaks - 1] > ONSET_EVENT_THRESHOLD).sum())
    return strong >= _DECISIVE_MIN_PEAKS and strong / len(peaks) >= _DECISIVE_SHARE


def detect_with_net(flow: FlowFeatures, net: FlowEventNet, box: int | None = None) -> SourceEvents:
    """The flow event network's events of the whole picture (``box=None``) or of object box
    ``box``, on the video's frame times."""
    probability, grid = event_probability(net, flow, box)
    times, strengths = pick_events(probability, grid, flow.times, net.config)
    return SourceEvents(EventTrack.from_times(times, strengths), "flow-net", probability, grid)


def choose_events(
    flow: FlowFeatures,
    onset_probabilities: np.ndarray | None = None,
    onset_times: np.ndarray | None = None,
    box: int | None = None,
    settings: DetectorSettings | None = None,
    flow_net: FlowEventNet | None = None,
) -> SourceEvents:
    """The events of the whole picture or box ``box``: the visual onset network's peaks where
    its track is decisive, else the flow event network's (``flow_net``), else the hand-made
    optical-flow detector's."""
    if onset_probabilities is not None and onsets_are_decisive(onset_probabilities):
        probs = np.asarray(onset_probabilities, dtype=np.float64)
        peaks, _ = find_peaks(np.concatenate([[0.0], probs, [0.0]]), height=ONSET_EVENT_THRESHOLD, distance=2)
        times = np.asarray(onset_times, dtype=np.float64)
        track = EventTrack.from_times(times[peaks - 1], np.clip(probs[peaks - 1], 0.0, 1.0))
        return SourceEvents(track, "onsets", probs.astype(np.float32), times)
    if flow_net is not None:
        return detect_with_net(flow, flow_net, box)
    return detect_in_region(flow, box, settings)


def detect_events(
    video: object,
    start: float,
    end: float,
    *,
    objects: Mapping[str, Sequence[BoxKeyframe]] | None = None,
    onset_net: VisualOnsetNet | None = None,
    flow_net: FlowEventNet | None = None,
    settings: DetectorSettings | None = None,
    cancel: CancelToken | None = None,
    progress: ProgressCallback = no_progress,
) -> tuple[SourceEvents, dict[str, SourceEvents]]:
    """The events generation would follow in ``[start, end)`` s of ``video`` (a path or
    ``VideoFile``): the whole picture's and each object's (by label). ``onset_net`` and
    ``flow_net``: the model's visual onset and flow event networks (:func:`choose_events`)."""
    if not hasattr(video, "iter_frames"):
        from foleystudio.core.media import VideoFile

        with VideoFile(os.fspath(video)) as opened:  # type: ignore[arg-type]
            return detect_events(
                opened,
                start,
                end,
                objects=objects,
                onset_net=onset_net,
                flow_net=flow_net,
                settings=settings,
                cancel=cancel,
                progress=progress,
            )
    objects = dict(objects or {})
    keys = list(objects.values())
    # One decoding pass: flow frames at the video's rate, and the onset network's 24 fps frames.
    decoded = decode_range(
        video,  # type: ignore[arg-type]
        start,
        end,
        motion=onset_net is not None,
        lead=False,
        flow=True,
        cancel=cancel,
        progress=sub_progress(progress, 0.0, 0.5),
    )
    flow = decoded.flow_features(keys, cancel=cancel)
    whole_probs = box_probs = times = None
    if onset_net is not None:
        times = decoded.times
        boxes = np.stack([boxes_at_times(k, times) for k in keys]) if keys else None
        whole_probs, box_probs = onset_tracks(onset_net, [grey_small(f) for f in decoded.frames], boxes)
    progress(1.0, "events")
    whole = choose_events(flow, whole_probs, times, None, settings, flow_net)
    per_object = {
        label: choose_events(flow, None if box_probs is None else box_probs[k], times, k, settings, flow_net)
        for k, label in enumerate(objects)
    }
    return whole, per_object
