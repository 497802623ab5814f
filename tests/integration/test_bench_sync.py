"""The sync benchmark (benchmarks/sync.py), the engine's ``drop_conditions`` and ``foleystudio bench``.

An untrained debug bundle generates noise, so these tests check the machinery: the metrics
tell in-sync audio (the ground truth) from the same audio 0.5 s late, the controls are built
as specified, and dropped conditions really reach the network as dropped.
"""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from foleystudio.cli import main as cli_main
from foleystudio.cli.bench import BENCHMARKS, load_benchmark
from foleystudio.core.requests import GenerationRequest
from foleystudio.core.settings import GenerationSettings
from foleystudio.errors import FoleyStudioError, UsageError
from foleystudio.ml.engine import GenerationEngine

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks import sync  # noqa: E402

DURATION = 3.0


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two 3 s single-source clips of impulsive categories without off-screen noise, so the
    onset detector can resolve the truth (ambience stays in)."""
    from foleystudio.data.foleyworld import generate_corpus

    folder = tmp_path_factory.mktemp("fw-sync")
    generate_corpus(
        folder,
        2,
        5,
        duration=DURATION,
        n_sources=1,
        offscreen=False,
        categories=["ball_wood", "ball_metal", "hammer_anvil", "footsteps"],
    )
    return folder


@pytest.fixture(scope="module")
def engine() -> GenerationEngine:
    return GenerationEngine("cpu")


def test_benchmark_runs_and_tells_sync_from_shifted(corpus, debug_bundle, tmp_path):
    out = tmp_path / "sync.json"
    lines: list[str] = []
    result = sync.run(
        model=str(debug_bundle),
        data=str(corpus),
        clips=2,
        steps=2,
        split="all",
        duration=DURATION,
        out=out,
        log=lines.append,
    )
    assert json.loads(out.read_text())["sets"].keys() == {"heldout", "novel_look"}
    assert len(lines) == 4  # two clips per set
    assert result["model"]["name"] == "debug-random"
    assert result["model"]["training"] == {"trained": False, "note": "random weights"}
    for ssms in result["ssms"].values():  # the debug bundle has no audio category classifier
        assert ssms["computed"] is False and "classifier" in ssms["reason"]
    assert result["machine"]["cpu_count"] >= 1
    for summary in result["sets"].values():
        assert summary["clips"] == 2
        assert [c["duration_s"] for c in summary["per_clip"]] == [DURATION, DURATION]
        for system in sync.SYSTEMS:
            for metric in sync.METRICS:
                stat = summary["systems"][system][metric]
                assert 0.0 <= stat["ci95"][0] <= stat["mean"] <= stat["ci95"][1] <= 1.0
        assert set(summary["targets"]) == {"onset_f1", "aa_align"}
    held = result["sets"]["heldout"]["systems"]
    # The true mix is in sync; 0.5 s late it is clearly not, and AA-Align sees the same.
    assert held["ground_truth"]["onset_f1"]["mean"] > 0.8
    assert held["ground_truth_shifted"]["onset_f1"]["mean"] < held["ground_truth"]["onset_f1"]["mean"] - 0.4
    assert held["ground_truth"]["aa_align"]["mean"] == 1.0
    assert held["ground_truth_shifted"]["aa_align"]["mean"] < 0.5
    # The random control has as many onsets as the generated audio.
    for clip in result["sets"]["heldout"]["per_clip"]:
        assert clip["n_onsets"]["random"] == clip["n_onsets"]["generated"]
        assert clip["aa_align"]["ground_truth"] == 1.0
    # The novel-look set is single balls in the novel look.
    novel = result["sets"]["novel_look"]
    assert all(
        len(c["categories"]) == 1 and c["categories"][0].startswith("ball_") for c in novel["per_clip"]
    )
    report = sync.format_report(result)
    assert "ground_truth_shifted" in report and "novel_look" in report


def test_true_onsets_keep_visible_sources_and_merge_close_pairs():
    truth = {
        "sources": [
            {
                "category": "ball_wood",
                "onsets": [0.5, 1.0, 2.5],
                "onset_frames": [12, 24, 60],
                "boxes": [[0, 0, 0.1, 0.1]] * 50 + [None] * 22,
            },
            {
                "category": "door_slam",
                "onsets": [0.52, 3.5],
                "onset_frames": [12, 84],
                "boxes": [[0, 0, 1, 1]] * 96,
            },
        ]
    }
    times, cats = sync.true_onsets(truth, duration=3.0)
    # 2.5 s is off screen, 3.5 s past the end, 0.52 s merges into 0.5 s.
    assert times.tolist() == [0.5, 1.0] and cats == ["ball_wood", "ball_wood"]
    assert sync.shifted(np.array([0.1, 2.6]), 3.0).tolist() == [0.6]


def test_bootstrap_interval_brackets_the_mean():
    stat = sync.bootstrap_mean([0.0, 1.0] * 10, np.random.default_rng(0))
    assert stat["mean"] == 0.5 and stat["ci95"][0] < 0.5 < stat["ci95"][1] and stat["n"] == 20
    assert sync.bootstrap_mean([], np.random.default_rng(0))["mean"] is None


def _captured_keeps(engine: GenerationEngine, request: GenerationRequest) -> tuple[np.ndarray, list[dict]]:
    """Generate, recording each network call's keep masks of the visual and sync groups."""
    network = engine.model(request.settings.model).flowley
    seen: list[dict] = []

    def hook(_module, args, kwargs):
        cond = args[2] if len(args) > 2 else kwargs["cond"]
        batch = cond.batch_size()
        seen.append(
            {g: cond.keep_mask(g, batch, cond.sync.device).tolist() for g in ("visual", "sync", "text")}
        )

    handle = network.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        (cand,) = engine.generate(request)
    finally:
        handle.remove()
    return cand.audio, seen


def test_drop_conditions_reach_the_network(debug_bundle, corpus):
    import torch

    engine = GenerationEngine("cpu")  # its own copy of the model: the weights are changed below
    video = corpus / "clip_00000.mp4"
    request = GenerationRequest(
        str(video),
        end=2.0,
        text="a ball",
        settings=GenerationSettings(steps=2, cfg=3.0, sync_cfg=1.0, model=str(debug_bundle)),
    )
    # An untrained Flowley's zero-initialised output layers make it ignore every condition;
    # random values there let the conditions reach the velocity.
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in engine.model(request.settings.model).flowley.parameters():
            if not param.any():
                param.copy_(0.05 * torch.randn(param.shape, generator=generator))
    kept_audio, kept = _captured_keeps(engine, request)
    dropped_audio, dropped = _captured_keeps(engine, request.replace(drop_conditions=("visual", "sync")))
    assert kept and dropped
    # CFG batches [conditional, unconditional]: visual and sync are kept in the conditional row only.
    assert all(k["visual"] == [True, False] and k["sync"] == [True, False] for k in kept)
    assert all(k["visual"] == [False, False] and k["sync"] == [False, False] for k in dropped)
    assert all(k["text"] == [True, False] for k in dropped)  # what is not named stays
    assert np.abs(kept_audio - dropped_audio).mean() > 0.05 * np.abs(kept_audio).mean()
    # Sync guidance adds a third row: everything kept but the sync features.
    _, three = _captured_keeps(engine, request.replace(sync_cfg=2.0))
    assert all(k["visual"] == [True, False, True] and k["sync"] == [True, False, False] for k in three)
    with pytest.raises(UsageError, match="unknown conditions"):
        engine.generate(request.replace(drop_conditions=("colour",)))


def test_drop_conditions_round_trip_the_request_dict():
    request = GenerationRequest(video="v.mp4", drop_conditions=("visual", "sync"))
    data = json.loads(json.dumps(request.to_dict()))
    assert GenerationRequest.from_dict(data) == request
    assert GenerationRequest.from_dict({"video": "v.mp4"}).drop_conditions == ()


def test_bench_loads_every_benchmark_with_a_quick_run():
    for name in BENCHMARKS:
        module = load_benchmark(name)
        params = inspect.signature(module.run).parameters
        assert "quick" in params, name
    assert "model" in inspect.signature(load_benchmark("sync").run).parameters


def test_bench_without_benchmarks_folder_is_a_clear_error(tmp_path, monkeypatch, capsys):
    with pytest.raises(FoleyStudioError, match="source checkout"):
        load_benchmark("sync", tmp_path / "benchmarks")
    monkeypatch.setattr("foleystudio.cli.bench.benchmarks_dir", lambda: tmp_path / "nowhere")
    assert cli_main(["bench", "media", "--quick"]) == 2
    assert "source checkout" in capsys.readouterr().err


def test_bench_passes_the_model_to_sync(debug_bundle, monkeypatch, capsys):
    calls = []
    module = load_benchmark("sync")
    monkeypatch.setattr(module, "run", lambda quick=False, model="x": calls.append((quick, model)) or {})
    monkeypatch.setattr(module, "format_report", lambda result: "table")
    assert cli_main(["bench", "sync", "--quick", "--model", str(debug_bundle)]) == 0
    assert calls == [(True, str(debug_bundle))]
    assert "table" in capsys.readouterr().out


def test_ssms_uses_the_bundled_classifier(corpus, tmp_path):
    from foleystudio.train.model_bundle import random_bundle

    bundle = random_bundle(tmp_path / "with-classifier", with_audio=True)
    result = sync.run(
        model=str(bundle),
        data=str(corpus),
        clips=2,
        steps=2,
        split="all",
        duration=DURATION,
        novel=False,
        out=None,
        log=lambda line: None,
    )
    ssms = result["ssms"]["heldout"]
    assert ssms["computed"] and ssms["clips"] == 2
    for n in ("top1", "top3"):
        assert set(ssms[n]) == {"generated", "no_visual", "chance"}
        assert all(0.0 <= v <= 1.0 for v in ssms[n].values())


def test_a_bundle_with_a_visual_onset_network_reports_its_track(corpus, tmp_path):
    from foleystudio.train.model_bundle import random_bundle

    bundle = random_bundle(tmp_path / "with-onsets", with_onsets=True)
    result = sync.run(
        model=str(bundle),
        data=str(corpus),
        clips=2,
        steps=2,
        split="all",
        duration=DURATION,
        novel=False,
        out=None,
        log=lambda line: None,
    )
    systems = result["sets"]["heldout"]["systems"]
    assert "visual_onsets" in systems and 0.0 <= systems["visual_onsets"]["onset_f1"]["mean"] <= 1.0
    assert "visual_onsets" in sync.format_report(result)


def test_dropped_groups_and_the_set_choice_reach_every_generation(debug_bundle, monkeypatch):
    seen: list[tuple[str, ...]] = []
    generate = GenerationEngine.generate

    def spy(self, request, *args, **kwargs):
        seen.append(request.drop_conditions)
        return generate(self, request, *args, **kwargs)

    monkeypatch.setattr(GenerationEngine, "generate", spy)
    quiet = {"model": str(debug_bundle), "clips": 1, "steps": 1, "duration": DURATION, "out": None}
    result = sync.run(heldout=False, drop=("visual",), log=lambda line: None, **quiet)
    assert set(result["sets"]) == {"novel_look"}
    assert result["settings"]["drop"] == ["visual"]
    assert seen == [("visual",), ("visual", "sync")]  # the generated system, then no_visual
    assert "generated without: visual" in sync.format_report(result)
    with pytest.raises(UsageError, match="unknown conditions"):
        sync.run(drop=("eyes",), **quiet)
    with pytest.raises(UsageError, match="no set"):
        sync.run(heldout=False, novel=False, **quiet)
