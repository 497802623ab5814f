"""Every FoleyWorld category renders at the rates a corpus may use, not only 16 kHz."""

from __future__ import annotations

import numpy as np
import pytest

from foleystudio.data.foleyworld.corpus_clip import CATEGORIES, generate_clip


@pytest.mark.parametrize("rate", [24000, 22050, 44100])
def test_each_category_renders_at_other_rates(rate):
    # Seed 4 of footsteps at 24 kHz once broke: a sound's length in seconds times the rate
    # rounded down one sample short of the buffer it was added to.
    for category in CATEGORIES:
        for seed in range(6):
            clip = generate_clip(
                seed,
                duration=3.0,
                size=32,
                fps=12,
                sample_rate=rate,
                categories=[category],
                use_samples=False,
            )
            assert clip.audio.shape[-1] == round(3.0 * rate)
            assert np.isfinite(clip.audio).all()
