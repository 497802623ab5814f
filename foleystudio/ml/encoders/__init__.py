"""Encoders: CLIP (open_clip) for frames, crops and text; motion energy; the audio embedding.

- :mod:`.clip` — :class:`~.clip.ClipEncoder` over an open_clip model (named tiny configs for
  the CPU-trained bundle, or any open_clip model with a tag or a local safetensors file).
- :mod:`.motion` — motion energy and the sync features (NumPy only, no weights).
- :mod:`.audio` — :class:`~.audio.AudioEncoder`, the small log-mel encoder in CLAP's role.

This module also holds the two weight helpers the encoders share; torch and safetensors are
imported inside them so that ``import foleystudio.ml.encoders.motion`` stays NumPy-only.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from foleystudio.errors import CheckpointError

if TYPE_CHECKING:
    import torch


@contextlib.contextmanager
def seeded_init(seed: int | None) -> Iterator[None]:
    """Run module construction with torch's global RNG seeded to ``seed`` and restored after.

    ``nn.Module`` constructors draw their initial weights from the global generator; forking
    it makes a seeded model deterministic without changing anyone else's random stream.
    ``seed=None``: no seeding, no forking.
    """
    if seed is None:
        yield
        return
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield


def load_safetensors_strict(
    module: torch.nn.Module, path: str | os.PathLike[str], *, prefix: str = ""
) -> None:
    """Load a ``.safetensors`` file into ``module`` strictly (same keys, same shapes).

    ``prefix``: only keys starting with it are used, with the prefix stripped (to load one
    part of a bundle). Never unpickles. Any problem — missing file, not safetensors, other
    format, missing/unexpected keys, wrong shapes — raises :class:`CheckpointError` naming
    the file.
    """
    path = os.fspath(path)
    if not path.endswith(".safetensors"):
        raise CheckpointError(
            "only .safetensors weights are loaded (pickled .bin/.pt files are refused; "
            "convert them with safetensors first)",
            path,
        )
    if not os.path.isfile(path):
        raise CheckpointError("weights file not found", path)
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(path, device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"not a readable safetensors file ({_one_line(exc)})", path) from exc
    if prefix:
        state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    load_state_dict_strict(module, state, path)


def load_state_dict_strict(
    module: torch.nn.Module, state: dict[str, torch.Tensor], path: str | os.PathLike[str] | None = None
) -> None:
    """``module.load_state_dict(state, strict=True)`` with shape checks first and every
    mismatch reported as one :class:`CheckpointError` line (``path`` names the source)."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = [
        f"{k} {tuple(state[k].shape)} != {tuple(own[k].shape)}"
        for k in sorted(set(own) & set(state))
        if tuple(state[k].shape) != tuple(own[k].shape)
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing (e.g. {missing[0]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
    if wrong:
        problems.append(f"{len(wrong)} of the wrong shape (e.g. {wrong[0]})")
    if problems:
        raise CheckpointError("weights do not match the model: " + "; ".join(problems) + " tensors", path)
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # dtype or other mismatches not caught above
        raise CheckpointError(f"weights do not match the model ({_one_line(exc)})", path) from exc


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
