"""Audio-prompt benchmark: does a reference recording set what a sound is like, not when? (issue 17)

Run ``python benchmarks/audio_prompt.py [--quick] [--model M] [--clips N]`` or
``foleystudio bench prompt [--quick]``. Results: ``benchmarks/results/audio_prompt.json``.

Clips: a fresh held-out FoleyWorld corpus (seed 9301, one source per clip, the categories
with events), first 8 s. Clip *i* shows a source of category B; its prompt is the stem of
another clip of category A ≠ B (the categories taken in rotation), its first 4 s. Per clip,
generate (defaults, one seed) without a prompt and with the prompt as an audio source, and
measure on each:

- ``prompt_top1``: the bundle's category classifier hears category A (the prompt's);
- ``picture_top1``: it hears category B (the picture's);
- ``onset_f1``: onsets of the generated audio against the clip's true onsets (±50 ms).

Chance for ``prompt_top1`` is its rate without the prompt. A prompt that carries timbre and
not timing raises ``prompt_top1`` well above chance and keeps ``onset_f1``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "audio_prompt.json"
DURATION_S = 8.0
PROMPT_S = 4.0
TOLERANCE_S = 0.05
SEED = 9301
#: FoleyWorld categories whose sources make distinct events (a car passing has none).
CATEGORIES = (
    "ball_wood",
    "ball_metal",
    "ball_rubber",
    "ball_glass",
    "hammer_anvil",
    "footsteps",
    "door_slam",
    "bird_chirps",
    "water_drips",
    "bell_ringing",
)


def prompt_pairs(categories: list[str]) -> list[int]:
    """For each clip, the index of the clip whose stem is its prompt: the next clip (in
    order, wrapping round) of a different category; -1 when every clip has the same one."""
    out = []
    for i, own in enumerate(categories):
        partner = next(
            (
                (i + k) % len(categories)
                for k in range(1, len(categories))
                if categories[(i + k) % len(categories)] != own
            ),
            -1,
        )
        out.append(partner)
    return out


def write_prompt(record: Any, folder: Path) -> Path:
    """The first :data:`PROMPT_S` s of ``record``'s source stem, as a WAV in ``folder``."""
    from foleystudio.core.audio import load_audio, save_audio

    source = record.truth["sources"][0]
    stem = record.video.with_suffix(".stems") / f"{source['id']}.wav"
    audio, rate = load_audio(stem, None, mono=True)
    out = folder / f"prompt_{record.name}.wav"
    save_audio(out, audio[: int(PROMPT_S * rate)], rate)
    return out


def measure(
    engine: Any,
    loaded: Any,
    record: Any,
    prompt: Path | None,
    prompt_category: str,
    model: str,
    seed: int,
    ref_cfg: float = 1.0,
    drop: tuple[str, ...] = (),
    mix_cfg: float = 1.0,
) -> dict[str, Any]:
    from benchmarks.sync import category_scores, true_onsets
    from foleystudio.core.requests import GenerationRequest
    from foleystudio.core.settings import GenerationSettings
    from foleystudio.core.sources import AudioSource
    from foleystudio.ml.metrics import onset_f1
    from foleystudio.ml.onsets import detect_onsets

    sources = () if prompt is None else (AudioSource(id="prompt", path=str(prompt)),)
    request = GenerationRequest(
        str(record.video),
        end=DURATION_S,
        sources=sources,
        drop_conditions=drop if prompt is not None else (),
        settings=GenerationSettings(model=model, seed=seed, ref_cfg=ref_cfg, mix_cfg=mix_cfg),
    )
    (candidate,) = engine.generate(request)
    scores = category_scores(loaded, candidate.audio)
    heard = loaded.audio_classifier.categories[int(np.argmax(scores))]
    truth, _ = true_onsets(record.truth, DURATION_S)
    onsets = detect_onsets(candidate.audio, candidate.sample_rate)
    return {
        "heard": heard,
        "prompt_top1": heard == prompt_category,
        "picture_top1": heard == record.truth["sources"][0]["category"],
        "onset_f1": round(onset_f1(onsets, truth, TOLERANCE_S)[2], 4) if len(truth) else None,
    }


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("no_prompt", "prompt"):
        part = [r[name] for r in rows]
        f1s = [p["onset_f1"] for p in part if p["onset_f1"] is not None]
        out[name] = {
            "prompt_top1": round(float(np.mean([p["prompt_top1"] for p in part])), 4),
            "picture_top1": round(float(np.mean([p["picture_top1"] for p in part])), 4),
            "onset_f1": round(float(np.mean(f1s)), 4) if f1s else None,
        }
    return out


def run(
    quick: bool = False,
    model: str = "foleyworld-tiny",
    clips: int | None = None,
    seed: int = 0,
    ref_cfg: float = 1.0,
    drop: tuple[str, ...] = (),
    out: Path = RESULTS,
    mix_cfg: float = 1.0,
) -> dict[str, Any]:
    import torch

    from benchmarks.sync import corpus_clips
    from foleystudio.core.machine import machine_description
    from foleystudio.data.foleyworld import generate_corpus
    from foleystudio.ml.engine import GenerationEngine, load_model

    n = clips or (10 if quick else 30)
    with tempfile.TemporaryDirectory(prefix="fs-prompt-") as tmp:
        folder = Path(tmp)
        generate_corpus(
            folder / "clips", n, SEED, duration=DURATION_S, n_sources=1, categories=list(CATEGORIES)
        )
        records = corpus_clips(folder / "clips", "all", n)
        categories = [r.truth["sources"][0]["category"] for r in records]
        partners = prompt_pairs(categories)
        prompts = {i: write_prompt(records[i], folder) for i in set(partners) if i >= 0}
        engine = GenerationEngine("cpu")
        loaded = load_model(model, torch.device("cpu"))
        if loaded.audio is None or loaded.audio_classifier is None:
            raise SystemExit("the model has no audio category classifier: nothing to measure with")
        started = time.perf_counter()
        rows = []
        for i, record in enumerate(records):
            if partners[i] < 0:
                continue
            prompt_category = categories[partners[i]]
            row = {"clip": record.name, "picture": categories[i], "prompt": prompt_category}
            row["no_prompt"] = measure(engine, loaded, record, None, prompt_category, model, seed + i)
            row["prompt"] = measure(
                engine,
                loaded,
                record,
                prompts[partners[i]],
                prompt_category,
                model,
                seed + i,
                ref_cfg,
                drop,
                mix_cfg,
            )
            rows.append(row)
        wall = time.perf_counter() - started
    result = {
        "benchmark": "audio_prompt",
        "machine": machine_description(),
        "model": model,
        "settings": {
            "duration_s": DURATION_S,
            "prompt_s": PROMPT_S,
            "tolerance_s": TOLERANCE_S,
            "clips": len(rows),
            "corpus_seed": SEED,
            "ref_cfg": ref_cfg,
            "mix_cfg": mix_cfg,
            "prompt_drops": list(drop),
        },
        "summary": summarise(rows),
        "per_clip": rows,
        "wall_seconds": round(wall, 1),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    return result


def format_report(result: dict[str, Any]) -> str:
    s = result["summary"]
    lines = [
        f"{result['settings']['clips']} clips, prompt of another category (classifier top-1; onset F1 ±50 ms):"
    ]
    for name in ("no_prompt", "prompt"):
        p = s[name]
        f1 = "n/a" if p["onset_f1"] is None else f"{p['onset_f1']:.2f}"
        lines.append(
            f"  {name:9s} hears the prompt's category {p['prompt_top1']:.2f}, the picture's {p['picture_top1']:.2f}, onset F1 {f1}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 clips instead of 30")
    parser.add_argument("--model", default="foleyworld-tiny")
    parser.add_argument("--clips", type=int, default=None)
    parser.add_argument("--ref-cfg", type=float, default=1.0, help="prompt (reference) guidance")
    parser.add_argument("--mix-cfg", type=float, default=1.0, help="mix guidance with the prompt")
    parser.add_argument(
        "--prompt-drops",
        default="",
        help="condition groups dropped when the prompt is given (e.g. visual,text,mix)",
    )
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    result = run(
        args.quick,
        args.model,
        args.clips,
        ref_cfg=args.ref_cfg,
        drop=tuple(g for g in args.prompt_drops.split(",") if g),
        out=Path(args.out),
        mix_cfg=args.mix_cfg,
    )
    print(format_report(result))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
