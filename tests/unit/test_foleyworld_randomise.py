"""FoleyWorld domain randomisation: determinism, sound and truth unchanged, boxes, fps, off = plain."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import av
import numpy as np
import pytest

from foleystudio.cli import main
from foleystudio.data.foleyworld import ClipSpec, ClipTruth, generate_clip, generate_from_spec, load_truth
from foleystudio.data.foleyworld.randomise import (
    EFFECTS,
    FPS_CHOICES,
    Randomiser,
    RandomiseSettings,
    block_quantise,
    draw_fps,
    randomise_frames,
    view_box,
)

SIZE = 64
DURATION = 1.5
CAMERA = RandomiseSettings.only("shake", "pan", "zoom")


@cache
def randomised(seed: int, settings: RandomiseSettings | None = None, **kw):
    spec = ClipSpec(seed, DURATION, SIZE, randomise=True, **kw)
    if settings is None:
        return generate_from_spec(spec)
    return generate_from_spec(spec, randomise_settings=settings)


@cache
def plain(seed: int, fps: int, **kw):
    return generate_from_spec(ClipSpec(seed, DURATION, SIZE, fps, **kw))


def test_same_seed_same_randomised_clip() -> None:
    a = randomised(3)
    b = generate_from_spec(ClipSpec(3, DURATION, SIZE, randomise=True))
    assert np.array_equal(a.frames, b.frames)
    assert np.array_equal(a.audio, b.audio)
    assert a.truth == b.truth
    assert not np.array_equal(a.frames[:10], randomised(4).frames[: len(a.frames[:10])])


@pytest.mark.parametrize("seed", [0, 1, 2, 5])
def test_only_the_pictures_change(seed: int) -> None:
    r = randomised(seed)
    fps = r.truth["fps"]
    p = plain(seed, fps)
    assert r.frames.shape == p.frames.shape == (round(DURATION * fps), SIZE, SIZE, 3)
    assert np.mean(r.frames != p.frames) > 0.2
    assert np.array_equal(r.audio, p.audio)
    assert r.stems.keys() == p.stems.keys()
    assert all(np.array_equal(r.stems[k], p.stems[k]) for k in p.stems)
    for rs, ps in zip(r.truth["sources"], p.truth["sources"], strict=True):
        for key in ("category", "onsets", "onset_frames", "onset_samples", "strengths", "caption"):
            assert rs[key] == ps[key]
    for key in ("ambience", "offscreen", "text", "mix_gain", "n_frames", "n_samples"):
        assert r.truth[key] == p.truth[key]


def test_effects_are_recorded() -> None:
    seen: set[str] = set()
    for seed in range(8):
        record = randomised(seed).truth["randomisation"]
        assert list(record) == ["fps", *EFFECTS]
        seen |= {e for e in EFFECTS if record[e]}
        json.dumps(record)
    assert len(seen) >= 8  # the defaults switch most effects on in 8 clips
    truth = randomised(0).truth
    assert truth["spec"]["randomise"] is True
    assert ClipTruth.from_dict(json.loads(json.dumps(truth))).randomisation == truth["randomisation"]


def test_fps_comes_from_the_allowed_set() -> None:
    rates = {draw_fps(np.random.default_rng(i)) for i in range(200)}
    assert rates == set(FPS_CHOICES)
    for seed in range(6):
        truth = randomised(seed).truth
        assert truth["fps"] in FPS_CHOICES
        assert truth["n_frames"] == round(DURATION * truth["fps"])
        for source in truth["sources"]:
            assert len(source["boxes"]) == truth["n_frames"]
            assert [round(k / truth["fps"], 6) for k in source["onset_frames"]] == source["onsets"]


def test_off_is_the_plain_clip() -> None:
    default = generate_clip(9, duration=1.0, size=48)
    off = generate_clip(9, duration=1.0, size=48, randomise=False)
    assert np.array_equal(default.frames, off.frames) and default.truth == off.truth
    assert "randomisation" not in off.truth and "randomise" not in off.truth["spec"]
    # The randomised pipeline with every effect off draws exactly the plain frames.
    nothing = RandomiseSettings.only(fps_choices=(24,))
    same = generate_from_spec(ClipSpec(9, 1.0, 48, 24, randomise=True), randomise_settings=nothing)
    assert np.array_equal(same.frames, off.frames)
    assert np.array_equal(same.audio, off.audio)
    assert same.truth["randomisation"] == {"fps": 24, **dict.fromkeys(EFFECTS, False)}
    assert [s["boxes"] for s in same.truth["sources"]] == [s["boxes"] for s in off.truth["sources"]]


def test_view_box_maps_and_clips() -> None:
    assert view_box([0.4, 0.5, 0.2, 0.1], (0.0, 0.0, 1.0)) == pytest.approx([0.4, 0.5, 0.2, 0.1])
    assert view_box([0.4, 0.5, 0.2, 0.1], (0.3, 0.4, 2.0)) == pytest.approx([0.2, 0.2, 0.4, 0.2])
    assert view_box([0.4, 0.5, 0.2, 0.1], (-1.0, -1.0, 0.5)) == pytest.approx([0.7, 0.75, 0.1, 0.05])
    assert view_box([0.0, 0.0, 0.2, 0.2], (0.1, 0.1, 2.0)) == pytest.approx([0.0, 0.0, 0.2, 0.2])
    assert view_box([0.0, 0.0, 0.1, 0.1], (0.5, 0.5, 2.0)) is None
    assert view_box(None, (0.0, 0.0, 1.0)) is None


def _red(frame: np.ndarray, margin: int = 70) -> np.ndarray:
    f = frame.astype(int)
    return (f[..., 0] - f[..., 1] > margin) & (f[..., 0] - f[..., 2] > margin)


def _inside(mask: np.ndarray, box, pad: float = 1.5) -> bool:
    rows, cols = np.nonzero(mask)
    if box is None:
        return rows.size == 0
    s = mask.shape[0]
    x, y, w, h = (v * s for v in box)
    return bool(
        np.all(cols + 0.5 >= x - pad)
        and np.all(cols + 0.5 <= x + w + pad)
        and np.all(rows + 0.5 >= y - pad)
        and np.all(rows + 0.5 <= y + h + pad)
    )


@pytest.mark.parametrize("seed", range(6))
def test_camera_boxes_fit_a_square_crossing_the_scene(seed: int) -> None:
    """A red square moves from outside the scene across it; the mapped boxes fit its pixels."""
    n, size = 30, 64
    xs = np.linspace(-0.3, 1.1, n)
    world = []
    for x in xs:
        x0, x1 = max(x, 0.0), min(x + 0.2, 1.0)
        world.append(None if x1 <= x0 else [x0, 0.3, x1 - x0, 0.2])
    rnd = Randomiser(np.random.default_rng(seed), size, 15, n, boxes=[world], settings=CAMERA)
    frames = rnd.render(
        [lambda canvas, k: canvas.rect(xs[k], 0.3, xs[k] + 0.2, 0.5, (1.0, 0.0, 0.0))],
        lambda m: np.full((m, m, 3), 0.5, np.float32),
    )
    boxes = rnd.transform_boxes(world)
    for k in range(n):
        mask = _red(frames[k], 140)  # pixels more than half covered (centres inside the square)
        assert _inside(mask, boxes[k]), k
        if boxes[k] is not None and boxes[k][2] * size > 3 and boxes[k][3] * size > 3:
            rows, cols = np.nonzero(mask)  # and the box is tight
            x, y, w, h = (v * size for v in boxes[k])
            assert cols.min() <= x + 1.5 and cols.max() + 1 >= x + w - 1.5
            assert rows.min() <= y + 1.5 and rows.max() + 1 >= y + h - 1.5


def test_camera_boxes_cover_a_bouncing_ball() -> None:
    zooms = []
    for seed in (0, 1, 2, 3, 4, 6):
        clip = randomised(seed, CAMERA, n_sources=1, categories=("ball_rubber",), ambience=False)
        record = clip.truth["randomisation"]
        assert record["shake"] and record["pan"] and record["zoom"]
        zooms.append(record["zoom"]["start"])
        boxes = clip.truth["sources"][0]["boxes"]
        found = 0
        for frame, box in zip(clip.frames, boxes, strict=True):
            mask = _red(frame)
            found += int(mask.sum())
            assert _inside(mask, box)
        assert found > 0
    assert min(zooms) < 1 < max(zooms)  # magnified and shrunk both tried


def test_zoom_spans_small_to_large_objects() -> None:
    zoom = RandomiseSettings.only("zoom")
    for side in (0.08, 0.2, 0.4):
        scales = []
        for seed in range(30):
            world = [[0.5 - side / 2, 0.8 - side, side, side]] * 24
            rnd = Randomiser(np.random.default_rng(seed), 64, 24, 24, boxes=[world], settings=zoom)
            box = rnd.transform_boxes(world)[0]
            scales.append(max(box[2], box[3]))
            assert scales[-1] == pytest.approx(rnd.effects["zoom"]["object"], abs=1e-3)
        smallest, largest = max(0.02, 0.15 * side), min(0.6, 4.0 * side)  # zoom limits: 0.15–4
        assert smallest - 1e-3 <= min(scales) < 1.8 * smallest
        assert 0.65 * largest < max(scales) <= largest + 1e-3


def test_distractors_drift_smoothly() -> None:
    for seed in range(20):
        rnd = Randomiser(
            np.random.default_rng(seed), 64, 30, 240, settings=RandomiseSettings.only("distractors")
        )
        assert 1 <= len(rnd.distractors) <= 2
        t = np.arange(240) / 30
        for shape, _front in rnd.distractors:
            path = np.array([shape.position(x) for x in t])
            velocity = np.diff(path, axis=0) * 30
            heading = shape.velocity / np.linalg.norm(shape.velocity)
            assert np.all(velocity @ heading > 0)  # never stops or turns back
            accel = np.linalg.norm(np.diff(velocity, axis=0) * 30, axis=1)
            assert accel.max() < 0.5  # frame widths / s²: no impact-like jolt


def test_randomise_frames_on_rendered_frames() -> None:
    frames = plain(1, 24).frames
    out, record = randomise_frames(frames, np.random.default_rng(5))
    again, _ = randomise_frames(frames, np.random.default_rng(5))
    assert out.dtype == np.uint8 and out.shape == frames.shape
    assert np.array_equal(out, again)
    assert not any(record[e] for e in ("background", "shake", "pan", "zoom"))
    everything = RandomiseSettings.only(*EFFECTS)
    changed, record = randomise_frames(frames, np.random.default_rng(5), everything)
    assert np.mean(changed != frames) > 0.5 and record["noise"] and record["compression"]
    same, _ = randomise_frames(frames, np.random.default_rng(5), RandomiseSettings.only())
    assert np.array_equal(same, frames)


def test_occluder_covers_part_of_the_clip() -> None:
    settings = RandomiseSettings.only("occlusion")
    for seed in range(4):
        clip = randomised(seed, settings)
        fps, record = clip.truth["fps"], clip.truth["randomisation"]["occlusion"]
        p = plain(seed, fps)
        changed = np.array([np.any(a != b) for a, b in zip(clip.frames, p.frames, strict=True)])
        k0, k1 = int(np.ceil(record["start"] * fps)), int(np.floor(record["end"] * fps))
        assert not changed[:k0].any() and not changed[k1 + 1 :].any()
        assert changed.any()


def test_block_quantise_is_blocky() -> None:
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, (16, 24, 3)).astype(np.float32)
    out = block_quantise(image, 20.0)
    assert out.shape == image.shape
    assert np.abs(out - image).mean() > 5
    flat = np.full((16, 16, 3), 120.0, np.float32)
    assert np.allclose(block_quantise(flat, 4.0), flat, atol=2.5)


def test_cli_randomise_writes_its_fps_and_record(tmp_path: Path) -> None:
    out = tmp_path / "fw"
    args = ["data", "foleyworld", "--out", str(out), "--clips", "2", "--seed", "3"]
    assert main([*args, "--duration", "1", "--size", "32", "--no-ambience", "--randomise"]) == 0
    index = json.loads((out / "index.json").read_text())
    assert index["params"]["randomise"] is True
    for name in ("clip_00000", "clip_00001"):
        truth = load_truth(out / f"{name}.json")
        assert truth.spec["randomise"] is True and truth.randomisation["fps"] == truth.fps
        with av.open(str(out / f"{name}.mp4")) as container:
            stream = container.streams.video[0]
            assert stream.average_rate == truth.fps
            assert sum(1 for _ in container.decode(stream)) == truth.n_frames
