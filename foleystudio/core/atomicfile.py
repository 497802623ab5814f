"""Atomic file writes: a file is either the old one or the complete new one, never half.

The new content goes to a temporary file in the destination's folder (same file system, so
the final rename is atomic), is flushed and fsync'ed, and only then replaces the destination
with :func:`os.replace`. On any failure the temporary file is removed and the destination
is untouched (docs/architecture.md §11).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """Make a rename inside ``folder`` durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows cannot open a folder; NTFS renames are journalled anyway.
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """``with atomic_output(p) as fh: fh.write(...)`` — ``p`` appears only if the block succeeds.

    ``fh`` is a binary file opened ``w+b`` (seekable, as soundfile needs for WAV headers).
    Exceptions (including OSError from the final replace) propagate; the destination then
    still holds its previous content and no temporary file is left behind.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w+b") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_output(path) as fh:
        fh.write(data)
    return Path(path)
