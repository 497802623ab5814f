"""``foleystudio train …`` under torchrun, recording which rank writes which file.

``python -m torch.distributed.run --nproc_per_node 2 distributed_trainer_worker.py RECORD_DIR
train clip --data …`` runs the CLI on every rank. Each rank appends every file write of the
trainers (checkpoints, weights, configs, log lines) to ``RECORD_DIR/writes_rank<r>.txt``, so
the test can check that rank 0 alone wrote the run folder.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from foleystudio.cli import main
from foleystudio.train import audio, clip_encoder, common, loop


def _record(record_dir: Path, what: str) -> None:
    rank = os.environ.get("RANK", "0")
    with open(record_dir / f"writes_rank{rank}.txt", "a") as fh:
        fh.write(what + "\n")


def _watch_writes(record_dir: Path) -> None:
    """Wrap the trainers' writers so that each call is recorded before it writes."""
    # The loop writes the checkpoints; the trainers their final files.
    for module, names in (
        (loop, ("save_training_state", "atomic_write_bytes")),
        (clip_encoder, ("atomic_write_bytes",)),
        (audio, ("atomic_write_bytes",)),
    ):
        for name in names:
            original = getattr(module, name)

            def recorded(path: Any, *args: Any, _original: Any = original, _name: str = name) -> Any:
                _record(record_dir, f"{_name} {Path(path).name}")
                return _original(path, *args)

            setattr(module, name, recorded)
    write_log = common.RunLog.write

    def recorded_log(self: common.RunLog, **record: Any) -> None:
        _record(record_dir, f"log {record.get('event')}")
        write_log(self, **record)

    common.RunLog.write = recorded_log  # type: ignore[method-assign]


if __name__ == "__main__":
    records = Path(sys.argv[1])
    records.mkdir(parents=True, exist_ok=True)
    _watch_writes(records)
    sys.exit(main(sys.argv[2:]))
