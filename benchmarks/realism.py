"""Realism: Fréchet distances between generated audio and held-out references (issue 16).

Run ``python benchmarks/realism.py [--quick] [--model M] [--vocoder BUNDLE] [--out FILE]`` or
``foleystudio bench realism [--quick] [--model M]``. Results: ``benchmarks/results/realism.json``.

**Systems** (one 8 s wave per clip of a generated FoleyWorld set, seeds 9400 + category index,
``CLIPS_PER_CATEGORY`` single-source clips of each of the 11 categories):

- ``true_mix`` (the floor): the clips' true mixes (stem, ambience and off-screen sound).
- ``codec_griffin_lim`` / ``codec_vocoder``: those mixes encoded by the model's codec and decoded
  with Griffin-Lim / with the neural vocoder: what the decoder alone costs.
- ``generated_griffin_lim`` / ``generated_vocoder``: the model generates for each clip (its short
  text, defaults, 16 steps, seed = clip index) and the *same tokens* are decoded with Griffin-Lim
  (the fallback, issue 16's "before") and with the vocoder ("after"). The vocoder is the model
  bundle's own or, with ``--vocoder BUNDLE``, another bundle's (its mel analysis must match);
  a model without either gives the Griffin-Lim rows only.
- ``noise`` (the ceiling): white Gaussian noise (seed 9600).

**References.** ``foleyworld``: the true mixes of a second, disjoint FoleyWorld set of the same
categories and size (seeds 9500 + category index): realism with respect to the distribution the
model learned, pooled over categories and per category. FoleyWorld's categories are synthetic;
no held-out recording is a defensible stand-in for "a wooden ball" or "a car passing", and at
most one held-out file would fit a category, so ``recordings`` is the pooled set of held-out
recordings (``data/recordings.py`` :data:`HELD_OUT`, installed packages only, at most 10 s of
each: drums, percussion, a door, an impact, a bell, guitar, ambiences, game effects): never
trained on by the generator (FoleyWorld only; ``use_samples`` merely swaps in two Sonic Pi
samples for bell strikes and off-screen crows, and the bundled model was trained without it)
nor by the vocoder. Its category mix differs from FoleyWorld's, so its absolute values mostly
measure content; only differences between systems measured against it are readable.

**Embeddings** of each 2 s window (1 s hop; a wave of 2 s or less is one window of its own
length, the last window of a longer one ends at its end: ``ml/library_index.segment_starts``):

- ``audio_encoder``: the bundled audio encoder's 128-d embedding (``library_index.embed_waves``),
  always the encoder of ``--embedding-model`` (default foleyworld-tiny), whatever model
  generates, so runs are comparable;
- ``log_mel_stats``: a fixed spectral embedding, the mean and standard deviation over time of
  each of the 80 log-mel bands of a default ``MelCodec`` (``MelCodec.log_mel``, the codec's own
  analysis; 160-d); not trained, so the figure does not rest only on our own encoder.

Both hear at most 8 kHz by default (the encoder is a 16 kHz model), so neither can tell a
24 kHz model's upper band from silence. ``--spectral-rate 24000`` keeps every wave at 24 kHz
(a 16 kHz model's output and FoleyWorld's 16 kHz mixes are resampled up, with nothing above
8 kHz) and analyses ``log_mel_stats`` in 100 bands up to 12 kHz (200-d); the encoder still
hears the waves at its own rate.

Every wave is peak-normalised to 0.95 before windowing (level is a mixing choice; the
recordings are normalised so anyway).

**Fréchet distance** (``ml/metrics.frechet_distance``). With D-dimensional embeddings the
covariances need N > D windows or the distance is dominated by the eps fix, and the held-out
recordings give about 40 windows. So the headline ``fd`` is measured in the top ``PCA_DIMS``
(16) principal components of the reference's windows (the same basis for every system against
that reference); ``fd_full`` is the distance in all D dimensions where both sides have more
than D windows (else null). Per-category distances (FoleyWorld reference) use the pooled basis
and categories with more than ``PCA_DIMS`` windows on both sides (42 windows in 16 dimensions
by default: rough figures). Distances of finite samples are biased upwards; ``true_mix`` has
the same number of windows as the generated rows, so its distance is the floor they are read
against. The vocoder's change (``*_vocoder − *_griffin_lim``, same clips, same reference) has
a 95 % percentile interval from a paired bootstrap over clips (both rows resampled with the
same clips): a change whose interval excludes 0 is beyond the sampling noise of the clips.
Single distances get no interval: resampling clips with replacement duplicates windows and
biases a bootstrapped distance upwards by more than its spread (tried: the percentile interval
of ``true_mix`` did not contain its own distance); in a paired difference that bias largely
cancels.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "realism.json"
DEFAULT_MODEL = "foleyworld-tiny"
DURATION_S = 8.0
WINDOW_S, HOP_S = 2.0, 1.0
PEAK = 0.95
#: Clips per FoleyWorld category in each of the generated and the reference sets: full, quick.
CLIPS_PER_CATEGORY, QUICK_CLIPS_PER_CATEGORY = 6, 2
#: Principal components of the headline distance: full, quick.
PCA_DIMS, QUICK_PCA_DIMS = 16, 8
BOOTSTRAP_RESAMPLES, QUICK_BOOTSTRAP_RESAMPLES = 400, 50
GENERATED_SEED, REFERENCE_SEED, NOISE_SEED = 9400, 9500, 9600
#: At most this much of each held-out recording (as benchmarks/codec.py).
MAX_RECORDING_S = 10.0
SYSTEMS = (
    "true_mix",
    "codec_griffin_lim",
    "codec_vocoder",
    "generated_griffin_lim",
    "generated_vocoder",
    "noise",
)
#: Spectral analysis rate (Hz) → mel bins, as the codec presets 16k and 24k analyse (hop 256).
SPECTRAL_MELS = {16000: 80, 24000: 100}
#: The vocoder's change: (after, before) pairs over the same clips.
PAIRS = (("codec_vocoder", "codec_griffin_lim"), ("generated_vocoder", "generated_griffin_lim"))
EMBEDDINGS = ("audio_encoder", "log_mel_stats")


@dataclass(frozen=True)
class Embedded:
    """Window embeddings ``rows`` [N, D] with, per row, its wave's index ``clip`` [N] and the
    wave's ``category`` [N] (``"recorded"`` for recordings)."""

    rows: np.ndarray
    clip: np.ndarray
    category: np.ndarray

    def subset(self, index: np.ndarray) -> Embedded:
        return Embedded(self.rows[index], self.clip[index], self.category[index])


# -- waves and embeddings --------------------------------------------------------------------


def peak_normalise(wave: np.ndarray, peak: float = PEAK) -> np.ndarray:
    """``wave`` scaled to a peak of ``peak`` (float32); a silent wave is returned as zeros."""
    wave = np.asarray(wave, np.float32)
    top = float(np.abs(wave).max()) if wave.size else 0.0
    return wave * (peak / top) if top > 1e-6 else np.zeros_like(wave)


def window_pieces(wave: np.ndarray, rate: int) -> list[np.ndarray]:
    """The windows of ``wave`` (see the module doc), as ``library_index.embed_waves`` cuts them."""
    from foleystudio.ml.library_index import segment_starts

    length = round(WINDOW_S * rate)
    return [wave[s : s + length] for s in segment_starts(len(wave), rate, WINDOW_S, HOP_S)]


def log_mel_statistics(codec: Any, pieces: Sequence[np.ndarray]) -> np.ndarray:
    """Mean and standard deviation over time of each log-mel band of ``codec`` (a MelCodec) for
    each piece: [len(pieces), 2 · n_mels] float64. Pieces of equal length share one pass."""
    import torch

    out = np.zeros((len(pieces), 2 * codec.n_mels))
    by_length: dict[int, list[int]] = {}
    for i, piece in enumerate(pieces):
        by_length.setdefault(len(piece), []).append(i)
    with torch.no_grad():
        for index in by_length.values():
            batch = torch.from_numpy(np.stack([pieces[i] for i in index]).astype(np.float32))
            log_mel = codec.log_mel(batch).double()  # [B, n_mels, frames]
            stats = torch.cat([log_mel.mean(-1), log_mel.std(-1, unbiased=False)], dim=1)
            out[index] = stats.numpy()
    return out


def embed_set(
    encoder: Any, mel_codec: Any, waves: Sequence[np.ndarray], categories: Sequence[str]
) -> dict[str, Embedded]:
    """Both embeddings (:data:`EMBEDDINGS`) of every window of every wave (at the spectral
    analysis' rate ``mel_codec.sample_rate``, peak-normalised here; the encoder hears them
    resampled to its own rate), labelled with the wave's index and category."""
    from foleystudio.core.audio import resample
    from foleystudio.ml.library_index import embed_waves

    rate = mel_codec.sample_rate
    waves = [peak_normalise(w) for w in waves]
    pieces = [window_pieces(w, rate) for w in waves]
    clip = np.concatenate([np.full(len(p), i) for i, p in enumerate(pieces)])
    category = np.concatenate(
        [np.full(len(p), c, dtype=object) for p, c in zip(pieces, categories, strict=True)]
    )
    heard = encoder.config.sample_rate
    if heard != rate:
        waves = [resample(w, rate, heard) for w in waves]
    encoder_rows = np.concatenate(embed_waves(encoder, waves, segment_s=WINDOW_S, hop_s=HOP_S)).astype(
        np.float64
    )
    mel_rows = log_mel_statistics(mel_codec, [piece for p in pieces for piece in p])
    if len(encoder_rows) != len(mel_rows):
        raise ValueError(f"{len(encoder_rows)} encoder windows but {len(mel_rows)} spectral ones")
    return {
        "audio_encoder": Embedded(encoder_rows, clip, category),
        "log_mel_stats": Embedded(mel_rows, clip, category),
    }


# -- distances -------------------------------------------------------------------------------


def pca_basis(rows: np.ndarray, dims: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean [D] and the top ``dims`` principal directions [D, dims] of ``rows`` [N, D]
    (``dims`` capped at min(N − 1, D)), signs fixed so the largest entry of each is positive."""
    mean = rows.mean(axis=0)
    _, _, vt = np.linalg.svd(rows - mean, full_matrices=False)
    basis = vt[: max(1, min(dims, len(rows) - 1, rows.shape[1]))].T
    signs = np.sign(basis[np.abs(basis).argmax(axis=0), np.arange(basis.shape[1])])
    return mean, basis * np.where(signs == 0, 1.0, signs)


def project(rows: np.ndarray, basis: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    mean, directions = basis
    return (rows - mean) @ directions


def paired_categories(system: Sequence[str], reference: Sequence[str], min_windows: int) -> list[str]:
    """Categories (sorted) with more than ``min_windows`` windows on both sides: those a
    per-category distance in ``min_windows`` dimensions is measured for."""
    sys_counts: dict[str, int] = {}
    ref_counts: dict[str, int] = {}
    for c in system:
        sys_counts[c] = sys_counts.get(c, 0) + 1
    for c in reference:
        ref_counts[c] = ref_counts.get(c, 0) + 1
    return sorted(c for c in sys_counts if sys_counts[c] > min_windows and ref_counts.get(c, 0) > min_windows)


def clip_resample(clip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row indices of a bootstrap resample of whole clips (drawn with replacement, each bringing
    all its windows)."""
    clips = np.unique(clip)
    rows_of = {c: np.flatnonzero(clip == c) for c in clips}
    drawn = rng.choice(clips, size=len(clips), replace=True)
    return np.concatenate([rows_of[c] for c in drawn])


def _interval(values: Sequence[float]) -> list[float]:
    return [round(float(np.percentile(values, 2.5)), 4), round(float(np.percentile(values, 97.5)), 4)]


def distance_figures(system: Embedded, reference: Embedded, dims: int) -> dict[str, Any]:
    """``fd`` in the reference's top ``dims`` components, ``fd_full`` in all dimensions (None
    unless both sides have more windows than dimensions) and the window counts."""
    from foleystudio.ml.metrics import frechet_distance

    basis = pca_basis(reference.rows, dims)
    sys_p, ref_p = project(system.rows, basis), project(reference.rows, basis)
    full_ok = min(len(system.rows), len(reference.rows)) > system.rows.shape[1]
    return {
        "fd": round(frechet_distance(sys_p, ref_p), 4),
        "fd_full": round(frechet_distance(system.rows, reference.rows), 4) if full_ok else None,
        "windows": len(system.rows),
        "reference_windows": len(reference.rows),
        "dims": basis[1].shape[1],
    }


def paired_difference(
    after: Embedded,
    before: Embedded,
    reference: Embedded,
    dims: int,
    resamples: int,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """FD(after) − FD(before) in the reference's top ``dims`` components, with a paired
    bootstrap interval: both resampled with the same clips (they are the same clips decoded
    two ways, so window ``i`` of each is the same stretch of the same clip)."""
    from foleystudio.ml.metrics import frechet_distance

    if not np.array_equal(after.clip, before.clip):
        raise ValueError("a paired difference needs the same clips and windows on both sides")
    basis = pca_basis(reference.rows, dims)
    a, b, ref = project(after.rows, basis), project(before.rows, basis), project(reference.rows, basis)
    boot = []
    for _ in range(resamples):
        index = clip_resample(after.clip, rng)
        boot.append(frechet_distance(a[index], ref) - frechet_distance(b[index], ref))
    return {
        "difference": round(frechet_distance(a, ref) - frechet_distance(b, ref), 4),
        "interval": _interval(boot) if boot else None,
    }


def per_category(system: Embedded, reference: Embedded, dims: int) -> dict[str, float]:
    """FD per category (:func:`paired_categories`) in the pooled reference's top ``dims`` components."""
    from foleystudio.ml.metrics import frechet_distance

    basis = pca_basis(reference.rows, dims)
    out = {}
    for c in paired_categories(list(system.category), list(reference.category), dims):
        s = project(system.rows[system.category == c], basis)
        r = project(reference.rows[reference.category == c], basis)
        out[c] = round(frechet_distance(s, r), 4)
    return out


# -- the run ---------------------------------------------------------------------------------


def foleyworld_set(folder: Path, per_category: int, seed: int, categories: Sequence[str]) -> list[Any]:
    """``per_category`` single-source clips of each category (corpus seed ``seed`` + the
    category's index), in category order."""
    from benchmarks.sync import corpus_clips
    from foleystudio.data.foleyworld import generate_corpus

    records = []
    for k, category in enumerate(categories):
        out = folder / category
        generate_corpus(out, per_category, seed + k, duration=DURATION_S, n_sources=1, categories=[category])
        records += corpus_clips(out, "all", per_category)
    return records


def held_out_recordings(rate: int) -> tuple[list[np.ndarray], list[str]]:
    """The installed held-out recordings at ``rate`` Hz (at most :data:`MAX_RECORDING_S` each)
    and their file names; none installed → empty lists."""
    from foleystudio.data.recordings import load_recording, package_folders, scan_recordings

    folders = package_folders()
    if not folders:
        return [], []
    held_out = [r for r in scan_recordings(folders) if r.split == "val"]
    limit = round(MAX_RECORDING_S * rate)
    return [load_recording(r, rate)[:limit] for r in held_out], [r.name for r in held_out]


def _vocoder(loaded: Any, vocoder: str | None) -> tuple[Any, str | None]:
    """The vocoder to decode with (the model's own, else ``vocoder``'s bundle's) and where from."""
    from foleystudio.errors import UsageError
    from foleystudio.ml.codec import MelCodec
    from foleystudio.ml.model_bundle import load_bundle
    from foleystudio.ml.vocoder import vocoder_from_bundle

    codec = loaded.codec
    if not isinstance(codec, MelCodec):
        raise UsageError(f"model '{loaded.name}' has no mel codec: nothing to decode two ways")
    if codec.vocoder is not None:
        return codec.vocoder, str(loaded.bundle.path)
    if vocoder is None:
        return None, None
    bundle = load_bundle(vocoder)
    found = vocoder_from_bundle(bundle)
    if found is None:
        raise UsageError(f"bundle '{vocoder}' has no vocoder")
    codec.attach_vocoder(found)  # checks the mel analysis matches
    codec.attach_vocoder(None)
    return found, str(bundle.path)


def run(
    quick: bool = False,
    model: str = DEFAULT_MODEL,
    vocoder: str | None = None,
    embedding_model: str = DEFAULT_MODEL,
    per_category_clips: int | None = None,
    categories: Sequence[str] | None = None,
    out: Path | None = RESULTS,
    spectral_rate: int | None = None,
) -> dict[str, Any]:
    """Measure and return the figures (also written to ``out`` unless None). ``spectral_rate``
    (Hz, one of :data:`SPECTRAL_MELS`; default the encoder's): the rate every wave is kept at
    and the fixed spectral embedding analyses, so a 24 kHz analysis sees up to 12 kHz."""
    import torch

    from foleystudio.core.atomicfile import atomic_write_bytes
    from foleystudio.core.audio import load_audio, resample
    from foleystudio.core.machine import machine_description
    from foleystudio.core.requests import GenerationRequest
    from foleystudio.core.settings import GenerationSettings
    from foleystudio.data.foleyworld import CATEGORIES
    from foleystudio.errors import UsageError
    from foleystudio.ml.codec import MelCodec
    from foleystudio.ml.engine import GenerationEngine, audio_from_bundle
    from foleystudio.ml.model_bundle import load_bundle

    machine = machine_description(load_average=True)
    started = time.perf_counter()
    n = per_category_clips or (QUICK_CLIPS_PER_CATEGORY if quick else CLIPS_PER_CATEGORY)
    dims = QUICK_PCA_DIMS if quick else PCA_DIMS
    resamples = QUICK_BOOTSTRAP_RESAMPLES if quick else BOOTSTRAP_RESAMPLES
    cats = list(categories or CATEGORIES)
    embedding_bundle = load_bundle(embedding_model)
    encoder, _ = audio_from_bundle(embedding_bundle)
    if encoder is None:
        raise UsageError(f"bundle '{embedding_model}' has no audio encoder to embed with")
    rate = int(spectral_rate or encoder.config.sample_rate)
    if rate not in SPECTRAL_MELS:
        raise UsageError(f"spectral rate must be one of {sorted(SPECTRAL_MELS)} Hz, got {rate}")
    mel_codec = MelCodec(sample_rate=rate, n_mels=SPECTRAL_MELS[rate])
    engine = GenerationEngine("cpu")
    loaded = engine.model(model)
    codec = loaded.codec
    own_vocoder = getattr(codec, "vocoder", None)
    voc, vocoder_from = _vocoder(loaded, vocoder)

    def at_rate(wave: np.ndarray, from_rate: int) -> np.ndarray:
        return wave if from_rate == rate else resample(wave, from_rate, rate)

    waves: dict[str, list[np.ndarray]] = {name: [] for name in SYSTEMS}
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="foleystudio-realism-") as tmp:
        t = time.perf_counter()
        generated_set = foleyworld_set(Path(tmp) / "generated", n, GENERATED_SEED, cats)
        reference_set = foleyworld_set(Path(tmp) / "reference", n, REFERENCE_SEED, cats)
        seconds["foleyworld"] = time.perf_counter() - t
        labels = [r.truth["sources"][0]["category"] for r in generated_set]
        reference_labels = [r.truth["sources"][0]["category"] for r in reference_set]
        reference_mixes = [load_audio(r.audio, rate, mono=True)[0] for r in reference_set]
        t = time.perf_counter()
        try:
            for i, record in enumerate(generated_set):
                mix, _ = load_audio(record.audio, codec.sample_rate, mono=True)
                waves["true_mix"].append(at_rate(mix, codec.sample_rate))
                with torch.no_grad():
                    tokens = codec.encode(torch.from_numpy(mix).reshape(1, -1))
                request = GenerationRequest(
                    str(record.video),
                    end=min(DURATION_S, float(record.truth["duration"])),
                    text=record.text,
                    settings=GenerationSettings(model=model, seed=i),
                )
                for suffix, decoder in (("griffin_lim", None), ("vocoder", voc)):
                    if suffix == "vocoder" and voc is None:
                        continue
                    codec.attach_vocoder(decoder)
                    with torch.no_grad():
                        waves[f"codec_{suffix}"].append(
                            at_rate(codec.decode(tokens)[0].numpy(), codec.sample_rate)
                        )
                    # The same request and seed give the same tokens; only the decoder differs.
                    (candidate,) = engine.generate(request)
                    waves[f"generated_{suffix}"].append(at_rate(candidate.audio, candidate.sample_rate))
        finally:
            codec.attach_vocoder(own_vocoder)
        seconds["generate_and_decode"] = time.perf_counter() - t
    rng = np.random.default_rng(NOISE_SEED)
    waves["noise"] = [rng.standard_normal(len(w)).astype(np.float32) for w in waves["true_mix"]]
    recordings, recording_names = held_out_recordings(rate)

    t = time.perf_counter()
    systems = [name for name in SYSTEMS if waves[name]]
    embedded = {name: embed_set(encoder, mel_codec, waves[name], labels) for name in systems}
    references = {"foleyworld": embed_set(encoder, mel_codec, reference_mixes, reference_labels)}
    if recordings:
        references["recordings"] = embed_set(encoder, mel_codec, recordings, ["recorded"] * len(recordings))
    seconds["embed"] = time.perf_counter() - t

    t = time.perf_counter()
    rng = np.random.default_rng(0)
    figures: dict[str, Any] = {}
    vocoder_change: dict[str, Any] = {}
    categories_fd: dict[str, Any] = {}
    for ref_name, reference in references.items():
        for emb in EMBEDDINGS:
            key = f"{ref_name}/{emb}"
            figures[key] = {s: distance_figures(embedded[s][emb], reference[emb], dims) for s in systems}
            vocoder_change[key] = {
                f"{after} - {before}": paired_difference(
                    embedded[after][emb], embedded[before][emb], reference[emb], dims, resamples, rng
                )
                for after, before in PAIRS
                if after in embedded
            }
            if ref_name == "foleyworld":
                categories_fd[key] = {
                    s: per_category(embedded[s][emb], reference[emb], dims) for s in systems
                }
    seconds["distances"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - started

    result: dict[str, Any] = {
        "benchmark": "realism",
        "quick": quick,
        "machine": machine,
        "model": loaded.name,
        "model_path": str(loaded.bundle.path),
        "model_version": loaded.bundle.manifest.get("version"),
        "vocoder_from": vocoder_from,
        "embedding_model": str(embedding_bundle.path),
        "embedding_audio_sha256": embedding_bundle.manifest["files"][
            embedding_bundle.manifest["modules"]["audio"]
        ],
        "settings": {
            "categories": cats,
            "clips_per_category": n,
            "duration_s": DURATION_S,
            "window_s": WINDOW_S,
            "hop_s": HOP_S,
            "peak": PEAK,
            "pca_dims": dims,
            "bootstrap_resamples": resamples,
            "corpus_seeds": {"generated": GENERATED_SEED, "reference": REFERENCE_SEED},
            "noise_seed": NOISE_SEED,
            "generation": "defaults (16 steps), text = the clip's short text, seed = clip index",
            "sample_rate": rate,
            "spectral_mels": SPECTRAL_MELS[rate],
        },
        "systems": systems,
        "recordings": recording_names,
        "fd": figures,
        "vocoder_change": vocoder_change,
        "per_category_fd": categories_fd,
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
        "machine_load_after": machine_description(load_average=True).get("load_average_1min"),
    }
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(out, (json.dumps(result, indent=1) + "\n").encode())
    return result


def format_report(result: dict[str, Any]) -> str:
    dims = result["settings"]["pca_dims"]
    lines = [
        f"{result['model']} ({result['model_path']}), vocoder: {result['vocoder_from'] or 'none'}; "
        f"{len(result['settings']['categories'])} categories x {result['settings']['clips_per_category']} clips; "
        f"FD in the reference's top {dims} components (full-dimension FD); vocoder change with a 95% paired bootstrap over clips"
    ]
    for key, rows in result["fd"].items():
        first = next(iter(rows.values()))
        lines.append(f"  vs {key} ({first['reference_windows']} reference windows):")
        for system, f in rows.items():
            full = "" if f["fd_full"] is None else f"  (full {f['fd_full']:.3f})"
            lines.append(f"    {system:<22} {f['fd']:8.3f}{full}")
        for pair, d in result["vocoder_change"].get(key, {}).items():
            interval = "" if d["interval"] is None else f" [{d['interval'][0]:+.3f}, {d['interval'][1]:+.3f}]"
            lines.append(f"    {pair}: {d['difference']:+.3f}{interval}")
    lines.append(f"  ({result['seconds']['total']} s)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 clips per category, 8 components")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="model bundle that generates")
    parser.add_argument(
        "--vocoder", default=None, help="bundle whose vocoder decodes, when the model has none"
    )
    parser.add_argument("--embedding-model", default=DEFAULT_MODEL, help="bundle whose audio encoder embeds")
    parser.add_argument("--clips", type=int, default=None, help="clips per category")
    parser.add_argument(
        "--spectral-rate",
        type=int,
        default=None,
        help="keep waves at this rate and analyse the spectral embedding there (16000: 80 mels to 8 kHz, "
        "the default; 24000: 100 mels to 12 kHz)",
    )
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    result = run(
        args.quick,
        args.model,
        args.vocoder,
        args.embedding_model,
        args.clips,
        out=Path(args.out),
        spectral_rate=args.spectral_rate,
    )
    print(format_report(result))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
