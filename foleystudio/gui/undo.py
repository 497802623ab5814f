"""QUndoStack glue over the core edit commands (docs/architecture.md §9, ``core/commands.py``).

A core command knows how to ``apply``/``revert`` itself on a :class:`Project`, carries its
``text``, an integer ``merge_id`` (-1 = never merges) and ``merge(other)``, as Qt's
``id()``/``mergeWith()`` expect. :class:`UndoCommand` adapts it to ``QUndoCommand``.

Merging is limited to one *gesture*: commands carry a merge session (one slider drag, one
fader move); only commands of the same session merge, so two separate drags of the same
clip stay two undo steps. The document applies a command before pushing it (so an invalid
edit raises where it can be reported); the first ``redo`` Qt makes is then skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QUndoCommand


class UndoCommand(QUndoCommand):
    """A core command on the Qt stack; ``notify(command)`` runs after every apply/revert."""

    def __init__(
        self,
        command: Any,
        project_getter: Callable[[], Any],
        notify: Callable[[Any], None],
        merge_session: int | None = None,
    ) -> None:
        super().__init__(str(getattr(command, "text", "") or type(command).__name__))
        self.command = command
        self.merge_session = merge_session
        self._project = project_getter
        self._notify = notify
        self._already_applied = True

    def redo(self) -> None:
        if self._already_applied:
            self._already_applied = False
        else:
            self.command.apply(self._project())
        self._notify(self.command)

    def undo(self) -> None:
        self.command.revert(self._project())
        self._notify(self.command)

    def id(self) -> int:
        if self.merge_session is None:
            return -1
        return int(getattr(self.command, "merge_id", -1))

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, UndoCommand) or other.merge_session != self.merge_session:
            return False
        merged = bool(self.command.merge(other.command))
        if merged:
            self.setText(str(getattr(self.command, "text", "") or self.text()))
        return merged
