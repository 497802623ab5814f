"""Train the audio encoder in CLAP's role (docs/architecture.md §6) and the FoleyWorld category classifier.

Phase 1 (contrastive, resumable): random 2–4 s crops of FoleyWorld per-source stems
(``clip_XXXXX.stems/<source id>.wav``) are embedded by :class:`AudioEncoder` and pulled
towards the *frozen* CLIP text embedding (``pooled``, l2-normalised) of that source's text,
with ``open_clip.ClipLoss`` and a learned logit scale. When the audio and CLIP dimensions
differ, a bias-free linear projection (trained with it) maps audio embeddings into the text
space; with equal dimensions (``fw-audio-tiny`` and ``fw-clip-tiny``: 128) there is none,
so the audio embedding *is* a point of the CLIP text space.

FoleyWorld has few distinct source texts (16 in a default corpus), so every step draws
stems with *distinct* texts: ``ClipLoss`` pairs item i only with text i, and a repeated
text would be a false negative. On FoleyWorld a step thus holds at most one stem per text.

Crops prefer loud parts of the stem (start drawn with probability ∝ sqrt of the crop's
energy), which for impulsive sources means crops with onsets and never a silent crop of a
car that has not arrived yet. Augmentation: a random gain, and (sometimes) the clip's own
ambience stem under the source, as in the mix.

Under ``torchrun`` (several ranks) every rank draws the same distinct-text batch, trains on
its share (the batch is cut to a multiple of the number of ranks) with crops of its own
random stream, and the loss gathers every rank's embeddings; rank 0 alone writes files.

Phase 2 (after the last step, deterministic, cheap, simply redone on resume): a linear
softmax classifier over :data:`foleystudio.data.foleyworld.CATEGORIES` trained on frozen
audio embeddings of training crops — the classifier SSMS needs (``ml/metrics.ssms``).

Run folder: ``state.*`` (resumable), ``log.jsonl``, and when finished ``audio.safetensors``,
``audio_config.json`` (encoder config, text space, categories, validation figures),
``classifier.safetensors`` and, only with a projection, ``text_projection.safetensors``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as F
from safetensors.torch import save
from torch import nn

from foleystudio.core.atomicfile import atomic_write_bytes
from foleystudio.core.audio import load_audio, resample
from foleystudio.core.jobs import CancelToken, ProgressCallback, no_progress, sub_progress
from foleystudio.core.machine import machine_description
from foleystudio.data.datasets import ClipRecord
from foleystudio.data.foleyworld import CATEGORIES
from foleystudio.errors import AudioFileError, CheckpointError, DataError
from foleystudio.ml.device import pick_device
from foleystudio.ml.encoders import load_safetensors_strict, seeded_init
from foleystudio.ml.encoders.audio import (
    AUDIO_CONFIGS,
    AudioEncoder,
    AudioEncoderConfig,
    CategoryClassifier,
    TextSpaceProjection,
)
from foleystudio.ml.encoders.clip_encoder import ClipEncoder
from foleystudio.train.clip_encoder import load_trained_clip
from foleystudio.train.distributed import (
    DistributedContext,
    contrastive_loss,
    local_batch_size,
    shard_rows,
    single_process_context,
    wrap_model,
)
from foleystudio.train.loop import LoopResult, LoopSettings, Task, TrainLoop, Update

AUDIO_WEIGHTS = "audio.safetensors"
AUDIO_CONFIG = "audio_config.json"
CLASSIFIER_WEIGHTS = "classifier.safetensors"
PROJECTION_WEIGHTS = "text_projection.safetensors"

#: Energy envelope resolution (seconds): crop starts are drawn on this grid, plus jitter.
_ENVELOPE_HOP = 0.1
#: Separates the classifier's crop stream from the training steps' (seed, step) streams.
_CLASSIFIER_STREAM = 1 << 40


@dataclass(frozen=True)
class AudioTrainSettings:
    """Hyper-parameters of an audio-encoder run (durations in seconds, gains in dB)."""

    config: str = "fw-audio-tiny"
    steps: int = 3000
    batch_size: int = 32  #: most stems per step; their texts are distinct (see module doc)
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup: int = 100
    seed: int = 0
    crop_min: float = 2.0
    crop_max: float = 4.0
    gain_db: float = 6.0  #: crops are scaled by a gain drawn in ±gain_db
    ambience_prob: float = 0.5  #: chance of adding the clip's ambience under a crop
    ambience_min_db: float = -12.0  #: its gain is drawn in [ambience_min_db, 0]
    classifier_crops: int = 4  #: random crops per training stem for the classifier
    classifier_steps: int = 300  #: full-batch AdamW steps of the classifier
    classifier_lr: float = 1e-2
    log_every: int = 25
    save_every: int = 250


# ------------------------------------------------------------------------------- modules


class _AudioTextModel(nn.Module):
    """What phase 1 trains (and the training state holds): encoder, projection, logit scale."""

    def __init__(self, encoder: AudioEncoder, text_dim: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.to_text = TextSpaceProjection(encoder.config.embed_dim, text_dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.to_text(self.encoder.embed(wave))


# ------------------------------------------------------------------------------- stems


@dataclass(frozen=True, eq=False)
class StemSet:
    """The per-source stems of a corpus, with what sampling crops needs.

    ``envelopes[i]``: mean power per 0.1 s of stem i; ``rates[i]``: its file's sample rate (Hz);
    ``ambience[i]``: the clip's ambience stem or None; ``text_ids[i]`` indexes ``texts``.
    """

    paths: list[Path]
    rates: list[int]
    envelopes: list[np.ndarray]
    ambience: list[Path | None]
    text_ids: np.ndarray
    texts: list[str]
    categories: np.ndarray
    splits: list[str]

    def rows(self, split: str) -> np.ndarray:
        return np.array([i for i, s in enumerate(self.splits) if s == split], dtype=np.int64)


def _envelope(wave: np.ndarray, rate: int) -> np.ndarray:
    hop = max(1, round(_ENVELOPE_HOP * rate))
    n = max(1, math.ceil(len(wave) / hop))
    padded = np.zeros(n * hop, np.float32)
    padded[: len(wave)] = wave
    return (padded.reshape(n, hop) ** 2).mean(axis=1)


def _stem_path(record: ClipRecord, source_id: str) -> Path:
    truth_dir = record.video.parent
    listed = ((record.truth or {}).get("files") or {}).get("stems") or {}
    if source_id in listed:
        return truth_dir / listed[source_id]
    return truth_dir / f"{record.name}.stems" / f"{source_id}.wav"


def collect_stems(
    records: Sequence[ClipRecord],
    categories: Sequence[str] = CATEGORIES,
    cancel: CancelToken | None = None,
    progress: ProgressCallback = no_progress,
) -> StemSet:
    """Every visible source stem of the FoleyWorld clips in ``records`` (clips without
    ground truth or stems are skipped; an unknown category or unreadable stem is an error)."""
    index = {c: i for i, c in enumerate(categories)}
    paths, rates, envelopes, ambience, texts, cats, splits = [], [], [], [], [], [], []
    for n, record in enumerate(records):
        if cancel is not None:
            cancel.raise_if_cancelled()
        truth = record.truth or {}
        amb_path = _stem_path(record, "ambience")
        for source in truth.get("sources", []):
            category = source.get("category")
            if category not in index:
                raise DataError(
                    f"source {source.get('id')!r} has category {category!r}, not one of {list(categories)}",
                    record.video.with_suffix(".json"),
                )
            path = _stem_path(record, str(source.get("id")))
            if not path.is_file():
                continue
            wave, rate = load_audio(path, mono=True)
            paths.append(path)
            rates.append(rate)
            envelopes.append(_envelope(wave, rate))
            ambience.append(amb_path if amb_path.is_file() else None)
            texts.append(str(source.get("text") or source.get("label") or category))
            cats.append(index[category])
            splits.append(record.split)
        progress((n + 1) / len(records), f"reading stems {n + 1}/{len(records)}")
    if not paths:
        raise DataError(
            "no FoleyWorld source stems found (clip_XXXXX.stems/<source id>.wav beside clip JSON)"
        )
    distinct = sorted(set(texts))
    return StemSet(
        paths=paths,
        rates=rates,
        envelopes=envelopes,
        ambience=ambience,
        text_ids=np.array([distinct.index(t) for t in texts], dtype=np.int64),
        texts=distinct,
        categories=np.array(cats, dtype=np.int64),
        splits=splits,
    )


def _read_span(path: Path, start: float, n_out: int, sample_rate: int) -> np.ndarray:
    """``n_out`` samples at ``sample_rate`` Hz of ``path`` from ``start`` seconds, mono,
    zero-padded past the end."""
    try:
        info = sf.info(str(path))
        first = int(round(start * info.samplerate))
        count = int(math.ceil(n_out * info.samplerate / sample_rate))
        data, rate = sf.read(str(path), start=first, stop=first + count, dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, OSError, ValueError) as exc:
        raise AudioFileError(f"cannot read a crop of the stem ({exc})", path) from exc
    wave = data.mean(axis=1)
    if rate != sample_rate and len(wave):
        wave = resample(wave, rate, sample_rate)
    out = np.zeros(n_out, np.float32)
    out[: min(n_out, len(wave))] = wave[:n_out]
    return out


def _crop_start(envelope: np.ndarray, seconds: float, rng: np.random.Generator | None) -> float:
    """Crop start (seconds): drawn ∝ sqrt(crop energy) with 0.1 s jitter, or the loudest
    crop when ``rng`` is None (validation)."""
    width = max(1, round(seconds / _ENVELOPE_HOP))
    if len(envelope) <= width:
        return 0.0
    sums = np.convolve(envelope, np.ones(width), mode="valid")  # energy of each crop start
    if rng is None:
        return float(np.argmax(sums)) * _ENVELOPE_HOP
    weights = np.sqrt(np.maximum(sums, 0.0))
    weights = weights + 1e-3 * weights.mean() + 1e-12  # silent stems still get crops
    k = int(rng.choice(len(weights), p=weights / weights.sum()))
    jitter = rng.uniform(0.0, _ENVELOPE_HOP) if k < len(weights) - 1 else 0.0
    return k * _ENVELOPE_HOP + jitter


def _crops(
    stems: StemSet,
    rows: Sequence[int],
    seconds: float,
    sample_rate: int,
    settings: AudioTrainSettings,
    rng: np.random.Generator | None,
) -> torch.Tensor:
    """[len(rows), samples] crops; with ``rng`` random and augmented, without the loudest crop."""
    n = int(round(seconds * sample_rate))
    out = np.zeros((len(rows), n), np.float32)
    for j, i in enumerate(rows):
        start = _crop_start(stems.envelopes[i], seconds, rng)
        wave = _read_span(stems.paths[i], start, n, sample_rate)
        if rng is not None:
            wave *= 10 ** (rng.uniform(-settings.gain_db, settings.gain_db) / 20)
            amb = stems.ambience[i]
            if amb is not None and rng.random() < settings.ambience_prob:
                gain = 10 ** (rng.uniform(settings.ambience_min_db, 0.0) / 20)
                wave += gain * _read_span(amb, start, n, sample_rate)
        out[j] = wave
    return torch.from_numpy(out)


def _distinct_text_batch(stems: StemSet, rows: np.ndarray, size: int, rng: np.random.Generator) -> list[int]:
    """Up to ``size`` random rows with pairwise different texts."""
    chosen, seen = [], set()
    for i in rng.permutation(rows):
        t = int(stems.text_ids[i])
        if t not in seen:
            seen.add(t)
            chosen.append(int(i))
            if len(chosen) == size:
                break
    return chosen


# ------------------------------------------------------------------------------- evaluation


@torch.no_grad()
def _embed_rows(
    model: _AudioTextModel,
    stems: StemSet,
    rows: Sequence[int],
    seconds: float,
    settings: AudioTrainSettings,
    rng: np.random.Generator | None,
    device: torch.device,
    batch: int = 64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(audio embeddings [N, A], their text-space points [N, D]) of one crop per row."""
    was_training = model.training
    model.eval()
    audio, text = [], []
    rate = model.encoder.config.sample_rate
    for k in range(0, len(rows), batch):
        waves = _crops(stems, rows[k : k + batch], seconds, rate, settings, rng).to(device)
        emb = model.encoder.embed(waves)
        audio.append(emb.cpu())
        text.append(model.to_text(emb).cpu())
    model.train(was_training)
    return torch.cat(audio), torch.cat(text)


def retrieval_top1(
    text_space: torch.Tensor, text_ids: np.ndarray, text_emb: torch.Tensor
) -> dict[str, float]:
    """Retrieval among items of known text.

    ``text_to_audio_top1``: share of the distinct texts present whose best-matching item carries
    that text; ``audio_to_text_top1``: share of items whose best-matching text (among those
    present) is their own.
    """
    present = np.unique(text_ids)
    sims = text_space @ text_emb[torch.from_numpy(present)].T  # [N, T]
    own = torch.from_numpy(np.searchsorted(present, text_ids))
    audio_to_text = (sims.argmax(dim=1) == own).float().mean()
    best_item = sims.argmax(dim=0).numpy()  # per text, the best item
    text_to_audio = float(np.mean(text_ids[best_item] == present))
    return {"text_to_audio_top1": text_to_audio, "audio_to_text_top1": float(audio_to_text)}


def _fit_classifier(
    embeddings: torch.Tensor, labels: torch.Tensor, settings: AudioTrainSettings, categories: Sequence[str]
) -> CategoryClassifier:
    with seeded_init(settings.seed):
        classifier = CategoryClassifier(embeddings.shape[1], categories)
    optimizer = torch.optim.AdamW(classifier.parameters(), lr=settings.classifier_lr, weight_decay=1e-4)
    for _ in range(settings.classifier_steps):
        loss = F.cross_entropy(classifier.logits(embeddings), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return classifier.eval()


# ------------------------------------------------------------------------------- training


def _text_embeddings(clip: ClipEncoder, texts: list[str]) -> torch.Tensor:
    """Frozen l2-normalised pooled CLIP text embeddings [T, D] of ``texts`` (on the CPU)."""
    _, _, pooled = clip.encode_text(texts)
    return F.normalize(pooled.float().cpu(), dim=-1)


@dataclass(frozen=True, eq=False)
class _AudioBatch:
    """This rank's crops [n, samples] and their texts' embeddings [n, D] (on the device), and
    ``size``, the rows of the global batch."""

    waves: torch.Tensor
    targets: torch.Tensor
    size: int


class _AudioTask(Task[_AudioBatch]):
    """Phase 1: crops pulled towards their text's embedding; :meth:`finish` runs phase 2."""

    label = "audio"

    def __init__(
        self,
        model: _AudioTextModel,
        stems: StemSet,
        text_emb: torch.Tensor,
        settings: AudioTrainSettings,
        ctx: DistributedContext,
        phase2: _Phase2,
    ) -> None:
        self.model, self.stems, self.text_emb, self.settings, self.ctx = model, stems, text_emb, settings, ctx
        self.phase2 = phase2
        self.train_rows, self.val_rows = stems.rows("train"), stems.rows("val")
        self.text_dev = text_emb.to(ctx.device)
        self.loss_fn = contrastive_loss(ctx)
        # The logit scale goes through the wrapper's forward too, so DDP averages its gradient.
        self.net = wrap_model(model, ctx, forward=lambda m, wave: (m(wave), m.logit_scale.exp()))

    def batch(self, step: int) -> _AudioBatch:
        s, ctx = self.settings, self.ctx
        rng = np.random.default_rng((s.seed, step))
        rows = _distinct_text_batch(self.stems, self.train_rows, s.batch_size, rng)
        seconds = rng.uniform(s.crop_min, s.crop_max)
        # The batch holds as many texts as there are, so it may not split: cut it to a multiple.
        local_rows = shard_rows(rows, ctx, drop_remainder=True)
        # One process keeps its historical stream; ranks crop their different rows differently.
        crop_rng = np.random.default_rng((s.seed, step, ctx.rank)) if ctx.distributed else rng
        rate = self.model.encoder.config.sample_rate
        waves = _crops(self.stems, local_rows, seconds, rate, s, crop_rng).to(ctx.device)
        targets = self.text_dev[torch.from_numpy(self.stems.text_ids[local_rows]).to(ctx.device)]
        return _AudioBatch(waves, targets, len(rows))

    def loss(self, batch: _AudioBatch) -> Update:
        points, logit_scale = self.net(batch.waves)
        loss = self.loss_fn(points, batch.targets, logit_scale)
        return Update(loss, info={"batch": batch.size, "logit_scale": float(logit_scale.detach())})

    def after_update(self, step: int) -> None:
        with torch.no_grad():  # as CLIP: the temperature may not go below 1/100
            self.model.logit_scale.clamp_(0, math.log(100))

    def evaluate(self, step: int) -> dict[str, Any]:
        if not len(self.val_rows):
            return {}
        _, points = self._embed(self.val_rows, None)
        return retrieval_top1(points, self.stems.text_ids[self.val_rows], self.text_emb)

    def finish(self, result: LoopResult) -> dict[str, Any]:
        summary = {**result.summary(), "stems": len(self.stems.paths)}
        if not (result.finished and self.ctx.is_main):
            return summary
        classifier = self._fit_classifier(result.steps)
        if classifier is None:  # cancelled: the state is saved, resuming redoes phase 2
            return {**summary, "finished": False, "reason": "cancelled"}
        if len(self.val_rows):
            val_audio, val_points = self._embed(self.val_rows, None)
            summary.update(retrieval_top1(val_points, self.stems.text_ids[self.val_rows], self.text_emb))
            with torch.no_grad():
                predicted = classifier.logits(val_audio).argmax(dim=1).numpy()
            summary["val_classifier_accuracy"] = float(
                np.mean(predicted == self.stems.categories[self.val_rows])
            )
            summary["val_stems"] = len(self.val_rows)
        summary["logit_scale"] = self.model.logit_scale.exp().item()
        summary["final_loss"] = result.scalars.get("loss", float("nan"))
        self.phase2.write(self.model, classifier, self.stems.texts, summary)
        self.phase2.progress(1.0, "audio encoder done")
        return summary

    def _embed(
        self, rows: np.ndarray, rng: np.random.Generator | None, seconds: float | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings of one crop per row: the loudest of the mean crop length without ``rng``."""
        s = self.settings
        seconds = 0.5 * (s.crop_min + s.crop_max) if seconds is None else seconds
        return _embed_rows(self.model, self.stems, rows, seconds, s, rng, self.ctx.device)

    def _fit_classifier(self, step: int) -> CategoryClassifier | None:
        """Phase 2: the category classifier on frozen embeddings of augmented training crops
        (None when cancelled)."""
        s = self.settings
        self.model.eval()
        crop_rng = np.random.default_rng((s.seed, _CLASSIFIER_STREAM, step))
        rows = np.repeat(self.train_rows, s.classifier_crops)
        chunks = []
        for k in range(0, len(rows), 64):
            if self.phase2.cancel is not None and self.phase2.cancel.cancelled:
                return None
            emb, _ = self._embed(rows[k : k + 64], crop_rng, crop_rng.uniform(s.crop_min, s.crop_max))
            chunks.append(emb)
            self.phase2.progress(0.8 * min(1.0, (k + 64) / len(rows)), "embedding crops for the classifier")
        labels = torch.from_numpy(self.stems.categories[rows])
        return _fit_classifier(torch.cat(chunks), labels, s, CATEGORIES)


@dataclass(frozen=True, eq=False)
class _Phase2:
    """Where a finished audio run writes its files, and phase 2's cancel and progress."""

    run_dir: Path
    clip_run_dir: str | os.PathLike[str]
    settings: AudioTrainSettings
    cancel: CancelToken | None
    progress: ProgressCallback

    def write(
        self,
        model: _AudioTextModel,
        classifier: CategoryClassifier,
        texts: list[str],
        summary: dict[str, Any],
    ) -> None:
        """``audio.safetensors``, ``classifier.safetensors``, ``audio_config.json`` and, with a
        projection, ``text_projection.safetensors``."""
        encoder = model.encoder.cpu()
        encoder.save_weights(self.run_dir / AUDIO_WEIGHTS)
        atomic_write_bytes(self.run_dir / CLASSIFIER_WEIGHTS, _safetensors(classifier))
        if model.to_text.linear is not None:
            atomic_write_bytes(self.run_dir / PROJECTION_WEIGHTS, _safetensors(model.to_text))
        config = {
            "config_name": self.settings.config,
            "encoder": encoder.config.to_dict(),
            "text_dim": model.to_text.text_dim,
            "text_projection": model.to_text.linear is not None,
            "clip_run": str(self.clip_run_dir),
            "categories": list(CATEGORIES),
            "texts": texts,
            "validation": {k: v for k, v in summary.items() if k.endswith(("_top1", "_accuracy"))},
        }
        atomic_write_bytes(self.run_dir / AUDIO_CONFIG, json.dumps(config, indent=2).encode())


def _safetensors(module: nn.Module) -> bytes:
    return save({k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()})


def _check_settings(settings: AudioTrainSettings) -> None:
    if settings.config not in AUDIO_CONFIGS:
        raise DataError(f"unknown audio encoder config {settings.config!r} (have {sorted(AUDIO_CONFIGS)})")
    if not 0 < settings.crop_min <= settings.crop_max:
        raise DataError(
            f"crop lengths must satisfy 0 < crop_min <= crop_max, got {settings.crop_min}, {settings.crop_max}"
        )


def train_audio_encoder(
    records: Sequence[ClipRecord],
    run_dir: str | os.PathLike[str],
    clip_run_dir: str | os.PathLike[str],
    settings: AudioTrainSettings = AudioTrainSettings(),
    *,
    resume: bool = False,
    device: str = "auto",
    max_seconds: float | None = None,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    ctx: DistributedContext | None = None,
) -> dict[str, Any]:
    """Train (or resume) the audio encoder against the CLIP run's text space, then its classifier.

    Stopping (cancel, ``max_seconds`` of this call; also a cancel while fitting the classifier:
    the state is saved, no final files are written, the summary says ``finished: False``) and
    the log are ``train/loop.py``'s. ``ctx`` (from
    :func:`~foleystudio.train.distributed.init_distributed`) trains this rank of a torchrun
    run on ``ctx.device`` (``device`` is then ignored); None is one process on ``device``.
    Only rank 0 writes files, reports progress and fits the classifier; every rank returns
    once rank 0 is done (the validation and classifier figures only on rank 0).
    """
    run_dir = Path(run_dir)
    ctx = single_process_context(device) if ctx is None else ctx
    if ctx.distributed:
        local_batch_size(settings.batch_size, ctx)  # a batch that does not split fails here
    if not ctx.is_main:
        progress = no_progress
    _check_settings(settings)
    clip = load_trained_clip(clip_run_dir)  # first: a wrong --clip fails before reading the stems
    stems = collect_stems(records, CATEGORIES, cancel, sub_progress(progress, 0.0, 0.1))
    if not len(stems.rows("train")):
        raise DataError("no training-split stems to train the audio encoder on")
    text_emb = _text_embeddings(clip, stems.texts)
    del clip

    encoder = AudioEncoder.create(settings.config, "cpu", seed=settings.seed)
    with seeded_init(settings.seed + 1):
        model = _AudioTextModel(encoder, text_emb.shape[1])
    model.to(ctx.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    # Validated at each checkpoint.
    loop_settings = LoopSettings.from_settings(settings, eval_every=settings.save_every)
    loop = TrainLoop(run_dir, model, optimizer, loop_settings, ctx=ctx, resume=resume)
    phase2 = _Phase2(run_dir, clip_run_dir, settings, cancel, sub_progress(progress, 0.9, 1.0))
    task = _AudioTask(model, stems, text_emb, settings, ctx, phase2)
    facts = {
        "settings": asdict(settings),
        "processes": ctx.world_size,
        "clip_run": str(clip_run_dir),
        "stems": len(stems.paths),
        "train_stems": len(task.train_rows),
        "val_stems": len(task.val_rows),
        "distinct_texts": len(stems.texts),
        "text_dim": int(text_emb.shape[1]),
        "projection": model.to_text.linear is not None,
        "machine": machine_description(),
    }
    return loop.run(
        task,
        facts=facts,
        checkpoint_meta={"settings": asdict(settings)},
        max_seconds=max_seconds,
        progress=sub_progress(progress, 0.1, 0.9),
        cancel=cancel,
    )


# ------------------------------------------------------------------------------- loading


def _read_config(run_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((run_dir / AUDIO_CONFIG).read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"not a finished audio-encoder run: {exc}", run_dir) from exc


class TrainedAudio(NamedTuple):
    """A finished audio-encoder part: the encoder, its category classifier and their categories
    (a tuple, so ``encoder, classifier, categories = load_trained_audio(…)`` still unpacks)."""

    encoder: AudioEncoder
    classifier: CategoryClassifier
    categories: tuple[str, ...]


def load_trained_audio(run_dir: str | os.PathLike[str], device: str = "cpu") -> TrainedAudio:
    """The encoder, the category classifier and its categories of a finished run or of a model
    bundle (eval mode)."""
    from foleystudio.ml.engine import audio_from_bundle
    from foleystudio.train.parts import bundle_at

    if (bundle := bundle_at(run_dir)) is not None:
        encoder, classifier = audio_from_bundle(bundle)
        if encoder is None or classifier is None:
            raise CheckpointError("the bundle has no audio encoder with a category classifier", bundle.path)
        dev = pick_device(device)
        return TrainedAudio(encoder.to(dev), classifier.to(dev), tuple(classifier.categories))
    run_dir = Path(run_dir)
    data = _read_config(run_dir)
    try:
        config = AudioEncoderConfig.from_dict(data["encoder"])
        categories = tuple(data["categories"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"audio_config.json is malformed: {exc}", run_dir / AUDIO_CONFIG) from exc
    encoder = AudioEncoder.create(config, "cpu", seed=None)
    encoder.load_weights(run_dir / AUDIO_WEIGHTS)
    classifier = CategoryClassifier(config.embed_dim, categories)
    load_safetensors_strict(classifier, run_dir / CLASSIFIER_WEIGHTS)
    dev = pick_device(device)
    return TrainedAudio(encoder.to(dev).eval(), classifier.to(dev).eval(), categories)


def load_text_projection(run_dir: str | os.PathLike[str], device: str = "cpu") -> TextSpaceProjection:
    """The map from the run's audio embeddings into its CLIP text space (identity when the
    dimensions match), for the text score of docs/architecture.md §7.2."""
    run_dir = Path(run_dir)
    data = _read_config(run_dir)
    projection = TextSpaceProjection(int(data["encoder"]["embed_dim"]), int(data["text_dim"]))
    if projection.linear is not None:
        load_safetensors_strict(projection, run_dir / PROJECTION_WEIGHTS)
    return projection.to(pick_device(device)).eval()
