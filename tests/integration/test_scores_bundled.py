"""The bundled model's semantic and text scores tell categories apart (FoleyWorld clips)."""

from __future__ import annotations

import numpy as np
import pytest

from foleystudio.ml.scores import ScoreReference, score_population, semantic_reference

CATEGORIES = ("bell_ringing", "bird_chirps", "water_drips", "hammer_anvil", "footsteps", "ball_rubber")
WEIGHTS = {"semantic": 1.0, "text": 1.0, "sync": 1.0}


@pytest.fixture(scope="module")
def scene():
    import torch

    from foleystudio.data.foleyworld import generate_clip
    from foleystudio.ml.engine import load_model

    model = load_model("foleyworld-tiny", torch.device("cpu"))
    clips = {
        c: generate_clip(100 + i, duration=4.0, n_sources=1, categories=[c], offscreen=False)
        for i, c in enumerate(CATEGORIES)
    }
    return model, clips


def test_a_matching_category_outscores_a_wrong_one(scene):
    model, clips = scene
    sounds = np.stack([clips[c].audio for c in CATEGORIES])
    for picture in ("bell_ringing", "bird_chirps", "water_drips", "hammer_anvil"):
        frames = model.clip.encode_images(clips[picture].frames[::3]).numpy()  # 8 fps, as the engine
        reference = ScoreReference(start=0.0, semantic=semantic_reference(model.ssv2a, visual=frames))
        rows = score_population(sounds, 16000, reference, WEIGHTS, encoder=model.audio)
        semantic = {c: r["semantic"] for c, r in zip(CATEGORIES, rows, strict=True)}
        assert max(semantic, key=semantic.get) == picture, semantic
        assert rows[CATEGORIES.index(picture)]["total"] > 0.5


def test_the_prompt_naming_the_category_scores_its_sound_highest(scene):
    model, clips = scene
    sounds = np.stack([clips[c].audio for c in CATEGORIES])
    for category in CATEGORIES:
        _, _, pooled = model.clip.encode_text([clips[category].truth["text"]])
        reference = ScoreReference(start=0.0, text=pooled[0].numpy())
        rows = score_population(sounds, 16000, reference, WEIGHTS, encoder=model.audio)
        assert CATEGORIES[int(np.argmax([r["text"] for r in rows]))] == category
