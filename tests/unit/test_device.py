"""Device choice, dtype policy and explicit generators (foleystudio.ml.device)."""

from __future__ import annotations

import pytest
import torch

from foleystudio.errors import UsageError
from foleystudio.ml.device import describe_devices, dtype_for, make_generator, pick_device, rand, randn


def test_cpu_is_always_available() -> None:
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device(" CPU ") == torch.device("cpu")


def test_auto_follows_cuda_then_mps_then_cpu() -> None:
    auto = pick_device("auto")
    if torch.cuda.is_available():
        assert auto.type == "cuda"
    elif torch.backends.mps.is_available():
        assert auto.type == "mps"
    else:
        assert auto == torch.device("cpu")
    assert pick_device() == auto


@pytest.mark.parametrize("name", ["gpu", "tpu", "cuda:x", ""])
def test_unknown_names_are_usage_errors(name: str) -> None:
    if name == "":
        assert pick_device(name) == pick_device("auto")  # empty means auto
        return
    with pytest.raises(UsageError, match="device"):
        pick_device(name)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_missing_cuda_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="CUDA is not available"):
        pick_device("cuda")
    with pytest.raises(UsageError, match="CUDA is not available"):
        pick_device("cuda:0")


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="this machine has MPS")
def test_missing_mps_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="MPS is not available"):
        pick_device("mps")


def test_dtype_policy() -> None:
    assert dtype_for("cpu") == torch.float32
    assert dtype_for(torch.device("mps")) == torch.float32
    if torch.cuda.is_available():
        assert dtype_for("cuda") in (torch.bfloat16, torch.float16)


def test_generators_are_reproducible_and_independent() -> None:
    a = randn((4, 3), make_generator(7))
    b = randn((4, 3), make_generator(7))
    c = randn((4, 3), make_generator(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    u = rand((1000,), make_generator(1))
    assert float(u.min()) >= 0.0 and float(u.max()) < 1.0
    # Drawing from one generator does not touch the global RNG.
    state = torch.get_rng_state()
    randn((10,), make_generator(3))
    assert torch.equal(state, torch.get_rng_state())


def test_describe_devices_reports_every_backend() -> None:
    info = describe_devices()
    assert info["cpu"]["available"] is True
    assert set(info) >= {"cpu", "cuda", "mps", "auto", "dtype"}
    assert info["auto"] == str(pick_device("auto"))
    assert info["cuda"]["available"] == torch.cuda.is_available()
