"""``train flowley`` end to end: the feature cache, the run, and the model bundle with its parts' logs.

The run folder gets ``cache.safetensors`` (+ ``.json``) on first use, built with the CLIP encoder
of ``parts.clip`` (and the audio encoder's embeddings and the visual onset feature when those
parts are given; a cache that lacks them gets them added), then the Flowley run
(:func:`~foleystudio.train.flowley.train_flowley`). With ``bundle`` the finished model bundle
(network + codec + CLIP + the given parts) is written with every part's training log.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors import safe_open

from foleystudio.core.atomicfile import atomic_write_bytes
from foleystudio.core.jobs import ProgressCallback, no_progress
from foleystudio.data.datasets import (
    add_audio_embeddings,
    add_visual_onsets,
    build_feature_cache,
    cache_index,
    scan_folder,
)
from foleystudio.data.foleyworld import corpus_licences
from foleystudio.errors import DataError
from foleystudio.ml.codec import codec_from_config, codec_preset, same_analysis
from foleystudio.ml.codec_presets import DEFAULT_CODEC_PRESET
from foleystudio.ml.encoders.clip_encoder import ClipEncoder
from foleystudio.ml.encoders.visual_onsets import VisualOnsetNet
from foleystudio.train.audio import TrainedAudio, load_trained_audio
from foleystudio.train.clip_encoder import load_trained_clip
from foleystudio.train.distributed import DistributedContext, main_first
from foleystudio.train.flowley import FlowleyTrainSettings, load_ema_model, train_flowley
from foleystudio.train.model_bundle import write_model_bundle
from foleystudio.train.parts import load_ssv2a_part, part_logs
from foleystudio.train.state import has_training_state
from foleystudio.train.visual_onsets import load_trained_onsets

#: The feature cache in a Flowley run folder.
CACHE_FILE = "cache.safetensors"


@dataclass(frozen=True)
class FlowleyParts:
    """The finished parts a Flowley run builds on, each a run folder or a model bundle.

    ``clip``: whose features the cache holds; ``audio``: its embeddings become the mix
    condition; ``onsets``: its track becomes the last sync feature; ``ssv2a``: only bundled.
    The run to fine-tune from is ``FlowleyTrainSettings.init_from``.
    """

    clip: str
    audio: str | None = None
    ssv2a: str | None = None
    onsets: str | None = None


@dataclass(frozen=True)
class FlowleyRun:
    """One ``train flowley``: the data folder, the run folder, the parts and the settings.

    ``train_clips``: cache only the first N training clips (plus every validation clip);
    ``max_seconds``: this call's time budget (``train/loop.py``); ``bundle``: the folder the
    finished model bundle named ``bundle_name`` is written to (None: no bundle); ``codec``: the
    codec preset (``ml/codec_presets.py``) a new cache is built with (None: an existing
    cache's codec, else :data:`~foleystudio.ml.codec_presets.DEFAULT_CODEC_PRESET`).
    """

    data: Path
    out: Path
    parts: FlowleyParts
    settings: FlowleyTrainSettings
    train_clips: int | None = None
    resume: bool = False
    max_seconds: float | None = None
    bundle: Path | None = None
    bundle_name: str = "foleyworld-tiny"
    #: Version written into the bundle's manifest.
    bundle_version: str = "1.0.0"
    codec: str | None = None

    @property
    def cache(self) -> Path:
        return self.out / CACHE_FILE


@dataclass(frozen=True, eq=False)
class _LoadedParts:
    """The parts as loaded (on the CPU); None where not given."""

    clip: ClipEncoder
    audio: TrainedAudio | None
    onsets: VisualOnsetNet | None


def run_flowley(
    run: FlowleyRun, ctx: DistributedContext, progress: ProgressCallback = no_progress
) -> dict[str, Any]:
    """Prepare the cache, train, and (rank 0, with ``run.bundle``) write the bundle; returns the
    run's summary, with ``bundle`` (its folder) when one was written. Every rank calls this."""
    parts = _LoadedParts(
        clip=load_trained_clip(run.parts.clip),
        audio=None if run.parts.audio is None else load_trained_audio(run.parts.audio),
        onsets=None if run.parts.onsets is None else load_trained_onsets(run.parts.onsets),
    )
    with main_first(ctx):  # rank 0 builds the cache; the others then read it
        prepare_cache(run, parts, progress if ctx.is_main else no_progress)
    summary = train_flowley(
        run.cache,
        run.out,
        run.settings,
        resume=run.resume,
        max_seconds=run.max_seconds,
        progress=progress,
        ctx=ctx,
    )
    if ctx.is_main and run.bundle is not None:
        summary["bundle"] = str(write_bundle(run, parts, summary))
    return summary


def prepare_cache(run: FlowleyRun, parts: _LoadedParts, progress: ProgressCallback = no_progress) -> None:
    """Build the feature cache on first use, or add the audio embeddings or the visual onset
    feature it lacks (the onset feature only before the run's first step: a run part-trained
    without it cannot take it)."""
    encoder = None if parts.audio is None else parts.audio.encoder
    wanted = codec_preset(run.codec or DEFAULT_CODEC_PRESET)
    if run.cache.is_file() and run.codec is not None:
        cached = codec_from_config(cache_index(run.cache)["codec"])
        if not same_analysis(cached, wanted):
            raise DataError(
                f"the feature cache was built with another codec ({cached.sample_rate} Hz, "
                f"{cached.token_rate:g} tokens/s) than --codec {run.codec} ({wanted.sample_rate} Hz, "
                f"{wanted.token_rate:g} tokens/s); use a new run folder",
                run.cache,
            )
    if not run.cache.is_file():
        records = [r for r in scan_folder(run.data) if r.split in ("train", "val")]
        train = [r for r in records if r.split == "train"][: run.train_clips]
        records = train + [r for r in records if r.split == "val"]
        build_feature_cache(
            records,
            parts.clip,
            wanted,
            run.cache,
            audio_encoder=encoder,
            onset_net=parts.onsets,
            progress=progress,
        )
        return
    if encoder is not None and not run.resume and not _cache_has(run.cache, "audio_embedding"):
        add_audio_embeddings(run.cache, scan_folder(run.data), encoder, progress=progress)
    has_onsets = "visual_onsets" in cache_index(run.cache)
    if parts.onsets is not None and not has_onsets and not has_training_state(run.out):
        add_visual_onsets(run.cache, scan_folder(run.data), parts.onsets, progress=progress)


def write_bundle(run: FlowleyRun, parts: _LoadedParts, summary: dict[str, Any]) -> Path:
    """The model bundle of the run's EMA weights with its parts, and every part's training log."""
    assert run.bundle is not None
    init = run.settings.init_from
    # Read before writing: a part may come from the very bundle being replaced.
    logs = part_logs(
        {
            "clip": run.parts.clip,
            "audio": run.parts.audio,
            "ssv2a": run.parts.ssv2a,
            "onsets": run.parts.onsets,
        }
    )
    logs["training_log.jsonl"] = (run.out / "log.jsonl").read_bytes()
    if init is not None:  # the run (or bundle) this one was fine-tuned from
        logs.update({"init_" + k: v for k, v in part_logs({"flowley": init}).items()})
    ssv2a = None if run.parts.ssv2a is None else load_ssv2a_part(run.parts.ssv2a)
    # The codec as the cache fitted it (its normalisation), so tokens decode as trained.
    codec = codec_from_config(cache_index(run.cache)["codec"])
    audio = None if parts.audio is None else (parts.audio.encoder, parts.audio.classifier)
    training = {
        **summary,
        "data": str(run.data),
        "clip_run": str(run.parts.clip),
        **({"init_run": str(init)} if init else {}),
        **({"onsets_run": str(run.parts.onsets)} if run.parts.onsets else {}),
    }
    licences = corpus_licences(run.data)
    if licences is not None:  # attribution of any recordings the corpus drew on
        training["data_licences"] = licences
    path = write_model_bundle(
        run.bundle,
        run.bundle_name,
        load_ema_model(run.out),
        codec,
        parts.clip,
        training=training,
        description="Flowley trained on FoleyWorld",
        audio=audio,
        ssv2a=ssv2a,
        onsets=parts.onsets,
        version=run.bundle_version,
    )
    for name, data in logs.items():  # the training logs travel with the weights
        atomic_write_bytes(path / name, data)
    return path


def _cache_has(cache: Path, name: str) -> bool:
    with safe_open(str(cache), "pt") as f:
        return name in f.keys()  # noqa: SIM118 (safe_open is not a dict)
