"""Entry point of the desktop build: the same ``foleystudio`` command as the wheel's."""

from __future__ import annotations

import multiprocessing
import sys

from foleystudio.cli import main

if __name__ == "__main__":
    # Training can start worker processes; a frozen program must re-enter here for them.
    multiprocessing.freeze_support()
    sys.exit(main())
