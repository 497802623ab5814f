"""Multi-process training helpers: the single-process fallback, row sharding, and a real
two-process torchrun (Gloo, CPU) run checked against one process with the global batch."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist

from foleystudio.errors import UsageError
from foleystudio.train.distributed import (
    TORCHRUN_VARIABLES,
    DistributedContext,
    all_reduce_mean,
    all_reduce_means,
    any_rank,
    barrier,
    cleanup,
    init_distributed,
    local_batch_size,
    main_first,
    rank_generator,
    shard_rows,
    single_process_context,
    unwrap,
    wrap_model,
)
from tests.unit import distributed_worker

CPU = torch.device("cpu")


def _ctx(rank: int, world: int) -> DistributedContext:
    return DistributedContext(rank=rank, world_size=world, local_rank=rank, device=CPU)


@pytest.fixture
def no_torchrun_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in TORCHRUN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_single_process_without_torchrun_variables(no_torchrun_env: pytest.MonkeyPatch) -> None:
    ctx = init_distributed("cpu")
    assert (ctx.rank, ctx.world_size, ctx.local_rank, ctx.device) == (0, 1, 0, CPU)
    assert ctx.is_main and not ctx.distributed
    assert not dist.is_initialized()
    model = torch.nn.Linear(2, 2)
    assert wrap_model(model, ctx) is model and unwrap(model) is model
    assert all_reduce_mean(1.5, ctx) == 1.5
    assert all_reduce_means({"a": 1.0, "b": 2.0}, ctx) == {"a": 1.0, "b": 2.0}
    assert any_rank(True, ctx) and not any_rank(False, ctx)
    with main_first(ctx):
        barrier(ctx)
    cleanup(ctx)
    assert not dist.is_initialized()


def test_world_size_one_creates_no_process_group(no_torchrun_env: pytest.MonkeyPatch) -> None:
    no_torchrun_env.setenv("WORLD_SIZE", "1")
    no_torchrun_env.setenv("RANK", "0")
    assert init_distributed("cpu") == single_process_context("cpu")
    assert not dist.is_initialized()


@pytest.mark.parametrize(
    ("changes", "device", "message"),
    [
        ({"LOCAL_RANK": None, "MASTER_PORT": None}, "cpu", "but not LOCAL_RANK, MASTER_PORT"),
        ({"WORLD_SIZE": "two"}, "cpu", "not a whole number"),
        ({"RANK": "2"}, "cpu", "RANK 2 is outside"),
        ({}, "mps", "Apple MPS"),
        ({}, "cuda:1", "LOCAL_RANK"),
        ({}, "tpu", "unknown device"),
    ],
)
def test_bad_torchrun_setups_are_usage_errors(
    no_torchrun_env: pytest.MonkeyPatch, changes: dict[str, str | None], device: str, message: str
) -> None:
    env = {"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "1"}
    for name, value in {**env, **changes}.items():
        if value is not None:
            no_torchrun_env.setenv(name, value)
    with pytest.raises(UsageError, match=message):
        init_distributed(device)
    assert not dist.is_initialized()


@pytest.mark.parametrize("world", [1, 2, 3, 4])
def test_shard_rows_partitions_the_global_batch(world: int) -> None:
    rows = torch.randint(100, (12,), generator=torch.Generator().manual_seed(3))
    shards = [shard_rows(rows, _ctx(r, world)) for r in range(world)]
    assert all(len(s) == 12 // world for s in shards)
    assert torch.equal(torch.cat(shards), rows)  # disjoint slices, in rank order, covering all
    # Arrays and lists shard the same way.
    assert np.array_equal(
        np.concatenate([shard_rows(rows.numpy(), _ctx(r, world)) for r in range(world)]), rows
    )
    assert sum((shard_rows(rows.tolist(), _ctx(r, world)) for r in range(world)), []) == rows.tolist()


def test_uneven_batches_are_refused_or_trimmed() -> None:
    rows = list(range(10))
    with pytest.raises(UsageError, match="multiple of 4"):
        shard_rows(rows, _ctx(0, 4))
    with pytest.raises(UsageError, match="multiple of 4"):
        local_batch_size(2, _ctx(0, 4))
    assert [shard_rows(rows, _ctx(r, 4), drop_remainder=True) for r in range(4)] == [
        [0, 1],
        [2, 3],
        [4, 5],
        [6, 7],
    ]
    assert local_batch_size(8, _ctx(3, 4)) == 2


def test_rank_generator_differs_by_rank_and_repeats() -> None:
    shared = torch.Generator().manual_seed(5)
    assert rank_generator(shared, _ctx(0, 1)) is shared

    def draws(rank: int) -> torch.Tensor:
        return torch.rand(4, generator=rank_generator(torch.Generator().manual_seed(5), _ctx(rank, 2)))

    assert torch.equal(draws(0), draws(0))
    assert not torch.equal(draws(0), draws(1))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_process_torchrun_matches_one_process_with_the_global_batch(tmp_path: Path) -> None:
    steps, stop_at = 6, 4  # rank 1 alone asks to stop after 4 steps; both must stop there
    env = {k: v for k, v in os.environ.items() if k not in TORCHRUN_VARIABLES}
    env["OMP_NUM_THREADS"] = "1"
    out = tmp_path / "ddp"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes",
        "1",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(_free_port()),
        distributed_worker.__file__,
        str(out),
        str(steps),
        str(stop_at),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["final.json", "rank0.json", "rank1.json"]
    final = json.loads((out / "final.json").read_text())
    assert final["writer_rank"] == 0 and final["world_size"] == 2
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]

    single = distributed_worker.run(single_process_context("cpu"), tmp_path / "single", stop_at, None)
    reg = [r["regression"] for r in ranks]
    assert reg[0]["steps"] == reg[1]["steps"] == single["regression"]["steps"] == stop_at
    for step in range(stop_at):  # each rank trained on its half of the same global batch
        assert reg[0]["rows"][step] + reg[1]["rows"][step] == single["regression"]["rows"][step]
    for part in ("regression", "contrastive"):
        for rank in ranks:
            np.testing.assert_allclose(rank[part]["losses"], single[part]["losses"], rtol=1e-5, atol=1e-6)
            for name, value in single[part]["weights"].items():
                np.testing.assert_allclose(
                    rank[part]["weights"][name], value, rtol=0, atol=1e-6, err_msg=name
                )
    # Training moved the weights, so the comparison above is not between two initialisations.
    for part in ("regression", "contrastive"):
        start, end = single[part]["start"], single[part]["weights"]
        assert max(np.abs(np.subtract(end[k], start[k])).max() for k in start) > 0.05
