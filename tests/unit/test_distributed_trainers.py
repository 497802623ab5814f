"""The CLIP and audio-encoder trainers under a real two-process torchrun (Gloo, CPU), and
their refusal of a global batch that does not split over the ranks."""

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
from safetensors.torch import load_file

from foleystudio.cli import main
from foleystudio.data.datasets import scan_folder
from foleystudio.data.foleyworld import generate_corpus
from foleystudio.errors import UsageError
from foleystudio.ml.encoders.audio import AudioEncoder
from foleystudio.ml.encoders.clip_encoder import ClipEncoder, ClipEncoderConfig
from foleystudio.train.audio import AudioTrainSettings, train_audio_encoder
from foleystudio.train.clip_encoder import ClipTrainSettings, train_clip
from foleystudio.train.distributed import TORCHRUN_VARIABLES, DistributedContext
from tests.unit import distributed_trainer_worker

# Rank 1 of two: the batch check comes before any collective, so no process group is needed.
RANK_1_OF_2 = DistributedContext(rank=1, world_size=2, local_rank=1, device=torch.device("cpu"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 clips of 2 s: 5 training stems with 4 distinct texts, and validation clips."""
    out = tmp_path_factory.mktemp("fw")
    generate_corpus(out, 4, seed=11, duration=2.0, size=64, split_fractions=(0.5, 0.5, 0.0))
    return out


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _torchrun_cli(record_dir: Path, args: list[str]) -> str:
    """Run ``foleystudio <args>`` on two ranks; returns what the ranks printed on stdout."""
    env = {k: v for k, v in os.environ.items() if k not in TORCHRUN_VARIABLES}
    env["OMP_NUM_THREADS"] = "1"
    command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2"]
    command += ["--master_addr", "127.0.0.1", "--master_port", str(_free_port())]
    command += [distributed_trainer_worker.__file__, str(record_dir), *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _writes(record_dir: Path, rank: int) -> list[str]:
    path = record_dir / f"writes_rank{rank}.txt"
    return path.read_text().splitlines() if path.is_file() else []


def _events(run: Path) -> list[str]:
    return [json.loads(line)["event"] for line in (run / "log.jsonl").read_text().splitlines()]


def _max_change(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> float:
    assert before.keys() == after.keys()
    for name, value in after.items():
        assert torch.isfinite(value).all(), name
    return max(float((after[k].float() - before[k].float()).abs().max()) for k in after)


def test_a_batch_that_does_not_split_over_the_ranks_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="multiple of 2"):
        train_clip([], tmp_path / "clip", ClipTrainSettings(batch_size=7), ctx=RANK_1_OF_2)
    with pytest.raises(UsageError, match="multiple of 2"):
        train_audio_encoder(
            [], tmp_path / "audio", tmp_path / "clip", AudioTrainSettings(batch_size=5), ctx=RANK_1_OF_2
        )
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_clip_and_audio_train_under_two_process_torchrun(corpus: Path, tmp_path: Path) -> None:
    clip_run, audio_run, records = tmp_path / "clip", tmp_path / "audio", tmp_path / "writes"
    clip_args = ["train", "clip", "--data", str(corpus), "--out", str(clip_run)]
    clip_args += ["--config", "fw-clip-debug", "--steps", "3", "--batch", "8", "--device", "cpu"]
    printed = _torchrun_cli(records / "clip", clip_args)
    assert printed.count('"steps": 3') == 1  # rank 0 alone printed the summary
    assert _writes(records / "clip", 1) == []  # rank 1 wrote nothing
    clip_writes = _writes(records / "clip", 0)
    assert {"save_training_state clip", "atomic_write_bytes clip_config.json"} <= set(clip_writes)
    assert _events(clip_run) == ["start", "val", "stop"]  # one writer: each event once

    start = ClipEncoder.from_config(ClipEncoderConfig("fw-clip-debug"), seed=0).model.state_dict()
    trained = load_file(str(clip_run / "clip.safetensors"))
    change = _max_change(start, trained)
    assert change > 1e-5  # 3 steps of warm-up: the learning rate is still 5e-6 … 1.5e-5

    # The same run in one process with the global batch: DDP's gradient is that batch's, so
    # the weights agree up to float summation order. Not the attention's key bias: softmax
    # ignores it, its true gradient is 0, and Adam turns the float noise into ±lr steps.
    single = tmp_path / "clip_single"
    assert main([*clip_args[:4], "--out", str(single), *clip_args[6:]]) == 0
    reference = load_file(str(single / "clip.safetensors"))
    for name, value in trained.items():
        diff = (value - reference[name]).abs()
        if name.endswith("attn.in_proj_bias"):
            third = len(diff) // 3
            diff = torch.cat([diff[:third], diff[2 * third :]])  # query and value parts
        assert float(diff.max()) < 1e-6, name

    audio_args = ["train", "audio", "--data", str(corpus), "--clip", str(clip_run), "--out", str(audio_run)]
    audio_args += ["--config", "fw-audio-debug", "--steps", "3", "--batch", "4", "--device", "cpu"]
    printed = _torchrun_cli(records / "audio", audio_args)
    summary = json.loads(printed[printed.index("{") :])  # rank 0's summary, alone on stdout
    assert summary["steps"] == 3 and summary["finished"] and np.isfinite(summary["final_loss"])
    assert _writes(records / "audio", 1) == []
    assert {"save_training_state audio", "atomic_write_bytes audio_config.json"} <= set(
        _writes(records / "audio", 0)
    )
    assert _events(audio_run) == ["start", "val", "stop"]  # the last step is validated
    for name in ("audio.safetensors", "classifier.safetensors", "state.safetensors"):
        assert (audio_run / name).is_file(), name
    start = AudioEncoder.create("fw-audio-debug", "cpu", seed=0).state_dict()
    assert _max_change(start, load_file(str(audio_run / "audio.safetensors"))) > 1e-5
    assert len(scan_folder(corpus)) == 4  # the data folder was only read
