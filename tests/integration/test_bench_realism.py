"""The realism benchmark (benchmarks/realism.py) runs end to end on a debug bundle (mechanics)."""

from __future__ import annotations

import json

from foleystudio.cli.bench import load_benchmark


def test_realism_benchmark_measures_every_system_and_writes_its_results(tmp_path):
    from foleystudio.train.model_bundle import random_bundle

    bundle = random_bundle(tmp_path / "debug", with_audio=True)
    realism = load_benchmark("realism")
    out = tmp_path / "realism.json"
    result = realism.run(
        quick=True,
        model=str(bundle),
        embedding_model=str(bundle),
        per_category_clips=2,
        categories=["ball_wood", "bell_ringing"],
        out=out,
    )
    assert json.loads(out.read_text())["benchmark"] == "realism" and "machine" in result
    # Without a vocoder: the Griffin-Lim rows and the anchors only.
    assert result["systems"] == ["true_mix", "codec_griffin_lim", "generated_griffin_lim", "noise"]
    figures = result["fd"]["foleyworld/log_mel_stats"]
    assert set(figures) == set(result["systems"])
    # 2 clips x 2 categories x 7 windows of 2 s; the noise is far from FoleyWorld's mixes.
    assert figures["true_mix"]["windows"] == 28 and figures["noise"]["fd"] > figures["true_mix"]["fd"]
    assert result["vocoder_change"]["foleyworld/audio_encoder"] == {}
    assert "true_mix" in realism.format_report(result)
