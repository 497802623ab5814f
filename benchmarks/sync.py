"""Sync benchmark: do generated sound events land on the visible events of held-out FoleyWorld?

Run ``python benchmarks/sync.py [--quick] [--model M] [--data DIR] [--clips N] [--steps S]
[--no-heldout | --no-novel] [--drop GROUPS]`` or
``foleystudio bench sync [--quick] [--model M]``. Results: ``benchmarks/results/sync.json``
and a table on stdout.

Sets (each clip is measured on its first ``duration`` = 8 s):
- ``heldout``: with ``--data DIR`` the clips of that FoleyWorld corpus's ``--split``
  (default ``test``; ``all`` for every clip); without it, a fresh corpus generated with
  corpus seed 9001 (clip seeds are hashed from (corpus seed, index), so they are disjoint
  from a training corpus of another seed up to 32-bit hash collisions), standard look.
- ``novel_look``: a fresh corpus (seed 9002) of single bouncing balls in the ``novel`` look
  (colours and backdrops training never shows): does the model follow motion, not looks?

Systems compared per clip:
- ``generated``: the model on the whole frame, prompted with the clip's short text
  (``truth["text"]``, e.g. "a wooden ball bouncing"). The text names *what* sounds but says
  nothing about *when*, which only the picture tells, so it does not help sync; it is also
  what a user types. ``--prompt caption`` gives the detailed caption the trainer conditions
  on instead (it mentions counts and rhythm), ``--prompt none`` no text.
- ``shifted``: the generated onsets delayed by 0.5 s (what delaying the audio by 0.5 s does;
  events pushed past the end are lost). Shifting the onset times instead of the wave avoids
  a false onset where inserted silence meets the sound.
- ``no_visual``: the same model, request and seed with the ``visual`` and ``sync`` condition
  groups dropped (``GenerationRequest.drop_conditions``): the model without its eyes.
  ``--drop visual`` (any of ``CONDITION_GROUPS``, comma-separated) takes groups away from
  every system that generates, e.g. to see what the picture's CLIP tokens do to the timing.
- ``ground_truth``: the clip's true mix (ambience and off-screen noise included); the
  ceiling of what the onset detector can reach. ``ground_truth_shifted``: the same, 0.5 s
  late: what the metrics give perfect sound that is out of sync.
- ``random``: as many onsets as the generated audio has, uniformly random in the clip.
- ``visual_onsets`` (bundles with a visual onset network only): the peaks (probability
  > 0.5) of the network's whole-picture onset track, the timing Flowley is given; not audio,
  so it shows how much of the sync error is the picture reading and how much the generator.

Metrics per clip (``ml/metrics.py``; onsets of any audio by ``ml.onsets.detect_onsets``):
- ``onset_f1`` (with ``precision``, ``recall``): one-to-one matching within ±50 ms against the
  true onsets of the visible sources (onsets whose source box is on screen at that frame);
  true onsets closer than 50 ms are merged first, since the detector reports at most one
  onset per 50 ms and would otherwise be charged for every such pair.
- ``av_align``: AV-Align of the audio onsets and the peaks of whole-frame motion energy
  (``video_motion_peaks``, the same peaks as the candidates' sync score), ±1 frame.
- ``aa_align``: AA-Align (±0.1 s) of the audio onsets and the onsets detected on the true
  mix (so the ``ground_truth`` row is 1 by construction).
- SSMS uses the bundle's FoleyWorld category classifier (on the bundled audio encoder); the
  reference is the ground-truth mix as that classifier hears it, with a chance control.
  A bundle without the classifier gets no SSMS, and the results say so.

Reported: per set and system the mean of every metric with a 95 % percentile bootstrap
interval over clips; paired differences ``generated`` minus each control; per category the
mean clip onset F1 (clips containing the category) and the recall of that category's true
onsets; the targets of issue 4 checked; the machine, the model (name, manifest training
summary) and every setting.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "sync.json"
#: Corpus seeds of the generated evaluation sets (training corpora use other seeds).
HELDOUT_SEED, NOVEL_SEED = 9001, 9002
#: Clips per generated set: (held-out, novel look), full and quick.
FULL_CLIPS, QUICK_CLIPS = (64, 24), (8, 4)
SHIFT_S = 0.5
ONSET_TOLERANCE_S = 0.05
AA_TOLERANCE_S = 0.1
BOOTSTRAP_RESAMPLES = 2000
#: Issue 4 targets for the bundled model on held-out FoleyWorld.
TARGETS = {"onset_f1": 0.7, "aa_align": 0.6}
SYSTEMS = ("generated", "shifted", "no_visual", "ground_truth", "ground_truth_shifted", "random")
CONTROLS = ("shifted", "no_visual", "ground_truth", "random")
METRICS = ("onset_f1", "precision", "recall", "av_align", "aa_align")
DROPPED_FOR_NO_VISUAL = ("visual", "sync")
PROMPTS = ("text", "caption", "none")


# -- statistics ---------------------------------------------------------------------------------


def bootstrap_mean(values: Sequence[float], rng: np.random.Generator) -> dict[str, Any]:
    """Mean of ``values`` with a 95 % percentile-bootstrap interval (resampling the clips)."""
    x = np.asarray(values, dtype=np.float64)
    if len(x) == 0:
        return {"mean": None, "ci95": None, "n": 0}
    means = x[rng.integers(0, len(x), size=(BOOTSTRAP_RESAMPLES, len(x)))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return {
        "mean": round(float(x.mean()), 4),
        "ci95": [round(float(lo), 4), round(float(hi), 4)],
        "n": len(x),
    }


# -- ground truth -------------------------------------------------------------------------------


def true_onsets(truth: dict[str, Any], duration: float) -> tuple[np.ndarray, list[str]]:
    """Onset times (s, sorted) of the visible sources within ``[0, duration)`` and each one's
    category; onsets closer than ``ONSET_TOLERANCE_S`` are merged into the first."""
    events: list[tuple[float, str]] = []
    for source in truth["sources"]:
        boxes = source.get("boxes") or []
        for time_s, frame in zip(source["onsets"], source["onset_frames"], strict=True):
            visible = 0 <= frame < len(boxes) and boxes[frame] is not None
            if visible and time_s < duration:
                events.append((float(time_s), source["category"]))
    events.sort()
    merged: list[tuple[float, str]] = []
    for event in events:
        if not merged or event[0] - merged[-1][0] > ONSET_TOLERANCE_S:
            merged.append(event)
    return np.array([t for t, _ in merged]), [c for _, c in merged]


def shifted(onsets: np.ndarray, duration: float) -> np.ndarray:
    """Onsets delayed by ``SHIFT_S``, those pushed past ``duration`` dropped."""
    out = np.asarray(onsets) + SHIFT_S
    return out[out < duration]


# -- per clip -----------------------------------------------------------------------------------


def clip_metrics(
    onsets: np.ndarray,
    truth_onsets: np.ndarray,
    truth_categories: list[str],
    video_peaks: np.ndarray,
    reference_onsets: np.ndarray,
) -> dict[str, Any]:
    """Every per-clip metric of one system's onsets (s), plus per-category true-onset hits."""
    from foleystudio.ml.encoders.motion import MOTION_FPS
    from foleystudio.ml.metrics import aa_align, av_align, match_events, onset_f1

    precision, recall, f1 = onset_f1(onsets, truth_onsets, ONSET_TOLERANCE_S)
    matched = {j for _, j in match_events(onsets, truth_onsets, ONSET_TOLERANCE_S)}
    hits: dict[str, list[int]] = {}
    for j, category in enumerate(truth_categories):
        counts = hits.setdefault(category, [0, 0])
        counts[0] += j in matched
        counts[1] += 1
    return {
        "onset_f1": f1,
        "precision": precision,
        "recall": recall,
        "av_align": av_align(onsets, video_peaks, MOTION_FPS),
        "aa_align": aa_align(onsets, reference_onsets, AA_TOLERANCE_S),
        "n_onsets": len(onsets),
        "category_hits": hits,
    }


def measure_clip(
    engine: Any,
    video: Path,
    truth: dict[str, Any],
    mix_path: Path | None,
    prompt: str,
    *,
    model: str,
    duration: float,
    steps: int,
    seed: int,
    cfg: float | None = None,
    sync_cfg: float | None = None,
    drop: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Generate with and without visual conditions and measure every system on one clip;
    ``drop`` names condition groups every generation of the clip goes without."""
    from foleystudio.core.audio import load_audio
    from foleystudio.core.media import read_audio
    from foleystudio.core.requests import GenerationRequest
    from foleystudio.core.settings import GenerationSettings
    from foleystudio.ml.encoders.motion import MOTION_FPS, motion_from_video
    from foleystudio.ml.metrics import video_motion_peaks
    from foleystudio.ml.onsets import detect_onsets

    end = min(duration, float(truth["duration"]))
    request = GenerationRequest(
        str(video), end=end, text=prompt, settings=GenerationSettings(steps=steps, seed=seed, model=model)
    )
    if cfg is not None:
        request = request.replace(cfg=cfg)
    if sync_cfg is not None:
        request = request.replace(sync_cfg=sync_cfg)
    if drop:
        request = request.replace(drop_conditions=tuple(drop))
    started = time.perf_counter()
    (generated,) = engine.generate(request)
    generate_s = time.perf_counter() - started  # features included; the next call reuses them
    blind_drops = tuple(dict.fromkeys((*drop, *DROPPED_FOR_NO_VISUAL)))
    (blind,) = engine.generate(request.replace(drop_conditions=blind_drops))
    rate = generated.sample_rate
    if mix_path is not None:
        mix, _ = load_audio(mix_path, rate, mono=True)
    else:
        mix = read_audio(video, rate, mono=True, end=end)
    mix = mix[: round(end * rate)]

    truth_times, truth_categories = true_onsets(truth, end)
    motion = motion_from_video(video, 0.0, end)
    peaks = video_motion_peaks(motion.energy, MOTION_FPS, start=float(motion.times[0]))
    peaks = peaks[peaks < end]
    gen_onsets = detect_onsets(generated.audio, rate)
    gt_onsets = detect_onsets(mix, rate)
    rng = np.random.default_rng([seed, 7])
    onsets = {
        "generated": gen_onsets,
        "shifted": shifted(gen_onsets, end),
        "no_visual": detect_onsets(blind.audio, rate),
        "ground_truth": gt_onsets,
        "ground_truth_shifted": shifted(gt_onsets, end),
        "random": np.sort(rng.uniform(0.0, end, size=len(gen_onsets))),
    }
    loaded = engine.model(model)
    if loaded.onsets is not None:
        from foleystudio.core.jobs import CancelToken, no_progress
        from foleystudio.ml.encoders.visual_onsets import peak_onsets

        feats = engine.features(loaded, str(video), 0.0, end, {}, CancelToken(), no_progress)
        track = peak_onsets(feats.onsets, loaded.onsets.config.fps, 0.5) + float(feats.motion.times[0])
        onsets["visual_onsets"] = track[track < end]
    class_scores = None
    if loaded.audio is not None and loaded.audio_classifier is not None:
        class_scores = {
            name: category_scores(loaded, audio)
            for name, audio in (
                ("generated", generated.audio),
                ("no_visual", blind.audio),
                ("ground_truth", mix),
            )
        }
    return {
        "class_scores": class_scores,
        "duration_s": round(end, 4),
        "n_true_onsets": len(truth_times),
        "n_video_peaks": len(peaks),
        "generate_s": round(generate_s, 3),
        "systems": {
            name: clip_metrics(times, truth_times, truth_categories, peaks, gt_onsets)
            for name, times in onsets.items()
        },
    }


def category_scores(loaded: Any, audio: np.ndarray) -> list[float]:
    """The bundle's FoleyWorld category classifier on ``audio`` (at the codec's rate; the
    encoder hears it at its own): probabilities per category."""
    import torch

    emb = torch.from_numpy(loaded.audio.embed_numpy(audio, loaded.codec.sample_rate))
    with torch.no_grad():
        return loaded.audio_classifier(emb)[0].tolist()


def ssms_summary(per_clip: list[dict[str, Any]], seed: int) -> dict[str, Any]:
    """SSMS (SSV2A: F1 of the top-N classes of generated vs reference audio, the reference being
    the ground-truth mix as the same classifier hears it), for top-1 and top-3, beside a chance
    control (generated scores paired with another clip's reference)."""
    from foleystudio.ml.metrics import ssms

    rows = [c["class_scores"] for c in per_clip if c.get("class_scores")]
    if not rows:
        return {"computed": False, "reason": "the model bundle has no audio category classifier"}
    ref = np.array([r["ground_truth"] for r in rows])
    out: dict[str, Any] = {"computed": True, "clips": len(rows)}
    shuffled = np.random.default_rng(seed).permutation(len(rows))
    for n in (1, 3):
        out[f"top{n}"] = {
            "generated": ssms(np.array([r["generated"] for r in rows]), ref, n),
            "no_visual": ssms(np.array([r["no_visual"] for r in rows]), ref, n),
            "chance": ssms(np.array([rows[i]["generated"] for i in shuffled]), ref, n),
        }
    return out


# -- sets ---------------------------------------------------------------------------------------


def corpus_clips(folder: Path, split: str, limit: int | None) -> list[Any]:
    """FoleyWorld clips (``data.datasets.ClipRecord`` with ground truth) of ``split`` in ``folder``."""
    from foleystudio.data.datasets import scan_folder
    from foleystudio.errors import DataError, UsageError

    if split not in ("train", "val", "test", "all"):
        raise UsageError(f"split must be train, val, test or all, got {split!r}")
    records = [r for r in scan_folder(folder) if r.truth is not None and split in ("all", r.split)]
    if not records:
        raise DataError(f"no FoleyWorld clips with ground truth in split '{split}'", folder)
    return records[:limit] if limit is not None else records


def generate_set(folder: Path, n: int, seed: int, duration: float, novel: bool) -> list[Any]:
    """Write a fresh evaluation corpus of ``n`` clips and return its clips."""
    from foleystudio.data.foleyworld import CATEGORIES, generate_corpus

    balls = [c for c in CATEGORIES if c.startswith("ball_")]
    generate_corpus(
        folder,
        n,
        seed,
        duration=duration,
        look_variant="novel" if novel else "standard",
        n_sources=1 if novel else None,
        categories=balls if novel else None,
    )
    return corpus_clips(folder, "all", n)


def prompt_of(record: Any, prompt: str) -> str:
    return {"text": record.text, "caption": record.caption, "none": ""}[prompt]


def summarise(clips: list[dict[str, Any]], rng: np.random.Generator) -> dict[str, Any]:
    """Means with bootstrap intervals, paired differences and the per-category breakdown."""
    systems: dict[str, Any] = {}
    present = [name for name in (*SYSTEMS, "visual_onsets") if name in clips[0]["systems"]]
    for name in present:
        systems[name] = {m: bootstrap_mean([c["systems"][name][m] for c in clips], rng) for m in METRICS}
        systems[name]["n_onsets"] = round(float(np.mean([c["systems"][name]["n_onsets"] for c in clips])), 2)
    differences = {
        f"generated-{control}": {
            m: bootstrap_mean([c["systems"]["generated"][m] - c["systems"][control][m] for c in clips], rng)
            for m in ("onset_f1", "av_align", "aa_align")
        }
        for control in CONTROLS
    }
    categories: dict[str, Any] = {}
    for cat in sorted({cat for c in clips for cat in c["categories"]}):
        having = [c for c in clips if cat in c["categories"]]
        row: dict[str, Any] = {"clips": len(having)}
        for name in present:
            hits = [c["systems"][name]["category_hits"].get(cat, [0, 0]) for c in having]
            found, total = sum(h[0] for h in hits), sum(h[1] for h in hits)
            row[name] = {
                "onset_f1": round(float(np.mean([c["systems"][name]["onset_f1"] for c in having])), 4),
                "onset_recall": round(found / total, 4) if total else None,
                "true_onsets": total,
            }
        categories[cat] = row
    return {
        "clips": len(clips),
        "mean_true_onsets": round(float(np.mean([c["n_true_onsets"] for c in clips])), 2),
        "systems": systems,
        "differences": differences,
        "per_category": categories,
    }


def compact_clip(clip: dict[str, Any]) -> dict[str, Any]:
    """One clip's row for the results file: each system's onset F1, AV-Align, AA-Align and
    onset count (3 decimals)."""
    row = {k: clip[k] for k in ("name", "categories", "duration_s", "n_true_onsets", "n_video_peaks")}
    row["generate_s"] = clip["generate_s"]
    for metric in ("onset_f1", "av_align", "aa_align", "n_onsets"):
        row[metric] = {name: round(float(v[metric]), 3) for name, v in clip["systems"].items()}
    return row


def check_targets(summary: dict[str, Any]) -> dict[str, Any]:
    """Issue 4's targets on one set: each metric above its floor and its paired difference to
    the shifted control above 0 at 95 % (interval entirely positive)."""
    out: dict[str, Any] = {}
    for metric, floor in TARGETS.items():
        mean = summary["systems"]["generated"][metric]["mean"]
        diff = summary["differences"]["generated-shifted"][metric]["ci95"]
        out[metric] = {
            "target": floor,
            "reached": mean is not None and mean >= floor,
            "above_shifted": diff is not None and diff[0] > 0,
        }
    return out


def model_summary(loaded: Any) -> dict[str, Any]:
    """Name, path and the manifest's description and training summary of a loaded model."""
    manifest = loaded.bundle.manifest
    training = manifest.get("training", {})
    if len(json.dumps(training, default=str)) > 20000:  # keep scalars of an oversized log
        training = {k: v for k, v in training.items() if isinstance(v, (str, int, float, bool))}
    flowley = manifest.get("configs", {}).get("flowley", {})
    return {
        "name": loaded.name,
        "path": str(loaded.bundle.path),
        "version": str(manifest.get("version", "")),
        "description": manifest.get("description", ""),
        "flowley": {
            k: flowley.get(k) for k in ("visual_attention", "hidden", "window_seconds") if k in flowley
        },
        "training": training,
    }


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
    heldout: bool = True,
    novel: bool = True,
    duration: float = 8.0,
    prompt: str = "text",
    cfg: float | None = None,
    sync_cfg: float | None = None,
    drop: tuple[str, ...] = (),
    device: str = "auto",
    out: str | Path | None = RESULTS,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the benchmark and return the results (also written to ``out`` unless None).

    ``data``: a FoleyWorld corpus folder whose ``split`` is the held-out set (all of it in a
    full run); None generates one. ``clips`` caps the clips of every set. ``heldout`` / ``novel``:
    measure the held-out / novel-look set. ``drop``: condition groups (``CONDITION_GROUPS``) that
    every generation (``generated`` and ``no_visual``) goes without, e.g. ``("visual",)`` to see
    what the picture's tokens do.
    ``duration``: seconds measured from each clip's start. ``prompt``: ``text``, ``caption`` or
    ``none``. ``log``: receives one line per clip (default: stderr).
    """
    from foleystudio.core.atomicfile import atomic_write_bytes
    from foleystudio.core.machine import machine_description
    from foleystudio.core.requests import check_condition_groups
    from foleystudio.core.settings import GenerationSettings
    from foleystudio.errors import UsageError
    from foleystudio.ml.engine import GenerationEngine

    if prompt not in PROMPTS:
        raise UsageError(f"prompt must be one of {', '.join(PROMPTS)}, got {prompt!r}")
    if clips is not None and clips < 1:
        raise UsageError(f"clips must be at least 1, got {clips}")
    if duration <= 0:
        raise UsageError(f"duration must be positive, got {duration}")
    if not (heldout or novel):
        raise UsageError("no set to measure: both the held-out and the novel-look set are skipped")
    check_condition_groups(drop)  # before any set is rendered
    say = log or (lambda line: print(line, file=sys.stderr, flush=True))
    n_heldout, n_novel = QUICK_CLIPS if quick else FULL_CLIPS
    if clips is not None:
        n_heldout, n_novel = clips, min(clips, n_novel)
    engine = GenerationEngine(device)
    loaded = engine.model(model)  # fail on a missing model before generating any data
    started = time.perf_counter()
    sets: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="foleystudio-sync-") as tmp:
        todo: list[tuple[str, list[Any], dict[str, Any]]] = []
        if heldout and data is not None:
            # A corpus split is used whole, but a quick run or --clips takes its first clips.
            limit = clips if clips is not None else (n_heldout if quick else None)
            records = corpus_clips(Path(data), split, limit)
            todo.append(("heldout", records, {"source": str(Path(data).resolve()), "split": split}))
        elif heldout:
            records = generate_set(Path(tmp) / "heldout", n_heldout, HELDOUT_SEED, duration, novel=False)
            todo.append(("heldout", records, {"source": "generated", "corpus_seed": HELDOUT_SEED}))
        if novel:
            records = generate_set(Path(tmp) / "novel", n_novel, NOVEL_SEED, duration, novel=True)
            info = {"source": "generated", "corpus_seed": NOVEL_SEED, "look": "novel", "sources": "one ball"}
            todo.append(("novel_look", records, info))
        for set_name, records, info in todo:
            per_clip = []
            for i, record in enumerate(records):
                result = measure_clip(
                    engine,
                    record.video,
                    record.truth,
                    record.audio,
                    prompt_of(record, prompt),
                    model=model,
                    duration=duration,
                    steps=steps,
                    seed=seed + i,
                    cfg=cfg,
                    sync_cfg=sync_cfg,
                    drop=drop,
                )
                result["name"] = record.name
                result["categories"] = sorted({s["category"] for s in record.truth["sources"]})
                per_clip.append(result)
                g = result["systems"]["generated"]
                say(
                    f"{set_name} {i + 1}/{len(records)} {record.name}: onset F1 {g['onset_f1']:.2f}, "
                    f"AA {g['aa_align']:.2f}, AV {g['av_align']:.2f} ({result['generate_s']:.1f} s)"
                )
            summary = summarise(per_clip, np.random.default_rng(seed))
            summary["set"] = info
            summary["targets"] = check_targets(summary)
            summary["per_clip"] = [compact_clip(c) for c in per_clip]
            summary["ssms"] = ssms_summary(per_clip, seed)
            sets[set_name] = summary
    result: dict[str, Any] = {
        "benchmark": "sync",
        "quick": quick,
        "machine": machine_description(),
        "device": engine.device_name,
        "model": model_summary(loaded),
        "settings": {
            "duration_s": duration,
            "steps": steps,
            "seed": seed,
            "prompt": prompt,
            "sampler": "euler",
            "cfg": cfg if cfg is not None else GenerationSettings.cfg,
            "sync_cfg": sync_cfg if sync_cfg is not None else GenerationSettings.sync_cfg,
            "onset_tolerance_s": ONSET_TOLERANCE_S,
            "aa_tolerance_s": AA_TOLERANCE_S,
            "shift_s": SHIFT_S,
            "drop": list(drop),
            "no_visual_drops": list(DROPPED_FOR_NO_VISUAL),
            "bootstrap_resamples": BOOTSTRAP_RESAMPLES,
        },
        "ssms": {name: summary["ssms"] for name, summary in sets.items()},
        "sets": sets,
        "wall_s": round(time.perf_counter() - started, 1),
    }
    if out is not None:
        atomic_write_bytes(Path(out), (json.dumps(result, indent=1) + "\n").encode())
    return result


# -- report -------------------------------------------------------------------------------------


def format_stat(stat: dict[str, Any]) -> str:
    """``mean [lo,hi]`` of a :func:`bootstrap_mean` result, ``-`` when empty."""
    if stat["mean"] is None:
        return "-"
    lo, hi = stat["ci95"]
    return f"{stat['mean']:.3f} [{lo:.2f},{hi:.2f}]"


def format_report(result: dict[str, Any]) -> str:
    """A readable table of the results."""
    model = result["model"]
    lines = [
        f"model {model['name']} ({model['description'] or 'no description'}) on {result['device']}, "
        f"{result['settings']['steps']} steps, prompt: {result['settings']['prompt']}"
        + (
            f", generated without: {', '.join(result['settings']['drop'])}"
            if result["settings"].get("drop")
            else ""
        ),
    ]
    columns = ("onset_f1", "av_align", "aa_align", "precision", "recall")
    for set_name, summary in result["sets"].items():
        lines += [
            "",
            f"{set_name}: {summary['clips']} clips, {summary['mean_true_onsets']} true onsets per clip "
            f"(means, 95% bootstrap CI)",
            f"{'system':<22}" + "".join(f"{c:<22}" for c in columns) + "onsets",
        ]
        for name, row in summary["systems"].items():
            lines.append(
                f"{name:<22}" + "".join(f"{format_stat(row[c]):<22}" for c in columns) + f"{row['n_onsets']}"
            )
        lines.append("generated minus control (onset F1 / AA-Align):")
        for key, diff in summary["differences"].items():
            lines.append(f"  {key:<30} {format_stat(diff['onset_f1']):<24} {format_stat(diff['aa_align'])}")
        lines.append("per category: onset recall generated / no_visual / ground_truth (clips)")
        for cat, row in summary["per_category"].items():
            recalls = [row[s]["onset_recall"] for s in ("generated", "no_visual", "ground_truth")]
            text = " / ".join("-" if r is None else f"{r:.2f}" for r in recalls)
            lines.append(f"  {cat:<16} {text} ({row['clips']})")
        targets = ", ".join(
            f"{m} >= {t['target']}: {'yes' if t['reached'] else 'no'}"
            f" (above shifted: {'yes' if t['above_shifted'] else 'no'})"
            for m, t in summary["targets"].items()
        )
        lines.append(f"targets: {targets}")
    for name, summary in result["ssms"].items():
        if not summary.get("computed"):
            lines += ["", f"SSMS ({name}): not computed: {summary['reason']}"]
            continue
        for n in (1, 3):
            row = summary[f"top{n}"]
            lines.append(
                f"SSMS top-{n} ({name}, vs the ground-truth mix): generated {row['generated']:.3f}, "
                f"no_visual {row['no_visual']:.3f}, chance {row['chance']:.3f}"
            )
    lines += ["", f"wall time {result['wall_s']} s"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_CLIPS} generated clips per set")
    parser.add_argument("--model", default="foleyworld-tiny", help="bundle name or folder")
    parser.add_argument("--data", help="FoleyWorld corpus folder (default: generate a held-out set)")
    parser.add_argument("--split", default="test", help="split of --data to use (train, val, test, all)")
    parser.add_argument("--clips", type=int, help="at most this many clips per set")
    parser.add_argument("--steps", type=int, default=16, help="sampling steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prompt", choices=PROMPTS, default="text", help="what text the model is given")
    parser.add_argument("--no-heldout", action="store_true", help="skip the held-out set")
    parser.add_argument("--no-novel", action="store_true", help="skip the novel-look set")
    parser.add_argument(
        "--drop",
        default="",
        help="condition groups every generation goes without, comma-separated (e.g. visual)",
    )
    parser.add_argument(
        "--cfg", type=float, default=None, help="guidance strength (default: the request default)"
    )
    parser.add_argument(
        "--sync-cfg", type=float, default=None, help="sync guidance strength (default: the request default)"
    )
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
            heldout=not args.no_heldout,
            novel=not args.no_novel,
            prompt=args.prompt,
            cfg=args.cfg,
            sync_cfg=args.sync_cfg,
            drop=tuple(x for x in args.drop.split(",") if x),
            device=args.device,
            out=args.out,
        )
    except FoleyStudioError as exc:
        print(f"sync benchmark: error: {exc}", file=sys.stderr)
        return 2
    print(format_report(result))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
