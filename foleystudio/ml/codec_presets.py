"""Named mel codec settings (no torch: the CLI lists them without loading a model).

``16k`` is the bundled model's codec; ``24k`` is issue 16's higher rate, 100 mels up to 12 kHz
at the same hop and patch; ``24k-p6`` the same mel analysis in patches of 6 frames, so
Flowley's sequences are as long as at 16 kHz (docs/decisions.md, "A 24 kHz codec").
The vocoder's n_fft/hop (1024/256 samples) are the same at every rate.

| preset | Hz | mels | hop | patch | tokens/s | channels/token | tokens per 8 s |
|--------|----|------|-----|-------|----------|----------------|----------------|
| 16k    | 16000 | 80  | 256 | 4 | 15.625  | 320 | 125 |
| 24k    | 24000 | 100 | 256 | 4 | 23.4375 | 400 | 188 |
| 24k-p6 | 24000 | 100 | 256 | 6 | 15.625  | 600 | 125 |
"""

from __future__ import annotations

from typing import Any

#: Preset name → ``MelCodec`` keyword arguments (rate Hz; n_fft, hop in samples; patch in frames).
CODEC_PRESETS: dict[str, dict[str, Any]] = {
    "16k": {"sample_rate": 16000, "n_mels": 80, "hop": 256, "n_fft": 1024, "patch": 4},
    "24k": {"sample_rate": 24000, "n_mels": 100, "hop": 256, "n_fft": 1024, "patch": 4},
    "24k-p6": {"sample_rate": 24000, "n_mels": 100, "hop": 256, "n_fft": 1024, "patch": 6},
}
#: The preset of ``MelCodec()`` and of a run given no ``--codec``.
DEFAULT_CODEC_PRESET = "16k"


def preset_token_rate(name: str) -> float:
    """Tokens per second of preset ``name``: ``sample_rate / (hop · patch)``."""
    settings = CODEC_PRESETS[name]
    return settings["sample_rate"] / (settings["hop"] * settings["patch"])
