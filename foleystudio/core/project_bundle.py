"""Project bundles on disk: ``NAME.foley/`` holding the document and its renders.

Layout::

    NAME.foley/
      project.json      the document (core/project.py JSON, schema versioned)
      autosave.json     the latest autosave, present only while there are unsaved edits
      renders/          immutable, content-named render files (<sha256 prefix>.wav)
      backups/          the last few previous project.json versions
      cache/            rebuildable files: scrubbing proxies (core/proxy.py), playback
                        audio at the engine rate (core/playback_stream.py); never saved

Decisions (docs/architecture.md §11 is the rule; these are the details):

* Every write is atomic (temp file in the same folder, fsync, ``os.replace``), so a crash
  or a full disk leaves the previous file complete.
* Before project.json is replaced, its previous content is copied to
  ``backups/project-<counter>-<UTC timestamp>.json`` (skipped when unchanged); the newest
  :data:`BACKUP_COUNT` are kept. The counter, not the clock, orders them.
* Media paths (video, renders, audio prompts) are stored relative to the bundle folder
  (``/`` separators) so a bundle moved together with its media still opens; a path on
  another drive stays absolute. The absolute path at save time is kept too
  (``absolute_paths``) and used when the relative one no longer resolves but the
  absolute one does, so a bundle moved *without* its media opens as well.
* Saving clears the autosave; recovery is offered when autosave.json is newer than
  project.json and differs from it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import time
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from foleystudio.core.atomicfile import atomic_write_bytes
from foleystudio.core.audio import save_audio
from foleystudio.core.media import MediaInfo, probe
from foleystudio.core.paths import user_dir
from foleystudio.core.project import Project
from foleystudio.core.sources import AudioSource
from foleystudio.errors import AudioFileError, ProjectError

BUNDLE_SUFFIX = ".foley"
PROJECT_FILE = "project.json"
AUTOSAVE_FILE = "autosave.json"
RENDERS_DIR = "renders"
BACKUPS_DIR = "backups"
CACHE_DIR = "cache"
#: How many previous versions of project.json are kept in backups/.
BACKUP_COUNT = 5
#: Hex digits of the sha256 used to name a render file (64 bits: collisions are negligible).
RENDER_HASH_CHARS = 16

_BACKUP_NAME = re.compile(r"^project-(\d+)-[0-9TZ]+\.json$")


# --- saving and loading ------------------------------------------------------------------
def save_project(
    project: Project, bundle_dir: str | os.PathLike[str], keep_backups: int = BACKUP_COUNT
) -> Path:
    """Write ``project`` to ``bundle_dir/project.json`` atomically; returns that file's path.

    Creates the bundle, ``renders/`` and ``backups/`` as needed, rotates backups and
    removes the autosave. Raises :class:`ProjectError` naming the file when it cannot be
    written; the previous project.json is then untouched.
    """
    bundle = bundle_folder(bundle_dir)
    target = bundle / PROJECT_FILE
    text = _encode(project, bundle)
    backup: Path | None = None
    try:
        bundle.mkdir(parents=True, exist_ok=True)
        (bundle / RENDERS_DIR).mkdir(exist_ok=True)
        backups = bundle / BACKUPS_DIR
        backups.mkdir(exist_ok=True)
        previous = target.read_bytes() if target.is_file() else None
        if previous is not None and previous != text:
            backup = backups / _next_backup_name(backups)
            atomic_write_bytes(backup, previous)
        atomic_write_bytes(target, text)
    except OSError as exc:
        if backup is not None:  # the save did not happen: leave the backups as they were
            with contextlib.suppress(OSError):
                backup.unlink()
        raise ProjectError(f"cannot save project: {exc.strerror or exc}", target) from exc
    _prune_backups(bundle / BACKUPS_DIR, keep_backups)
    discard_recovery(bundle)
    return target


def load_project(path: str | os.PathLike[str]) -> Project:
    """Read a bundle (its folder, its project.json, or one of its backups/autosave files).

    Stored relative paths are resolved against the bundle. Raises :class:`ProjectError`
    naming the file for a missing file, malformed JSON, a non-project file or a newer schema.
    """
    file, bundle = _project_file(path)
    try:
        return _decode(file, bundle)
    except ProjectError as exc:
        if file.parent.name == BACKUPS_DIR or not file.exists():
            raise
        good = _newest_good_backup(bundle)
        if good is None:
            raise
        hint = (
            f"; the newest good backup is {good} (open it with `foleystudio gui {good}`, "
            f"or copy it over {file.name} to restore it)"
        )
        raise ProjectError(exc.problem + hint, exc.path) from exc


def _newest_good_backup(bundle: Path) -> Path | None:
    """The newest file in ``backups/`` that loads, or None."""
    for backup in reversed(list_backups(bundle)):
        try:
            _decode(backup, bundle)
        except ProjectError:
            continue
        return backup
    return None


def bundle_folder(path: str | os.PathLike[str]) -> Path:
    """The absolute bundle folder for a bundle path or a file inside it (project.json, …)."""
    path = Path(path).expanduser().absolute()
    if path.name in (PROJECT_FILE, AUTOSAVE_FILE):
        return path.parent
    return path


def cache_folder(bundle_dir: str | os.PathLike[str] | None) -> Path:
    """Where rebuildable files of a project live: the bundle's ``cache/``, or
    ``user_dir()/cache`` without a bundle. Not created here; everything in it can be deleted."""
    if bundle_dir is None:
        return user_dir() / CACHE_DIR
    return bundle_folder(bundle_dir) / CACHE_DIR


def new_bundle(
    path: str | os.PathLike[str],
    video: str | os.PathLike[str] | None = None,
    info: MediaInfo | None = None,
) -> tuple[Project, Path]:
    """Create and save an empty project in ``path`` (``.foley`` is appended if missing).

    The project is named after the folder. With ``video`` it is stored as an absolute path
    and the project takes the video's frame rate, duration and start timecode from ``info``
    (its probe; probed here when not given). Raises :class:`ProjectError` if a project
    already exists there.
    """
    bundle = Path(path).expanduser().absolute()
    if bundle.suffix != BUNDLE_SUFFIX:
        bundle = bundle.with_name(bundle.name + BUNDLE_SUFFIX)
    if (bundle / PROJECT_FILE).exists():
        raise ProjectError("a project already exists here", bundle)
    if bundle.exists() and not bundle.is_dir():
        raise ProjectError("exists and is not a folder", bundle)
    project = Project(name=bundle.stem)
    if video is not None:
        project.video = str(Path(video).expanduser().absolute())
        info = info if info is not None else probe(project.video)
        project.fps = info.fps or project.fps
        project.duration = info.duration
        project.start_timecode = info.start_timecode
    save_project(project, bundle)
    return project, bundle


def list_backups(bundle_dir: str | os.PathLike[str]) -> list[Path]:
    """The backup files of a bundle, oldest first."""
    backups = bundle_folder(bundle_dir) / BACKUPS_DIR
    if not backups.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in backups.iterdir() if (m := _BACKUP_NAME.match(p.name))]
    return [p for _, p in sorted(found)]


# --- autosave and recovery ---------------------------------------------------------------
def write_autosave(project: Project, bundle_dir: str | os.PathLike[str]) -> Path:
    """Write ``project`` to ``autosave.json`` atomically (project.json is not touched)."""
    bundle = bundle_folder(bundle_dir)
    target = bundle / AUTOSAVE_FILE
    try:
        bundle.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, _encode(project, bundle))
    except OSError as exc:
        raise ProjectError(f"cannot write autosave: {exc.strerror or exc}", target) from exc
    return target


def has_recovery(bundle_dir: str | os.PathLike[str]) -> bool:
    """Whether an autosave holds edits newer than project.json (i.e. the app did not save)."""
    bundle = bundle_folder(bundle_dir)
    autosave, saved = bundle / AUTOSAVE_FILE, bundle / PROJECT_FILE
    try:
        auto_stat = autosave.stat()
    except OSError:
        return False
    try:
        saved_stat = saved.stat()
    except OSError:
        return True
    if auto_stat.st_mtime_ns < saved_stat.st_mtime_ns:
        return False
    try:
        return autosave.read_bytes() != saved.read_bytes()
    except OSError:
        return True


def load_recovery(bundle_dir: str | os.PathLike[str]) -> Project:
    """The project as autosaved; raises :class:`ProjectError` if there is none or it is bad."""
    bundle = bundle_folder(bundle_dir)
    return _decode(bundle / AUTOSAVE_FILE, bundle)


def discard_recovery(bundle_dir: str | os.PathLike[str]) -> None:
    """Delete the autosave (after a save, or when the user declines recovery)."""
    with contextlib.suppress(FileNotFoundError):
        (bundle_folder(bundle_dir) / AUTOSAVE_FILE).unlink()


# --- renders -----------------------------------------------------------------------------
def render_path(
    bundle_dir: str | os.PathLike[str],
    content: bytes | np.ndarray,
    suffix: str = ".wav",
    sample_rate: int | None = None,
) -> Path:
    """Where content-named render ``content`` lives: ``renders/<sha256 prefix><suffix>``.

    For an array the hash covers the float32 samples, their shape and ``sample_rate``, so
    the same samples at another rate get another name.
    """
    digest = hashlib.sha256()
    if isinstance(content, np.ndarray):
        data = np.ascontiguousarray(content, dtype=np.float32)
        digest.update(f"float32{data.shape}@{sample_rate}".encode())
        digest.update(data.tobytes())
    else:
        digest.update(bytes(content))
    return bundle_folder(bundle_dir) / RENDERS_DIR / f"{digest.hexdigest()[:RENDER_HASH_CHARS]}{suffix}"


def store_render(bundle_dir: str | os.PathLike[str], audio: np.ndarray, sample_rate: int) -> Path:
    """Write ``audio`` as an immutable 32-bit float WAV in ``renders/`` and return its path.

    The name comes from the content, so storing the same audio twice writes once.
    """
    path = render_path(bundle_dir, audio, ".wav", sample_rate)
    if path.is_file():
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AudioFileError(f"cannot create renders folder: {exc.strerror or exc}", path.parent) from exc
    return save_audio(path, audio, sample_rate, subtype="FLOAT")


# --- missing media -----------------------------------------------------------------------
def media_paths(project: Project) -> list[str]:
    """Every media file the project refers to (video, clip renders, audio prompts), in order."""
    paths: list[str] = []
    if project.video:
        paths.append(project.video)
    paths.extend(clip.render for track in project.tracks for clip in track.clips)
    paths.extend(s.path for s in project.sources if isinstance(s, AudioSource))
    return list(dict.fromkeys(paths))


def missing_media(project: Project) -> list[str]:
    """The media paths that do not exist on disk (each once), for the relink dialog."""
    return [p for p in media_paths(project) if not os.path.isfile(p)]


def relink(project: Project, old_path: str | os.PathLike[str], new_path: str | os.PathLike[str]) -> int:
    """Point every reference to ``old_path`` at ``new_path``; returns how many changed.

    Edits the project in place (not an undoable command: relinking fixes the environment,
    not the document's content).
    """
    old = os.path.normpath(os.path.abspath(old_path))
    new = os.path.normpath(os.path.abspath(new_path))
    count = 0

    def same(path: str | None) -> bool:
        return path is not None and os.path.normpath(os.path.abspath(path)) == old

    if same(project.video):
        project.video = new
        count += 1
    for track in project.tracks:
        for clip in track.clips:
            if same(clip.render):
                clip.render = new
                count += 1
    for i, source in enumerate(project.sources):
        if isinstance(source, AudioSource) and same(source.path):
            project.sources[i] = dataclasses.replace(source, path=new)
            count += 1
    return count


def relink_folder(project: Project, folder: str | os.PathLike[str]) -> int:
    """Find each missing file by name under ``folder`` (recursively) and relink it.

    An exact name match wins over a case-insensitive one, a shallower file over a deeper
    one, then alphabetical order. Returns how many references were relinked.
    """
    missing = missing_media(project)
    if not missing:
        return 0
    root = Path(folder).expanduser().absolute()
    if not root.is_dir():
        raise ProjectError("relink folder not found", root)
    exact: dict[str, str] = {}
    folded: dict[str, str] = {}
    for dirpath, dirnames, filenames in sorted(os.walk(root), key=lambda w: (w[0].count(os.sep), w[0])):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            exact.setdefault(name, full)
            folded.setdefault(name.casefold(), full)
    count = 0
    for path in missing:
        name = os.path.basename(path)
        found = exact.get(name) or folded.get(name.casefold())
        if found is not None:
            count += relink(project, path, found)
    return count


# --- internals ---------------------------------------------------------------------------
def _project_file(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``(json file, bundle folder)`` for a bundle folder or a JSON file in/under it."""
    path = Path(path).expanduser().absolute()
    if path.is_dir():
        file = path / PROJECT_FILE
        if not file.exists():
            raise ProjectError(f"not a FoleyStudio project bundle (no {PROJECT_FILE})", path)
        return file, path
    if path.parent.name == BACKUPS_DIR:  # a backup: its paths are relative to the bundle
        return path, path.parent.parent
    return path, path.parent


def _encode(project: Project, bundle: Path) -> bytes:
    """The JSON bytes for ``project`` with media paths relative to ``bundle``."""
    absolute: dict[str, str] = {}

    def rel(path: str) -> str:
        stored = _relative(path, bundle)
        if stored != path:
            absolute[stored] = os.path.normpath(os.path.abspath(path))
        return stored

    data = project.to_dict(relpath=rel)
    data["absolute_paths"] = absolute
    try:
        text = json.dumps(data, indent=2, ensure_ascii=False)
    except (TypeError, ValueError) as exc:  # e.g. a non-JSON value slipped into provenance
        raise ProjectError(f"cannot save project: {exc}", bundle / PROJECT_FILE) from exc
    return (text + "\n").encode("utf-8")


def _decode(file: Path, bundle: Path) -> Project:
    try:
        raw = file.read_bytes()
    except FileNotFoundError as exc:
        raise ProjectError("project file not found", file) from exc
    except IsADirectoryError as exc:
        raise ProjectError("is a folder, not a project file", file) from exc
    except OSError as exc:
        raise ProjectError(f"cannot read project file: {exc.strerror or exc}", file) from exc
    if not raw.strip():
        raise ProjectError("project file is empty", file)
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ProjectError("project file is not UTF-8 text", file) from exc
    except json.JSONDecodeError as exc:
        raise ProjectError(
            f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", file
        ) from exc
    hints = data.get("absolute_paths") if isinstance(data, dict) else None
    hints = hints if isinstance(hints, dict) else {}

    def absolute(stored: Any) -> str:
        if not isinstance(stored, str) or not stored:
            raise ValueError(f"bad media path {stored!r}")
        if os.path.isabs(stored):
            return os.path.normpath(stored)
        resolved = os.path.normpath(os.path.join(bundle, *PurePosixPath(stored).parts))
        fallback = hints.get(stored)
        if not os.path.exists(resolved) and isinstance(fallback, str) and os.path.exists(fallback):
            return fallback
        return resolved

    return Project.from_dict(data, abspath=absolute, path=str(file))


def _relative(path: str, bundle: Path) -> str:
    """``path`` relative to ``bundle`` with ``/`` separators, or absolute across drives."""
    absolute = os.path.normpath(os.path.abspath(path))
    try:
        relative = os.path.relpath(absolute, bundle)
    except ValueError:  # another drive on Windows
        return absolute
    return Path(relative).as_posix()


def _next_backup_name(backups: Path) -> str:
    existing = [int(m.group(1)) for p in backups.iterdir() if (m := _BACKUP_NAME.match(p.name))]
    counter = max(existing, default=0) + 1
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return f"project-{counter:06d}-{stamp}.json"


def _prune_backups(backups: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` backups (failures are ignored: the save succeeded)."""
    existing = list_backups(backups.parent)
    for old in existing[:-keep] if keep > 0 else existing:
        with contextlib.suppress(OSError):
            old.unlink()
