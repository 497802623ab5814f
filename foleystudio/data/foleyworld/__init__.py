"""FoleyWorld: a deterministic procedural audio-visual corpus with exact ground truth.

Scenes of 1–3 sound-making objects (bouncing balls of wood/metal/rubber/glass, a hammer on
an anvil, a walker's footsteps, a slammed door, a passing car, a chirping bird, a dripping
tap, a swinging bell) over background ambience and, in half of the clips, off-screen noise.
Events come from each object's physics and are placed on frames, so every sound onset sits
on the exact audio sample of its visual event. See docs/architecture.md §8.

Public API::

    clip = generate_clip(seed, duration=8.0, size=128, fps=24, sample_rate=16000,
                         n_sources=None, categories=None, look_variant="standard")
    clip.frames  # uint8 (T, H, W, 3);  clip.audio  # float32 mix;  clip.stems  # {id: float32}
    clip.truth   # JSON-ready ground truth (truth.py: ClipTruth.from_dict for typed access)
    write_clip(clip, out_dir, name)              # <name>.mp4/.wav/.json + <name>.stems/
    generate_corpus(out_dir, n_clips, seed, jobs=2)  # clip_00000… + index.json
"""

from __future__ import annotations

from foleystudio.data.foleyworld.corpus_clip import (
    CATEGORIES,
    MAX_SOURCES,
    ClipSpec,
    FoleyWorldClip,
    generate_clip,
    generate_from_spec,
)
from foleystudio.data.foleyworld.look import LOOK_VARIANTS
from foleystudio.data.foleyworld.truth import BackgroundTruth, ClipTruth, SourceTruth, load_truth
from foleystudio.data.foleyworld.writer import (
    clip_seed,
    corpus_licences,
    generate_corpus,
    load_index,
    split_of,
    write_clip,
)

__all__ = [
    "CATEGORIES",
    "LOOK_VARIANTS",
    "MAX_SOURCES",
    "BackgroundTruth",
    "ClipSpec",
    "ClipTruth",
    "FoleyWorldClip",
    "SourceTruth",
    "clip_seed",
    "corpus_licences",
    "generate_clip",
    "generate_corpus",
    "generate_from_spec",
    "load_index",
    "load_truth",
    "split_of",
    "write_clip",
]
