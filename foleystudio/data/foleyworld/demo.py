"""The committed FoleyWorld demo clip (``resources/demo/demo.mp4`` + ``demo.json``).

A metal ball bouncing in runs beside a walker on a concrete floor, ventilation hiss in the
background and a dog barking off-screen: 8 s, 192 px, 24 fps. Regenerate it with
``python -m foleystudio.data.foleyworld.demo [OUT_DIR]``; the same code gives the same clip.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from foleystudio.core.shipped import shipped_dir
from foleystudio.data.foleyworld.corpus_clip import ClipSpec, generate_from_spec
from foleystudio.data.foleyworld.writer import write_clip

DEMO_SPEC = ClipSpec(
    seed=5,
    duration=8.0,
    size=192,
    fps=24,
    sample_rate=16000,
    n_sources=2,
    categories=("ball_metal", "footsteps"),
    offscreen=True,
)
DEMO_DIR = shipped_dir("demo")


def write_demo(out_dir: str | os.PathLike[str] = DEMO_DIR) -> dict[str, Any]:
    """Write ``demo.mp4`` and ``demo.json`` (no stems, no WAV: kept small) to ``out_dir``."""
    return write_clip(generate_from_spec(DEMO_SPEC), out_dir, "demo", stems=False, mix_wav=False, crf=23)


if __name__ == "__main__":
    paths = write_demo(sys.argv[1] if len(sys.argv) > 1 else DEMO_DIR)
    print(paths["video"], paths["truth"])
