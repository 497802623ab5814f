"""Sound library benchmark: does search find the right kind of sound, and is it fast and small
enough? (issue 19; docs/architecture.md §13)

Run ``python benchmarks/library.py [--quick] [--model M] [--clips N]`` or ``foleystudio bench
library [--quick] [--model M]``. Results: ``benchmarks/results/library.json`` (``--quick``:
``library_quick.json``) with the machine description and its load, and a summary on stdout.

**Recordings.** Held-out FoleyWorld clips: one source each, 4 s, the standard look, no
off-screen sound, categories in turn (12 per category in the full run: 132 clips), clip
``i`` with seed ``clip_seed(9004, i)`` — corpus seed 9004 is disjoint from the bundled
model's training corpus (seed 2026) and from the other benchmarks' sets (9001–9003). The
library indexes each clip's *source stem* (its sound without ambience), half as 16 kHz mono
WAV, half as 48 kHz stereo FLAC (so reading and resampling are part of the indexing time).
Each recording's label is its source's category (11 categories).

**Queries** (one per clip, ranked with ``core.library.Ranker``; a hit at k = one of the top k
recordings has the query's category):

- ``text``: the source's FoleyWorld short text ("a metal ball bouncing", "footsteps on
  grass"…) through CLIP text, compared with the audio embeddings directly. These are the
  texts the audio encoder was trained against (the recordings are new, the wording is not);
- ``text_paraphrase``: one user-style wording per category that FoleyWorld never writes
  (:data:`PARAPHRASES`: "birdsong", "a leaking tap"…), 11 queries — how far the tiny CLIP's
  text side generalises beyond the training vocabulary;
- ``picture_box``: the source's box crop of the clip's middle frame where it is visible, as
  a still picture (``library search --image --box``: 8 copies of the frame);
  ``picture_frame``: that whole frame; ``video_box``: the frames at 8 fps within ±0.5 s of
  that frame, each cropped to the source's box there (what the app's "Find Sounds for This
  Box" does with the object's keyframes); ``video_fixed_box``: those frames all cropped to the
  middle frame's box (``library search --video --time --box``) — each
  through CLIP and the SSV2A mix (``ml/library_search.py``); ``picture_box_one_frame``: the
  crop given to the Remixer once (why still pictures are repeated). The clip's own stem is
  *left out* of the ranking for picture queries (``*_incl_own`` keeps it, for comparison).

Chance: the expected hit@k of a random ranking, 1 − C(N − n_c, k)/C(N, k) for a query of
category c with n_c of the N candidate recordings in c, averaged over the queries.

**Speed and size.** ``index``: ``index_folder`` on the folder from scratch (scan, read,
resample, embed, commit; the model already loaded), in files/s (target ≥ 50 short files/s);
``rescan``: the same folder again, nothing changed. ``scale``: 10,000 entries
*synthesised by replicating the real recordings' embeddings* (paths renamed, one 4 s segment
each; and a second set of 3 segments each, as 8 s files have), committed with
``save_library``: its size on disk (target < 50 MB), the time to load it and to prepare the
ranker, the ranking time of one query (p50/p95 of 200 queries, target < 100 ms) and a text
query end to end (CLIP text + ranking).
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS_DIR = Path(__file__).resolve().parent / "results"
CORPUS_SEED = 9004
FULL_PER_CATEGORY, QUICK_PER_CATEGORY = 12, 2
DURATION = 4.0
SCALE_ENTRIES = 10_000
KS = (1, 5)
#: Per category, a wording FoleyWorld's captions never use (captions.py).
PARAPHRASES = {
    "ball_wood": "a wooden block knocking",
    "ball_metal": "a steel ball clanging",
    "ball_rubber": "a bouncy rubber ball",
    "ball_glass": "glass clinking",
    "hammer_anvil": "a blacksmith hammering metal",
    "footsteps": "someone walking",
    "door_slam": "a door banging shut",
    "car_passing": "a car driving past",
    "bird_chirps": "birdsong",
    "water_drips": "a leaking tap",
    "bell_ringing": "a church bell",
}
#: Frames per second of a FoleyWorld clip and of the video query.
CLIP_FPS, QUERY_FPS = 24, 8


def chance_hit(n_total: int, n_same: int, k: int) -> float:
    """Probability that a random ranking of ``n_total`` items has one of the ``n_same``
    relevant ones in its first ``k``."""
    if n_same <= 0:
        return 0.0
    k = min(k, n_total)
    return 1.0 - math.comb(n_total - n_same, k) / math.comb(n_total, k)


def make_recordings(folder: Path, per_category: int) -> list[dict[str, Any]]:
    """Write the held-out stems into ``folder``; one record per clip (category, text, file,
    query frame and box, video-query frames and boxes)."""
    import soundfile as sf

    from foleystudio.core.audio import resample
    from foleystudio.data.foleyworld import CATEGORIES, clip_seed, generate_clip

    records = []
    for i in range(per_category * len(CATEGORIES)):
        category = CATEGORIES[i % len(CATEGORIES)]
        clip = generate_clip(
            clip_seed(CORPUS_SEED, i), duration=DURATION, n_sources=1, categories=[category], offscreen=False
        )
        source = clip.truth["sources"][0]
        stem = clip.stems[source["id"]]
        if i % 2 == 0:
            path = folder / f"{i:04d}_{category}.wav"
            sf.write(path, stem, 16000, subtype="PCM_16")
        else:
            path = folder / f"{i:04d}_{category}.flac"
            wide = resample(stem, 16000, 48000)
            sf.write(path, np.stack([wide, wide], axis=1), 48000, subtype="PCM_24")
        visible = [f for f, b in enumerate(source["boxes"]) if b is not None]
        record: dict[str, Any] = {"path": str(path), "category": category, "text": source["text"]}
        if visible:
            middle = visible[len(visible) // 2]
            step = CLIP_FPS // QUERY_FPS
            near = [
                f
                for f in range(middle - CLIP_FPS // 2, middle + CLIP_FPS // 2 + 1, step)
                if 0 <= f < len(source["boxes"]) and source["boxes"][f] is not None
            ]
            record["frame"] = clip.frames[middle]
            record["box"] = source["boxes"][middle]
            record["video_frames"] = [clip.frames[f] for f in near]
            record["video_boxes"] = [source["boxes"][f] for f in near]
        records.append(record)
    return records


def evaluate(
    ranker: Any,
    points: list[np.ndarray],
    records: list[dict[str, Any]],
    categories: dict[str, str],
    exclude_own: bool,
) -> dict[str, Any]:
    """hit@k rates, their chance levels and per-category hit@1 of one query per record."""
    paths = list(categories)
    hits = {k: [] for k in KS}
    chance = {k: [] for k in KS}
    per_category: dict[str, list[float]] = {}
    for point, record in zip(points, records, strict=True):
        exclude = [record["path"]] if exclude_own else []
        ranked = ranker.search(point, max(KS), exclude)
        same = [categories[h.entry.path] == record["category"] for h in ranked]
        pool = [p for p in paths if p not in exclude]
        n_same = sum(categories[p] == record["category"] for p in pool)
        for k in KS:
            hits[k].append(float(any(same[:k])))
            chance[k].append(chance_hit(len(pool), n_same, k))
        per_category.setdefault(record["category"], []).append(float(same[0]))
    out: dict[str, Any] = {"queries": len(points)}
    for k in KS:
        out[f"recall@{k}"] = round(float(np.mean(hits[k])), 3)
        out[f"chance@{k}"] = round(float(np.mean(chance[k])), 3)
    out["recall@1_per_category"] = {c: round(float(np.mean(v)), 3) for c, v in sorted(per_category.items())}
    return out


def scale_test(library: Any, model: Any, texts: list[str], segments: int, folder: Path) -> dict[str, Any]:
    """A 10,000-entry library replicated from ``library``'s rows, ``segments`` rows each."""
    from dataclasses import replace

    from foleystudio.core.library import Ranker, build_library, load_library, save_library
    from foleystudio.ml.library_search import text_embedding

    base = [(e, library.rows_of(e)) for e in library.entries]
    parts = []
    for i in range(SCALE_ENTRIES):
        entry, rows = base[i % len(base)]
        rows = np.repeat(rows[:1], segments, axis=0) if segments > 1 else rows[:1]
        starts = tuple(2.0 * s for s in range(segments))
        name = f"/home/user/Sounds/Foley/replica_{i:05d}/{Path(entry.path).name}"
        parts.append((replace(entry, path=name, starts=starts, duration=4.0 + 2.0 * (segments - 1)), rows))
    synthetic = build_library(folder, parts, [], library.model, library.segment_seconds, library.hop_seconds)
    t0 = time.perf_counter()
    save_library(synthetic)
    save_s = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    t0 = time.perf_counter()
    loaded = load_library(folder)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ranker = Ranker(loaded)
    ranker_s = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    queries = [
        text_embedding(model, texts[i % len(texts)]) + 0.01 * rng.standard_normal(loaded.dim)
        for i in range(200)
    ]
    ranker.search(queries[0], 10)  # warm
    times = []
    for q in queries:
        t0 = time.perf_counter()
        ranker.search(q, 10)
        times.append(time.perf_counter() - t0)
    end_to_end = []
    for text in texts[:20]:
        t0 = time.perf_counter()
        ranker.search(text_embedding(model, text), 10)
        end_to_end.append(time.perf_counter() - t0)
    return {
        "entries": len(loaded.entries),
        "segments_per_entry": segments,
        "rows": int(loaded.embeddings.shape[0]),
        "synthesised": "embeddings of the real recordings replicated, paths renamed",
        "index_size_mb": round(size / 1e6, 3),
        "index_json_mb": round((folder / "library.json").stat().st_size / 1e6, 3),
        "save_s": round(save_s, 3),
        "load_s": round(load_s, 3),
        "ranker_prepare_s": round(ranker_s, 4),
        "rank_ms_p50": round(1000 * float(np.median(times)), 3),
        "rank_ms_p95": round(1000 * float(np.percentile(times, 95)), 3),
        "text_query_end_to_end_ms_p50": round(1000 * float(np.median(end_to_end)), 3),
    }


def run(
    quick: bool = False, model: str | None = None, clips_per_category: int | None = None
) -> dict[str, Any]:
    """Measure and return the figures (also written to ``benchmarks/results/library.json``)."""
    import torch

    from foleystudio.core.boxes import Box
    from foleystudio.core.library import Ranker, load_library
    from foleystudio.core.machine import machine_description
    from foleystudio.core.settings import DEFAULT_MODEL
    from foleystudio.ml.library_index import index_folder, load_library_model
    from foleystudio.ml.library_search import picture_embedding, still_picture_embedding, text_embedding

    machine = machine_description(load_average=True)
    per_category = clips_per_category or (QUICK_PER_CATEGORY if quick else FULL_PER_CATEGORY)
    name = model or DEFAULT_MODEL
    t0 = time.perf_counter()
    lib_model = load_library_model(name, "cpu")
    model_load_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="library-bench-") as tmp:
        root = Path(tmp)
        sounds, library_dir = root / "sounds", root / "library"
        sounds.mkdir()
        t0 = time.perf_counter()
        records = make_recordings(sounds, per_category)
        generate_s = time.perf_counter() - t0
        report = index_folder(sounds, lib_model, library_dir)
        rescan = index_folder(sounds, lib_model, library_dir)
        library = load_library(library_dir)
        ranker = Ranker(library)
        categories = {r["path"]: r["category"] for r in records}
        with torch.no_grad():
            text_points = [text_embedding(lib_model, r["text"]) for r in records]
            seen = [r for r in records if "frame" in r]
            box_points = [still_picture_embedding(lib_model, r["frame"], Box(*r["box"])) for r in seen]
            frame_points = [still_picture_embedding(lib_model, r["frame"]) for r in seen]
            one_frame_points = [picture_embedding(lib_model, [r["frame"]], Box(*r["box"])) for r in seen]
            video_points = [
                picture_embedding(lib_model, r["video_frames"], [Box(*b) for b in r["video_boxes"]])
                for r in seen
            ]
            fixed_points = [picture_embedding(lib_model, r["video_frames"], Box(*r["box"])) for r in seen]
            paraphrase_records = [{"path": "", "category": c} for c in PARAPHRASES]
            paraphrase_points = [text_embedding(lib_model, t) for t in PARAPHRASES.values()]
        retrieval = {
            "text": evaluate(ranker, text_points, records, categories, exclude_own=False),
            "text_paraphrase": evaluate(
                ranker, paraphrase_points, paraphrase_records, categories, exclude_own=False
            ),
            "picture_box": evaluate(ranker, box_points, seen, categories, exclude_own=True),
            "picture_frame": evaluate(ranker, frame_points, seen, categories, exclude_own=True),
            "video_box": evaluate(ranker, video_points, seen, categories, exclude_own=True),
            "video_fixed_box": evaluate(ranker, fixed_points, seen, categories, exclude_own=True),
            "picture_box_one_frame": evaluate(ranker, one_frame_points, seen, categories, exclude_own=True),
            "picture_box_incl_own": evaluate(ranker, box_points, seen, categories, exclude_own=False),
        }
        texts = sorted({r["text"] for r in records})
        scale = {}
        for segments in (1, 3):
            folder = root / f"scale{segments}"
            scale[f"{segments}_segment"] = scale_test(library, lib_model, texts, segments, folder)
    files = len(report.added)
    result: dict[str, Any] = {
        "benchmark": "library",
        "quick": quick,
        "machine": machine,
        "model": {"name": lib_model.name, "audio_sha256": lib_model.fingerprint["audio_sha256"]},
        "recordings": {
            "count": len(records),
            "per_category": per_category,
            "categories": len({r["category"] for r in records}),
            "duration_s": DURATION,
            "corpus_seed": CORPUS_SEED,
            "formats": "even clips 16 kHz mono WAV, odd clips 48 kHz stereo FLAC",
            "with_visible_source": len(seen),
            "generate_s": round(generate_s, 2),
        },
        "model_load_s": round(model_load_s, 3),
        "index": {
            "files": files,
            "skipped": len(report.skipped),
            "seconds": round(report.seconds, 3),
            "files_per_s": round(files / report.seconds, 2),
            "target_files_per_s": 50,
        },
        "rescan_unchanged_s": round(rescan.seconds, 4),
        "paraphrases": PARAPHRASES,
        "retrieval": retrieval,
        "scale": scale,
        "targets": {"query_ms": 100, "index_size_mb_10000": 50},
    }
    out = RESULTS_DIR / ("library_quick.json" if quick else "library.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def format_report(result: dict[str, Any]) -> str:
    lines = [f"library benchmark ({'quick' if result['quick'] else 'full'}), model {result['model']['name']}"]
    idx = result["index"]
    lines.append(
        f"index: {idx['files']} files in {idx['seconds']} s = {idx['files_per_s']} files/s (target ≥ 50)"
    )
    for name, r in result["retrieval"].items():
        lines.append(
            f"{name:22s} recall@1 {r['recall@1']:.3f} (chance {r['chance@1']:.3f})  "
            f"recall@5 {r['recall@5']:.3f} (chance {r['chance@5']:.3f})  n={r['queries']}"
        )
    for name, s in result["scale"].items():
        lines.append(
            f"10k entries ({name}): {s['index_size_mb']} MB, rank p50 {s['rank_ms_p50']} ms "
            f"p95 {s['rank_ms_p95']} ms, text query {s['text_query_end_to_end_ms_p50']} ms, load {s['load_s']} s"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 clips per category")
    parser.add_argument("--model", default=None, help="model bundle (default foleyworld-tiny)")
    parser.add_argument("--clips", type=int, default=None, help="clips per category")
    args = parser.parse_args(argv)
    result = run(quick=args.quick, model=args.model, clips_per_category=args.clips)
    print(format_report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
