"""Writing a generation's candidates to a folder (the ``generate`` command and the demo).

Files: one WAV per candidate (24-bit PCM at the model's rate; byte-identical for the same
inputs and seed), ``result.json`` (the request, timings and a ``candidates`` list, best first
within each source, with file, seed, noise id, source, label, each criterion's score and the
total, and after a search the preview's scores), and the video remuxed — not re-encoded —
with the best candidate (or the sum of the best stem of each source) as its sound.

All or nothing, as an export is: every file is written into a hidden staging folder inside
the output folder (the export's staging, :mod:`foleystudio.export.pipeline`) and moved into
place only when all are complete. A failure (a full disk, a cancel) removes the staging
folder, and the output folder if this call created it, so no candidate is ever left without
its ``result.json``. :func:`check_output_folder` checks the location cheaply, before any work.

Level: the engine leaves candidates under the −1 dBTP ceiling (:mod:`foleystudio.core.levels`),
so the 24-bit WAVs need no clipping. Audio that is not (candidates made elsewhere; the sum of
several stems for the remuxed video) is brought under the ceiling here, gain only down.
WAVs are encoded in memory and written as plain bytes, so a write error is one ``OSError``
rather than libsndfile callback noise.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from foleystudio.core.atomicfile import StagingFolders, atomic_write_bytes
from foleystudio.core.audio import resample
from foleystudio.core.levels import under_ceiling
from foleystudio.core.media import probe, remux_with_audio
from foleystudio.core.requests import Candidate, rank_candidates
from foleystudio.errors import ExportError, FoleyStudioError, UsageError
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


def check_output_folder(out_dir: str | os.PathLike[str]) -> Path:
    """``out_dir`` as a Path if it is, or can be created as, a folder this process can write
    to; else a :class:`UsageError` naming it. Cheap (one probe folder, made and removed), so
    callers run it before any work."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError("is a file, not a folder (the output must be a folder)", out)
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"cannot create the output folder: {existing} is a file, not a folder", out)
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".foleystudio-probe-", dir=existing))
    except OSError as exc:
        where = "the output folder" if existing == out else f"the output folder inside {existing}"
        raise UsageError(f"cannot write {where} ({exc.strerror or exc})", out) from None
    return out


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """A 24-bit PCM WAV file of ``audio``, encoded in memory."""
    buffer = io.BytesIO()
    sf.write(buffer, audio, int(sample_rate), subtype="PCM_24", format="WAV")
    return buffer.getvalue()


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
    """Write the candidates, ``result.json`` and the remuxed video; returns the result dict.

    All files appear together or none does; a write error raises :class:`ExportError`
    naming ``out_dir`` (and the folder is left as it was).
    """
    out = check_output_folder(out_dir)
    names = candidate_file_names(candidates, per_source)
    for name, c in zip(names, candidates, strict=True):
        if not np.isfinite(c.audio).all():
            raise ExportError(f"candidate {name} has NaN or infinite samples; nothing written", out)
    try:
        staging = StagingFolders([out], error=ExportError)
    except ExportError as exc:  # it names its hidden folder; name the user's
        raise ExportError(exc.problem, out) from exc
    previous = _listed_files(out / "result.json")
    try:
        result = _write(candidates, names, out, staging, video, timings, extra, remux)
        staging.commit()
    except BaseException as exc:
        staging.abort()
        if isinstance(exc, OSError):
            raise ExportError(
                f"cannot write the candidates ({exc.strerror or exc}); nothing was written", out
            ) from exc
        if (
            isinstance(exc, FoleyStudioError)
            and exc.path
            and Path(exc.path).parent in staging.stages.values()
        ):
            raise type(exc)(exc.problem, out / Path(exc.path).name) from exc  # the user's path
        raise
    # A run into the same folder replaces the previous run's candidates whole: files its
    # result.json listed that this run did not write go (other files are left alone).
    for name in previous - _listed_in(result):
        with contextlib.suppress(OSError):
            (out / name).unlink()
    return result


def _listed_in(result: dict[str, Any]) -> set[str]:
    names = {str(e.get("file", "")) for e in result.get("candidates", []) if isinstance(e, dict)}
    names |= {str(result["video"])} if result.get("video") else set()
    # Only plain file names inside the output folder, never a path that leads elsewhere.
    return {n for n in names if n and Path(n).name == n and n not in (".", "..")}


def _listed_files(result_json: Path) -> set[str]:
    """The files a previous run's ``result.json`` listed (empty when there is none or it is unreadable)."""
    try:
        data = json.loads(result_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    return _listed_in(data) if isinstance(data, dict) else set()


def _write(
    candidates: Sequence[Candidate],
    names: list[str],
    out: Path,
    staging: StagingFolders,
    video: str | os.PathLike[str],
    timings: dict[str, float] | None,
    extra: dict[str, Any] | None,
    remux: bool,
) -> dict[str, Any]:
    entries = []
    for name, c in zip(names, candidates, strict=True):
        atomic_write_bytes(staging.path_for(out / name), wav_bytes(under_ceiling(c.audio), c.sample_rate))
        entries.append(
            {
                "file": name,
                "seed": c.seed,
                # The initial noise (core/noise.py): the seed, moved by a search's steps.
                "noise": c.recipe.id,
                "source": c.source_id,
                "label": c.label,
                "start": c.start,
                "duration": c.duration,
                "sample_rate": c.sample_rate,
                # Each criterion's raw score in [0, 1] and the total (core/ranking.py).
                "scores": {k: round(float(v), 6) for k, v in c.scores.items()},
                # After a search: the preview's raw scores and search objective.
                "preview_scores": {k: round(float(v), 6) for k, v in c.preview_scores.items()},
                # The event track the generation followed, and where it came from.
                "events_from": c.events_from,
                "events": c.events.to_dict()["events"] if c.events is not None else None,
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
        track = under_ceiling(track)  # the sum of several stems may pass the ceiling
        remux_with_audio(
            video, resample(track, best.sample_rate, REMUX_RATE), REMUX_RATE, staging.path_for(path)
        )
        result["video"] = path.name
    atomic_write_bytes(staging.path_for(out / "result.json"), (json.dumps(result, indent=2) + "\n").encode())
    return result
