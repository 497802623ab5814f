"""Colours and backdrops of FoleyWorld scenes, in two disjoint looks.

``standard`` is the training look: each ball material has its own colour (wood brown,
metal grey, rubber red, glass cyan), rooms have beige/grey/pale walls, floors are wood,
concrete or tiles. ``novel`` is a held-out look for generalisation tests: saturated
backdrops and object colours that the standard look never uses (magenta, lime, violet,
orange...), so a model that follows motion rather than memorised appearance still puts its
sound events at the visible impacts. ``recoloured`` is a training look: the standard
backdrops and palettes, but every ball takes a random colour (never near a novel-look one), so
the colour no longer names the material and only the words and the sound can.
``repainted`` (training) goes further: walls, sky and floors take random colours too (never
near a novel-look one; the floor patterns stay the standard ones). ``mixed`` (training) draws
standard or repainted per clip, even odds, so a corpus teaches both the usual rooms and rooms of
any colour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from foleystudio.data.foleyworld.render import Color, vertical_gradient

LOOK_VARIANTS = ("standard", "novel", "recoloured", "repainted", "mixed")

#: Ball colour per material in the standard look (the colour identifies the material).
STANDARD_BALLS: dict[str, Color] = {
    "wood": (0.55, 0.33, 0.16),
    "metal": (0.62, 0.64, 0.68),
    "rubber": (0.85, 0.12, 0.10),
    "glass": (0.35, 0.85, 0.92),
}
#: Ball colours only the novel look uses (any material may get any of them).
NOVEL_BALLS: tuple[Color, ...] = (
    (0.95, 0.15, 0.85),
    (0.55, 0.95, 0.10),
    (0.55, 0.30, 0.95),
    (1.0, 0.85, 0.1),
)
#: Least RGB distance of a recoloured ball, wall or floor from every novel-look colour of its
#: kind: the novel look stays a test of colours training never showed.
NOVEL_MARGIN = 0.3

#: Named palettes for the other objects: (standard, novel) lists of (name, colour).
PALETTES: dict[str, tuple[tuple[tuple[str, Color], ...], tuple[tuple[str, Color], ...]]] = {
    "car": (
        (
            ("blue", (0.15, 0.3, 0.75)),
            ("dark green", (0.1, 0.4, 0.2)),
            ("white", (0.92, 0.92, 0.9)),
            ("black", (0.12, 0.12, 0.14)),
            ("orange", (0.95, 0.5, 0.1)),
        ),
        (("pink", (1.0, 0.45, 0.8)), ("lime", (0.6, 1.0, 0.2))),
    ),
    "shirt": (
        (
            ("blue", (0.2, 0.35, 0.8)),
            ("green", (0.2, 0.6, 0.3)),
            ("white", (0.9, 0.9, 0.88)),
            ("orange", (0.9, 0.5, 0.15)),
        ),
        (("magenta", (0.95, 0.2, 0.8)), ("lime", (0.6, 1.0, 0.2))),
    ),
    "bird": (
        (("yellow", (0.98, 0.85, 0.15)), ("blue", (0.25, 0.5, 0.95)), ("brown", (0.5, 0.35, 0.2))),
        (("magenta", (0.95, 0.2, 0.8)), ("white", (0.97, 0.97, 0.97))),
    ),
    "door": (
        (("brown", (0.45, 0.27, 0.12)), ("white", (0.9, 0.88, 0.82)), ("dark red", (0.5, 0.12, 0.1))),
        (("purple", (0.55, 0.2, 0.8)), ("lime", (0.55, 0.9, 0.2))),
    ),
    "bell": (
        (("brass", (0.85, 0.65, 0.2)),),
        (("silver-blue", (0.55, 0.7, 1.0)),),
    ),
}


@dataclass(frozen=True)
class Look:
    """The colours of one clip."""

    variant: str
    wall_top: Color
    wall_bottom: Color
    floor_far: Color
    floor_near: Color
    floor_pattern: str  #: "boards", "tiles", "plain", "grass", "asphalt", "stripes"

    def ball_color(self, material: str, rng: np.random.Generator) -> Color:
        """The ball colour for ``material``: fixed in the standard look, one of
        :data:`NOVEL_BALLS` in the novel look, any other colour in the recoloured and repainted
        looks."""
        if self.variant == "novel":
            return NOVEL_BALLS[int(rng.integers(len(NOVEL_BALLS)))]
        if self.variant in ("recoloured", "repainted"):
            return recoloured_ball(rng)
        return STANDARD_BALLS[material]

    def pick(self, palette: str, rng: np.random.Generator) -> tuple[str, Color]:
        """A named colour from ``palette`` for this look."""
        choices = PALETTES[palette][1 if self.variant == "novel" else 0]
        return choices[int(rng.integers(len(choices)))]


def recoloured_ball(rng: np.random.Generator) -> Color:
    """A uniformly random ball colour at least :data:`NOVEL_MARGIN` from every novel one."""
    return _colour_away_from(rng, NOVEL_BALLS)


def _colour_away_from(rng: np.random.Generator, avoided: tuple[Color, ...]) -> Color:
    """A uniformly random colour at least :data:`NOVEL_MARGIN` from every colour in ``avoided``."""
    novel = np.asarray(avoided)
    while True:
        c = rng.uniform(0.05, 0.95, 3)
        if np.min(np.linalg.norm(novel - c, axis=1)) >= NOVEL_MARGIN:
            return _rgb(c)


def _rgb(c: np.ndarray) -> Color:
    return (float(c[0]), float(c[1]), float(c[2]))


def _scaled(color: Color, factor: float) -> Color:
    return _rgb(np.clip(np.asarray(color) * factor, 0.0, 1.0))


def _jitter(rng: np.random.Generator, color: Color, amount: float = 0.04) -> Color:
    return _rgb(np.clip(np.asarray(color) + rng.uniform(-amount, amount, 3), 0.0, 1.0))


#: Floors of the standard look: (surface word, far colour, near colour, pattern) by setting.
_FLOORS = {
    "indoor": (
        ("wooden", (0.50, 0.34, 0.20), (0.62, 0.43, 0.26), "boards"),
        ("concrete", (0.52, 0.52, 0.50), (0.62, 0.62, 0.60), "plain"),
        ("tiled", (0.78, 0.74, 0.66), (0.86, 0.82, 0.74), "tiles"),
    ),
    "outdoor": (
        ("grassy", (0.25, 0.48, 0.18), (0.33, 0.58, 0.22), "grass"),
        ("stone", (0.55, 0.53, 0.50), (0.66, 0.64, 0.60), "tiles"),
    ),
    "street": (("asphalt", (0.30, 0.30, 0.32), (0.38, 0.38, 0.40), "asphalt"),),
}
_WALLS = (
    ((0.86, 0.82, 0.72), (0.78, 0.74, 0.64)),
    ((0.80, 0.80, 0.82), (0.70, 0.70, 0.73)),
    ((0.75, 0.83, 0.90), (0.66, 0.74, 0.82)),
)
_SKY = ((0.45, 0.65, 0.92), (0.78, 0.86, 0.95))
_NOVEL_WALLS = (
    ((0.45, 0.10, 0.55), (0.30, 0.05, 0.40)),
    ((0.05, 0.35, 0.35), (0.02, 0.22, 0.25)),
    ((0.08, 0.08, 0.30), (0.05, 0.05, 0.20)),
)
_NOVEL_FLOORS = (
    ((0.95, 0.55, 0.10), (1.0, 0.70, 0.25)),
    ((0.10, 0.75, 0.65), (0.20, 0.85, 0.75)),
    ((0.85, 0.20, 0.35), (0.95, 0.35, 0.45)),
)
#: Every colour of the novel look's walls and floors (gradient ends): the repainted look keeps
#: :data:`NOVEL_MARGIN` from them.
NOVEL_WALL_COLOURS: tuple[Color, ...] = tuple(c for pair in _NOVEL_WALLS for c in pair)
NOVEL_FLOOR_COLOURS: tuple[Color, ...] = tuple(c for pair in _NOVEL_FLOORS for c in pair)


def sample_look(rng: np.random.Generator, variant: str, setting: str) -> tuple[Look, str]:
    """A random look for ``setting``; returns it with the floor's surface word. A ``mixed``
    look comes back as the standard or repainted one it drew."""
    if variant not in LOOK_VARIANTS:
        raise ValueError(f"unknown look variant {variant!r}")
    if variant == "mixed":
        variant = "repainted" if rng.random() < 0.5 else "standard"
    surface, far, near, pattern = _FLOORS[setting][int(rng.integers(len(_FLOORS[setting])))]
    if setting == "indoor":
        top, bottom = _WALLS[int(rng.integers(len(_WALLS)))]
    else:
        top, bottom = _SKY
    if variant == "novel":
        top, bottom = _NOVEL_WALLS[int(rng.integers(len(_NOVEL_WALLS)))]
        far, near = _NOVEL_FLOORS[int(rng.integers(len(_NOVEL_FLOORS)))]
        pattern = "stripes" if pattern != "asphalt" else pattern
    elif variant == "repainted":
        top = _colour_away_from(rng, NOVEL_WALL_COLOURS)
        far = _colour_away_from(rng, NOVEL_FLOOR_COLOURS)
        # The standard looks' gentle gradients: a darker wall foot, a lighter near floor.
        bottom = _scaled(top, 0.88)
        near = _scaled(far, 1.15)
    look = Look(
        variant, _jitter(rng, top), _jitter(rng, bottom), _jitter(rng, far), _jitter(rng, near), pattern
    )
    return look, surface


def render_backdrop(look: Look, size: int, floor_y: float, rng: np.random.Generator) -> np.ndarray:
    """The static background: wall/sky gradient above ``floor_y``, textured floor below."""
    image = np.empty((size, size, 3), np.float32)
    image[:] = vertical_gradient(size, look.wall_top, look.wall_bottom, 0.0, floor_y)
    rows = (np.arange(size) + 0.5) / size
    cols = (np.arange(size) + 0.5) / size
    floor_rows = rows >= floor_y
    image[floor_rows] = vertical_gradient(size, look.floor_far, look.floor_near, floor_y, 1.0)[floor_rows]
    depth = np.clip((rows - floor_y) / max(1.0 - floor_y, 1e-6), 0.0, 1.0)[:, None]  # 0 far … 1 near
    pattern = np.zeros((size, size), np.float32)
    if look.floor_pattern == "boards":
        # Boards converge towards a vanishing point above the frame centre.
        spread = cols[None, :] - 0.5
        lines = np.abs(np.sin(np.pi * 9 * spread / (0.35 + 0.65 * depth))) < 0.12
        pattern = np.where(lines, -0.12, 0.0)
    elif look.floor_pattern in ("tiles", "stripes"):
        v = np.log1p(8 * depth) * 4.0
        u = (cols[None, :] - 0.5) * 8 / (0.35 + 0.65 * depth)
        if look.floor_pattern == "tiles":
            pattern = np.where((np.floor(u) + np.floor(v)) % 2 == 0, 0.06, -0.04)
        else:
            pattern = np.where(np.floor(v) % 2 == 0, 0.12, -0.08) * np.ones_like(u)
    elif look.floor_pattern == "grass":
        pattern = rng.uniform(-0.08, 0.08, (size, size)).astype(np.float32)
    elif look.floor_pattern == "asphalt":
        pattern = rng.uniform(-0.04, 0.04, (size, size)).astype(np.float32)
        lane = np.abs(rows - (floor_y + 0.45 * (1 - floor_y)))[:, None] < 0.012
        dashes = (np.floor(cols * 6) % 2 == 0)[None, :]
        pattern = np.where(lane & dashes, 0.45, pattern)
    pattern = np.where(floor_rows[:, None], pattern, 0.0)
    image += pattern[..., None].astype(np.float32)
    # A faint static grain keeps flat areas from looking synthetic to a video encoder.
    image += rng.normal(0.0, 0.006, (size, size, 1)).astype(np.float32)
    # Contact line between wall and floor.
    edge = np.abs(rows - floor_y) < 0.6 / size
    image[edge] *= 0.8
    return np.clip(image, 0.0, 1.0)
