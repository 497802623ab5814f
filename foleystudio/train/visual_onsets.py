"""Train the visual onset network (``ml/encoders/visual_onsets.py``) on a FoleyWorld corpus.

Examples: every clip's whole picture against all its visible sources' onsets, and (with
``objects``) every boxed source's crop against that source's onsets. Frames are decoded once
into memory (32 × 32 grey at 24 fps: 8 s is 200 KB). A step draws random windows of
``window_frames`` frames, seeded by ``(seed, step)``; the loss is per-frame binary cross-entropy
with the onset frame positive. Augmentation (grey gain/offset, inversion, left-right flip)
keeps the network off the training looks' exact brightness, for new colours and backdrops.

Run by ``train/loop.py`` (resumable, logged to ``log.jsonl``); a finished run writes a model
bundle (``ml/model_bundle.py``) into ``bundle/`` of its run folder, with the one module
``visual_onsets`` and its validation figures in the manifest's ``training``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from foleystudio.core.jobs import CancelToken, ProgressCallback, no_progress
from foleystudio.core.machine import machine_description
from foleystudio.core.media import VideoFile
from foleystudio.data.datasets import ClipRecord, scan_folder, source_keyframes
from foleystudio.errors import DataError, FoleyStudioError
from foleystudio.ml.encoders.motion import MAX_SIDE, boxes_at_times, grey_small
from foleystudio.ml.encoders.visual_onsets import (
    MODULE,
    VisualOnsetConfig,
    VisualOnsetNet,
    load_from_bundle,
    network_frames,
    onset_probabilities,
    peak_onsets,
)
from foleystudio.ml.metrics import average_precision, onset_f1
from foleystudio.ml.model_bundle import load_bundle, save_bundle
from foleystudio.train.distributed import single_process_context
from foleystudio.train.loop import LoopResult, LoopSettings, Task, TrainLoop, Update, step_generator
from foleystudio.train.parts import RUN_BUNDLE_DIR, finished_run_bundle

#: The bundle a finished run writes inside its run folder.
BUNDLE_DIR = RUN_BUNDLE_DIR


@dataclass(frozen=True)
class VisualOnsetTrainSettings:
    """Hyper-parameters of a visual onset run."""

    steps: int = 3000
    batch_size: int = 16
    window_frames: int = 96
    lr: float = 2e-3
    weight_decay: float = 0.01
    warmup: int = 100
    pos_weight: float = 3.0
    seed: int = 0
    log_every: int = 25
    eval_every: int = 250
    save_every: int = 250
    objects: bool = True
    #: Peak threshold of the validation onset F1 (probability).
    threshold: float = 0.5


@dataclass(frozen=True)
class OnsetExample:
    """One training/validation example: ``frames`` [T, size, size] float16 in [0, 1] at the
    network's fps, ``onsets`` seconds from the first frame, ``kind`` ``mix`` | ``object``."""

    clip: str
    split: str
    kind: str
    frames: np.ndarray
    onsets: np.ndarray

    def labels(self, fps: float) -> np.ndarray:
        """[T] float32, 1 at the frame nearest each onset."""
        out = np.zeros(len(self.frames), np.float32)
        index = np.rint(self.onsets * fps).astype(np.int64)
        out[index[(index >= 0) & (index < len(out))]] = 1.0
        return out


def onset_examples(
    records: Sequence[ClipRecord],
    config: VisualOnsetConfig,
    *,
    objects: bool = True,
    cancel: CancelToken | None = None,
    progress: ProgressCallback = no_progress,
) -> list[OnsetExample]:
    """Decode each FoleyWorld record once into whole-frame (and per-object crop) examples;
    records without ground truth are refused (their onsets are unknown)."""
    out: list[OnsetExample] = []
    for i, record in enumerate(records):
        if cancel is not None:
            cancel.raise_if_cancelled()
        if not record.truth:
            raise DataError(
                "the visual onset network trains on FoleyWorld clips (with ground truth)", record.video
            )
        sources = record.truth.get("sources", [])
        truth_fps = float(record.truth.get("fps", config.fps))
        greys: list[np.ndarray] = []
        times: list[float] = []
        try:
            with VideoFile(record.video) as video:
                for t, frame in video.iter_frames(config.fps, MAX_SIDE):
                    greys.append(grey_small(frame))
                    times.append(t)
        except FoleyStudioError as exc:
            raise DataError(f"cannot read clip: {exc.problem}", exc.path or record.video) from exc
        if not greys:
            raise DataError("clip has no frames", record.video)
        whole = network_frames(greys, config.size).astype(np.float16)
        all_onsets = np.asarray(sorted(t for s in sources for t in s.get("onsets", [])), np.float64)
        out.append(OnsetExample(record.name, record.split, "mix", whole, all_onsets))
        for source in sources if objects else []:
            keys = source_keyframes(source.get("boxes") or [], truth_fps)
            if not keys:
                continue
            boxes = boxes_at_times(keys, np.asarray(times))
            crops = network_frames(greys, config.size, boxes).astype(np.float16)
            out.append(
                OnsetExample(
                    record.name,
                    record.split,
                    "object",
                    crops,
                    np.asarray(source.get("onsets", []), np.float64),
                )
            )
        progress((i + 1) / len(records), f"decoding {i + 1}/{len(records)}")
    return out


#: Suffixes of the videos a self-supervised run reads from a folder.
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")
#: Audio onsets of recorded soundtracks are picked 5 robust sigmas above the floor (a room or
#: crowd floor; the FoleyWorld default of 10 finds nothing in some real clips).
SOUNDTRACK_NOISE_SIGMAS = 5.0


def is_foleyworld_corpus(folder: str | os.PathLike[str]) -> bool:
    """Whether ``folder`` is a FoleyWorld corpus (it has ``index.json``)."""
    return (Path(folder) / "index.json").is_file()


def held_out_names(videos: Sequence[Path], val_share: float) -> set[str]:
    """File names of the stable share ``val_share`` of ``videos`` held out for validation (by a
    hash of the name, so adding files does not reshuffle; at least one of two or more)."""
    import zlib

    keyed = sorted(videos, key=lambda p: zlib.crc32(p.name.encode()))
    n_val = 0 if len(videos) < 2 else max(1, round(val_share * len(videos)))
    return {p.name for p in keyed[:n_val]}


def soundtrack_examples(
    folder: str | os.PathLike[str],
    config: VisualOnsetConfig,
    *,
    val_share: float = 0.1,
    cancel: CancelToken | None = None,
    progress: ProgressCallback = no_progress,
) -> list[OnsetExample]:
    """Self-supervised examples from any folder of videos with sound: each video's whole
    picture, labelled with the onsets of its own soundtrack (no hand annotation). Videos
    without sound are skipped; :func:`held_out_names` are held out for validation."""
    from foleystudio.core.media import probe, read_audio
    from foleystudio.ml.onsets import ONSET_ANALYSIS_RATE, detect_onsets

    root = Path(folder)
    if not root.is_dir():
        raise DataError("data folder does not exist", root)
    videos = sorted(p for p in root.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
    val_names = held_out_names(videos, val_share)
    out: list[OnsetExample] = []
    for i, path in enumerate(videos):
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            info = probe(path)
            if not (info.has_video and info.has_audio):
                continue
            greys = []
            with VideoFile(path) as video:
                for _, frame in video.iter_frames(config.fps, MAX_SIDE):
                    greys.append(grey_small(frame))
            sound = read_audio(path, ONSET_ANALYSIS_RATE, end=len(greys) / config.fps)
        except FoleyStudioError as exc:
            raise DataError(f"cannot read video: {exc.problem}", exc.path or path) from exc
        if not greys:
            continue
        onsets = detect_onsets(sound, ONSET_ANALYSIS_RATE, noise_sigmas=SOUNDTRACK_NOISE_SIGMAS)
        split = "val" if path.name in val_names else "train"
        frames = network_frames(greys, config.size).astype(np.float16)
        out.append(OnsetExample(path.stem, split, "mix", frames, onsets))
        progress((i + 1) / len(videos), f"decoding {i + 1}/{len(videos)}")
    if not any(e.split == "train" for e in out):
        raise DataError("no videos with sound to learn from", root)
    return out


def _augment(frames: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random per-example grey gain/offset, inversion and left-right flip of ``[B, T, S, S]``."""
    batch = frames.shape[0]
    gain = 0.6 + 0.8 * torch.rand(batch, 1, 1, 1, generator=generator)
    offset = 0.3 * (torch.rand(batch, 1, 1, 1, generator=generator) - 0.5)
    out = ((frames - 0.5) * gain + 0.5 + offset).clamp(0.0, 1.0)
    invert = torch.rand(batch, generator=generator) < 0.3
    out[invert] = 1.0 - out[invert]
    flip = torch.rand(batch, generator=generator) < 0.5
    out[flip] = out[flip].flip(-1)
    return out


def _batch(
    examples: Sequence[OnsetExample],
    settings: VisualOnsetTrainSettings,
    fps: float,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    picks = torch.randint(len(examples), (settings.batch_size,), generator=generator).tolist()
    frames, labels = [], []
    for k in picks:
        example = examples[k]
        length = min(settings.window_frames, len(example.frames))
        start = int(torch.randint(len(example.frames) - length + 1, (1,), generator=generator))
        x = np.zeros((settings.window_frames, *example.frames.shape[1:]), np.float32)
        y = np.zeros(settings.window_frames, np.float32)
        x[:length] = example.frames[start : start + length]
        y[:length] = example.labels(fps)[start : start + length]
        frames.append(x)
        labels.append(y)
    return _augment(torch.from_numpy(np.stack(frames)), generator), torch.from_numpy(np.stack(labels))


def evaluate(net: VisualOnsetNet, examples: Sequence[OnsetExample], threshold: float) -> dict[str, Any]:
    """Per kind: frame AP, and mean onset F1 (±50 ms) of :func:`peak_onsets` at ``threshold``."""
    fps = net.config.fps
    figures: dict[str, Any] = {}
    was_training = net.training
    net.eval()
    for kind in ("mix", "object"):
        chosen = [e for e in examples if e.kind == kind]
        if not chosen:
            continue
        probs = [onset_probabilities(net, e.frames.astype(np.float32)) for e in chosen]
        labels = np.concatenate([e.labels(fps) for e in chosen])
        f1 = [
            onset_f1(peak_onsets(p, fps, threshold), e.onsets)[2] for p, e in zip(probs, chosen, strict=True)
        ]
        figures[kind] = {
            "examples": len(chosen),
            "frame_ap": round(average_precision(labels, np.concatenate(probs)), 4),
            "positive_rate": round(float(labels.mean()), 4),
            "onset_f1": round(float(np.mean(f1)), 4),
        }
    net.train(was_training)
    return figures


class _OnsetTask(Task[tuple[torch.Tensor, torch.Tensor]]):
    """Per-frame BCE on random windows; validation: :func:`evaluate`; the end: the bundle."""

    label = "visual onsets"

    def __init__(
        self,
        net: VisualOnsetNet,
        train: Sequence[OnsetExample],
        val: Sequence[OnsetExample],
        settings: VisualOnsetTrainSettings,
        device: torch.device,
        out_dir: Path,
    ) -> None:
        self.net, self.train, self.val, self.settings, self.device = net, train, val, settings, device
        self.out_dir = out_dir
        self.pos_weight = torch.tensor(settings.pos_weight, device=device)

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(frames [B, T, S, S], labels [B, T]) on the device."""
        gen = step_generator(self.settings.seed, step)
        frames, labels = _batch(self.train, self.settings, self.net.config.fps, gen)
        return frames.to(self.device), labels.to(self.device)

    def loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> Update:
        frames, labels = batch
        return Update(
            F.binary_cross_entropy_with_logits(self.net(frames), labels, pos_weight=self.pos_weight)
        )

    def evaluate(self, step: int) -> dict[str, Any]:
        return evaluate(self.net, self.val, self.settings.threshold) if self.val else {}

    def finish(self, result: LoopResult) -> dict[str, Any]:
        """A finished run writes ``bundle/``, its figures in the manifest's ``training``."""
        if not result.finished:
            return result.summary()
        self.net.eval()
        training = {
            **result.summary(),
            "settings": asdict(self.settings),
            "train_examples": len(self.train),
            "val": result.evaluation,
            "machine": machine_description(),
        }
        save_bundle(
            self.out_dir / BUNDLE_DIR,
            "visual-onsets",
            {MODULE: self.net},
            {MODULE: self.net.config.to_dict()},
            training=training,
            description="visual onset network (per-frame onset probability)",
        )
        return training


def train_visual_onsets(
    examples: Sequence[OnsetExample],
    out_dir: str | os.PathLike[str],
    settings: VisualOnsetTrainSettings = VisualOnsetTrainSettings(),
    config: VisualOnsetConfig = VisualOnsetConfig(),
    *,
    resume: bool = False,
    device: torch.device | None = None,
    max_seconds: float | None = None,
    init: VisualOnsetNet | None = None,
    cancel: CancelToken | None = None,
    progress: ProgressCallback = no_progress,
) -> dict[str, Any]:
    """Train on the ``train`` examples, validate on ``val``; returns the run summary. When the
    run reaches ``settings.steps`` it writes the bundle ``out_dir/bundle``. ``init``: a
    trained network to start from (fine-tuning; its config is used). Stopping (cancel,
    ``max_seconds`` of this call: resumable, ``finished: False``) and the log are
    ``train/loop.py``'s."""
    out_dir = Path(out_dir)
    device = device or torch.device("cpu")
    train = [e for e in examples if e.split == "train"]
    val = [e for e in examples if e.split == "val"]
    if not train:
        raise DataError("no training examples (split 'train')", out_dir)
    torch.manual_seed(settings.seed)
    if init is not None:
        config = init.config
    net = VisualOnsetNet(config).to(device)
    if init is not None:
        net.load_state_dict(init.state_dict())
    optimizer = torch.optim.AdamW(net.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    loop_settings = LoopSettings.from_settings(settings)
    ctx = single_process_context(device)
    loop = TrainLoop(out_dir, net, optimizer, loop_settings, ctx=ctx, resume=resume)
    facts = {
        "settings": asdict(settings),
        "config": config.to_dict(),
        "train_examples": len(train),
        "val_examples": len(val),
        "machine": machine_description(),
        "fine_tuned": init is not None,
    }
    return loop.run(
        _OnsetTask(net, train, val, settings, device, out_dir),
        facts=facts,
        checkpoint_meta={"settings": asdict(settings)},
        max_seconds=max_seconds,
        progress=progress,
        cancel=cancel,
    )


def examples_from_folder(
    folder: str | os.PathLike[str],
    config: VisualOnsetConfig,
    *,
    objects: bool = True,
    progress: ProgressCallback = no_progress,
) -> list[OnsetExample]:
    """The examples of a FoleyWorld corpus (:func:`onset_examples` of its train and val clips),
    or of any folder of videos with sound (:func:`soundtrack_examples`)."""
    if is_foleyworld_corpus(folder):
        records = [r for r in scan_folder(folder) if r.split in ("train", "val")]
        return onset_examples(records, config, objects=objects, progress=progress)
    return soundtrack_examples(folder, config, progress=progress)


def load_trained_onsets(run_dir: str | os.PathLike[str]) -> VisualOnsetNet:
    """The network of a finished ``train onsets`` run (its ``bundle/``), of a model bundle
    folder, or of an installed bundle by name (``foleyworld-tiny``), in eval mode on the CPU."""
    folder = finished_run_bundle(run_dir, "not a finished visual onset run (no bundle/ in it)")
    net = load_from_bundle(load_bundle(folder))
    if net is None:
        raise DataError("the run's bundle has no visual onset network", folder)
    return net
