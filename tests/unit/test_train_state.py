from __future__ import annotations

import pytest
import torch

from foleystudio.errors import CheckpointError
from foleystudio.train.state import has_training_state, load_training_state, save_training_state


def _step(model: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor) -> None:
    opt.zero_grad()
    model(x).pow(2).mean().backward()
    opt.step()


def test_resume_continues_exactly(tmp_path):
    torch.manual_seed(0)
    x = torch.randn(4, 3)
    a = torch.nn.Linear(3, 2)
    opt_a = torch.optim.AdamW(a.parameters(), lr=1e-2)
    for _ in range(3):
        _step(a, opt_a, x)
    save_training_state(tmp_path, a, opt_a, step=3, extra={"seed": 1})
    assert has_training_state(tmp_path)

    b = torch.nn.Linear(3, 2)
    opt_b = torch.optim.AdamW(b.parameters(), lr=1e-2)
    meta = load_training_state(tmp_path, b, opt_b)
    assert meta["step"] == 3 and meta["seed"] == 1
    _step(a, opt_a, x)
    _step(b, opt_b, x)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_wrong_model_is_a_clear_error(tmp_path):
    a = torch.nn.Linear(3, 2)
    save_training_state(tmp_path, a, torch.optim.AdamW(a.parameters()), step=0)
    with pytest.raises(CheckpointError, match="does not fit"):
        load_training_state(tmp_path, torch.nn.Linear(4, 2), None)


def test_resume_or_start_refuses_to_overwrite(tmp_path):
    from foleystudio.errors import DataError
    from foleystudio.train.state import resume_or_start

    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters())
    assert resume_or_start(tmp_path, model, opt, resume=True) == (0, 0.0, None)
    save_training_state(tmp_path, model, opt, step=7, extra={"elapsed": 1.5})
    with pytest.raises(DataError, match="pass resume"):
        resume_or_start(tmp_path, model, opt, resume=False)
    step, elapsed, meta = resume_or_start(tmp_path, model, opt, resume=True)
    assert (step, elapsed, meta["step"]) == (7, 1.5, 7)
