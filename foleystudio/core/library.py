"""The user's sound library: indexed recordings, their segment embeddings, ranking a query.

Stored in one folder (default ``<user dir>/library``, docs/architecture.md §13)::

    library.json              entries, skipped files, the model, the name of the matrix file
    embeddings-<id>.npy       float16 [rows, dim]: one unit-norm audio embedding per segment

An entry owns the contiguous rows ``row .. row + len(starts) - 1``; ``starts`` are the
segments' start times in seconds. The library changes only by :func:`save_library`: the new
matrix is written under a fresh name first, then ``library.json`` naming it replaces the old
one atomically (that rename is the commit), then unreferenced matrices are deleted. A crash
or a cancel at any point leaves the previous library whole. float16 halves the size (10,000
one-segment files: 2.5 MB at 128-d) and changes cosines by less than 1e-3.

This module is NumPy only: embedding the audio and the queries is ``ml/library_index.py`` and
``ml/library_search.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from foleystudio.core.atomicfile import atomic_output, atomic_write_bytes
from foleystudio.core.paths import user_dir
from foleystudio.errors import DataError, UsageError

FORMAT = "foleystudio.library"
VERSION = 1
INDEX = "library.json"


def default_library_dir() -> Path:
    """``<user dir>/library`` (``core/paths.user_dir``); not created here."""
    return user_dir() / "library"


@dataclass(frozen=True)
class LibraryEntry:
    """One indexed recording. ``path`` absolute; ``size`` bytes and ``mtime_ns`` as scanned
    (a change of either re-indexes it); ``duration`` s; ``sample_rate`` Hz and ``channels``
    of the file itself; ``format``; ``description`` (BWF bext) and ``ixml`` fields; ``row``:
    its first row of the matrix; ``starts``: segment start times (s), one row each."""

    path: str
    size: int
    mtime_ns: int
    duration: float
    sample_rate: int
    channels: int
    format: str
    starts: tuple[float, ...]
    row: int = 0
    description: str = ""
    ixml: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return Path(self.path).name

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["starts"] = [round(s, 4) for s in self.starts]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LibraryEntry:
        fields = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        fields["starts"] = tuple(float(s) for s in data["starts"])
        fields["ixml"] = {str(k): str(v) for k, v in (data.get("ixml") or {}).items()}
        return cls(**fields)


@dataclass(frozen=True)
class SkippedFile:
    """A file that could not be indexed, with its state when tried and the one-line reason;
    it is tried again only once its size or modification time changes."""

    path: str
    size: int
    mtime_ns: int
    problem: str


@dataclass(frozen=True)
class SearchHit:
    """One ranked result: the ``entry``, the ``score`` (cosine of its best segment with the
    query, in [-1, 1]) and that segment's ``start`` (s into the recording)."""

    entry: LibraryEntry
    score: float
    start: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.entry.path,
            "score": round(self.score, 4),
            "start": round(self.start, 3),
            "duration": round(self.entry.duration, 3),
            "description": self.entry.description,
        }


@dataclass(frozen=True, eq=False)
class Library:
    """A library as read or about to be written. ``model``: the bundle whose audio encoder
    made the embeddings (``{"name", "audio_sha256"}``; empty for a new library);
    ``embeddings``: float16 ``[rows, dim]`` (``[0, 0]`` when empty)."""

    folder: Path
    entries: tuple[LibraryEntry, ...] = ()
    skipped: tuple[SkippedFile, ...] = ()
    model: dict[str, str] = field(default_factory=dict)
    embeddings: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float16))
    segment_seconds: float = 0.0
    hop_seconds: float = 0.0

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    def entry(self, path: str | os.PathLike[str]) -> LibraryEntry | None:
        key = os.path.abspath(path)
        return next((e for e in self.entries if e.path == key), None)

    def rows_of(self, entry: LibraryEntry) -> np.ndarray:
        """The entry's segment embeddings, float32 ``[len(starts), dim]``."""
        return self.embeddings[entry.row : entry.row + len(entry.starts)].astype(np.float32)

    def search(
        self, query: np.ndarray, n: int = 10, exclude: Iterable[str] = (), ranker: Ranker | None = None
    ) -> list[SearchHit]:
        """The ``n`` entries whose best segment is nearest ``query`` ([dim], any norm) by
        cosine, best first (ties by path), each with that segment's start; entries whose
        path is in ``exclude`` are left out. ``ranker``: a prepared :class:`Ranker` of this
        library (reused across queries; one is built when None)."""
        return (ranker or Ranker(self)).search(query, n, exclude)


class Ranker:
    """A library's matrix as float32, ready for repeated queries (the app and the benchmark
    keep one; converting float16 → float32 once per query would cost more than the search)."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self.matrix = np.ascontiguousarray(library.embeddings, dtype=np.float32)
        self.first_rows = np.array([e.row for e in library.entries], dtype=np.int64)
        self.paths = [e.path for e in library.entries]

    def search(self, query: np.ndarray, n: int = 10, exclude: Iterable[str] = ()) -> list[SearchHit]:
        library = self.library
        if n < 1:
            raise UsageError(f"the number of results must be at least 1, got {n}")
        if not library.entries:
            return []
        q = np.asarray(query, np.float32).reshape(-1)
        if q.shape[0] != self.matrix.shape[1]:
            raise UsageError(
                f"query has {q.shape[0]} dimensions, the library's embeddings have {self.matrix.shape[1]}"
            )
        norm = float(np.linalg.norm(q))
        if not np.isfinite(norm) or norm == 0.0:
            raise UsageError("the query embedding is zero or not finite")
        scores = self.matrix @ (q / norm)  # rows are unit norm: cosines
        best = np.maximum.reduceat(scores, self.first_rows)  # entries own contiguous rows
        skip = set(exclude)
        if skip:
            best = best.copy()
            for i, path in enumerate(self.paths):
                if path in skip:
                    best[i] = -np.inf
        k = min(n, int(np.isfinite(best).sum()))
        if k == 0:
            return []
        top = np.argpartition(-best, k - 1)[:k] if k < len(best) else np.arange(len(best))
        order = sorted(top, key=lambda i: (-best[i], self.paths[i]))
        hits = []
        for i in order:
            entry = library.entries[i]
            rows = scores[entry.row : entry.row + len(entry.starts)]
            hits.append(SearchHit(entry, float(best[i]), entry.starts[int(np.argmax(rows))]))
        return hits


# -- reading and writing --------------------------------------------------------------------


def load_library(folder: str | os.PathLike[str] | None = None) -> Library:
    """The library in ``folder`` (default :func:`default_library_dir`); an empty one when the
    folder has none yet. A damaged library raises :class:`DataError` naming the file."""
    root = Path(folder) if folder is not None else default_library_dir()
    index = root / INDEX
    if not index.exists():
        return Library(root)
    try:
        data = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"unreadable sound library index: {exc}", index) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DataError("not a FoleyStudio sound library index", index)
    if int(data.get("version", 0)) > VERSION:
        raise DataError(
            f"sound library version {data['version']} is newer than this FoleyStudio reads ({VERSION})",
            index,
        )
    try:
        entries = tuple(LibraryEntry.from_dict(e) for e in data["entries"])
        skipped = tuple(SkippedFile(**s) for s in data.get("skipped", []))
        matrix_name = str(data["embeddings"])
        model = {str(k): str(v) for k, v in data.get("model", {}).items()}
        segment, hop = float(data["segment_seconds"]), float(data["hop_seconds"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"malformed sound library index ({exc})", index) from None
    if Path(matrix_name).name != matrix_name:
        raise DataError("the embeddings file name is not a plain file name", index)
    try:
        matrix = np.load(root / matrix_name, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"unreadable sound library embeddings: {exc}", root / matrix_name) from None
    rows = sum(len(e.starts) for e in entries)
    if matrix.ndim != 2 or matrix.shape[0] != rows:
        raise DataError(
            f"embeddings have shape {list(matrix.shape)}, the index lists {rows} segments", root / matrix_name
        )
    return Library(root, entries, skipped, model, matrix.astype(np.float16, copy=False), segment, hop)


def build_library(
    folder: Path,
    parts: Sequence[tuple[LibraryEntry, np.ndarray]],
    skipped: Sequence[SkippedFile],
    model: dict[str, str],
    segment_seconds: float,
    hop_seconds: float,
) -> Library:
    """A library from ``(entry, its segment embeddings [len(starts), dim])`` pairs, sorted by
    path, rows renumbered; embeddings are l2-normalised and stored as float16."""
    ordered = sorted(parts, key=lambda p: p[0].path)
    entries: list[LibraryEntry] = []
    blocks: list[np.ndarray] = []
    row = 0
    for entry, rows in ordered:
        rows = np.atleast_2d(np.asarray(rows, np.float32))
        if len(rows) != len(entry.starts):
            raise UsageError(f"{entry.path}: {len(rows)} embeddings for {len(entry.starts)} segments")
        rows = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
        entries.append(replace(entry, row=row))
        blocks.append(rows)
        row += len(rows)
    dim = blocks[0].shape[1] if blocks else 0
    matrix = np.concatenate(blocks).astype(np.float16) if blocks else np.zeros((0, dim), np.float16)
    return Library(
        folder,
        tuple(entries),
        tuple(sorted(skipped, key=lambda s: s.path)),
        dict(model),
        matrix,
        segment_seconds,
        hop_seconds,
    )


def save_library(library: Library) -> Path:
    """Commit ``library`` to its folder (see the module doc); returns the index path."""
    root = library.folder
    root.mkdir(parents=True, exist_ok=True)
    matrix_name = f"embeddings-{secrets.token_hex(6)}.npy"
    with atomic_output(root / matrix_name) as fh:
        np.save(fh, np.ascontiguousarray(library.embeddings, np.float16), allow_pickle=False)
    data = {
        "format": FORMAT,
        "version": VERSION,
        "model": library.model,
        "segment_seconds": library.segment_seconds,
        "hop_seconds": library.hop_seconds,
        "embeddings": matrix_name,
        "entries": [e.to_dict() for e in library.entries],
        "skipped": [asdict(s) for s in library.skipped],
    }
    text = json.dumps(data, indent=None, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    try:
        index = atomic_write_bytes(root / INDEX, (text + "\n").encode("utf-8"))
    except BaseException:
        with contextlib.suppress(OSError):
            (root / matrix_name).unlink()
        raise
    for stale in root.glob("embeddings-*.npy"):
        if stale.name != matrix_name:
            with contextlib.suppress(OSError):
                stale.unlink()
    return index


def remove_from_library(library: Library, paths: Iterable[str | os.PathLike[str]]) -> tuple[Library, int]:
    """``(library without the entries at or under any of paths, number removed)``; skipped
    files at those paths are forgotten too. Nothing is written."""
    keys = [Path(os.path.abspath(p)) for p in paths]

    def gone(path: str) -> bool:
        p = Path(path)
        return any(p == k or k in p.parents for k in keys)

    kept = [(e, library.rows_of(e)) for e in library.entries if not gone(e.path)]
    removed = len(library.entries) - len(kept)
    skipped = [s for s in library.skipped if not gone(s.path)]
    rebuilt = build_library(
        library.folder, kept, skipped, library.model, library.segment_seconds, library.hop_seconds
    )
    return rebuilt, removed
