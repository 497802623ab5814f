"""The real-footage manifest and its extraction from git mirrors (no real clip is needed)."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from benchmarks.real_footage import MANIFEST, RealFootageError, clip_sets, extract, load_manifest, mirror_dir


def test_the_committed_manifest_names_both_sets_and_no_clip_is_committed():
    clips = load_manifest(MANIFEST)
    sets = {c.set for c in clips}
    assert sets == {"development", "held-out"}
    held_impact = [c for c in clips if c.set == "held-out" and c.impact]
    assert len(held_impact) >= 10
    assert all(len(c.sha256) == 64 and len(c.commit) == 40 for c in clips)
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=MANIFEST.parent.parent, capture_output=True, text=True, check=False
    ).stdout.split()
    videos = {Path(t).name for t in tracked if Path(t).suffix.lower() in {".mp4", ".mov", ".mkv", ".webm"}}
    assert not videos & {c.file_name for c in clips}
    assert not videos & {Path(c.path).name for c in clips}
    impact, by_set = clip_sets(clips)
    assert impact == {c.name for c in clips if c.impact} and set(by_set) == {"development", "held-out"}
    assert by_set["development"] | by_set["held-out"] == {c.name for c in clips}


def _mirror_with(tmp_path: Path, content: bytes) -> tuple[Path, str]:
    """A bare-bones git directory at ``<mirrors>/owner+name/repo`` holding clip.mp4; its commit."""
    mirrors = tmp_path / "mirrors"
    work = tmp_path / "work"
    work.mkdir()
    (work / "clip.mp4").write_bytes(content)
    git_dir = mirror_dir(mirrors, "owner/name")
    git_dir.parent.mkdir(parents=True)
    env = ["git", "-c", "user.name=t", "-c", "user.email=t@t", f"--git-dir={git_dir}", f"--work-tree={work}"]
    subprocess.run(["git", "init", "-q", "--bare", str(git_dir)], check=True)
    subprocess.run([*env, "add", "clip.mp4"], check=True)
    subprocess.run([*env, "commit", "-q", "-m", "clip"], check=True)
    commit = subprocess.run(
        [*env, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    return mirrors, commit


def _manifest(tmp_path: Path, commit: str, sha256: str) -> Path:
    path = tmp_path / "manifest.json"
    clip = {"name": "hit", "repo": "owner/name", "commit": commit, "path": "clip.mp4", "sha256": sha256}
    path.write_text(json.dumps({"clips": [{**clip, "set": "held-out", "impact": True}]}))
    return path


def test_extract_checks_the_sha256_and_writes_nothing_on_a_mismatch(tmp_path):
    content = b"not really a video"
    mirrors, commit = _mirror_with(tmp_path, content)
    good = load_manifest(_manifest(tmp_path, commit, hashlib.sha256(content).hexdigest()))
    out = tmp_path / "clips"
    [written] = extract(good, mirrors, out)
    assert written == out / "hit.mp4" and written.read_bytes() == content
    written.unlink()
    bad = load_manifest(_manifest(tmp_path, commit, "0" * 64))
    with pytest.raises(RealFootageError, match="sha256"):
        extract(bad, mirrors, out)
    assert list(out.iterdir()) == []
    with pytest.raises(RealFootageError, match="fetch github:owner/name"):
        extract(good, tmp_path / "elsewhere", out)


def test_a_bad_manifest_is_a_clear_error(tmp_path):
    path = tmp_path / "m.json"
    path.write_text('{"clips": [{"name": "a"}]}')
    with pytest.raises(RealFootageError, match="m.json"):
        load_manifest(path)
    path.write_text(
        json.dumps(
            {
                "clips": [
                    {
                        "name": "a",
                        "repo": "o/n",
                        "commit": "c",
                        "path": "p",
                        "sha256": "s",
                        "set": "x",
                        "impact": 1,
                    }
                ]
            }
        )
    )
    with pytest.raises(RealFootageError, match="set must be"):
        load_manifest(path)
