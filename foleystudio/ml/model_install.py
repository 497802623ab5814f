"""Installing and removing model bundles: from a folder, an archive or a Hugging Face repository.

Every install stages the bundle in a hidden folder inside the destination models folder,
checks every file's sha256 against the bundle's manifest (:func:`verify_bundle`), and only
then moves it into place in one rename. A tampered or incomplete bundle is refused and
nothing of it is left (docs/architecture.md §11). Removal renames the bundle to a hidden
folder first, so a bundle is either listed whole or not at all.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from foleystudio.core.jobs import CancelToken, ProgressCallback, no_progress
from foleystudio.core.paths import user_dir
from foleystudio.errors import CheckpointError, UsageError
from foleystudio.ml.model_bundle import (
    BUNDLE_NAME,
    MANIFEST,
    BundleInfo,
    bundle_root,
    list_bundles,
    swap_in,
    unpack_archive,
    user_models_dir,
    verify_bundle,
)

#: ``owner/name`` or ``owner/name@revision``, as on the Hugging Face Hub.
HUB_REPO = re.compile(r"^(?:hf:)?([A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*)(?:@([\w./-]+))?$")


def user_cache_dir() -> Path:
    """Downloads kept between tries (complete files are not fetched again): ``<user dir>/cache``."""
    return user_dir() / "cache"


def _stage_folder(source: Path, staging: Path) -> Path:
    """Copy the plain files of bundle folder ``source`` (links followed) into ``staging``."""
    staging.mkdir()
    for path in sorted(source.iterdir()):
        if path.is_file() and not path.name.startswith("."):
            shutil.copy2(path, staging / path.name)
    return staging


def import_bundle(
    source: str | os.PathLike[str],
    dest: str | os.PathLike[str] | None = None,
    *,
    overwrite: bool = False,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> Path:
    """Install the bundle folder or archive (.zip, .tar, .tar.gz) ``source`` into ``dest``.

    ``dest`` defaults to the user's models folder; the bundle lands in ``dest/<manifest
    name>``. The staged copy is verified before it is moved into place; on any failure
    nothing is left in ``dest``.
    """
    path = Path(source).expanduser()
    if not path.exists():
        raise CheckpointError("no such model bundle folder or archive", path)
    target_dir = Path(dest) if dest is not None else user_models_dir()
    target_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".import-", dir=target_dir))
    try:
        progress(0.0, f"staging {path.name}")
        if path.is_dir():
            if not (path / MANIFEST).is_file():
                raise CheckpointError(f"no {MANIFEST} in the bundle folder", path)
            staged = _stage_folder(path, work / "bundle")
        else:
            unpack_archive(path, work / "unpacked", str(path))
            staged = bundle_root(work / "unpacked", str(path))
        if cancel is not None:
            cancel.raise_if_cancelled()
        progress(0.5, "checking sha256 of every file")
        try:
            manifest = verify_bundle(staged)
        except CheckpointError as exc:
            # Name the file the user gave, not the hidden staging copy.
            where = Path(exc.path).name if exc.path else ""
            raise CheckpointError(
                f"{where + ': ' if where else ''}{exc.problem}; nothing installed", path
            ) from None
        name = manifest["name"]
        if not BUNDLE_NAME.match(name):
            raise CheckpointError(f"bundle name '{name}' is not a valid folder name", path)
        final = target_dir / name
        if final.exists() and not overwrite:
            raise CheckpointError(f"a bundle named '{name}' is already installed (use --overwrite)", final)
        if cancel is not None:
            cancel.raise_if_cancelled()
        swap_in(staged, final)
        progress(1.0, f"installed {name}")
        return final
    finally:
        shutil.rmtree(work, ignore_errors=True)


def remove_bundle(name: str) -> BundleInfo:
    """Remove the installed bundle ``name`` (the one in use: first by precedence); returns what it was.

    The bundles shipped with FoleyStudio are refused: they belong to the installation.
    """
    matches = [b for b in list_bundles() if b.name == name] or [
        b for b in list_bundles() if b.path.name == name
    ]
    if not matches:
        known = ", ".join(sorted({b.name for b in list_bundles() if b.source != "packaged"})) or "none"
        raise UsageError(f"no installed model bundle named '{name}' (removable: {known})")
    info = matches[0]
    if info.source == "packaged":
        raise UsageError(
            f"'{name}' is the model shipped with FoleyStudio ({info.path}); it cannot be removed"
        )
    folder = info.path
    trash = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".removing", dir=folder.parent))
    trash.rmdir()
    try:
        os.replace(folder, trash)  # one rename: the bundle disappears whole
    except OSError as exc:
        raise CheckpointError(f"cannot remove the bundle: {exc.strerror or exc}", folder) from None
    shutil.rmtree(trash, ignore_errors=True)
    return info


def parse_hub_repo(text: str) -> tuple[str, str | None] | None:
    """``(repo_id, revision)`` when ``text`` names a Hugging Face repository, else None."""
    if "://" in text or Path(text).expanduser().exists():
        return None
    match = HUB_REPO.match(text)
    return (match.group(1), match.group(2)) if match else None


@contextlib.contextmanager
def _quiet_hub() -> Iterator[None]:
    """Silence huggingface_hub's retry warnings (the error is reported once, by us) and its
    progress bars where nobody watches them (stderr not a terminal)."""
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    logger = logging.getLogger("huggingface_hub")
    level = logger.level
    bars_were_off = are_progress_bars_disabled()
    logger.setLevel(logging.ERROR)
    if not sys.stderr.isatty():
        disable_progress_bars()
    try:
        yield
    finally:
        logger.setLevel(level)
        if not bars_were_off:
            enable_progress_bars()


def pull_from_hub(
    repo_id: str,
    revision: str | None = None,
    dest: str | os.PathLike[str] | None = None,
    *,
    overwrite: bool = False,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> Path:
    """Download a bundle from a Hugging Face repository and install it like :func:`import_bundle`.

    Files are fetched with ``huggingface_hub`` into the user's cache folder. A cut-off
    transfer is resumed where it stopped (HTTP Range, a few tries) within the call; files
    already complete stay cached, so a later try fetches only the rest. ``HF_ENDPOINT`` picks
    another server and ``HF_HUB_OFFLINE=1`` forbids the network. A snapshot that fails its
    checksums is deleted from the cache so that the next try downloads it again.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )
    from huggingface_hub.file_download import repo_folder_name

    where = f"hf:{repo_id}" + (f"@{revision}" if revision else "")
    cache = user_cache_dir() / "huggingface"
    progress(0.0, f"downloading {where}")
    try:
        with _quiet_hub():
            snapshot = Path(
                snapshot_download(
                    repo_id=repo_id,
                    revision=revision,
                    cache_dir=cache,
                    endpoint=os.environ.get("HF_ENDPOINT") or None,
                )
            )
    except RevisionNotFoundError:
        raise CheckpointError(f"revision '{revision}' not found in the repository", where) from None
    except RepositoryNotFoundError:
        raise CheckpointError("no such repository on the hub (or it is private)", where) from None
    except LocalEntryNotFoundError:
        # huggingface_hub falls back to the cache when it cannot connect; nothing cached here.
        offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
        reason = "HF_HUB_OFFLINE is set" if offline else "the hub cannot be reached (offline?)"
        raise CheckpointError(
            f"cannot download: {reason} and the bundle is not in the cache", where
        ) from None
    except HfHubHTTPError as exc:
        raise CheckpointError(f"download failed: {str(exc).splitlines()[0]}", where) from None
    except Exception as exc:  # noqa: BLE001 - the hub's transport errors (httpx, httpx2, requests by version)
        # A reset or cut-off transfer ends here once huggingface_hub's own resumed tries failed.
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"download failed: {text}; nothing installed", where) from None
    if cancel is not None:
        cancel.raise_if_cancelled()
    try:
        return import_bundle(snapshot, dest, overwrite=overwrite, progress=progress, cancel=cancel)
    except CheckpointError as exc:
        if "sha256" in exc.problem or "missing" in exc.problem:
            shutil.rmtree(cache / repo_folder_name(repo_id=repo_id, repo_type="model"), ignore_errors=True)
        raise CheckpointError(exc.problem, where) from None
