"""Train the flow event network (``ml/encoders/flow_events.py``).

Examples come from a FoleyWorld corpus (best written with ``data foleyworld --randomise``):
each clip's whole picture against the onsets of its sources while they are in view, and each
source's box against its own; or self-supervised from any folder of videos with sound, each
video's whole picture against the onsets of its own soundtrack (no annotation). Optical flow
is computed once per clip at the video's own frame rate and reduced to the network's input
(:func:`~foleystudio.ml.encoders.flow_events.region_features` at ``NET_RATE`` Hz), which is
all a step reads: 8 s is 30 KB.

The loss is per-bin binary cross-entropy with the bin nearest each onset positive and its two
neighbours left out (an event one bin off is not wrong at a ±80 ms tolerance). A finished run
picks the peak threshold that gives the best validation event F1 and writes a model bundle
with the one module ``flow_events`` into ``bundle/`` of its run folder; ``add_to_bundle`` adds
it to a model bundle.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from foleystudio.core.jobs import CancelToken, ProgressCallback, no_progress
from foleystudio.core.machine import machine_description
from foleystudio.core.media import VideoFile, probe, read_audio
from foleystudio.data.datasets import ClipRecord, scan_folder, source_keyframes
from foleystudio.errors import DataError, FoleyStudioError
from foleystudio.ml.encoders.flow_events import (
    MODULE,
    FlowEventConfig,
    FlowEventNet,
    bin_times,
    load_from_bundle,
    pick_events,
    region_features,
    to_rate,
)
from foleystudio.ml.encoders.optical_flow import FlowFeatures, flow_from_video
from foleystudio.ml.metrics import onset_f1
from foleystudio.ml.model_bundle import add_module, load_bundle, save_bundle
from foleystudio.ml.onsets import ONSET_ANALYSIS_RATE, detect_onsets
from foleystudio.train.distributed import single_process_context
from foleystudio.train.loop import LoopResult, LoopSettings, Task, TrainLoop, Update, step_generator
from foleystudio.train.parts import RUN_BUNDLE_DIR, finished_run_bundle
from foleystudio.train.visual_onsets import (
    SOUNDTRACK_NOISE_SIGMAS,
    VIDEO_SUFFIXES,
    held_out_names,
    is_foleyworld_corpus,
)

#: The bundle a finished run writes inside its run folder.
BUNDLE_DIR = RUN_BUNDLE_DIR
#: The log a bundle keeps of the run that trained its flow event network.
BUNDLE_LOG = "flow_events_training_log.jsonl"
#: Event F1 tolerance (s) of validation, as the real-footage benchmark's.
TOLERANCE_S = 0.08
#: Peak thresholds a finished run chooses from.
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)
#: Onsets of several sources closer than this (s) are one event of the whole picture.
MERGE_S = 0.05


@dataclass(frozen=True)
class FlowEventTrainSettings:
    """Hyper-parameters of a flow event run (``window_bins`` at the network's rate)."""

    steps: int = 3000
    batch_size: int = 32
    window_bins: int = 240
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup: int = 100
    pos_weight: float = 1.0
    seed: int = 0
    log_every: int = 50
    eval_every: int = 500
    save_every: int = 500
    objects: bool = True


@dataclass(frozen=True)
class FlowEventExample:
    """One example: ``features`` [N, F] float32 at the network's rate, ``onsets`` s after the
    first bin, ``kind`` ``mix`` (the whole picture) or ``object`` (a source's box)."""

    clip: str
    split: str
    kind: str
    features: np.ndarray
    onsets: np.ndarray

    def targets(self, rate: float) -> tuple[np.ndarray, np.ndarray]:
        """``(labels [N], weights [N])``: 1 at the bin nearest each onset; weight 0 on its two
        neighbours (unless they hold an onset themselves), 1 elsewhere."""
        n = len(self.features)
        labels = np.zeros(n, np.float32)
        index = np.rint(np.asarray(self.onsets) * rate).astype(np.int64)
        index = index[(index >= 0) & (index < n)]
        labels[index] = 1.0
        weights = np.ones(n, np.float32)
        for shift in (-1, 1):
            near = np.clip(index + shift, 0, n - 1)
            weights[near] = 0.0
        weights[index] = 1.0
        return labels, weights


def merged_onsets(times: Sequence[float], within: float = MERGE_S) -> np.ndarray:
    """Sorted onsets (s) with any closer than ``within`` to the previous kept one dropped."""
    out: list[float] = []
    for t in sorted(times):
        if not out or t - out[-1] > within:
            out.append(float(t))
    return np.asarray(out, np.float64)


def visible_onsets(source: dict[str, Any]) -> np.ndarray:
    """A FoleyWorld source's onsets (s) on frames where its box is in view."""
    boxes = source.get("boxes") or []
    return np.asarray(
        [
            t
            for t, frame in zip(source.get("onsets", []), source.get("onset_frames", []), strict=True)
            if 0 <= frame < len(boxes) and boxes[frame] is not None
        ],
        np.float64,
    )


def _region_example(
    flow: FlowFeatures, box: int | None, rate: float, clip: str, split: str, onsets: np.ndarray
) -> FlowEventExample:
    features = to_rate(region_features(flow.region(box), flow.cut, flow.fps), flow.times, rate)
    kind = "mix" if box is None else "object"
    return FlowEventExample(clip, split, kind, features, np.asarray(onsets, np.float64) - flow.times[0])


def foleyworld_examples(
    records: Sequence[ClipRecord],
    config: FlowEventConfig,
    *,
    objects: bool = True,
    cancel: CancelToken | None = None,
    progress: ProgressCallback = no_progress,
) -> list[FlowEventExample]:
    """Whole-picture (and per-source box) examples of FoleyWorld records; records without
    ground truth are refused (their onsets are unknown)."""
    out: list[FlowEventExample] = []
    for i, record in enumerate(records):
        if cancel is not None:
            cancel.raise_if_cancelled()
        if not record.truth:
            raise DataError(
                "the flow event network trains on FoleyWorld clips (with ground truth)", record.video
            )
        truth_fps = float(record.truth.get("fps", 24.0))
        sources = []
        for source in record.truth.get("sources", []) if objects else []:
            keys = source_keyframes(source.get("boxes") or [], truth_fps)
            if keys:
                sources.append((source, keys))
        try:
            with VideoFile(record.video) as video:
                flow = flow_from_video(video, 0.0, video.info.duration, objects=[k for _, k in sources])
        except FoleyStudioError as exc:
            raise DataError(f"cannot read clip: {exc.problem}", exc.path or record.video) from exc
        everything = merged_onsets(
            [t for s in record.truth.get("sources", []) for t in visible_onsets(s).tolist()]
        )
        out.append(_region_example(flow, None, config.rate, record.name, record.split, everything))
        for k, (source, _) in enumerate(sources):
            out.append(
                _region_example(flow, k, config.rate, record.name, record.split, visible_onsets(source))
            )
        progress((i + 1) / len(records), f"optical flow {i + 1}/{len(records)}")
    return out


def soundtrack_examples(
    folder: str | os.PathLike[str],
    config: FlowEventConfig,
    *,
    val_share: float = 0.1,
    cancel: CancelToken | None = None,
    progress: ProgressCallback = no_progress,
) -> list[FlowEventExample]:
    """Self-supervised examples from any folder of videos with sound: each video's whole
    picture against the onsets of its own soundtrack. Videos without sound are skipped; the
    validation share is ``train.visual_onsets.held_out_names``'s."""
    root = Path(folder)
    if not root.is_dir():
        raise DataError("data folder does not exist", root)
    videos = sorted(p for p in root.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
    val_names = held_out_names(videos, val_share)
    out: list[FlowEventExample] = []
    for i, path in enumerate(videos):
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            info = probe(path)
            if not (info.has_video and info.has_audio):
                continue
            flow = flow_from_video(path, 0.0, info.duration, cancel=cancel)
            sound = read_audio(path, ONSET_ANALYSIS_RATE, end=info.duration)
        except FoleyStudioError as exc:
            raise DataError(f"cannot read video: {exc.problem}", exc.path or path) from exc
        onsets = detect_onsets(sound, ONSET_ANALYSIS_RATE, noise_sigmas=SOUNDTRACK_NOISE_SIGMAS)
        split = "val" if path.name in val_names else "train"
        out.append(_region_example(flow, None, config.rate, path.stem, split, onsets))
        progress((i + 1) / len(videos), f"optical flow {i + 1}/{len(videos)}")
    if not any(e.split == "train" for e in out):
        raise DataError("no videos with sound to learn from", root)
    return out


def examples_from_folder(
    folder: str | os.PathLike[str],
    config: FlowEventConfig,
    *,
    objects: bool = True,
    progress: ProgressCallback = no_progress,
) -> list[FlowEventExample]:
    """The examples of a FoleyWorld corpus (its train and val clips) or of any folder of
    videos with sound (:func:`soundtrack_examples`)."""
    if is_foleyworld_corpus(folder):
        records = [r for r in scan_folder(folder) if r.split in ("train", "val")]
        return foleyworld_examples(records, config, objects=objects, progress=progress)
    return soundtrack_examples(folder, config, progress=progress)


@torch.no_grad()
def _probabilities(net: FlowEventNet, examples: Sequence[FlowEventExample]) -> list[np.ndarray]:
    device = next(net.parameters()).device
    return [
        torch.sigmoid(net(torch.from_numpy(e.features).to(device)[None]))[0].cpu().numpy() for e in examples
    ]


def evaluate(net: FlowEventNet, examples: Sequence[FlowEventExample], threshold: float) -> dict[str, Any]:
    """Per kind: mean event F1 (±80 ms) of the picked events at ``threshold``, and the mean
    number of events per example against the true number. An example with no true events
    and none picked scores 1."""
    config = replace(net.config, threshold=threshold)
    figures: dict[str, Any] = {}
    was_training = net.training
    net.eval()
    for kind in ("mix", "object"):
        chosen = [e for e in examples if e.kind == kind]
        if not chosen:
            continue
        scores, picked = [], []
        for probs, example in zip(_probabilities(net, chosen), chosen, strict=True):
            grid = bin_times(np.arange(len(probs)) / config.rate, config.rate)
            times, _ = pick_events(probs, grid, grid, config)
            picked.append(len(times))
            empty = len(times) == 0 and len(example.onsets) == 0
            scores.append(1.0 if empty else onset_f1(times, example.onsets, TOLERANCE_S)[2])
        figures[kind] = {
            "examples": len(chosen),
            "event_f1": round(float(np.mean(scores)), 4),
            "events": round(float(np.mean(picked)), 2),
            "true_events": round(float(np.mean([len(e.onsets) for e in chosen])), 2),
        }
    net.train(was_training)
    return figures


def best_threshold(net: FlowEventNet, examples: Sequence[FlowEventExample]) -> tuple[float, dict[str, Any]]:
    """The threshold of :data:`THRESHOLDS` with the best mean event F1 over the kinds, and
    every threshold's figures."""
    table = {t: evaluate(net, examples, t) for t in THRESHOLDS}

    def score(t: float) -> float:
        return float(np.mean([k["event_f1"] for k in table[t].values()])) if table[t] else 0.0

    return max(THRESHOLDS, key=score), {str(t): v for t, v in table.items()}


class _FlowEventTask(Task[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]):
    """Weighted per-bin BCE on random windows; validation: :func:`evaluate`; the end: the bundle."""

    label = "flow events"

    def __init__(
        self,
        net: FlowEventNet,
        train: Sequence[FlowEventExample],
        val: Sequence[FlowEventExample],
        settings: FlowEventTrainSettings,
        device: torch.device,
        out_dir: Path,
    ) -> None:
        self.net, self.train, self.val, self.settings, self.device = net, train, val, settings, device
        self.out_dir = out_dir
        self.targets = [e.targets(net.config.rate) for e in train]

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(features [B, W, F], labels [B, W], weights [B, W]) on the device; padding has weight 0."""
        gen = step_generator(self.settings.seed, step)
        width = self.settings.window_bins
        picks = torch.randint(len(self.train), (self.settings.batch_size,), generator=gen).tolist()
        x = np.zeros((len(picks), width, self.net.config.features), np.float32)
        y = np.zeros((len(picks), width), np.float32)
        w = np.zeros((len(picks), width), np.float32)
        for row, k in enumerate(picks):
            features = self.train[k].features
            labels, weights = self.targets[k]
            length = min(width, len(features))
            start = int(torch.randint(len(features) - length + 1, (1,), generator=gen))
            x[row, :length] = features[start : start + length]
            y[row, :length] = labels[start : start + length]
            w[row, :length] = weights[start : start + length]
        return tuple(torch.from_numpy(a).to(self.device) for a in (x, y, w))  # type: ignore[return-value]

    def loss(self, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> Update:
        features, labels, weights = batch
        weights = weights * (1.0 + self.settings.pos_weight * labels)
        bce = F.binary_cross_entropy_with_logits(self.net(features), labels, weight=weights, reduction="sum")
        return Update(bce / weights.sum().clamp_min(1.0))

    def evaluate(self, step: int) -> dict[str, Any]:
        return evaluate(self.net, self.val, self.net.config.threshold) if self.val else {}

    def finish(self, result: LoopResult) -> dict[str, Any]:
        """A finished run calibrates the threshold on validation and writes ``bundle/``."""
        if not result.finished:
            return result.summary()
        self.net.eval()
        thresholds: dict[str, Any] = {}
        if self.val:
            chosen, thresholds = best_threshold(self.net, self.val)
            self.net.config = replace(self.net.config, threshold=chosen)
        training = {
            **result.summary(),
            "settings": asdict(self.settings),
            "train_examples": len(self.train),
            "threshold": self.net.config.threshold,
            "val_by_threshold": thresholds,
            "machine": machine_description(),
        }
        save_bundle(
            self.out_dir / BUNDLE_DIR,
            "flow-events",
            {MODULE: self.net},
            {MODULE: self.net.config.to_dict()},
            training=training,
            description="flow event network (per-frame event probability from optical flow)",
        )
        return training


def train_flow_events(
    examples: Sequence[FlowEventExample],
    out_dir: str | os.PathLike[str],
    settings: FlowEventTrainSettings = FlowEventTrainSettings(),
    config: FlowEventConfig = FlowEventConfig(),
    *,
    resume: bool = False,
    device: torch.device | None = None,
    max_seconds: float | None = None,
    init: FlowEventNet | None = None,
    cancel: CancelToken | None = None,
    progress: ProgressCallback = no_progress,
) -> dict[str, Any]:
    """Train on the ``train`` examples, validate on ``val``; returns the run summary. A run
    that reaches ``settings.steps`` writes ``out_dir/bundle``. ``init``: a trained network to
    start from (its config is used). Stopping and the log are ``train/loop.py``'s."""
    out_dir = Path(out_dir)
    device = device or torch.device("cpu")
    train = [e for e in examples if e.split == "train"]
    val = [e for e in examples if e.split == "val"]
    if not train:
        raise DataError("no training examples (split 'train')", out_dir)
    torch.manual_seed(settings.seed)
    if init is not None:
        config = init.config
    net = FlowEventNet(config).to(device)
    if init is not None:
        net.load_state_dict(init.state_dict())
    optimizer = torch.optim.AdamW(net.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    loop_settings = LoopSettings.from_settings(settings)
    loop = TrainLoop(
        out_dir, net, optimizer, loop_settings, ctx=single_process_context(device), resume=resume
    )
    facts = {
        "settings": asdict(settings),
        "config": config.to_dict(),
        "train_examples": len(train),
        "val_examples": len(val),
        "machine": machine_description(),
        "fine_tuned": init is not None,
    }
    return loop.run(
        _FlowEventTask(net, train, val, settings, device, out_dir),
        facts=facts,
        checkpoint_meta={"settings": asdict(settings)},
        max_seconds=max_seconds,
        progress=progress,
        cancel=cancel,
    )


def load_trained_flow_events(source: str | os.PathLike[str]) -> FlowEventNet:
    """The network of a finished ``train flow-events`` run (its ``bundle/``), of a model bundle
    folder, or of an installed bundle by name, in eval mode on the CPU."""
    folder = finished_run_bundle(source, "not a finished flow-events run or a model bundle")
    net = load_from_bundle(load_bundle(folder, torch.device("cpu")))
    if net is None:
        raise DataError("this bundle has no flow event network", source)
    return net


def add_to_bundle(
    bundle_dir: str | os.PathLike[str],
    run_dir: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
) -> Path:
    """Write model bundle ``bundle_dir`` with the finished run's flow event network added (or
    replaced) to ``out`` (default: in place, atomically); the run's log is kept as
    :data:`BUNDLE_LOG`. Returns the written folder."""
    run = Path(run_dir) / BUNDLE_DIR
    bundle = load_bundle(run, torch.device("cpu"))
    net = load_from_bundle(bundle)
    if net is None:
        raise DataError("the run has no finished flow event network", run_dir)
    log = Path(run_dir) / "log.jsonl"
    extra = {BUNDLE_LOG: log.read_bytes()} if log.is_file() else {}
    training = {**bundle.training, "run": str(run_dir)}
    return add_module(bundle_dir, MODULE, net, net.config.to_dict(), training, extra_files=extra, out=out)
