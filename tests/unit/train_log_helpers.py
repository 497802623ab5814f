"""The run log every trainer writes through ``train/loop.py``, read and checked line by line."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from foleystudio.train.loop import EVENTS


def logged_events(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The lines of ``run_dir/log.jsonl``, each checked against the loop's schema: ``event`` one
    of :data:`EVENTS`, ``step`` a whole number that never decreases, ``wall`` seconds ≥ 0; the
    first line starts the run."""
    lines = [json.loads(line) for line in (Path(run_dir) / "log.jsonl").read_text().splitlines()]
    assert lines and lines[0]["event"] == "start", lines[:1]
    previous = 0
    for line in lines:
        assert line.get("event") in EVENTS, line
        assert isinstance(line.get("step"), int) and line["step"] >= previous, line
        assert isinstance(line.get("wall"), (int, float)) and line["wall"] >= 0, line
        previous = line["step"]
    return lines
