"""Model bundles: save/load round trip, strict loading, tampering, registry, pull, CLI."""

from __future__ import annotations

import hashlib
import json
import tarfile
import zipfile
from pathlib import Path

import pytest
import torch

import foleystudio
from foleystudio.cli import main
from foleystudio.errors import CheckpointError, UsageError
from foleystudio.ml.codec import MelCodec
from foleystudio.ml.flowley import Flowley, flowley_config
from foleystudio.ml.model_bundle import (
    MANIFEST,
    find_bundle,
    list_bundles,
    load_bundle,
    model_dirs,
    packaged_models_dir,
    pull_bundle,
    save_bundle,
    user_models_dir,
    verify_bundle,
)
from tests.unit.flowley_helpers import debug_model, make_conditions, noise_like


@pytest.fixture
def models_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated FOLEYSTUDIO_MODELS folder and user folder, and no packaged models."""
    import foleystudio.ml.model_bundle as checkpoints

    folder = tmp_path / "env-models"
    folder.mkdir()
    monkeypatch.setenv("FOLEYSTUDIO_MODELS", str(folder))
    monkeypatch.setenv("FOLEYSTUDIO_USER_DIR", str(tmp_path / "user"))
    monkeypatch.setattr(checkpoints, "packaged_models_dir", lambda: tmp_path / "packaged")
    return folder


def write_debug_bundle(
    folder: Path, name: str = "debug-model", **config_overrides: object
) -> tuple[Path, Flowley]:
    model = debug_model(**config_overrides)
    codec = MelCodec(n_mels=8, patch=2)
    path = save_bundle(
        folder / name,
        name,
        {"flowley": model, "extra": {"table": torch.arange(6.0).reshape(2, 3)}},
        {"flowley": model.config.to_dict(), "codec": codec.to_config()},
        training={"steps": 12, "final_loss": 0.5},
        description="unit-test bundle",
    )
    return path, model


def test_round_trip_gives_the_same_network(tmp_path: Path) -> None:
    path, model = write_debug_bundle(tmp_path)
    manifest = json.loads((path / MANIFEST).read_text())
    assert manifest["name"] == "debug-model" and manifest["format_version"] == 1
    assert manifest["modules"] == {"flowley": "flowley.safetensors", "extra": "extra.safetensors"}
    for filename, digest in manifest["files"].items():
        assert hashlib.sha256((path / filename).read_bytes()).hexdigest() == digest
    assert manifest["training"] == {"steps": 12, "final_loss": 0.5}
    assert not any(p.suffix in (".pt", ".pth", ".bin", ".pkl") for p in path.iterdir())

    bundle = load_bundle(path)
    loaded = bundle.build_flowley()
    assert loaded.config == model.config
    cond = make_conditions(model.config)
    x = noise_like(model.config)
    with torch.no_grad():
        assert torch.equal(
            model(x, torch.full((2,), 0.5), cond).velocity, loaded(x, torch.full((2,), 0.5), cond).velocity
        )
    assert bundle.build_codec().to_config() == MelCodec(n_mels=8, patch=2).to_config()
    assert torch.equal(bundle.state_dicts["extra"]["table"], torch.arange(6.0).reshape(2, 3))
    assert bundle.training["steps"] == 12 and bundle.name == "debug-model"


def test_saving_again_replaces_the_bundle_atomically(tmp_path: Path) -> None:
    path, _ = write_debug_bundle(tmp_path)
    first = (path / "flowley.safetensors").read_bytes()
    write_debug_bundle(tmp_path, single_depth=3)
    assert (path / "flowley.safetensors").read_bytes() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["debug-model"]  # no temp folders left
    with pytest.raises(UsageError, match="bundle name"):
        save_bundle(tmp_path / "x", "bad name!", {}, {})


def test_a_tampered_file_is_refused(tmp_path: Path) -> None:
    path, _ = write_debug_bundle(tmp_path)
    weights = path / "flowley.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01  # one flipped bit in the last tensor
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="tampered or corrupt") as info:
        load_bundle(path)
    assert "flowley.safetensors" in str(info.value)
    with pytest.raises(CheckpointError, match="tampered or corrupt"):
        verify_bundle(path)


def test_a_wrong_shape_names_the_tensor(tmp_path: Path) -> None:
    path, _ = write_debug_bundle(tmp_path)
    bundle = load_bundle(path)
    wider = Flowley(flowley_config("debug", hidden=48))
    with pytest.raises(
        CheckpointError, match=r"tensor '.*' of module 'flowley' has shape \[.*\] in the bundle"
    ):
        bundle.load_into("flowley", wider)
    deeper = Flowley(flowley_config("debug", single_depth=3))
    with pytest.raises(CheckpointError, match="single_blocks.2.* is missing from the bundle"):
        bundle.load_into("flowley", deeper)
    shallower = Flowley(flowley_config("debug", single_depth=1))
    with pytest.raises(CheckpointError, match="bundle tensor 'single_blocks.1.* does not exist"):
        bundle.load_into("flowley", shallower)
    with pytest.raises(CheckpointError, match="no weights for module 'clip'"):
        bundle.load_into("clip", wider)


def test_bad_manifests_and_missing_files(tmp_path: Path) -> None:
    path, _ = write_debug_bundle(tmp_path)
    (path / "extra.safetensors").unlink()
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_bundle(path)
    (path / MANIFEST).write_text("{not json")
    with pytest.raises(CheckpointError, match="unreadable manifest"):
        load_bundle(path)
    (path / MANIFEST).write_text(
        json.dumps({"name": "x", "format_version": 99, "configs": {}, "modules": {}, "files": {}})
    )
    with pytest.raises(CheckpointError, match="newer"):
        load_bundle(path)
    (path / MANIFEST).unlink()
    with pytest.raises(CheckpointError, match="no manifest.json"):
        load_bundle(path)


def test_non_safetensors_bytes_with_a_matching_checksum_are_refused(tmp_path: Path) -> None:
    path, _ = write_debug_bundle(tmp_path)
    junk = b"\x80\x04pickle-like junk"
    (path / "extra.safetensors").write_bytes(junk)
    manifest = json.loads((path / MANIFEST).read_text())
    manifest["files"]["extra.safetensors"] = hashlib.sha256(junk).hexdigest()
    (path / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match="not a valid safetensors file"):
        load_bundle(path)


def test_registry_finds_bundles_by_name_and_path(models_env: Path) -> None:
    path, _ = write_debug_bundle(models_env, name="env-model")
    user_dir = user_models_dir()
    write_debug_bundle(user_dir, name="user-model")
    (models_env / "broken").mkdir()
    (models_env / "broken" / MANIFEST).write_text("[]")
    assert [s for s, _ in model_dirs()] == ["env", "user", "packaged"]
    assert model_dirs()[-1][1] == models_env.parent / "packaged"  # isolated by the fixture
    assert packaged_models_dir() == Path(foleystudio.__file__).resolve().parents[1] / "models"
    found = {b.name: b for b in list_bundles()}
    assert found["env-model"].source == "env" and found["user-model"].source == "user"
    assert found["broken"].error is not None
    assert find_bundle("env-model") == path
    assert find_bundle(str(path)) == path
    assert find_bundle("user-model") == user_dir / "user-model"
    with pytest.raises(CheckpointError, match="no model bundle named 'missing'.*env-model"):
        find_bundle("missing")
    with pytest.raises(CheckpointError, match="not found"):
        find_bundle(str(models_env / "nothing-here"))
    assert load_bundle("env-model").name == "env-model"


def make_archive(bundle: Path, archive: Path) -> str:
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive, "w") as zf:
            for file in bundle.iterdir():
                zf.write(file, f"{bundle.name}/{file.name}")
    else:
        with tarfile.open(archive, "w:gz") as tf:
            tf.add(bundle, arcname=bundle.name)
    return hashlib.sha256(archive.read_bytes()).hexdigest()


@pytest.mark.parametrize("suffix", [".zip", ".tar.gz"])
def test_pull_from_a_file_url(tmp_path: Path, suffix: str) -> None:
    source, _ = write_debug_bundle(tmp_path / "src", name="pulled-model")
    archive = tmp_path / f"bundle{suffix}"
    digest = make_archive(source, archive)
    dest = tmp_path / "installed"
    reports: list[float] = []
    path = pull_bundle(archive.as_uri(), digest, dest, progress=lambda f, m: reports.append(f))
    assert path == dest / "pulled-model"
    assert load_bundle(path).name == "pulled-model"
    assert reports[-1] == 1.0
    assert sorted(p.name for p in dest.iterdir()) == ["pulled-model"]  # no temp leftovers
    with pytest.raises(CheckpointError, match="already installed"):
        pull_bundle(archive.as_uri(), digest, dest)
    assert pull_bundle(archive.as_uri(), digest, dest, overwrite=True) == path


def test_pull_refuses_a_wrong_checksum_and_bad_urls(tmp_path: Path) -> None:
    source, _ = write_debug_bundle(tmp_path / "src")
    archive = tmp_path / "bundle.zip"
    make_archive(source, archive)
    dest = tmp_path / "installed"
    with pytest.raises(CheckpointError, match="does not match"):
        pull_bundle(archive.as_uri(), "0" * 64, dest)
    assert list(dest.iterdir()) == []
    with pytest.raises(UsageError, match="only https"):
        pull_bundle("ftp://example.com/x.zip", "0" * 64, dest)
    with pytest.raises(UsageError, match="not a sha256"):
        pull_bundle(archive.as_uri(), "abc", dest)
    with pytest.raises(CheckpointError, match="download failed"):
        pull_bundle((tmp_path / "absent.zip").as_uri(), "0" * 64, dest)
    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"not an archive")
    with pytest.raises(CheckpointError, match="neither a zip nor a tar"):
        pull_bundle(plain.as_uri(), hashlib.sha256(b"not an archive").hexdigest(), dest)
    assert list(dest.iterdir()) == []


def test_pull_refuses_a_path_traversal_archive(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../escape.txt", "x")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    with pytest.raises(CheckpointError, match="outside the bundle"):
        pull_bundle(archive.as_uri(), digest, tmp_path / "dest")
    assert not (tmp_path / "escape.txt").exists()


# -- CLI ------------------------------------------------------------------------------------


def test_models_list_and_info(models_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_debug_bundle(models_env, name="cli-model")
    assert main(["models", "list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [b["name"] for b in listing["bundles"]] == ["cli-model"]
    assert main(["models", "list"]) == 0
    assert "cli-model" in capsys.readouterr().out
    assert main(["models", "info", "cli-model", "--json", "--verify"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["verified"] is True
    assert info["modules"]["extra"] == {"tensors": 1, "parameters": 6}
    assert info["modules"]["flowley"]["parameters"] == debug_model().num_parameters()
    assert info["configs"]["flowley"]["hidden"] == 32
    assert main(["models", "info", "cli-model"]) == 0
    assert "module flowley" in capsys.readouterr().out
    assert main(["models", "info", "nope"]) == 2
    assert "no model bundle named 'nope'" in capsys.readouterr().err


def test_doctor_reports_without_crashing(models_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_debug_bundle(models_env, name="doctor-model")
    assert main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["libraries"]["torch"] == torch.__version__.split("+")[0]
    assert {"python", "devices", "audio", "models", "problems"} <= set(report)
    assert report["devices"]["cpu"]["available"] is True
    assert isinstance(report["audio"]["ok"], bool)  # ALSA null device in tests: reported, not fatal
    assert [b["name"] for b in report["models"]["bundles"]] == ["doctor-model"]
    assert main(["doctor"]) == 0
    assert "model bundles:" in capsys.readouterr().out


def test_doctor_survives_a_broken_sound_system(monkeypatch: pytest.MonkeyPatch) -> None:
    import sounddevice

    from foleystudio.cli.doctor import collect

    def broken() -> None:
        raise OSError("PortAudio library not found")

    monkeypatch.setattr(sounddevice, "query_devices", broken)
    report = collect()
    assert report["audio"]["ok"] is False and "PortAudio" in report["audio"]["error"]
    assert any("audio playback unavailable" in p for p in report["problems"])


def test_the_packaged_default_model_is_intact(capsys: pytest.CaptureFixture[str]) -> None:
    """The committed bundle verifies (sha256 of every file) and carries its training record."""
    assert main(["models", "info", "foleyworld-tiny", "--json", "--verify"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert set(info["modules"]) >= {"flowley", "clip", "audio", "audio_classifier"}
    assert info["training"]["steps"] > 0
    from foleystudio.ml.model_bundle import find_bundle

    assert (find_bundle("foleyworld-tiny") / "training_log.jsonl").is_file()
