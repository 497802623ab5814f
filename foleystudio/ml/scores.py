"""Candidate scores (docs/architecture.md §7.2), each in [0, 1]; higher is better.

- ``sync``: where the generation followed an event track, the onset F1 (±50 ms) of the
  candidate's audio onsets against that track (:func:`event_sync_score`); otherwise AV-Align
  between its onsets and the motion-energy peaks of the picture (or of the object's box).
- ``text``: cosine between the candidate's audio embedding and the prompt's CLIP text
  embedding, mapped from [-1, 1] to [0, 1]; needs a bundle with an audio encoder trained
  into CLIP's text space.
- ``semantic``: cosine between the audio embedding and the mean embedding of the visual
  sources (crops' CLIP embeddings), likewise; needs the same encoder.

``total`` is the weighted mean of the scores that could be computed.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from foleystudio.core.events import EventTrack
from foleystudio.ml.encoders.audio import AudioEncoder
from foleystudio.ml.encoders.motion import MOTION_FPS, MotionFeatures
from foleystudio.ml.metrics import av_align, onset_f1, video_motion_peaks
from foleystudio.ml.onsets import detect_onsets


def sync_score(
    audio: np.ndarray, sample_rate: int, motion: MotionFeatures, box: int | None = None, offset: float = 0.0
) -> float:
    """AV-Align of ``audio`` (starting ``offset`` s into the motion's range) and motion peaks."""
    energy, _ = motion.series(box)
    peaks = video_motion_peaks(energy, MOTION_FPS, start=float(motion.times[0]) - offset)
    onsets = detect_onsets(audio, sample_rate)
    if len(peaks) == 0 and len(onsets) == 0:
        return 1.0
    return float(av_align(onsets, peaks, MOTION_FPS))


#: Tolerance (s) of the event sync score.
EVENT_TOLERANCE_S = 0.05


def event_sync_score(audio: np.ndarray, sample_rate: int, track: EventTrack, start: float) -> float:
    """Onset F1 (±50 ms) of ``audio`` (placed at ``start`` s on the video clock) against the
    events of ``track`` inside the audio's span; 1 when both have none."""
    end = start + len(audio) / sample_rate
    events = track.within(start, end).times
    onsets = detect_onsets(audio, sample_rate) + start
    return float(onset_f1(onsets, events, EVENT_TOLERANCE_S)[2])


def text_score(encoder: AudioEncoder, audio: np.ndarray, text_embedding: torch.Tensor) -> float:
    """Cosine (mapped to [0, 1]) between the audio's embedding and a CLIP text embedding;
    ``encoder`` is the bundle's audio encoder, trained into CLIP's text space."""
    return cosine01(encoder.embed_numpy(audio)[0], text_embedding.cpu().numpy())


def cosine01(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity mapped to [0, 1]."""
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    denom = np.linalg.norm(a) * np.linalg.norm(b)
    return 0.5 if denom == 0 else float((1 + a @ b / denom) / 2)


def total_score(scores: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """Weighted mean of the present scores (weights default to 1)."""
    used = [(v, weights.get(k, 1.0)) for k, v in scores.items() if k != "total"]
    weight = sum(w for _, w in used)
    return 0.0 if weight <= 0 else float(sum(v * w for v, w in used) / weight)
