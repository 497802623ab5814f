"""Resumable training state without pickle.

A training run folder holds ``state.safetensors`` (model weights and the optimizer's tensors,
flattened as ``model/<name>`` and ``optim/<param index>/<key>``) and ``state.json`` (step,
epoch, RNG seeds, optimizer scalars, config). Both are written atomically, so a run killed
mid-save resumes from the previous checkpoint.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save

from foleystudio.core.atomicfile import atomic_write_bytes
from foleystudio.errors import CheckpointError, DataError

STATE_TENSORS = "state.safetensors"
STATE_JSON = "state.json"


def save_training_state(
    run_dir: str | os.PathLike[str],
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    step: int,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write the model, optimizer and ``step`` to ``run_dir`` (atomic per file)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {
        f"model/{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()
    }
    opt_state = optimizer.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for index, state in opt_state["state"].items():
        for key, value in state.items():
            if torch.is_tensor(value) and value.dim() > 0:
                tensors[f"optim/{index}/{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[key] = float(value)
    atomic_write_bytes(run_dir / STATE_TENSORS, save(tensors))
    meta = {
        "step": step,
        "param_groups": opt_state["param_groups"],
        "optim_scalars": scalars,
        **(extra or {}),
    }
    atomic_write_bytes(run_dir / STATE_JSON, json.dumps(meta, indent=2).encode())
    return run_dir


def load_training_state(
    run_dir: str | os.PathLike[str], model: torch.nn.Module, optimizer: torch.optim.Optimizer | None
) -> dict[str, Any]:
    """Restore what :func:`save_training_state` wrote; returns the JSON part (with ``step``)."""
    run_dir = Path(run_dir)
    try:
        meta = json.loads((run_dir / STATE_JSON).read_text())
        tensors = load_file(str(run_dir / STATE_TENSORS))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"cannot resume training: {exc}", run_dir) from exc
    model_state = {k[len("model/") :]: v for k, v in tensors.items() if k.startswith("model/")}
    try:
        model.load_state_dict(model_state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"training state does not fit this model: {exc}", run_dir) from exc
    if optimizer is not None:
        state: dict[int, dict[str, Any]] = {}
        for name, value in tensors.items():
            if name.startswith("optim/"):
                _, index, key = name.split("/", 2)
                state.setdefault(int(index), {})[key] = value
        for index, values in meta.get("optim_scalars", {}).items():
            for key, value in values.items():
                state.setdefault(int(index), {})[key] = torch.tensor(value)
        optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    return meta


def has_training_state(run_dir: str | os.PathLike[str]) -> bool:
    """Whether ``run_dir`` holds a checkpoint to resume from."""
    run_dir = Path(run_dir)
    return (run_dir / STATE_JSON).is_file() and (run_dir / STATE_TENSORS).is_file()


def resume_or_start(
    run_dir: str | os.PathLike[str], model: torch.nn.Module, optimizer: torch.optim.Optimizer, resume: bool
) -> tuple[int, float, dict[str, Any] | None]:
    """``(step, elapsed seconds, saved JSON or None)`` of a run about to train.

    With ``resume`` an existing state is loaded (a missing one starts fresh); without it an
    existing state is refused rather than overwritten.
    """
    if not has_training_state(run_dir):
        return 0, 0.0, None
    if not resume:
        raise DataError(
            "run folder already holds a training state; pass resume or pick a new folder", run_dir
        )
    meta = load_training_state(run_dir, model, optimizer)
    return int(meta["step"]), float(meta.get("elapsed", 0.0)), meta
