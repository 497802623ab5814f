"""FoleyWorld's recorded palette: licences, exact onsets, recordings really played, optional.

Tests that need the Debian package sonic-pi-samples skip when it is not installed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from foleystudio.data.foleyworld import corpus_clip, corpus_licences, generate_clip, generate_corpus
from foleystudio.data.foleyworld.samples import (
    CC0,
    DEFAULT_FOLDER,
    ONSET_LEVEL,
    ROLES,
    SAMPLES,
    SampleBank,
    Voice,
    _load,
    sample_folder,
    speed_change,
)
from foleystudio.errors import DataError

COPYRIGHT = Path("/usr/share/doc/sonic-pi-samples/copyright")
SR = 16000
#: Categories whose events play a recording with the palette on, and the role they play.
RECORDED = {
    "bell_ringing": "bell",
    "door_slam": "door",
    "hammer_anvil": "anvil",
    "ball_metal": "ball_metal",
    "ball_wood": "ball_wood",
    "ball_rubber": "ball_rubber",
}
installed = pytest.mark.skipif(
    not all((sample_folder() / f).is_file() for f in SAMPLES),
    reason="the Debian package sonic-pi-samples is not installed",
)


class LoggingBank(SampleBank):
    """A bank that keeps every hit it serves, in order."""

    log: ClassVar[list[tuple[str, np.ndarray]]] = []

    def hit(self, voice: Voice, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        out = super().hit(voice, sample_rate, rng)
        LoggingBank.log.append((voice.role, out))
        return out


def one_source(category: str, use_samples: bool, seed: int = 7):
    return generate_clip(
        seed,
        duration=2.0,
        size=32,
        n_sources=1,
        categories=[category],
        ambience=False,
        offscreen=False,
        use_samples=use_samples,
    )


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    n = min(a.size, b.size)
    a, b = a[:n].astype(np.float64), b[:n].astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def test_every_role_file_has_a_cc0_licence_and_a_source() -> None:
    for role in ROLES.values():
        assert role.files and all(f in SAMPLES for f in role.files)
        lo, hi = role.pitch
        assert 0.5 < lo <= hi < 2.0 and 0 <= role.jitter < 0.1
    for name, info in SAMPLES.items():
        assert info.file == name and info.licence == CC0  # the default palette carries no obligations
        assert re.fullmatch(r"https?://(www\.)?freesound\.org/people/[^/]+/sounds/\d+/", info.source)
        assert info.author in info.source and CC0 in info.attribution


@pytest.mark.skipif(not COPYRIGHT.is_file(), reason="the Debian package sonic-pi-samples is not installed")
def test_licences_match_the_package_copyright_file_or_its_readme() -> None:
    text = COPYRIGHT.read_text()
    stanzas = {}
    for block in text.split("\n\n"):
        m = re.match(r"Files: etc/samples/(\S+)\n", block)
        if m:
            stanzas[m.group(1)] = block
    readme = (DEFAULT_FOLDER / "README.md").read_text()
    assert "Creative Commons 0" in readme.split("##")[0]  # the README puts the folder under CC0
    listed = {}  # README name without underscores → its line
    for line in readme.splitlines():
        m = re.match(r"\* `:(\w+)`", line)
        if m:
            listed[m.group(1).replace("_", "")] = line
    from_readme = 0
    for name, info in SAMPLES.items():
        if name in stanzas:
            block = stanzas[name]
            assert re.search(r"^License: CC0$", block, re.M), name
            assert re.search(r"^Source:\s*" + re.escape(info.source) + "$", block, re.M), name
            assert re.search(rf"^Copyright: {info.year} {re.escape(info.author)}", block, re.M), name
        else:  # files the Debian copyright file does not list one by one
            line = listed[Path(name).stem.replace("_", "")]
            assert info.source in line, name
            from_readme += 1
    assert 0 < from_readme < len(SAMPLES)


@installed
def test_each_recording_starts_on_its_hit() -> None:
    bank = SampleBank()
    for name in SAMPLES:
        role = next(r for r, v in ROLES.items() if name in v.files)
        x = bank._play(role, name, SR, 1.0)
        first, loudest = np.abs(x[: SR // 100]).max(), np.abs(x[: int(0.3 * SR)]).max()
        assert abs(x[0]) >= 0.8 * ONSET_LEVEL, name
        if role != "crow":  # a caw swells; it is an off-screen sound
            assert 20 * np.log10(first / loudest) > -6.0, f"{name}: a louder attack comes later"


@installed
def test_the_door_needs_its_lead_in_cut() -> None:
    """Without the skip the door's swing (a -8 dB rattle) would start 172 ms before the slam."""
    bank = SampleBank()
    raw = _load(str(bank.folder / "perc_door.flac"), SR, 0.0, None, None)
    assert 20 * np.log10(np.abs(raw[: SR // 100]).max() / np.abs(raw[: int(0.3 * SR)]).max()) < -6.0


def test_speed_change_keeps_the_onset_and_changes_the_length() -> None:
    x = np.zeros(1000, np.float32)
    x[0], x[500] = 1.0, -0.5
    fast = speed_change(x, 1.25)
    assert fast[0] == 1.0 and fast.size == 800 and np.argmin(fast) == 400
    with pytest.raises(DataError):
        speed_change(x, 0.0)


@installed
@pytest.mark.parametrize("category", sorted(RECORDED))
def test_recorded_categories_play_their_recordings_on_exact_onsets(
    category: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(corpus_clip, "SampleBank", LoggingBank)
    LoggingBank.log = []
    clip = one_source(category, True)
    src = clip.truth["sources"][0]
    stem = clip.stems["s0"]
    hits = [h for role, h in LoggingBank.log if role == RECORDED[category]]
    assert len(hits) == len(src["onset_samples"]) >= 1
    assert clip.truth["samples"] and set(clip.truth["samples"]) <= set(ROLES[RECORDED[category]].files)
    if category != "door_slam":  # a door may creak before its slam
        assert int(np.flatnonzero(stem)[0]) == src["onset_samples"][0]
    plain = one_source(category, False).stems["s0"]
    window = SR // 50  # 20 ms
    matches, controls = [], []
    for n, hit in zip(src["onset_samples"], hits, strict=True):
        matches.append(correlation(stem[n : n + window], hit[:window]))
        controls.append(correlation(plain[n : n + window], hit[:window]))
        # The hammer's recorded impact sits under the procedural ring.
        assert matches[-1] > (0.4 if category == "hammer_anvil" else 0.8), (n, matches[-1])
        # Placed 2 ms early or late the recording would not line up so well.
        shifted = correlation(stem[n + SR // 500 : n + SR // 500 + window], hit[:window])
        assert shifted < matches[-1] - 0.2, (n, shifted)
    # The synthesised stem at the same onsets does not match (a procedural rubber bounce is
    # tom-like, hence a mean and not a bound per event).
    assert np.mean(controls) < np.mean(matches) - 0.3


@installed
def test_repeats_vary_and_seeds_repeat() -> None:
    a = one_source("ball_wood", True, seed=3)
    b = one_source("ball_wood", True, seed=3)
    assert np.array_equal(a.audio, b.audio) and a.truth == b.truth
    stem, onsets = a.stems["s0"], a.truth["sources"][0]["onset_samples"]
    assert len(onsets) >= 2
    w = SR // 50
    first = stem[onsets[0] : onsets[0] + w]
    assert max(correlation(first, stem[n : n + w]) for n in onsets[1:]) < 0.99  # no two hits alike


def test_without_the_package_samples_fail_clearly_and_plain_clips_still_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = one_source("bell_ringing", False)
    monkeypatch.setenv("FOLEYSTUDIO_SONIC_PI_SAMPLES", str(tmp_path))
    with pytest.raises(DataError, match="sonic-pi-samples"):
        one_source("bell_ringing", True)
    after = one_source("bell_ringing", False)
    assert np.array_equal(before.audio, after.audio) and after.truth["samples"] == []


def test_a_partial_palette_plays_what_is_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not (DEFAULT_FOLDER / "drum_cowbell.flac").is_file():
        pytest.skip("the Debian package sonic-pi-samples is not installed")
    (tmp_path / "drum_cowbell.flac").symlink_to(DEFAULT_FOLDER / "drum_cowbell.flac")
    monkeypatch.setenv("FOLEYSTUDIO_SONIC_PI_SAMPLES", str(tmp_path))
    bank = SampleBank()
    assert bank.available == {"ball_metal"}
    with pytest.raises(DataError):
        bank.voice("bell", np.random.default_rng(0))
    assert one_source("ball_wood", True).truth["samples"] == []  # wood stays procedural
    assert one_source("ball_metal", True).truth["samples"] == ["drum_cowbell.flac"]


@installed
def test_the_corpus_index_credits_every_recording_it_used(tmp_path: Path) -> None:
    index_path = generate_corpus(
        tmp_path / "c",
        2,
        seed=5,
        duration=1.0,
        size=32,
        n_sources=1,
        categories=["ball_metal"],
        ambience=False,
        offscreen=False,
        use_samples=True,
    )
    index = json.loads(index_path.read_text())
    used = {f for clip in index["clips"] for f in clip["samples"]}
    assert used == {"drum_cowbell.flac"}
    credit = index["licences"]["samples"]["drum_cowbell.flac"]
    assert CC0 in credit and "Neotone" in credit and SAMPLES["drum_cowbell.flac"].source in credit
    assert corpus_licences(tmp_path / "c") == index["licences"]
    assert corpus_licences(tmp_path) is None
