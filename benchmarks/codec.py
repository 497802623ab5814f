"""Codec quality and decode speed: Griffin-Lim against the bundle's neural vocoder (issue 16).

Run ``python benchmarks/codec.py [--quick] [--model BUNDLE]`` or ``foleystudio bench codec
[--model BUNDLE]``; ``--codec PRESET [--vocoder RUN] --out FILE`` measures a codec preset
(``16k``, ``24k``, ``24k-p6``) with a ``train vocoder`` run's vocoder instead of a bundle's,
before any Flowley of that rate exists. Needs the held-out recordings (``data/recordings.py``; at least the Debian
package ``sonic-pi-samples``).

- **Quality**, on every held-out recording that is installed (never trained on): each file,
  at most ``MAX_SECONDS`` of it, goes through the bundle codec's ``encode`` and is decoded (a)
  with Griffin-Lim at the codec's settings and (b) with the vocoder; the multi-resolution STFT
  log-magnitude distance, the spectral convergence and the mel distance to the original
  (``ml/spectral.py``), averaged over files. Target: vocoder MR-STFT distance ≤ 0.6 ×
  Griffin-Lim's. For context, what the mel holds (``context``): Griffin-Lim given the true
  STFT magnitude, the mel pseudo-inverse's distance to the true magnitude, and the mel's
  magnitude resynthesised with the recording's true phase.
- **Speed**: decoding the tokens of 8 s of audio (the held-out files joined), median of
  several runs after a warm-up, with 1 and with 2 torch threads; real-time factor = seconds /
  8 s. Target: vocoder ≤ 0.05 × real time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "codec.json"
DEFAULT_MODEL = "foleyworld-tiny"
MAX_SECONDS = 10.0
SPEED_SECONDS = 8.0
TARGET_DISTANCE_RATIO = 0.6
TARGET_X_REAL_TIME = 0.05


def _median_seconds(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _magnitude_floors(codec: Any, waves: list[Any]) -> dict[str, float]:
    """What the mel leaves to recover, averaged over ``waves``: the MR-STFT distance of Griffin-Lim
    given the *true* STFT magnitude (the phase's share of the error); the log-magnitude distance
    at the codec's resolution between the true magnitude and the mel's pseudo-inverse (the fine
    structure the 80 bands do not hold), without any synthesis; and the MR-STFT distance of the
    mel's pseudo-inverse magnitude with the recording's true phase."""
    import torch

    from foleystudio.ml.spectral import EPS, multi_resolution_stft, stft_magnitude

    true_magnitude_gl, pinv_distance, true_phase_mel = [], [], []
    with torch.no_grad():
        for wave in waves:
            reference = wave.reshape(1, -1).float()
            magnitude = stft_magnitude(reference, codec.n_fft, codec.hop)
            phase_only = codec.griffin_lim(magnitude, reference.shape[-1])
            true_magnitude_gl.append(float(multi_resolution_stft(phase_only, reference).log_magnitude))
            pinv = torch.matmul(codec.fbank_pinv, torch.exp(codec.log_mel(reference))).clamp(min=EPS)
            frames = min(pinv.shape[-1], magnitude.shape[-1])
            log_true = torch.log(magnitude[..., :frames].clamp(min=EPS))
            pinv_distance.append(float((torch.log(pinv[..., :frames]) - log_true).abs().mean()))
            # The mel's magnitudes with the recording's own phase: a decoder with perfect phase
            # that adds no spectral detail beyond the 80 bands.
            true_phase = torch.stft(
                reference, codec.n_fft, codec.hop, window=codec.window, center=True, return_complex=True
            )
            spectrum = torch.polar(pinv[..., :frames], torch.angle(true_phase[..., :frames]))
            wave_ = torch.istft(
                spectrum, codec.n_fft, codec.hop, window=codec.window, length=reference.shape[-1]
            )
            true_phase_mel.append(float(multi_resolution_stft(wave_, reference).log_magnitude))
    return {
        "griffin_lim_from_true_magnitude_mr_stft": round(statistics.fmean(true_magnitude_gl), 4),
        "mel_pseudo_inverse_vs_true_magnitude": round(statistics.fmean(pinv_distance), 4),
        "mel_magnitude_with_true_phase_mr_stft": round(statistics.fmean(true_phase_mel), 4),
    }


def run(
    quick: bool = False,
    model: str = DEFAULT_MODEL,
    *,
    preset: str | None = None,
    vocoder: str | None = None,
    out: Path = RESULTS,
) -> dict[str, Any]:
    """Measure and return the figures (also written to ``out``). ``preset`` measures that codec
    preset, with the vocoder of run or bundle ``vocoder`` if given, instead of ``model``'s codec."""
    import numpy as np
    import torch

    from foleystudio.core.atomicfile import atomic_write_bytes
    from foleystudio.core.machine import machine_description
    from foleystudio.data.recordings import load_recording, package_folders, scan_recordings
    from foleystudio.errors import DataError, UsageError
    from foleystudio.ml.codec import MelCodec
    from foleystudio.ml.model_bundle import load_bundle
    from foleystudio.ml.spectral import round_trip_distances

    machine = machine_description(load_average=True)
    if preset is None:
        bundle = load_bundle(model)
        codec = bundle.build_codec()
        if not isinstance(codec, MelCodec):
            raise UsageError(f"bundle '{bundle.name}' has no mel codec to measure")
        label, label_path = bundle.name, str(bundle.path)
    else:
        from foleystudio.ml.codec import codec_preset
        from foleystudio.train.vocoder import load_trained_vocoder

        codec = codec_preset(preset)
        if vocoder is not None:
            codec.attach_vocoder(load_trained_vocoder(vocoder)[0])
        label, label_path = f"codec preset {preset}", vocoder
    folders = package_folders()
    if not folders:
        raise DataError("no recordings installed: apt-get install sonic-pi-samples")
    held_out = [r for r in scan_recordings(folders) if r.split == "val"]
    limit = round(MAX_SECONDS * codec.sample_rate)
    waves = [torch.from_numpy(load_recording(r, codec.sample_rate)[:limit]) for r in held_out]

    decoders: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"griffin_lim": codec.decode_griffin_lim}
    if codec.vocoder is not None:
        decoders["vocoder"] = codec.decode
    threads_before = torch.get_num_threads()
    quality: dict[str, Any] = {}
    per_file: dict[str, dict[str, float]] = {}
    for name, decode in decoders.items():
        files = [round_trip_distances(codec, [wave], decode) for wave in waves]
        quality[name] = {key: round(float(np.mean([f[key] for f in files])), 4) for key in files[0]}
        for recording, figures in zip(held_out, files, strict=True):
            per_file.setdefault(recording.name, {})[name] = round(figures["mr_stft_log_magnitude"], 4)

    context = _magnitude_floors(codec, waves)

    joined = torch.cat(waves)
    speed_samples = round(SPEED_SECONDS * codec.sample_rate)
    joined = joined.repeat(int(np.ceil(speed_samples / len(joined))))[:speed_samples]
    tokens = codec.encode(joined.unsqueeze(0))
    repeats = 3 if quick else 7
    speed: dict[str, dict[str, float]] = {}
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for name, decode in decoders.items():
                with torch.no_grad():
                    seconds = _median_seconds(lambda d=decode: d(tokens), repeats)
                speed.setdefault(name, {})[f"threads_{threads}"] = round(seconds / SPEED_SECONDS, 4)
    finally:
        torch.set_num_threads(threads_before)

    result: dict[str, Any] = {
        "benchmark": "codec",
        "quick": quick,
        "machine": machine,
        "model": label,
        "model_path": label_path,
        "codec": codec.to_config(),
        "vocoder": None if codec.vocoder is None else codec.vocoder.config.to_dict(),
        "held_out_files": [r.name for r in held_out],
        "held_out_seconds": round(sum(len(w) for w in waves) / codec.sample_rate, 1),
        "quality": quality,
        "context": context,
        "per_file_mr_stft_log_magnitude": per_file,
        "x_real_time_8s": speed,
        "repeats": repeats,
        "target_distance_ratio": TARGET_DISTANCE_RATIO,
        "target_x_real_time": TARGET_X_REAL_TIME,
        "machine_load_after": machine_description(load_average=True).get("load_average_1min"),
    }
    if "vocoder" in quality:
        ratio = quality["vocoder"]["mr_stft_log_magnitude"] / quality["griffin_lim"]["mr_stft_log_magnitude"]
        result["distance_ratio"] = round(ratio, 4)
        result["distance_target_met"] = ratio <= TARGET_DISTANCE_RATIO
        result["speed_target_met"] = {
            key: value <= TARGET_X_REAL_TIME for key, value in speed["vocoder"].items()
        }
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, (json.dumps(result, indent=2) + "\n").encode())
    return result


def format_report(result: dict[str, Any]) -> str:
    lines = [
        f"{result['model']}: {len(result['held_out_files'])} held-out recordings, {result['held_out_seconds']} s"
    ]
    for name, figures in result["quality"].items():
        speed = result["x_real_time_8s"][name]
        lines.append(
            f"  {name:<11} MR-STFT {figures['mr_stft_log_magnitude']:.3f}  SC {figures['spectral_convergence']:.3f}  "
            f"mel {figures['mel']:.3f}  envelope {figures['envelope']:.3f}  decode 8 s: {speed['threads_1']:.4f}x (1 thread), "
            f"{speed['threads_2']:.4f}x (2) real time"
        )
    if "distance_ratio" in result:
        met = result["speed_target_met"]
        lines.append(
            f"  vocoder/Griffin-Lim MR-STFT {result['distance_ratio']:.3f} (target <= {TARGET_DISTANCE_RATIO}: "
            f"{'met' if result['distance_target_met'] else 'NOT met'}); speed target <= {TARGET_X_REAL_TIME}x: "
            f"1 thread {'met' if met['threads_1'] else 'NOT met'}, 2 threads {'met' if met['threads_2'] else 'NOT met'}"
        )
    else:
        lines.append("  the bundle has no vocoder: Griffin-Lim only")
    c = result["context"]
    lines.append(
        f"  context: Griffin-Lim from the true magnitude {c['griffin_lim_from_true_magnitude_mr_stft']:.3f}; "
        f"mel pseudo-inverse vs true magnitude {c['mel_pseudo_inverse_vs_true_magnitude']:.3f}; "
        f"mel magnitude with the true phase {c['mel_magnitude_with_true_phase_mr_stft']:.3f}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 speed repetitions instead of 7")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="model bundle name or folder")
    parser.add_argument("--codec", default=None, help="measure this codec preset instead of the bundle's")
    parser.add_argument("--vocoder", default=None, help="with --codec: a `train vocoder` run or bundle")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    if args.vocoder is not None and args.codec is None:
        parser.error("--vocoder needs --codec")
    result = run(
        quick=args.quick, model=args.model, preset=args.codec, vocoder=args.vocoder, out=Path(args.out)
    )
    print(format_report(result))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
