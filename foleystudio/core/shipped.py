"""Data shipped with the code: the default model bundles and the demo clip.

A source checkout keeps them at the repository's top (``models/``, ``resources/demo/``). A
wheel or the desktop build carries copies inside the package, in ``foleystudio/_shipped/``
(put there by ``setup.py``'s build step and by ``installer/foleystudio.spec``); see
docs/decisions.md, "Shipping the default model".
"""

from __future__ import annotations

from pathlib import Path

import foleystudio

#: Folder inside the installed package that holds the shipped copies.
SHIPPED_PACKAGE_DIR = "_shipped"

#: Shipped item → its folder in a source checkout, relative to the repository's top.
CHECKOUT_PATHS: dict[str, str] = {"models": "models", "demo": "resources/demo"}


def shipped_dir(name: str) -> Path:
    """The folder of shipped item ``name`` (``models`` or ``demo``).

    The copy inside the installed package wins; otherwise the checkout's folder next to the
    package. The result may not exist (e.g. a wheel built without the data); callers report it.
    """
    if name not in CHECKOUT_PATHS:
        raise KeyError(f"unknown shipped item '{name}'")
    package = Path(foleystudio.__file__).resolve().parent
    inside = package / SHIPPED_PACKAGE_DIR / name
    if inside.is_dir():
        return inside
    return package.parent / CHECKOUT_PATHS[name]
