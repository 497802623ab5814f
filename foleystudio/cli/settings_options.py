"""Command-line options made from a settings class's field descriptions (``core/settings.py``).

Each described field becomes one option (``--steps``, ``--sync-cfg``, ``--candidates``…) with
its type, choices, default and help; :func:`settings_from_args` builds the checked value back.
A setting added to the class appears here with no other change.
"""

from __future__ import annotations

import argparse
from typing import Any, TypeVar

from foleystudio.core.settings import is_optional, option_name, setting_fields, setting_kind

S = TypeVar("S")

_PREFIX = "setting__"  # keeps settings apart from a command's own options in the namespace


def add_settings_options(parser: argparse.ArgumentParser | Any, cls: type) -> None:
    """Add one option per described field of ``cls`` to ``parser`` (or an argument group)."""
    for f, spec in setting_fields(cls):
        kind = setting_kind(f, spec)
        unit = f" {spec.unit}" if spec.unit else ""
        if is_optional(f):  # off unless given
            shown = f"off; e.g. {spec.suggested:g}{unit}"
        else:
            shown = (f"{f.default}" if kind is not str else repr(f.default)) + unit
        help_text = f"{spec.help} (default {shown})".replace("%", "%%")
        name = option_name(f, spec)
        if kind is bool:
            parser.add_argument(
                name,
                dest=_PREFIX + f.name,
                action=argparse.BooleanOptionalAction,
                default=f.default,
                help=help_text,
            )
            continue
        extra: dict[str, Any] = {}
        if spec.choices and not spec.free_text:
            extra["choices"] = spec.choices
        parser.add_argument(
            name,
            dest=_PREFIX + f.name,
            type=kind,
            default=f.default,
            metavar=None if "choices" in extra else name.lstrip("-").replace("-", "_").upper(),
            help=help_text,
            **extra,
        )


def settings_from_args(args: argparse.Namespace, cls: type[S]) -> S:
    """The ``cls`` value the parsed options describe (checked: a bad value raises UsageError)."""
    return cls(**{f.name: getattr(args, _PREFIX + f.name) for f, _ in setting_fields(cls)})
