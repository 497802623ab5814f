"""Searching the sound library by text, by picture and by sound (docs/architecture.md §13).

Every query becomes one point of the audio encoder's space and is ranked against the
library's segment embeddings by cosine (``core.library.Ranker``):

- **text** → CLIP pooled text. The bundled audio encoder was trained contrastively against
  frozen CLIP text with equal widths and no projection (``train/audio.py``), so its
  embeddings *are* points of CLIP's text space and the text embedding is compared with them
  directly — the same comparison as the candidates' ``text`` score (``ml/scores.py``).
- **picture** (an image file, or a video frame at a time, whole or a box crop) → CLIP image
  embeddings → SSV2A: the crops as one object source through the CMSS manifold and the
  Remixer (``scores.semantic_reference``), which predicts the audio embedding of the sound
  that object makes. CLIP image embeddings are *not* in the text space the audio encoder
  was trained into, so they cannot be compared directly; the manifold is what the model
  offers to cross from pictures to sounds, and the mix it gives beat the plain manifold
  distance (v(CLIP) against φ(audio)) on FoleyWorld (7 vs 5 of 11 categories, ``ml/scores.py``).
  A video query uses the frames at 8 fps (the engine's crop rate) within ±0.5 s of the time,
  each cropped to one fixed box or, given an object's keyframes, to its box at that frame;
  a still picture is searched as one second of an unchanging video at that rate
  (:data:`STILL_FRAMES` copies). Why: the Remixer's Temporal Aggregation was trained on
  windows of many frames, and a lone frame is outside what it saw — on held-out FoleyWorld
  box crops, top-1 by category was 0.48 from one frame, 0.93 from 8 copies of it
  (``benchmarks/library.py``, ``picture_box_one_frame`` against ``picture_box``; the count
  was chosen on the first half of that set).
- **sound** ("more like this") → the mean of the recording's segment embeddings; for an
  indexed recording its stored rows, and the recording itself is left out of the results.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from foleystudio.core.boxes import Box, BoxKeyframe, box_at
from foleystudio.core.jobs import CancelToken, ProgressCallback, no_progress
from foleystudio.core.library import Library, Ranker, SearchHit, load_library
from foleystudio.core.sound_files import read_sound
from foleystudio.errors import UsageError
from foleystudio.ml.library_index import (
    IndexReport,
    LibraryModel,
    embed_waves,
    index_folder,
    library_for_model,
    load_library_model,
)

#: Frame rate (fps) and half-width (s) of the frames a video query looks at.
VIDEO_QUERY_FPS = 8.0
VIDEO_QUERY_HALF_WIDTH = 0.5
#: Long side (px) video frames are decoded at (CLIP's input is 64 px; the engine decodes at 160).
VIDEO_QUERY_SIZE = 160
#: Copies of a still picture given to the Remixer: the frames of a video query's second.
STILL_FRAMES = round(2 * VIDEO_QUERY_HALF_WIDTH * VIDEO_QUERY_FPS)


@dataclass(frozen=True)
class LibraryQuery:
    """One search: exactly one of ``text``, ``image`` (a picture file), ``video`` (with
    ``time`` s) or ``like`` (a sound file, indexed or not). ``box`` crops a picture or every
    video frame alike; ``keyframes`` (video only, an object's ``BoxKeyframe``s) crop each
    video frame to the object's box at that frame's time, following it as it moves."""

    text: str | None = None
    image: str | None = None
    video: str | None = None
    time: float | None = None
    box: Box | None = None
    like: str | None = None
    keyframes: tuple[BoxKeyframe, ...] = ()

    def __post_init__(self) -> None:
        given = [k for k in ("text", "image", "video", "like") if getattr(self, k) is not None]
        if len(given) != 1:
            raise UsageError("give exactly one of a text, a picture, a video time or a sound to search by")
        if self.text is not None and not self.text.strip():
            raise UsageError("the search text is empty")
        if self.video is not None and (self.time is None or self.time < 0):
            raise UsageError("a video search needs a time (s) at or after 0")
        if self.box is not None and self.image is None and self.video is None:
            raise UsageError("a box only applies to a picture or video search")
        if self.keyframes and (self.video is None or self.box is not None):
            raise UsageError("box keyframes apply to a video search without a fixed box")

    @property
    def kind(self) -> str:
        return next(k for k in ("text", "image", "video", "like") if getattr(self, k) is not None)


def text_embedding(model: LibraryModel, text: str) -> np.ndarray:
    """The CLIP pooled text embedding of ``text`` [dim] (the audio encoder's space)."""
    _, _, pooled = model.clip.encode_text([text])
    return pooled[0].cpu().numpy()


def picture_embedding(
    model: LibraryModel, frames: Sequence[np.ndarray], box: Box | Sequence[Box] | None = None
) -> np.ndarray:
    """The audio-space point SSV2A predicts for uint8 RGB ``frames`` in time order (whole, or
    cropped to ``box``, or to one box per frame): their CLIP embeddings as one object source,
    remixed (see the module doc)."""
    from foleystudio.ml.scores import semantic_reference

    if model.ssv2a is None:
        raise UsageError(f"model '{model.name}' has no SSV2A modules, which picture search needs")
    if not frames:
        raise UsageError("no picture to search by")
    if box is not None:
        rows = model.clip.encode_crops(frames, [box] * len(frames) if isinstance(box, Box) else list(box))
    else:
        rows = model.clip.encode_images(frames)
    point = semantic_reference(model.ssv2a, visual=rows.cpu().numpy())
    if point is None:
        raise UsageError("the picture gives no embedding to search with")
    return point


def still_picture_embedding(model: LibraryModel, image: np.ndarray, box: Box | None = None) -> np.ndarray:
    """:func:`picture_embedding` of one uint8 RGB picture, as :data:`STILL_FRAMES` unchanging frames."""
    return picture_embedding(model, [image] * STILL_FRAMES, box)


def video_frames(path: str | os.PathLike[str], time: float) -> list[tuple[float, np.ndarray]]:
    """``(t s, uint8 RGB frame)`` at :data:`VIDEO_QUERY_FPS` within ±0.5 s of ``time``."""
    from foleystudio.core.media import VideoFile

    with VideoFile(path) as video:
        duration = video.info.duration
        if time > duration:
            raise UsageError(f"time {time:.3f} s is past the video's end ({duration:.3f} s)")
        start = max(0.0, time - VIDEO_QUERY_HALF_WIDTH)
        end = min(duration, time + VIDEO_QUERY_HALF_WIDTH)
        frames = list(video.iter_frames(VIDEO_QUERY_FPS, VIDEO_QUERY_SIZE, start, end))
        return frames or [(time, video.frame_at(time, VIDEO_QUERY_SIZE))]


def sound_embedding(model: LibraryModel, path: str | os.PathLike[str]) -> np.ndarray:
    """The mean segment embedding [dim] of a sound file (any length)."""
    wave, _ = read_sound(path, model.sample_rate)
    with torch.no_grad():
        rows = embed_waves(model.audio, [wave])[0]
    return rows.mean(axis=0)


def query_embedding(
    model: LibraryModel, library: Library, query: LibraryQuery
) -> tuple[np.ndarray, list[str]]:
    """``(the query's point in the audio space, paths to leave out of the results)``."""
    from foleystudio.core.images import read_image

    if query.text is not None:
        return text_embedding(model, query.text), []
    if query.image is not None:
        return still_picture_embedding(model, read_image(query.image), query.box), []
    if query.video is not None:
        timed = video_frames(query.video, float(query.time or 0.0))
        frames = [f for _, f in timed]
        if query.keyframes:
            return picture_embedding(model, frames, [box_at(query.keyframes, t) for t, _ in timed]), []
        return picture_embedding(model, frames, query.box), []
    assert query.like is not None
    entry = library.entry(query.like)
    if entry is not None:
        return library.rows_of(entry).mean(axis=0), [entry.path]
    return sound_embedding(model, query.like), []


class LibrarySearcher:
    """The library and its model, loaded once and reused (the CLI for one call, the app for
    the session, on its model worker: not for two threads at once).

    The model is the one the library was indexed with (``library.model["name"]``), else
    ``model_name``; the library is re-read whenever its index file changes on disk.
    """

    def __init__(
        self,
        library_dir: str | os.PathLike[str] | None = None,
        model_name: str | None = None,
        device: str = "cpu",
    ) -> None:
        from foleystudio.core.library import INDEX, default_library_dir

        self.folder = Path(library_dir) if library_dir is not None else default_library_dir()
        self._index = self.folder / INDEX
        self.model_name = model_name
        self.device = device
        self._model: LibraryModel | None = None
        self._model_key = ""
        self._library: Library | None = None
        self._ranker: Ranker | None = None
        self._stamp: tuple[int, int] | None = None

    def library(self) -> Library:
        """The library as now on disk (cached until its index changes)."""
        try:
            st = self._index.stat()
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        if self._library is None or stamp != self._stamp:
            self._library, self._ranker, self._stamp = load_library(self.folder), None, stamp
        return self._library

    def model(self) -> LibraryModel:
        """The model (loaded on first use): ``model_name`` when given, else the one the library
        was indexed with, else the default model."""
        from foleystudio.core.settings import DEFAULT_MODEL
        from foleystudio.errors import CheckpointError

        stored = self.library().model
        wanted = self.model_name or stored.get("name") or DEFAULT_MODEL
        if self._model is None or self._model_key != wanted:
            try:
                model = load_library_model(wanted, self.device)
            except CheckpointError:
                # A library indexed with a bundle given by folder: that folder, if still there.
                if self.model_name or not stored.get("path") or not Path(stored["path"]).is_dir():
                    raise
                model = load_library_model(stored["path"], self.device)
            self._model, self._model_key = model, wanted
        return self._model

    def search(
        self,
        query: LibraryQuery,
        n: int = 10,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> list[SearchHit]:
        """The ``n`` best recordings for ``query``, best first."""
        library = self.library()
        if not library.entries:
            return []
        progress(0.0, "loading the model")
        model = self.model()
        library_for_model(library, model)
        if cancel is not None:
            cancel.raise_if_cancelled()
        progress(0.3, f"searching {len(library.entries)} sounds")
        point, exclude = query_embedding(model, library, query)
        if self._ranker is None:
            self._ranker = Ranker(library)
        hits = self._ranker.search(point, n, exclude)
        progress(1.0, f"{len(hits)} results")
        return hits

    def add_folder(
        self,
        folder: str | os.PathLike[str],
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> IndexReport:
        """Index ``folder`` into the library (:func:`~foleystudio.ml.library_index.index_folder`)
        with :meth:`model`; another model than the library's re-embeds every entry."""
        return index_folder(folder, self.model(), self.folder, progress, cancel)
