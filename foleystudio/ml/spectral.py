"""Spectral distances between a reference wave and an estimate: the vocoder's training losses
and the codec benchmark's measures (one definition for both).

* **Multi-resolution STFT** (Yamamoto et al. 2020, Parallel WaveGAN): for each (n_fft, hop)
  in :data:`RESOLUTIONS` (Hann window of n_fft samples), the *log-magnitude distance*
  mean |log max(|S|, ε) − log max(|Ŝ|, ε)| and the *spectral convergence*
  ‖|S| − |Ŝ|‖_F / ‖|S|‖_F, each averaged over the resolutions.
* **Mel distance**: mean |log-mel − log-mel estimate| in the codec's own analysis
  (``MelCodec.log_mel``: 80 Slaney bands, natural log, floor 1e-5).
* **Envelope distance**: mean |log RMS − log RMS estimate| in 8 ms frames every 4 ms (the
  temporal shape: transients).

Magnitudes are of the unnormalised STFT of waves at full scale 1.0; ε = 1e-5 (the codec's mel
floor) keeps digital silence from dominating the log distance.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from foleystudio.ml.codec import MelCodec

#: (n_fft, hop) in samples; at 16 kHz windows of 32, 64 and 128 ms. 1024/256 is the codec's own.
RESOLUTIONS: tuple[tuple[int, int], ...] = ((512, 128), (1024, 256), (2048, 512))
#: Magnitude floor before the log.
EPS = 1e-5


def stft_magnitude(wave: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """``|STFT|`` ``[B, n_fft // 2 + 1, frames]`` of ``wave`` ``[B, samples]`` (Hann, centred, zero-padded)."""
    window = torch.hann_window(n_fft, device=wave.device)
    # Zero padding at the ends (not reflection): it works for waves shorter than half a window.
    spec = torch.stft(
        wave.float(),
        n_fft,
        hop_length=hop,
        win_length=n_fft,
        window=window,
        center=True,
        pad_mode="constant",
        return_complex=True,
    )
    # A tiny offset keeps the gradient of |S| finite where S = 0 (digital silence).
    return torch.sqrt(spec.real.square() + spec.imag.square() + 1e-12)


@dataclass(frozen=True)
class SpectralTerms:
    """Multi-resolution STFT terms of one comparison (scalar tensors; differentiable)."""

    log_magnitude: torch.Tensor
    convergence: torch.Tensor


def multi_resolution_stft(
    estimate: torch.Tensor,
    reference: torch.Tensor,
    resolutions: tuple[tuple[int, int], ...] = RESOLUTIONS,
) -> SpectralTerms:
    """Log-magnitude distance and spectral convergence averaged over ``resolutions``.

    ``estimate`` and ``reference`` are ``[B, samples]`` at the same rate and length.
    """
    if estimate.shape != reference.shape:
        raise ValueError(f"estimate {list(estimate.shape)} and reference {list(reference.shape)} differ")
    log_terms, convergence_terms = [], []
    for n_fft, hop in resolutions:
        est = stft_magnitude(estimate, n_fft, hop)
        ref = stft_magnitude(reference, n_fft, hop)
        log_terms.append((torch.log(est.clamp(min=EPS)) - torch.log(ref.clamp(min=EPS))).abs().mean())
        convergence_terms.append(torch.linalg.norm(ref - est) / torch.linalg.norm(ref).clamp(min=EPS))
    return SpectralTerms(torch.stack(log_terms).mean(), torch.stack(convergence_terms).mean())


def mel_distance(codec: MelCodec, estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of the codec's log-mels of ``estimate`` and ``reference`` ``[B, samples]``."""
    return (codec.log_mel(estimate) - codec.log_mel(reference)).abs().mean()


def envelope_distance(
    estimate: torch.Tensor, reference: torch.Tensor, frame: int = 128, hop: int = 64
) -> torch.Tensor:
    """Mean |log RMS − log RMS estimate| over frames of ``frame`` samples every ``hop`` (8 ms
    and 4 ms at 16 kHz): how well a decoder keeps the temporal shape, e.g. a transient's
    attack against Griffin-Lim's smearing and pre-echo. RMS floored at ε."""
    frames_ref = reference.float().unfold(-1, frame, hop)
    frames_est = estimate.float().unfold(-1, frame, hop)
    rms_ref = frames_ref.square().mean(-1).sqrt().clamp(min=EPS)
    rms_est = frames_est.square().mean(-1).sqrt().clamp(min=EPS)
    return (torch.log(rms_est) - torch.log(rms_ref)).abs().mean()


def round_trip_distances(
    codec: MelCodec,
    waves: Sequence[torch.Tensor],
    decode: Callable[[torch.Tensor], torch.Tensor],
) -> dict[str, float]:
    """Mean over ``waves`` (each ``[samples]`` at the codec's rate) of the distances between a
    wave and ``decode(codec.encode(wave))`` cut to its length: ``mr_stft_log_magnitude``,
    ``spectral_convergence``, ``mel`` (see the module doc) and ``envelope``
    (:func:`envelope_distance`)."""
    if not waves:
        raise ValueError("no waves to measure")
    sums = {"mr_stft_log_magnitude": 0.0, "spectral_convergence": 0.0, "mel": 0.0, "envelope": 0.0}
    with torch.no_grad():
        for wave in waves:
            reference = wave.reshape(1, -1).float()
            estimate = decode(codec.encode(reference))[:, : reference.shape[-1]].float()
            terms = multi_resolution_stft(estimate, reference)
            sums["mr_stft_log_magnitude"] += float(terms.log_magnitude)
            sums["spectral_convergence"] += float(terms.convergence)
            sums["mel"] += float(mel_distance(codec, estimate, reference))
            sums["envelope"] += float(envelope_distance(estimate, reference))
    return {key: value / len(waves) for key, value in sums.items()}
