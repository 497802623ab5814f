"""Save and load a trained CMSS manifold + Remixer: safetensors weights + one JSON config.

A folder (a training run, or a model bundle the files are copied into) holds::

    ssv2a_manifold.safetensors   CMSSManifold weights   (bundle module "ssv2a_manifold")
    ssv2a_remixer.safetensors    Remixer weights (ψ and ω)  (bundle module "ssv2a_remixer")
    ssv2a.json                   {"format_version", "manifold": config, "remixer": config,
                                  "files": {file: sha256}, "training": {...}}

Weights are read with safetensors only (never pickle). Loading checks each file's sha256
against ``ssv2a.json`` and loads strictly: a missing, unexpected or wrongly shaped tensor
is a :class:`~foleystudio.errors.CheckpointError` naming it. In a model bundle the manifest's
own sha256 covers the files as well: :func:`bundle_parts` gives the modules and the
``configs["ssv2a"]`` entry for ``save_bundle``, :func:`load_from_bundle` reads them back.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors.torch import load as safetensors_from_bytes
from safetensors.torch import save as safetensors_to_bytes

from foleystudio.core.atomicfile import atomic_write_bytes
from foleystudio.errors import CheckpointError
from foleystudio.ml.encoders import load_state_dict_strict
from foleystudio.ml.ssv2a.manifold import CMSSManifold, ManifoldConfig
from foleystudio.ml.ssv2a.remixer import Remixer, RemixerConfig

if TYPE_CHECKING:
    from foleystudio.ml.model_bundle import ModelBundle

FORMAT_VERSION = 1
MANIFOLD_FILE = "ssv2a_manifold.safetensors"
REMIXER_FILE = "ssv2a_remixer.safetensors"
CONFIG_FILE = "ssv2a.json"
#: Module names to use in a model bundle (``save_bundle(modules={...})``): file = name + ".safetensors".
SSV2A_MODULES = ("ssv2a_manifold", "ssv2a_remixer")


def ssv2a_config(
    manifold: CMSSManifold, remixer: Remixer, training: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The JSON-ready config of a manifold + Remixer pair (``ssv2a.json`` without ``files``)."""
    return {
        "format_version": FORMAT_VERSION,
        "manifold": manifold.config.to_dict(),
        "remixer": remixer.config.to_dict(),
        "training": training or {},
    }


def build_ssv2a(
    config: dict[str, Any], path: str | os.PathLike[str] | None = None
) -> tuple[CMSSManifold, Remixer]:
    """Untrained modules of the shapes ``config`` (from :func:`ssv2a_config`) describes;
    a malformed config raises CheckpointError naming ``path``."""
    try:
        version = int(config.get("format_version", 0))
        if version > FORMAT_VERSION:
            raise CheckpointError(
                f"SSV2A format {version} is newer than this FoleyStudio reads ({FORMAT_VERSION})", path
            )
        manifold = CMSSManifold(ManifoldConfig.from_dict(config["manifold"]))
        remixer = Remixer(RemixerConfig.from_dict(config["remixer"]))
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise CheckpointError(f"malformed SSV2A config: {type(exc).__name__}: {exc}", path) from None
    if manifold.config.audio_dim != remixer.config.audio_dim or (
        manifold.config.joint_dim != remixer.config.joint_dim
        or manifold.config.clip_dim != remixer.config.clip_dim
    ):
        raise CheckpointError("SSV2A manifold and Remixer configs disagree on their dimensions", path)
    return manifold, remixer


def _tensors(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in module.state_dict().items()}


def save_ssv2a(
    folder: str | os.PathLike[str],
    manifold: CMSSManifold,
    remixer: Remixer,
    training: dict[str, Any] | None = None,
) -> Path:
    """Write the two weight files and ``ssv2a.json`` into ``folder`` (each atomically;
    the JSON, which holds the checksums, last). Returns ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for filename, module, name in (
        (MANIFOLD_FILE, manifold, SSV2A_MODULES[0]),
        (REMIXER_FILE, remixer, SSV2A_MODULES[1]),
    ):
        data = safetensors_to_bytes(_tensors(module), metadata={"module": name})
        atomic_write_bytes(folder / filename, data)
        files[filename] = hashlib.sha256(data).hexdigest()
    meta = {**ssv2a_config(manifold, remixer, training), "files": files}
    atomic_write_bytes(folder / CONFIG_FILE, (json.dumps(meta, indent=2, allow_nan=False) + "\n").encode())
    return folder


def _load_file(module: torch.nn.Module, path: Path, digest: str | None) -> None:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"weights file cannot be read: {exc.strerror or exc}", path) from None
    if digest is not None and hashlib.sha256(data).hexdigest() != digest:
        raise CheckpointError(f"sha256 does not match {CONFIG_FILE}: the file is tampered or corrupt", path)
    try:
        state = safetensors_from_bytes(data)
    except Exception as exc:  # safetensors raises its own error types for bad headers
        raise CheckpointError(f"not a valid safetensors file: {exc}", path) from None
    load_state_dict_strict(module, state, path)


def load_ssv2a(
    folder: str | os.PathLike[str], device: torch.device | str = "cpu"
) -> tuple[CMSSManifold, Remixer]:
    """The manifold and Remixer saved by :func:`save_ssv2a`, in eval mode on ``device``."""
    folder = Path(folder)
    config_path = folder / CONFIG_FILE
    try:
        meta = json.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"no {CONFIG_FILE} in the folder", folder) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"unreadable SSV2A config: {exc}", config_path) from None
    if not isinstance(meta, dict):
        raise CheckpointError("SSV2A config is not a JSON object", config_path)
    manifold, remixer = build_ssv2a(meta, config_path)
    digests = meta.get("files") if isinstance(meta.get("files"), dict) else {}
    _load_file(manifold, folder / MANIFOLD_FILE, digests.get(MANIFOLD_FILE))
    _load_file(remixer, folder / REMIXER_FILE, digests.get(REMIXER_FILE))
    return manifold.to(device).eval(), remixer.to(device).eval()


def bundle_parts(
    manifold: CMSSManifold, remixer: Remixer, training: dict[str, Any] | None = None
) -> tuple[dict[str, torch.nn.Module], dict[str, Any]]:
    """``(modules, configs)`` to merge into ``ml.model_bundle.save_bundle``'s arguments:
    modules ``ssv2a_manifold``/``ssv2a_remixer`` and the config ``ssv2a``."""
    return (
        {SSV2A_MODULES[0]: manifold, SSV2A_MODULES[1]: remixer},
        {"ssv2a": ssv2a_config(manifold, remixer, training)},
    )


def load_from_bundle(bundle: ModelBundle) -> tuple[CMSSManifold, Remixer] | None:
    """The SSV2A modules of a loaded (checksum-verified) model bundle, in eval mode on the
    bundle's device; None when the bundle has none."""
    if not all(bundle.has_module(name) for name in SSV2A_MODULES):
        return None
    manifold, remixer = build_ssv2a(bundle.config("ssv2a"), bundle.path)
    bundle.load_into(SSV2A_MODULES[0], manifold)
    bundle.load_into(SSV2A_MODULES[1], remixer)
    return manifold.eval(), remixer.eval()
