"""Training in a single process and in several processes launched by ``torchrun``.

``train/loop.py`` follows these rules for every trainer; a trainer's batch and loss follow the
first one.

Launch: ``torchrun --nproc_per_node N -m foleystudio train ...`` starts N processes ("ranks")
and gives each ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``.
:func:`init_distributed` reads them, joins the process group (NCCL on CUDA, one GPU per
process chosen by ``LOCAL_RANK``; Gloo on the CPU) and returns a :class:`DistributedContext`.
Without those variables it returns a one-process context and creates no process group, so
the same trainer code runs unchanged as a plain single process.

The rules a trainer follows:

* **Same global batch, disjoint shares.** Every rank draws the *global* batch rows from the
  same seeded generator (same seed, same step), then trains on its own contiguous slice
  (:func:`shard_rows`). DistributedDataParallel (:func:`wrap_model`) averages the gradients
  over ranks, so when the loss is a mean over rows of per-row terms that depend only on
  their row, N ranks compute the gradient of the global batch's mean loss: the weights match
  a single process trained with the global batch up to float summation order. Per-row
  randomness (noise, flow times, crops) must not repeat across ranks: draw it from
  :func:`rank_generator`, which makes runs reproducible for a given N, not identical
  across different N. Contrastive losses need every rank's features: :func:`contrastive_loss`.
* **Collectives are called by every rank, in the same order** (:func:`all_reduce_mean`,
  :func:`any_rank`, :func:`barrier`, and each DDP forward/backward). A rank that skips one
  blocks the others until the process group's timeout. In particular, stopping early (time
  limit, cancel) is decided together with :func:`any_rank`.
* **Only the main rank (rank 0, ``ctx.is_main``) writes**: the run log, checkpoints, bundles,
  progress output. Every rank reads (resume loads the checkpoint on all ranks).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from foleystudio.errors import UsageError
from foleystudio.ml.device import pick_device

# Environment variables torchrun sets for every process it starts.
TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")

RowsT = TypeVar("RowsT", torch.Tensor, np.ndarray, list)


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands among the ranks of a run (one rank when not under torchrun).

    ``rank``: 0 … ``world_size`` − 1 across all machines; ``local_rank``: index on this
    machine (the CUDA device it uses); ``device``: the torch device this rank trains on.
    """

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Whether this rank writes logs, checkpoints and progress (rank 0)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """Whether there is more than one rank (a process group exists)."""
        return self.world_size > 1


def single_process_context(device: str | torch.device = "auto") -> DistributedContext:
    """The context of a plain single-process run on ``device`` (a torch device, or a
    :func:`pick_device` name)."""
    picked = device if isinstance(device, torch.device) else pick_device(device)
    return DistributedContext(rank=0, world_size=1, local_rank=0, device=picked)


def _env_int(name: str) -> int:
    text = os.environ.get(name, "")
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"environment variable {name}={text!r} is not a whole number") from None


def _rank_device(name: str, local_rank: int) -> torch.device:
    """The device of the process with ``local_rank``: one CUDA device per process, or the CPU."""
    name = (name or "auto").strip().lower()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        raise UsageError("multi-process training does not run on Apple MPS; use --device cpu")
    if name.startswith("cuda:"):
        raise UsageError(
            f"device '{name}': under torchrun each process uses the GPU of its LOCAL_RANK; pass "
            "--device cuda and choose GPUs with CUDA_VISIBLE_DEVICES"
        )
    if name == "cuda":
        pick_device("cuda")  # the clear error when CUDA is missing
        if local_rank >= torch.cuda.device_count():
            raise UsageError(
                f"LOCAL_RANK {local_rank} needs a GPU of its own, but this machine has "
                f"{torch.cuda.device_count()}; start at most that many processes per machine"
            )
        return torch.device("cuda", local_rank)
    return pick_device(name)  # raises the error for an unknown name


def init_distributed(device: str = "auto", *, timeout_s: float = 3600.0) -> DistributedContext:
    """Join the process group torchrun set up, or return a single-process context.

    ``device`` is a :func:`~foleystudio.ml.device.pick_device` name; under torchrun ``auto`` and
    ``cuda`` mean ``cuda:LOCAL_RANK`` (backend NCCL), ``cpu`` means Gloo. ``timeout_s``
    (seconds) is how long a collective waits for the other ranks: long, because rank 0 may
    build a feature cache while the others wait in :func:`main_first`. Without ``WORLD_SIZE``
    in the environment, or with ``WORLD_SIZE=1``, no process group is created. Raises
    :class:`UsageError` for incomplete torchrun variables or a device DDP cannot use.
    """
    if "WORLD_SIZE" not in os.environ:
        return single_process_context(device)
    world_size = _env_int("WORLD_SIZE")
    if world_size < 1:
        raise UsageError(f"WORLD_SIZE must be at least 1, got {world_size}")
    if world_size == 1:
        return single_process_context(device)
    missing = [name for name in TORCHRUN_VARIABLES if not os.environ.get(name)]
    if missing:
        raise UsageError(f"WORLD_SIZE={world_size} is set but not {', '.join(missing)}; launch with torchrun")
    rank, local_rank = _env_int("RANK"), _env_int("LOCAL_RANK")
    if not 0 <= rank < world_size:
        raise UsageError(f"RANK {rank} is outside 0..{world_size - 1}")
    if not dist.is_available():
        raise UsageError("this PyTorch build has no torch.distributed; train in a single process")
    dev = _rank_device(device, local_rank)
    ctx = DistributedContext(rank=rank, world_size=world_size, local_rank=local_rank, device=dev)
    if dist.is_initialized():  # a second trainer in the same process reuses the group
        if dist.get_world_size() != world_size or dist.get_rank() != rank:
            raise UsageError("a process group of another shape is already running in this process")
        return ctx
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
        dist.init_process_group(
            "nccl", rank=rank, world_size=world_size, timeout=timedelta(seconds=timeout_s), device_id=dev
        )
    else:
        dist.init_process_group(
            "gloo", rank=rank, world_size=world_size, timeout=timedelta(seconds=timeout_s)
        )
    return ctx


def cleanup(ctx: DistributedContext) -> None:
    """Leave the process group (call once at the end of the run, on every rank)."""
    if ctx.distributed and dist.is_initialized():
        # Drop the run's DDP wrappers first (their reducers hold communication work):
        # destroying the group under them could abort a rank at exit over Gloo ("terminate
        # called without an active exception").
        gc.collect()
        dist.destroy_process_group()


class _ForwardAdapter(torch.nn.Module):
    """Makes ``fn(module, *args)`` the forward pass, so DDP sees calls to any method of ``module``."""

    def __init__(self, module: torch.nn.Module, fn: Callable[..., Any]) -> None:
        super().__init__()
        self.module = module
        self.fn = fn

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(self.module, *args, **kwargs)


def wrap_model(
    model: torch.nn.Module,
    ctx: DistributedContext,
    *,
    forward: Callable[..., Any] | None = None,
    find_unused_parameters: bool = False,
) -> torch.nn.Module:
    """The module to call in the training step: DDP around ``model`` when there are several ranks.

    Gradients are averaged over ranks only for computations that go through the returned
    module's ``__call__``; calling other methods of ``model`` directly would skip the
    averaging silently. ``forward(model, *args, **kwargs)``, when given, becomes the
    forward pass (e.g. ``lambda m, px, tok: (m.encode_image(px), m.encode_text(tok))``),
    with one rank or many. ``find_unused_parameters`` must be True when some parameters get
    no gradient in a step (Flowley without ``mix``/``ref_audio`` conditions). ``model`` must
    already be on ``ctx.device``; with one rank and no ``forward`` it is returned as is.
    Keep using ``model`` itself (:func:`unwrap`) for EMA, checkpoints and evaluation.
    """
    module = model if forward is None else _ForwardAdapter(model, forward)
    if not ctx.distributed:
        return module
    device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return DistributedDataParallel(
        module, device_ids=device_ids, find_unused_parameters=find_unused_parameters
    )


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside what :func:`wrap_model` returned (the model itself if not wrapped)."""
    while isinstance(model, (DistributedDataParallel, _ForwardAdapter)):
        model = model.module
    return model


def local_batch_size(global_batch: int, ctx: DistributedContext) -> int:
    """Rows per rank of a global batch; raises :class:`UsageError` unless it splits evenly."""
    if global_batch < ctx.world_size or global_batch % ctx.world_size:
        raise UsageError(
            f"a batch of {global_batch} rows does not split evenly over {ctx.world_size} processes; "
            f"use a batch size that is a multiple of {ctx.world_size}"
        )
    return global_batch // ctx.world_size


def shard_rows(rows: RowsT, ctx: DistributedContext, *, drop_remainder: bool = False) -> RowsT:
    """This rank's contiguous slice of the global batch ``rows`` (tensor, array or list).

    Rank r takes rows ``[r·k, (r+1)·k)`` with ``k = len(rows) / world_size``; the slices are
    disjoint, of equal size (so DDP's equal-weight gradient average is the global mean) and,
    concatenated in rank order, give ``rows`` back (the order in which gathered features line
    up). A length that does not split evenly raises :class:`UsageError`, or with
    ``drop_remainder`` loses its last ``len(rows) % world_size`` rows on every rank.
    """
    n = len(rows)
    if drop_remainder and n >= ctx.world_size:
        n -= n % ctx.world_size
    k = local_batch_size(n, ctx)
    return rows[ctx.rank * k : (ctx.rank + 1) * k]


def _splitmix64(value: int) -> int:
    """A 64-bit mixing function: nearby inputs give unrelated outputs (seeds per rank)."""
    mask = (1 << 64) - 1
    z = (value + 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return z ^ (z >> 31)


def rank_generator(shared: torch.Generator, ctx: DistributedContext) -> torch.Generator:
    """A generator for this rank's per-row randomness, derived from the step's ``shared`` one.

    With one rank it is ``shared`` itself, so single-process runs keep their exact random
    streams. With several, one draw from ``shared`` (the same on every rank) is mixed with the
    rank into a fresh seed on ``shared``'s device: ranks get different noise for their
    different rows, and a rerun with the same number of ranks repeats it.
    """
    if not ctx.distributed:
        return shared
    base = int(torch.randint(0, 1 << 62, (1,), generator=shared, device=shared.device))
    seed = _splitmix64(base ^ _splitmix64(ctx.rank)) & ((1 << 63) - 1)
    generator = torch.Generator(device=shared.device)
    generator.manual_seed(seed)
    return generator


def all_reduce_mean(value: float, ctx: DistributedContext) -> float:
    """Mean of ``value`` over ranks (e.g. the step loss, for the log). Every rank must call it."""
    if not ctx.distributed:
        return float(value)
    return all_reduce_means({"value": value}, ctx)["value"]


def all_reduce_means(values: Mapping[str, float], ctx: DistributedContext) -> dict[str, float]:
    """Mean over ranks of each entry, in one collective; every rank passes the same keys."""
    if not ctx.distributed:
        return {key: float(v) for key, v in values.items()}
    keys = sorted(values)  # the same order on every rank, whatever the insertion order
    tensor = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=ctx.device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return {key: float(v) / ctx.world_size for key, v in zip(keys, tensor.tolist(), strict=True)}


def any_rank(flag: bool, ctx: DistributedContext) -> bool:
    """Whether ``flag`` is True on at least one rank; every rank must call it.

    Use it for stopping early (time limit, cancel): each rank checks its own clock, and all
    stop after the same step instead of some waiting forever in the next gradient exchange.
    """
    if not ctx.distributed:
        return bool(flag)
    tensor = torch.tensor([1 if flag else 0], dtype=torch.int32, device=ctx.device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item())


def barrier(ctx: DistributedContext) -> None:
    """Wait until every rank gets here (no-op with one rank)."""
    if not ctx.distributed:
        return
    if ctx.device.type == "cuda":
        dist.barrier(device_ids=[ctx.device.index])
    else:
        dist.barrier()


@contextmanager
def main_first(ctx: DistributedContext) -> Iterator[None]:
    """Run the block on rank 0 first, then on the others (e.g. build a cache once, then reuse).

    The block must be safe to run after rank 0 ran it (check whether the file exists). If rank
    0 fails inside it, torchrun stops the waiting ranks.
    """
    if not ctx.is_main:
        barrier(ctx)
    yield
    if ctx.is_main:
        barrier(ctx)


def contrastive_loss(ctx: DistributedContext) -> torch.nn.Module:
    """open_clip's CLIP loss for this run: with several ranks it gathers every rank's features.

    Rank r scores its own rows against the whole global batch (``local_loss``) and the
    gathered features keep their gradient (``gather_with_grad``); with DDP's average this is
    the gradient of the single-process loss on the global batch (rows in :func:`shard_rows`
    order), and the loss value each rank returns is its share (average it for the log).
    """
    import open_clip

    if not ctx.distributed:
        return open_clip.ClipLoss()
    return open_clip.ClipLoss(
        local_loss=True, gather_with_grad=True, rank=ctx.rank, world_size=ctx.world_size
    )
