"""Train the neural vocoder (``ml/vocoder.py``) on recorded sounds (``data/recordings.py``).

A step draws ``batch_size`` random crops of ``crop_tokens`` codec tokens (16 × 1024 samples =
1.024 s at 16 kHz) from the training recordings, seeded by ``(seed, step)``: a file with
probability proportional to its length (at least one crop), a random start (a shorter file sits
at a random place in silence), a random gain of ``min_gain_db``…0 dB on the file's peak. The
vocoder reads the crop's log-mel in the codec's analysis and must give the crop back. Loss:
multi-resolution STFT (log-magnitude distance + spectral convergence, ``ml/spectral.py``) of
the output, ``mel_weight`` × its mel distance, the log-magnitude distance of the head's own
magnitudes to the crop's STFT on the same frames, and ``phase_weight`` × APNet's phase losses
on those frames (:func:`phase_losses`); with ``adversarial`` a small multi-resolution spectrogram
discriminator adds a hinge loss and feature matching (measured and not adopted on the CPU:
docs/decisions.md).

Validation (``val`` lines of ``log.jsonl``): the round-trip distances of the held-out files (the
first ``eval_seconds`` of each) through the vocoder, and once through Griffin-Lim, the
baseline. Run by ``train/loop.py`` (resumable, time budget, cancel). A finished run writes the
one-module bundle ``bundle/`` in its run folder; :func:`add_vocoder_to_bundle` puts that
vocoder into a full model bundle.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from foleystudio.core.jobs import CancelToken, ProgressCallback, no_progress
from foleystudio.core.machine import machine_description
from foleystudio.data.recordings import Recording, licence_summary, load_recording
from foleystudio.errors import CheckpointError, DataError
from foleystudio.ml.codec import MelCodec, codec_from_config
from foleystudio.ml.encoders import seeded_init
from foleystudio.ml.model_bundle import MANIFEST, add_module, load_bundle, read_manifest, save_bundle
from foleystudio.ml.spectral import (
    EPS,
    RESOLUTIONS,
    mel_distance,
    multi_resolution_stft,
    round_trip_distances,
    stft_magnitude,
)
from foleystudio.ml.vocoder import MODULE, Vocoder, VocoderConfig, mel_mismatch
from foleystudio.train.distributed import single_process_context
from foleystudio.train.loop import LoopResult, LoopSettings, Task, TrainLoop, Update, step_generator
from foleystudio.train.state import STATE_JSON, has_training_state

#: The one-module bundle a finished run writes inside its run folder.
BUNDLE_DIR = "bundle"
#: The vocoder run's log inside a model bundle it was added to.
BUNDLE_LOG = "vocoder_training_log.jsonl"


@dataclass(frozen=True)
class VocoderTrainSettings:
    """Hyper-parameters of a vocoder run (gains in dB, durations in seconds)."""

    steps: int = 3000
    batch_size: int = 16
    crop_tokens: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: int = 100
    seed: int = 0
    log_every: int = 25
    eval_every: int = 250
    save_every: int = 250
    mel_weight: float = 1.0
    min_gain_db: float = -24.0
    eval_seconds: float = 4.0
    phase_weight: float = 0.0
    adversarial: bool = False
    adversarial_weight: float = 0.05
    feature_weight: float = 0.1


# -- data ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordingSet:
    """Loaded recordings: ``waves`` float32 mono at the codec's rate, one per ``recordings`` entry."""

    recordings: tuple[Recording, ...]
    waves: tuple[np.ndarray, ...]

    def split(self, split: str) -> list[np.ndarray]:
        return [w for r, w in zip(self.recordings, self.waves, strict=True) if r.split == split]

    def names(self, split: str) -> list[str]:
        return [r.name for r in self.recordings if r.split == split]


def load_recording_set(
    recordings: Sequence[Recording],
    sample_rate: int,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> RecordingSet:
    """Read every recording once (peak-normalised, mono, ``sample_rate`` Hz)."""
    waves = []
    for i, recording in enumerate(recordings):
        if cancel is not None:
            cancel.raise_if_cancelled()
        waves.append(load_recording(recording, sample_rate))
        progress((i + 1) / len(recordings), f"reading recordings {i + 1}/{len(recordings)}")
    return RecordingSet(tuple(recordings), tuple(waves))


def crop_batch(
    waves: Sequence[np.ndarray], settings: VocoderTrainSettings, samples: int, generator: torch.Generator
) -> torch.Tensor:
    """``[batch_size, samples]`` random crops (see the module doc), drawn from ``generator`` alone."""
    lengths = torch.tensor([max(len(w), samples) for w in waves], dtype=torch.float64)
    picks = torch.multinomial(lengths, settings.batch_size, replacement=True, generator=generator).tolist()
    out = np.zeros((settings.batch_size, samples), np.float32)
    for row, k in enumerate(picks):
        wave = waves[k]
        if len(wave) >= samples:
            start = int(torch.randint(len(wave) - samples + 1, (1,), generator=generator))
            out[row] = wave[start : start + samples]
        else:  # a short hit lands anywhere in the crop, not always at its start
            offset = int(torch.randint(samples - len(wave) + 1, (1,), generator=generator))
            out[row, offset : offset + len(wave)] = wave
    gain_db = settings.min_gain_db * torch.rand(settings.batch_size, generator=generator)
    gains = torch.pow(10.0, gain_db / 20.0).unsqueeze(1)
    return torch.from_numpy(out) * gains


# -- phase ---------------------------------------------------------------------------------


def _anti_wrap(x: torch.Tensor) -> torch.Tensor:
    """|x| of a phase difference taken to (−π, π]: the distance of two angles in radians."""
    return (x - 2 * math.pi * torch.round(x / (2 * math.pi))).abs()


def phase_losses(
    spectrum: torch.Tensor, reference: torch.Tensor, n_fft: int, hop: int
) -> dict[str, torch.Tensor]:
    """APNet's anti-wrapped phase losses (Ai & Ling 2023) between the predicted ``spectrum``
    ``[B, bins, F]`` and the reference's STFT on the same frames, each weighted by the
    reference's magnitude (per example, summing to 1), so silent bins, whose phase is noise,
    count for nothing: ``phase`` (the phase itself), ``group_delay`` (its difference across
    bins: where in the frame energy sits) and ``phase_advance`` (its difference across frames:
    the instantaneous frequency), in radians."""
    window = torch.hann_window(n_fft, device=reference.device)
    target = torch.stft(
        reference.float(), n_fft, hop, win_length=n_fft, window=window, center=True, return_complex=True
    )[..., : spectrum.shape[-1]]
    weight = target.abs()
    weight = weight / weight.sum(dim=(1, 2), keepdim=True).clamp(min=EPS)
    predicted, true = torch.angle(spectrum), torch.angle(target)
    batch = spectrum.shape[0]

    def weighted(distance: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return (distance * w).sum() / batch

    return {
        "phase": weighted(_anti_wrap(predicted - true), weight),
        "group_delay": weighted(
            _anti_wrap(predicted.diff(dim=1) - true.diff(dim=1)), torch.minimum(weight[:, 1:], weight[:, :-1])
        ),
        "phase_advance": weighted(
            _anti_wrap(predicted.diff(dim=2) - true.diff(dim=2)),
            torch.minimum(weight[..., 1:], weight[..., :-1]),
        ),
    }


# -- adversarial part (optional) -------------------------------------------------------------


class SpectrogramDiscriminator(nn.Module):
    """A small 2-D convolutional critic of one log-magnitude spectrogram resolution (UnivNet's MRD)."""

    def __init__(self, n_fft: int, hop: int, channels: int = 16) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.convs = nn.ModuleList(
            [
                nn.Conv2d(1, channels, (3, 9), padding=(1, 4)),
                nn.Conv2d(channels, channels, (3, 9), stride=(1, 2), padding=(1, 4)),
                nn.Conv2d(channels, channels, (3, 9), stride=(1, 2), padding=(1, 4)),
                nn.Conv2d(channels, channels, (3, 3), padding=(1, 1)),
            ]
        )
        self.out = nn.Conv2d(channels, 1, (3, 3), padding=(1, 1))

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(logits, feature maps) of ``wave`` ``[B, samples]``."""
        x = torch.log(stft_magnitude(wave, self.n_fft, self.hop).clamp(min=1e-5)).transpose(1, 2).unsqueeze(1)
        features = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.1)
            features.append(x)
        return self.out(x), features


class VocoderTraining(nn.Module):
    """What a run's checkpoint holds: the vocoder, and with ``adversarial`` its discriminators."""

    def __init__(self, vocoder: Vocoder, adversarial: bool, seed: int) -> None:
        super().__init__()
        self.vocoder = vocoder
        self.discriminators: nn.ModuleList | None = None
        if adversarial:
            with seeded_init(seed + 1):
                self.discriminators = nn.ModuleList(SpectrogramDiscriminator(n, h) for n, h in RESOLUTIONS)


# -- the task --------------------------------------------------------------------------------


class _VocoderTask(Task[torch.Tensor]):
    """Reconstruction (and optionally adversarial) loss on random crops; held-out validation."""

    label = "vocoder"

    def __init__(
        self,
        model: VocoderTraining,
        codec: MelCodec,
        data: RecordingSet,
        settings: VocoderTrainSettings,
        device: torch.device,
        out_dir: Path,
    ) -> None:
        self.model, self.codec, self.settings, self.device, self.out_dir = (
            model,
            codec,
            settings,
            device,
            out_dir,
        )
        self.train_waves = data.split("train")
        eval_samples = round(settings.eval_seconds * codec.sample_rate)
        self.val_waves = [torch.from_numpy(w[:eval_samples]).to(device) for w in data.split("val")]
        self.samples = settings.crop_tokens * codec.samples_per_token()
        self._griffin_lim: dict[str, float] | None = None

    def batch(self, step: int) -> torch.Tensor:
        """``[B, samples]`` crops on the device."""
        return crop_batch(
            self.train_waves, self.settings, self.samples, step_generator(self.settings.seed, step)
        ).to(self.device)

    def _reconstruction(
        self, spectrum: torch.Tensor, estimate: torch.Tensor, reference: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        terms = multi_resolution_stft(estimate, reference)
        mel = mel_distance(self.codec, estimate, reference)
        # The head's own magnitudes against the reference's STFT on the same frames: a direct,
        # phase-free signal (the re-analysed terms above only see magnitudes through the phase).
        c = self.model.vocoder.config
        target = stft_magnitude(reference, c.n_fft, c.hop)[..., : spectrum.shape[-1]]
        head = (torch.log(spectrum.abs().clamp(min=EPS)) - torch.log(target.clamp(min=EPS))).abs().mean()
        loss = terms.log_magnitude + terms.convergence + self.settings.mel_weight * mel + head
        scalars = {
            "log_magnitude": float(terms.log_magnitude.detach()),
            "convergence": float(terms.convergence.detach()),
            "mel": float(mel.detach()),
            "head_magnitude": float(head.detach()),
        }
        if self.settings.phase_weight > 0:
            phase = phase_losses(spectrum, reference, c.n_fft, c.hop)
            loss = loss + self.settings.phase_weight * sum(phase.values())
            scalars.update({k: float(v.detach()) for k, v in phase.items()})
        return loss, scalars

    def loss(self, batch: torch.Tensor) -> Update:
        vocoder = self.model.vocoder
        spectrum = vocoder.spectrum(self.codec.log_mel(batch))
        estimate = vocoder.waveform(spectrum)
        loss, scalars = self._reconstruction(spectrum, estimate, batch)
        discriminators = self.model.discriminators
        if discriminators is None:
            return Update(loss, scalars)
        s = self.settings
        adversarial, matching = estimate.new_zeros(()), estimate.new_zeros(())
        for critic in discriminators:
            fake_logits, fake_features = critic(estimate)
            with torch.no_grad():
                _, real_features = critic(batch)
            adversarial = adversarial + F.relu(1 - fake_logits).mean()
            matching = matching + sum(
                (f - r).abs().mean() for f, r in zip(fake_features, real_features, strict=True)
            ) / len(fake_features)
        total = loss + s.adversarial_weight * adversarial + s.feature_weight * matching
        scalars.update(adversarial=float(adversarial.detach()), feature_matching=float(matching.detach()))
        fake = estimate.detach()

        def critic_update() -> Update:  # hinge loss, the vocoder frozen
            d_loss = sum(
                F.relu(1 - critic(batch)[0]).mean() + F.relu(1 + critic(fake)[0]).mean()
                for critic in discriminators
            )
            return Update(d_loss, frozen=list(vocoder.parameters()))

        return Update(total, scalars, frozen=list(discriminators.parameters()), then=critic_update)

    def evaluate(self, step: int) -> dict[str, Any]:
        if not self.val_waves:
            return {}
        vocoder, codec = self.model.vocoder, self.codec
        vocoder.eval()
        figures = round_trip_distances(codec, self.val_waves, lambda t: vocoder(codec.tokens_to_log_mel(t)))
        vocoder.train()
        if self._griffin_lim is None:  # the baseline does not change: measure it once per call
            self._griffin_lim = round_trip_distances(codec, self.val_waves, codec.decode_griffin_lim)
        ratio = figures["mr_stft_log_magnitude"] / self._griffin_lim["mr_stft_log_magnitude"]
        return {
            **{k: round(v, 4) for k, v in figures.items()},
            "griffin_lim": {k: round(v, 4) for k, v in self._griffin_lim.items()},
            "mr_stft_vs_griffin_lim": round(ratio, 4),
            "files": len(self.val_waves),
        }

    def finish(self, result: LoopResult) -> dict[str, Any]:
        """A finished run writes ``bundle/`` (module ``vocoder``), its figures in ``training``."""
        summary = result.summary()
        if not result.finished:
            return summary
        vocoder = self.model.vocoder.eval()
        training = {
            **summary,
            "trained": True,
            "settings": asdict(self.settings),
            "parameters": vocoder.parameter_count(),
            "val": result.evaluation,
            "machine": machine_description(),
        }
        save_bundle(
            self.out_dir / BUNDLE_DIR,
            "vocoder",
            {MODULE: vocoder},
            {MODULE: vocoder.config.to_dict()},
            training=training,
            description="neural vocoder (log-mel → waveform)",
        )
        return training


def train_vocoder(
    data: RecordingSet,
    out_dir: str | os.PathLike[str],
    codec: MelCodec,
    settings: VocoderTrainSettings = VocoderTrainSettings(),
    sizes: dict[str, int] | None = None,
    *,
    resume: bool = False,
    device: torch.device | None = None,
    max_seconds: float | None = None,
    cancel: CancelToken | None = None,
    progress: ProgressCallback = no_progress,
) -> dict[str, Any]:
    """Train a vocoder for ``codec``'s mel analysis on ``data``'s ``train`` files, validate on its
    ``val`` files; returns the run summary (``train/loop.py``: resumable, ``max_seconds`` of this
    call, cancel). ``sizes`` overrides :class:`VocoderConfig`'s ``dim``/``intermediate``/
    ``layers``/``kernel``. A finished run writes ``out_dir/bundle``."""
    out_dir = Path(out_dir)
    device = device or torch.device("cpu")
    if not data.split("train"):
        raise DataError("no training recordings (all are held out)", out_dir)
    config = VocoderConfig.for_mel(
        codec.mel_settings(), input_mean=codec.norm_mean, input_std=codec.norm_std, **(sizes or {})
    )
    if resume and has_training_state(out_dir):  # the run's own shape and input scaling win
        config = VocoderConfig.from_dict(json.loads((out_dir / STATE_JSON).read_text())["config"])
        problem = mel_mismatch(config.mel_settings(), codec.mel_settings())
        if problem is not None:
            raise CheckpointError(f"the run was trained for another mel analysis ({problem})", out_dir)
    model = VocoderTraining(Vocoder(config, seed=settings.seed), settings.adversarial, settings.seed).to(
        device
    )
    codec = codec.to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=settings.lr, betas=(0.8, 0.99), weight_decay=settings.weight_decay
    )
    loop_settings = LoopSettings.from_settings(settings)
    ctx = single_process_context(device)
    loop = TrainLoop(out_dir, model, optimizer, loop_settings, ctx=ctx, resume=resume)
    seconds = {
        split: sum(len(w) for w in data.split(split)) / codec.sample_rate for split in ("train", "val")
    }
    facts = {
        "settings": asdict(settings),
        "config": config.to_dict(),
        "codec": codec.to_config(),
        "parameters": model.vocoder.parameter_count(),
        "recordings": licence_summary(data.recordings),
        "train_seconds": round(seconds["train"], 1),
        "val_seconds": round(seconds["val"], 1),
        "held_out": data.names("val"),
        "machine": machine_description(),
        "torch_threads": torch.get_num_threads(),
    }
    return loop.run(
        _VocoderTask(model, codec, data, settings, device, out_dir),
        facts=facts,
        checkpoint_meta={"settings": asdict(settings), "config": config.to_dict()},
        max_seconds=max_seconds,
        progress=progress,
        cancel=cancel,
    )


# -- bundles ---------------------------------------------------------------------------------


def bundle_codec(bundle_dir: str | os.PathLike[str]) -> MelCodec:
    """The mel codec a model bundle folder's manifest describes (its weights are not read)."""
    manifest = read_manifest(bundle_dir)
    config = manifest["configs"].get("codec")
    if not isinstance(config, dict):
        raise CheckpointError("bundle has no 'codec' config", bundle_dir)
    codec = codec_from_config(config)
    if not isinstance(codec, MelCodec):
        raise CheckpointError(
            "the bundle's codec is not a mel codec: a vocoder cannot be trained for it", bundle_dir
        )
    return codec


def load_trained_vocoder(run_or_bundle: str | os.PathLike[str]) -> tuple[Vocoder, dict[str, Any]]:
    """The vocoder of a finished run (its ``bundle/``) or of a bundle, in eval mode on the CPU,
    and that bundle's ``training`` summary."""
    folder = Path(run_or_bundle)
    if (folder / BUNDLE_DIR / MANIFEST).is_file():
        folder = folder / BUNDLE_DIR
    bundle = load_bundle(folder)
    if not bundle.has_module(MODULE):
        raise CheckpointError("has no vocoder (is the run finished?)", folder)
    vocoder = bundle.load_into(MODULE, Vocoder(VocoderConfig.from_dict(bundle.config(MODULE)), seed=None))
    return vocoder.eval(), bundle.training


def add_vocoder_to_bundle(
    bundle_dir: str | os.PathLike[str],
    run_dir: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
) -> Path:
    """Write model bundle ``bundle_dir`` with the finished run's vocoder added (or replaced) to
    ``out`` (default: ``bundle_dir`` itself, replaced atomically); returns the written folder.

    Through :func:`~foleystudio.ml.model_bundle.add_module`: the other files are checked and
    copied byte for byte; the manifest gets module ``vocoder``, its config, sha256 and
    ``training["vocoder"]``; the run's ``log.jsonl`` is kept as :data:`BUNDLE_LOG`. A vocoder
    for another mel analysis than the bundle's codec → CheckpointError.
    """
    source = Path(bundle_dir)
    codec = bundle_codec(source)
    vocoder, training = load_trained_vocoder(run_dir)
    problem = mel_mismatch(vocoder.config.mel_settings(), codec.mel_settings())
    if problem is not None:
        raise CheckpointError(f"the vocoder was trained for another mel analysis ({problem})", source)
    log = Path(run_dir) / "log.jsonl"
    extra = {BUNDLE_LOG: log.read_bytes()} if log.is_file() else {}
    return add_module(
        source,
        MODULE,
        vocoder,
        vocoder.config.to_dict(),
        {**training, "run": str(run_dir)},
        extra_files=extra,
        out=out,
    )
