"""SSV2A trainer on a synthetic feature cache, exact resume, save/load and the CLI hook."""

from __future__ import annotations

import argparse
import json

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from foleystudio.core.jobs import CancelToken
from foleystudio.data.datasets import cache_index, read_cache, write_cache
from foleystudio.errors import CheckpointError, DataError
from foleystudio.ml.ssv2a.io import CONFIG_FILE, MANIFOLD_FILE, REMIXER_FILE, load_ssv2a, save_ssv2a
from foleystudio.ml.ssv2a.manifold import CMSSManifold, ManifoldConfig
from foleystudio.ml.ssv2a.remixer import Remixer, RemixerConfig
from foleystudio.ml.ssv2a.sources import PerceivedSource, mix_embedding
from foleystudio.train.ssv2a import SSV2ATrainSettings, load_source_data, train_ssv2a
from tests.unit.train_log_helpers import logged_events

DIM, TV, CATS = 16, 8, 4

SETTINGS = SSV2ATrainSettings(
    manifold_steps=12,
    remixer_steps=10,
    temporal_steps=4,
    manifold_batch=16,
    remixer_batch=8,
    temporal_batch=3,
    warmup=2,
    log_every=5,
    eval_every=100,
    save_every=100,
    manifold={"projector_widths": [32], "reconstructor_widths": [32], "joint_dim": 16},
    remixer={"width": 16, "heads": 2, "head_hidden": [16], "max_sources": 4},
)


def _write_cache(path, clips: int = 12, val: int = 3, audio: bool = True, objects: bool = True):
    """Clips of two objects (categories c and c+1); crops, captions and stems scatter around
    per-category centres in unrelated spaces; the mix is the normalised sum of the stems."""
    g = torch.Generator().manual_seed(0)
    centre = {k: F.normalize(torch.randn(CATS, DIM, generator=g), dim=-1) for k in ("clip", "text", "audio")}
    rows: dict[str, list[torch.Tensor]] = {
        "visual": [],
        "visual_valid": [],
        "text_pooled": [],
        "audio_embedding": [],
    }
    examples = []

    def add(visual, valid, text, emb, **meta):
        rows["visual"].append(visual.half())
        rows["visual_valid"].append(valid)
        rows["text_pooled"].append(text)
        rows["audio_embedding"].append(emb)
        examples.append(meta)

    for c in range(clips):
        split = "val" if c >= clips - val else "train"
        cats = [c % CATS, (c + 1) % CATS]
        stems = [F.normalize(centre["audio"][k] + 0.2 * torch.randn(DIM, generator=g), dim=0) for k in cats]
        mix = F.normalize(sum(stems) + 0.1 * torch.randn(DIM, generator=g), dim=0)
        name = f"clip_{c:03d}"
        add(
            F.normalize(torch.randn(TV, DIM, generator=g), dim=-1),
            torch.ones(TV, dtype=torch.bool),
            F.normalize(torch.randn(DIM, generator=g), dim=0),
            mix,
            clip=name,
            split=split,
            kind="mix",
            source=None,
            category=",".join(f"k{k}" for k in cats),
            caption="",
        )
        if not objects:
            continue
        for j, (k, stem) in enumerate(zip(cats, stems, strict=True)):
            crops = F.normalize(centre["clip"][k] + 0.3 * torch.randn(TV, DIM, generator=g), dim=-1)
            valid = torch.ones(TV, dtype=torch.bool)
            if j == 1:  # the second object leaves the frame half-way
                valid[TV // 2 :] = False
                crops[TV // 2 :] = 0.0
            text = F.normalize(centre["text"][k] + 0.2 * torch.randn(DIM, generator=g), dim=0)
            add(
                crops,
                valid,
                text,
                stem,
                clip=name,
                split=split,
                kind="object",
                source=f"s{j}",
                category=f"k{k}",
                caption=f"sound {k}",
            )
    tensors = {k: torch.stack(v) for k, v in rows.items()}
    if not audio:
        del tensors["audio_embedding"]
    return write_cache(path, tensors, {"examples": examples, "window_seconds": 1.0})


def _weights(folder) -> dict[str, torch.Tensor]:
    return {
        **load_file(str(folder / MANIFOLD_FILE)),
        **{f"r.{k}": v for k, v in load_file(str(folder / REMIXER_FILE)).items()},
    }


def test_data_contract(tmp_path):
    data = load_source_data(_write_cache(tmp_path / "cache.safetensors"))
    assert data.crops.shape == (24, TV, DIM) and data.audio.shape == (24, DIM)
    assert len(data.clip_names) == 12 and all(len(o) == 2 for o in data.clip_objects)
    assert int(data.valid.sum()) == 12 * (TV + TV // 2)
    assert data.clip_category(0) == "k0,k1" and len(data.objects_in("val")) == 6
    with pytest.raises(DataError, match="audio_embedding"):
        load_source_data(_write_cache(tmp_path / "noaudio.safetensors", audio=False))
    with pytest.raises(DataError, match="no object examples"):
        load_source_data(_write_cache(tmp_path / "mixonly.safetensors", objects=False))


def test_trains_writes_loadable_modules_and_reports(tmp_path):
    cache = _write_cache(tmp_path / "cache.safetensors")
    summary = train_ssv2a(cache, tmp_path / "run", SETTINGS, device="cpu")
    assert summary["finished"] and summary["steps"] == SETTINGS.total_steps
    val = summary["val"]
    assert val["manifold"]["n"] == 6 and 0.0 <= val["manifold"]["cmss"]["crop_to_audio_top1"] <= 1.0
    for key in ("remix_crops", "baseline_category_mean", "temporal_aggregation", "single_remix"):
        assert -1.0 <= val["remixer"][key] <= 1.0
    events = [r["event"] for r in logged_events(tmp_path / "run")]
    assert events[0] == "start" and events[-1] == "stop" and events.count("val") >= 3
    manifold, remixer = load_ssv2a(tmp_path / "run")
    assert not manifold.training and not remixer.training
    assert json.loads((tmp_path / "run" / CONFIG_FILE).read_text())["training"]["finished"]
    data = load_source_data(cache)
    o = int(data.objects_in("val")[0])
    out = mix_embedding(manifold, remixer, [PerceivedSource.object(data.crops[o].float(), data.valid[o])])
    assert out.shape == (1, DIM)


def test_resume_continues_exactly(tmp_path):
    cache = _write_cache(tmp_path / "cache.safetensors")
    train_ssv2a(cache, tmp_path / "full", SETTINGS, device="cpu")

    token = CancelToken()
    stop_at = SETTINGS.manifold_steps + 4  # inside the Remixer stage

    def progress(fraction: float, message: str) -> None:
        if round(fraction * SETTINGS.total_steps) >= stop_at:
            token.cancel()

    first = train_ssv2a(cache, tmp_path / "cut", SETTINGS, device="cpu", progress=progress, cancel=token)
    assert first["steps"] == stop_at and not first["finished"]
    assert not (tmp_path / "cut" / MANIFOLD_FILE).exists()
    with pytest.raises(DataError, match="pass resume"):
        train_ssv2a(cache, tmp_path / "cut", SETTINGS, device="cpu")
    train_ssv2a(cache, tmp_path / "cut", SETTINGS, device="cpu", resume=True)
    full, cut = _weights(tmp_path / "full"), _weights(tmp_path / "cut")
    assert full.keys() == cut.keys()
    for key in full:
        assert torch.equal(full[key], cut[key]), key


def _tiny_pair() -> tuple[CMSSManifold, Remixer]:
    m = CMSSManifold(
        ManifoldConfig(
            clip_dim=6, audio_dim=5, joint_dim=4, projector_widths=(8,), reconstructor_widths=(8,)
        ),
        seed=0,
    )
    r = Remixer(
        RemixerConfig(
            joint_dim=4, clip_dim=6, audio_dim=5, width=8, heads=2, head_hidden=(8,), max_sources=4
        ),
        seed=0,
    )
    return m.eval(), r.eval()


def test_save_load_round_trip(tmp_path):
    m, r = _tiny_pair()
    save_ssv2a(tmp_path, m, r, training={"steps": 3})
    m2, r2 = load_ssv2a(tmp_path)
    text = torch.randn(6)
    sources = [PerceivedSource.text(text), PerceivedSource.audio(torch.randn(5))]
    assert torch.equal(mix_embedding(m, r, sources), mix_embedding(m2, r2, sources))
    assert m2.config == m.config and r2.config == r.config
    meta = json.loads((tmp_path / CONFIG_FILE).read_text())
    assert set(meta["files"]) == {MANIFOLD_FILE, REMIXER_FILE} and meta["training"] == {"steps": 3}


def test_tampered_or_mismatched_files_are_refused(tmp_path):
    m, r = _tiny_pair()
    save_ssv2a(tmp_path, m, r)
    weights = tmp_path / REMIXER_FILE
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="tampered") as err:
        load_ssv2a(tmp_path)
    assert REMIXER_FILE in str(err.value)

    save_ssv2a(tmp_path, m, r)
    meta = json.loads((tmp_path / CONFIG_FILE).read_text())
    meta["manifold"]["projector_widths"] = [9]
    (tmp_path / CONFIG_FILE).write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"wrong shape \(e\.g\. \w+_projector\.blocks\.0\.fc1"):
        load_ssv2a(tmp_path)

    del meta["files"]
    meta["manifold"]["projector_widths"] = [8]
    (tmp_path / CONFIG_FILE).write_text(json.dumps(meta))
    (tmp_path / MANIFOLD_FILE).write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError, match="not a valid safetensors"):
        load_ssv2a(tmp_path)
    (tmp_path / CONFIG_FILE).write_text("{broken")
    with pytest.raises(CheckpointError, match="unreadable"):
        load_ssv2a(tmp_path)
    with pytest.raises(CheckpointError, match="no ssv2a.json"):
        load_ssv2a(tmp_path / "missing")


def test_cli_registers_and_runs(tmp_path, capsys):
    from foleystudio.cli import build_parser
    from foleystudio.cli.train_ssv2a import register_ssv2a

    # `train ssv2a` is a sub-command of `train`, not a top-level command.
    top = build_parser()
    assert top.parse_args(["train", "ssv2a", "--cache", "c", "--out", "o"]).func.__name__ == "run_ssv2a"
    parser = argparse.ArgumentParser()
    register_ssv2a(parser.add_subparsers(dest="part"))
    cache = _write_cache(tmp_path / "cache.safetensors")
    args = parser.parse_args(
        ["ssv2a", "--cache", str(cache), "--out", str(tmp_path / "run"), "--steps", "1", "--device", "cpu"]
    )
    assert args.func(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] == 3 and summary["finished"]
    assert (tmp_path / "run" / MANIFOLD_FILE).is_file()


def test_model_bundle_round_trip(tmp_path):
    from foleystudio.ml.model_bundle import load_bundle, save_bundle
    from foleystudio.ml.ssv2a.io import bundle_parts, load_from_bundle

    m, r = _tiny_pair()
    modules, configs = bundle_parts(m, r, training={"steps": 1})
    save_bundle(tmp_path / "b", "ssv2a-test", modules, configs)
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == [
        "manifest.json",
        MANIFOLD_FILE,
        REMIXER_FILE,
    ]
    loaded = load_from_bundle(load_bundle(tmp_path / "b"))
    assert loaded is not None
    sources = [PerceivedSource.text(torch.randn(6))]
    assert torch.equal(mix_embedding(*loaded, sources), mix_embedding(m, r, sources))
    save_bundle(tmp_path / "plain", "plain", {"x": torch.nn.Linear(2, 2)}, {})
    assert load_from_bundle(load_bundle(tmp_path / "plain")) is None


def test_cache_index_and_read_cache_name_the_broken_file(tmp_path):
    cache = _write_cache(tmp_path / "cache.safetensors")
    meta, tensors = read_cache(cache)
    assert cache_index(cache) == meta and meta["window_seconds"] == 1.0 and "audio_embedding" in tensors
    cache.with_suffix(".json").write_text("{not json")
    with pytest.raises(DataError, match="index") as broken:
        cache_index(cache)
    assert broken.value.path == str(cache.with_suffix(".json"))
    cache.with_suffix(".json").write_text(json.dumps(meta))
    cache.write_bytes(b"truncated")
    with pytest.raises(DataError, match="cannot read feature cache") as torn:
        read_cache(cache)
    assert torn.value.path == str(cache)
