"""Carrying Flowley's latent projections from one mel codec to another (a warm start).

Flowley reads and writes codec tokens through three projections whose shape follows the
codec's ``latent_dim`` (``input``, ``ref_proj``, ``output``); everything else (the transformer,
every condition path) is in seconds and does not depend on the codec. A run that moves the
model to another mel analysis, such as the 16 kHz preset's 80 bins up to 8 kHz to the 24 kHz
preset's 100 bins up to 12 kHz, can start from the old model if those projections are carried
over bin by bin: each new mel bin takes the weights of the old bin nearest to it in frequency,
shared out where several new bins take the same old one, so a smooth spectrum projects as it
did. Bins above the old analysis' top start at zero (input) or predict the old top bin's level
(output), so the model starts out making the sound it made, band-limited as before, and learns
the new band. Each codec normalises its log-mel to zero mean and unit deviation over its own
corpus, so token values are carried as they are. Tokens hold ``patch`` frames of ``n_mels`` bins, frame-major
(``ml/codec.py``); both codecs must have the same ``patch``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

#: The projections that read tokens ([hidden, latent]) and the one that writes them.
READ_PROJECTIONS = ("input.weight", "ref_proj.weight")
WRITE_WEIGHT, WRITE_BIAS = "output.weight", "output.bias"


def mel_centres(codec: Mapping[str, Any]) -> np.ndarray:
    """Centre frequency (Hz, the filter's weighted mean) of each mel bin of a mel codec config."""
    from foleystudio.ml.codec import codec_from_config

    fbank = codec_from_config(dict(codec)).fbank.double()  # [n_freqs, n_mels]
    freqs = torch.linspace(0.0, float(codec["sample_rate"]) / 2.0, fbank.shape[0], dtype=torch.float64)
    return ((freqs[:, None] * fbank).sum(0) / fbank.sum(0).clamp_min(1e-12)).numpy()


def band_map(source: Mapping[str, Any], target: Mapping[str, Any]) -> np.ndarray:
    """Per target mel bin, the source bin nearest in frequency, or -1 above the source's top."""
    old, new = mel_centres(source), mel_centres(target)
    nearest = np.abs(new[:, None] - old[None, :]).argmin(axis=1)
    return np.where(new <= float(source.get("f_max") or source["sample_rate"] / 2), nearest, -1)


def carries(source: Mapping[str, Any] | None, target: Mapping[str, Any] | None) -> bool:
    """Whether :func:`carry_projections` can map tokens of ``source`` onto ``target``."""
    return (
        source is not None
        and target is not None
        and source.get("type", "mel") == "mel"
        and target.get("type", "mel") == "mel"
        and int(source["patch"]) == int(target["patch"])
    )


def carry_projections(
    state: dict[str, torch.Tensor], source: Mapping[str, Any], target: Mapping[str, Any]
) -> list[str]:
    """Rewrite the token projections of the Flowley ``state`` (of ``source``'s codec) in place
    for ``target``'s codec; returns their names. Needs :func:`carries`."""
    mapping = band_map(source, target)
    patch, old_bins = int(source["patch"]), int(source["n_mels"])
    new_bins = len(mapping)
    known = mapping >= 0
    share = np.zeros(new_bins)
    counts = np.bincount(mapping[known], minlength=old_bins)
    share[known] = 1.0 / counts[mapping[known]]
    # Latent index of (frame, bin) is frame * n_mels + bin.
    frames = np.arange(patch)[:, None]
    old_index = torch.as_tensor((frames * old_bins + np.maximum(mapping, 0)[None, :]).reshape(-1))
    keep = torch.as_tensor(np.tile(known, patch))
    scale = torch.as_tensor(np.tile(share, patch))
    old_latent = patch * old_bins
    for name in READ_PROJECTIONS:
        # [hidden, k · old latent + extra]: ``input`` reads the noisy tokens, the known context
        # tokens and a known-flag column; ``ref_proj`` reads reference tokens.
        weight = state[name]
        blocks = weight.shape[1] // old_latent
        carried = [
            weight[:, b * old_latent : (b + 1) * old_latent][:, old_index] * scale.to(weight.dtype)[None, :]
            for b in range(blocks)
        ]
        state[name] = torch.cat([*carried, weight[:, blocks * old_latent :]], dim=1)
    top = int(mapping[known].max()) if known.any() else 0
    fill = (frames * old_bins + top).reshape(-1)  # per frame: the old top bin
    fill_index = torch.as_tensor(np.repeat(fill, new_bins))
    rows = torch.where(keep, old_index, fill_index)
    weight, bias = state[WRITE_WEIGHT], state[WRITE_BIAS]  # [old latent, hidden], [old latent]
    state[WRITE_WEIGHT] = weight[rows] * keep.to(weight.dtype)[:, None]
    state[WRITE_BIAS] = bias[rows]
    return [*READ_PROJECTIONS, WRITE_WEIGHT, WRITE_BIAS]
