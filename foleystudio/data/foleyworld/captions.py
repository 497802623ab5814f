"""Labels, short texts and detailed captions of FoleyWorld sources and clips.

A short text names the sound ("a metal ball bouncing"); a detailed caption describes it
the way SoundCap does — what sounds, its material, how many events and their rhythm, how
loud — e.g. "five bright ringing metallic clanks as a steel ball bounces on a concrete
floor, getting faster and softer, loud". The clip caption joins the sources' captions and
adds the background ambience and any off-screen sound. All words come from the simulation
(event times, strengths, levels), so captions are true to the clip.
"""

from __future__ import annotations

import numpy as np

from foleystudio.data.foleyworld.ambience import OFFSCREEN_PHRASES

_NUMBERS = (
    "no",
    "a single",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
)
_SURFACES = {
    "wooden": "a wooden floor",
    "concrete": "a concrete floor",
    "tiled": "a tiled floor",
    "grassy": "grass",
    "stone": "stone paving",
    "asphalt": "asphalt",
}
_BALL_SOUND = {
    "metal": ("bright ringing metallic", "clank", "steel"),
    "wood": ("hollow wooden", "knock", "wooden"),
    "rubber": ("dull rubbery", "thud", "rubber"),
    "glass": ("high glassy", "clink", "glass"),
}
_MATERIAL_WORD = {"metal": "metal", "wood": "wooden", "rubber": "rubber", "glass": "glass"}

LABELS = {
    "ball_wood": "wooden ball",
    "ball_metal": "metal ball",
    "ball_rubber": "rubber ball",
    "ball_glass": "glass ball",
    "hammer_anvil": "hammer and anvil",
    "footsteps": "footsteps",
    "door_slam": "door",
    "car_passing": "car",
    "bird_chirps": "bird",
    "water_drips": "dripping tap",
    "bell_ringing": "bell",
}


def article(word: str) -> str:
    """ "a" or "an" for the word that follows."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def count_phrase(n: int, singular: str, plural: str | None = None) -> str:
    """ "a single knock", "three knocks", "many knocks"."""
    plural = plural or singular + "s"
    if n < len(_NUMBERS):
        return f"{_NUMBERS[n]} {singular if n == 1 else plural}"
    return f"many {plural}"


def rhythm_phrase(times: list[float] | np.ndarray) -> str:
    """How the events are spaced: getting faster, slowing down, steady or irregular ("" if < 3)."""
    times = np.asarray(times, np.float64)
    if times.size < 3:
        return ""
    gaps = np.diff(times)
    if gaps[-1] < 0.75 * gaps[0] and np.all(np.diff(gaps) <= 1e-9):
        return "getting faster"
    if gaps[-1] > 1.33 * gaps[0] and np.all(np.diff(gaps) >= -1e-9):
        return "slowing down"
    cv = float(gaps.std() / max(gaps.mean(), 1e-9))
    if cv < 0.12:
        return "at a steady rhythm"
    return "at an irregular rhythm"


def pause_count(times: list[float] | np.ndarray) -> int:
    """Gaps longer than 1.6× the median gap: pauses in an otherwise regular sequence."""
    gaps = np.diff(np.asarray(times, np.float64))
    if gaps.size < 3:
        return 0
    return int(np.sum(gaps > 1.6 * np.median(gaps)))


def bounce_runs(times: list[float] | np.ndarray) -> int:
    """Number of bouncing runs: a gap longer than 1.25× the one before starts a new run."""
    gaps = np.diff(np.asarray(times, np.float64))
    if gaps.size < 2:
        return 1
    return 1 + int(np.sum(gaps[1:] > 1.25 * gaps[:-1] + 1e-9))


def loudness_word(peak_dbfs: float) -> str:
    """ "loud", "moderately loud" or "quiet" from a stem's peak level in dBFS."""
    if peak_dbfs >= -8.0:
        return "loud"
    if peak_dbfs >= -16.0:
        return "moderately loud"
    return "quiet"


def source_text(category: str, details: dict) -> str:
    """The short text of a source, e.g. "a metal ball bouncing"."""
    if category.startswith("ball_"):
        return f"a {_MATERIAL_WORD[details['material']]} ball bouncing"
    return {
        "hammer_anvil": "a hammer striking an anvil",
        "footsteps": f"footsteps on {_SURFACES.get(details.get('surface', ''), 'the floor')}",
        "door_slam": "a door slamming",
        "car_passing": "a car passing by",
        "bird_chirps": "a bird chirping",
        "water_drips": "water dripping",
        "bell_ringing": "a bell ringing",
    }[category]


def source_caption(
    category: str, details: dict, times: list[float], strengths: list[float], peak_dbfs: float
) -> str:
    """The detailed caption of one source from its events and level."""
    n = len(times)
    rhythm = rhythm_phrase(times)
    softer = n >= 3 and strengths[-1] < 0.7 * strengths[0]
    loud = loudness_word(peak_dbfs)
    trend = ", ".join(p for p in (rhythm, "getting softer" if softer else "") if p)
    if trend and rhythm == "getting faster" and softer:
        trend = "getting faster and softer"
    if category.startswith("ball_"):
        adjective, noun, material = _BALL_SOUND[details["material"]]
        surface = _SURFACES.get(details.get("surface", ""), "the floor")
        what = f"{count_phrase(n, f'{adjective} {noun}')} as a {material} ball bounces on {surface}"
        n_runs = bounce_runs(times)
        if n_runs > 1:  # thrown up again after coming to rest
            trend = f"in {_NUMBERS[n_runs] if n_runs < len(_NUMBERS) else 'many'} runs that each speed up and fade"
    elif category == "hammer_anvil":
        what = f"{count_phrase(n, 'sharp ringing clang')} of a hammer striking a steel anvil"
    elif category == "footsteps":
        pace = "brisk" if details["period"] < 0.48 else "slow" if details["period"] > 0.56 else "steady"
        surface = _SURFACES.get(details.get("surface", ""), "the floor")
        what = f"{count_phrase(n, f'{pace} footstep')} in {details['shoes']} on {surface}"
        stops = pause_count(times)
        if stops:  # the walker stood still for a moment
            trend = "with a pause" if stops == 1 else f"with {_NUMBERS[min(stops, 12)]} pauses"
    elif category == "door_slam":
        what = f"{count_phrase(n, 'heavy wooden slam')} of {article(details['color'])} {details['color']} door being shut hard"
        if details.get("creaks"):
            what += ", its hinge creaking as it opens"
    elif category == "car_passing":
        pitch = {
            "speeding up": "rising in pitch as it speeds up",
            "slowing down": "falling in pitch as it slows down",
            "at a steady speed": "at a steady speed",
        }[details["trend"]]
        what = (
            f"the humming engine of {article(details['color'])} {details['color']} car driving past from {details['direction']}, "
            f"{pitch}, loudest as it passes"
        )
    elif category == "bird_chirps":
        note = {"up": "rising", "down": "falling", "trill": "trilling"}[details["note"]]
        what = f"{count_phrase(n, f'short high {note} chirp')} of a small {details['color']} bird, in quick phrases"
        trend = ""
    elif category == "water_drips":
        what = f"{count_phrase(n, 'water drop')} plopping into {details['into']}"
    elif category == "bell_ringing":
        what = f"{count_phrase(n, 'strike')} of a swinging {details['color']} bell with a long resonant ring"
        if details.get("fading"):
            trend = ", ".join(p for p in (trend, "dying away as the swing slows") if p)
    else:
        raise KeyError(category)
    return ", ".join(p for p in (what, trend, loud) if p)


def background_phrase(ambience: str | None, offscreen: str | None) -> str:
    """E.g. "quiet room tone in the background, with a dog barking off-screen"."""
    parts = []
    if ambience:
        parts.append(f"quiet {ambience} in the background")
    if offscreen:
        parts.append(("with " if parts else "") + OFFSCREEN_PHRASES[offscreen])
    return ", ".join(parts)


def clip_caption(source_captions: list[str], background: str) -> str:
    """All sources' captions, then the background."""
    return "; ".join([*source_captions, background] if background else source_captions)


def clip_text(texts: list[str]) -> str:
    """Short clip text: the sources' texts joined with "and"."""
    if len(texts) <= 2:
        return " and ".join(texts)
    return ", ".join(texts[:-1]) + " and " + texts[-1]
