"""Generating one FoleyWorld clip: plan, simulate, render, synthesise, mix, describe.

Determinism: everything random comes from ``np.random.SeedSequence(seed)``, split into
independent child streams (plan, scene, each source slot, ambience, off-screen, levels), so
changing one source's code or draws never changes another's. Same seed and settings →
identical frames and audio, on any machine.

Levels: each source stem is normalised to peak 1 and given a random gain of -6…0 dB; the
ambience gets an RMS of -52…-40 dB and off-screen sounds a peak of -24…-14 dB on the same
scale; then one common gain brings the mix to a peak of 0.5–0.9. The same gain is applied
to every stem, so the stems sum to the mix (to float32 rounding).

Randomised clips (``ClipSpec.randomise``, randomise.py) draw their pictures' randomisation
and their frame rate from one more child stream; every other stream is as in a plain clip,
so a randomised clip has the same sound and onset times as the plain clip at its frame rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from foleystudio.core.audio import db_to_gain
from foleystudio.data.foleyworld import captions
from foleystudio.data.foleyworld.ambience import OFFSCREEN_PHRASES, make_ambience, make_offscreen
from foleystudio.data.foleyworld.categories import REGISTRY, SourceTrack
from foleystudio.data.foleyworld.look import LOOK_VARIANTS, render_backdrop, sample_look
from foleystudio.data.foleyworld.randomise import DEFAULT_SETTINGS, Randomiser, RandomiseSettings, draw_fps
from foleystudio.data.foleyworld.render import Canvas
from foleystudio.data.foleyworld.samples import SampleBank
from foleystudio.data.foleyworld.scene import SceneContext, Slot, slots_for
from foleystudio.data.foleyworld.truth import BackgroundTruth, ClipTruth, SourceTruth
from foleystudio.errors import UsageError

#: Every category name, in a fixed order (classifier indices follow it).
CATEGORIES: tuple[str, ...] = tuple(REGISTRY)
MAX_SOURCES = 3
_STREAMS = 4 + MAX_SOURCES  # plan, scene, ambience, off-screen/levels, one per source


@dataclass(frozen=True)
class ClipSpec:
    """How to generate a clip (the seed fixes everything else)."""

    seed: int
    duration: float = 8.0  #: seconds
    size: int = 128  #: frame side, pixels
    fps: int = 24
    sample_rate: int = 16000  #: Hz
    n_sources: int | None = None  #: 1–3; None: random (1: 30 %, 2: 40 %, 3: 30 %)
    categories: tuple[str, ...] | None = None  #: pool to draw sources from; None: all
    look_variant: str = "standard"  #: a ``LOOK_VARIANTS`` name: "novel" is the held-out look
    ambience: bool = True
    offscreen: bool | None = None  #: None: off-screen noise in half of the clips
    use_samples: bool = False  #: use recorded Sonic Pi samples where available
    #: Domain randomisation of the pictures (randomise.py); the clip's fps is then drawn
    #: from randomise.FPS_CHOICES and ``fps`` is not used.
    randomise: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``categories`` as a list; ``randomise`` only when on, so plain
        clips' truth is as before and earlier corpora resume)."""
        data = asdict(self)
        data["categories"] = list(self.categories) if self.categories is not None else None
        if not self.randomise:
            del data["randomise"]
        return data

    def validate(self) -> None:
        """Raise :class:`UsageError` for settings the generator cannot honour."""
        if self.duration < 0.5 or self.duration > 600:
            raise UsageError(f"clip duration must be 0.5–600 s, got {self.duration}")
        if self.size < 32 or self.size > 1024:
            raise UsageError(f"frame size must be 32–1024 px, got {self.size}")
        if self.fps < 4 or self.fps > 120:
            raise UsageError(f"fps must be 4–120, got {self.fps}")
        if self.sample_rate < 8000 or self.sample_rate > 96000:
            raise UsageError(f"sample rate must be 8000–96000 Hz, got {self.sample_rate}")
        if self.n_sources is not None and not 1 <= self.n_sources <= MAX_SOURCES:
            raise UsageError(f"a clip has 1–{MAX_SOURCES} sources, got {self.n_sources}")
        if self.look_variant not in LOOK_VARIANTS:
            raise UsageError(f"look must be one of {', '.join(LOOK_VARIANTS)}, got {self.look_variant!r}")
        if self.categories is not None:
            unknown = sorted(set(self.categories) - set(CATEGORIES))
            if unknown or not self.categories:
                raise UsageError(f"unknown FoleyWorld categories {unknown}; known: {', '.join(CATEGORIES)}")


@dataclass
class FoleyWorldClip:
    """A generated clip: pictures, sound, stems and ground truth."""

    spec: ClipSpec
    frames: np.ndarray  #: uint8 (n_frames, size, size, 3), RGB
    audio: np.ndarray  #: float32 (n_samples,), the mix at spec.sample_rate
    stems: dict[str, np.ndarray]  #: stem id → float32 (n_samples,); they sum to ``audio``
    record: ClipTruth  #: typed ground truth
    truth: dict[str, Any] = field(init=False)  #: the same as a JSON-ready dict

    def __post_init__(self) -> None:
        self.truth = self.record.to_dict()


def generate_clip(
    seed: int,
    duration: float = 8.0,
    size: int = 128,
    fps: int = 24,
    sample_rate: int = 16000,
    n_sources: int | None = None,
    categories: Sequence[str] | None = None,
    *,
    look_variant: str = "standard",
    ambience: bool = True,
    offscreen: bool | None = None,
    use_samples: bool = False,
    randomise: bool = False,
) -> FoleyWorldClip:
    """Generate one clip; see :class:`ClipSpec` for the arguments."""
    spec = ClipSpec(
        int(seed),
        float(duration),
        int(size),
        int(fps),
        int(sample_rate),
        n_sources,
        tuple(categories) if categories is not None else None,
        look_variant,
        ambience,
        offscreen,
        use_samples,
        bool(randomise),
    )
    return generate_from_spec(spec)


def plan_categories(rng: np.random.Generator, spec: ClipSpec) -> list[str]:
    """Which categories the clip's sources are: distinct when the pool allows, ≤ 1 wide one."""
    pool = list(spec.categories or CATEGORIES)
    n = spec.n_sources or int(rng.choice([1, 2, 3], p=[0.3, 0.4, 0.3]))
    chosen: list[str] = []
    for _ in range(n):
        options = [c for c in pool if c not in chosen] or pool
        if any(REGISTRY[c].wide for c in chosen):
            options = [c for c in options if not REGISTRY[c].wide] or [
                c for c in pool if not REGISTRY[c].wide
            ]
        if not options:
            break  # only wide categories in the pool: one of them is enough
        chosen.append(options[int(rng.integers(len(options)))])
    return chosen


def plan_setting(rng: np.random.Generator, chosen: list[str]) -> str:
    """A setting every chosen category fits in (street when a car drives past)."""
    allowed = set.intersection(*(set(REGISTRY[c].settings) for c in chosen))
    if not allowed:
        return REGISTRY[chosen[0]].settings[0]
    ordered = [s for s in ("indoor", "outdoor", "street") if s in allowed]
    return ordered[int(rng.integers(len(ordered)))]


def generate_from_spec(
    spec: ClipSpec, *, randomise_settings: RandomiseSettings = DEFAULT_SETTINGS
) -> FoleyWorldClip:
    """Generate the clip described by ``spec``.

    ``randomise_settings``: probabilities and ranges of the effects when ``spec.randomise``
    (experiments and tests; corpora use the defaults).
    """
    spec.validate()
    root = np.random.SeedSequence(spec.seed)
    streams = [np.random.default_rng(s) for s in root.spawn(_STREAMS)]
    plan_rng, scene_rng, amb_rng, level_rng = streams[:4]
    source_rngs = streams[4:]
    rand_rng = np.random.default_rng(root.spawn(1)[0]) if spec.randomise else None
    fps = draw_fps(rand_rng, randomise_settings) if rand_rng is not None else spec.fps
    chosen = plan_categories(plan_rng, spec)
    setting = plan_setting(plan_rng, chosen)
    look, surface = sample_look(scene_rng, spec.look_variant, setting)
    samples = SampleBank() if spec.use_samples else None
    ctx = SceneContext(
        spec.duration,
        fps,
        spec.sample_rate,
        spec.size,
        float(scene_rng.uniform(0.74, 0.84)),
        setting,
        surface,
        look,
        samples,
    )

    narrow = [c for c in chosen if not REGISTRY[c].wide]
    slots = iter(slots_for(len(narrow)))
    tracks: list[SourceTrack] = []
    for name, rng in zip(chosen, source_rngs, strict=False):
        slot = Slot(0.0, 1.0) if REGISTRY[name].wide else next(slots)
        tracks.append(_make_track(name, rng, ctx, slot))

    randomisation = None
    if rand_rng is None:
        frames = _render(ctx, tracks, render_backdrop(look, spec.size, ctx.floor_y, scene_rng))
    else:
        randomiser = Randomiser(
            rand_rng,
            ctx.size,
            ctx.fps,
            ctx.n_frames,
            floor_y=ctx.floor_y,
            boxes=[t.boxes for t in tracks],
            settings=randomise_settings,
        )
        frames = randomiser.render(
            [t.draw for t in _draw_order(tracks)],
            lambda n: render_backdrop(look, n, ctx.floor_y, scene_rng),
        )
        tracks = [replace(t, boxes=randomiser.transform_boxes(t.boxes)) for t in tracks]
        randomisation = randomiser.effects

    # Levels: sources at peak 1 × gain, backgrounds below them, then one common mix gain.
    stems: dict[str, np.ndarray] = {}
    for i, track in enumerate(tracks):
        peak = max(float(np.abs(track.stem).max()), 1e-9)
        stems[f"s{i}"] = track.stem / peak * np.float32(db_to_gain(level_rng.uniform(-6.0, 0.0)))
    amb = make_ambience(amb_rng, ctx) if spec.ambience else None
    if amb is not None:
        stems["ambience"] = amb.stem * np.float32(db_to_gain(level_rng.uniform(-52.0, -40.0)))
    want_offscreen = spec.offscreen if spec.offscreen is not None else bool(level_rng.random() < 0.5)
    off = make_offscreen(level_rng, ctx, samples) if want_offscreen else None
    if off is not None:
        stems["offscreen"] = off.stem * np.float32(db_to_gain(level_rng.uniform(-24.0, -14.0)))
    raw_mix = np.sum(list(stems.values()), axis=0, dtype=np.float32)
    mix_gain = float(level_rng.uniform(0.5, 0.9) / max(float(np.abs(raw_mix).max()), 1e-9))
    stems = {k: (v * np.float32(mix_gain)).astype(np.float32) for k, v in stems.items()}
    mix = np.zeros(ctx.n_samples, np.float32)
    for stem in stems.values():
        mix += stem

    record = _describe(spec, ctx, tracks, stems, amb, off, mix_gain, randomisation)
    return FoleyWorldClip(spec, frames, mix, stems, record)


def _make_track(name: str, rng: np.random.Generator, ctx: SceneContext, slot: Slot) -> SourceTrack:
    """Simulate a source; an impulsive source that happens to make no sound is redrawn."""
    for _ in range(8):
        track = REGISTRY[name].make(rng, ctx, slot)
        if track.events or (track.continuous and np.abs(track.stem).max() > 0):
            return track
    return track


def _draw_order(tracks: list[SourceTrack]) -> list[SourceTrack]:
    """Wide sources first (they pass behind), then the others."""
    return sorted(tracks, key=lambda t: not REGISTRY[t.category].wide)


def _render(ctx: SceneContext, tracks: list[SourceTrack], backdrop: np.ndarray) -> np.ndarray:
    """Draw every frame: wide sources first (they pass behind), then the others."""
    order = _draw_order(tracks)
    frames = np.empty((ctx.n_frames, ctx.size, ctx.size, 3), np.uint8)
    canvas = Canvas(ctx.size)
    for k in range(ctx.n_frames):
        canvas.reset(backdrop)
        for track in order:
            track.draw(canvas, k)
        canvas.to_uint8(frames[k])
    return frames


def _dbfs(x: np.ndarray, rms: bool = False) -> float:
    value = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if rms else float(np.abs(x).max())
    return round(20 * np.log10(max(value, 1e-6)), 2)


def _json_ready(details: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in details.items():
        if isinstance(value, (bool, np.bool_)):
            out[key] = bool(value)
        elif isinstance(value, (int, np.integer)):
            out[key] = int(value)
        elif isinstance(value, (float, np.floating)):
            out[key] = round(float(value), 4)
        else:
            out[key] = str(value)
    return out


def _describe(
    spec: ClipSpec,
    ctx: SceneContext,
    tracks: list[SourceTrack],
    stems: dict[str, np.ndarray],
    amb,
    off,
    mix_gain: float,
    randomisation: dict[str, Any] | None = None,
) -> ClipTruth:
    sources = []
    for i, track in enumerate(tracks):
        sid = f"s{i}"
        frames = [e.frame for e in track.events]
        times = [round(k / ctx.fps, 6) for k in frames]
        strengths = [round(e.strength, 4) for e in track.events]
        peak = _dbfs(stems[sid])
        text = captions.source_text(track.category, track.details)
        caption = captions.source_caption(track.category, track.details, times, strengths, peak)
        boxes = [None if b is None else [round(float(v), 5) for v in b] for b in track.boxes]
        sources.append(
            SourceTruth(
                sid,
                track.category,
                captions.LABELS[track.category],
                text,
                caption,
                track.continuous,
                times,
                frames,
                [ctx.frame_sample(k) for k in frames],
                strengths,
                boxes,
                peak,
                _json_ready(track.details),
            )
        )
    ambience = None
    if amb is not None:
        ambience = BackgroundTruth(
            "ambience",
            amb.kind,
            f"{amb.kind} in the background",
            level_dbfs=_dbfs(stems["ambience"], rms=True),
        )
    offscreen = None
    if off is not None:
        offscreen = BackgroundTruth(
            "offscreen",
            off.kind,
            OFFSCREEN_PHRASES[off.kind],
            [round(s / ctx.sample_rate, 6) for s in off.onsets],
            list(off.onsets),
            _dbfs(stems["offscreen"]),
        )
    background = captions.background_phrase(amb.kind if amb else None, off.kind if off else None)
    used = sorted(ctx.samples.used) if ctx.samples is not None else []
    return ClipTruth(
        seed=spec.seed,
        duration=spec.duration,
        fps=ctx.fps,
        sample_rate=spec.sample_rate,
        size=spec.size,
        n_frames=ctx.n_frames,
        n_samples=ctx.n_samples,
        look_variant=ctx.look.variant,  # a mixed corpus records what each clip drew
        setting=ctx.setting,
        surface=ctx.surface,
        floor_y=round(ctx.floor_y, 6),
        text=captions.clip_text([s.text for s in sources]),
        caption=captions.clip_caption([s.caption for s in sources], background),
        sources=sources,
        ambience=ambience,
        offscreen=offscreen,
        mix_gain=round(mix_gain, 6),
        samples=used,
        spec=spec.to_dict(),
        randomisation=randomisation,
    )
