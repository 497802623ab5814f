"""Rebuilding a network config dataclass from the dict a model bundle stores."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, TypeVar

from foleystudio.errors import CheckpointError, UsageError

ConfigT = TypeVar("ConfigT")


def config_from_dict(
    cls: type[ConfigT], data: dict[str, Any], what: str, tuples: Sequence[str] = ()
) -> ConfigT:
    """``cls(**data)`` for a frozen config dataclass, the ``tuples`` fields turned back from
    JSON lists into tuples. Unknown keys (a bundle from a newer FoleyStudio) and values the
    class refuses → CheckpointError naming ``what`` (e.g. "visual onset config")."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise CheckpointError(f"{what} has unknown fields {unknown} (newer FoleyStudio?)")
    values = {k: tuple(v) if k in tuples else v for k, v in data.items()}
    try:
        return cls(**values)
    except (TypeError, UsageError) as exc:
        raise CheckpointError(f"bad {what}: {exc}") from None
