"""``models import / remove / pull``: staged, verified, all or nothing; a loopback hub and web server."""

from __future__ import annotations

import hashlib
import http.server
import json
import shutil
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from foleystudio.cli import main
from foleystudio.errors import CheckpointError, UsageError
from foleystudio.ml.model_bundle import find_bundle, list_bundles, load_bundle, save_bundle
from foleystudio.ml.model_install import import_bundle, parse_hub_repo, pull_from_hub, remove_bundle

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated user folder (whose models/ is returned) and a packaged folder with one bundle."""
    import foleystudio.ml.model_bundle as checkpoints

    monkeypatch.delenv("FOLEYSTUDIO_MODELS", raising=False)
    monkeypatch.setenv("FOLEYSTUDIO_USER_DIR", str(tmp_path / "user"))
    packaged = tmp_path / "packaged"
    small_bundle(packaged, "shipped-model")
    monkeypatch.setattr(checkpoints, "packaged_models_dir", lambda: packaged)
    return tmp_path / "user" / "models"


def small_bundle(folder: Path, name: str = "small-model") -> Path:
    """A bundle of two tiny modules (no network needed to build it)."""
    import torch

    return save_bundle(
        folder / name,
        name,
        {"a": {"w": torch.arange(8.0)}, "b": {"w": torch.ones(3, 3)}},
        {"codec": {"kind": "test"}},
        description="install test",
    )


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# -- import ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["folder", "zip", "tar.gz"])
def test_import_installs_a_verified_bundle(env: Path, tmp_path: Path, kind: str) -> None:
    source = small_bundle(tmp_path / "src")
    if kind == "zip":
        path = tmp_path / "b.zip"
        with zipfile.ZipFile(path, "w") as zf:
            for f in source.iterdir():
                zf.write(f, f"{source.name}/{f.name}")
    elif kind == "tar.gz":
        path = tmp_path / "b.tar.gz"
        with tarfile.open(path, "w:gz") as tf:
            tf.add(source, arcname="anything")
    else:
        path = source
    installed = import_bundle(path)
    assert installed == env / "small-model"
    assert load_bundle("small-model").name == "small-model"
    assert leftovers(env) == ["small-model"]  # no staging folder left
    with pytest.raises(CheckpointError, match="already installed"):
        import_bundle(path)
    assert import_bundle(path, overwrite=True) == installed


def test_import_refuses_tampered_and_incomplete_bundles(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tampered = small_bundle(tmp_path / "t")
    (tampered / "a.safetensors").write_bytes((tampered / "a.safetensors").read_bytes()[:-1] + b"\x00")
    assert main(["models", "import", str(tampered)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "a.safetensors: sha256 does not match" in err and "nothing installed" in err
    assert leftovers(env) == []

    incomplete = small_bundle(tmp_path / "i")
    (incomplete / "b.safetensors").unlink()
    archive = tmp_path / "incomplete.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(incomplete, arcname="incomplete")
    assert main(["models", "import", str(archive)]) == 2
    err = capsys.readouterr().err.strip()
    assert str(archive) in err and "missing" in err and len(err.splitlines()) == 1
    assert leftovers(env) == []

    assert main(["models", "import", str(tmp_path / "absent")]) == 2
    assert "no such model bundle folder or archive" in capsys.readouterr().err
    not_archive = tmp_path / "notes.txt"
    not_archive.write_text("hello")
    assert main(["models", "import", str(not_archive)]) == 2
    assert "neither a zip nor a tar" in capsys.readouterr().err
    assert leftovers(env) == []


# -- remove ---------------------------------------------------------------------------------


def test_remove_deletes_an_installed_bundle_but_not_the_shipped_one(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import_bundle(small_bundle(tmp_path / "src"))
    capsys.readouterr()
    assert main(["models", "remove", "small-model"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("removed small-model 1.0.0") and str(env / "small-model") in out
    assert leftovers(env) == []
    assert [b.name for b in list_bundles()] == ["shipped-model"]

    assert main(["models", "remove", "shipped-model"]) == 2
    err = capsys.readouterr().err.strip()
    assert "shipped with FoleyStudio" in err and len(err.splitlines()) == 1
    assert find_bundle("shipped-model").is_dir()
    assert main(["models", "remove", "nope"]) == 2
    assert "no installed model bundle named 'nope'" in capsys.readouterr().err

    # A user copy shadowing the shipped one: removing it falls back to the shipped one.
    import_bundle(small_bundle(tmp_path / "copy", "shipped-model"))
    assert main(["models", "remove", "shipped-model"]) == 0
    assert "now resolves to" in capsys.readouterr().out
    with pytest.raises(UsageError):
        remove_bundle("shipped-model")


# -- pull from a hub repository or a URL, against loopback servers ----------------------------


class FakeHub:
    """A loopback server speaking the part of the Hugging Face Hub API that downloads use."""

    def __init__(self, repo_id: str, files: dict[str, bytes]) -> None:
        self.repo_id = repo_id
        self.files = dict(files)
        self.corrupt: str | None = None  # serve this file with one byte changed
        self.truncate: str | None = None  # announce the full size, send half, hang up ...
        self.truncate_times = 1000  # ... on this many requests for the file
        self.ranges: list[str] = []
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                hub.answer(self, body=False)

            def do_GET(self) -> None:
                hub.answer(self, body=True)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _json(self, handler: http.server.BaseHTTPRequestHandler, data: object) -> None:
        body = json.dumps(data).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def answer(self, handler: http.server.BaseHTTPRequestHandler, body: bool) -> None:
        path = handler.path.split("?")[0]
        api = f"/api/models/{self.repo_id}"
        if path.startswith(f"{api}/revision/"):
            siblings = [{"rfilename": name} for name in self.files]
            return self._json(handler, {"id": self.repo_id, "sha": COMMIT, "siblings": siblings})
        if path.startswith(f"{api}/tree/"):
            entries = [
                {"type": "file", "path": n, "size": len(d), "oid": hashlib.sha1(d).hexdigest()}
                for n, d in self.files.items()
            ]
            return self._json(handler, entries)
        prefix = f"/{self.repo_id}/resolve/"
        name = path[len(prefix) :].split("/", 1)[-1] if path.startswith(prefix) else None
        if name not in self.files:
            handler.send_response(404)
            handler.send_header("Content-Length", "0")
            handler.send_header("X-Error-Code", "EntryNotFound")
            handler.end_headers()
            return None
        data = self.files[name]
        if name == self.corrupt:
            data = data[:-1] + bytes([data[-1] ^ 0xFF])
        start = 0
        if body and handler.headers.get("Range"):
            self.ranges.append(f"{name}:{handler.headers['Range']}")
            start = int(handler.headers["Range"].removeprefix("bytes=").split("-")[0])
        handler.send_response(206 if start else 200)
        handler.send_header("X-Repo-Commit", COMMIT)
        handler.send_header("ETag", f'"{hashlib.sha256(self.files[name]).hexdigest()}"')
        handler.send_header("Accept-Ranges", "bytes")
        handler.send_header("Content-Length", str(len(data) - start))
        if start:
            handler.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        handler.end_headers()
        if not body:
            return None
        if name == self.truncate and self.truncate_times > 0:
            self.truncate_times -= 1
            handler.wfile.write(data[start : start + (len(data) - start) // 2])
            handler.wfile.flush()
            handler.close_connection = True
            return None
        handler.wfile.write(data[start:])
        return None


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    source = small_bundle(tmp_path / "hub-src", "hub-model")
    server = FakeHub("studio/hub-model", {p.name: p.read_bytes() for p in sorted(source.iterdir())})
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    yield server
    server.close()


def test_parse_hub_repo() -> None:
    assert parse_hub_repo("studio/hub-model") == ("studio/hub-model", None)
    assert parse_hub_repo("hf:studio/hub-model@v1.0") == ("studio/hub-model", "v1.0")
    assert parse_hub_repo("https://example.com/a/b.zip") is None
    assert parse_hub_repo("just-a-name") is None


def test_pull_from_a_hub_repository(env: Path, hub: FakeHub, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "pull", "studio/hub-model"]) == 0
    assert "installed" in capsys.readouterr().out
    assert load_bundle("hub-model").name == "hub-model"
    assert leftovers(env) == ["hub-model"]
    assert main(["models", "pull", "studio/hub-model", "--sha256", "0" * 64]) == 2
    assert "--sha256 is for archive URLs" in capsys.readouterr().err


def test_a_corrupted_hub_file_is_refused_and_not_kept(
    env: Path, hub: FakeHub, capsys: pytest.CaptureFixture[str]
) -> None:
    hub.corrupt = "b.safetensors"
    assert main(["models", "pull", "hf:studio/hub-model"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "hf:studio/hub-model" in err and "b.safetensors: sha256 does not match" in err
    assert leftovers(env) == []
    hub.corrupt = None  # the server is fixed: the corrupt copy was dropped from the cache
    assert main(["models", "pull", "studio/hub-model"]) == 0
    assert load_bundle("hub-model").name == "hub-model"


def test_a_cut_off_hub_transfer_resumes_or_is_refused(
    env: Path, hub: FakeHub, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    # huggingface_hub keeps what it received in whole chunks (10 MiB); small chunks let a
    # 128-byte file show the resume.
    monkeypatch.setattr(huggingface_hub.constants, "DOWNLOAD_CHUNK_SIZE", 16)
    hub.truncate, hub.truncate_times = "a.safetensors", 1  # one cut: the download goes on from there
    assert main(["models", "pull", "studio/hub-model"]) == 0
    assert hub.ranges == ["a.safetensors:bytes=64-"], "resumed with the rest only, not restarted"
    assert load_bundle("hub-model").name == "hub-model"
    assert main(["models", "remove", "hub-model"]) == 0
    shutil.rmtree(env.parent / "cache")
    capsys.readouterr()

    hub.truncate_times = 1000  # every try cut off: refused after huggingface_hub's retries
    assert main(["models", "pull", "studio/hub-model"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "download failed" in err and "nothing installed" in err
    assert leftovers(env) == []
    assert not list((env.parent / "cache").rglob("*.incomplete"))


def test_pulling_offline_says_so_in_one_line(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CheckpointError, match="HF_HUB_OFFLINE is set"):
        pull_from_hub("studio/absent")
    # Nothing listens on this port: the hub cannot be reached.
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    assert main(["models", "pull", "studio/absent"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot be reached (offline?)" in err
    assert main(["models", "pull", "http://127.0.0.1:9/bundle.zip", "--sha256", "0" * 64]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot reach 127.0.0.1 (offline?)" in err
    assert leftovers(env) == []


def test_pull_by_url_refuses_corrupt_and_cut_off_archives(env: Path, tmp_path: Path) -> None:
    source = small_bundle(tmp_path / "src", "url-model")
    archive = tmp_path / "url-model.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in source.iterdir():
            zf.write(f, f"url-model/{f.name}")
    data = archive.read_bytes()
    server = FakeHub("web/files", {"url-model.zip": data})
    url = f"{server.url}/web/files/resolve/main/url-model.zip"
    digest = hashlib.sha256(data).hexdigest()
    try:
        server.corrupt = "url-model.zip"
        with pytest.raises(CheckpointError, match="does not match"):
            main_pull(url, digest)
        server.corrupt, server.truncate = None, "url-model.zip"
        with pytest.raises(CheckpointError, match="cut off|download failed"):
            main_pull(url, digest)
        assert leftovers(env) == []
        server.truncate = None
        assert main_pull(url, digest) == env / "url-model"
    finally:
        server.close()
    with pytest.raises(UsageError, match="give --sha256"):
        _run_pull_without_sha(url)


def main_pull(url: str, digest: str) -> Path:
    from foleystudio.ml.model_bundle import pull_bundle

    return pull_bundle(url, digest)


def _run_pull_without_sha(url: str) -> None:
    import argparse

    from foleystudio.cli.models import run_pull

    run_pull(argparse.Namespace(source=url, sha256=None, revision=None, dest=None, overwrite=False))
