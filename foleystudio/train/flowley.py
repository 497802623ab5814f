"""Train Flowley on a feature cache (``data/datasets.py``), resumable, CPU or GPU.

The loop (``train/loop.py``) keeps the model, optimizer and EMA weights in the run folder every
``save_every`` steps, so a killed run resumes where it stopped with ``resume=True``; the log
(``log.jsonl``) keeps the training and validation losses, learning rate and wall time. Batches
are drawn from a generator seeded with ``(seed, step)``, so a resumed run sees the same batches
it would have seen without the interruption.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from foleystudio.core.jobs import CancelToken, ProgressCallback, no_progress
from foleystudio.core.machine import machine_description
from foleystudio.data.datasets import FeatureCache, cache_index
from foleystudio.errors import CheckpointError, DataError
from foleystudio.ml.features import VISUAL_FPS
from foleystudio.ml.flowley import Flowley, FlowleyConfig
from foleystudio.ml.flowley.conditions import Conditions
from foleystudio.ml.flowley.config import flowley_config
from foleystudio.ml.flowley.flow import FlowTrainingConfig, training_loss
from foleystudio.train.codec_transfer import carries, carry_projections
from foleystudio.train.distributed import (
    DistributedContext,
    local_batch_size,
    rank_generator,
    shard_rows,
    single_process_context,
    wrap_model,
)
from foleystudio.train.event_tracks import EventTrackSettings, with_event_tracks
from foleystudio.train.loop import EMA_FILE, LoopResult, LoopSettings, Task, TrainLoop, Update, step_generator
from foleystudio.train.reference_audio import (
    ReferencePool,
    ReferenceSettings,
    reference_path_trained,
    silence_reference_path,
    with_references,
)
from foleystudio.train.state import STATE_JSON
from foleystudio.train.timbre_swap import (
    MelLayout,
    SwapPool,
    TimbreSwapSettings,
    swapped_references,
    with_timbre_swaps,
)


@dataclass(frozen=True)
class FlowleyTrainSettings:
    """Hyper-parameters of a Flowley run."""

    config: str = "tiny"
    overrides: dict[str, Any] = field(default_factory=dict)
    steps: int = 6000
    batch_size: int = 8
    lr: float = 5e-4
    weight_decay: float = 0.01
    warmup: int = 200
    ema_decay: float = 0.999
    seed: int = 0
    log_every: int = 25
    eval_every: int = 250
    save_every: int = 250
    kinds: tuple[str, ...] = ("mix", "object")
    flow: dict[str, Any] = field(
        default_factory=lambda: {
            "onset_pos_weight": 4.0,
            "uniform_time_prob": 0.5,
            # Mix dropped often: without a Remixer (the common case) there is no mix at all.
            "drop_probs": {"mix": 0.5},
        }
    )
    #: Train with the SSV2A mix condition when the cache has ``audio_embedding``.
    use_mix: bool = True
    #: Std of the Gaussian noise added per channel to the training mix embedding.
    mix_noise: float = 0.1
    #: A Flowley run folder whose EMA weights start this run (fine-tuning); see
    #: :func:`init_from_run` for how a wider sync input is handled.
    init_from: str | None = None
    #: Rows whose onset feature is their true event track, some moved against the picture.
    event_tracks: EventTrackSettings = field(default_factory=EventTrackSettings)
    #: Object rows given a reference recording of the same kind of sound (timbre, not timing).
    references: ReferenceSettings = field(default_factory=ReferenceSettings)
    timbre_swap: TimbreSwapSettings = field(default_factory=TimbreSwapSettings)


def batch_conditions(
    batch: dict[str, torch.Tensor],
    device: torch.device,
    *,
    with_mix: bool = False,
    mix_noise: float = 0.0,
    generator: torch.Generator | None = None,
) -> Conditions:
    """Conditions of a cache batch (windows start at 0 s). ``with_mix`` adds the SSV2A mix
    condition: the target audio's own embedding (``audio_embedding``), as SSV2A fine-tunes its
    generator on the target's CLAP embedding, with Gaussian noise of std ``mix_noise`` per
    channel then re-normalised, so the model tolerates the Remixer's estimate at inference.
    A batch with ``ref_audio``/``ref_mask`` (``train/reference_audio.py``) adds the reference;
    ``timbre_swapped`` rows (``train/timbre_swap.py``) have their text hidden, and their
    picture where ``swap_hides_picture``."""
    b, tv = batch["visual"].shape[:2]
    times = (torch.arange(tv, dtype=torch.float32) / VISUAL_FPS).expand(b, tv)
    mix = None
    if with_mix and "audio_embedding" in batch:
        mix = batch["audio_embedding"].float()
        if mix_noise > 0:
            mix = F.normalize(mix + mix_noise * torch.randn(mix.shape, generator=generator), dim=-1)
    keep = {}
    if "hide_picture" in batch:
        # Reference rows whose picture, text and mix are hidden (train/reference_audio.py).
        shown = ~batch["hide_picture"].bool()
        keep = {"visual": shown, "text": shown, "mix": shown}
    if "timbre_swapped" in batch:
        # A swapped row's caption names the sound it no longer has (train/timbre_swap.py).
        told = ~batch["timbre_swapped"].bool()
        keep["text"] = keep["text"] & told if "text" in keep else told
        if "swap_hides_picture" in batch:
            shown = ~batch["swap_hides_picture"].bool()
            keep["visual"] = keep["visual"] & shown if "visual" in keep else shown
    return Conditions(
        visual=batch["visual"].float(),
        visual_times=times,
        text=batch["text"].float(),
        text_mask=batch["text_mask"].bool(),
        text_pooled=batch["text_pooled"].float(),
        sync=batch["sync"].float(),
        mix=mix,
        ref_audio=batch["ref_audio"].float() if "ref_audio" in batch else None,
        ref_mask=batch.get("ref_mask"),
        audio_start=torch.zeros(b),
        keep=keep,
    ).to(device)


def _take(data: FeatureCache, rows: torch.Tensor) -> dict[str, torch.Tensor]:
    return {k: v[rows] for k, v in data.tensors.items()}


def model_config_for(cache: FeatureCache, settings: FlowleyTrainSettings) -> FlowleyConfig:
    """The network config with its input sizes taken from the cache."""
    t = cache.tensors
    dims = {
        "clip_dim": t["visual"].shape[-1],
        "text_dim": t["text"].shape[-1],
        "text_pooled_dim": t["text_pooled"].shape[-1],
        "sync_dim": t["sync"].shape[-1],
        "latent_dim": t["tokens"].shape[-1],
        **({"mix_dim": t["audio_embedding"].shape[-1]} if "audio_embedding" in t else {}),
        "token_rate": float(cache.meta["token_rate"]),
        "window_seconds": float(cache.meta["window_seconds"]),
    }
    return flowley_config(settings.config, **{**dims, **settings.overrides})


@torch.no_grad()
def validation_loss(
    model: Flowley, data: FeatureCache, device: torch.device, batch_size: int = 16, seed: int = 1234
) -> float:
    """Mean flow loss over a split with fixed noise (comparable across steps and runs)."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    flow_cfg = FlowTrainingConfig(drop_prob=0.0, inpaint_prob=0.0)
    total, count = 0.0, 0
    for start in range(0, len(data), batch_size):
        rows = torch.arange(start, min(start + batch_size, len(data)))
        batch = _take(data, rows)
        loss, parts = training_loss(
            model, batch["tokens"].float().to(device), batch_conditions(batch, device), gen, flow_cfg
        )
        total += parts["flow"] * len(rows)
        count += len(rows)
    model.train()
    return total / max(count, 1)


@dataclass(frozen=True, eq=False)
class _FlowleyBatch:
    """A step's rows (this rank's share) and the generator of their noise."""

    tensors: dict[str, torch.Tensor]
    generator: torch.Generator


class _FlowleyTask(Task[_FlowleyBatch]):
    """Flow-matching loss on random cache rows; validation: the fixed-noise flow loss."""

    label = "Flowley"

    def __init__(
        self,
        net: torch.nn.Module,
        model: Flowley,
        train: FeatureCache,
        val: FeatureCache | None,
        settings: FlowleyTrainSettings,
        ctx: DistributedContext,
    ) -> None:
        self.net, self.model, self.train, self.val = net, model, train, val
        self.settings, self.ctx = settings, ctx
        self.flow = FlowTrainingConfig(**settings.flow)
        self.pool = ReferencePool.from_examples(train.examples) if settings.references.enabled else None
        self.swaps = (
            SwapPool.from_examples(train.examples, train.tensors["onsets"])
            if settings.timbre_swap.enabled
            else None
        )
        self.layout = MelLayout.from_codec(train.meta["codec"]) if self.swaps is not None else None

    def batch(self, step: int) -> _FlowleyBatch:
        s = self.settings
        gen = step_generator(s.seed, step)
        rows = shard_rows(torch.randint(len(self.train), (s.batch_size,), generator=gen), self.ctx)
        tensors = _take(self.train, rows)
        gen = rank_generator(gen, self.ctx)
        if self.swaps is not None and self.layout is not None:
            # Before the event tracks, which may move the (swapped) sound with its onsets.
            tensors = with_timbre_swaps(
                tensors, rows, self.train.tensors, self.swaps, self.layout, s.timbre_swap, gen
            )
        if s.event_tracks.enabled:
            tensors = with_event_tracks(tensors, self.model.config.token_rate, s.event_tracks, gen)
        if self.pool is not None:
            tensors = with_references(
                tensors,
                rows,
                self.train.tensors["tokens"],
                self.pool,
                self.model.config.token_rate,
                s.references,
                gen,
            )
            tensors = swapped_references(tensors, self.train.tensors["tokens"], gen)
        return _FlowleyBatch(tensors, gen)

    def loss(self, batch: _FlowleyBatch) -> Update:
        s, dev, b = self.settings, self.ctx.device, batch.tensors
        conditions = batch_conditions(
            b, dev, with_mix=s.use_mix, mix_noise=s.mix_noise, generator=batch.generator
        )
        loss, parts = training_loss(
            self.net,
            b["tokens"].float().to(dev),
            conditions,
            batch.generator,
            self.flow,
            onset_targets=b["onsets"].float().to(dev),
            # A swapped row without its mix would have nothing telling what it sounds like.
            always_keep={"mix": b["timbre_swapped"]} if "timbre_swapped" in b else None,
        )
        return Update(loss, scalars=parts)

    def evaluate(self, step: int) -> dict[str, Any]:
        if self.val is None:
            return {}
        return {"val_flow": validation_loss(self.model, self.val, self.ctx.device)}

    def finish(self, result: LoopResult) -> dict[str, Any]:
        return {
            **result.summary(),
            "val_flow": result.evaluation.get("val_flow"),
            "parameters": self.model.num_parameters(),
            "config": self.model.config.to_dict(),
        }


def train_flowley(
    cache_path: str | os.PathLike[str],
    run_dir: str | os.PathLike[str],
    settings: FlowleyTrainSettings = FlowleyTrainSettings(),
    *,
    resume: bool = False,
    device: str = "auto",
    max_seconds: float | None = None,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    ctx: DistributedContext | None = None,
) -> dict[str, Any]:
    """Train (or resume) a Flowley run; returns a summary with the final losses and time.

    Stopping, time budget (``max_seconds``: seconds of this call) and the log are
    ``train/loop.py``'s. ``ctx`` (from :func:`~foleystudio.train.distributed.init_distributed`,
    under torchrun) makes this one of several DDP processes: each trains on its share of the
    global batch ``settings.batch_size``; only rank 0 logs, validates and checkpoints."""
    ctx = ctx or single_process_context(device)
    local_batch_size(settings.batch_size, ctx)
    train = FeatureCache(cache_path, "train", settings.kinds)
    try:
        val = FeatureCache(cache_path, "val", ("mix",))
    except DataError:
        val = None
    config = model_config_for(train, settings)
    if settings.event_tracks.enabled and "visual_onsets" not in train.meta:
        raise DataError("event-track training needs a cache with the onset feature (--onsets)", cache_path)
    if settings.timbre_swap.enabled and ("object" not in settings.kinds or not settings.use_mix):
        raise DataError("timbre swaps need object rows and the mix condition", cache_path)
    if settings.references.enabled and (not config.ref_audio or "object" not in settings.kinds):
        raise DataError(
            "reference training needs object rows and a network with reference attention", cache_path
        )
    torch.manual_seed(settings.seed)
    model = Flowley(config).to(ctx.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    loop = TrainLoop(run_dir, model, optimizer, _loop_settings(settings), ctx=ctx, resume=resume)
    reshaped: list[str] = []
    if not loop.resumed and settings.init_from is not None:
        reshaped = init_from_run(model, settings.init_from, train.meta.get("codec"))
        if settings.references.enabled and not reference_path_trained(settings.init_from):
            silence_reference_path(model)
    # Unused parameters are normal: a batch without mix/reference audio leaves their layers idle.
    net = wrap_model(model, ctx, find_unused_parameters=True)
    # A resumed run may have new settings (e.g. more steps): its resume line keeps them.
    facts = {
        "settings": asdict(settings),
        "config": config.to_dict(),
        "parameters": model.num_parameters(),
        "processes": ctx.world_size,
        "train_examples": len(train),
        "val_examples": len(val) if val else 0,
        "machine": machine_description(),
        "cache": str(cache_path),
        # A warm start from another codec: the token projections carried or begun fresh.
        "init_reshaped": reshaped,
    }
    return loop.run(
        _FlowleyTask(net, model, train, val, settings, ctx),
        facts=facts,
        checkpoint_meta={"config": config.to_dict(), "settings": asdict(settings)},
        max_seconds=max_seconds,
        progress=progress,
        cancel=cancel,
    )


def _loop_settings(settings: FlowleyTrainSettings) -> LoopSettings:
    return LoopSettings.from_settings(settings, ema_decay=settings.ema_decay)


#: Config fields the codec preset sets (``--codec``): a run may start from a model of another
#: codec, keeping every weight that does not depend on them (:func:`init_from_run`).
CODEC_FIELDS = ("latent_dim", "token_rate")


def init_from_run(
    model: Flowley, run_dir: str | os.PathLike[str], codec: Mapping[str, Any] | None = None
) -> list[str]:
    """Load the EMA weights of the Flowley run ``run_dir`` (or the Flowley of a model bundle)
    into ``model`` (same config but for ``sync_dim`` and the codec's :data:`CODEC_FIELDS`).

    A model with more sync features than the run gets the run's weights for the first ones and
    zero weights for the added ones, so it starts out computing exactly what the run computed
    and learns to use the new features. A model of another codec (e.g. the 24 kHz preset from
    the 16 kHz model) takes every weight whose shape is unchanged, the transformer and all
    condition paths (RoPE periods and the visual and sync features are in seconds, not tokens).
    Its token projections are carried bin by bin (``train/codec_transfer.py``) when both the
    run's codec and ``codec`` (the new model's codec config) are known mel codecs with the same
    patch, else left at their fresh initialisation. Returns the names of the weights carried or
    left fresh (empty unless the codec changed); any other mismatch → CheckpointError."""
    from foleystudio.train.parts import bundle_at

    bundle = bundle_at(run_dir)
    source = load_ema_model(run_dir) if bundle is None else bundle.build_flowley()
    theirs, ours = source.config.to_dict(), model.config.to_dict()
    for key in ("sync_dim", *CODEC_FIELDS):
        theirs.pop(key), ours.pop(key)
    if theirs != ours:
        changed = sorted(k for k in ours if ours[k] != theirs.get(k))
        raise CheckpointError(f"cannot start from this run: its network differs in {changed}", run_dir)
    added = model.config.sync_dim - source.config.sync_dim
    if added < 0:
        raise CheckpointError(
            f"the run has {source.config.sync_dim} sync features, this model only {model.config.sync_dim}",
            run_dir,
        )
    state = source.state_dict()
    first = state["sync_net.0.weight"]  # [hidden, sync_dim, kernel]
    state["sync_net.0.weight"] = torch.cat(
        [first, first.new_zeros(first.shape[0], added, first.shape[2])], dim=1
    )
    own = model.state_dict()
    reshaped = sorted(name for name, value in own.items() if state[name].shape != value.shape)
    if reshaped and all(getattr(source.config, k) == getattr(model.config, k) for k in CODEC_FIELDS):
        raise CheckpointError(f"cannot start from this run: weights of another shape: {reshaped}", run_dir)
    if reshaped:
        source_codec = bundle.config("codec") if bundle is not None else _run_codec(Path(run_dir))
        if carries(source_codec, codec):
            carry_projections(state, source_codec, codec)  # type: ignore[arg-type]
    for name in reshaped:
        if state[name].shape != own[name].shape:
            state[name] = own[name]
    model.load_state_dict(state, strict=True)
    return reshaped


def _run_codec(run_dir: Path) -> dict[str, Any] | None:
    """The codec config of a Flowley run's feature cache, or None when the run has no cache."""
    # flowley_run builds on this module, hence the import here.
    from foleystudio.train.flowley_run import CACHE_FILE

    cache = run_dir / CACHE_FILE
    return cache_index(cache).get("codec") if cache.with_suffix(".json").is_file() else None


def load_ema_model(run_dir: str | os.PathLike[str]) -> Flowley:
    """The EMA weights of a run as an eval-mode Flowley (for export into a bundle)."""
    run_dir = Path(run_dir)
    meta = json.loads((run_dir / STATE_JSON).read_text())
    model = Flowley(FlowleyConfig.from_dict(meta["config"]))
    model.load_state_dict(load_file(str(run_dir / EMA_FILE)), strict=True)
    return model.eval()
