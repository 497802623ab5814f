"""Flowley network configurations: the dataclass, the named presets, JSON round trip.

Presets:

- ``debug``: a few thousand parameters, for unit tests only.
- ``tiny``: the bundled default, trained on a 2-core CPU (3.4 M parameters, hidden 160,
  2 joint + 3 single blocks; 8 s windows of 125 audio tokens from the 16 kHz / hop 256 /
  patch 4 mel codec, 64 visual tokens at 8 fps).
- ``small`` / ``base``: for GPUs (patch 2 → 250 audio tokens per 8 s).

The input dimensions (``clip_dim``, ``text_dim``, ``text_pooled_dim``, ``sync_dim``,
``mix_dim``, ``latent_dim``) must match the encoders and codec the model is used with; they
are saved in the model bundle with the weights.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from foleystudio.errors import UsageError
from foleystudio.ml.config_dict import config_from_dict

VISUAL_ATTENTION_MODES = ("psca", "plain", "none")
PREDICTION_MODES = ("velocity", "data")


@dataclass(frozen=True)
class FlowleyConfig:
    """Shape and conditioning options of a Flowley network (times in seconds)."""

    # Audio latent: channels per token and tokens per second (from the codec).
    latent_dim: int = 320
    token_rate: float = 15.625
    #: Length of one generation window in seconds (125 tokens at 15.625 tokens/s).
    window_seconds: float = 8.0
    # Transformer size.
    hidden: int = 160
    heads: int = 4
    joint_depth: int = 2
    single_depth: int = 3
    mlp_ratio: float = 2.0
    # Condition inputs.
    clip_dim: int = 512  # CLIP image embeddings (visual tokens) and text token features
    text_dim: int | None = None  # text token features when they differ from clip_dim
    text_pooled_dim: int = 512
    sync_dim: int = 2  # motion features per audio token
    mix_dim: int = 512  # SSV2A mix embedding
    visual_fps: float = 8.0
    # Which attention the single-stream blocks use on the video ("psca" | "plain" | "none").
    visual_attention: str = "psca"
    text_attention: bool = True  # CA_t in the single-stream blocks
    ref_audio: bool = True  # reference-audio cross-attention in the single-stream blocks
    # PSCA: training defaults of the inference-time controls, and β_ℓ's initial schedule
    # (linear over the single-stream blocks, first → last).
    omega: float = 0.25
    delta: float = 0.5
    beta_first: float = 0.5
    beta_last: float = 1.0
    # Rotary time embedding: periods (seconds) from rope_min_period to rope_max_period.
    rope_min_period: float = 0.128
    rope_max_period: float = 64.0
    # Sync path: Conv1d kernel over audio tokens (two layers, the second dilated by 2).
    sync_kernel: int = 5
    #: What the output layer predicts: ``"data"`` (the clean latent x̂₁, turned into the
    #: velocity (x̂₁ − x_t)/(1 − t)) or ``"velocity"`` directly. A network narrower than its
    #: latent (hidden 160 < 320 channels in ``tiny``) cannot pass the 320-d noise through to a
    #: velocity target (Li & He 2025, "Back to Basics: Let Denoising Generative Models
    #: Denoise"); predicting the data needs no such identity path. Bundles written before the
    #: field existed predict velocity, hence the default.
    prediction: str = "velocity"

    def __post_init__(self) -> None:
        if self.prediction not in PREDICTION_MODES:
            raise UsageError(
                f"prediction must be one of {', '.join(PREDICTION_MODES)}, got '{self.prediction}'"
            )
        if self.visual_attention not in VISUAL_ATTENTION_MODES:
            raise UsageError(
                f"visual_attention must be one of {', '.join(VISUAL_ATTENTION_MODES)}, "
                f"got '{self.visual_attention}'"
            )
        if self.hidden % self.heads or (self.hidden // self.heads) % 2:
            raise UsageError(f"hidden ({self.hidden}) must split into {self.heads} heads of even size")
        if self.sync_kernel % 2 == 0:
            raise UsageError(f"sync_kernel must be odd, got {self.sync_kernel}")

    @property
    def text_token_dim(self) -> int:
        """Channels of a text token feature."""
        return self.text_dim if self.text_dim is not None else self.clip_dim

    @property
    def num_audio_tokens(self) -> int:
        """Audio tokens in one window."""
        return round(self.window_seconds * self.token_rate)

    @property
    def num_visual_tokens(self) -> int:
        """Visual tokens in one window (frames at ``visual_fps``)."""
        return round(self.window_seconds * self.visual_fps)

    def replace(self, **changes: Any) -> FlowleyConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FlowleyConfig:
        """Rebuild from :meth:`to_dict`; unknown keys → CheckpointError (a newer bundle)."""
        return config_from_dict(cls, data, "network config")


NAMED_CONFIGS: dict[str, FlowleyConfig] = {
    "debug": FlowleyConfig(
        latent_dim=16,
        token_rate=8.0,
        window_seconds=2.0,
        hidden=32,
        heads=2,
        joint_depth=1,
        single_depth=2,
        mlp_ratio=2.0,
        clip_dim=12,
        text_pooled_dim=10,
        sync_dim=2,
        mix_dim=6,
        visual_fps=4.0,
        rope_min_period=0.25,
        rope_max_period=16.0,
        sync_kernel=3,
        prediction="data",
    ),
    "tiny": FlowleyConfig(prediction="data"),
    "small": FlowleyConfig(
        latent_dim=160,
        token_rate=31.25,
        hidden=384,
        heads=6,
        joint_depth=4,
        single_depth=8,
        mlp_ratio=4.0,
        rope_min_period=0.064,
        prediction="data",
    ),
    "base": FlowleyConfig(
        latent_dim=160,
        token_rate=31.25,
        hidden=768,
        heads=12,
        joint_depth=6,
        single_depth=12,
        mlp_ratio=4.0,
        rope_min_period=0.064,
        prediction="data",
    ),
}


def flowley_config(name: str, **overrides: Any) -> FlowleyConfig:
    """The named preset (``debug``, ``tiny``, ``small``, ``base``) with ``overrides`` applied."""
    try:
        config = NAMED_CONFIGS[name]
    except KeyError:
        raise UsageError(f"unknown Flowley config '{name}' (known: {', '.join(NAMED_CONFIGS)})") from None
    return config.replace(**overrides) if overrides else config
