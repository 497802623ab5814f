"""FoleyWorld: determinism, exact ground truth, every category, files, CLI (short, small clips)."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from foleystudio.cli import main
from foleystudio.core.jobs import CancelToken
from foleystudio.data.foleyworld import (
    CATEGORIES,
    ClipTruth,
    generate_clip,
    generate_corpus,
    load_index,
    load_truth,
    split_of,
    write_clip,
)
from foleystudio.data.foleyworld.categories.hammer import hammer_angles
from foleystudio.data.foleyworld.look import (
    NOVEL_BALLS,
    NOVEL_FLOOR_COLOURS,
    NOVEL_MARGIN,
    NOVEL_WALL_COLOURS,
    STANDARD_BALLS,
    sample_look,
)
from foleystudio.data.foleyworld.samples import SampleBank
from foleystudio.errors import DataError, JobCancelled, UsageError

SIZE = 64
DURATION = 2.0
#: Sources that make no sound before their first event (the door may creak while opening).
SILENT_UNTIL_FIRST_EVENT = [c for c in CATEGORIES if c not in ("car_passing", "door_slam")]


@cache
def single(category: str, seed: int = 7):
    """A 2 s, 64 px clip of one source, no background (cached: clips are immutable here)."""
    return generate_clip(
        seed,
        duration=DURATION,
        size=SIZE,
        n_sources=1,
        categories=[category],
        ambience=False,
        offscreen=False,
    )


def box_pixels(box, size: int = SIZE) -> tuple[slice, slice]:
    x, y, w, h = box
    x0, y0 = int(x * size), int(y * size)
    return slice(y0, max(int(np.ceil((y + h) * size)), y0 + 1)), slice(
        x0, max(int(np.ceil((x + w) * size)), x0 + 1)
    )


def test_at_least_ten_categories() -> None:
    assert len(CATEGORIES) >= 10
    assert len(set(CATEGORIES)) == len(CATEGORIES)


def test_same_seed_same_clip_and_different_seed_differs() -> None:
    a = generate_clip(11, duration=DURATION, size=SIZE)
    b = generate_clip(11, duration=DURATION, size=SIZE)
    c = generate_clip(12, duration=DURATION, size=SIZE)
    assert np.array_equal(a.frames, b.frames)
    assert np.array_equal(a.audio, b.audio)
    assert a.truth == b.truth
    assert not np.array_equal(a.frames, c.frames)
    assert not np.array_equal(a.audio[: c.audio.size], c.audio[: a.audio.size])


def test_shapes_and_types() -> None:
    clip = generate_clip(3, duration=DURATION, size=SIZE, fps=24, sample_rate=16000)
    assert clip.frames.shape == (48, SIZE, SIZE, 3) and clip.frames.dtype == np.uint8
    assert clip.audio.shape == (32000,) and clip.audio.dtype == np.float32
    assert 1 <= len(clip.truth["sources"]) <= 3
    assert 0.4 < np.abs(clip.audio).max() <= 0.95
    for stem in clip.stems.values():
        assert stem.shape == clip.audio.shape and stem.dtype == np.float32


@pytest.mark.parametrize("seed", [1, 2, 5])
def test_stems_sum_to_mix(seed: int) -> None:
    clip = generate_clip(seed, duration=DURATION, size=SIZE, offscreen=True)
    assert {"ambience", "offscreen"} <= set(clip.stems)
    total = np.sum(list(clip.stems.values()), axis=0)
    np.testing.assert_allclose(total, clip.audio, atol=1e-6)


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_category_renders_and_sounds(category: str) -> None:
    clip = single(category)
    src = clip.truth["sources"][0]
    assert src["category"] == category and src["text"] and src["caption"] and src["label"]
    assert np.abs(clip.stems["s0"]).max() > 0.3
    assert src["continuous"] or len(src["onsets"]) >= 1
    visible = [b for b in src["boxes"] if b is not None]
    assert len(src["boxes"]) == clip.frames.shape[0]
    assert visible or category == "car_passing"
    for b in visible:
        x, y, w, h = b
        assert x >= 0.0 and y >= 0.0 and w > 0 and h > 0 and x + w <= 1.0 + 1e-6 and y + h <= 1.0 + 1e-6
    # The object is drawn: its box is not a flat patch of background.
    k = next(i for i, b in enumerate(src["boxes"]) if b is not None) if visible else 0
    if visible:
        assert clip.frames[k][box_pixels(src["boxes"][k])].std() > 5


@pytest.mark.parametrize("category", [c for c in CATEGORIES if c != "car_passing"])
def test_something_moves_in_the_box_at_every_onset_frame(category: str) -> None:
    clip = single(category)
    src = clip.truth["sources"][0]
    for k in src["onset_frames"]:
        region = box_pixels(src["boxes"][k])
        diff = np.abs(clip.frames[k].astype(int) - clip.frames[k - 1].astype(int))[region]
        assert diff.max() > 20, f"no visible change at onset frame {k}"


@pytest.mark.parametrize("category", SILENT_UNTIL_FIRST_EVENT)
def test_sound_starts_on_the_sample_of_the_first_event(category: str) -> None:
    clip = single(category)
    src = clip.truth["sources"][0]
    first = int(np.flatnonzero(clip.stems["s0"])[0])
    # Linear attacks start from an exact zero, so the first non-zero sample may be one later.
    assert src["onset_samples"][0] <= first <= src["onset_samples"][0] + 1


@pytest.mark.parametrize("category", [c for c in CATEGORIES if c != "car_passing"])
def test_energy_rises_at_every_onset(category: str) -> None:
    clip = single(category)
    src = clip.truth["sources"][0]
    attack = np.diff(clip.stems["s0"].astype(np.float64), prepend=0.0)  # emphasises new transients
    window = 80  # 5 ms at 16 kHz
    checked = 0
    for n, strength in zip(src["onset_samples"], src["strengths"], strict=True):
        if strength < 0.3 or n < window or n + window > attack.size:
            continue  # a feather-light bounce may hide in a metal ball's ringing, as in life
        after = np.sum(attack[n : n + window] ** 2)
        before = np.sum(attack[n - window : n] ** 2) + 1e-12
        assert after > 1.3 * before, f"onset at sample {n}: energy ratio {after / before:.2f}"
        checked += 1
    assert checked >= 1


def test_onset_times_frames_and_samples_agree() -> None:
    clip = generate_clip(4, duration=DURATION, size=SIZE, n_sources=3)
    fps, sr = clip.truth["fps"], clip.truth["sample_rate"]
    for src in clip.truth["sources"]:
        for t, k, n in zip(src["onsets"], src["onset_frames"], src["onset_samples"], strict=True):
            assert abs(t - k / fps) < 1e-6 and n == round(k * sr / fps)
            assert 0 < k < clip.frames.shape[0]


@pytest.mark.parametrize("category", ["ball_wood", "ball_metal", "ball_rubber", "ball_glass"])
def test_ball_touches_the_floor_exactly_on_impact_frames(category: str) -> None:
    clip = single(category, seed=3)
    floor = clip.truth["floor_y"]
    src = clip.truth["sources"][0]
    bottoms = np.array([b[1] + b[3] for b in src["boxes"]])
    impacts = set(src["onset_frames"])
    assert impacts
    for k in impacts:
        assert abs(bottoms[k] - floor) < 1e-4
        # Every impact ends a flight: the ball is in the air on the frame before. (After
        # the last bounce of a run it may stay down: it rests, silently.)
        assert bottoms[k - 1] < floor - 1e-4


def test_hammer_head_reaches_the_anvil_only_on_strike_frames() -> None:
    clip = single("hammer_anvil")
    from foleystudio.data.foleyworld.scene import SceneContext

    ctx = SceneContext(DURATION, 24, 16000, SIZE, 0.8, "indoor", "wooden", None)
    strikes = [10, 25, 40]
    theta = hammer_angles(ctx, strikes, 1.4, 4)
    assert np.all(theta[strikes] == 0) and np.all(np.delete(theta, strikes) > 0)
    assert len(clip.truth["sources"][0]["onsets"]) >= 1


def test_door_is_shut_on_slam_frames() -> None:
    clip = single("door_slam", seed=4)
    src = clip.truth["sources"][0]
    widths = np.array([b[2] for b in src["boxes"]])
    closed = widths.max()
    for k in src["onset_frames"]:
        assert abs(widths[k] - closed) < 1e-3 and widths[k - 1] < closed - 1e-3


def test_captions_follow_the_simulation() -> None:
    clip = single("ball_metal", seed=3)
    src = clip.truth["sources"][0]
    assert src["text"] == "a metal ball bouncing"
    assert "metallic" in src["caption"] and "ball" in src["caption"]
    full = generate_clip(9, duration=DURATION, size=SIZE, n_sources=2, offscreen=True)
    assert full.truth["offscreen"]["phrase"] in full.truth["caption"]
    assert all(s["caption"] in full.truth["caption"] for s in full.truth["sources"])


def test_truth_is_json_and_round_trips() -> None:
    clip = generate_clip(21, duration=DURATION, size=SIZE, n_sources=3, offscreen=True)
    text = json.dumps(clip.truth)
    record = ClipTruth.from_dict(json.loads(text))
    assert record.to_dict() == clip.truth
    assert record.stem_ids == list(clip.stems)


def test_categories_look_and_sound_distinct() -> None:
    visual, audio = {}, {}
    for c in CATEGORIES:
        clip = single(c)
        src = clip.truth["sources"][0]
        crops = [
            clip.frames[k][box_pixels(b)].reshape(-1, 3) for k, b in enumerate(src["boxes"]) if b is not None
        ]
        hist = np.histogramdd(np.concatenate(crops) / 255.0, bins=(4, 4, 4), range=[(0, 1)] * 3)[0].ravel()
        visual[c] = hist / hist.sum()
        power = np.abs(np.fft.rfft(clip.stems["s0"])) ** 2
        bands = np.array([b.sum() for b in np.array_split(power, 32)])
        audio[c] = np.log10(bands / bands.sum() + 1e-9)
    for a, b in itertools.combinations(CATEGORIES, 2):
        assert 0.5 * np.abs(visual[a] - visual[b]).sum() > 0.1, f"{a} and {b} look alike"
        assert np.sqrt(np.mean((audio[a] - audio[b]) ** 2)) > 0.25, f"{a} and {b} sound alike"


def test_novel_look_uses_colours_never_seen_in_training() -> None:
    clip = generate_clip(
        5,
        duration=DURATION,
        size=SIZE,
        n_sources=1,
        categories=["ball_rubber"],
        look_variant="novel",
        ambience=False,
        offscreen=False,
    )
    src = clip.truth["sources"][0]
    assert clip.truth["look_variant"] == "novel"
    k = int(np.argmax([b[3] if b else 0 for b in src["boxes"]]))
    x, y, w, h = src["boxes"][k]
    centre = clip.frames[k, int((y + h / 2) * SIZE), int((x + w / 2) * SIZE)] / 255.0
    for colour in STANDARD_BALLS.values():  # the lit centre is near the base colour's hue
        assert np.abs(centre / max(centre.max(), 1e-6) - np.array(colour) / max(colour)).max() > 0.25
    assert src["onsets"]  # the sound model is the same: impacts still sound


def test_recoloured_look_draws_ball_colours_away_from_the_novel_ones() -> None:
    rng = np.random.default_rng(3)
    look, _ = sample_look(rng, "recoloured", "indoor")
    standard, _ = sample_look(np.random.default_rng(3), "standard", "indoor")
    assert look.wall_top == standard.wall_top  # standard backdrops: only the balls change
    colours = np.array([look.ball_color("wood", rng) for _ in range(300)])
    novel = np.asarray(NOVEL_BALLS)
    assert np.linalg.norm(colours[:, None] - novel[None], axis=2).min() >= NOVEL_MARGIN
    assert np.ptp(colours, axis=0).min() > 0.7  # spread over the colour cube, not one material's colour
    assert standard.ball_color("wood", rng) == STANDARD_BALLS["wood"]


def test_repainted_look_paints_walls_and_floors_away_from_the_novel_ones() -> None:
    rng = np.random.default_rng(4)
    looks = [sample_look(rng, "repainted", setting)[0] for setting in ("indoor", "outdoor", "street") * 40]
    walls = np.array([look.wall_top for look in looks])
    floors = np.array([look.floor_far for look in looks])
    for colours, avoided in ((walls, np.array(NOVEL_WALL_COLOURS)), (floors, np.array(NOVEL_FLOOR_COLOURS))):
        # The jitter every look gets (±0.04 a channel) may bring a colour that much closer.
        assert np.linalg.norm(colours[:, None] - avoided[None], axis=2).min() >= NOVEL_MARGIN - 0.07
        assert np.ptp(colours, axis=0).min() > 0.6  # any colour, not the standard few
    assert all(look.floor_pattern != "stripes" for look in looks)  # the novel look's own pattern
    ball = looks[0].ball_color("metal", rng)
    assert ball != STANDARD_BALLS["metal"]


def test_mixed_look_draws_standard_or_repainted_rooms_per_clip() -> None:
    rng = np.random.default_rng(5)
    looks = [sample_look(rng, "mixed", "indoor")[0] for _ in range(200)]
    variants = [look.variant for look in looks]
    assert set(variants) == {"standard", "repainted"}  # each clip is one of the two, recorded as such
    assert 0.35 < variants.count("repainted") / len(variants) < 0.65
    standard_walls = {look.wall_top for look in looks if look.variant == "standard"}
    repainted_walls = {look.wall_top for look in looks if look.variant == "repainted"}
    assert len(repainted_walls) > 3 * len({tuple(np.round(w, 1)) for w in standard_walls})


def test_a_mixed_corpus_records_each_clips_drawn_look() -> None:
    clips = [generate_clip(seed, duration=DURATION, size=SIZE, look_variant="mixed") for seed in range(6)]
    assert {c.record.look_variant for c in clips} == {"standard", "repainted"}


def test_the_command_line_offers_every_look() -> None:
    from foleystudio.cli.data import LOOK_CHOICES
    from foleystudio.data.foleyworld import LOOK_VARIANTS

    assert LOOK_CHOICES == LOOK_VARIANTS
    # ... without importing FoleyWorld (and what it imports) at every command's start.
    probe = (
        "import sys\nfrom foleystudio.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('foleystudio.data.foleyworld' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip().splitlines()[-1] == "False", done.stderr


def test_bad_arguments_are_usage_errors() -> None:
    with pytest.raises(UsageError):
        generate_clip(0, n_sources=4)
    with pytest.raises(UsageError):
        generate_clip(0, categories=["unicorn"])
    with pytest.raises(UsageError):
        generate_clip(0, look_variant="sepia")


def test_recorded_samples_are_optional(tmp_path: Path) -> None:
    with pytest.raises(DataError):
        SampleBank(tmp_path)  # no samples there: a clear error, never a crash elsewhere


def test_write_clip_makes_a_decodable_mp4_with_audio(tmp_path: Path) -> None:
    clip = generate_clip(8, duration=DURATION, size=SIZE, n_sources=2, offscreen=True)
    paths = write_clip(clip, tmp_path, "demo")
    with av.open(str(paths["video"])) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert (video.width, video.height) == (SIZE, SIZE)
        assert audio.codec_context.name == "aac" and audio.sample_rate == 48000
        n_frames = sum(1 for _ in container.decode(video=0))
    assert n_frames == clip.frames.shape[0]
    with av.open(str(paths["video"])) as container:
        sound = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
    assert abs(sound.size / 48000 - DURATION) < 0.1 and np.abs(sound).max() > 0.1
    mix, rate = sf.read(paths["mix"], dtype="float32")
    assert rate == 16000 and np.abs(mix - clip.audio).max() < 1e-3
    stems = {sid: sf.read(p, dtype="float32")[0] for sid, p in paths["stems"].items()}
    assert set(stems) == set(clip.stems)
    assert np.abs(np.sum(list(stems.values()), axis=0) - mix).max() < 2e-3
    truth = load_truth(paths["truth"])
    assert truth.files["video"] == "demo.mp4" and truth.files["stems"]["s0"] == "demo.stems/s0.wav"


def test_cli_writes_clips_and_index(tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    code = main(
        [
            "data",
            "foleyworld",
            "--out",
            str(out),
            "--clips",
            "3",
            "--seed",
            "5",
            "--duration",
            "1",
            "--size",
            "48",
            "--sources",
            "2",
        ]
    )
    assert code == 0
    index = load_index(out)
    assert index["n_clips"] == 3 and [c["name"] for c in index["clips"]] == [
        "clip_00000",
        "clip_00001",
        "clip_00002",
    ]
    assert sorted(sum(index["splits"].values(), [])) == ["clip_00000", "clip_00001", "clip_00002"]
    for entry in index["clips"]:
        assert len(entry["categories"]) == 2
        for suffix in (".mp4", ".wav", ".json"):
            assert (out / f"{entry['name']}{suffix}").is_file()
        assert (out / f"{entry['name']}.stems" / "s0.wav").is_file()
    assert main(["data", "foleyworld", "--out", str(out), "--clips", "1", "--sources", "7"]) == 2


def test_corpus_is_independent_of_size_and_resumes(tmp_path: Path) -> None:
    small = generate_corpus(tmp_path / "a", 2, seed=3, duration=1.0, size=32)
    big = generate_corpus(tmp_path / "b", 3, seed=3, duration=1.0, size=32)
    a, b = load_index(small), load_index(big)
    assert a["clips"][:2] == b["clips"][:2]
    assert (tmp_path / "a" / "clip_00001.json").read_bytes() == (
        tmp_path / "b" / "clip_00001.json"
    ).read_bytes()
    before = (tmp_path / "b" / "clip_00000.mp4").stat().st_mtime_ns
    generate_corpus(tmp_path / "b", 3, seed=3, duration=1.0, size=32)  # nothing left to do
    assert (tmp_path / "b" / "clip_00000.mp4").stat().st_mtime_ns == before


def test_cancel_leaves_nothing_behind(tmp_path: Path) -> None:
    token = CancelToken()

    def progress(fraction: float, message: str) -> None:
        if "wrote" in message:
            token.cancel()

    with pytest.raises(JobCancelled):
        generate_corpus(tmp_path / "c", 3, seed=1, duration=1.0, size=32, progress=progress, cancel=token)
    assert list((tmp_path / "c").iterdir()) == []


def test_split_is_deterministic_and_roughly_90_5_5() -> None:
    splits = [split_of(4, i) for i in range(2000)]
    assert splits == [split_of(4, i) for i in range(2000)]
    share = {s: splits.count(s) / 2000 for s in ("train", "val", "test")}
    assert 0.87 < share["train"] < 0.93 and 0.03 < share["val"] < 0.07 and 0.03 < share["test"] < 0.07


@pytest.mark.slow
def test_worker_processes_do_not_change_the_corpus(tmp_path: Path) -> None:
    generate_corpus(tmp_path / "one", 4, seed=2, duration=1.0, size=32, jobs=1)
    generate_corpus(tmp_path / "two", 4, seed=2, duration=1.0, size=32, jobs=2)
    for i in range(4):
        name = f"clip_{i:05d}"
        assert (tmp_path / "one" / f"{name}.json").read_bytes() == (
            tmp_path / "two" / f"{name}.json"
        ).read_bytes()
        assert (tmp_path / "one" / f"{name}.wav").read_bytes() == (
            tmp_path / "two" / f"{name}.wav"
        ).read_bytes()
