"""Candidate scores (docs/architecture.md §7.2): raw criteria in [0, 1], higher is better,
computed for a whole population of candidates at once.

- ``sync``: where the generation followed an event track (given, or the detector's events),
  the onset F1 (±50 ms) of the candidate's audio onsets against that track
  (:func:`event_sync_score`); with no track, AV-Align between its onsets and the
  motion-energy peaks of the picture or of the object's box (:func:`sync_score`).
- ``text``: cosine between the candidate's audio embedding and the prompt's CLIP text
  embedding, mapped from [-1, 1] to [0, 1]; needs a bundle with an audio encoder (trained
  into CLIP's text space).
- ``semantic``: cosine, mapped to [0, 1], between the candidate's audio embedding and the
  target's SSV2A mix embedding (the Remixer's prediction, over the CMSS manifold, of the
  audio embedding its sources make); a target whose sources were not mixed (the whole
  picture without text or audio sources) gets the mix of its own frames as one object
  source. Needs the audio encoder and the SSV2A modules. (On 11 one-source FoleyWorld clips,
  one per category, the clip's own sound scored highest against its picture's mix for 7 of
  11 pictures; the mean v(CLIP) in the joint space against φ(audio) managed 5.)

``total`` comes from ``core/ranking.py``: the criteria z-scored within the population,
averaged with the user's weights, mapped to [0, 1].
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from foleystudio.core.events import EventTrack
from foleystudio.core.ranking import with_totals
from foleystudio.ml.encoders.audio import AudioEncoder
from foleystudio.ml.encoders.motion import MOTION_FPS, MotionFeatures
from foleystudio.ml.metrics import av_align, onset_f1, video_motion_peaks
from foleystudio.ml.onsets import detect_onsets
from foleystudio.ml.ssv2a.manifold import CMSSManifold
from foleystudio.ml.ssv2a.remixer import Remixer
from foleystudio.ml.ssv2a.sources import PerceivedSource, mix_embedding

#: Tolerance (s) of the event sync score.
EVENT_TOLERANCE_S = 0.05


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


def event_sync_score(audio: np.ndarray, sample_rate: int, track: EventTrack, start: float) -> float:
    """Onset F1 (±50 ms) of ``audio`` (placed at ``start`` s on the video clock) against the
    events of ``track`` inside the audio's span; 1 when both have none."""
    end = start + len(audio) / sample_rate
    events = track.within(start, end).times
    onsets = detect_onsets(audio, sample_rate) + start
    return float(onset_f1(onsets, events, EVENT_TOLERANCE_S)[2])


def text_score(
    encoder: AudioEncoder, audio: np.ndarray, sample_rate: int, text_embedding: torch.Tensor
) -> float:
    """Cosine (mapped to [0, 1]) between the embedding of ``audio`` (mono, ``sample_rate`` Hz)
    and a CLIP text embedding; ``encoder`` is the bundle's audio encoder, trained into CLIP's
    text space."""
    return cosine01(encoder.embed_numpy(audio, sample_rate)[0], text_embedding.cpu().numpy())


def cosine01(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity mapped to [0, 1]."""
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    denom = np.linalg.norm(a) * np.linalg.norm(b)
    return 0.5 if denom == 0 else float((1 + a @ b / denom) / 2)


def cosines01(rows: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """:func:`cosine01` of every row of ``rows`` [n, d] with ``reference`` [d]."""
    return np.array([cosine01(row, reference) for row in np.atleast_2d(rows)])


@torch.no_grad()
def semantic_reference(
    ssv2a: tuple[CMSSManifold, Remixer], mix: torch.Tensor | None = None, visual: np.ndarray | None = None
) -> np.ndarray | None:
    """A target's semantic reference [audio_dim] (unit norm, audio-encoder space): its SSV2A
    ``mix`` embedding ([audio_dim] or [1, audio_dim]) when its sources were mixed, else the
    SSV2A mix of ``visual`` (CLIP embeddings [T, clip_dim] of its frames or crops, all-zero
    rows = not visible) as one object source; None when neither gives anything."""
    if mix is not None:
        point = torch.as_tensor(mix).reshape(-1).float()
        return torch.nn.functional.normalize(point, dim=0).cpu().numpy()
    if visual is None:
        return None
    rows = torch.as_tensor(np.asarray(visual, np.float32))
    if not bool((rows.norm(dim=1) > 1e-6).any()):
        return None
    manifold, remixer = ssv2a
    return mix_embedding(manifold, remixer, [PerceivedSource.object(rows)])[0].float().cpu().numpy()


@dataclass(frozen=True, eq=False)
class ScoreReference:
    """What one target's candidates are scored against.

    ``start``: video time (s) of the audio's first sample. ``events``: the event track the
    generation followed (sync by onset F1); else ``motion`` with ``box`` (None: whole
    picture) and ``motion_offset`` (s from the motion's start to the audio's) for AV-Align.
    ``text``: CLIP pooled text [clip_dim]; ``semantic``: the audio-space point of
    :func:`semantic_reference`. A criterion without its reference is not scored.
    """

    start: float
    events: EventTrack | None = None
    motion: MotionFeatures | None = None
    box: int | None = None
    motion_offset: float = 0.0
    text: np.ndarray | None = None
    semantic: np.ndarray | None = None


def sync_scores(waves: np.ndarray, sample_rate: int, reference: ScoreReference) -> np.ndarray | None:
    """The sync score of every row of ``waves`` [n, samples]; None without events or motion."""
    if reference.events is not None:
        return np.array([event_sync_score(w, sample_rate, reference.events, reference.start) for w in waves])
    if reference.motion is not None:
        return np.array(
            [
                sync_score(w, sample_rate, reference.motion, reference.box, offset=reference.motion_offset)
                for w in waves
            ]
        )
    return None


def score_population(
    waves: np.ndarray,
    sample_rate: int,
    reference: ScoreReference,
    weights: Mapping[str, float],
    *,
    encoder: AudioEncoder | None = None,
) -> list[dict[str, float]]:
    """Raw criteria of every row of ``waves`` [n, samples] (mono, at ``sample_rate`` Hz, the
    codec's; the audio encoder hears them resampled to its own rate) and each row's ``total``
    within this population under ``weights`` (``core.ranking.with_totals``). The audio encoder
    embeds all rows in one batch."""
    waves = np.atleast_2d(np.asarray(waves, np.float32))
    columns: dict[str, np.ndarray] = {}
    if encoder is not None and (reference.text is not None or reference.semantic is not None):
        embeddings = encoder.embed_numpy(waves, sample_rate)
        if reference.semantic is not None:
            columns["semantic"] = cosines01(embeddings, reference.semantic)
        if reference.text is not None:
            columns["text"] = cosines01(embeddings, reference.text)
    sync = sync_scores(waves, sample_rate, reference)
    if sync is not None:
        columns["sync"] = sync
    rows = [{name: float(values[i]) for name, values in columns.items()} for i in range(len(waves))]
    return with_totals(rows, weights)
