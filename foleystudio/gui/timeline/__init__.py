"""The timeline panel (QGraphicsView): ruler, thumbnails, track headers, clips."""

from foleystudio.gui.timeline.panel import TimelinePanel, TimelineView

__all__ = ["TimelinePanel", "TimelineView"]
