"""Writing a generation's candidates to a folder (the ``generate`` command and the demo).

Files: one WAV per candidate (24-bit PCM at the model's rate; byte-identical for the same
inputs and seed), ``result.json`` (the request, timings and a ``candidates`` list with file,
seed, source, label and scores), and the video remuxed — not re-encoded — with the best
candidate (or the sum of the best stem of each source) as its sound.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from foleystudio.core.atomicfile import atomic_write_bytes
from foleystudio.core.audio import resample, save_audio
from foleystudio.core.media import probe, remux_with_audio
from foleystudio.core.requests import Candidate, rank_candidates
from foleystudio.export.naming import sanitize_component

#: Rate of the remuxed video's AAC track.
REMUX_RATE = 48000


def candidate_file_names(candidates: Sequence[Candidate], per_source: bool) -> list[str]:
    """``candidate_01_seed0.wav``…, or with stems ``<label>.wav`` for each source's best and
    ``<label>_2.wav``… for the others (labels sanitised, clashes numbered)."""
    names: list[str] = []
    if not per_source:
        return [f"candidate_{i + 1:02d}_seed{c.seed}.wav" for i, c in enumerate(candidates)]
    rank: dict[str | None, int] = {}
    used: set[str] = set()
    for c in candidates:
        rank[c.source_id] = rank.get(c.source_id, 0) + 1
        base = sanitize_component(c.label) or (c.source_id or "source")
        name = f"{base}.wav" if rank[c.source_id] == 1 else f"{base}_{rank[c.source_id]}.wav"
        k = 2
        while name in used:
            name = f"{base}-{k}.wav" if rank[c.source_id] == 1 else f"{base}-{k}_{rank[c.source_id]}.wav"
            k += 1
        used.add(name)
        names.append(name)
    return names


def best_mix(candidates: Sequence[Candidate]) -> Candidate:
    """The best candidate, or — for per-source stems — a candidate holding the sum of each
    source's best stem."""
    ranked = rank_candidates(candidates)
    sources = dict.fromkeys(c.source_id for c in candidates)  # in the order they first appear
    best = [next(c for c in ranked if c.source_id == source) for source in sources]
    first = best[0]
    if len(best) == 1:
        return first
    audio = np.sum([c.audio for c in best], axis=0).astype(np.float32)
    return Candidate(
        audio=audio,
        sample_rate=first.sample_rate,
        start=first.start,
        seed=first.seed,
        request=first.request,
        scores={},
        label="mix of sources",
    )


def write_candidates(
    candidates: Sequence[Candidate],
    out_dir: str | os.PathLike[str],
    *,
    video: str | os.PathLike[str],
    per_source: bool = False,
    timings: dict[str, float] | None = None,
    extra: dict[str, Any] | None = None,
    remux: bool = True,
) -> dict[str, Any]:
    """Write the candidates, ``result.json`` and the remuxed video; returns the result dict."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = candidate_file_names(candidates, per_source)
    entries = []
    for name, c in zip(names, candidates, strict=True):
        save_audio(out / name, c.audio, c.sample_rate, subtype="PCM_24")
        entries.append(
            {
                "file": name,
                "seed": c.seed,
                "source": c.source_id,
                "label": c.label,
                "start": c.start,
                "duration": c.duration,
                "sample_rate": c.sample_rate,
                "scores": {k: round(float(v), 6) for k, v in c.scores.items()},
            }
        )
    result: dict[str, Any] = {
        "request": candidates[0].request.to_dict(),
        "timings": timings or {},
        "candidates": entries,
        **(extra or {}),
    }
    if remux:
        info = probe(video)
        best = best_mix(candidates)
        track = np.zeros(round(info.duration * best.sample_rate), np.float32)
        a = round(best.start * best.sample_rate)
        piece = best.audio[: max(0, len(track) - a)]
        track[a : a + len(piece)] = piece
        path = out / f"{Path(video).stem}_foley.mp4"
        remux_with_audio(video, resample(track, best.sample_rate, REMUX_RATE), REMUX_RATE, path)
        result["video"] = path.name
    atomic_write_bytes(out / "result.json", (json.dumps(result, indent=2) + "\n").encode())
    return result
