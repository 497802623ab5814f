"""User-facing errors.

Every problem a user can cause (bad file, bad argument, wrong checkpoint) is raised as a
:class:`FoleyStudioError`. Its ``str()`` is one line that names the file (when there is one)
and the problem; the CLI prints it and exits with code 2, the GUI shows it in a dialog.
"""

from __future__ import annotations

from os import PathLike


class FoleyStudioError(Exception):
    """Base of all user-facing errors: ``path`` (optional) + a one-line ``problem``."""

    def __init__(self, problem: str, path: str | PathLike[str] | None = None) -> None:
        self.problem = problem
        self.path = None if path is None else str(path)
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}" if self.path else self.problem


class UsageError(FoleyStudioError):
    """A bad argument or option value."""


class MediaError(FoleyStudioError):
    """A video or audio file is missing, corrupt, empty or unsupported."""


class AudioFileError(MediaError):
    """An audio file cannot be read or written as asked."""


class ProjectError(FoleyStudioError):
    """A project bundle is malformed, of a newer schema, or cannot be saved."""


class CheckpointError(FoleyStudioError):
    """A model bundle is missing, tampered with, or does not match its config."""


class GenerationError(FoleyStudioError):
    """A generation request cannot be carried out."""


class ExportError(FoleyStudioError):
    """An export cannot be written; nothing half-written is left behind."""


class DataError(FoleyStudioError):
    """A dataset folder or training configuration is unusable."""


class JobCancelled(FoleyStudioError):
    """The user cancelled a job; the job changed nothing."""

    def __init__(self, problem: str = "cancelled by the user", path: str | None = None) -> None:
        super().__init__(problem, path)
