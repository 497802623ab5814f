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
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from foleystudio.core.atomicfile import atomic_write_bytes
from foleystudio.core.boxes import Box
from foleystudio.core.jobs import CancelToken, ProgressCallback, no_progress, sub_progress
from foleystudio.core.machine import machine_description
from foleystudio.core.media import VideoFile
from foleystudio.data.datasets import ClipRecord
from foleystudio.errors import DataError
from foleystudio.ml.encoders.clip_encoder import ClipEncoder, ClipEncoderConfig
from foleystudio.train.distributed import (
    DistributedContext,
    contrastive_loss,
    local_batch_size,
    shard_rows,
    single_process_context,
    wrap_model,
)
from foleystudio.train.loop import LoopResult, LoopSettings, Task, TrainLoop, Update


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


class _ClipTask(Task[tuple[torch.Tensor, torch.Tensor]]):
    """Contrastive loss on random training pairs; validation: image→text retrieval."""

    label = "CLIP"

    def __init__(
        self,
        encoder: ClipEncoder,
        net: torch.nn.Module,
        pairs: ImageTextPairs,
        settings: ClipTrainSettings,
        ctx: DistributedContext,
        run_dir: Path,
    ) -> None:
        self.encoder, self.net, self.pairs, self.settings, self.ctx = encoder, net, pairs, settings, ctx
        self.run_dir = run_dir
        self.train_rows = np.array([i for i, s in enumerate(pairs.splits) if s == "train"])
        self.val_rows = np.array([i for i, s in enumerate(pairs.splits) if s == "val"])
        self.loss_fn = contrastive_loss(ctx)

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(pixels, tokens) of this rank's share of the step's pairs."""
        s, gen = self.settings, np.random.default_rng((self.settings.seed, step))
        rows = gen.choice(self.train_rows, size=min(s.batch_size, len(self.train_rows)), replace=False)
        rows = shard_rows(rows, self.ctx, drop_remainder=True)  # this rank's share of the global batch
        images = self.pairs.images[rows]
        if gen.random() < 0.5:  # sound does not depend on left/right
            images = images[:, :, ::-1]
        pixels = self.encoder.preprocess(np.ascontiguousarray(images))
        return pixels, self.encoder.tokenize([self.pairs.texts[i] for i in rows])

    def loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> Update:
        image, text, logit_scale = self.net(*batch)
        # Each rank's loss is its rows' share; the loop averages it over ranks for the log.
        return Update(
            self.loss_fn(image, text, logit_scale), info={"logit_scale": float(logit_scale.detach())}
        )

    def after_update(self, step: int) -> None:
        with torch.no_grad():
            self.encoder.model.logit_scale.clamp_(0, np.log(100))

    def evaluate(self, step: int) -> dict[str, Any]:
        if not len(self.val_rows):
            return {}
        return {"retrieval_top1": retrieval_accuracy(self.encoder, self.pairs, self.val_rows)}

    def finish(self, result: LoopResult) -> dict[str, Any]:
        summary = {**result.summary(), "pairs": len(self.pairs.texts)}
        if result.finished and self.ctx.is_main:
            self.encoder.save_weights(self.run_dir / "clip.safetensors")
            config = json.dumps(self.encoder.config.to_dict(), indent=2).encode()
            atomic_write_bytes(self.run_dir / "clip_config.json", config)
            if "retrieval_top1" in result.evaluation:
                summary["val_retrieval_top1"] = result.evaluation["retrieval_top1"]
        return summary


def train_clip(
    records: Sequence[ClipRecord],
    run_dir: str | os.PathLike[str],
    settings: ClipTrainSettings = ClipTrainSettings(),
    *,
    resume: bool = False,
    device: str = "auto",
    max_seconds: float | None = None,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    ctx: DistributedContext | None = None,
) -> dict[str, Any]:
    """Train (or resume) the CLIP encoder; a finished run writes ``clip.safetensors`` +
    ``clip_config.json``.

    Stopping (cancel, ``max_seconds`` of this call: resumable, no final files, ``finished:
    False``) and the log are ``train/loop.py``'s. ``ctx`` (from
    :func:`~foleystudio.train.distributed.init_distributed`) trains this rank of a torchrun run
    on ``ctx.device`` (``device`` is then ignored); None is one process on ``device``. Only rank
    0 writes files and reports progress; every rank returns the summary (the validation figure
    only on rank 0) once rank 0 has written the finished run.
    """
    run_dir = Path(run_dir)
    ctx = single_process_context(device) if ctx is None else ctx
    if ctx.distributed:
        local_batch_size(settings.batch_size, ctx)  # a batch that does not split fails here
    if not ctx.is_main:
        progress = no_progress
    encoder = ClipEncoder.from_config(ClipEncoderConfig(settings.config), ctx.device, seed=settings.seed)
    optimizer = torch.optim.AdamW(
        encoder.model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
    )
    loop = TrainLoop(run_dir, encoder.model, optimizer, _loop_settings(settings), ctx=ctx, resume=resume)
    pairs = collect_pairs(
        records,
        encoder.image_size,
        settings.frames_per_clip,
        settings.seed,
        cancel,
        sub_progress(progress, 0, 0.2),
    )
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
    task = _ClipTask(encoder, net, pairs, settings, ctx, run_dir)
    facts = {
        "settings": asdict(settings),
        "processes": ctx.world_size,
        "pairs": len(pairs.texts),
        "train_pairs": len(task.train_rows),
        "val_pairs": len(task.val_rows),
        "distinct_texts": len(set(pairs.texts)),
        "machine": machine_description(),
    }
    return loop.run(
        task,
        facts=facts,
        checkpoint_meta={"settings": asdict(settings)},
        max_seconds=max_seconds,
        progress=sub_progress(progress, 0.2, 1.0),
        cancel=cancel,
    )


def _loop_settings(settings: ClipTrainSettings) -> LoopSettings:
    # Validated at each checkpoint (retrieval is slow next to a step); CLIP's update is unclipped.
    return LoopSettings.from_settings(settings, eval_every=settings.save_every, grad_clip=None)


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
