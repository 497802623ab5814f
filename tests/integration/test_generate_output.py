"""What `foleystudio generate` leaves on disk: levels with headroom (never hard-clipped), the
output location checked before any work, and all-or-nothing writing (issue 18, items 1–3)."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from foleystudio.cli import main
from foleystudio.core.boxes import Box, BoxKeyframe
from foleystudio.core.levels import CEILING_DBTP, true_peak_dbtp
from foleystudio.core.requests import GenerationRequest
from foleystudio.core.settings import GenerationSettings
from foleystudio.core.sources import ObjectSource
from foleystudio.ml.codec import MelCodec
from foleystudio.ml.engine import GenerationEngine


def longest_run_at_full_scale(audio: np.ndarray, threshold: float = 0.999) -> int:
    """The longest run of consecutive samples with |x| ≥ threshold (a hard clip's flat top)."""
    hot = np.concatenate([[0], (np.abs(audio) >= threshold).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(hot))
    return int((edges[1::2] - edges[::2]).max()) if len(edges) else 0


@pytest.fixture
def loud_model(monkeypatch: pytest.MonkeyPatch) -> float:
    """The untrained debug model decodes at about −40 dBFS; the bundled model's raw output
    peaks well above full scale (+1…+6 dBFS). Make the debug codec as loud (×300), so the
    level policy has something to do. Returns the gain."""
    gain = 300.0
    decode = MelCodec.decode
    monkeypatch.setattr(MelCodec, "decode", lambda self, tokens: decode(self, tokens) * gain)
    return gain


def generate_args(video: Path, bundle: Path, *extra: str) -> list[str]:
    return ["generate", str(video), "--model", str(bundle), "--steps", "3", "--end", "2.5", *extra]


def assert_no_staging_left(folder: Path) -> None:
    leftovers = [p.name for p in folder.rglob(".foleystudio-*")]
    assert not leftovers, leftovers


# --- 1. level ------------------------------------------------------------------------------
def test_generated_candidates_have_headroom_and_are_never_hard_clipped(
    loud_model, debug_bundle, long_video, tmp_path
):
    out = tmp_path / "out"
    args = generate_args(long_video, debug_bundle, "--candidates", "3", "--seed", "2", "--no-video")
    assert main([*args, "-o", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    assert len(result["candidates"]) == 3
    for entry in result["candidates"]:
        audio, _ = sf.read(out / entry["file"], dtype="float32")
        assert longest_run_at_full_scale(audio) < 3, entry["file"]
        assert true_peak_dbtp(audio) == pytest.approx(CEILING_DBTP, abs=0.1), entry["file"]
        assert 20 * np.log10(np.abs(audio).max()) <= CEILING_DBTP + 0.01  # sample peak too


def test_stems_of_a_seed_keep_their_balance_and_sum_to_the_mix(loud_model, debug_bundle, long_video):
    engine = GenerationEngine("cpu")
    left = ObjectSource("a", "left thing", (BoxKeyframe(0, Box(0, 0, 0.5, 1)),))
    right = ObjectSource("b", "right thing", (BoxKeyframe(0, Box(0.5, 0, 0.5, 1)),))
    base = GenerationRequest(
        str(long_video),
        end=3.0,
        sources=(left, right),
        settings=GenerationSettings(model=str(debug_bundle), steps=3),
    )
    stems = engine.generate(base.replace(per_source=True))
    (mix,) = engine.generate(base)
    np.testing.assert_allclose(mix.audio, sum(c.audio for c in stems), atol=1e-4)
    peaks = [true_peak_dbtp(c.audio) for c in (*stems, mix)]
    assert max(peaks) == pytest.approx(CEILING_DBTP, abs=0.1) and all(p <= CEILING_DBTP + 0.01 for p in peaks)


# --- 2. the output location, checked before any work ----------------------------------------
@pytest.fixture
def no_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail loudly if the command gets as far as creating an engine."""

    def refuse(*args, **kwargs):
        raise AssertionError("the engine was created before the output location was checked")

    monkeypatch.setattr("foleystudio.ml.engine.GenerationEngine", refuse)


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_output_that_is_a_file_is_refused_before_any_work(
    no_engine, debug_bundle, long_video, tmp_path, capsys
):
    existing = tmp_path / "notes.txt"
    existing.write_text("mine")
    assert main([*generate_args(long_video, debug_bundle), "-o", str(existing)]) == 2
    line = one_error_line(capsys)
    assert str(existing) in line and "not a folder" in line
    assert existing.read_text() == "mine"
    # A folder below a file cannot be created either.
    assert main([*generate_args(long_video, debug_bundle), "-o", str(existing / "sub")]) == 2
    line = one_error_line(capsys)
    assert str(existing / "sub") in line and "not a folder" in line


def test_read_only_output_is_refused_before_any_work(no_engine, debug_bundle, long_video, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip(
                "a 0o555 folder is still writable here (running as root, or a file system that "
                "ignores permissions), so a read-only output folder cannot be made"
            )
        for out in (locked, locked / "new"):
            assert main([*generate_args(long_video, debug_bundle), "-o", str(out)]) == 2
            line = one_error_line(capsys)
            assert str(out) in line and "Permission denied" in line
        assert not any(locked.iterdir())
    finally:
        locked.chmod(0o755)


# --- 3. all or nothing ----------------------------------------------------------------------
def test_a_full_disk_leaves_no_partial_files(debug_bundle, long_video, tmp_path, capsys, monkeypatch):
    # The disk fills up while the second candidate's WAV is written: its fsync (where a full
    # disk shows up at the latest) fails with ENOSPC. Directories' fsyncs are not counted.
    real_fsync = os.fsync
    files_synced = []

    def fsync(fd: int) -> None:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            files_synced.append(fd)
            if len(files_synced) == 2:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("already here")
    monkeypatch.setattr(os, "fsync", fsync)
    args = generate_args(long_video, debug_bundle, "--candidates", "3", "--no-video")
    assert main([*args, "-o", str(out)]) == 2
    line = one_error_line(capsys)
    assert str(out) in line and "No space left on device" in line
    assert len(files_synced) == 2
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]  # the folder as it was
    assert_no_staging_left(tmp_path)
    # A folder the run would have created is not left behind either.
    files_synced.clear()
    assert main([*args, "-o", str(tmp_path / "new")]) == 2
    assert "No space left on device" in one_error_line(capsys)
    assert not (tmp_path / "new").exists()
    assert_no_staging_left(tmp_path)
