"""Training data: folders of clips and their feature cache.

Two kinds of folder are read:

- a FoleyWorld corpus (``index.json`` + ``clip_*.mp4/.json/.wav`` + ``.stems/``), which
  gives exact ground truth: captions, onsets, per-source stems and boxes;
- any folder of real videos with sound (``.mp4 .mov .mkv .webm .m4v .avi``), the user's own
  library; a sidecar ``<name>.txt`` is used as the caption, onsets are detected from the audio.

Epochs must not re-decode video, so :func:`build_feature_cache` runs each clip once through
the same feature path as inference (``ml/features.py``: CLIP tokens at 8 fps, motion at
24 fps) and the codec, and stores the result as one safetensors file + a JSON index.
Each clip gives one whole-frame example (target: the mix) and, for FoleyWorld, one example
per visible source (its crops, in-box motion, target: its stem) for per-object generation.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from foleystudio.core.atomicfile import atomic_write_bytes
from foleystudio.core.audio import load_audio
from foleystudio.core.boxes import Box, BoxKeyframe
from foleystudio.core.jobs import CancelToken, ProgressCallback, no_progress
from foleystudio.core.media import VIDEO_SUFFIXES, VideoFile, read_audio
from foleystudio.errors import DataError, FoleyStudioError
from foleystudio.ml.codec import Codec
from foleystudio.ml.encoders.audio import AudioEncoder
from foleystudio.ml.encoders.clip_encoder import ClipEncoder
from foleystudio.ml.encoders.motion import (
    MAX_SIDE,
    MOTION_FPS,
    SYNC_FEATURE_NAMES,
    boxes_at_times,
    grey_small,
)
from foleystudio.ml.encoders.visual_onsets import VisualOnsetNet, onset_tracks
from foleystudio.ml.features import VISUAL_FPS, extract_video_features, onset_feature
from foleystudio.ml.onsets import detect_onsets

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class ClipRecord:
    """One clip of a data folder; ``truth`` is FoleyWorld's ground truth (None for real video)."""

    name: str
    video: Path
    split: str
    audio: Path | None = None
    truth: dict[str, Any] | None = None
    caption: str = ""
    text: str = ""


def _hash_split(name: str) -> str:
    """Deterministic 90/5/5 split of a real-video folder by file name."""
    bucket = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % 100
    return "train" if bucket < 90 else ("val" if bucket < 95 else "test")


def scan_folder(data_dir: str | os.PathLike[str]) -> list[ClipRecord]:
    """The clips of a FoleyWorld corpus or a folder of videos, sorted by name."""
    root = Path(data_dir)
    if not root.is_dir():
        raise DataError("data folder does not exist", root)
    splits: dict[str, str] = {}
    index = root / "index.json"
    if index.is_file():
        try:
            data = json.loads(index.read_text())
        except ValueError as exc:
            raise DataError(f"index.json is not valid JSON: {exc}", index) from exc
        for split, names in (data.get("splits") or {}).items():
            for name in names:
                splits[Path(name).stem] = split
    records = []
    for video in sorted(
        p for p in root.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and not p.name.startswith(".")
    ):
        name = video.stem
        truth_path = video.with_suffix(".json")
        truth = None
        if truth_path.is_file():
            try:
                truth = json.loads(truth_path.read_text())
            except ValueError as exc:
                raise DataError(f"ground truth is not valid JSON: {exc}", truth_path) from exc
        wav = video.with_suffix(".wav")
        sidecar = video.with_suffix(".txt")
        caption = (
            truth.get("caption", "") if truth else (sidecar.read_text().strip() if sidecar.is_file() else "")
        )
        text = truth.get("text", "") if truth else caption
        records.append(
            ClipRecord(
                name=name,
                video=video,
                split=splits.get(name, _hash_split(name)),
                audio=wav if wav.is_file() else None,
                truth=truth,
                caption=caption,
                text=text,
            )
        )
    if not records:
        raise DataError("no video files found", root)
    return records


def onset_targets(
    onsets: Sequence[float], n_tokens: int, token_rate: float, start: float = 0.0
) -> np.ndarray:
    """[n_tokens] float32 with 1 at each token holding an onset (seconds from ``start``)."""
    target = np.zeros(n_tokens, np.float32)
    for t in onsets:
        k = int(np.floor((t - start) * token_rate))
        if 0 <= k < n_tokens:
            target[k] = 1.0
    return target


def _fit_length(wave: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, np.float32)
    out[: min(n, len(wave))] = wave[:n]
    return out


def source_keyframes(boxes: list[list[float] | None], fps: float) -> list[BoxKeyframe] | None:
    """Per-frame truth boxes (None while out of view) as keyframes; None if never visible."""
    keys = [
        BoxKeyframe(i / fps, Box(*b)) for i, b in enumerate(boxes) if b is not None and b[2] > 0 and b[3] > 0
    ]
    return keys or None


def check_audio_rate(records: Sequence[ClipRecord], sample_rate: int) -> None:
    """Refuse (DataError) a corpus whose WAVs are below ``sample_rate`` Hz, the codec's rate: they
    would be upsampled silently and the model would learn that nothing sounds above their
    Nyquist. Videos without a WAV are not checked (their sound is resampled from any rate)."""
    for record in records:
        if record.audio is None:
            continue
        try:
            rate = int(sf.info(str(record.audio)).samplerate)
        except (sf.SoundFileError, RuntimeError, OSError) as exc:
            raise DataError(f"cannot read the clip's sound ({exc})", record.audio) from exc
        if rate < sample_rate:
            raise DataError(
                f"the clip's sound is {rate} Hz, below the codec's {sample_rate} Hz; make the corpus at "
                f"the codec's rate (data foleyworld --sample-rate {sample_rate})",
                record.audio,
            )


def build_feature_cache(
    records: Sequence[ClipRecord],
    clip: ClipEncoder,
    codec: Codec,
    out_path: str | os.PathLike[str],
    *,
    window_seconds: float = 8.0,
    per_source: bool = True,
    normalise: bool = True,
    audio_encoder: AudioEncoder | None = None,
    onset_net: VisualOnsetNet | None = None,
    cancel: CancelToken | None = None,
    progress: ProgressCallback = no_progress,
) -> Path:
    """Extract features of the first window of every record and write ``out_path``
    (``.safetensors``) + ``out_path.json``; returns the safetensors path.

    Tensors (E examples): ``visual`` [E, Tv, D] f16, ``visual_valid`` [E, Tv] bool, ``sync``
    [E, Na, S], ``tokens`` [E, Na, latent], ``onsets`` [E, Na], ``text`` [E, L, D] f16,
    ``text_mask`` [E, L], ``text_pooled`` [E, D]; with ``audio_encoder`` also
    ``audio_embedding`` [E, A] (:func:`embed_target_audio`); with ``onset_net`` the sync features
    end with the visual onset track (``VideoFeatures.window``). The JSON lists each example's clip, kind
    (``mix`` | ``object``), source id, category, caption and split, and the codec config —
    with ``normalise``, the codec's constants refitted to the corpus (:func:`normalise_tokens`).
    A clip whose WAV is at a lower rate than the codec's → DataError (:func:`check_audio_rate`).
    """
    out_path = Path(out_path)
    check_audio_rate(records, codec.sample_rate)
    n_audio = codec.num_tokens(window_seconds)
    n_visual = round(window_seconds * VISUAL_FPS)
    n_samples = codec.num_samples(n_audio)
    columns: dict[str, list[np.ndarray]] = {
        k: [] for k in ("visual", "visual_valid", "sync", "tokens", "onsets")
    }
    if audio_encoder is not None:
        columns["audio_embedding"] = []
    captions: list[str] = []
    examples: list[dict[str, Any]] = []
    for i, record in enumerate(records):
        if cancel is not None:
            cancel.raise_if_cancelled()
        objects: dict[str, list[BoxKeyframe]] = {}
        sources = (record.truth or {}).get("sources", []) if per_source else []
        fps = float((record.truth or {}).get("fps", 24))
        for source in sources:
            keys = source_keyframes(source.get("boxes") or [], fps)
            if keys:
                objects[source["id"]] = keys
        try:
            feats = extract_video_features(
                record.video, 0.0, window_seconds, clip, objects=objects, onset_net=onset_net
            )
            if record.audio is not None:
                mix, _ = load_audio(record.audio, codec.sample_rate, mono=True)
            else:
                mix = read_audio(record.video, codec.sample_rate, mono=True, end=window_seconds)
        except FoleyStudioError as exc:
            raise DataError(f"cannot read clip: {exc.problem}", exc.path or record.video) from exc
        if record.truth:
            mix_onsets = [t for s in sources for t in s.get("onsets", [])]
        else:
            mix_onsets = list(detect_onsets(mix, codec.sample_rate))
        targets = [("mix", None, mix, mix_onsets, record.caption, "")]
        stems_dir = record.video.with_suffix(".stems")
        for source in sources:
            stem = stems_dir / f"{source['id']}.wav"
            if source["id"] in objects and stem.is_file():
                wave, _ = load_audio(stem, codec.sample_rate, mono=True)
                targets.append(
                    (
                        "object",
                        source["id"],
                        wave,
                        source.get("onsets", []),
                        source.get("caption", ""),
                        source.get("category", ""),
                    )
                )
        waves = torch.from_numpy(np.stack([_fit_length(t[2], n_samples) for t in targets]))
        with torch.no_grad():
            tokens = codec.encode(waves).float().numpy()
        if audio_encoder is not None:
            columns["audio_embedding"].extend(
                embed_target_audio(audio_encoder, waves.numpy(), codec.sample_rate)
            )
        for (kind, source_id, _, onsets, caption, category), toks in zip(targets, tokens, strict=True):
            window = feats.window(0.0, n_visual, n_audio, codec.token_rate, object_id=source_id)
            columns["visual"].append(window["visual"].astype(np.float16))
            columns["visual_valid"].append(window["visual_valid"])
            columns["sync"].append(window["sync"])
            columns["tokens"].append(toks[:n_audio])
            columns["onsets"].append(onset_targets(onsets, n_audio, codec.token_rate))
            captions.append(caption)
            examples.append(
                {
                    "clip": record.name,
                    "split": record.split,
                    "kind": kind,
                    "source": source_id,
                    "category": category or ",".join(s.get("category", "") for s in sources),
                    "caption": caption,
                }
            )
        progress((i + 1) / len(records), f"features {i + 1}/{len(records)}")
    if not examples:
        raise DataError("no examples to cache", out_path)
    text, text_mask, text_pooled = _encode_captions(clip, captions)
    tensors = {k: torch.from_numpy(np.stack(v)) for k, v in columns.items()}
    tensors.update(text=text.half(), text_mask=text_mask, text_pooled=text_pooled)
    meta = {
        "window_seconds": window_seconds,
        "token_rate": codec.token_rate,
        "examples": examples,
        "codec": codec.to_config(),
        "clip": clip.config.to_dict(),
    }
    if audio_encoder is not None:
        meta["audio_encoder"] = audio_encoder.config.to_dict()
    if onset_net is not None:
        meta["visual_onsets"] = onset_net.config.to_dict()
    if normalise:
        normalise_tokens(tensors, meta)
    return write_cache(out_path, tensors, meta)


def embed_target_audio(encoder: AudioEncoder, waves: np.ndarray, sample_rate: int) -> np.ndarray:
    """l2-normalised audio-encoder embeddings ``[N, A]`` float32 of mono ``waves`` ``[N, samples]``
    at ``sample_rate`` Hz: the SSV2A mix embedding a training example's target audio gives."""
    return encoder.embed_numpy(waves, sample_rate)


def add_audio_embeddings(
    cache_path: str | os.PathLike[str],
    records: Sequence[ClipRecord],
    encoder: AudioEncoder,
    *,
    cancel: CancelToken | None = None,
    progress: ProgressCallback = no_progress,
) -> Path:
    """Add (or replace) the ``audio_embedding`` column of an existing cache from its clips'
    target audio (the mix, or a source's stem), without re-extracting the video features."""
    cache_path = Path(cache_path)
    meta, tensors = read_cache(cache_path)
    by_name = {r.name: r for r in records}
    window_seconds = float(meta["window_seconds"])
    rate = encoder.config.sample_rate
    n = round(window_seconds * rate)
    out: list[np.ndarray] = []
    examples = meta["examples"]
    for i, example in enumerate(examples):
        if cancel is not None:
            cancel.raise_if_cancelled()
        record = by_name.get(example["clip"])
        if record is None:
            raise DataError(
                f"cache example {i} is clip '{example['clip']}', which is not in the data folder", cache_path
            )
        if example["kind"] == "object":
            wave, _ = load_audio(
                record.video.with_suffix(".stems") / f"{example['source']}.wav", rate, mono=True
            )
        elif record.audio is not None:
            wave, _ = load_audio(record.audio, rate, mono=True)
        else:
            wave = read_audio(record.video, rate, mono=True, end=window_seconds)
        out.extend(embed_target_audio(encoder, _fit_length(wave, n)[None], rate))
        progress((i + 1) / len(examples), f"audio embeddings {i + 1}/{len(examples)}")
    tensors["audio_embedding"] = torch.from_numpy(np.stack(out))
    meta["audio_encoder"] = encoder.config.to_dict()
    return write_cache(cache_path, tensors, meta)


def add_visual_onsets(
    cache_path: str | os.PathLike[str],
    records: Sequence[ClipRecord],
    net: VisualOnsetNet,
    *,
    cancel: CancelToken | None = None,
    progress: ProgressCallback = no_progress,
) -> Path:
    """Append (or replace) the visual onset feature as the last ``sync`` channel of an existing
    cache, decoding only the frames (no CLIP, no audio): the same values
    :func:`build_feature_cache` with ``onset_net`` gives."""
    cache_path = Path(cache_path)
    meta, tensors = read_cache(cache_path)
    by_name = {r.name: r for r in records}
    window_seconds = float(meta["window_seconds"])
    rate = float(meta["token_rate"])
    sync = tensors["sync"].numpy()
    base = sync[..., : len(SYNC_FEATURE_NAMES)]
    column = np.zeros(sync.shape[:2], np.float32)
    tracks: dict[str, tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]] = {}
    examples = meta["examples"]
    for i, example in enumerate(examples):
        if cancel is not None:
            cancel.raise_if_cancelled()
        name = example["clip"]
        if name not in tracks:
            record = by_name.get(name)
            if record is None:
                raise DataError(
                    f"cache example {i} is clip '{name}', which is not in the data folder", cache_path
                )
            tracks = {name: _clip_onset_tracks(record, net, window_seconds)}  # rows of a clip are adjacent
        times, whole, per_object = tracks[name]
        track = whole if example["kind"] == "mix" else per_object[example["source"]]
        column[i] = onset_feature(track, times, rate, column.shape[1], 0.0)
        progress((i + 1) / len(examples), f"visual onsets {i + 1}/{len(examples)}")
    tensors["sync"] = torch.from_numpy(np.concatenate([base, column[..., None]], axis=-1))
    meta["visual_onsets"] = net.config.to_dict()
    return write_cache(cache_path, tensors, meta)


def _clip_onset_tracks(
    record: ClipRecord, net: VisualOnsetNet, window_seconds: float
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """``(frame times, whole-picture track, {source id: box track})`` of a clip's first window."""
    truth = record.truth or {}
    fps = float(truth.get("fps", 24))
    try:
        with VideoFile(record.video) as video:
            decoded = list(video.iter_frames(MOTION_FPS, MAX_SIDE, start=0.0, end=window_seconds))
    except FoleyStudioError as exc:
        raise DataError(f"cannot read clip: {exc.problem}", exc.path or record.video) from exc
    if not decoded:
        raise DataError("clip has no frames", record.video)
    times = np.asarray([t for t, _ in decoded])
    ids, boxes = [], []
    for source in truth.get("sources", []):
        keys = source_keyframes(source.get("boxes") or [], fps)
        if keys:
            ids.append(source["id"])
            boxes.append(boxes_at_times(keys, times))
    whole, per_box = onset_tracks(
        net, [grey_small(f) for _, f in decoded], np.stack(boxes) if boxes else None
    )
    return times, whole, dict(zip(ids, per_box, strict=True))


def cache_index(cache_path: str | os.PathLike[str]) -> dict[str, Any]:
    """A cache's JSON index (codec, window, examples, added features), read beside its
    safetensors file; a missing or broken index is a :class:`DataError`."""
    index = Path(cache_path).with_suffix(".json")
    try:
        return json.loads(index.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read feature cache index: {exc}", index) from exc


def read_cache(cache_path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """A cache's JSON index and its tensors (written by :func:`write_cache`)."""
    meta = cache_index(cache_path)
    try:
        return meta, load_file(str(cache_path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise DataError(f"cannot read feature cache: {exc}", cache_path) from exc


def write_cache(
    out_path: str | os.PathLike[str], tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> Path:
    """Write a cache's tensors (safetensors) and its JSON index, each atomically."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out_path, save(tensors))
    atomic_write_bytes(out_path.with_suffix(".json"), json.dumps(meta, indent=1).encode())
    return out_path


def normalise_tokens(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> tuple[float, float]:
    """Give the training tokens zero mean and unit variance, and fold the change into the
    stored codec config (``norm_mean``/``norm_std``), so the codec saved with the model
    encodes and decodes exactly these tokens. Returns the (mean, std) that were removed.

    Flow matching starts from N(0, I) noise; data of the same scale trains better, and the
    codec's default constants are only a guess for a given corpus.
    """
    rows = [i for i, e in enumerate(meta["examples"]) if e["split"] == "train"] or list(
        range(len(meta["examples"]))
    )
    train = tensors["tokens"][torch.tensor(rows)].double()
    mean, std = float(train.mean()), float(train.std())
    tensors["tokens"] = ((tensors["tokens"].double() - mean) / std).float()
    codec = meta["codec"]
    codec["norm_mean"] = codec["norm_mean"] + codec["norm_std"] * mean
    codec["norm_std"] = codec["norm_std"] * std
    meta["token_normalisation"] = {"removed_mean": mean, "removed_std": std}
    return mean, std


def _encode_captions(clip: ClipEncoder, captions: list[str], batch: int = 64) -> tuple[torch.Tensor, ...]:
    parts = [clip.encode_text(captions[i : i + batch]) for i in range(0, len(captions), batch)]
    return tuple(torch.cat([p[k].cpu() for p in parts]) for k in range(3))


class FeatureCache(torch.utils.data.Dataset):
    """Examples of a cache written by :func:`build_feature_cache`, optionally one split."""

    def __init__(
        self, path: str | os.PathLike[str], split: str | None = None, kinds: Sequence[str] = ("mix", "object")
    ) -> None:
        path = Path(path)
        self.meta, tensors = read_cache(path)
        rows = [
            i
            for i, ex in enumerate(self.meta["examples"])
            if (split is None or ex["split"] == split) and ex["kind"] in kinds
        ]
        if not rows:
            raise DataError(f"feature cache has no {split or 'any'} examples of kind {list(kinds)}", path)
        index = torch.tensor(rows)
        self.tensors = {k: v[index] for k, v in tensors.items()}
        self.examples = [self.meta["examples"][i] for i in rows]

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[i] for k, v in self.tensors.items()}
