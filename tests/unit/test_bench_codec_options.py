"""`benchmarks/codec.py` measuring a codec preset instead of a bundle's codec."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import codec as codec_bench

SONIC_PI = Path("/usr/share/doc/sonic-pi-samples/copyright")


def test_a_vocoder_needs_a_codec_preset():
    with pytest.raises(SystemExit) as exc:
        codec_bench.main(["--vocoder", "runs/somewhere"])
    assert exc.value.code == 2


@pytest.mark.slow
@pytest.mark.skipif(not SONIC_PI.is_file(), reason="the Debian package sonic-pi-samples is not installed")
def test_a_preset_is_measured_into_the_file_given(tmp_path):
    out = tmp_path / "codec.json"
    result = codec_bench.run(quick=True, preset="24k", out=out)
    saved = json.loads(out.read_text())
    assert saved["model"] == "codec preset 24k" and saved["codec"]["n_mels"] == 100
    assert saved["codec"]["sample_rate"] == 24000 and "vocoder" not in result["quality"]
    assert 0 < saved["quality"]["griffin_lim"]["mr_stft_log_magnitude"] < 2
