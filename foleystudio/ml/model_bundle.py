"""Model bundles: safetensors weights + a JSON manifest, strict loading, registry, pull.

A bundle is a folder::

    <bundle>/manifest.json          name, version, format_version, created, configs,
                                    modules {module: file}, files {file: sha256}, training
    <bundle>/<module>.safetensors   one file per module (flowley, clip, audio_encoder, ...)

Weights are read with safetensors only — never ``torch.load``/pickle (docs/architecture.md §11). Every
file's sha256 is checked against the manifest before it is parsed; loading into a module is
strict and names the first tensor that is missing, unexpected or of the wrong shape.

Bundles are found (:func:`list_bundles`, :func:`find_bundle`) in, by precedence: the folders
of ``FOLEYSTUDIO_MODELS`` (``os.pathsep``-separated), the user's models folder
(``$FOLEYSTUDIO_USER_DIR/models``, default ``~/.local/share/foleystudio/models``) and the
shipped models folder (the checkout's ``models/`` or its copy inside an installed package).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from safetensors.torch import load as safetensors_from_bytes  # bytes → tensors; never pickle
from torch import nn

import foleystudio
from foleystudio.core.atomicfile import atomic_write_bytes
from foleystudio.core.jobs import CancelToken, ProgressCallback, no_progress
from foleystudio.core.paths import user_dir
from foleystudio.core.shipped import shipped_dir
from foleystudio.errors import CheckpointError, UsageError

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
BUNDLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_CHUNK = 1 << 20


# -- writing --------------------------------------------------------------------------------


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _state_dict(module: nn.Module | dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    tensors = module.state_dict() if isinstance(module, nn.Module) else dict(module)
    # Clone so tied/shared storages become separate tensors (safetensors refuses aliasing).
    return {key: value.detach().to("cpu").contiguous().clone() for key, value in tensors.items()}


def save_bundle(
    directory: str | os.PathLike[str],
    name: str,
    modules: dict[str, nn.Module | dict[str, torch.Tensor]],
    configs: dict[str, Any],
    training: dict[str, Any] | None = None,
    version: str = "1.0.0",
    description: str = "",
) -> Path:
    """Write a bundle folder ``directory`` (replacing an existing one atomically); returns its path.

    ``modules`` maps a module name (``flowley``, ``clip``, ...) to a module or a state dict;
    ``configs`` maps config names (``flowley``, ``codec``, ``clip``, ...) to JSON-ready
    dicts; ``training`` is a JSON-ready summary (steps, data, losses, time).
    """
    if not BUNDLE_NAME.match(name):
        raise UsageError(f"bundle name '{name}' may only use letters, digits, '.', '_' and '-'")
    for module_name in modules:
        if not BUNDLE_NAME.match(module_name):
            raise UsageError(f"module name '{module_name}' may only use letters, digits, '.', '_' and '-'")
    target = Path(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        files: dict[str, str] = {}
        module_files: dict[str, str] = {}
        for module_name, module in modules.items():
            filename = f"{module_name}.safetensors"
            data = safetensors.torch.save(_state_dict(module), metadata={"module": module_name})
            atomic_write_bytes(staging / filename, data)
            files[filename] = hashlib.sha256(data).hexdigest()
            module_files[module_name] = filename
        manifest = {
            "name": name,
            "version": version,
            "format_version": FORMAT_VERSION,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "foleystudio_version": foleystudio.__version__,
            "description": description,
            "configs": configs,
            "modules": module_files,
            "files": files,
            "training": training or {},
        }
        text = json.dumps(manifest, indent=2, sort_keys=False, allow_nan=False) + "\n"
        atomic_write_bytes(staging / MANIFEST, text.encode("utf-8"))
        swap_in(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def add_module(
    directory: str | os.PathLike[str],
    module_name: str,
    module: nn.Module | dict[str, torch.Tensor],
    config: dict[str, Any],
    training: dict[str, Any],
    extra_files: dict[str, bytes] | None = None,
    out: str | os.PathLike[str] | None = None,
) -> Path:
    """Write bundle ``directory`` with module ``module_name`` added (or replaced) to ``out``
    (default: ``directory`` itself, replaced atomically); returns the written folder.

    The bundle's files are checked against their sha256s first and copied byte for byte; the
    manifest gains the module's file and sha256, ``configs[module_name] = config`` and
    ``training[module_name] = training``. ``extra_files`` (e.g. a training log) are written
    beside the weights, outside the manifest like the other logs.
    """
    if not BUNDLE_NAME.match(module_name):
        raise UsageError(f"module name '{module_name}' may only use letters, digits, '.', '_' and '-'")
    source = Path(directory)
    manifest = verify_bundle(source)
    target = Path(out) if out is not None else source
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        for path in source.iterdir():
            if path.is_file() and path.name != MANIFEST:
                shutil.copy2(path, staging / path.name)
        filename = f"{module_name}.safetensors"
        data = safetensors.torch.save(_state_dict(module), metadata={"module": module_name})
        atomic_write_bytes(staging / filename, data)
        for name, content in (extra_files or {}).items():
            if Path(name).name != name or name in (MANIFEST, filename):
                raise UsageError(f"'{name}' cannot be written into a bundle")
            atomic_write_bytes(staging / name, content)
        manifest = {
            **manifest,
            "modules": {**manifest["modules"], module_name: filename},
            "files": {**manifest["files"], filename: hashlib.sha256(data).hexdigest()},
            "configs": {**manifest["configs"], module_name: config},
            "training": {**manifest.get("training", {}), module_name: training},
        }
        text = json.dumps(manifest, indent=2, sort_keys=False, allow_nan=False) + "\n"
        atomic_write_bytes(staging / MANIFEST, text.encode("utf-8"))
        verify_bundle(staging)
        # The rewritten bundle keeps the permissions it had (mkdtemp and atomic writes make 0700/0600).
        file_mode = (source / MANIFEST).stat().st_mode & 0o777
        for written in (filename, MANIFEST, *(extra_files or {})):
            os.chmod(staging / written, file_mode)
        os.chmod(staging, source.stat().st_mode & 0o777)
        swap_in(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def swap_in(staging: Path, target: Path) -> None:
    """Move a complete folder into place; an existing ``target`` is replaced only at the end."""
    if not target.exists():
        os.replace(staging, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    old.rmdir()
    os.replace(target, old)
    try:
        os.replace(staging, target)
    except BaseException:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


# -- reading --------------------------------------------------------------------------------


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of bundle folder ``path``, checked for the required fields."""
    folder = Path(path)
    manifest_path = folder / MANIFEST
    if not folder.is_dir():
        raise CheckpointError("not a model bundle folder", folder)
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"no {MANIFEST} in the bundle folder", folder) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"unreadable manifest: {exc}", manifest_path) from None
    if not isinstance(manifest, dict):
        raise CheckpointError("manifest is not a JSON object", manifest_path)
    for key, kind in (
        ("name", str),
        ("format_version", int),
        ("configs", dict),
        ("modules", dict),
        ("files", dict),
    ):
        if not isinstance(manifest.get(key), kind):
            raise CheckpointError(
                f"manifest field '{key}' is missing or not a {kind.__name__}", manifest_path
            )
    if manifest["format_version"] > FORMAT_VERSION:
        raise CheckpointError(
            f"bundle format {manifest['format_version']} is newer than this FoleyStudio reads ({FORMAT_VERSION})",
            manifest_path,
        )
    for module_name, filename in manifest["modules"].items():
        if not isinstance(filename, str) or filename not in manifest["files"]:
            raise CheckpointError(f"module '{module_name}' names a file without a checksum", manifest_path)
        if Path(filename).name != filename:
            raise CheckpointError(
                f"module '{module_name}' file '{filename}' is not a plain file name", manifest_path
            )
    return manifest


def _read_verified(folder: Path, filename: str, expected_sha256: str) -> bytes:
    path = folder / filename
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"weights file cannot be read: {exc.strerror or exc}", path) from None
    if hashlib.sha256(data).hexdigest() != expected_sha256:
        raise CheckpointError("sha256 does not match the manifest: the file is tampered or corrupt", path)
    return data


def verify_bundle(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Check every file's sha256 against the manifest (without parsing weights); returns the manifest."""
    folder = Path(path)
    manifest = read_manifest(folder)
    for filename, digest in manifest["files"].items():
        path_ = folder / filename
        if not path_.is_file():
            raise CheckpointError("weights file listed in the manifest is missing", path_)
        if sha256_file(path_) != digest:
            raise CheckpointError(
                "sha256 does not match the manifest: the file is tampered or corrupt", path_
            )
    return manifest


@dataclass
class ModelBundle:
    """A loaded, checksum-verified bundle: its manifest and one state dict per module."""

    path: Path
    manifest: dict[str, Any]
    state_dicts: dict[str, dict[str, torch.Tensor]]
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def version(self) -> str:
        return str(self.manifest.get("version", ""))

    @property
    def configs(self) -> dict[str, Any]:
        return self.manifest["configs"]

    @property
    def training(self) -> dict[str, Any]:
        return self.manifest.get("training", {})

    def config(self, key: str) -> dict[str, Any]:
        """The config ``key`` (``flowley``, ``codec``, ...); missing → CheckpointError."""
        value = self.configs.get(key)
        if not isinstance(value, dict):
            raise CheckpointError(f"bundle has no '{key}' config", self.path)
        return value

    def has_module(self, name: str) -> bool:
        return name in self.state_dicts

    def load_into(self, name: str, module: nn.Module) -> nn.Module:
        """Strictly load module ``name``'s weights into ``module`` (moved to the bundle's device)."""
        if name not in self.state_dicts:
            raise CheckpointError(f"bundle has no weights for module '{name}'", self.path)
        tensors = self.state_dicts[name]
        expected = module.state_dict()
        where = self.path / self.manifest["modules"][name]
        for key in expected:
            if key not in tensors:
                raise CheckpointError(f"tensor '{key}' of module '{name}' is missing from the bundle", where)
        for key in tensors:
            if key not in expected:
                raise CheckpointError(f"bundle tensor '{key}' does not exist in module '{name}'", where)
        for key, value in expected.items():
            if tuple(tensors[key].shape) != tuple(value.shape):
                raise CheckpointError(
                    f"tensor '{key}' of module '{name}' has shape {list(tensors[key].shape)} in the bundle, "
                    f"the model expects {list(value.shape)}",
                    where,
                )
        module.load_state_dict(tensors, strict=True)
        return module.to(self.device)

    def build_codec(self) -> Any:
        """The bundle's codec (from config ``codec``), on the bundle's device; when the bundle
        has a ``vocoder`` module the codec decodes with it, else with Griffin-Lim."""
        from foleystudio.ml.codec import MelCodec, codec_from_config
        from foleystudio.ml.vocoder import vocoder_from_bundle

        codec = codec_from_config(self.config("codec"))
        vocoder = vocoder_from_bundle(self)
        if vocoder is not None:
            if not isinstance(codec, MelCodec):
                raise CheckpointError("the bundle has a vocoder but its codec is not a mel codec", self.path)
            codec.attach_vocoder(vocoder)
        return codec.to(self.device)

    def build_flowley(self) -> Any:
        """The bundle's Flowley network (config + weights ``flowley``), in eval mode."""
        from foleystudio.ml.flowley import Flowley, FlowleyConfig

        model = Flowley(FlowleyConfig.from_dict(self.config("flowley")))
        return self.load_into("flowley", model).eval()


def load_bundle(path_or_name: str | os.PathLike[str], device: torch.device | str = "cpu") -> ModelBundle:
    """Find (by name or folder path), verify and read a bundle; tensors are put on ``device``."""
    folder = find_bundle(path_or_name)
    manifest = read_manifest(folder)
    device = torch.device(device)
    state_dicts: dict[str, dict[str, torch.Tensor]] = {}
    for module_name, filename in manifest["modules"].items():
        data = _read_verified(folder, filename, manifest["files"][filename])
        try:
            tensors = safetensors_from_bytes(data)
        except Exception as exc:  # safetensors raises its own error types for bad headers
            raise CheckpointError(f"not a valid safetensors file: {exc}", folder / filename) from None
        state_dicts[module_name] = {key: value.to(device) for key, value in tensors.items()}
    return ModelBundle(path=folder, manifest=manifest, state_dicts=state_dicts, device=device)


# -- registry -------------------------------------------------------------------------------


def packaged_models_dir() -> Path:
    """The shipped models folder: inside the installed package (wheel, desktop build) or the
    checkout's ``models/`` (:func:`foleystudio.core.shipped.shipped_dir`)."""
    return shipped_dir("models")


def user_models_dir() -> Path:
    """The user's models folder: ``$FOLEYSTUDIO_USER_DIR/models`` or ``~/.local/share/foleystudio/models``."""
    return user_dir() / "models"


def model_dirs() -> list[tuple[str, Path]]:
    """``(source, folder)`` pairs searched for bundles, by precedence (env, user, packaged)."""
    dirs: list[tuple[str, Path]] = []
    for entry in os.environ.get("FOLEYSTUDIO_MODELS", "").split(os.pathsep):
        if entry.strip():
            dirs.append(("env", Path(entry.strip()).expanduser()))
    dirs.append(("user", user_models_dir()))
    dirs.append(("packaged", packaged_models_dir()))
    return dirs


@dataclass(frozen=True)
class BundleInfo:
    """What the registry knows about one bundle folder (``error`` set when it is unusable)."""

    name: str
    path: Path
    source: str
    version: str = ""
    created: str = ""
    description: str = ""
    modules: tuple[str, ...] = ()
    size_bytes: int = 0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.path),
            "source": self.source,
            "version": self.version,
            "created": self.created,
            "description": self.description,
            "modules": list(self.modules),
            "size_bytes": self.size_bytes,
            "error": self.error,
        }


def bundle_info(folder: Path, source: str = "path") -> BundleInfo:
    """Registry entry for one folder (reads the manifest only; no checksums)."""
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file()) if folder.is_dir() else 0
    try:
        manifest = read_manifest(folder)
    except CheckpointError as exc:
        return BundleInfo(name=folder.name, path=folder, source=source, size_bytes=size, error=exc.problem)
    return BundleInfo(
        name=manifest["name"],
        path=folder,
        source=source,
        version=str(manifest.get("version", "")),
        created=str(manifest.get("created", "")),
        description=str(manifest.get("description", "")),
        modules=tuple(manifest["modules"]),
        size_bytes=size,
    )


def list_bundles() -> list[BundleInfo]:
    """Every bundle folder (a sub-folder with a manifest) in :func:`model_dirs`, by precedence."""
    found: list[BundleInfo] = []
    seen: set[Path] = set()
    for source, directory in model_dirs():
        if not directory.is_dir():
            continue
        for folder in sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith(".")):
            resolved = folder.resolve()
            if resolved in seen or not (folder / MANIFEST).exists():
                continue
            seen.add(resolved)
            found.append(bundle_info(folder, source))
    return found


def find_bundle(name_or_path: str | os.PathLike[str]) -> Path:
    """The folder of a bundle given by folder path or by manifest name (first in precedence)."""
    candidate = Path(name_or_path).expanduser()
    if (candidate / MANIFEST).exists():
        return candidate
    text = str(name_or_path)
    if candidate.is_absolute() or os.sep in text or (os.altsep and os.altsep in text) or text.startswith("."):
        if candidate.is_dir():
            raise CheckpointError(f"no {MANIFEST} in the bundle folder", candidate)
        raise CheckpointError("model bundle folder not found", candidate)
    bundles = list_bundles()
    for info in bundles:
        if info.name == text and info.error is None:
            return info.path
    for info in bundles:  # fall back to the folder name
        if info.path.name == text and info.error is None:
            return info.path
    known = ", ".join(sorted({b.name for b in bundles if b.error is None})) or "none installed"
    raise CheckpointError(f"no model bundle named '{text}' (known: {known})")


# -- pull -----------------------------------------------------------------------------------


def pull_bundle(
    url: str,
    sha256: str,
    dest: str | os.PathLike[str] | None = None,
    *,
    overwrite: bool = False,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> Path:
    """Download a bundle archive (.zip / .tar / .tar.gz), check its sha256, unpack it into ``dest``.

    ``dest`` defaults to the user's models folder; the bundle lands in ``dest/<manifest name>``.
    Nothing is left behind on a checksum mismatch, a bad archive, a failed download or a
    cancel. Only ``https``, ``http`` and ``file`` URLs are accepted.
    """
    scheme = urllib.parse.urlparse(url).scheme
    if scheme not in ("https", "http", "file"):
        raise UsageError(f"cannot pull from '{url}': only https, http and file URLs are supported")
    expected = sha256.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", expected):
        raise UsageError(f"'{sha256}' is not a sha256 (64 hex digits)")
    target_dir = Path(dest) if dest is not None else user_models_dir()
    target_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".pull-", dir=target_dir))
    try:
        archive = work / "download"
        _download(url, archive, expected, progress, cancel)
        unpacked = work / "unpacked"
        unpack_archive(archive, unpacked, url)
        folder = bundle_root(unpacked, url)
        manifest = verify_bundle(folder)
        if not BUNDLE_NAME.match(manifest["name"]):
            raise CheckpointError(f"bundle name '{manifest['name']}' is not a valid folder name", url)
        final = target_dir / manifest["name"]
        if final.exists() and not overwrite:
            raise CheckpointError(f"a bundle named '{manifest['name']}' is already installed", final)
        if cancel is not None:
            cancel.raise_if_cancelled()
        swap_in(folder, final)
        progress(1.0, f"installed {manifest['name']}")
        return final
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _download(
    url: str, path: Path, expected: str, progress: ProgressCallback, cancel: CancelToken | None
) -> None:
    digest = hashlib.sha256()
    total = done = 0
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(path, "wb") as out:  # noqa: S310 - scheme checked
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            for block in iter(lambda: response.read(_CHUNK), b""):
                if cancel is not None:
                    cancel.raise_if_cancelled()
                out.write(block)
                digest.update(block)
                done += len(block)
                if total:
                    progress(min(done / total, 1.0) * 0.9, f"downloading {done / 2**20:.1f} MiB")
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, (socket.gaierror, ConnectionRefusedError, TimeoutError)):
            host = urllib.parse.urlparse(url).hostname
            raise CheckpointError(f"cannot reach {host} (offline?): {exc.reason}", url) from None
        raise CheckpointError(f"download failed: {exc.reason}", url) from None
    except (OSError, http.client.HTTPException) as exc:  # reset or cut-off connection
        raise CheckpointError(f"download failed: {exc!r}", url) from None
    if total and done != total:
        raise CheckpointError(f"download cut off: {done} of {total} bytes received", url)
    if digest.hexdigest() != expected:
        raise CheckpointError(f"sha256 {digest.hexdigest()} does not match the expected {expected}", url)


def unpack_archive(archive: Path, folder: Path, url: str) -> None:
    """Unpack zip or tar ``archive`` into the new folder ``folder``; members may not leave it."""
    folder.mkdir()
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                resolved = (folder / member).resolve()
                if not resolved.is_relative_to(folder.resolve()):
                    raise CheckpointError(f"archive member '{member}' points outside the bundle", url)
            zf.extractall(folder)
        return
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            try:
                tf.extractall(folder, filter="data")
            except tarfile.FilterError as exc:
                raise CheckpointError(f"unsafe archive member: {exc}", url) from None
        return
    raise CheckpointError("the file is neither a zip nor a tar archive", url)


def bundle_root(folder: Path, url: str) -> Path:
    """The bundle inside an unpacked archive: ``folder`` itself or its single sub-folder."""
    if (folder / MANIFEST).exists():
        return folder
    children = [p for p in folder.iterdir() if not p.name.startswith(".")]
    if len(children) == 1 and (children[0] / MANIFEST).exists():
        return children[0]
    raise CheckpointError(f"archive has no {MANIFEST} at its top or in a single top folder", url)
