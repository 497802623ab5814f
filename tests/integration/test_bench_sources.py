"""The sources benchmark (benchmarks/sources.py) and ``foleystudio bench sources``.

An untrained bundle generates noise, so these tests check the machinery: the requests are
built as specified (the box and the text source reach the network and change the sound), the
metrics are in range, the ground-truth control tells A's onsets from B's, and the manifold
check runs on a trained-format SSV2A folder with a feature cache.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from foleystudio.cli import main as cli_main
from foleystudio.cli.bench import load_benchmark
from foleystudio.ml.engine import GenerationEngine

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks import sources  # noqa: E402

DURATION = 3.0
DIM = 12


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two 3 s clips of two impulsive sources each (both visible, several onsets each)."""
    from foleystudio.data.foleyworld import generate_corpus

    folder = tmp_path_factory.mktemp("fw-sources")
    categories = ["ball_wood", "ball_metal", "ball_rubber", "hammer_anvil", "footsteps", "door_slam"]
    generate_corpus(folder, 2, 4, duration=DURATION, n_sources=2, offscreen=False, categories=categories)
    return folder


def _ssv2a_folder(folder: Path) -> Path:
    """An untrained tiny SSV2A manifold + Remixer, saved as training saves them."""
    from foleystudio.ml.ssv2a.io import save_ssv2a
    from foleystudio.ml.ssv2a.manifold import CMSSManifold, ManifoldConfig
    from foleystudio.ml.ssv2a.remixer import Remixer, RemixerConfig

    manifold = CMSSManifold(
        ManifoldConfig(
            clip_dim=DIM, audio_dim=DIM, joint_dim=8, projector_widths=(16,), reconstructor_widths=(16,)
        ),
        seed=0,
    )
    remixer = Remixer(
        RemixerConfig(
            joint_dim=8, clip_dim=DIM, audio_dim=DIM, width=16, heads=2, head_hidden=(16,), max_sources=4
        )
    )
    return save_ssv2a(folder, manifold, remixer)


def _cache(path: Path) -> Path:
    """A feature cache of 18 val objects (3 categories) + their mixes: crops and stems scatter
    around per-category centres."""
    from foleystudio.data.datasets import write_cache

    g = torch.Generator().manual_seed(0)
    centres = {k: F.normalize(torch.randn(3, DIM, generator=g), dim=-1) for k in ("clip", "audio")}
    rows: dict[str, list[torch.Tensor]] = {
        k: [] for k in ("visual", "visual_valid", "text_pooled", "audio_embedding")
    }
    examples = []
    for i in range(18):
        cat, name = i % 3, f"clip_{i:03d}"
        crops = F.normalize(centres["clip"][cat] + 0.3 * torch.randn(6, DIM, generator=g), dim=-1)
        stem = F.normalize(centres["audio"][cat] + 0.3 * torch.randn(DIM, generator=g), dim=0)
        for kind in ("mix", "object"):
            rows["visual"].append(crops.half())
            rows["visual_valid"].append(torch.ones(6, dtype=torch.bool))
            rows["text_pooled"].append(F.normalize(torch.randn(DIM, generator=g), dim=0))
            rows["audio_embedding"].append(stem)
            examples.append(
                {
                    "clip": name,
                    "split": "val",
                    "kind": kind,
                    "source": None if kind == "mix" else "s0",
                    "category": f"k{cat}",
                    "caption": "",
                }
            )
    tensors = {k: torch.stack(v) for k, v in rows.items()}
    return write_cache(path, tensors, {"examples": examples, "window_seconds": 1.0})


def test_benchmark_measures_pairs_composition_and_manifold(corpus, tmp_path):
    from foleystudio.train.model_bundle import random_bundle

    bundle = random_bundle(tmp_path / "with-classifier", with_audio=True)
    engine = GenerationEngine("cpu")
    # An untrained Flowley's zero-initialised output layers make it ignore every condition;
    # random values there let the box and the text reach the sound.
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in engine.model(str(bundle)).flowley.parameters():
            if not param.any():
                param.copy_(0.05 * torch.randn(param.shape, generator=generator))
    out = tmp_path / "sources.json"
    lines: list[str] = []
    result = sources.run(
        model=str(bundle),
        data=str(corpus),
        clips=2,
        steps=2,
        split="all",
        duration=DURATION,
        cache=_cache(tmp_path / "cache.safetensors"),
        ssv2a=_ssv2a_folder(tmp_path / "ssv2a"),
        engine=engine,
        out=out,
        log=lines.append,
    )
    assert json.loads(out.read_text())["benchmark"] == "sources"
    assert len(lines) == 2 and result["clips"] == 2 and result["pairs"] == 4
    assert result["model"]["name"] == "debug-random" and result["machine"]["cpu_count"] >= 1
    assert result["settings"]["cycle_iters"] == 0 and result["settings"]["labels"] is False

    def in_range(stat, low=0.0, high=1.0):
        assert low <= stat["ci95"][0] <= stat["mean"] <= stat["ci95"][1] <= high

    for system in sources.PAIR_SYSTEMS:
        for metric in sources.CATEGORY_METRICS:
            in_range(result["category"]["systems"][system][metric])
        for metric in sources.ONSET_METRICS:
            in_range(result["onsets"]["systems"][system][metric])
    for system in ("composed", "control"):
        for metric in sources.COMPOSITION_METRICS:
            in_range(result["composition"]["systems"][system][metric])
    # The other-object control: A's true stem hits A's onsets, not B's.
    truth_rows = result["onsets"]["systems"]["true_stem"]
    assert truth_rows["f1_own"]["mean"] > 0.7
    assert truth_rows["f1_other"]["mean"] < truth_rows["f1_own"]["mean"] - 0.3
    assert result["onsets"]["differences"]["true_stem own-other"]["ci95"][0] > 0
    # The box and the text source change the sound; the whole frame is the same for A and B.
    assert result["box_effect"]["mean"] > 0.01
    assert result["composition"]["text_effect"]["mean"] > 0.01
    for clip in result["per_clip"]:
        a, b = clip["pairs"]
        assert (a["own"], a["other"]) == (b["other"], b["own"])
        assert a["onsets"]["whole_frame"]["f1_own"] == b["onsets"]["whole_frame"]["f1_other"]
        for pair in clip["pairs"]:
            comp = pair["composition"]
            assert comp["text_category"] not in clip["categories"]
            assert comp["text_category"] in sources.TEXT_CATEGORIES and comp["text"]
    assert set(result["per_category"]) == {p["own"] for c in result["per_clip"] for p in c["pairs"]}
    manifold = result["manifold"]
    assert manifold["computed"] and manifold["objects"] == 18 and manifold["categories"] == ["k0", "k1", "k2"]
    for space in ("raw", "cmss", "reconstructed"):
        assert 0.0 <= manifold[space]["discriminant_mean"]["percent_misclassified"] <= 100.0
    report = sources.format_report(result)
    assert "composition" in report and "manifold check" in report and "true_stem" in report


def test_without_classifier_or_manifold_says_so(corpus, debug_bundle, tmp_path):
    result = sources.run(
        model=str(debug_bundle),
        data=str(corpus),
        clips=1,
        steps=1,
        split="all",
        duration=DURATION,
        out=None,
        log=lambda line: None,
    )
    assert result["category"]["computed"] is False and "classifier" in result["category"]["reason"]
    assert result["composition"]["computed"] is False
    assert result["manifold"] == {"computed": False, "reason": result["manifold"]["reason"]}
    assert "SSV2A" in result["manifold"]["reason"]
    assert result["onsets"]["systems"]["per_object"]["f1_own"]["n"] == 1
    assert "not computed" in sources.format_report(result)


def test_visible_sources_and_absent_text():
    box = [0.1, 0.1, 0.2, 0.2]
    truth = {
        "fps": 4,
        "sources": [
            {"id": "s0", "boxes": [None, box, box]},
            {"id": "s1", "boxes": [None, None, None]},
            {"id": "s2", "boxes": [None] * 8 + [box]},  # first seen at 2 s
        ],
    }
    found = sources.visible_sources(truth, duration=3.0)
    assert [s["id"] for s, _ in found] == ["s0", "s2"]
    assert [k.time for k in found[0][1]] == [0.25, 0.5]
    assert [s["id"] for s, _ in sources.visible_sources(truth, duration=1.5)] == ["s0"]
    known = ("bell_ringing", "bird_chirps", "ball_wood")
    assert sources.absent_text({"bell_ringing"}, 0, known) == ("bird_chirps", "a bird chirping")
    assert sources.absent_text(set(), 1, known)[0] == "bird_chirps"
    assert sources.absent_text({"bell_ringing", "bird_chirps"}, 0, known) is None


def test_find_manifold_reads_the_model_attribute(tmp_path):
    from foleystudio.ml.ssv2a.io import load_ssv2a

    folder = _ssv2a_folder(tmp_path / "ssv2a")
    manifold, remixer = load_ssv2a(folder)
    for attached in (manifold, (manifold, remixer), SimpleNamespace(manifold=manifold, remixer=remixer)):
        found, origin = sources.find_manifold(SimpleNamespace(name="m", ssv2a=attached), None)
        assert found is manifold and origin == "bundle m"
    assert sources.find_manifold(SimpleNamespace(name="m"), None)[0] is None
    assert sources.find_manifold(SimpleNamespace(name="m", ssv2a=object()), None)[0] is None
    found, origin = sources.find_manifold(SimpleNamespace(name="m"), folder)
    assert found is not None and origin == str(folder.resolve())


def test_bench_passes_the_model_to_sources(monkeypatch, capsys):
    calls = []
    module = load_benchmark("sources")
    monkeypatch.setattr(module, "run", lambda quick=False, model="x": calls.append((quick, model)) or {})
    monkeypatch.setattr(module, "format_report", lambda result: "table")
    assert cli_main(["bench", "sources", "--quick", "--model", "some-model"]) == 0
    assert calls == [(True, "some-model")]
    captured = capsys.readouterr()
    assert "table" in captured.out and "note:" not in captured.err


def test_clip_means_average_pairs_then_clips():
    clips = [{"pairs": [{"v": 1.0}, {"v": 0.0}]}, {"pairs": [{"v": None}]}, {"pairs": [{"v": 1.0}]}]
    assert sources.clip_means(clips, lambda p: p["v"]) == [0.5, 1.0]
    assert np.isclose(sources.relative_change(np.ones(4), np.ones(5) * 2), 0.5)
