"""Train SSV2A's CMSS manifold, then the Remixer ψ, then Temporal Aggregation ω (docs/architecture.md §6).

Data: a Flowley feature cache (``data/datasets.py``) with the ``audio_embedding`` column
(l2-normalised audio-encoder embedding of each example's target audio). Only the tensors
needed are read: ``visual`` (for ``object`` examples: that object's crop embeddings at
8 fps), ``visual_valid``, ``text_pooled`` (CLIP text of the caption), ``audio_embedding``.

Stages, one global step counter (``manifold_steps + remixer_steps + temporal_steps``):

1. **Manifold** (L_fold, §3.2): single-source pairs from ``object`` examples — a random
   visible crop frame, or with probability ``text_prob`` the source's caption, against the
   source's stem embedding. With ``alternate`` (SSV2A: "alternatively optimize the
   projectors and generator on each batch") every batch makes two updates: projectors
   (v, φ, τ) first, then the reconstructor χ.
2. **Remixer** (eq. 9, manifold frozen): an item is a clip's objects → the clip's mix
   embedding, or (probability ``single_prob``) one object → its stem. Each source enters as
   a random visible crop, or as its caption (``source_text_prob``) or its stem's audio
   embedding (``source_audio_prob``), so text and audio sources are in-distribution;
   guidance token dropout as configured in the Remixer.
3. **Temporal Aggregation** (eq. 10, manifold and ψ frozen): the same items over all 64
   frames: per frame a ψ sample over the sources visible then, ω fuses them.

Run by ``train/loop.py`` (resumable, one optimiser over all parameters — a stage only updates
its own, the others get no gradient; evaluated and saved at each stage's end), deterministic
(batches and dropout seeded per step), logged to ``log.jsonl``. The finished run folder holds ``ssv2a_manifold.safetensors``,
``ssv2a_remixer.safetensors`` and ``ssv2a.json`` (``ml/ssv2a/io.py``), with the validation
figures in ``ssv2a.json``'s ``training``.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors import safe_open

from foleystudio.core.jobs import CancelToken, ProgressCallback, no_progress
from foleystudio.core.machine import machine_description
from foleystudio.errors import DataError
from foleystudio.ml.device import pick_device
from foleystudio.ml.ssv2a.io import save_ssv2a
from foleystudio.ml.ssv2a.manifold import CMSSManifold, ManifoldConfig
from foleystudio.ml.ssv2a.remixer import Remixer, RemixerConfig, make_tokens, pad_sources
from foleystudio.ml.ssv2a.sources import PerceivedSource, frame_tokens, mix_embedding
from foleystudio.train.common import warmup_cosine
from foleystudio.train.distributed import single_process_context
from foleystudio.train.loop import LoopResult, LoopSettings, Task, TrainLoop, Update, step_generator

STAGES = ("manifold", "remixer", "temporal")


@dataclass(frozen=True)
class SSV2ATrainSettings:
    """Hyper-parameters of an SSV2A run (``manifold``/``remixer``: config overrides)."""

    manifold_steps: int = 2000
    remixer_steps: int = 2000
    temporal_steps: int = 600
    manifold_batch: int = 128
    remixer_batch: int = 64
    temporal_batch: int = 16
    lr: float = 5e-4
    weight_decay: float = 0.01
    warmup: int = 100
    text_prob: float = 0.3
    source_text_prob: float = 0.2
    source_audio_prob: float = 0.1
    single_prob: float = 0.3
    alternate: bool = True
    seed: int = 0
    log_every: int = 50
    eval_every: int = 500
    save_every: int = 500
    manifold: dict[str, Any] = field(default_factory=dict)
    remixer: dict[str, Any] = field(default_factory=dict)

    @property
    def total_steps(self) -> int:
        return self.manifold_steps + self.remixer_steps + self.temporal_steps

    def stage_of(self, step: int) -> tuple[str, int, int]:
        """``(stage, step within it, its length)`` of global ``step`` (< total_steps)."""
        for name, length in zip(
            STAGES, (self.manifold_steps, self.remixer_steps, self.temporal_steps), strict=True
        ):
            if step < length:
                return name, step, length
            step -= length
        raise ValueError("step past the end of training")


# -- data -------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SourceData:
    """What SSV2A trains on, from a feature cache: O object examples and C clips.

    ``crops`` [O, Tv, clip_dim] f16, ``valid`` [O, Tv] bool (visible, non-zero crops), ``text``
    [O, clip_dim], ``audio`` [O, audio_dim] (stem embeddings); per object its ``category``,
    ``split`` and ``clip`` index; per clip ``clip_objects`` (object rows), ``clip_target``
    [C, audio_dim] (mix embedding), ``clip_split``, ``clip_names``.
    """

    crops: torch.Tensor
    valid: torch.Tensor
    text: torch.Tensor
    audio: torch.Tensor
    category: list[str]
    split: list[str]
    clip: list[int]
    clip_objects: list[torch.Tensor]
    clip_target: torch.Tensor
    clip_split: list[str]
    clip_names: list[str]

    @property
    def clip_dim(self) -> int:
        return int(self.crops.shape[-1])

    @property
    def audio_dim(self) -> int:
        return int(self.audio.shape[-1])

    def objects_in(self, split: str) -> torch.Tensor:
        return torch.tensor([i for i, s in enumerate(self.split) if s == split], dtype=torch.long)

    def clips_in(self, split: str) -> torch.Tensor:
        return torch.tensor([i for i, s in enumerate(self.clip_split) if s == split], dtype=torch.long)

    def clip_category(self, c: int) -> str:
        """The sorted set of a clip's object categories, e.g. ``"bird_chirps,door_slam"``."""
        return ",".join(sorted({self.category[int(o)] for o in self.clip_objects[c]}))


def load_source_data(cache_path: str | os.PathLike[str]) -> SourceData:
    """Read the SSV2A columns of a feature cache (``.safetensors`` + ``.json``)."""
    path = Path(cache_path)
    try:
        meta = json.loads(path.with_suffix(".json").read_text())
        with safe_open(str(path), framework="pt") as fh:
            keys = set(fh.keys())
            if "audio_embedding" not in keys:
                raise DataError(
                    "feature cache has no 'audio_embedding' column (build it with an audio encoder)", path
                )
            tensors = {
                k: fh.get_tensor(k) for k in ("visual", "visual_valid", "text_pooled", "audio_embedding")
            }
    except DataError:
        raise
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise DataError(f"cannot read feature cache: {exc}", path) from exc
    examples = meta.get("examples", [])
    if len(examples) != len(tensors["audio_embedding"]):
        raise DataError("feature cache index and tensors disagree on the number of examples", path)
    mixes = {e["clip"]: i for i, e in enumerate(examples) if e["kind"] == "mix"}
    objects = [i for i, e in enumerate(examples) if e["kind"] == "object"]
    if not objects:
        raise DataError("feature cache has no object examples (single-source pairs) to train SSV2A on", path)
    names = sorted({examples[i]["clip"] for i in objects if examples[i]["clip"] in mixes})
    clip_index = {name: k for k, name in enumerate(names)}
    rows = torch.tensor(objects)
    crops = tensors["visual"][rows].to(torch.float16)
    valid = tensors["visual_valid"][rows].bool() & (crops.float().norm(dim=-1) > 0.5)
    members: list[list[int]] = [[] for _ in names]
    for o, i in enumerate(objects):
        k = clip_index.get(examples[i]["clip"])
        if k is not None:
            members[k].append(o)
    audio = F.normalize(tensors["audio_embedding"].float(), dim=-1)
    return SourceData(
        crops=crops,
        valid=valid,
        text=F.normalize(tensors["text_pooled"][rows].float(), dim=-1),
        audio=audio[rows],
        category=[examples[i].get("category", "") for i in objects],
        split=[examples[i]["split"] for i in objects],
        clip=[clip_index.get(examples[i]["clip"], -1) for i in objects],
        clip_objects=[torch.tensor(m, dtype=torch.long) for m in members],
        clip_target=audio[torch.tensor([mixes[n] for n in names], dtype=torch.long)]
        if names
        else torch.zeros(0, audio.shape[-1]),
        clip_split=[examples[mixes[n]]["split"] for n in names],
        clip_names=names,
    )


def _random_frames(valid: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One random visible frame per row of ``valid`` [n, T] (frame 0 where none is)."""
    weights = valid.float()
    weights[weights.sum(dim=1) == 0, 0] = 1.0
    return torch.multinomial(weights, 1, generator=gen)[:, 0]


def _middle_frames(valid: torch.Tensor) -> torch.Tensor:
    """The middle visible frame of each row (deterministic, for validation)."""
    out = torch.zeros(len(valid), dtype=torch.long)
    for i, row in enumerate(valid):
        idx = torch.nonzero(row)[:, 0]
        out[i] = idx[len(idx) // 2] if len(idx) else 0
    return out


def manifold_batch(
    data: SourceData, rows: torch.Tensor, text_prob: float, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Single-source pairs ``(clip [B, Dc], audio [B, Da])`` of object ``rows``: a random
    visible crop, or (probability ``text_prob``, or no visible crop) the caption."""
    frames = _random_frames(data.valid[rows], gen)
    crop = data.crops[rows, frames].float()
    use_text = (torch.rand(len(rows), generator=gen) < text_prob) | ~data.valid[rows].any(dim=1)
    return torch.where(use_text[:, None], data.text[rows], crop), data.audio[rows]


@dataclass(frozen=True, eq=False)
class _Items:
    """A batch of mixing items: per item its object rows and target."""

    objects: list[torch.Tensor]
    targets: torch.Tensor


def sample_items(
    data: SourceData,
    clips: torch.Tensor,
    objects: torch.Tensor,
    size: int,
    single_prob: float,
    gen: torch.Generator,
) -> _Items:
    """``size`` items: a clip's objects → its mix embedding, or (``single_prob``) one object → its stem."""
    groups, targets = [], []
    for _ in range(size):
        if len(objects) and (not len(clips) or float(torch.rand(1, generator=gen)) < single_prob):
            o = objects[int(torch.randint(len(objects), (1,), generator=gen))]
            groups.append(o.view(1))
            targets.append(data.audio[o])
        else:
            c = int(clips[int(torch.randint(len(clips), (1,), generator=gen))])
            groups.append(data.clip_objects[c])
            targets.append(data.clip_target[c])
    return _Items(groups, torch.stack(targets))


def _modalities(n: int, p_text: float, p_audio: float, gen: torch.Generator) -> torch.Tensor:
    """0 = crop, 1 = caption, 2 = stem audio, per source."""
    u = torch.rand(n, generator=gen)
    return torch.where(u < p_text, 1, torch.where(u < p_text + p_audio, 2, 0))


def _static_tokens(
    manifold: CMSSManifold, remixer: Remixer, data: SourceData, rows: torch.Tensor, modality: torch.Tensor
) -> torch.Tensor:
    """Tokens of sources given as caption (modality 1) or stem audio (modality 2)."""
    dev = next(manifold.parameters()).device
    parts = []
    text_rows = rows[modality == 1]
    if len(text_rows):
        t = data.text[text_rows].to(dev)
        parts.append(make_tokens(manifold.embed_clip(t), t))
    audio_rows = rows[modality == 2]
    if len(audio_rows):
        a = data.audio[audio_rows].to(dev)
        parts.append(make_tokens(manifold.embed_audio(a), None, remixer.config.clip_dim))
    return torch.cat(parts) if parts else torch.zeros(0, remixer.config.token_dim, device=dev)


@torch.no_grad()
def remix_tokens(
    manifold: CMSSManifold,
    remixer: Remixer,
    data: SourceData,
    items: _Items,
    gen: torch.Generator | None,
    text_prob: float = 0.0,
    audio_prob: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """ψ's tokens [B, M, token_dim] and mask for ``items``: one token per source — a random
    visible crop, or its caption (``text_prob``) or stem audio (``audio_prob``); with
    ``gen=None`` every source is its middle visible crop."""
    dev = next(manifold.parameters()).device
    sets = []
    for rows in items.objects:
        if gen is None:
            modality = torch.zeros(len(rows), dtype=torch.long)
            frames = _middle_frames(data.valid[rows])
        else:
            modality = _modalities(len(rows), text_prob, audio_prob, gen)
            frames = _random_frames(data.valid[rows], gen)
        modality = torch.where((modality == 0) & ~data.valid[rows].any(dim=1), 1, modality)
        crop_rows = modality == 0
        crops = data.crops[rows[crop_rows], frames[crop_rows]].float().to(dev)
        parts = [make_tokens(manifold.embed_clip(crops), crops)] if len(crops) else []
        parts.append(_static_tokens(manifold, remixer, data, rows, modality))
        sets.append(torch.cat(parts))
    return pad_sources(sets, remixer.config.max_sources)


@torch.no_grad()
def temporal_frames(
    manifold: CMSSManifold,
    remixer: Remixer,
    data: SourceData,
    items: _Items,
    gen: torch.Generator,
    text_prob: float = 0.0,
    audio_prob: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frame ψ samples [B, T, audio_dim] and frame mask [B, T] for ω's training (sources
    as crops on every visible frame, or captions / stem audio held over all frames)."""
    dev = next(manifold.parameters()).device
    all_tokens, all_masks = [], []
    for rows in items.objects:
        modality = _modalities(len(rows), text_prob, audio_prob, gen)
        modality = torch.where((modality == 0) & ~data.valid[rows].any(dim=1), 1, modality)
        crop_rows = rows[modality == 0]
        crops = data.crops[crop_rows].float().to(dev)
        static = _static_tokens(manifold, remixer, data, rows, modality)
        tokens, mask = frame_tokens(manifold, remixer, crops, data.valid[crop_rows].to(dev), static)
        all_tokens.append(tokens)
        all_masks.append(mask)
    tokens, mask = torch.stack(all_tokens), torch.stack(all_masks)  # [B, T, M, ...]
    b, t = tokens.shape[:2]
    draws = remixer.draw(tokens.flatten(0, 1), mask.flatten(0, 1), 1, gen)[0].view(b, t, -1)
    present = mask.any(dim=-1)
    return draws * present[..., None], present


# -- evaluation -------------------------------------------------------------------------------


def _top1(query: torch.Tensor, keys: torch.Tensor, categories: list[str]) -> tuple[float, float]:
    """Instance and category top-1 of row i of ``query`` retrieving row i of ``keys``."""
    best = (query @ keys.T).argmax(dim=1)
    instance = float((best == torch.arange(len(query))).float().mean())
    category = sum(categories[int(b)] == categories[i] for i, b in enumerate(best)) / len(query)
    return instance, float(category)


@torch.no_grad()
def evaluate_manifold(manifold: CMSSManifold, data: SourceData, split: str = "val") -> dict[str, Any]:
    """Retrieval among the ``split`` objects, raw CLIP/audio vs CMSS: crop→audio, audio→crop
    and caption→audio top-1 (instance, and category of the retrieved item); crops of an object
    are averaged (CMSS: their embeddings). Also cos(audio, χ(v(crop)))."""
    manifold.eval()
    dev = next(manifold.parameters()).device
    rows = data.objects_in(split)
    rows = rows[data.valid[rows].any(dim=1)]
    if len(rows) < 2:
        return {}
    cats = [data.category[int(r)] for r in rows]
    valid = data.valid[rows].to(dev).float()[..., None]
    crops = data.crops[rows].float().to(dev)

    def pooled(x: torch.Tensor) -> torch.Tensor:
        return F.normalize((x * valid).sum(dim=1), dim=-1)

    audio, text = data.audio[rows].to(dev), data.text[rows].to(dev)
    spaces = {
        "raw": (pooled(crops), audio, text),
        "cmss": (pooled(manifold.embed_clip(crops)), manifold.embed_audio(audio), manifold.embed_clip(text)),
    }
    out: dict[str, Any] = {"n": len(rows), "chance_top1": 1.0 / len(rows)}
    for name, (c, a, t) in spaces.items():
        c, a, t = c.cpu(), a.cpu(), t.cpu()
        out[name] = {
            "crop_to_audio_top1": _top1(c, a, cats)[0],
            "crop_to_audio_category_top1": _top1(c, a, cats)[1],
            "audio_to_crop_top1": _top1(a, c, cats)[0],
            "audio_to_crop_category_top1": _top1(a, c, cats)[1],
            "text_to_audio_top1": _top1(t, a, cats)[0],
            "text_to_audio_category_top1": _top1(t, a, cats)[1],
        }
    recon = manifold.reconstruct(spaces["cmss"][0])
    out["reconstruction_cosine"] = float(F.cosine_similarity(recon, audio, dim=-1).mean())
    return out


def _category_means(
    data: SourceData, split: str
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], torch.Tensor]:
    """Per category set: mean train mix embedding; per category: mean stem; global mean mix."""
    mix: dict[str, list[torch.Tensor]] = {}
    for c in data.clips_in(split).tolist():
        mix.setdefault(data.clip_category(c), []).append(data.clip_target[c])
    stem: dict[str, list[torch.Tensor]] = {}
    for o in data.objects_in(split).tolist():
        stem.setdefault(data.category[o], []).append(data.audio[o])
    glob = F.normalize(data.clip_target[data.clips_in(split)].mean(dim=0), dim=-1)
    norm = {k: F.normalize(torch.stack(v).mean(dim=0), dim=-1) for k, v in mix.items()}
    return norm, {k: F.normalize(torch.stack(v).mean(dim=0), dim=-1) for k, v in stem.items()}, glob


@torch.no_grad()
def evaluate_remixer(
    manifold: CMSSManifold, remixer: Remixer, data: SourceData, split: str = "val", temporal: bool = True
) -> dict[str, Any]:
    """Cosine of the mix embedding to the ``split`` clips' true mix embedding, with baselines.

    Sources from each object's middle visible crop (``crops``) or its caption (``captions``);
    ``temporal``: all 64 frames through :func:`~foleystudio.ml.ssv2a.sources.mix_embedding`
    (ψ per frame + ω), against the plain mean of the per-frame ψ outputs. Baselines:
    ``mean_of_stems`` (normalised mean of the true stem embeddings — an oracle that hears each
    source), ``category_mean`` (train mean mix of the same category set), ``global_mean``.
    Single objects → their stem: ψ on the crop vs the train category mean stem and the raw crop.
    """
    manifold.eval()
    remixer.eval()
    dev = next(remixer.parameters()).device
    clips = [c for c in data.clips_in(split).tolist() if len(data.clip_objects[c])]
    if not clips:
        return {}
    mix_means, stem_means, glob = _category_means(data, "train")
    targets = data.clip_target[clips]
    items = _Items([data.clip_objects[c] for c in clips], targets)
    tokens, mask = remix_tokens(manifold, remixer, data, items, None)

    def cos(x: torch.Tensor, y: torch.Tensor) -> float:
        return float(F.cosine_similarity(x.cpu().float(), y.cpu().float(), dim=-1).mean())

    out: dict[str, Any] = {"clips": len(clips)}
    out["remix_crops"] = cos(remixer.remix(tokens, mask), targets)
    captions = []
    for rows in items.objects:
        t = data.text[rows].to(dev)
        captions.append(make_tokens(manifold.embed_clip(t), t))
    out["remix_captions"] = cos(remixer.remix(*pad_sources(captions, remixer.config.max_sources)), targets)
    out["baseline_mean_of_stems"] = cos(
        torch.stack([F.normalize(data.audio[r].mean(0), dim=-1) for r in items.objects]), targets
    )
    out["baseline_category_mean"] = cos(
        torch.stack([mix_means.get(data.clip_category(c), glob) for c in clips]), targets
    )
    out["baseline_global_mean"] = cos(glob.expand_as(targets), targets)
    if temporal:
        ta, frame_mean = [], []
        for c in clips:
            rows = data.clip_objects[c]
            sources = [PerceivedSource.object(data.crops[o].float(), data.valid[o]) for o in rows.tolist()]
            ta.append(mix_embedding(manifold, remixer, sources)[0])
            ftok, fmask = frame_tokens(
                manifold,
                remixer,
                data.crops[rows].float().to(dev),
                data.valid[rows].to(dev),
                torch.zeros(0, remixer.config.token_dim, device=dev),
            )
            present = fmask.any(dim=1)
            frame_mean.append(F.normalize(remixer.remix(ftok[present], fmask[present]).mean(0), dim=-1))
        out["temporal_aggregation"] = cos(torch.stack(ta), targets)
        out["frame_mean_remix"] = cos(torch.stack(frame_mean), targets)
    objects = [o for o in data.objects_in(split).tolist() if bool(data.valid[o].any())]
    if objects:
        rows = torch.tensor(objects)
        frames = _middle_frames(data.valid[rows])
        crops = data.crops[rows, frames].float().to(dev)
        tok, msk = pad_sources(
            list(make_tokens(manifold.embed_clip(crops), crops)[:, None]), remixer.config.max_sources
        )
        stems = data.audio[rows]
        out["single_objects"] = len(objects)
        out["single_remix"] = cos(remixer.remix(tok, msk), stems)
        out["single_baseline_category_mean"] = cos(
            torch.stack([stem_means.get(data.category[o], glob) for o in objects]), stems
        )
        out["single_baseline_raw_crop"] = cos(crops, stems)
    return out


# -- training ---------------------------------------------------------------------------------


class SSV2AModules(torch.nn.Module):
    """The manifold and the Remixer as one module, for the training state."""

    def __init__(self, manifold: CMSSManifold, remixer: Remixer) -> None:
        super().__init__()
        self.manifold = manifold
        self.remixer = remixer


@contextlib.contextmanager
def _seeded_step(seed: int, device: torch.device) -> Iterator[None]:
    """Dropout of this step seeded by ``seed``; the caller's global RNG is left as it was."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def _validate(modules: SSV2AModules, data: SourceData, stage: str) -> dict[str, Any]:
    manifold, remixer = modules.manifold, modules.remixer
    result: dict[str, Any] = {}
    if not len(data.objects_in("val")):
        return result
    result["manifold"] = evaluate_manifold(manifold, data, "val")
    if stage != "manifold":
        result["remixer"] = evaluate_remixer(manifold, remixer, data, "val", temporal=stage == "temporal")
    return result


@dataclass(frozen=True, eq=False)
class _StageBatch:
    """A step's inputs: the stage, its generator, and the stage's tensors (on the device).

    ``manifold``: ``inputs`` = (clip [B, Dc], audio [B, Da]); ``remixer``: (tokens, mask);
    ``temporal``: (frames, present); ``target`` [B, Da] for the last two."""

    stage: str
    generator: torch.Generator
    inputs: tuple[torch.Tensor, torch.Tensor]
    target: torch.Tensor | None = None


class _SSV2ATask(Task[_StageBatch]):
    """The three stages on one step counter; each stage's loss updates only its own modules."""

    label = "SSV2A"

    def __init__(
        self,
        modules: SSV2AModules,
        data: SourceData,
        settings: SSV2ATrainSettings,
        dev: torch.device,
        run_dir: Path,
        cache_path: str | os.PathLike[str],
    ) -> None:
        self.modules, self.data, self.settings, self.dev = modules, data, settings, dev
        self.run_dir, self.cache_path = run_dir, cache_path
        self.train_objects, self.train_clips = data.objects_in("train"), data.clips_in("train")
        #: Where each stage ends (steps): the loop evaluates and checkpoints there.
        self.ends = set(
            accumulate((settings.manifold_steps, settings.remixer_steps, settings.temporal_steps))
        )

    def describe(self, step: int) -> str:
        return f"SSV2A {self.settings.stage_of(step)[0]}"

    def step_context(self, step: int) -> contextlib.AbstractContextManager[None]:
        return _seeded_step(self.settings.seed * 7_919 + step, self.dev)

    def lr_factor(self, step: int, steps: int, warmup: int) -> float:
        _, local, length = self.settings.stage_of(step)  # each stage has its own schedule
        return warmup_cosine(local, length, min(warmup, max(1, length // 10)))

    def boundary(self, step: int) -> bool:
        return step in self.ends

    def batch(self, step: int) -> _StageBatch:
        s, data, dev = self.settings, self.data, self.dev
        manifold, remixer = self.modules.manifold, self.modules.remixer
        stage = s.stage_of(step)[0]
        gen = step_generator(s.seed, step)
        if stage == "manifold":
            manifold.train()
            size = min(s.manifold_batch, len(self.train_objects))
            rows = self.train_objects[torch.randperm(len(self.train_objects), generator=gen)[:size]]
            clip, audio = (t.to(dev) for t in manifold_batch(data, rows, s.text_prob, gen))
            return _StageBatch(stage, gen, (clip, audio))
        manifold.eval()
        size = s.remixer_batch if stage == "remixer" else s.temporal_batch
        items = sample_items(data, self.train_clips, self.train_objects, size, s.single_prob, gen)
        target = items.targets.to(dev)
        if stage == "remixer":
            remixer.train()
            inputs = remix_tokens(
                manifold, remixer, data, items, gen, s.source_text_prob, s.source_audio_prob
            )
        else:
            remixer.psi.eval()  # ψ only draws the frames ω learns from
            remixer.temporal.train()
            inputs = temporal_frames(
                manifold, remixer, data, items, gen, s.source_text_prob, s.source_audio_prob
            )
        return _StageBatch(stage, gen, inputs, target)

    def loss(self, batch: _StageBatch) -> Update:
        manifold, remixer = self.modules.manifold, self.modules.remixer
        info = {"stage": batch.stage}
        if batch.stage == "manifold":
            loss, parts = manifold.loss(*batch.inputs, batch.generator)
            if not self.settings.alternate:
                return Update(loss, scalars=parts, info=info)

            def reconstructor() -> Update:
                return Update(
                    manifold.loss(*batch.inputs, batch.generator)[0], frozen=manifold.projector_parameters()
                )

            # Projectors on this batch, then the reconstructor (SSV2A §3.2).
            return Update(loss, parts, info, frozen=manifold.reconstructor_parameters(), then=reconstructor)
        assert batch.target is not None
        if batch.stage == "remixer":
            loss, parts = remixer.loss(*batch.inputs, batch.target, batch.generator)
        else:
            loss, parts = remixer.temporal_loss(*batch.inputs, batch.target, generator=batch.generator)
        return Update(loss, scalars=parts, info=info)

    def after_update(self, step: int) -> None:
        if self.settings.stage_of(step)[0] == "manifold":
            self.modules.manifold.clamp_logit_scale()

    def evaluate(self, step: int) -> dict[str, Any]:
        stage = self.settings.stage_of(step - 1)[0]  # the stage of the step just done
        figures = _validate(self.modules, self.data, stage)
        return {"stage": stage, **figures} if figures else {}

    def finish(self, result: LoopResult) -> dict[str, Any]:
        """The summary; a finished run writes the ``ssv2a_*`` files with it."""
        val = {k: v for k, v in result.evaluation.items() if k != "stage"}
        summary = {**result.summary(), "val": val}
        if result.finished:
            self.modules.eval()
            training = {**summary, "cache": str(self.cache_path), "settings": asdict(self.settings)}
            save_ssv2a(self.run_dir, self.modules.manifold, self.modules.remixer, training=training)
        return summary


def train_ssv2a(
    cache_path: str | os.PathLike[str],
    run_dir: str | os.PathLike[str],
    settings: SSV2ATrainSettings = SSV2ATrainSettings(),
    *,
    resume: bool = False,
    device: str = "auto",
    max_seconds: float | None = None,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> dict[str, Any]:
    """Train (or resume) an SSV2A run on a feature cache; returns a summary with the
    validation figures. A finished run (all steps done) writes the ``ssv2a_*`` files.
    Stopping (cancel, ``max_seconds`` of this call) and the log are ``train/loop.py``'s."""
    run_dir = Path(run_dir)
    dev = pick_device(device)
    data = load_source_data(cache_path)
    if not len(data.objects_in("train")):
        raise DataError("feature cache has no training object examples", cache_path)
    dims = {"clip_dim": data.clip_dim, "audio_dim": data.audio_dim}
    manifold_config = ManifoldConfig(**{"joint_dim": data.clip_dim, **dims, **settings.manifold})
    remixer_config = RemixerConfig(**{"joint_dim": manifold_config.joint_dim, **dims, **settings.remixer})
    modules = SSV2AModules(
        CMSSManifold(manifold_config, seed=settings.seed), Remixer(remixer_config, seed=settings.seed + 1)
    ).to(dev)
    no_decay = [modules.manifold.logit_scale]
    decay = [p for p in modules.parameters() if p is not modules.manifold.logit_scale]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": settings.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=settings.lr,
    )
    loop_settings = LoopSettings.from_settings(settings, steps=settings.total_steps)
    ctx = single_process_context(dev)
    loop = TrainLoop(run_dir, modules, optimizer, loop_settings, ctx=ctx, resume=resume)
    configs = {"manifold": manifold_config.to_dict(), "remixer": remixer_config.to_dict()}
    facts = {
        "settings": asdict(settings),
        "configs": configs,
        "train_objects": len(data.objects_in("train")),
        "train_clips": len(data.clips_in("train")),
        "val_objects": len(data.objects_in("val")),
        "val_clips": len(data.clips_in("val")),
        "machine": machine_description(),
        "cache": str(cache_path),
    }
    return loop.run(
        _SSV2ATask(modules, data, settings, dev, run_dir, cache_path),
        facts=facts,
        checkpoint_meta={"configs": configs, "settings": asdict(settings)},
        max_seconds=max_seconds,
        progress=progress,
        cancel=cancel,
    )
