"""Indexing the user's sound library (docs/architecture.md §13): audio-encoder embeddings of
every recording, per segment, committed all at once.

:func:`index_folder` is a job (``fn(progress, cancel)`` shape through a lambda): it scans the
folder, reads and embeds only new or changed files (by size and modification time), drops
entries of files that are gone, keeps unreadable files listed in the library as skipped,
and commits with ``core.library.save_library``. It checks ``cancel`` between files and
batches and raises ``JobCancelled`` before the commit, so a cancelled scan changes nothing.

**Segments.** The encoder was trained on 2–4 s crops (``train/audio.py``), so a recording
up to :data:`SEGMENT_SECONDS` long is one segment (the whole file); a longer one is cut into
4 s segments every :data:`HOP_SECONDS` (2 s), the last one ending at the file's end, and a
search reports the best segment's start. Segments of equal length are embedded as one batch.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from foleystudio.core.jobs import CancelToken, ProgressCallback, no_progress
from foleystudio.core.library import (
    Library,
    LibraryEntry,
    SkippedFile,
    build_library,
    load_library,
    save_library,
)
from foleystudio.core.settings import DEFAULT_MODEL
from foleystudio.core.sound_files import FileState, read_sound, scan_sound_files
from foleystudio.errors import CheckpointError, FoleyStudioError
from foleystudio.ml.encoders.audio import AudioEncoder
from foleystudio.ml.encoders.clip_encoder import ClipEncoder
from foleystudio.ml.ssv2a.manifold import CMSSManifold
from foleystudio.ml.ssv2a.remixer import Remixer

#: Longest recording embedded whole, and the segment length of longer ones (s).
SEGMENT_SECONDS = 4.0
#: Step between segment starts of a long recording (s).
HOP_SECONDS = 2.0
#: Files read and embedded between progress reports (cancel is checked at every file).
FILES_PER_BATCH = 32
#: Samples of read audio held before embedding (16 M = 17 min at 16 kHz, 64 MB as float32).
MAX_BATCH_SAMPLES = 1 << 24
#: Segments per forward pass of the encoder.
SEGMENTS_PER_PASS = 64


@dataclass(eq=False)
class LibraryModel:
    """What the library needs from a model bundle: its ``audio`` encoder (the embedding of
    every recording), its ``clip`` encoder (text and picture queries) and its SSV2A pair
    (picture → sound through the CMSS manifold; None when the bundle has none).
    ``fingerprint`` identifies the audio encoder's weights: ``{"name", "audio_sha256"}``."""

    def made(self, library: Library) -> bool:
        """Whether this model's audio encoder made ``library``'s embeddings."""
        return all(library.model.get(k) == v for k, v in self.fingerprint.items())

    name: str
    fingerprint: dict[str, str]
    #: The bundle's folder (kept in the library so a bundle given by path is found again).
    path: str
    audio: AudioEncoder
    clip: ClipEncoder
    ssv2a: tuple[CMSSManifold, Remixer] | None

    @property
    def sample_rate(self) -> int:
        return int(self.audio.config.sample_rate)


def load_library_model(name: str = DEFAULT_MODEL, device: str | torch.device = "cpu") -> LibraryModel:
    """The library parts of bundle ``name`` (a name or a folder); a bundle without an audio
    encoder raises :class:`CheckpointError`."""
    from foleystudio.ml.engine import audio_from_bundle, clip_from_bundle
    from foleystudio.ml.model_bundle import load_bundle
    from foleystudio.ml.ssv2a.io import load_from_bundle

    bundle = load_bundle(name, device)
    audio, _ = audio_from_bundle(bundle)
    if audio is None:
        raise CheckpointError("the model has no audio encoder, which the sound library needs", bundle.path)
    clip = clip_from_bundle(bundle, device)
    if audio.config.embed_dim != clip.embed_dim:
        # Text search compares CLIP text with audio embeddings directly: they share one space
        # only without a projection between them, i.e. with equal widths (train/audio.py).
        raise CheckpointError(
            "the model's audio embeddings are not in its CLIP text space (their widths differ)", bundle.path
        )
    filename = bundle.manifest["modules"]["audio"]
    fingerprint = {"name": bundle.name, "audio_sha256": str(bundle.manifest["files"][filename])}
    return LibraryModel(bundle.name, fingerprint, str(bundle.path), audio, clip, load_from_bundle(bundle))


# -- segments -------------------------------------------------------------------------------


def segment_starts(
    samples: int, sample_rate: int, segment_s: float = SEGMENT_SECONDS, hop_s: float = HOP_SECONDS
) -> list[int]:
    """Start samples of the segments of a wave of ``samples`` samples (see the module doc;
    ``segment_s`` and ``hop_s`` other than the library's for ``benchmarks/realism.py``)."""
    length, hop = round(segment_s * sample_rate), round(hop_s * sample_rate)
    if samples <= length:
        return [0]
    starts = list(range(0, samples - length, hop))
    return [*starts, samples - length]


def embed_waves(
    encoder: AudioEncoder,
    waves: Sequence[np.ndarray],
    cancel: CancelToken | None = None,
    segment_s: float = SEGMENT_SECONDS,
    hop_s: float = HOP_SECONDS,
) -> list[np.ndarray]:
    """Segment embeddings ``[segments, dim]`` (float32, unit norm) of each mono wave at the
    encoder's rate (segments of :func:`segment_starts`); segments of equal length share
    forward passes."""
    rate = encoder.config.sample_rate
    length = round(segment_s * rate)
    minimum = encoder.config.n_fft
    pieces: dict[int, list[tuple[int, int, np.ndarray]]] = defaultdict(list)
    counts = []
    for w, wave in enumerate(waves):
        starts = segment_starts(len(wave), rate, segment_s, hop_s)
        counts.append(len(starts))
        for s, start in enumerate(starts):
            piece = wave[start : start + length]
            if len(piece) < minimum:  # shorter than one STFT window: pad with silence
                piece = np.pad(piece, (0, minimum - len(piece)))
            pieces[len(piece)].append((w, s, piece))
    out = [np.zeros((c, encoder.config.embed_dim), np.float32) for c in counts]
    for group in pieces.values():
        for i in range(0, len(group), SEGMENTS_PER_PASS):
            if cancel is not None:
                cancel.raise_if_cancelled()
            chunk = group[i : i + SEGMENTS_PER_PASS]
            embedded = encoder.embed_numpy(np.stack([p for _, _, p in chunk]))
            for (w, s, _), row in zip(chunk, embedded, strict=True):
                out[w][s] = row
    return out


# -- indexing -------------------------------------------------------------------------------


@dataclass
class IndexReport:
    """What :func:`index_folder` did: ``added`` (new), ``updated`` (changed or re-embedded for
    a new model), ``unchanged``, ``removed`` (files gone) and ``skipped`` (path, problem) —
    every unreadable file under the folder, including those skipped on earlier scans."""

    folder: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    entries: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "skipped": [{"path": p, "problem": m} for p, m in self.skipped],
            "entries": self.entries,
            "seconds": round(self.seconds, 3),
        }


def _under(path: str, root: Path) -> bool:
    return Path(path).is_relative_to(root)


def index_folder(
    folder: str | os.PathLike[str],
    model: LibraryModel,
    library_dir: str | os.PathLike[str] | None = None,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> IndexReport:
    """Add ``folder``'s sounds to the library in ``library_dir`` (default: the user's) and
    commit; returns what changed. When the library was made by another audio encoder every
    entry (in any folder) is embedded again, so one library never mixes two spaces."""
    import time

    t0 = time.perf_counter()
    cancel = cancel or CancelToken()
    root = Path(os.path.abspath(folder))  # abspath also folds "..", so one file has one key
    library = load_library(library_dir)
    states = scan_sound_files(root)
    progress(0.0, f"found {len(states)} sound files in {root}")
    same_model = not library.entries or model.made(library)
    old = {e.path: e for e in library.entries}
    old_skipped = {s.path: s for s in library.skipped}
    report = IndexReport(str(root))
    seen = {s.path for s in states}

    keep: list[tuple[LibraryEntry, np.ndarray]] = []
    todo: list[FileState] = []
    skipped: list[SkippedFile] = [s for s in library.skipped if not _under(s.path, root)]
    for entry in library.entries:  # entries elsewhere stay; gone files under the folder leave
        if _under(entry.path, root) and entry.path not in seen:
            report.removed.append(entry.path)
        elif not _under(entry.path, root):
            if same_model:
                keep.append((entry, library.rows_of(entry)))
            else:
                todo.append(FileState(entry.path, entry.size, entry.mtime_ns))
    for state in states:
        entry, bad = old.get(state.path), old_skipped.get(state.path)
        if entry is not None and same_model and (entry.size, entry.mtime_ns) == (state.size, state.mtime_ns):
            keep.append((entry, library.rows_of(entry)))
            report.unchanged += 1
        elif bad is not None and (bad.size, bad.mtime_ns) == (state.size, state.mtime_ns):
            skipped.append(bad)
            report.skipped.append((bad.path, bad.problem))
        else:
            todo.append(state)

    pending: list[tuple[FileState, np.ndarray, Any]] = []

    def flush() -> None:
        """Embed the read files, make their entries, report progress."""
        with torch.no_grad():
            embedded = embed_waves(model.audio, [w for _, w, _ in pending], cancel)
        for (state, wave, info), rows in zip(pending, embedded, strict=True):
            keep.append((_entry(state, wave, info, model.sample_rate), rows))
            (report.updated if state.path in old else report.added).append(state.path)
        pending.clear()

    for done, state in enumerate(todo, start=1):
        cancel.raise_if_cancelled()
        try:
            wave, info = read_sound(state.path, model.sample_rate)
        except FoleyStudioError as exc:
            skipped.append(SkippedFile(state.path, state.size, state.mtime_ns, exc.problem))
            report.skipped.append((state.path, exc.problem))
        else:
            pending.append((state, wave, info))
        # Embed in batches of a few files, or sooner when long recordings fill the memory budget.
        if len(pending) >= FILES_PER_BATCH or sum(len(w) for _, w, _ in pending) >= MAX_BATCH_SAMPLES:
            flush()
        if done % FILES_PER_BATCH == 0 or done == len(todo):
            flush()
            progress(done / len(todo), f"indexed {done} of {len(todo)} new or changed files")

    cancel.raise_if_cancelled()
    result = build_library(
        Path(library.folder),
        keep,
        skipped,
        {**model.fingerprint, "path": model.path},
        SEGMENT_SECONDS,
        HOP_SECONDS,
    )
    save_library(result)
    report.entries = len(result.entries)
    report.seconds = time.perf_counter() - t0
    progress(1.0, f"library: {report.entries} sounds")
    return report


def _entry(state: FileState, wave: np.ndarray, info: Any, sample_rate: int) -> LibraryEntry:
    """The library entry of a file read as ``wave`` (mono at ``sample_rate`` Hz)."""
    return LibraryEntry(
        path=state.path,
        size=state.size,
        mtime_ns=state.mtime_ns,
        duration=info.duration,
        sample_rate=info.sample_rate,
        channels=info.channels,
        format=info.format,
        starts=tuple(s / sample_rate for s in segment_starts(len(wave), sample_rate)),
        description=str(info.metadata.get("description", "")),
        ixml=dict(info.metadata.get("ixml", {})),
    )


def library_for_model(library: Library, model: LibraryModel) -> Library:
    """``library`` itself after checking that ``model``'s audio encoder made its embeddings."""
    from foleystudio.errors import DataError

    if library.entries and not model.made(library):
        raise DataError(
            f"the library was indexed with model '{library.model.get('name', '?')}' "
            f"({library.model.get('audio_sha256', '')[:12]}), not '{model.name}' "
            f"({model.fingerprint['audio_sha256'][:12]}); run 'foleystudio library add' again to re-index",
            library.folder,
        )
    return library
