"""Warm-starting Flowley across codecs: the token projections carried bin by bin."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from foleystudio.errors import CheckpointError
from foleystudio.ml.codec import MelCodec
from foleystudio.ml.codec_presets import CODEC_PRESETS
from foleystudio.ml.flowley import Flowley
from foleystudio.ml.flowley.config import flowley_config
from foleystudio.train.codec_transfer import band_map, carries, mel_centres
from foleystudio.train.flowley import init_from_run
from foleystudio.train.loop import EMA_FILE
from foleystudio.train.state import STATE_JSON

CODEC_16K = MelCodec(**CODEC_PRESETS["16k"]).to_config()
CODEC_24K = MelCodec(**CODEC_PRESETS["24k"]).to_config()


def test_band_map_is_the_identity_between_equal_codecs():
    assert np.array_equal(band_map(CODEC_16K, CODEC_16K), np.arange(80))


def test_band_map_16k_to_24k_takes_the_nearest_bin_and_marks_the_new_band():
    mapping = band_map(CODEC_16K, CODEC_24K)
    old, new = mel_centres(CODEC_16K), mel_centres(CODEC_24K)
    assert len(mapping) == 100 and np.all(np.diff(mapping[mapping >= 0]) >= 0)
    above = new > 8000.0
    assert above.any() and np.all(mapping[above] == -1) and np.all(mapping[~above] >= 0)
    for j in np.flatnonzero(~above):
        assert abs(new[j] - old[mapping[j]]) == pytest.approx(np.abs(new[j] - old).min())
    assert set(mapping[~above]) == set(range(80))  # every old bin is carried somewhere


def test_carries_needs_two_mel_codecs_of_one_patch():
    assert carries(CODEC_16K, CODEC_24K)
    assert not carries(None, CODEC_24K)
    assert not carries(CODEC_16K, {**CODEC_24K, "patch": 6})


def _run_folder(path, model, codec):
    path.mkdir()
    save_file(model.state_dict(), str(path / EMA_FILE))
    (path / STATE_JSON).write_text(json.dumps({"step": 1, "config": model.config.to_dict()}))
    if codec is not None:
        (path / "cache.json").write_text(json.dumps({"codec": codec}))
    return path


def _models(tmp_path, codec=CODEC_16K):
    torch.manual_seed(0)
    old = Flowley(flowley_config("debug", latent_dim=320)).eval()
    run = _run_folder(tmp_path / "run16", old, codec)
    new = Flowley(flowley_config("debug", latent_dim=400)).eval()
    return old, run, new


def test_a_24k_model_starts_from_a_16k_run_hearing_and_saying_what_it_did(tmp_path):
    old, run, new = _models(tmp_path)
    untouched = {k: v.clone() for k, v in old.state_dict().items() if k not in {"input.weight"}}
    names = init_from_run(new, run, CODEC_24K)
    assert names == ["input.weight", "output.bias", "output.weight", "ref_proj.weight"]
    ours = new.state_dict()
    for name, value in untouched.items():
        if name not in names:
            assert torch.equal(ours[name], value), name

    mapping = torch.as_tensor(band_map(CODEC_16K, CODEC_24K))
    known = mapping >= 0
    x_old = torch.randn(3, 4, 80)  # [tokens, frames, bins]: a spectrum the old model hears
    x_new = torch.zeros(3, 4, 100)
    x_new[..., known] = x_old[..., mapping[known]]  # the same sound on the new bins
    context_old, context_new = torch.randn(3, 4, 80), torch.zeros(3, 4, 100)
    context_new[..., known] = context_old[..., mapping[known]]
    flag = torch.ones(3, 1)
    with torch.no_grad():
        heard_old = old.input(torch.cat([x_old.reshape(3, -1), context_old.reshape(3, -1), flag], -1))
        heard_new = new.input(torch.cat([x_new.reshape(3, -1), context_new.reshape(3, -1), flag], -1))
        assert torch.allclose(heard_new, heard_old, atol=1e-5)
        assert torch.allclose(
            new.ref_proj(x_new.reshape(3, -1)), old.ref_proj(x_old.reshape(3, -1)), atol=1e-5
        )
        hidden = torch.randn(3, old.output.in_features)
        said_old = old.output(hidden).reshape(3, 4, 80)
        said_new = new.output(hidden).reshape(3, 4, 100)
    assert torch.allclose(said_new[..., known], said_old[..., mapping[known]], atol=1e-6)
    # The new band starts at the old top bin's level, with no weight on the hidden state.
    top = int(mapping[known].max())
    level = old.output.bias.reshape(4, 80)[:, top : top + 1]
    assert torch.allclose(said_new[..., ~known], level.expand(3, 4, int((~known).sum())))


def test_without_the_runs_codec_the_projections_start_fresh(tmp_path):
    old, run, new = _models(tmp_path, codec=None)
    fresh = {k: v.clone() for k, v in new.state_dict().items()}
    names = init_from_run(new, run, CODEC_24K)
    ours = new.state_dict()
    assert all(torch.equal(ours[n], fresh[n]) for n in names)
    assert torch.equal(ours["sync_net.0.weight"], old.state_dict()["sync_net.0.weight"])


def test_another_network_is_still_refused(tmp_path):
    _, run, _ = _models(tmp_path)
    other = Flowley(flowley_config("debug", latent_dim=400, hidden=48))
    with pytest.raises(CheckpointError, match="hidden"):
        init_from_run(other, run, CODEC_24K)
