"""Per-user folders shared by the app, the CLI and the model registry."""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable that moves the per-user folder (tests point it at a temp dir).
USER_DIR_ENV = "FOLEYSTUDIO_USER_DIR"


def user_dir() -> Path:
    """Where FoleyStudio keeps per-user files (models, untitled projects):
    ``$FOLEYSTUDIO_USER_DIR`` or ``~/.local/share/foleystudio``. Not created here."""
    override = os.environ.get(USER_DIR_ENV)
    return Path(override) if override else Path.home() / ".local" / "share" / "foleystudio"
