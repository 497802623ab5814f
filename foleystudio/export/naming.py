"""File names of exported stems: ``<project>_<NN>_<track>.wav`` with Foley naming presets.

A :class:`NamingPreset` is a plain, JSON-able value the user can edit (the GUI stores it with
the user settings): a ``template`` and ``rules`` that map track names to a Foley category
prefix. Foley stems are conventionally split into FEET (footsteps), CLOTH (moves: clothing
rustle, body movement) and PROPS (spot effects: everything handled). A rule matches when one
of its keywords appears as a word (case-insensitive) in the track name; the first matching
rule wins and ``default_category`` covers the rest.

Template fields: ``{project}``, ``{nn}`` (two-digit track number, 1-based in project order),
``{category}``, ``{track}``; per-clip files add ``{clip}`` (three-digit clip number on its
track, in time order) and ``{label}``. Every field is sanitised for file systems (ASCII
letters, digits, ``-`` and ``_``; spaces become ``-``), empty fields collapse with their
``_`` separator, and a track named exactly like its category does not repeat it
(``FEET`` on the FEET rule gives ``Film_01_FEET.wav``, not ``Film_01_FEET_FEET.wav``).
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foleystudio.errors import UsageError

#: Longest file name we produce before the extension (well under every file system's 255).
MAX_NAME_CHARS = 120

#: Longest clip label kept in a per-clip file name (labels can be whole captions).
MAX_LABEL_CHARS = 40

#: Names Windows refuses for files, whatever the extension.
_WINDOWS_RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{i}" for i in range(1, 10)),
    *(f"LPT{i}" for i in range(1, 10)),
}

_TEMPLATE_FIELDS = {"project", "nn", "category", "track", "clip", "label"}


@dataclass(frozen=True)
class NamingRule:
    """Tracks whose name contains one of ``keywords`` (as a word) get ``category``."""

    category: str
    keywords: tuple[str, ...]

    def matches(self, track_name: str) -> bool:
        words = set(re.findall(r"[a-z0-9]+", _ascii(track_name).lower()))
        return any(keyword.lower() in words for keyword in self.keywords)


@dataclass(frozen=True)
class NamingPreset:
    """How exported files are named; see the module docstring for the fields."""

    name: str = "Foley"
    template: str = "{project}_{nn}_{category}_{track}"
    clip_template: str = "{project}_{nn}_{category}_{track}_{clip}_{label}"
    rules: tuple[NamingRule, ...] = field(default_factory=lambda: FOLEY_RULES)
    default_category: str = "PROPS"

    def __post_init__(self) -> None:
        for template in (self.template, self.clip_template):
            used = set(re.findall(r"{(\w+)", template))
            unknown = used - _TEMPLATE_FIELDS
            if unknown:
                raise UsageError(
                    f"naming preset {self.name!r}: unknown field(s) {sorted(unknown)} in {template!r}; "
                    f"use {sorted(_TEMPLATE_FIELDS)}"
                )

    def category_for(self, track_name: str) -> str:
        """The Foley category prefix of a track ("" when the preset has no default)."""
        for rule in self.rules:
            if rule.matches(track_name):
                return rule.category
        return self.default_category

    def stem_name(self, project: str, number: int, track: str, suffix: str = ".wav") -> str:
        """File name of the stem of track ``number`` (1-based) called ``track``."""
        return self._render(self.template, project, number, track, suffix)

    def clip_name(
        self, project: str, number: int, track: str, clip: int, label: str = "", suffix: str = ".wav"
    ) -> str:
        """File name of clip ``clip`` (1-based, time order) of track ``number``."""
        return self._render(self.clip_template, project, number, track, suffix, clip=clip, label=label)

    def _render(self, template: str, project: str, number: int, track: str, suffix: str, **extra: Any) -> str:
        category = sanitize_component(self.category_for(track))
        track_part = sanitize_component(track)
        if category and track_part.upper() == category.upper():
            track_part = ""
        values = {
            "project": sanitize_component(project),
            "nn": f"{number:02d}",
            "category": category,
            "track": track_part,
            "clip": f"{extra['clip']:03d}" if "clip" in extra else "",
            "label": sanitize_component(extra.get("label", ""))[:MAX_LABEL_CHARS].strip("-_"),
        }
        text = template.format(**values)
        text = re.sub(r"_{2,}", "_", text).strip("_-.") or "untitled"
        text = text[:MAX_NAME_CHARS].rstrip("_-.")
        if text.split(".")[0].upper() in _WINDOWS_RESERVED:
            text = f"_{text}"
        return text + suffix

    # --- JSON ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "template": self.template,
            "clip_template": self.clip_template,
            "default_category": self.default_category,
            "rules": [{"category": r.category, "keywords": list(r.keywords)} for r in self.rules],
        }

    @classmethod
    def from_dict(cls, data: Any) -> NamingPreset:
        """Parse a preset; raises :class:`UsageError` for malformed data."""
        if not isinstance(data, dict):
            raise UsageError("naming preset must be a JSON object")
        try:
            rules = tuple(
                NamingRule(category=str(r["category"]), keywords=tuple(str(k) for k in r["keywords"]))
                for r in data.get("rules", [])
            )
            defaults = cls()
            return cls(
                name=str(data.get("name", defaults.name)),
                template=str(data.get("template", defaults.template)),
                clip_template=str(data.get("clip_template", defaults.clip_template)),
                rules=rules,
                default_category=str(data.get("default_category", defaults.default_category)),
            )
        except (KeyError, TypeError) as exc:
            raise UsageError(f"malformed naming preset: {type(exc).__name__}: {exc}") from exc


#: Keyword rules of the default Foley preset (matched as whole words in track names).
FOLEY_RULES: tuple[NamingRule, ...] = (
    NamingRule(
        "FEET",
        (
            "feet",
            "foot",
            "footstep",
            "footsteps",
            "steps",
            "step",
            "walk",
            "walking",
            "run",
            "running",
            "shoe",
            "shoes",
            "heels",
            "boots",
            "boot",
        ),
    ),
    NamingRule(
        "CLOTH",
        (
            "cloth",
            "cloths",
            "clothes",
            "moves",
            "move",
            "movement",
            "fabric",
            "jacket",
            "coat",
            "leather",
            "rustle",
            "body",
        ),
    ),
    NamingRule("PROPS", ("props", "prop", "spot", "spots", "fx", "hands")),
)

#: The default preset: ``Film_01_FEET_Footsteps-John.wav``.
FOLEY_PRESET = NamingPreset()

#: No categories: ``Film_01_Footsteps-John.wav``.
PLAIN_PRESET = NamingPreset(
    name="Plain",
    template="{project}_{nn}_{track}",
    clip_template="{project}_{nn}_{track}_{clip}_{label}",
    rules=(),
    default_category="",
)

PRESETS: dict[str, NamingPreset] = {"foley": FOLEY_PRESET, "plain": PLAIN_PRESET}


def load_preset(value: str) -> NamingPreset:
    """A built-in preset by name (any case), or a preset JSON file (relative to the current
    folder); raises :class:`UsageError` for an unknown name or a bad file."""
    if value.lower() in PRESETS:
        return PRESETS[value.lower()]
    path = Path(value).expanduser()
    if not path.is_file():
        raise UsageError(f"unknown naming preset {value!r}: use {', '.join(PRESETS)} or a .json file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read naming preset: {exc}", path) from exc
    return NamingPreset.from_dict(data)


def sanitize_component(text: str) -> str:
    """A file-name-safe piece: accents dropped, runs of other characters turned into ``-``."""
    text = _ascii(text).strip()
    text = re.sub(r"\s+", "-", text)
    text = re.sub(r"[^A-Za-z0-9_-]+", "-", text)
    text = re.sub(r"-{2,}", "-", text)
    return text.strip("-_")


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode("ascii")
