"""Device choice, dtype policy and explicit random generators (docs/architecture.md §2.4).

``auto`` picks CUDA, then Apple MPS, then the CPU. Nothing here touches global random state:
every random draw in FoleyStudio goes through a :class:`torch.Generator` made by
:func:`make_generator`.
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from typing import Any

import torch

from foleystudio.errors import UsageError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def pick_device(name: str = "auto") -> torch.device:
    """The torch device for ``name``: ``auto`` (CUDA → MPS → CPU), ``cpu``, ``cuda``, ``cuda:N``, ``mps``.

    Raises :class:`UsageError` for an unknown name or a device this machine does not have.
    """
    name = (name or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        if not _mps_available():
            raise UsageError("device 'mps' asked for, but Apple MPS is not available on this machine")
        return torch.device("mps")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise UsageError(f"device '{name}' asked for, but CUDA is not available on this machine")
        index_text = name.partition(":")[2]
        if index_text:
            if not index_text.isdigit():
                raise UsageError(f"device '{name}': the CUDA index must be a number, as in cuda:0")
            index = int(index_text)
            if index >= torch.cuda.device_count():
                raise UsageError(
                    f"device '{name}': this machine has {torch.cuda.device_count()} CUDA device(s)"
                )
            return torch.device("cuda", index)
        return torch.device("cuda")
    raise UsageError(f"unknown device '{name}' (choose one of: {', '.join(DEVICE_CHOICES)}, cuda:N)")


def dtype_for(device: torch.device | str) -> torch.dtype:
    """The compute dtype for the network on ``device`` (used with autocast; weights stay fp32).

    CUDA: bfloat16 where the GPU supports it, else float16. MPS and CPU: float32 — MPS
    half-precision attention and FFTs are still uneven across macOS versions, and on the CPU
    reduced precision is slower, not faster.
    """
    device = torch.device(device)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def make_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A fresh generator on ``device`` seeded with ``seed`` (same seed + device → same draws)."""
    device = torch.device(device)
    generator = torch.Generator(device=device)
    generator.manual_seed(int(seed))
    return generator


def randn(
    shape: Sequence[int],
    generator: torch.Generator,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Standard normal draws from ``generator`` (drawn on its device, then moved to ``device``)."""
    sample = torch.randn(tuple(shape), generator=generator, device=generator.device, dtype=dtype)
    return sample if device is None else sample.to(device)


def rand(
    shape: Sequence[int],
    generator: torch.Generator,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Uniform [0, 1) draws from ``generator`` (drawn on its device, then moved to ``device``)."""
    sample = torch.rand(tuple(shape), generator=generator, device=generator.device, dtype=dtype)
    return sample if device is None else sample.to(device)


def describe_devices() -> dict[str, Any]:
    """What this machine offers torch: CPU, CUDA devices (name, memory, free memory, dtype) and
    MPS, plus the device ``auto`` picks and its dtype."""
    info: dict[str, Any] = {
        "cpu": {
            "available": True,
            "processor": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads(),
        },
        # torch.version.cuda is None in a CPU-only build of torch.
        "cuda": {"available": torch.cuda.is_available(), "built_with": torch.version.cuda, "devices": []},
        "mps": {"available": _mps_available()},
    }
    if torch.cuda.is_available():
        info["cuda"]["version"] = torch.version.cuda
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            try:
                free = torch.cuda.mem_get_info(index)[0]
            except RuntimeError:  # a busy or faulty device still gets a line in the report
                free = None
            info["cuda"]["devices"].append(
                {
                    "index": index,
                    "name": props.name,
                    "memory_gib": round(props.total_memory / 2**30, 2),
                    "free_gib": None if free is None else round(free / 2**30, 2),
                    "bf16": torch.cuda.is_bf16_supported(),
                    "dtype": str(dtype_for(torch.device("cuda", index))).removeprefix("torch."),
                }
            )
    info["cpu"]["dtype"] = str(dtype_for("cpu")).removeprefix("torch.")
    info["mps"]["dtype"] = str(dtype_for("cpu")).removeprefix("torch.")  # MPS computes in float32 too
    auto = pick_device("auto")
    info["auto"] = str(auto)
    info["dtype"] = str(dtype_for(auto)).removeprefix("torch.")
    return info
