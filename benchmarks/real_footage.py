"""The real-footage measurement set: public clips with recorded sound, named, never copied.

``benchmarks/real_footage.json`` lists each clip by repository, commit, path and sha256, with
its set (``development``: the event detector's parameters were chosen on these;
``held-out``: never used to choose anything) and whether its sounds are visible impacts.
The licences of these clips are unknown, so they are never committed and no test needs them.

Run ``python benchmarks/real_footage.py --mirrors DIR --out FOLDER`` after bringing each
repository's git directory to ``DIR/<owner>+<name>/repo`` (the session tool ``fetch`` does
exactly this). Each clip is read from its commit with ``git cat-file``, checked against its
sha256 and written as ``FOLDER/<name>.mp4`` (a new name, then renamed, so a failed run leaves
no half-written clip). ``benchmarks/real_events.py FOLDER --manifest`` then measures them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

MANIFEST = Path(__file__).resolve().parent / "real_footage.json"
SETS = ("development", "held-out")


class RealFootageError(Exception):
    """A manifest or extraction problem, with the file it concerns."""


@dataclass(frozen=True)
class RealClip:
    """One clip of the manifest: where it lives and what it is."""

    name: str
    repo: str
    commit: str
    path: str
    sha256: str
    set: str
    impact: bool
    what: str

    @property
    def file_name(self) -> str:
        return f"{self.name}{Path(self.path).suffix.lower() or '.mp4'}"


def load_manifest(path: Path = MANIFEST) -> list[RealClip]:
    """The clips of a manifest file; raises ``RealFootageError`` naming the file and problem."""
    try:
        data = json.loads(Path(path).read_text())
        clips = [
            RealClip(
                name=str(c["name"]),
                repo=str(c["repo"]),
                commit=str(c["commit"]),
                path=str(c["path"]),
                sha256=str(c["sha256"]).lower(),
                set=str(c["set"]),
                impact=bool(c["impact"]),
                what=str(c.get("what", "")),
            )
            for c in data["clips"]
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RealFootageError(f"{path}: not a real-footage manifest ({exc})") from exc
    for clip in clips:
        if clip.set not in SETS:
            raise RealFootageError(f"{path}: clip {clip.name}: set must be one of {SETS}, got {clip.set!r}")
        if "/" in clip.name or clip.name.startswith("."):
            raise RealFootageError(f"{path}: clip name {clip.name!r} is not a plain file name")
    names = [c.name for c in clips]
    if len(set(names)) != len(names):
        raise RealFootageError(f"{path}: clip names repeat")
    return clips


def clip_sets(clips: list[RealClip]) -> tuple[set[str], dict[str, set[str]]]:
    """The names of the clips with visible impacts, and the clip names of each set."""
    sets = {name: {c.name for c in clips if c.set == name} for name in sorted({c.set for c in clips})}
    return {c.name for c in clips if c.impact}, sets


def mirror_dir(mirrors: Path, repo: str) -> Path:
    """Where ``fetch`` puts ``owner/name``'s git directory under ``mirrors``."""
    return Path(mirrors) / repo.replace("/", "+") / "repo"


def extract(clips: list[RealClip], mirrors: Path, out: Path) -> list[Path]:
    """Write each clip from its mirror into ``out``, checked against its sha256.

    A clip already there with the right sha256 is kept as it is. Raises ``RealFootageError``
    for a missing mirror, commit or path, or a sha256 mismatch (nothing is written then).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for clip in clips:
        target = out / clip.file_name
        if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == clip.sha256:
            written.append(target)
            continue
        git_dir = mirror_dir(mirrors, clip.repo)
        if not git_dir.is_dir():
            raise RealFootageError(f"{git_dir}: no mirror of {clip.repo} (fetch github:{clip.repo} first)")
        result = subprocess.run(
            ["git", f"--git-dir={git_dir}", "cat-file", "-p", f"{clip.commit}:{clip.path}"],
            capture_output=True,
            check=False,
        )
        if result.returncode != 0:
            problem = result.stderr.decode(errors="replace").strip()
            raise RealFootageError(f"{git_dir}: {clip.commit[:12]}:{clip.path}: {problem}")
        digest = hashlib.sha256(result.stdout).hexdigest()
        if digest != clip.sha256:
            raise RealFootageError(
                f"{git_dir}: {clip.path}: sha256 {digest[:12]}… is not the manifest's {clip.sha256[:12]}…"
            )
        partial = target.with_name(f".{target.name}.partial")
        partial.write_bytes(result.stdout)
        partial.replace(target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirrors", required=True, help="folder holding <owner>+<name>/repo git directories")
    parser.add_argument(
        "--out", required=True, help="folder the clips are written to (not in the repository)"
    )
    parser.add_argument("--manifest", default=str(MANIFEST))
    args = parser.parse_args(argv)
    try:
        paths = extract(load_manifest(Path(args.manifest)), Path(args.mirrors), Path(args.out))
    except RealFootageError as exc:
        print(f"real footage: error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(paths)} clips in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
