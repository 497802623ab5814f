"""Finished parts a training run builds on, taken from a run folder or from a model bundle.

``train flowley --clip/--audio/--ssv2a/--onsets/--init`` and ``train audio --clip`` accept the
folder of the run that trained the part or a model bundle holding it (``models/foleyworld-tiny``
or any pulled bundle), so the shipped model can be fine-tuned without its run folders. A
bundle keeps each part's training log under its own name (:data:`BUNDLE_LOGS`); a run folder
keeps it as ``log.jsonl``.
"""

from __future__ import annotations

import os
from pathlib import Path

from foleystudio.errors import CheckpointError, DataError
from foleystudio.ml.model_bundle import MANIFEST, ModelBundle, load_bundle
from foleystudio.ml.ssv2a.io import load_from_bundle, load_ssv2a
from foleystudio.ml.ssv2a.manifold import CMSSManifold
from foleystudio.ml.ssv2a.remixer import Remixer

#: The file a bundle keeps each part's training log in.
BUNDLE_LOGS = {
    "flowley": "training_log.jsonl",
    "clip": "clip_training_log.jsonl",
    "audio": "audio_training_log.jsonl",
    "ssv2a": "ssv2a_training_log.jsonl",
    "onsets": "onsets_training_log.jsonl",
}


def is_bundle_folder(path: str | os.PathLike[str]) -> bool:
    """Whether the folder ``path`` is a model bundle (has a manifest) rather than a run folder."""
    return (Path(path) / MANIFEST).is_file()


def bundle_at(path: str | os.PathLike[str]) -> ModelBundle | None:
    """The model bundle (checksums verified, on the CPU) in the folder ``path``, or None when
    the folder is not a bundle (a run folder)."""
    if not is_bundle_folder(path):
        return None
    return load_bundle(Path(path), "cpu")


#: The folder inside a run folder where a finished run writes its bundle.
RUN_BUNDLE_DIR = "bundle"


def finished_run_bundle(source: str | os.PathLike[str], problem: str) -> str | Path:
    """What to load for a trained part given as a model bundle folder (itself), a finished
    run folder (its ``bundle/``) or an installed bundle's name (unchanged); a run folder
    without a bundle → DataError with ``problem``."""
    path = Path(source)
    if not path.exists():
        return source if isinstance(source, str) else path  # an installed bundle's name
    if is_bundle_folder(path):
        return path
    if not is_bundle_folder(path / RUN_BUNDLE_DIR):
        raise DataError(problem, path)
    return path / RUN_BUNDLE_DIR


def part_training_log(path: str | os.PathLike[str], part: str) -> Path | None:
    """The training log of ``part`` (a :data:`BUNDLE_LOGS` key) in a run folder or a bundle,
    or None when there is none."""
    folder = Path(path)
    log = folder / (BUNDLE_LOGS[part] if is_bundle_folder(folder) else "log.jsonl")
    return log if log.is_file() else None


def part_logs(parts: dict[str, str | os.PathLike[str] | None]) -> dict[str, bytes]:
    """The training logs of the given parts (``part -> run folder or bundle``; None skipped),
    as ``bundle file name -> contents``, read now (before a bundle they come from is replaced)."""
    logs = {}
    for part, path in parts.items():
        if path is not None and (log := part_training_log(path, part)) is not None:
            logs[BUNDLE_LOGS[part]] = log.read_bytes()
    return logs


def load_ssv2a_part(path: str | os.PathLike[str]) -> tuple[CMSSManifold, Remixer]:
    """The SSV2A manifold and Remixer of a ``train ssv2a`` run folder or of a model bundle."""
    bundle = bundle_at(path)
    if bundle is None:
        return load_ssv2a(path)
    modules = load_from_bundle(bundle)
    if modules is None:
        raise CheckpointError("the bundle has no SSV2A modules", bundle.path)
    return modules
