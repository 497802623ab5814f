"""The training loop every trainer runs (in the manner of audiocraft's solver).

A trainer builds its model and optimizer, opens a :class:`TrainLoop` on its run folder (which
resumes the run or starts it), and hands :meth:`TrainLoop.run` a :class:`Task`: how to draw the
batch of step ``s``, its loss, and its evaluation. The loop does the rest, the same way for all:

* **Resume.** The run folder holds ``state.safetensors`` + ``state.json`` (``train/state.py``;
  ``state.json`` also keeps ``elapsed``, the seconds trained so far) and, when the loop keeps an
  EMA, ``ema.safetensors``. A folder with a state is only continued with ``resume=True``, never
  overwritten. Tasks draw each batch from ``(seed, step)``, so a resumed run trains exactly as
  an uninterrupted one.
* **Checkpoints** every ``save_every`` steps, at the task's boundaries, and when the loop stops.
* **Time budget.** ``max_seconds`` is wall-clock seconds of this call, counted from the start of
  its loop (preparing data before it is not counted) and checked before each step; a resumed run
  gets the whole budget again.
* **Cancel.** The token is checked before each step. A cancelled or timed-out run saves a
  resumable checkpoint and returns its summary with ``finished: False`` and ``reason``
  ``"cancelled"`` or ``"time_limit"``; it does not raise.
* **Log.** Every line of ``log.jsonl`` has ``event`` (one of :data:`EVENTS`), ``step`` (optimizer
  steps done) and ``wall`` (seconds the run folder has trained, over all its calls), besides
  RunLog's ``time``. ``start``/``resume`` carry the trainer's facts (settings, sizes, machine),
  ``train`` (every ``log_every`` steps) the learning rate, ``grad_norm`` and the loss terms
  averaged over ranks, ``val`` the evaluation, ``stop`` the run's summary.
* **DDP** (``train/distributed.py``). Every rank runs the loop; one collective per step makes
  them all stop after the same step; logged loss terms are averaged over ranks; only rank 0
  evaluates, writes and reports progress, and the others wait for each of its checkpoints.
"""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import torch
from safetensors.torch import load_file, save

from foleystudio.core.atomicfile import atomic_write_bytes
from foleystudio.core.jobs import CancelToken, ProgressCallback, no_progress
from foleystudio.errors import CheckpointError
from foleystudio.train.common import Ema, RunLog, warmup_cosine
from foleystudio.train.distributed import DistributedContext, all_reduce_means, barrier
from foleystudio.train.state import resume_or_start, save_training_state

#: The ``event`` of a log line.
EVENTS = ("start", "resume", "train", "val", "stop")
#: Why the loop stopped.
StopReason = Literal["finished", "cancelled", "time_limit"]
#: The EMA weights in a run folder (a loop with ``ema_decay``).
EMA_FILE = "ema.safetensors"

BatchT = TypeVar("BatchT")


def step_generator(seed: int, step: int) -> torch.Generator:
    """The CPU generator of step ``step``'s batch: the same on every rank, call and resume."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


@dataclass(frozen=True)
class LoopSettings:
    """What the loop takes from a trainer's settings.

    ``lr`` is the peak learning rate, scaled per step by :meth:`Task.lr_factor` (by default a
    linear warm-up over ``warmup`` steps, then a cosine decay to 0.1 × at ``steps``).
    ``eval_every`` None evaluates only at the task's boundaries and the last step;
    ``grad_clip`` None leaves gradients unclipped (and logs no ``grad_norm``); ``ema_decay``
    keeps (and saves) an EMA of the weights.
    """

    steps: int
    lr: float
    warmup: int
    log_every: int
    save_every: int
    eval_every: int | None = None
    grad_clip: float | None = 1.0
    ema_decay: float | None = None

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> LoopSettings:
        """The fields ``steps``, ``lr``, ``warmup``, ``log_every``, ``save_every`` and
        ``eval_every`` taken from a trainer's settings of the same names; ``overrides`` win
        (and name what a trainer's settings call otherwise or lack)."""
        names = ("steps", "lr", "warmup", "log_every", "save_every", "eval_every")
        return cls(**{n: getattr(settings, n) for n in names if n not in overrides}, **overrides)


@dataclass(frozen=True, eq=False)
class Update:
    """One optimizer update of a step: the loss to minimise, and what the log gets of it.

    ``scalars`` (floats, averaged over ranks; ``loss`` is added when missing) and ``info``
    (logged as rank 0 has it, e.g. the stage) go into the ``train`` lines. Gradients of
    ``frozen`` are dropped before the update. ``then``, when given, makes a second update on
    the same batch once this one is applied (SSV2A's alternating manifold updates).
    """

    loss: torch.Tensor
    scalars: Mapping[str, float] = field(default_factory=dict)
    info: Mapping[str, Any] = field(default_factory=dict)
    frozen: Sequence[torch.nn.Parameter] = ()
    then: Callable[[], Update] | None = None


@dataclass(frozen=True)
class LoopResult:
    """How the loop ended: ``steps`` done in all, ``elapsed`` seconds trained over all calls,
    the last step's ``scalars`` (empty when no step ran) and the last ``evaluation`` of this
    call (rank 0 only; empty when there was none)."""

    steps: int
    reason: StopReason
    elapsed: float
    scalars: dict[str, float]
    evaluation: dict[str, Any]

    @property
    def finished(self) -> bool:
        """Whether every step of the run is done."""
        return self.reason == "finished"

    def summary(self) -> dict[str, Any]:
        """The summary keys every trainer returns (``elapsed_seconds`` rounded to 0.1 s)."""
        return {
            "steps": self.steps,
            "finished": self.finished,
            "reason": self.reason,
            "elapsed_seconds": round(self.elapsed, 1),
        }


class Task(ABC, Generic[BatchT]):
    """What one trainer supplies to :class:`TrainLoop`: its batch, its loss, its evaluation.

    Only :meth:`batch` and :meth:`loss` are required. :meth:`evaluate` must not use
    collectives (it runs on rank 0 alone); :meth:`finish` runs on every rank.
    """

    #: Names the trainer in progress messages ("audio step 3/10 loss …").
    label = "training"

    @abstractmethod
    def batch(self, step: int) -> BatchT:
        """The batch of step ``step`` (0-based), drawn from ``(seed, step)`` alone."""

    @abstractmethod
    def loss(self, batch: BatchT) -> Update:
        """The update of ``batch`` (called right after :meth:`batch`, learning rate set)."""

    def evaluate(self, step: int) -> dict[str, Any]:
        """Validation figures after ``step`` steps ({}: nothing to validate, no ``val`` line)."""
        return {}

    def finish(self, result: LoopResult) -> dict[str, Any]:
        """Write a finished run's final files (rank 0) and return the summary (every rank)."""
        return result.summary()

    def lr_factor(self, step: int, steps: int, warmup: int) -> float:
        """The learning-rate multiplier of ``step``."""
        return warmup_cosine(step, steps, warmup)

    def after_update(self, step: int) -> None:
        """Called after each step's updates (e.g. clamp a temperature)."""

    def boundary(self, step: int) -> bool:
        """Whether to evaluate and checkpoint after ``step`` steps whatever the period."""
        return False

    def step_context(self, step: int) -> AbstractContextManager[Any]:
        """Wraps the whole of step ``step`` (e.g. seeding its dropout)."""
        return nullcontext()

    def describe(self, step: int) -> str:
        """What progress messages call step ``step``."""
        return self.label


class TrainLoop:
    """Resumes or starts the run in ``run_dir`` at construction, then runs a :class:`Task`.

    ``model`` is the bare module the checkpoint holds (not the DDP wrapper), on ``ctx.device``;
    ``resume`` continues a run folder that has a state (without it such a folder is refused).
    ``clock`` (seconds, monotonic) is replaceable for tests.
    """

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        settings: LoopSettings,
        *,
        ctx: DistributedContext,
        resume: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.model = model
        self.optimizer = optimizer
        self.settings = settings
        self.ctx = ctx
        self._clock = clock
        self.step, self._elapsed_before, meta = resume_or_start(self.run_dir, model, optimizer, resume)
        #: Whether the run continues a checkpoint (the trainer initialises only a new run).
        self.resumed = meta is not None
        self.ema: Ema | None = None
        self._log: RunLog | None = None
        self._started = clock()
        self._meta: dict[str, Any] = {}
        self._saved_at: int | None = self.step if self.resumed else None
        self._evaluated_at: int | None = None
        self._evaluation: dict[str, Any] = {}
        self._scalars: dict[str, float] = {}

    def wall(self) -> float:
        """Seconds the run folder has trained: earlier calls' plus this call's so far."""
        return self._elapsed_before + self._clock() - self._started

    def run(
        self,
        task: Task[Any],
        *,
        facts: Mapping[str, Any],
        checkpoint_meta: Mapping[str, Any] | None = None,
        max_seconds: float | None = None,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> dict[str, Any]:
        """Train until ``settings.steps``, a cancel or ``max_seconds`` (see the module doc);
        returns :meth:`Task.finish`'s summary, also logged as the ``stop`` line.

        ``facts`` go into the ``start``/``resume`` line; ``checkpoint_meta`` (JSON) into each
        ``state.json``. ``progress`` gets the fraction of ``settings.steps`` done.
        """
        self._started = self._clock()  # the time budget starts now, whatever came before
        self._meta = dict(checkpoint_meta or {})
        self._log = RunLog(self.run_dir) if self.ctx.is_main else None
        progress = progress if self.ctx.is_main else no_progress
        self._start_ema()
        self._write("resume" if self.resumed else "start", **facts)
        self.model.train()
        reason = self._train(task, max_seconds, progress, cancel)
        if reason == "finished" and self._evaluated_at != self.step:  # e.g. resumed at the end
            self._evaluate(task)
        if self._saved_at != self.step:
            self._checkpoint()
        result = LoopResult(self.step, reason, self.wall(), self._scalars, self._evaluation)
        summary = task.finish(result)
        self._write("stop", **summary)
        barrier(self.ctx)  # every rank returns once rank 0 has written the run
        return summary

    def _train(
        self,
        task: Task[Any],
        max_seconds: float | None,
        progress: ProgressCallback,
        cancel: CancelToken | None,
    ) -> StopReason:
        s = self.settings
        while self.step < s.steps:
            reason = self._stop_reason(max_seconds, cancel)
            if reason is not None:
                return reason
            described = task.describe(self.step)
            self._one_step(task)
            boundary = self.step == s.steps or task.boundary(self.step)
            if boundary or (s.eval_every is not None and self.step % s.eval_every == 0):
                self._evaluate(task)
            if boundary or self.step % s.save_every == 0:
                self._checkpoint()
            loss = self._scalars.get("loss", float("nan"))
            progress(self.step / s.steps, f"{described} step {self.step}/{s.steps} loss {loss:.4f}")
        return "finished"

    def _stop_reason(self, max_seconds: float | None, cancel: CancelToken | None) -> StopReason | None:
        flags = {
            "cancelled": float(cancel is not None and cancel.cancelled),
            "time_limit": float(max_seconds is not None and self._clock() - self._started >= max_seconds),
        }
        # One collective for both: each rank checks its own clock, all stop after the same step.
        flags = all_reduce_means(flags, self.ctx)
        if flags["cancelled"] > 0:
            return "cancelled"
        if flags["time_limit"] > 0:
            return "time_limit"
        return None

    def _one_step(self, task: Task[Any]) -> None:
        s, step = self.settings, self.step
        with task.step_context(step):
            batch = task.batch(step)
            factor = task.lr_factor(step, s.steps, s.warmup)
            for group in self.optimizer.param_groups:
                group["lr"] = s.lr * factor
            update = task.loss(batch)
            scalars = {"loss": float(update.loss.detach()), **update.scalars}
            info = dict(update.info)
            grad_norm = self._apply(update)
        task.after_update(step)
        if self.ema is not None:
            self.ema.update(self.model, step)
        self.step += 1
        self._scalars = all_reduce_means(scalars, self.ctx)  # every rank joins, every step
        if self.step % s.log_every == 0:
            norm = {} if grad_norm is None else {"grad_norm": grad_norm}
            self._write("train", lr=self.optimizer.param_groups[0]["lr"], **norm, **self._scalars, **info)

    def _apply(self, update: Update | None) -> float | None:
        """Backward and step for ``update`` and its ``then`` chain; the last gradient norm."""
        grad_norm = None
        while update is not None:
            self.optimizer.zero_grad(set_to_none=True)
            update.loss.backward()
            for parameter in update.frozen:
                parameter.grad = None
            if self.settings.grad_clip is not None:
                norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.settings.grad_clip)
                grad_norm = float(norm)
            self.optimizer.step()
            update = None if update.then is None else update.then()
        return grad_norm

    def _evaluate(self, task: Task[Any]) -> None:
        if not self.ctx.is_main:  # evaluation uses no collectives: the others go on
            return
        figures = task.evaluate(self.step)
        self._evaluated_at = self.step
        if figures:
            self._evaluation = figures
            self._write("val", **figures)

    def _checkpoint(self) -> None:
        if self.ctx.is_main:
            extra = {"elapsed": self.wall(), **self._meta}
            save_training_state(self.run_dir, self.model, self.optimizer, self.step, extra)
            if self.ema is not None:
                tensors = {k: v.detach().cpu().contiguous() for k, v in self.ema.state_dict().items()}
                atomic_write_bytes(self.run_dir / EMA_FILE, save(tensors))
        self._saved_at = self.step
        barrier(self.ctx)  # the others go on once the checkpoint is on disk

    def _start_ema(self) -> None:
        """The EMA of the model as it is now (after the trainer's initialisation), or as saved."""
        if self.settings.ema_decay is None:
            return
        self.ema = Ema(self.model, self.settings.ema_decay)
        if self.resumed:
            path = self.run_dir / EMA_FILE
            if not path.is_file():
                raise CheckpointError("cannot resume: the run's EMA weights are missing", path)
            self.ema.load_state_dict(load_file(str(path)))

    def _write(self, event: str, **fields: Any) -> None:
        if self._log is not None:
            self._log.write(event=event, step=self.step, wall=round(self.wall(), 1), **fields)
