"""Shared checks of undoable project commands (``core/commands.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def assert_apply_revert_redo(name: str, project: Any, command: Any, check: Callable[[Any], bool]) -> None:
    """``command`` changes ``project`` (and ``check`` sees the edit), revert restores it
    exactly, a redo repeats the same edit, and a second revert restores it again."""
    before = project.to_dict()
    assert command.text
    command.apply(project)
    after = project.to_dict()
    assert after != before
    assert check(project), f"{name}: edit not made"
    command.revert(project)
    assert project.to_dict() == before
    command.apply(project)  # redo
    assert project.to_dict() == after
    command.revert(project)
    assert project.to_dict() == before
