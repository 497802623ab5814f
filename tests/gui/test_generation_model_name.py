"""The model's name through the app (issue 13, item 6): the status bar and a used clip's saved
provenance name the model that generated it, never "?"."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from foleystudio.core.project_bundle import PROJECT_FILE

pytestmark = [
    pytest.mark.gui,
    pytest.mark.skipif(
        importlib.util.find_spec("foleystudio.ml.engine") is None,
        reason="foleystudio.ml.engine cannot be imported",
    ),
]

MODEL_NAME = "gui-name-check"


@pytest.fixture(scope="module")
def named_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained debug bundle whose manifest name differs from its folder's name."""
    from foleystudio.train.model_bundle import random_bundle

    return random_bundle(tmp_path_factory.mktemp("models") / "some-folder", name=MODEL_NAME)


def test_a_used_clip_names_the_real_model(window, video, named_bundle, tmp_path, qtbot) -> None:
    window.open_path(video)
    doc = window.document
    doc.set_settings(model=str(named_bundle), steps=2, num_candidates=1, device="cpu")
    window.act_generate.trigger()
    qtbot.waitUntil(lambda: bool(doc.candidates) or bool(window.prompts.errors), timeout=120000)
    assert not window.prompts.errors, window.prompts.errors
    assert window.engines.describe()[1] == MODEL_NAME
    assert window.model_label.text() == f"Model: {MODEL_NAME}"
    window.candidates.rows[0].use_button.click()
    window.prompts.save_as_path = tmp_path / "named"
    assert window.save()
    saved = json.loads((tmp_path / "named.foley" / PROJECT_FILE).read_text())
    (clip,) = [clip for track in saved["tracks"] for clip in track["clips"]]
    assert clip["provenance"]["model"] == MODEL_NAME
    assert clip["provenance"]["request"]["settings"]["model"] == str(named_bundle)
