"""Atomic file writes: a file is either the old one or the complete new one, never half.

The new content goes to a temporary file in the destination's folder (same file system, so
the final rename is atomic), is flushed and fsync'ed, and only then replaces the destination
with :func:`os.replace`. On any failure the temporary file is removed and the destination
is untouched (docs/architecture.md §11).

Several files that must appear together or not at all (an export, a run's candidates) are
written into hidden staging folders with :class:`StagingFolders` and moved into place at the
end, or removed on failure or cancel.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from foleystudio.errors import FoleyStudioError

#: Name prefix of the hidden staging folders (``.foleystudio-*`` is what a leftover looks like).
STAGING_PREFIX = ".foleystudio-export-"


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


class StagingFolders:
    """Hidden staging folders, one per destination folder: files written there appear in their
    destinations together at :meth:`commit`, or not at all after :meth:`abort`.

    Construction makes each destination folder (and any missing parents, remembered) and a
    hidden staging folder inside it (``prefix`` + random, so on the same file system and the
    moves are atomic renames). Write each file to :meth:`path_for` its final path (or into
    ``stages[folder]``), then call :meth:`commit` on success, or :meth:`abort` on any failure or
    cancel::

        staging = StagingFolders([out], error=ExportError)
        try:
            write(staging.path_for(out / "mix.wav"))
            staging.commit()
        except BaseException:
            staging.abort()
            raise

    :meth:`commit` moves every staged file into its destination folder (replacing a file of
    the same name), makes the renames durable, then removes the staging folders. :meth:`abort`
    removes the staging folders with whatever they hold, and the destination folders this
    object created if they are still empty; files already in the destinations stay as they were.

    If a folder cannot be made, what was made is removed and ``error`` (a
    :class:`~foleystudio.errors.FoleyStudioError` type) is raised naming the user's path: the
    file that stands where a folder should be ("is a file, not a folder"), else the path that
    could not be written.
    """

    def __init__(
        self,
        folders: Iterable[str | os.PathLike[str]],
        *,
        prefix: str = STAGING_PREFIX,
        error: type[FoleyStudioError] = FoleyStudioError,
    ) -> None:
        #: Folders this object made (outermost first); removed again by :meth:`abort` if empty.
        self.created: list[Path] = []
        #: Destination folder -> its staging folder.
        self.stages: dict[Path, Path] = {}
        try:
            for folder in map(Path, folders):
                self._make_folder(folder)
                self.stages[folder] = Path(tempfile.mkdtemp(prefix=prefix, dir=folder))
        except OSError as exc:
            self.abort()
            blocker = _file_in_the_way(Path(exc.filename)) if exc.filename else None
            if blocker is not None:
                raise error("is a file, not a folder: cannot put the export inside it", blocker) from exc
            raise error(f"cannot write there: {exc.strerror or exc}", exc.filename) from exc

    def user_path(self, filename: object) -> object:
        """``filename`` as the user knows it: a file in a hidden staging folder is named by its
        place in the destination folder; anything else (None too) is returned as it is."""
        if not filename:
            return filename
        path = Path(str(filename))
        for folder, stage in self.stages.items():
            if path.parent == stage:
                return folder / path.name
        return filename

    def path_for(self, final: str | os.PathLike[str]) -> Path:
        """Where ``final`` (a file directly in one of the destination folders) is written until
        the commit."""
        final = Path(final)
        return self.stages[final.parent] / final.name

    def commit(self) -> None:
        """Move every staged file into its destination folder, then remove the staging folders."""
        for folder, stage in self.stages.items():
            for staged in sorted(stage.iterdir()):
                os.replace(staged, folder / staged.name)
            fsync_dir(folder)
        self.abort()  # only the (now empty) staging folders remain to be removed

    def abort(self) -> None:
        """Remove the staging folders and the folders this object created (if empty)."""
        for stage in self.stages.values():
            shutil.rmtree(stage, ignore_errors=True)
        for folder in reversed(self.created):
            with contextlib.suppress(OSError):
                folder.rmdir()

    def _make_folder(self, folder: Path) -> None:
        missing = []
        probe = folder
        while not probe.exists():
            missing.append(probe)
            probe = probe.parent
        folder.mkdir(parents=True, exist_ok=True)
        self.created.extend(reversed(missing))


def _file_in_the_way(path: Path) -> Path | None:
    """The nearest existing ancestor of ``path`` (or ``path`` itself) when it is a file, which is
    what a "File exists" / "Not a directory" error on making a folder really means."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe if probe.exists() and not probe.is_dir() else None
