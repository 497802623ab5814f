"""Writing FoleyWorld clips and whole corpora to disk.

A clip ``<name>`` is written as:

- ``<name>.mp4`` — H.264 video + AAC audio of the mix (resampled to 48 kHz);
- ``<name>.wav`` — the mix at the clip's sample rate (16 kHz by default), for training
  without AAC loss or AAC's encoder delay;
- ``<name>.stems/<id>.wav`` — one stem per source (``s0``…), plus ``ambience`` and
  ``offscreen`` when present; the stems sum to the mix;
- ``<name>.json`` — the ground truth (truth.py), written last: a clip whose JSON exists is
  complete.

A corpus is ``clip_00000`` … plus ``index.json`` with a train/val/test split that depends
only on (corpus seed, clip index), so a larger corpus with the same seed contains the
smaller one. Clip i's seed is derived from (corpus seed, i) the same way, so the number of
worker processes never changes what is generated.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import numpy as np

from foleystudio.core.atomicfile import atomic_write_bytes
from foleystudio.core.audio import resample, save_audio
from foleystudio.core.jobs import CancelToken, ProgressCallback, no_progress
from foleystudio.core.videowriter import write_video
from foleystudio.data.foleyworld.corpus_clip import CATEGORIES, ClipSpec, FoleyWorldClip, generate_from_spec
from foleystudio.data.foleyworld.samples import SAMPLES
from foleystudio.errors import DataError, JobCancelled, UsageError

INDEX_FORMAT = "foleyworld-index-1"
VIDEO_AUDIO_RATE = 48000  #: Hz of the AAC track in the MP4
SPLITS = ("train", "val", "test")


def write_clip(
    clip: FoleyWorldClip,
    out_dir: str | os.PathLike[str],
    name: str,
    *,
    stems: bool = True,
    mix_wav: bool = True,
    subtype: str = "PCM_16",
    crf: int = 20,
    preset: str | None = "veryfast",
) -> dict[str, Any]:
    """Write ``clip`` as ``name``.* in ``out_dir``; returns {"video", "truth", "mix", "stems"} paths.

    ``subtype`` is the WAV sample format of the mix and stems (``PCM_16``, ``PCM_24`` or
    ``FLOAT``). ``crf``/``preset`` are x264's quality and speed settings ("veryfast" encodes
    a 128 px clip ~2x faster than the default at the same quality setting). Every file is
    written atomically; the JSON comes last.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    spec = clip.spec
    paths: dict[str, Any] = {
        "video": out / f"{name}.mp4",
        "truth": out / f"{name}.json",
        "mix": None,
        "stems": {},
    }
    audio_48k = resample(clip.audio, spec.sample_rate, VIDEO_AUDIO_RATE)
    write_video(
        paths["video"], clip.frames, clip.record.fps, audio_48k, VIDEO_AUDIO_RATE, crf=crf, preset=preset
    )
    files: dict[str, Any] = {"video": f"{name}.mp4"}
    if mix_wav:
        paths["mix"] = save_audio(out / f"{name}.wav", clip.audio, spec.sample_rate, subtype)
        files["mix"] = f"{name}.wav"
    if stems:
        final = out / f"{name}.stems"
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.stems.", dir=out))
        try:
            for sid, stem in clip.stems.items():
                save_audio(tmp / f"{sid}.wav", stem, spec.sample_rate, subtype)
            if final.exists():
                shutil.rmtree(final)
            os.chmod(tmp, 0o755)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        paths["stems"] = {sid: final / f"{sid}.wav" for sid in clip.stems}
        files["stems"] = {sid: f"{name}.stems/{sid}.wav" for sid in clip.stems}
    truth = dict(clip.truth)
    truth["files"] = files
    atomic_write_bytes(paths["truth"], json.dumps(truth, separators=(",", ":")).encode())
    for path in [paths["truth"], paths["mix"], *paths["stems"].values()]:
        if path is not None:
            _shareable(path)
    return paths


def _shareable(path: Path) -> None:
    """Atomic writes create private (0600) temp files; a corpus is meant to be shared: 0644."""
    with contextlib.suppress(OSError):
        os.chmod(path, 0o644)


def clip_seed(corpus_seed: int, index: int) -> int:
    """The seed of clip ``index`` of a corpus (independent of corpus size and workers)."""
    return int(np.random.SeedSequence([int(corpus_seed), int(index)]).generate_state(1)[0])


def split_of(corpus_seed: int, index: int, fractions: Sequence[float] = (0.9, 0.05, 0.05)) -> str:
    """ "train", "val" or "test" for clip ``index``: a fixed draw per (seed, index)."""
    u = np.random.SeedSequence([int(corpus_seed), int(index), 1]).generate_state(1)[0] / 2**32
    edges = np.cumsum(fractions) / np.sum(fractions)
    return SPLITS[int(np.searchsorted(edges, u, side="right"))] if u < edges[-1] else SPLITS[-1]


def clip_name(index: int) -> str:
    return f"clip_{index:05d}"


def _clip_files(out: Path, name: str) -> list[Path]:
    return [out / f"{name}.json", out / f"{name}.mp4", out / f"{name}.wav", out / f"{name}.stems"]


def _is_complete(out: Path, name: str, spec: ClipSpec) -> bool:
    """True when ``name`` was already written from exactly ``spec`` (resuming a run)."""
    path = out / f"{name}.json"
    if not path.is_file() or not (out / f"{name}.mp4").is_file():
        return False
    try:
        return json.loads(path.read_text()).get("spec") == json.loads(json.dumps(spec.to_dict()))
    except (OSError, ValueError):
        return False


def _write_one(spec: ClipSpec, out: str, name: str, subtype: str) -> dict[str, Any]:
    """Worker: generate and write one clip; returns its index entry."""
    clip = generate_from_spec(spec)
    write_clip(clip, out, name, subtype=subtype)
    return _entry(name, clip.truth)


def _entry(name: str, truth: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "seed": truth["seed"],
        "categories": [s["category"] for s in truth["sources"]],
        "text": truth["text"],
        "offscreen": truth["offscreen"] is not None,
        **({"samples": truth["samples"]} if truth.get("samples") else {}),
    }


def generate_corpus(
    out_dir: str | os.PathLike[str],
    n_clips: int,
    seed: int,
    *,
    duration: float = 8.0,
    size: int = 128,
    fps: int = 24,
    sample_rate: int = 16000,
    n_sources: int | None = None,
    categories: Sequence[str] | None = None,
    look_variant: str = "standard",
    ambience: bool = True,
    offscreen: bool | None = None,
    use_samples: bool = False,
    randomise: bool = False,
    subtype: str = "PCM_16",
    jobs: int = 1,
    split_fractions: Sequence[float] = (0.9, 0.05, 0.05),
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> Path:
    """Write ``n_clips`` clips and ``index.json`` to ``out_dir``; returns the index path.

    Clips already present from the same settings are kept (an interrupted run resumes).
    ``jobs`` > 1 generates in that many worker processes. On cancel (or any error) the
    clips written by this call are removed again and the index is not touched.
    ``randomise`` turns on domain randomisation (randomise.py) for every clip; each clip then
    draws its own fps and ``fps`` is not used.
    """
    if n_clips < 1:
        raise UsageError(f"number of clips must be at least 1, got {n_clips}")
    if jobs < 1:
        raise UsageError(f"jobs must be at least 1, got {jobs}")
    if len(split_fractions) != 3 or min(split_fractions) < 0 or sum(split_fractions) <= 0:
        raise UsageError(f"split fractions must be three non-negative numbers, got {list(split_fractions)}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DataError("output path exists and is not a folder", out)
    out.mkdir(parents=True, exist_ok=True)
    cats = tuple(categories) if categories is not None else None
    specs = [
        ClipSpec(
            clip_seed(seed, i),
            duration,
            size,
            fps,
            sample_rate,
            n_sources,
            cats,
            look_variant,
            ambience,
            offscreen,
            use_samples,
            randomise,
        )
        for i in range(n_clips)
    ]
    specs[0].validate()
    cancel = cancel or CancelToken()
    entries: dict[int, dict[str, Any]] = {}
    todo: list[int] = []
    for i, spec in enumerate(specs):
        name = clip_name(i)
        if _is_complete(out, name, spec):
            entries[i] = _entry(name, json.loads((out / f"{name}.json").read_text()))
        else:
            todo.append(i)
    started = time.perf_counter()
    done = len(entries)
    progress(done / n_clips, f"{done} of {n_clips} clips already written")
    try:
        if jobs == 1 or len(todo) <= 1:
            for i in todo:
                cancel.raise_if_cancelled()
                entries[i] = _write_one(specs[i], str(out), clip_name(i), subtype)
                done += 1
                progress(done / n_clips, f"wrote {clip_name(i)}")
        else:
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
                pending: dict[Future, int] = {}
                queue = iter(todo)
                for i in queue:  # keep a bounded number of clips in flight
                    pending[pool.submit(_write_one, specs[i], str(out), clip_name(i), subtype)] = i
                    if len(pending) >= 2 * jobs:
                        break
                while pending:
                    finished, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                    if cancel.cancelled:
                        pool.shutdown(wait=True, cancel_futures=True)
                        raise JobCancelled()
                    for future in finished:
                        i = pending.pop(future)
                        entries[i] = future.result()
                        done += 1
                        progress(done / n_clips, f"wrote {clip_name(i)}")
                        nxt = next(queue, None)
                        if nxt is not None:
                            pending[
                                pool.submit(_write_one, specs[nxt], str(out), clip_name(nxt), subtype)
                            ] = nxt
        cancel.raise_if_cancelled()
    except BaseException:
        for i in todo:
            for path in _clip_files(out, clip_name(i)):
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
        raise
    elapsed = time.perf_counter() - started
    splits: dict[str, list[str]] = {s: [] for s in SPLITS}
    clips = []
    for i in range(n_clips):
        entry = dict(entries[i], split=split_of(seed, i, split_fractions))
        splits[entry["split"]].append(entry["name"])
        clips.append(entry)
    index = {
        "format": INDEX_FORMAT,
        "seed": int(seed),
        "n_clips": n_clips,
        "categories": list(CATEGORIES),
        "params": {
            "duration": duration,
            "size": size,
            "fps": fps,
            "sample_rate": sample_rate,
            "n_sources": n_sources,
            "categories": list(cats) if cats else None,
            "look_variant": look_variant,
            "ambience": ambience,
            "offscreen": offscreen,
            "use_samples": use_samples,
            "randomise": randomise,
            "subtype": subtype,
        },
        "splits": splits,
        "clips": clips,
        "generation": {"seconds": round(elapsed, 2), "clips_generated": len(todo), "jobs": jobs},
        "licences": {
            "procedural": "generated by FoleyStudio (no third-party media)",
            "samples": {
                file: SAMPLES[file].attribution
                for file in sorted({f for clip in clips for f in clip.get("samples", [])})
            },
        },
    }
    index_path = out / "index.json"
    atomic_write_bytes(index_path, json.dumps(index, indent=1).encode())
    progress(1.0, f"{n_clips} clips in {out}")
    return index_path


def corpus_licences(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The ``licences`` of the FoleyWorld corpus in ``folder`` (recorded files used, with
    their attribution), or None when ``folder`` holds no FoleyWorld index."""
    path = Path(folder) / "index.json"
    if not path.is_file():
        return None
    try:
        licences = load_index(path).get("licences")
    except DataError:
        return None
    return licences if isinstance(licences, dict) else None


def load_index(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a corpus ``index.json`` (or the folder holding it); raises :class:`DataError`."""
    path = Path(path)
    if path.is_dir():
        path = path / "index.json"
    try:
        index = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read FoleyWorld index ({exc})", path) from exc
    if not isinstance(index, dict) or index.get("format") != INDEX_FORMAT:
        raise DataError("not a FoleyWorld corpus index", path)
    return index
