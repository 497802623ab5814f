"""The shared training loop on a toy regression: the time budget, cancel-then-save, exact
resume (with EMA), the log schema, and the updates a task describes."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from foleystudio.core.jobs import CancelToken
from foleystudio.errors import DataError
from foleystudio.train.distributed import single_process_context
from foleystudio.train.loop import EMA_FILE, LoopSettings, Task, TrainLoop, Update, step_generator
from tests.unit.train_log_helpers import logged_events

SETTINGS = LoopSettings(steps=8, lr=0.05, warmup=2, log_every=2, save_every=100, eval_every=4, ema_decay=0.9)


class FakeClock:
    """Seconds that pass only when told to (each batch takes ``per_batch`` seconds)."""

    def __init__(self, per_batch: float = 0.0) -> None:
        self.now = 0.0
        self.per_batch = per_batch

    def __call__(self) -> float:
        return self.now


class Regression(Task[tuple[torch.Tensor, torch.Tensor]]):
    """Least squares on rows drawn from ``(seed, step)``; validation: the loss on fixed rows."""

    label = "toy"

    def __init__(self, model: torch.nn.Module, clock: FakeClock) -> None:
        self.model, self.clock = model, clock
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(32, 3, generator=g)
        self.y = self.x @ torch.randn(3, 2, generator=g)

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        self.clock.now += self.clock.per_batch
        rows = torch.randint(len(self.x), (4,), generator=step_generator(7, step))
        return self.x[rows], self.y[rows]

    def loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> Update:
        x, y = batch
        return Update((self.model(x) - y).pow(2).mean(), info={"rows": len(x)})

    def evaluate(self, step: int) -> dict[str, Any]:
        with torch.no_grad():
            return {"val_loss": float((self.model(self.x) - self.y).pow(2).mean())}


def _train(
    run: Path,
    settings: LoopSettings = SETTINGS,
    *,
    resume: bool = False,
    clock: FakeClock | None = None,
    max_seconds: float | None = None,
    cancel: CancelToken | None = None,
    progress: Any = None,
) -> tuple[dict[str, Any], torch.nn.Module]:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr)
    clock = clock or FakeClock()
    ctx = single_process_context("cpu")
    loop = TrainLoop(run, model, optimizer, settings, ctx=ctx, resume=resume, clock=clock)
    summary = loop.run(
        Regression(model, clock),
        facts={"settings": {"steps": settings.steps}},
        max_seconds=max_seconds,
        cancel=cancel,
        progress=progress or (lambda fraction, message: None),
    )
    return summary, model


def test_the_time_budget_is_this_calls_wall_time(tmp_path: Path) -> None:
    settings = replace(SETTINGS, steps=50)
    clock = FakeClock(per_batch=1.0)
    first, _ = _train(tmp_path, settings, clock=clock, max_seconds=10.0)
    assert first == {**first, "steps": 10, "finished": False, "reason": "time_limit", "elapsed_seconds": 10.0}
    # A resumed run gets the whole budget again; the log's wall time counts both calls.
    second, _ = _train(tmp_path, settings, resume=True, clock=clock, max_seconds=10.0)
    assert second == {**second, "steps": 20, "finished": False, "elapsed_seconds": 20.0}
    lines = logged_events(tmp_path)
    resume = next(line for line in lines if line["event"] == "resume")
    assert (resume["step"], resume["wall"]) == (10, 10.0)
    assert [(line["step"], line["wall"]) for line in lines if line["event"] == "stop"] == [
        (10, 10.0),
        (20, 20.0),
    ]
    assert json.loads((tmp_path / "state.json").read_text())["elapsed"] == 20.0
    # Time spent before the loop (preparing data) is not counted.
    clock.now += 1000.0
    third, _ = _train(tmp_path, settings, resume=True, clock=clock, max_seconds=10.0)
    assert third["steps"] == 30


def test_cancel_saves_a_checkpoint_that_resumes_exactly(tmp_path: Path) -> None:
    full, full_model = _train(tmp_path / "full")
    assert full["finished"] and full["reason"] == "finished" and full["steps"] == SETTINGS.steps

    token = CancelToken()

    def cancel_after_3(fraction: float, message: str) -> None:
        assert message.startswith("toy step ")
        if round(fraction * SETTINGS.steps) == 3:
            token.cancel()

    cut, _ = _train(tmp_path / "cut", cancel=token, progress=cancel_after_3)
    assert cut == {**cut, "steps": 3, "finished": False, "reason": "cancelled"}
    assert json.loads((tmp_path / "cut" / "state.json").read_text())["step"] == 3
    assert (tmp_path / "cut" / EMA_FILE).is_file()
    with pytest.raises(DataError, match="pass resume"):
        _train(tmp_path / "cut")
    resumed, resumed_model = _train(tmp_path / "cut", resume=True)
    assert resumed["finished"] and resumed["steps"] == SETTINGS.steps
    for name, value in full_model.state_dict().items():
        assert torch.equal(value, resumed_model.state_dict()[name]), name
    full_ema, cut_ema = (
        load_file(str(tmp_path / "full" / EMA_FILE)),
        load_file(str(tmp_path / "cut" / EMA_FILE)),
    )
    assert all(torch.equal(full_ema[k], cut_ema[k]) for k in full_ema)
    events = [line["event"] for line in logged_events(tmp_path / "cut")]
    assert events == ["start", "train", "stop", "resume", "train", "val", "train", "train", "val", "stop"]


def test_log_lines_share_one_schema(tmp_path: Path) -> None:
    _train(tmp_path)
    lines = logged_events(tmp_path)
    assert [line["event"] for line in lines] == [
        "start",
        "train",
        "train",
        "val",
        "train",
        "train",
        "val",
        "stop",
    ]
    train = [line for line in lines if line["event"] == "train"]
    assert [line["step"] for line in train] == [2, 4, 6, 8]
    assert all({"lr", "grad_norm", "loss", "rows"} <= line.keys() for line in train)
    assert lines[0]["settings"] == {"steps": SETTINGS.steps}
    assert [line["step"] for line in lines if line["event"] == "val"] == [4, 8]


def test_a_finished_run_resumed_evaluates_once_and_trains_no_further(tmp_path: Path) -> None:
    _train(tmp_path)
    state = (tmp_path / "state.safetensors").read_bytes()
    summary, _ = _train(tmp_path, resume=True)
    assert summary["finished"] and summary["steps"] == SETTINGS.steps
    assert (tmp_path / "state.safetensors").read_bytes() == state  # nothing new to save
    assert [line["event"] for line in logged_events(tmp_path)][-3:] == ["resume", "val", "stop"]


def test_frozen_parameters_keep_their_values_and_then_runs_a_second_update(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    bias = model.bias.detach().clone()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    settings = LoopSettings(steps=2, lr=0.1, warmup=1, log_every=1, save_every=10, grad_clip=None)
    seen: list[int] = []

    class TwoUpdates(Regression):
        def loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> Update:
            first = super().loss(batch)

            def second() -> Update:
                seen.append(1)
                return Update(model.weight.pow(2).sum(), frozen=(model.bias,))

            return replace(first, frozen=(model.bias,), then=second)

    loop = TrainLoop(tmp_path, model, optimizer, settings, ctx=single_process_context("cpu"), resume=False)
    loop.run(TwoUpdates(model, FakeClock()), facts={})
    assert seen == [1, 1] and torch.equal(model.bias, bias)
    assert all("grad_norm" not in line for line in logged_events(tmp_path))  # unclipped: not logged


def test_loop_settings_from_a_trainers_settings_with_overrides():
    from types import SimpleNamespace

    from foleystudio.train.loop import LoopSettings

    trainer = SimpleNamespace(
        steps=10, total_steps=30, lr=1e-3, warmup=2, log_every=1, save_every=5, eval_every=4
    )
    assert LoopSettings.from_settings(trainer) == LoopSettings(10, 1e-3, 2, 1, 5, 4)
    wide = LoopSettings.from_settings(trainer, steps=trainer.total_steps, grad_clip=None)
    assert (wide.steps, wide.grad_clip, wide.eval_every) == (30, None, 4)
    # A field the trainer's settings lack is given as an override and never read.
    lacking = SimpleNamespace(steps=10, lr=1e-3, warmup=2, log_every=1, save_every=5)
    assert LoopSettings.from_settings(lacking, eval_every=5).eval_every == 5
