"""The training pipeline end to end on a tiny FoleyWorld corpus: CLIP → cache → Flowley → bundle."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from foleystudio.cli import main
from foleystudio.data.datasets import FeatureCache, scan_folder
from foleystudio.data.foleyworld import generate_corpus
from foleystudio.errors import DataError
from foleystudio.ml.model_bundle import load_bundle
from tests.unit.train_log_helpers import logged_events


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("fw")
    generate_corpus(out, 4, seed=11, duration=2.0, size=64, split_fractions=(0.5, 0.5, 0.0))
    return out


def test_scan_reads_foleyworld_splits_and_truth(corpus):
    records = scan_folder(corpus)
    assert len(records) == 4
    assert {r.split for r in records} <= {"train", "val"}
    assert all(r.truth and r.caption and r.audio for r in records)


def test_scan_rejects_an_empty_folder(tmp_path):
    with pytest.raises(DataError, match="no video files"):
        scan_folder(tmp_path)


def test_pipeline_trains_resumes_and_bundles(corpus, tmp_path):
    clip_run, flow_run, bundle = tmp_path / "clip", tmp_path / "flow", tmp_path / "bundle"
    assert (
        main(
            [
                "train",
                "clip",
                "--data",
                str(corpus),
                "--out",
                str(clip_run),
                "--config",
                "fw-clip-debug",
                "--steps",
                "3",
                "--batch",
                "8",
            ]
        )
        == 0
    )
    assert (clip_run / "clip.safetensors").is_file()
    args = [
        "train",
        "flowley",
        "--data",
        str(corpus),
        "--clip",
        str(clip_run),
        "--out",
        str(flow_run),
        "--config",
        "debug",
        "--batch",
        "2",
    ]
    assert main([*args, "--steps", "4"]) == 0
    cache = FeatureCache(flow_run / "cache.safetensors")
    kinds = {e["kind"] for e in cache.examples}
    assert kinds == {"mix", "object"}
    assert cache.tensors["tokens"].shape[1:] == (125, 320) and cache.tensors["sync"].shape[-1] == 4
    # Resuming continues from step 4 to step 6 and writes the bundle with its logs.
    assert main([*args, "--steps", "6", "--resume", "--bundle", str(bundle), "--bundle-name", "fw-test"]) == 0
    events = logged_events(flow_run)
    logged_events(clip_run)  # every trainer's log has the loop's schema
    assert [e["steps"] for e in events if e["event"] == "stop"] == [4, 6]
    assert [(e["step"], e["settings"]["steps"]) for e in events if e["event"] == "resume"] == [(4, 6)]
    loaded = load_bundle(bundle)
    assert loaded.name == "fw-test" and loaded.training["steps"] == 6
    assert (bundle / "training_log.jsonl").is_file()
    # Without --resume an existing run is refused rather than overwritten.
    assert main([*args, "--steps", "8"]) == 2


def test_cache_audio_embeddings_and_mix_training(corpus, tmp_path):
    """Targets' audio embeddings (the SSV2A mix condition) are the same built inline or added
    to an existing cache; Flowley trained on them takes a mix of the encoder's width."""
    import torch

    from foleystudio.data.datasets import add_audio_embeddings, build_feature_cache
    from foleystudio.ml.codec import MelCodec
    from foleystudio.ml.encoders.audio import AudioEncoder
    from foleystudio.ml.encoders.clip_encoder import ClipEncoder, ClipEncoderConfig
    from foleystudio.train.flowley import FlowleyTrainSettings, train_flowley

    records = scan_folder(corpus)
    clip = ClipEncoder.from_config(ClipEncoderConfig("fw-clip-debug"), seed=0)
    audio = AudioEncoder.create("fw-audio-debug", seed=0).eval()
    inline = build_feature_cache(records, clip, MelCodec(), tmp_path / "a.safetensors", audio_encoder=audio)
    plain = build_feature_cache(records, clip, MelCodec(), tmp_path / "b.safetensors")
    assert "audio_embedding" not in FeatureCache(plain).tensors
    add_audio_embeddings(plain, records, audio)
    a, b = FeatureCache(inline), FeatureCache(plain)
    emb = a.tensors["audio_embedding"]
    assert emb.shape == (len(a), audio.config.embed_dim)
    assert torch.allclose(emb.norm(dim=-1), torch.ones(len(a)), atol=1e-4)
    assert torch.allclose(emb, b.tensors["audio_embedding"], atol=1e-5)
    # Object examples embed their own stem, not the mix: rows of one clip differ.
    assert (emb[0] - emb[1]).abs().max() > 1e-3
    summary = train_flowley(
        inline, tmp_path / "run", FlowleyTrainSettings(config="debug", steps=2, batch_size=2, eval_every=1000)
    )
    assert summary["config"]["mix_dim"] == audio.config.embed_dim
    # Timbre swaps train on the same cache: object rows of other categories lend their voices.
    from dataclasses import replace

    from foleystudio.train.timbre_swap import SwapPool, TimbreSwapSettings

    assert any(SwapPool.from_examples(a.examples, a.tensors["onsets"]).partners)
    settings = FlowleyTrainSettings(config="debug", steps=2, batch_size=2, eval_every=1000)
    swaps = train_flowley(inline, tmp_path / "swap", replace(settings, timbre_swap=TimbreSwapSettings(1.0)))
    assert swaps["finished"]
    with pytest.raises(DataError, match="timbre swaps"):
        train_flowley(
            plain, tmp_path / "swap2", replace(settings, timbre_swap=TimbreSwapSettings(1.0), use_mix=False)
        )
    # An example whose clip is not in the folder is a clear error.
    with pytest.raises(DataError, match="not in the data folder"):
        add_audio_embeddings(plain, records[:1], audio)


def test_visual_onsets_train_enter_the_cache_and_fine_tune_flowley(corpus, tmp_path):
    """`train onsets` → its track added to a cache equals the track built inline → `train
    flowley --onsets --init` starts from a 4-feature run, widened, and bundles the network."""
    import torch

    from foleystudio.data.datasets import add_visual_onsets, build_feature_cache
    from foleystudio.ml.codec import MelCodec
    from foleystudio.ml.encoders.clip_encoder import ClipEncoder, ClipEncoderConfig
    from foleystudio.ml.encoders.visual_onsets import VisualOnsetConfig
    from foleystudio.ml.engine import load_model
    from foleystudio.train.flowley import (
        FlowleyTrainSettings,
        batch_conditions,
        init_from_run,
        load_ema_model,
        model_config_for,
        train_flowley,
    )
    from foleystudio.train.visual_onsets import load_trained_onsets

    onsets_run = tmp_path / "onsets"
    args = [
        "train",
        "onsets",
        "--data",
        str(corpus),
        "--out",
        str(onsets_run),
        "--steps",
        "2",
        "--batch",
        "2",
    ]
    assert main(args) == 0
    net = load_trained_onsets(onsets_run)
    records = scan_folder(corpus)
    clip = ClipEncoder.from_config(ClipEncoderConfig("fw-clip-debug"), seed=0)
    inline = build_feature_cache(records, clip, MelCodec(), tmp_path / "a.safetensors", onset_net=net)
    plain = build_feature_cache(records, clip, MelCodec(), tmp_path / "b.safetensors")
    add_visual_onsets(plain, records, net)
    a, b = FeatureCache(inline), FeatureCache(plain)
    assert (
        a.tensors["sync"].shape[-1] == 5
        and VisualOnsetConfig.from_dict(a.meta["visual_onsets"]) == net.config
    )
    assert torch.allclose(a.tensors["sync"], b.tensors["sync"], atol=1e-6)
    # Adding again replaces the column rather than appending a sixth.
    add_visual_onsets(plain, records, net)
    assert FeatureCache(plain).tensors["sync"].shape[-1] == 5

    # A 4-feature run, then a model with the fifth feature started from it computes the same.
    four = build_feature_cache(records, clip, MelCodec(), tmp_path / "c.safetensors")
    settings = FlowleyTrainSettings(config="debug", steps=2, batch_size=2, eval_every=1000)
    train_flowley(four, tmp_path / "run4", settings)
    source = load_ema_model(tmp_path / "run4")
    # Event-track training needs the onset column: a 4-feature cache is refused.
    from foleystudio.train.event_tracks import EventTrackSettings

    with pytest.raises(DataError, match="onset feature"):
        train_flowley(four, tmp_path / "run4e", replace(settings, event_tracks=EventTrackSettings(0.5)))
    # Reference rows train, and reach the network: its reference projection gets a gradient.
    from foleystudio.ml.flowley.flow import FlowTrainingConfig, training_loss
    from foleystudio.train.reference_audio import ReferencePool, ReferenceSettings, with_references

    refs = train_flowley(four, tmp_path / "run4r", replace(settings, references=ReferenceSettings(1.0)))
    assert refs["finished"]
    cache4 = FeatureCache(four, "train")
    rows = torch.arange(len(cache4))
    gen = torch.Generator().manual_seed(0)
    pool = ReferencePool.from_examples(cache4.examples)
    assert any(pool.objects)
    with_refs = with_references(
        dict(cache4.tensors), rows, cache4.tensors["tokens"], pool, 15.625, ReferenceSettings(1.0), gen
    )
    conditions = batch_conditions(with_refs, torch.device("cpu"))
    assert conditions.ref_audio is not None and bool(conditions.ref_mask.any())
    source.train()
    loss, _ = training_loss(
        source, with_refs["tokens"].float(), conditions, gen, FlowTrainingConfig(drop_prob=0.0)
    )
    loss.backward()
    assert float(source.ref_proj.weight.grad.abs().sum()) > 0
    source.zero_grad()
    source.eval()
    wide_config = model_config_for(a, settings)
    from foleystudio.ml.flowley import Flowley

    wide = Flowley(wide_config)
    init_from_run(wide, tmp_path / "run4")
    batch = {k: v[:2] for k, v in a.tensors.items()}
    cond5 = batch_conditions(batch, torch.device("cpu"))
    cond4 = batch_conditions({**batch, "sync": batch["sync"][..., :4]}, torch.device("cpu"))
    x = torch.randn(batch["tokens"].shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(wide.eval()(x, 0.3, cond5).velocity, source(x, 0.3, cond4).velocity, atol=1e-5)

    # The CLI: a fresh run folder with the 4-feature cache gets the column added, starts from
    # run4, and the bundle carries the onset network.
    flow_run, bundle = tmp_path / "flow", tmp_path / "bundle"
    flow_run.mkdir()
    for suffix in (".safetensors", ".json"):
        (flow_run / f"cache{suffix}").write_bytes((tmp_path / f"c{suffix}").read_bytes())
    clip_run = tmp_path / "clip"
    assert (
        main(
            [
                "train",
                "clip",
                "--data",
                str(corpus),
                "--out",
                str(clip_run),
                "--config",
                "fw-clip-debug",
                "--steps",
                "1",
                "--batch",
                "8",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "train",
                "flowley",
                "--data",
                str(corpus),
                "--clip",
                str(clip_run),
                "--out",
                str(flow_run),
                "--config",
                "debug",
                "--batch",
                "2",
                "--steps",
                "2",
                "--onsets",
                str(onsets_run),
                "--init",
                str(tmp_path / "run4"),
                "--bundle",
                str(bundle),
            ]
        )
        == 0
    )
    loaded = load_model(str(bundle), torch.device("cpu"))
    assert loaded.onsets is not None and loaded.flowley.config.sync_dim == 5
    assert (bundle / "onsets_training_log.jsonl").is_file() and (bundle / "init_training_log.jsonl").is_file()

    # A model bundle stands in for every run folder: fine-tune the bundle just written and
    # write the result over it; its parts' logs carry over (read before the bundle is replaced).
    before = {
        name: (bundle / name).read_bytes() for name in ("training_log.jsonl", "clip_training_log.jsonl")
    }
    again = Flowley(loaded.flowley.config)
    init_from_run(again, bundle)
    assert all(torch.equal(v, loaded.flowley.state_dict()[k]) for k, v in again.state_dict().items())
    base = ["train", "flowley", "--data", str(corpus), "--config", "debug", "--batch", "2", "--steps", "1"]
    from_bundle = [*base, "--clip", str(bundle), "--onsets", str(bundle), "--init", str(bundle)]
    out2 = tmp_path / "flow2"
    assert main([*from_bundle, "--event-tracks", "1", "--out", str(out2), "--bundle", str(bundle)]) == 0
    start = json.loads((out2 / "log.jsonl").read_text().splitlines()[0])
    assert start["settings"]["event_tracks"]["track_prob"] == 1.0
    tuned = load_model(str(bundle), torch.device("cpu"))
    assert tuned.onsets is not None and tuned.bundle.training["init_run"] == str(bundle)
    assert (bundle / "init_training_log.jsonl").read_bytes() == before["training_log.jsonl"]
    assert (bundle / "clip_training_log.jsonl").read_bytes() == before["clip_training_log.jsonl"]
    assert (bundle / "onsets_training_log.jsonl").is_file()
    for run in (onsets_run, tmp_path / "run4", flow_run, out2):
        logged_events(run)
