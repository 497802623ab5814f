"""Sources benchmark: does per-object regeneration follow its object, and does a mix of a visual
and a text source contain both?

Run ``python benchmarks/sources.py [--quick] [--model M] [--data DIR] [--split test] [--clips N]
[--steps S] [--cycle-iters T] [--cycle-samples N] [--out FILE]`` or ``foleystudio bench sources
[--quick] [--model M]``. Results: ``benchmarks/results/sources.json`` and a table on stdout.

Clips: held-out FoleyWorld clips with at least two sources visible in the measured range
(the first ``duration`` = 8 s): with ``--data DIR`` those of that corpus's ``--split`` (default
``test``), else a fresh corpus of two-source clips (corpus seed 9003, disjoint from training
corpora of other seeds as in ``benchmarks/sync.py``). Each clip gives two *pairs* (A, B): its
first two visible sources, each in turn as A. Every generation of a clip uses the same seed,
so the systems differ only in what they are asked.

1. **Per-object regeneration vs whole frame.** ``per_object``: an ``ObjectSource`` for A whose
   box keyframes are A's true per-frame boxes, ``per_source=True`` (A's stem). ``whole_frame``:
   the same request without sources. ``true_stem``: A's true stem (the ceiling of what the
   classifier and the onset detector can read). By default no text is given anywhere (the
   object's label is empty, so the engine has no label to fall back on): the category must
   come from the picture. ``--labels`` gives each object its true label (e.g. "metal ball") and
   the whole frame the clip's short text, as a user would.

   - *category*: the bundle's FoleyWorld classifier (``sync.category_scores``) on the audio;
     ``top1_own`` = its top-1 is A's category (= SSMS top-1 against A), ``ssms3_own`` = SSMS
     top-3 F1 against {A} (0.5 when A is among the top 3), and the same against B
     (``*_other``: does the stem leak the other object?).
   - *onsets*: onset F1 (±50 ms, one-to-one) of ``detect_onsets(audio)`` against A's visible
     true onsets (``f1_own``) and against B's (``f1_other``, the other-object control); only
     pairs where both A and B have at least one visible onset in range.
   - ``box_effect``: ‖stem − whole-frame audio‖ / ‖whole-frame audio‖, how much the box changes
     the sound at all (0: the model ignores it).

2. **Composition.** One ``ObjectSource`` (A) and one ``TextSource`` with FoleyWorld's short
   text of a category absent from the clip (``captions.source_text``: "a bell ringing", "a bird
   chirping", …, rotated over the pairs), composed (``per_source=False``). ``control``: the same
   request without the text source. Rates of the classifier's top-3 containing A's category
   (``has_own``), the text's category (``has_text``) and both (``has_both``).

3. **Manifold check** (SSV2A App. A.3 at our scale, ``ml.ssv2a.analysis.manifold_check``): the
   bundle's CMSS manifold (or ``--ssv2a DIR``, a trained SSV2A run folder) on single-source
   pairs of a feature cache (``--cache``, default ``runs/flowley-tiny/cache.safetensors``; objects
   of ``--cache-split``, default ``val``, which SSV2A training holds out): each object's crop at
   its middle visible frame vs its stem's audio embedding; raw vs CMSS vs reconstructed.

Reported: every rate and metric as the mean over clips (a clip's value is the mean over its
pairs) with a 95 % percentile bootstrap interval over clips; paired differences; per category
of A (and of the text source) the means; per clip the figures; the model, settings and machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "sources.json"
DEFAULT_CACHE = REPO / "runs" / "flowley-tiny" / "cache.safetensors"  # where `make train-default` puts it
#: Corpus seed of the generated two-source set (sync.py uses 9001 and 9002).
CORPUS_SEED = 9003
FULL_CLIPS, QUICK_CLIPS = 64, 4
#: Categories a text source may name: their FoleyWorld short text needs no per-clip details.
TEXT_CATEGORIES = ("bell_ringing", "bird_chirps", "door_slam", "car_passing", "water_drips", "hammer_anvil")
PAIR_SYSTEMS = ("per_object", "whole_frame", "true_stem")
CATEGORY_METRICS = ("top1_own", "top1_other", "ssms3_own", "ssms3_other")
ONSET_METRICS = ("f1_own", "precision_own", "recall_own", "f1_other")
COMPOSITION_METRICS = ("has_own", "has_text", "has_both")


# -- clips --------------------------------------------------------------------------------------


def visible_sources(truth: dict[str, Any], duration: float) -> list[tuple[dict[str, Any], list[Any]]]:
    """The truth's sources with a box on some frame before ``duration`` s, each with its box
    keyframes (one per visible frame, ``data.datasets.source_keyframes``), in truth order."""
    from foleystudio.data.datasets import source_keyframes

    out = []
    for source in truth["sources"]:
        keys = source_keyframes(source.get("boxes") or [], float(truth["fps"]))
        if keys and keys[0].time < duration:
            out.append((source, keys))
    return out


def multi_source_clips(folder: Path, split: str, limit: int | None, duration: float) -> list[Any]:
    """The clips of ``split`` in a FoleyWorld corpus with at least two visible sources."""
    from benchmarks.sync import corpus_clips
    from foleystudio.errors import DataError

    records = [r for r in corpus_clips(folder, split, None) if len(visible_sources(r.truth, duration)) >= 2]
    if not records:
        raise DataError(f"no clips with two or more visible sources in split '{split}'", folder)
    return records[:limit] if limit is not None else records


def generate_multi_source_set(folder: Path, n: int, seed: int, duration: float) -> list[Any]:
    """Write a fresh two-source corpus and return ``n`` of its clips whose two sources are both
    visible (a clip where one never shows is skipped: the corpus grows, by at most 3n clips)."""
    from benchmarks.sync import corpus_clips
    from foleystudio.data.foleyworld import generate_corpus

    total = n
    while True:
        generate_corpus(folder, total, seed, duration=duration, n_sources=2)  # keeps clips written before
        records = [
            r for r in corpus_clips(folder, "all", None) if len(visible_sources(r.truth, duration)) >= 2
        ]
        if len(records) >= n or total >= 3 * n:
            return records[:n]
        total += n - len(records)


def absent_text(present: set[str], index: int, known: tuple[str, ...]) -> tuple[str, str] | None:
    """``(category, FoleyWorld short text)`` of a text-source category not in ``present`` and
    known to the classifier, rotating with ``index``; None when there is none."""
    from foleystudio.data.foleyworld.captions import source_text

    absent = [c for c in TEXT_CATEGORIES if c not in present and c in known]
    if not absent:
        return None
    category = absent[index % len(absent)]
    return category, source_text(category, {})


# -- per pair -----------------------------------------------------------------------------------


def category_row(scores: list[float], categories: tuple[str, ...], own: str, other: str) -> dict[str, Any]:
    """Top-1 and SSMS top-3 of classifier ``scores`` against the own and the other category."""
    from foleystudio.ml.metrics import ssms

    pred = np.asarray([scores])
    i_own, i_other = categories.index(own), categories.index(other)
    top3 = [categories[int(i)] for i in np.argsort(-pred[0])[:3]]
    return {
        "top1_own": float(top3[0] == own),
        "top1_other": float(top3[0] == other),
        "ssms3_own": ssms(pred, [[i_own]], 3),
        "ssms3_other": ssms(pred, [[i_other]], 3),
        "top3": top3,
    }


def onset_row(onsets: np.ndarray, own: np.ndarray, other: np.ndarray) -> dict[str, Any]:
    """Onset F1 (with precision and recall) against the own and the other source's onsets (s)."""
    from benchmarks.sync import ONSET_TOLERANCE_S
    from foleystudio.ml.metrics import onset_f1

    precision, recall, f1 = onset_f1(onsets, own, ONSET_TOLERANCE_S)
    return {
        "f1_own": f1,
        "precision_own": precision,
        "recall_own": recall,
        "f1_other": onset_f1(onsets, other, ONSET_TOLERANCE_S)[2],
        "n_onsets": len(onsets),
    }


def relative_change(audio: np.ndarray, reference: np.ndarray) -> float:
    """‖audio − reference‖ / ‖reference‖ over their common length."""
    n = min(len(audio), len(reference))
    return float(np.linalg.norm(audio[:n] - reference[:n]) / max(np.linalg.norm(reference[:n]), 1e-12))


def measure_clip(
    engine: Any,
    record: Any,
    index: int,
    *,
    model: str,
    duration: float,
    steps: int,
    seed: int,
    cycle_iters: int,
    cycle_samples: int,
    labels: bool,
) -> dict[str, Any]:
    """Generate whole-frame, per-object, composed and control audio for one clip and measure
    its two pairs."""
    from benchmarks.sync import category_scores, true_onsets
    from foleystudio.core.audio import load_audio
    from foleystudio.core.requests import GenerationRequest
    from foleystudio.core.settings import GenerationSettings
    from foleystudio.core.sources import ObjectSource, TextSource
    from foleystudio.ml.onsets import detect_onsets

    truth = record.truth
    end = min(duration, float(truth["duration"]))
    (a, keys_a), (b, keys_b) = visible_sources(truth, end)[:2]
    loaded = engine.model(model)
    classifier = loaded.audio_classifier if loaded.audio is not None else None
    known = tuple(classifier.categories) if classifier is not None else ()
    settings = GenerationSettings(
        steps=steps, seed=seed, model=model, cycle_iters=cycle_iters, cycle_samples=cycle_samples
    )
    base = GenerationRequest(str(record.video), end=end, settings=settings)
    started = time.perf_counter()
    (whole,) = engine.generate(base.replace(text=record.text if labels else ""))
    rate = whole.sample_rate
    whole_onsets = detect_onsets(whole.audio, rate)
    whole_scores = category_scores(loaded, whole.audio) if classifier is not None else None
    present = {s["category"] for s in truth["sources"]}
    pairs = []
    for k, ((own, own_keys), (other, _)) in enumerate(
        (((a, keys_a), (b, keys_b)), ((b, keys_b), (a, keys_a)))
    ):
        obj = ObjectSource(
            id=own["id"], label=own.get("label", "") if labels else "", keyframes=tuple(own_keys)
        )
        (stem,) = engine.generate(base.replace(sources=(obj,), per_source=True))
        if stem.source_id != own["id"]:
            raise RuntimeError(f"the engine returned source {stem.source_id!r} for {own['id']!r}")
        own_times, _ = true_onsets({"sources": [own]}, end)
        other_times, _ = true_onsets({"sources": [other]}, end)
        stem_path = record.video.with_suffix(".stems") / f"{own['id']}.wav"
        true_stem = (
            load_audio(stem_path, rate, mono=True)[0][: round(end * rate)] if stem_path.is_file() else None
        )
        detected = {
            "per_object": detect_onsets(stem.audio, rate),
            "whole_frame": whole_onsets,
            "true_stem": detect_onsets(true_stem, rate) if true_stem is not None else None,
        }
        pair: dict[str, Any] = {
            "own": own["category"],
            "other": other["category"],
            "own_id": own["id"],
            "n_own_onsets": len(own_times),
            "n_other_onsets": len(other_times),
            "onsets_eligible": len(own_times) > 0 and len(other_times) > 0,
            "onsets": {
                name: onset_row(times, own_times, other_times)
                for name, times in detected.items()
                if times is not None
            },
            "box_effect": relative_change(stem.audio, whole.audio),
            "category": None,
            "composition": None,
        }
        if classifier is not None:
            scores = {
                "per_object": category_scores(loaded, stem.audio),
                "whole_frame": whole_scores,
                "true_stem": category_scores(loaded, true_stem) if true_stem is not None else None,
            }
            pair["category"] = {
                name: category_row(s, known, own["category"], other["category"])
                for name, s in scores.items()
                if s is not None
            }
        chosen = absent_text(present, 2 * index + k, known)
        if classifier is not None and chosen is not None:
            text_category, text = chosen
            composed_req = base.replace(sources=(obj, TextSource(id="text", text=text)), per_source=False)
            (composed,) = engine.generate(composed_req)
            (control,) = engine.generate(base.replace(sources=(obj,), per_source=False))
            rows = {}
            for name, cand in (("composed", composed), ("control", control)):
                top3 = category_row(
                    category_scores(loaded, cand.audio), known, own["category"], text_category
                )["top3"]
                has_own, has_text = own["category"] in top3, text_category in top3
                rows[name] = {
                    "has_own": float(has_own),
                    "has_text": float(has_text),
                    "has_both": float(has_own and has_text),
                    "top3": top3,
                }
            pair["composition"] = {
                "text_category": text_category,
                "text": text,
                **rows,
                "text_effect": relative_change(composed.audio, control.audio),
            }
        pairs.append(pair)
    return {
        "name": record.name,
        "categories": sorted(present),
        "duration_s": round(end, 4),
        "generate_s": round(time.perf_counter() - started, 3),
        "pairs": pairs,
    }


# -- summary ------------------------------------------------------------------------------------


def clip_means(clips: list[dict[str, Any]], value: Callable[[dict[str, Any]], float | None]) -> list[float]:
    """Per clip, the mean of ``value(pair)`` over its pairs where it is defined (clips with no
    defined pair are left out): the unit the bootstrap resamples, since a clip's pairs share
    its whole-frame audio and scene."""
    out = []
    for clip in clips:
        values = [v for p in clip["pairs"] if (v := value(p)) is not None]
        if values:
            out.append(float(np.mean(values)))
    return out


def _get(group: str, system: str, metric: str, onsets_only: bool = False) -> Callable[[dict], float | None]:
    def value(pair: dict[str, Any]) -> float | None:
        if onsets_only and not pair["onsets_eligible"]:
            return None
        rows = pair.get(group) or {}
        row = rows.get(system)
        return None if row is None else float(row[metric])

    return value


def _diff(first: Callable[[dict], float | None], second: Callable[[dict], float | None]) -> Callable:
    def value(pair: dict[str, Any]) -> float | None:
        x, y = first(pair), second(pair)
        return None if x is None or y is None else x - y

    return value


def summarise(clips: list[dict[str, Any]], rng: np.random.Generator) -> dict[str, Any]:
    """Bootstrap means per system, paired differences and per-category means."""
    from benchmarks.sync import bootstrap_mean

    def stat(value: Callable[[dict], float | None]) -> dict[str, Any]:
        return bootstrap_mean(clip_means(clips, value), rng)

    pairs = [p for c in clips for p in c["pairs"]]
    has_classifier = any(p["category"] for p in pairs)
    category: dict[str, Any] = {"computed": has_classifier}
    if has_classifier:
        category["systems"] = {
            s: {m: stat(_get("category", s, m)) for m in CATEGORY_METRICS} for s in PAIR_SYSTEMS
        }
        category["differences"] = {
            "per_object-whole_frame": {
                m: stat(_diff(_get("category", "per_object", m), _get("category", "whole_frame", m)))
                for m in ("top1_own", "ssms3_own")
            },
            "per_object own-other": {
                "top1": stat(
                    _diff(
                        _get("category", "per_object", "top1_own"),
                        _get("category", "per_object", "top1_other"),
                    )
                ),
                "ssms3": stat(
                    _diff(
                        _get("category", "per_object", "ssms3_own"),
                        _get("category", "per_object", "ssms3_other"),
                    )
                ),
            },
        }
    else:
        category["reason"] = "the model bundle has no audio category classifier"
    eligible = [p for p in pairs if p["onsets_eligible"]]
    onsets: dict[str, Any] = {
        "pairs": len(eligible),
        "systems": {
            s: {m: stat(_get("onsets", s, m, onsets_only=True)) for m in ONSET_METRICS} for s in PAIR_SYSTEMS
        },
        "differences": {
            **{
                f"{s} own-other": stat(
                    _diff(_get("onsets", s, "f1_own", True), _get("onsets", s, "f1_other", True))
                )
                for s in PAIR_SYSTEMS
            },
            "per_object-whole_frame own": stat(
                _diff(
                    _get("onsets", "per_object", "f1_own", True),
                    _get("onsets", "whole_frame", "f1_own", True),
                )
            ),
        },
    }
    composition: dict[str, Any] = {"computed": any(p["composition"] for p in pairs)}
    if composition["computed"]:
        composition["systems"] = {
            s: {m: stat(_get("composition", s, m)) for m in COMPOSITION_METRICS}
            for s in ("composed", "control")
        }
        composition["differences"] = {
            f"composed-control {m}": stat(
                _diff(_get("composition", "composed", m), _get("composition", "control", m))
            )
            for m in COMPOSITION_METRICS
        }
        composition["text_effect"] = stat(
            lambda p: p["composition"]["text_effect"] if p["composition"] else None
        )
        by_text: dict[str, Any] = {}
        for cat in sorted({p["composition"]["text_category"] for p in pairs if p["composition"]}):
            rows = [
                p["composition"]
                for p in pairs
                if p["composition"] and p["composition"]["text_category"] == cat
            ]
            by_text[cat] = {
                "pairs": len(rows),
                "text": rows[0]["text"],
                **{
                    f"{s}_{m}": round(float(np.mean([r[s][m] for r in rows])), 4)
                    for s in ("composed", "control")
                    for m in ("has_text", "has_both")
                },
            }
        composition["per_text_category"] = by_text
    else:
        composition["reason"] = (
            "the model bundle has no audio category classifier (or no absent text category)"
        )
    per_category: dict[str, Any] = {}
    for cat in sorted({p["own"] for p in pairs}):
        rows = [p for p in pairs if p["own"] == cat]
        with_onsets = [p for p in rows if p["onsets_eligible"]]
        row: dict[str, Any] = {"pairs": len(rows), "onset_pairs": len(with_onsets)}
        for s in PAIR_SYSTEMS:
            tops = [p["category"][s]["top1_own"] for p in rows if p["category"] and s in p["category"]]
            f1s = [p["onsets"][s]["f1_own"] for p in with_onsets if s in p["onsets"]]
            others = [p["onsets"][s]["f1_other"] for p in with_onsets if s in p["onsets"]]
            row[s] = {
                "top1_own": round(float(np.mean(tops)), 4) if tops else None,
                "f1_own": round(float(np.mean(f1s)), 4) if f1s else None,
                "f1_other": round(float(np.mean(others)), 4) if others else None,
            }
        per_category[cat] = row
    return {
        "clips": len(clips),
        "pairs": len(pairs),
        "category": category,
        "onsets": onsets,
        "box_effect": stat(lambda p: p["box_effect"]),
        "composition": composition,
        "per_category": per_category,
    }


def compact_clip(clip: dict[str, Any]) -> dict[str, Any]:
    """One clip's row for the results file (3 decimals)."""

    def r(x: Any) -> Any:
        if isinstance(x, float):
            return round(x, 3)
        if isinstance(x, dict):
            return {k: r(v) for k, v in x.items() if k not in ("precision_own", "recall_own")}
        return x

    return {
        **{k: clip[k] for k in ("name", "categories", "duration_s", "generate_s")},
        "pairs": [r(p) for p in clip["pairs"]],
    }


# -- manifold check -----------------------------------------------------------------------------


def find_manifold(loaded: Any, ssv2a_dir: str | Path | None) -> tuple[Any | None, str]:
    """``(CMSS manifold, where it is from)``, or ``(None, why not)``: ``ssv2a_dir`` (a trained
    SSV2A folder, ``ml.ssv2a.io.load_ssv2a``) when given, else the loaded model's ``ssv2a``."""
    from foleystudio.ml.ssv2a.manifold import CMSSManifold

    if ssv2a_dir is not None:
        from foleystudio.ml.ssv2a.io import load_ssv2a

        manifold, _ = load_ssv2a(ssv2a_dir, "cpu")
        return manifold, str(Path(ssv2a_dir).resolve())
    attached = getattr(loaded, "ssv2a", None)
    if attached is None:
        return None, "the model bundle has no SSV2A manifold (LoadedModel.ssv2a is absent or None)"
    candidates = [attached, getattr(attached, "manifold", None)]
    if isinstance(attached, (tuple, list)):
        candidates += list(attached)
    for candidate in candidates:
        if isinstance(candidate, CMSSManifold):
            return candidate, f"bundle {loaded.name}"
    return None, f"the model's ssv2a attribute ({type(attached).__name__}) holds no CMSS manifold"


def manifold_summary(
    loaded: Any, cache: str | Path | None, ssv2a_dir: str | Path | None, split: str, seed: int
) -> dict[str, Any]:
    """SSV2A App. A.3 (``manifold_check``) on the ``split`` objects of a feature cache, or
    ``{"computed": False, "reason": ...}`` when there is no manifold or no cache."""
    from foleystudio.errors import UsageError
    from foleystudio.ml.ssv2a.analysis import manifold_check
    from foleystudio.train.ssv2a import load_source_data

    manifold, origin = find_manifold(loaded, ssv2a_dir)
    if manifold is None:
        return {"computed": False, "reason": origin}
    if cache is None:
        if not DEFAULT_CACHE.is_file():
            return {"computed": False, "reason": f"no feature cache (default {DEFAULT_CACHE} is absent)"}
        cache = DEFAULT_CACHE
    cache = Path(cache)
    data = load_source_data(cache)
    out: dict[str, Any] = {"manifold": origin, "cache": str(cache.resolve()), "split": split}
    meta = json.loads(cache.with_suffix(".json").read_text())
    configs = loaded.bundle.manifest.get("configs", {})
    out["cache_encoders_match_bundle"] = {
        "clip": meta.get("clip") == configs.get("clip"),
        "audio": meta.get("audio_encoder") == configs.get("audio"),
    }
    config = manifold.config
    if (config.clip_dim, config.audio_dim) != (data.clip_dim, data.audio_dim):
        reason = (
            f"the manifold takes CLIP {config.clip_dim} / audio {config.audio_dim} dims, the cache "
            f"holds {data.clip_dim} / {data.audio_dim}"
        )
        return {"computed": False, "reason": reason, **out}
    rows = [int(r) for r in data.objects_in(split) if bool(data.valid[int(r)].any())]
    # Each object's crop at its middle visible frame: a real single crop, as the paper's
    # samples are single images, and deterministic.
    frames = [int(data.valid[r].nonzero()[len(data.valid[r].nonzero()) // 2, 0]) for r in rows]
    clip = (
        np.stack([data.crops[r, f].float().numpy() for r, f in zip(rows, frames, strict=True)])
        if rows
        else None
    )
    labels = [data.category[r] for r in rows]
    try:
        if clip is None:
            raise UsageError(f"the cache has no visible objects in split '{split}'")
        report = manifold_check(manifold, clip, data.audio[rows].numpy(), labels, seed=seed)
    except UsageError as exc:
        return {"computed": False, "reason": exc.problem, **out}
    return {"computed": True, **out, "objects": len(rows), **report}


# -- the benchmark ------------------------------------------------------------------------------


def run(
    quick: bool = False,
    model: str = "foleyworld-tiny",
    data: str | None = None,
    clips: int | None = None,
    steps: int = 16,
    seed: int = 0,
    *,
    split: str = "test",
    duration: float = 8.0,
    cycle_iters: int | None = None,
    cycle_samples: int | None = None,
    labels: bool = False,
    cache: str | Path | None = None,
    ssv2a: str | Path | None = None,
    cache_split: str = "val",
    device: str = "auto",
    engine: Any = None,
    out: str | Path | None = RESULTS,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the benchmark and return the results (also written to ``out`` unless None).

    ``data``: a FoleyWorld corpus whose ``split`` clips with two visible sources are measured
    (the first ``clips``, default 64, quick 4); None generates such a set. ``cycle_iters`` /
    ``cycle_samples``: Cycle Mix T and N of every request (None: the request defaults).
    ``labels``: give objects their true labels and the whole frame the clip's text. ``cache``,
    ``ssv2a``, ``cache_split``: the manifold check's inputs. ``engine``: a
    ``GenerationEngine`` to use (default: a new one on ``device``). ``log``: one line per clip.
    """
    from benchmarks.sync import BOOTSTRAP_RESAMPLES, ONSET_TOLERANCE_S, model_summary
    from foleystudio.core.atomicfile import atomic_write_bytes
    from foleystudio.core.machine import machine_description
    from foleystudio.core.settings import GenerationSettings
    from foleystudio.errors import UsageError
    from foleystudio.ml.engine import GenerationEngine

    if clips is not None and clips < 1:
        raise UsageError(f"clips must be at least 1, got {clips}")
    if duration <= 0:
        raise UsageError(f"duration must be positive, got {duration}")
    defaults = GenerationSettings()
    cycle_iters = defaults.cycle_iters if cycle_iters is None else cycle_iters
    cycle_samples = defaults.cycle_samples if cycle_samples is None else cycle_samples
    if cycle_iters < 0 or cycle_samples < 1:
        raise UsageError(
            f"cycle iterations must be >= 0 and samples >= 1, got {cycle_iters} and {cycle_samples}"
        )
    say = log or (lambda line: print(line, file=sys.stderr, flush=True))
    n_clips = clips if clips is not None else (QUICK_CLIPS if quick else FULL_CLIPS)
    engine = engine or GenerationEngine(device)
    loaded = engine.model(model)  # fail on a missing model before generating any data
    started = time.perf_counter()
    manifold = manifold_summary(loaded, cache, ssv2a, cache_split, seed)
    per_clip = []
    with tempfile.TemporaryDirectory(prefix="foleystudio-sources-") as tmp:
        if data is not None:
            records = multi_source_clips(Path(data), split, n_clips, duration)
            info = {"source": str(Path(data).resolve()), "split": split}
        else:
            records = generate_multi_source_set(Path(tmp) / "heldout", n_clips, CORPUS_SEED, duration)
            info = {"source": "generated", "corpus_seed": CORPUS_SEED, "n_sources": 2}
        for i, record in enumerate(records):
            clip = measure_clip(
                engine,
                record,
                i,
                model=model,
                duration=duration,
                steps=steps,
                seed=seed + i,
                cycle_iters=cycle_iters,
                cycle_samples=cycle_samples,
                labels=labels,
            )
            per_clip.append(clip)
            tops = [p["category"]["per_object"]["top1_own"] for p in clip["pairs"] if p["category"]]
            f1s = [
                (p["onsets"]["per_object"]["f1_own"], p["onsets"]["per_object"]["f1_other"])
                for p in clip["pairs"]
            ]
            say(
                f"{i + 1}/{len(records)} {record.name} ({', '.join(clip['categories'])}): per-object top-1 own "
                f"{'-' if not tops else f'{np.mean(tops):.2f}'}, onset F1 own/other "
                + ", ".join(f"{a:.2f}/{b:.2f}" for a, b in f1s)
                + f" ({clip['generate_s']:.1f} s)"
            )
    summary = summarise(per_clip, np.random.default_rng(seed))
    summary["set"] = info
    result: dict[str, Any] = {
        "benchmark": "sources",
        "quick": quick,
        "machine": machine_description(),
        "device": engine.device_name,
        "model": model_summary(loaded),
        "settings": {
            "duration_s": duration,
            "steps": steps,
            "seed": seed,
            "sampler": defaults.sampler,
            "cfg": defaults.cfg,
            "sync_cfg": defaults.sync_cfg,
            "cycle_iters": cycle_iters,
            "cycle_samples": cycle_samples,
            "labels": labels,
            "model_has_ssv2a": getattr(loaded, "ssv2a", None) is not None,
            "onset_tolerance_s": ONSET_TOLERANCE_S,
            "bootstrap_resamples": BOOTSTRAP_RESAMPLES,
            "text_categories": list(TEXT_CATEGORIES),
            "cache_split": cache_split,
        },
        **summary,
        "manifold": manifold,
        "per_clip": [compact_clip(c) for c in per_clip],
        "wall_s": round(time.perf_counter() - started, 1),
    }
    if out is not None:
        atomic_write_bytes(Path(out), (json.dumps(result, indent=1) + "\n").encode())
    return result


# -- report -------------------------------------------------------------------------------------


def format_report(result: dict[str, Any]) -> str:
    """A readable table of the results."""
    from benchmarks.sync import format_stat

    model, settings = result["model"], result["settings"]
    lines = [
        f"model {model['name']} ({model['description'] or 'no description'}) on {result['device']}, "
        f"{settings['steps']} steps, cycle mix T={settings['cycle_iters']} N={settings['cycle_samples']}, "
        f"labels: {'yes' if settings['labels'] else 'no'}",
        f"{result['clips']} clips, {result['pairs']} (A, B) pairs (means over clips, 95% bootstrap CI)",
    ]
    category = result["category"]
    if category["computed"]:
        lines += [
            "",
            "category of A's stem (classifier):",
            f"{'system':<14}" + "".join(f"{m:<22}" for m in CATEGORY_METRICS),
        ]
        for name, row in category["systems"].items():
            lines.append(f"{name:<14}" + "".join(f"{format_stat(row[m]):<22}" for m in CATEGORY_METRICS))
        for key, diffs in category["differences"].items():
            lines.append(f"  {key:<26} " + ", ".join(f"{m} {format_stat(d)}" for m, d in diffs.items()))
    else:
        lines += ["", f"category: not computed: {category['reason']}"]
    onsets = result["onsets"]
    lines += [
        "",
        f"onsets ({onsets['pairs']} pairs where A and B both have visible onsets):",
        f"{'system':<14}" + "".join(f"{m:<22}" for m in ONSET_METRICS),
    ]
    for name, row in onsets["systems"].items():
        lines.append(f"{name:<14}" + "".join(f"{format_stat(row[m]):<22}" for m in ONSET_METRICS))
    for key, diff in onsets["differences"].items():
        lines.append(f"  {key:<26} {format_stat(diff)}")
    lines.append(f"box effect |stem - whole| / |whole|: {format_stat(result['box_effect'])}")
    comp = result["composition"]
    if comp["computed"]:
        lines += ["", "composition (object A + text of an absent category), classifier top-3 contains:"]
        lines.append(f"{'system':<14}" + "".join(f"{m:<22}" for m in COMPOSITION_METRICS))
        for name, row in comp["systems"].items():
            lines.append(f"{name:<14}" + "".join(f"{format_stat(row[m]):<22}" for m in COMPOSITION_METRICS))
        for key, diff in comp["differences"].items():
            lines.append(f"  {key:<26} {format_stat(diff)}")
        lines.append(f"text effect |composed - control| / |control|: {format_stat(comp['text_effect'])}")
        for cat, row in comp["per_text_category"].items():
            lines.append(
                f"  text {cat:<14} has_text composed/control {row['composed_has_text']:.2f}/"
                f"{row['control_has_text']:.2f}, has_both {row['composed_has_both']:.2f} ({row['pairs']} pairs)"
            )
    else:
        lines += ["", f"composition: not computed: {comp['reason']}"]
    lines += [
        "",
        "per category of A: top-1 own per_object / whole_frame / true_stem; onset F1 own/other per_object",
    ]
    for cat, row in result["per_category"].items():
        tops = " / ".join(
            "-" if row[s]["top1_own"] is None else f"{row[s]['top1_own']:.2f}" for s in PAIR_SYSTEMS
        )
        po = row["per_object"]
        f1 = "-" if po["f1_own"] is None else f"{po['f1_own']:.2f}/{po['f1_other']:.2f}"
        lines.append(f"  {cat:<14} {tops}; {f1} ({row['pairs']} pairs)")
    manifold = result["manifold"]
    if not manifold["computed"]:
        lines += ["", f"manifold check: not computed: {manifold['reason']}"]
    else:
        lines += [
            "",
            f"manifold check ({manifold['objects']} {manifold['split']} objects of {len(manifold['categories'])} "
            "categories): gap, % misclassified (held-out), entropy R2, partition coefficient (normalised)",
        ]
        for space in ("raw", "cmss", "reconstructed"):
            s = manifold[space]
            d = s["discriminant_mean"]
            lines.append(
                f"  {space:<14} {s['modality_gap']:.3f}  {d['percent_misclassified']:.1f}%  "
                f"{d['entropy_r2']:.3f}  {s['partition_coefficient']:.3f} ({s['partition_coefficient_normalised']:.3f})"
            )
    lines += ["", f"wall time {result['wall_s']} s"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_CLIPS} clips instead of {FULL_CLIPS}")
    parser.add_argument("--model", default="foleyworld-tiny", help="bundle name or folder")
    parser.add_argument(
        "--data", help="FoleyWorld corpus folder (default: generate a two-source held-out set)"
    )
    parser.add_argument("--split", default="test", help="split of --data to use (train, val, test, all)")
    parser.add_argument(
        "--clips", type=int, help=f"at most this many clips (default {FULL_CLIPS}, quick {QUICK_CLIPS})"
    )
    parser.add_argument("--steps", type=int, default=16, help="sampling steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cycle-iters", type=int, help="Cycle Mix iterations T (default: the request's)")
    parser.add_argument("--cycle-samples", type=int, help="Cycle Mix sample size N (default: the request's)")
    parser.add_argument(
        "--labels", action="store_true", help="give objects their true labels, the whole frame its text"
    )
    parser.add_argument("--cache", help=f"feature cache for the manifold check (default {DEFAULT_CACHE})")
    parser.add_argument(
        "--cache-split", default="val", help="split of the cache's objects for the manifold check"
    )
    parser.add_argument("--ssv2a", help="a trained SSV2A folder to check instead of the bundle's manifold")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default=str(RESULTS), help="results JSON")
    args = parser.parse_args(argv)
    from foleystudio.errors import FoleyStudioError

    try:
        result = run(
            args.quick,
            args.model,
            args.data,
            args.clips,
            args.steps,
            args.seed,
            split=args.split,
            cycle_iters=args.cycle_iters,
            cycle_samples=args.cycle_samples,
            labels=args.labels,
            cache=args.cache,
            ssv2a=args.ssv2a,
            cache_split=args.cache_split,
            device=args.device,
            out=args.out,
        )
    except FoleyStudioError as exc:
        print(f"sources benchmark: error: {exc}", file=sys.stderr)
        return 2
    print(format_report(result))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
