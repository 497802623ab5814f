"""Tiny training runs for tests/unit/test_distributed.py, in-process or under torchrun.

``python -m torch.distributed.run --nproc_per_node 2 distributed_worker.py OUT STEPS STOP_AT``
runs :func:`train_regression` and :func:`train_contrastive` on every rank. Rank 0 writes
``OUT/final.json`` (created exclusively, so a second writer would fail the run); every rank
also writes ``OUT/rank<r>.json`` (what it trained on and its final weights) for the test.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from foleystudio.train.distributed import (
    DistributedContext,
    all_reduce_mean,
    any_rank,
    barrier,
    cleanup,
    contrastive_loss,
    init_distributed,
    shard_rows,
    unwrap,
    wrap_model,
)

GLOBAL_BATCH = 8


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(7)
    x = torch.randn(64, 5, generator=g)
    y = x @ torch.randn(5, 3, generator=g) + 0.1 * torch.randn(64, 3, generator=g)
    return x, y


def _weights(model: torch.nn.Module) -> dict[str, list]:
    return {k: v.detach().cpu().tolist() for k, v in model.state_dict().items()}


def train_regression(ctx: DistributedContext, steps: int, stop_at: int | None = None) -> dict[str, Any]:
    """Linear least squares with AdamW; rank 1 alone asks to stop at ``stop_at`` (a local clock)."""
    x, y = _data()
    torch.manual_seed(0)
    model = torch.nn.Linear(5, 3).to(ctx.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.05, weight_decay=0.01)
    start = _weights(model)
    net = wrap_model(model, ctx)
    losses, seen, step = [], [], 0
    while step < steps:
        wants_stop = stop_at is not None and ctx.rank == min(1, ctx.world_size - 1) and step >= stop_at
        if any_rank(wants_stop, ctx):
            break
        gen = torch.Generator().manual_seed(1000 + step)
        rows = shard_rows(torch.randint(len(x), (GLOBAL_BATCH,), generator=gen), ctx)
        loss = F.mse_loss(net(x[rows].to(ctx.device)), y[rows].to(ctx.device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(all_reduce_mean(loss.item(), ctx))
        seen.append(rows.tolist())
        step += 1
    return {"steps": step, "losses": losses, "rows": seen, "start": start, "weights": _weights(unwrap(net))}


class TwoTowers(torch.nn.Module):
    """A toy CLIP: two linear towers and a learned logit scale."""

    def __init__(self) -> None:
        super().__init__()
        self.image = torch.nn.Linear(6, 4)
        self.text = torch.nn.Linear(5, 4)
        self.logit_scale = torch.nn.Parameter(torch.tensor(2.0))

    def encode_image(self, a: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.image(a), dim=-1)

    def encode_text(self, b: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.text(b), dim=-1)


def train_contrastive(ctx: DistributedContext, steps: int) -> dict[str, Any]:
    """CLIP loss on paired toy features; the towers are called through ``forward=``."""
    g = torch.Generator().manual_seed(11)
    images, texts = torch.randn(32, 6, generator=g), torch.randn(32, 5, generator=g)
    torch.manual_seed(1)
    model = TwoTowers().to(ctx.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.05)
    start = _weights(model)
    net = wrap_model(
        model, ctx, forward=lambda m, a, b: (m.encode_image(a), m.encode_text(b), m.logit_scale.exp())
    )
    loss_fn = contrastive_loss(ctx)
    losses = []
    for step in range(steps):
        gen = torch.Generator().manual_seed(2000 + step)
        rows = shard_rows(torch.randperm(len(images), generator=gen)[:GLOBAL_BATCH], ctx)
        loss = loss_fn(*net(images[rows].to(ctx.device), texts[rows].to(ctx.device)))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(all_reduce_mean(loss.item(), ctx))
    return {"losses": losses, "start": start, "weights": _weights(unwrap(net))}


def run(ctx: DistributedContext, out_dir: Path, steps: int, stop_at: int | None) -> dict[str, Any]:
    """Both runs; the main rank writes ``final.json``, every rank ``rank<r>.json``."""
    result = {
        "rank": ctx.rank,
        "world_size": ctx.world_size,
        "regression": train_regression(ctx, steps, stop_at),
    }
    result["contrastive"] = train_contrastive(ctx, result["regression"]["steps"])
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"rank{ctx.rank}.json").write_text(json.dumps(result))
    if ctx.is_main:
        with open(out_dir / "final.json", "x") as fh:  # "x": a second writer would raise
            json.dump({"writer_rank": ctx.rank, **result}, fh)
    barrier(ctx)
    return result


if __name__ == "__main__":
    context = init_distributed("cpu")
    try:
        run(context, Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else None)
    finally:
        cleanup(context)
