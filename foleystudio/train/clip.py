"""Train the small CLIP encoder on FoleyWorld: frames ↔ captions, object crops ↔ their text.

open_clip builds the model (a custom small config, ``ml/encoders/clip_encoder.py``) and provides the
contrastive loss (``open_clip.ClipLoss``). Image–text pairs are collected once from the
corpus (a few frames per clip: the whole frame with the clip's text, each visible source's
box crop with that source's text), then trained for ``steps`` steps, resumable.

Under ``torchrun`` (a :class:`~foleystudio.train.distributed.DistributedContext` with several
ranks) ``batch_size`` is the global batch: every rank draws the same rows and trains on its
share, the loss gathers every rank's features, and rank 0 alone writes the run folder.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from foleystudio.core.atomicfile import atomic_write_bytes
from foleystudio.core.boxes import Box
from foleystudio.core.jobs import CancelToken, ProgressCallback, no_progress
from foleystudio.core.machine import machine_description
from foleystudio.core.media import VideoFile
from foleystudio.data.datasets import ClipRecord
from foleystudio.errors import DataError
from foleystudio.ml.encoders.clip_encoder import ClipEncoder, ClipEncoderConfig
from foleystudio.train.common import RunLog, warmup_cosine
from foleystudio.train.distributed import (
    DistributedContext,
    all_reduce_mean,
    any_rank,
    barrier,
    contrastive_loss,
    local_batch_size,
    shard_rows,
    single_process_context,
    wrap_model,
)
from foleystudio.train.state import resume_or_start, save_training_state


@dataclass(frozen=True)
class ClipTrainSettings:
    """Hyper-parameters of a CLIP run."""

    config: str = "fw-clip-tiny"
    steps: int = 1500
    batch_size: int = 128
    lr: float = 5e-4
    weight_decay: float = 0.1
    warmup: int = 100
    seed: int = 0
    frames_per_clip: int = 4
    log_every: int = 25
    save_every: int = 250


@dataclass(frozen=True, eq=False)
class ImageTextPairs:
    """uint8 images [N, S, S, 3] and their texts."""

    images: np.ndarray
    texts: list[str]
    splits: list[str]


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float()
    y = torch.nn.functional.interpolate(
        x, size=(size, size), mode="bilinear", antialias=True, align_corners=False
    )
    return y[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy()


def collect_pairs(
    records: Sequence[ClipRecord],
    image_size: int,
    frames_per_clip: int,
    seed: int,
    cancel: CancelToken | None = None,
    progress: ProgressCallback = no_progress,
) -> ImageTextPairs:
    """Image–text pairs from clips: whole frames with the clip text, crops with source texts."""
    rng = np.random.default_rng(seed)
    images, texts, splits = [], [], []
    for i, record in enumerate(records):
        if cancel is not None:
            cancel.raise_if_cancelled()
        truth = record.truth or {}
        if not (record.text or record.caption):
            continue
        with VideoFile(record.video) as video:
            duration = video.info.duration
            fps = float(truth.get("fps", video.info.fps))
            for t in np.sort(rng.uniform(0, duration, frames_per_clip)):
                frame = video.frame_at(float(t))
                images.append(_resize(frame, image_size))
                texts.append(record.text or record.caption)
                splits.append(record.split)
                index = min(int(t * fps), int(truth.get("n_frames", 1 << 30)) - 1)
                for source in truth.get("sources", []):
                    boxes = source.get("boxes") or []
                    box = boxes[index] if index < len(boxes) else None
                    if box is None or box[2] <= 0 or box[3] <= 0:
                        continue
                    margin = rng.uniform(0.05, 0.25)
                    grown = Box(
                        box[0] - margin * box[2],
                        box[1] - margin * box[3],
                        box[2] * (1 + 2 * margin),
                        box[3] * (1 + 2 * margin),
                    )
                    left, top, right, bottom = grown.to_pixels(frame.shape[1], frame.shape[0])
                    images.append(_resize(frame[top:bottom, left:right], image_size))
                    texts.append(source.get("text") or source.get("label", ""))
                    splits.append(record.split)
        progress((i + 1) / len(records), f"collecting image-text pairs {i + 1}/{len(records)}")
    if not images:
        raise DataError("no clips with text to train CLIP on")
    return ImageTextPairs(np.stack(images), texts, splits)


@torch.no_grad()
def retrieval_accuracy(encoder: ClipEncoder, pairs: ImageTextPairs, rows: np.ndarray) -> float:
    """Top-1 image→text accuracy among the distinct texts of ``rows``."""
    encoder.model.eval()
    texts = sorted({pairs.texts[i] for i in rows})
    _, _, text_emb = encoder.encode_text(texts)
    image_emb = encoder.encode_images(pairs.images[rows], batch_size=64)
    best = (image_emb @ text_emb.T).argmax(dim=1).cpu().numpy()
    truth = np.array([texts.index(pairs.texts[i]) for i in rows])
    encoder.model.train()
    return float((best == truth).mean())


def train_clip(
    records: Sequence[ClipRecord],
    run_dir: str | os.PathLike[str],
    settings: ClipTrainSettings = ClipTrainSettings(),
    *,
    resume: bool = False,
    device: str = "auto",
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    ctx: DistributedContext | None = None,
) -> dict[str, Any]:
    """Train (or resume) the CLIP encoder; writes ``clip.safetensors`` + ``clip_config.json``.

    ``ctx`` (from :func:`~foleystudio.train.distributed.init_distributed`) trains this rank of
    a torchrun run on ``ctx.device`` (``device`` is then ignored); None is one process on
    ``device``. Only rank 0 writes files and reports progress; every rank returns the summary
    (the validation figure only on rank 0) once rank 0 has written the finished run.
    """
    run_dir = Path(run_dir)
    ctx = single_process_context(device) if ctx is None else ctx
    if ctx.distributed:
        local_batch_size(settings.batch_size, ctx)  # a batch that does not split fails here
    if not ctx.is_main:
        progress = no_progress
    dev = ctx.device
    encoder = ClipEncoder.from_config(ClipEncoderConfig(settings.config), dev, seed=settings.seed)
    optimizer = torch.optim.AdamW(
        encoder.model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
    )
    log = RunLog(run_dir)
    step, elapsed, _ = resume_or_start(run_dir, encoder.model, optimizer, resume)
    pairs = collect_pairs(
        records,
        encoder.image_size,
        settings.frames_per_clip,
        settings.seed,
        cancel,
        lambda f, m: progress(0.2 * f, m),
    )
    train_rows = np.array([i for i, s in enumerate(pairs.splits) if s == "train"])
    val_rows = np.array([i for i, s in enumerate(pairs.splits) if s == "val"])
    if step == 0 and ctx.is_main:
        log.write(
            event="start",
            settings=asdict(settings),
            processes=ctx.world_size,
            pairs=len(pairs.texts),
            train_pairs=len(train_rows),
            val_pairs=len(val_rows),
            distinct_texts=len(set(pairs.texts)),
            machine=machine_description(),
        )
    loss_fn = contrastive_loss(ctx)
    # The towers run through the wrapper's forward so that DDP averages their gradients.
    net = wrap_model(
        encoder.model,
        ctx,
        forward=lambda m, pixels, tokens: (
            encoder.image_features(pixels),
            encoder.text_features(tokens)[2],
            m.logit_scale.exp(),
        ),
    )
    started = time.monotonic() - elapsed
    encoder.model.train()
    while step < settings.steps:
        if any_rank(cancel is not None and cancel.cancelled, ctx):
            break
        gen = np.random.default_rng((settings.seed, step))
        rows = gen.choice(train_rows, size=min(settings.batch_size, len(train_rows)), replace=False)
        rows = shard_rows(rows, ctx, drop_remainder=True)  # this rank's share of the global batch
        images = pairs.images[rows]
        if gen.random() < 0.5:  # sound does not depend on left/right
            images = images[:, :, ::-1]
        for group in optimizer.param_groups:
            group["lr"] = settings.lr * warmup_cosine(step, settings.steps, settings.warmup)
        pixels = encoder.preprocess(np.ascontiguousarray(images))
        tokens = encoder.tokenize([pairs.texts[i] for i in rows])
        loss = loss_fn(*net(pixels, tokens))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            encoder.model.logit_scale.clamp_(0, np.log(100))
        step += 1
        loss_value = all_reduce_mean(loss.item(), ctx)  # each rank's loss is its rows' share
        if step % settings.log_every == 0 and ctx.is_main:
            log.write(
                event="train",
                step=step,
                loss=loss_value,
                lr=optimizer.param_groups[0]["lr"],
                logit_scale=float(encoder.model.logit_scale.exp()),
                wall=round(time.monotonic() - started, 1),
            )
        if (step % settings.save_every == 0 or step == settings.steps) and ctx.is_main:
            elapsed = time.monotonic() - started
            save_training_state(run_dir, encoder.model, optimizer, step, {"elapsed": elapsed})
            if len(val_rows):
                log.write(event="val", step=step, retrieval_top1=retrieval_accuracy(encoder, pairs, val_rows))
        progress(
            0.2 + 0.8 * step / settings.steps, f"CLIP step {step}/{settings.steps} loss {loss_value:.3f}"
        )
    elapsed = time.monotonic() - started
    summary = {"steps": step, "elapsed_seconds": round(elapsed, 1), "pairs": len(pairs.texts)}
    if ctx.is_main:
        save_training_state(run_dir, encoder.model, optimizer, step, {"elapsed": elapsed})
        encoder.save_weights(run_dir / "clip.safetensors")
        atomic_write_bytes(
            run_dir / "clip_config.json", json.dumps(encoder.config.to_dict(), indent=2).encode()
        )
        if len(val_rows):
            summary["val_retrieval_top1"] = retrieval_accuracy(encoder, pairs, val_rows)
        log.write(event="stop", **summary)
    barrier(ctx)  # every rank returns once the finished run is on disk
    return summary


def load_trained_clip(run_dir: str | os.PathLike[str], device: str = "cpu") -> ClipEncoder:
    """The encoder of a finished CLIP run (its config and weights), or of a model bundle."""
    from foleystudio.ml.engine import clip_from_bundle
    from foleystudio.train.parts import bundle_at

    if (bundle := bundle_at(run_dir)) is not None:
        return clip_from_bundle(bundle, device)
    run_dir = Path(run_dir)
    try:
        config = ClipEncoderConfig.from_dict(json.loads((run_dir / "clip_config.json").read_text()))
    except (OSError, ValueError) as exc:
        raise DataError(f"not a finished CLIP run: {exc}", run_dir) from exc
    encoder = ClipEncoder.from_config(config, device)
    encoder.load_weights(run_dir / "clip.safetensors")
    encoder.model.eval()
    return encoder
