"""Train Flowley on a feature cache (``data/datasets.py``), resumable, CPU or GPU.

Every ``save_every`` steps the run folder gets the model, optimizer and EMA weights
(``train/state.py``), so a killed run resumes where it stopped with ``resume=True``. The
log (``log.jsonl``) keeps the training and validation losses, learning rate and wall time.
Batches are drawn from a generator seeded with ``(seed, step)``, so a resumed run sees the
same batches it would have seen without the interruption.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save

from foleystudio.core.atomicfile import atomic_write_bytes
from foleystudio.core.jobs import CancelToken, ProgressCallback, no_progress
from foleystudio.core.machine import machine_description
from foleystudio.data.datasets import FeatureCache
from foleystudio.errors import CheckpointError, DataError
from foleystudio.ml.features import VISUAL_FPS
from foleystudio.ml.flowley import Flowley, FlowleyConfig
from foleystudio.ml.flowley.conditions import Conditions
from foleystudio.ml.flowley.config import flowley_config
from foleystudio.ml.flowley.flow import FlowTrainingConfig, training_loss
from foleystudio.train.common import Ema, RunLog, warmup_cosine
from foleystudio.train.distributed import (
    DistributedContext,
    all_reduce_means,
    any_rank,
    barrier,
    local_batch_size,
    rank_generator,
    shard_rows,
    single_process_context,
    wrap_model,
)
from foleystudio.train.event_tracks import EventTrackSettings, with_event_tracks
from foleystudio.train.state import resume_or_start, save_training_state


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
    channel then re-normalised, so the model tolerates the Remixer's estimate at inference."""
    b, tv = batch["visual"].shape[:2]
    times = (torch.arange(tv, dtype=torch.float32) / VISUAL_FPS).expand(b, tv)
    mix = None
    if with_mix and "audio_embedding" in batch:
        mix = batch["audio_embedding"].float()
        if mix_noise > 0:
            mix = F.normalize(mix + mix_noise * torch.randn(mix.shape, generator=generator), dim=-1)
    return Conditions(
        visual=batch["visual"].float(),
        visual_times=times,
        text=batch["text"].float(),
        text_mask=batch["text_mask"].bool(),
        text_pooled=batch["text_pooled"].float(),
        sync=batch["sync"].float(),
        mix=mix,
        audio_start=torch.zeros(b),
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

    ``ctx`` (from :func:`~foleystudio.train.distributed.init_distributed`, under torchrun)
    makes this one of several DDP processes: each trains on its share of the global batch
    ``settings.batch_size``; only rank 0 logs, validates and checkpoints."""
    run_dir = Path(run_dir)
    ctx = ctx or single_process_context(device)
    dev = ctx.device
    local_batch_size(settings.batch_size, ctx)
    if not ctx.is_main:
        progress = no_progress
    train = FeatureCache(cache_path, "train", settings.kinds)
    try:
        val = FeatureCache(cache_path, "val", ("mix",))
    except DataError:
        val = None
    config = model_config_for(train, settings)
    if settings.event_tracks.enabled and "visual_onsets" not in train.meta:
        raise DataError("event-track training needs a cache with the onset feature (--onsets)", cache_path)
    torch.manual_seed(settings.seed)
    model = Flowley(config).to(dev)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    log = RunLog(run_dir) if ctx.is_main else None
    step, elapsed, meta = resume_or_start(run_dir, model, optimizer, resume)
    if meta is None and settings.init_from is not None:
        init_from_run(model, settings.init_from)
    ema = Ema(model, settings.ema_decay)
    # Unused parameters are normal: a batch without mix/reference audio leaves their layers idle.
    net = wrap_model(model, ctx, find_unused_parameters=True)
    if meta is not None:
        ema.load_state_dict(load_file(str(run_dir / "ema.safetensors")))
        if log is not None:  # a resumed run may have new settings (e.g. more steps): keep them
            log.write(event="resume", step=step, settings=asdict(settings))
    elif log is not None:
        log.write(
            event="start",
            settings=asdict(settings),
            config=config.to_dict(),
            parameters=model.num_parameters(),
            train_examples=len(train),
            val_examples=len(val) if val else 0,
            machine=machine_description(),
            cache=str(cache_path),
        )
    flow_cfg = FlowTrainingConfig(**settings.flow)

    def checkpoint() -> None:
        save_training_state(
            run_dir,
            model,
            optimizer,
            step,
            {"elapsed": elapsed, "config": config.to_dict(), "settings": asdict(settings)},
        )
        atomic_write_bytes(
            run_dir / "ema.safetensors",
            save({k: v.detach().cpu().contiguous() for k, v in ema.state_dict().items()}),
        )

    model.train()
    started = time.monotonic() - elapsed
    last_val = None
    while step < settings.steps:
        stop = (cancel is not None and cancel.cancelled) or (
            max_seconds is not None and time.monotonic() - started - elapsed >= max_seconds
        )
        if any_rank(stop, ctx):  # every rank stops at the same step, or the others would hang
            break
        gen = torch.Generator().manual_seed(settings.seed * 1_000_003 + step)
        rows = shard_rows(torch.randint(len(train), (settings.batch_size,), generator=gen), ctx)
        batch = _take(train, rows)
        gen = rank_generator(gen, ctx)
        if settings.event_tracks.enabled:
            batch = with_event_tracks(batch, config.token_rate, settings.event_tracks, gen)
        for group in optimizer.param_groups:
            group["lr"] = settings.lr * warmup_cosine(step, settings.steps, settings.warmup)
        loss, parts = training_loss(
            net,
            batch["tokens"].float().to(dev),
            batch_conditions(
                batch, dev, with_mix=settings.use_mix, mix_noise=settings.mix_noise, generator=gen
            ),
            gen,
            flow_cfg,
            onset_targets=batch["onsets"].float().to(dev),
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0))
        optimizer.step()
        ema.update(model, step)
        step += 1
        if step % settings.log_every == 0:
            parts = all_reduce_means(parts, ctx)  # every rank joins; rank 0 writes
            if log is not None:
                log.write(
                    event="train",
                    step=step,
                    lr=optimizer.param_groups[0]["lr"],
                    grad_norm=grad_norm,
                    wall=round(time.monotonic() - started, 1),
                    **parts,
                )
        if val is not None and step % settings.eval_every == 0 and log is not None:
            last_val = validation_loss(model, val, dev)
            log.write(event="val", step=step, val_flow=last_val, wall=round(time.monotonic() - started, 1))
        if step % settings.save_every == 0:
            elapsed = time.monotonic() - started
            if ctx.is_main:
                checkpoint()
            barrier(ctx)
        progress(step / settings.steps, f"step {step}/{settings.steps} loss {parts['loss']:.4f}")
    elapsed = time.monotonic() - started
    if ctx.is_main:
        checkpoint()
        if last_val is None and val is not None:  # e.g. resumed at the last step: still report it
            last_val = validation_loss(model, val, dev)
    barrier(ctx)
    summary = {
        "steps": step,
        "elapsed_seconds": round(elapsed, 1),
        "val_flow": last_val,
        "parameters": model.num_parameters(),
        "config": config.to_dict(),
    }
    if log is not None:
        log.write(event="stop", **summary)
    return summary


def init_from_run(model: Flowley, run_dir: str | os.PathLike[str]) -> None:
    """Load the EMA weights of the Flowley run ``run_dir`` (or the Flowley of a model bundle)
    into ``model`` (same config but for ``sync_dim``). A model with more sync features than the
    run gets the run's weights for the first ones and zero weights for the added ones, so it
    starts out computing exactly what the run computed and learns to use the new features; any
    other mismatch → CheckpointError."""
    from foleystudio.train.parts import bundle_at

    bundle = bundle_at(run_dir)
    source = load_ema_model(run_dir) if bundle is None else bundle.build_flowley()
    theirs, ours = source.config.to_dict(), model.config.to_dict()
    theirs.pop("sync_dim"), ours.pop("sync_dim")
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
    model.load_state_dict(state, strict=True)


def load_ema_model(run_dir: str | os.PathLike[str]) -> Flowley:
    """The EMA weights of a run as an eval-mode Flowley (for export into a bundle)."""
    run_dir = Path(run_dir)
    import json

    from foleystudio.train.state import STATE_JSON

    meta = json.loads((run_dir / STATE_JSON).read_text())
    model = Flowley(FlowleyConfig.from_dict(meta["config"]))
    model.load_state_dict(load_file(str(run_dir / "ema.safetensors")), strict=True)
    return model.eval()
