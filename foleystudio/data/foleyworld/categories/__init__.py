"""The FoleyWorld categories, by name (see each module for its physics and sound model)."""

from __future__ import annotations

from foleystudio.data.foleyworld.categories.balls import BALLS
from foleystudio.data.foleyworld.categories.base import Category, SourceTrack
from foleystudio.data.foleyworld.categories.bell import Bell
from foleystudio.data.foleyworld.categories.bird import Bird
from foleystudio.data.foleyworld.categories.car import Car
from foleystudio.data.foleyworld.categories.door import Door
from foleystudio.data.foleyworld.categories.drips import Drips
from foleystudio.data.foleyworld.categories.hammer import HammerAnvil
from foleystudio.data.foleyworld.categories.walker import Walker

#: Every category, by name, in a fixed order (class indices of classifiers follow it).
REGISTRY: dict[str, Category] = {
    c.name: c for c in (*BALLS, HammerAnvil(), Walker(), Door(), Car(), Bird(), Drips(), Bell())
}

__all__ = ["REGISTRY", "Category", "SourceTrack"]
