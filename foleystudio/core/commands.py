"""Undoable edits of a :class:`~foleystudio.core.project.Project` (docs/architecture.md §9).

Every edit is a command: ``apply(project)`` makes it, ``revert(project)`` takes it back so
that the project is exactly as before (``to_dict()`` equal, list order included), and
``apply`` after ``revert`` makes the same edit again (redo). Commands refer to tracks,
clips and sources by id, never by object, so they stay valid across undo/redo.

``text`` names the edit for the Edit menu. ``merge_id`` (-1 = never) and ``merge(other)``
let a drag (a stream of moves, trims, gain changes) collapse into one undo step, the way
QUndoCommand's ``id()``/``mergeWith()`` work: the stack offers the newer command to the
older one, which absorbs the newer target and keeps its own "before" state.

Validation happens at the start of ``apply``: a bad edit raises :class:`UsageError` (or
:class:`ProjectError` for an unknown id) before anything changes. Commands do not depend
on any stack. There is one undo model: the app's document records commands on its
``QUndoStack`` through ``gui/undo.py``; the CLI, which has no undo, applies them directly
(``command.apply(project)``), so both edit through the same commands.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
from collections.abc import Sequence
from typing import Any

from foleystudio.core.boxes import BoxKeyframe
from foleystudio.core.events import EventTrack, SoundEvent
from foleystudio.core.project import Clip, Project, Track, new_id
from foleystudio.core.requests import WHOLE_PICTURE
from foleystudio.core.settings import GenerationSettings
from foleystudio.core.sources import ObjectSource, Source
from foleystudio.errors import UsageError

#: Two keyframes closer than this (seconds) are the same keyframe.
KEYFRAME_TIME_TOLERANCE = 1e-6
#: Two event times closer than this (seconds) name the same event.
EVENT_TIME_TOLERANCE = 1e-6
#: The shortest clip a trim or split may leave (seconds; 1 ms).
MIN_CLIP_DURATION = 1e-3

# merge ids: one per mergeable command class
MERGE_TRACK_PROPERTY = 1
MERGE_MOVE_CLIP = 2
MERGE_TRIM_CLIP = 3
MERGE_CLIP_GAIN = 4
MERGE_BOX_KEYFRAME = 5
MERGE_IN_OUT = 6
MERGE_SETTINGS = 7
MERGE_MOVE_EVENTS = 8
MERGE_SCALE_EVENTS = 9

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


class Command:
    """Base class: subclasses set ``text`` and implement ``apply``/``revert``."""

    text: str = ""
    merge_id: int = -1

    def apply(self, project: Project) -> None:
        raise NotImplementedError

    def revert(self, project: Project) -> None:
        raise NotImplementedError

    def merge(self, other: Command) -> bool:
        """Absorb ``other`` (applied right after this one) into this command; True if done."""
        return False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.text!r}>"


# --- helpers -----------------------------------------------------------------------------
def _finite(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UsageError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def _time(value: Any, what: str) -> float:
    value = _finite(value, what)
    if value < 0:
        raise UsageError(f"{what} must be >= 0 s, got {value}")
    return value


def _track_index(project: Project, track_id: str) -> int:
    return project.tracks.index(project.track(track_id))


def _clip_index(project: Project, clip_id: str) -> tuple[Track, int]:
    track, clip = project.find_clip(clip_id)
    return track, track.clips.index(clip)


def _source_index(project: Project, source_id: str) -> int:
    return project.sources.index(project.source(source_id))


def _object_source(project: Project, source_id: str) -> tuple[int, ObjectSource]:
    index = _source_index(project, source_id)
    source = project.sources[index]
    if not isinstance(source, ObjectSource):
        raise UsageError(f"source {source.label!r} is a {source.kind} source; only object sources have boxes")
    return index, source


def _clip_label(clip: Clip) -> str:
    return f" '{clip.label}'" if clip.label else ""


# --- tracks ------------------------------------------------------------------------------
class AddTrack(Command):
    """Insert ``track`` (with any clips it holds) at ``index`` (default: at the end)."""

    def __init__(self, track: Track, index: int | None = None) -> None:
        self.track = copy.deepcopy(track)
        self.index = index
        self.text = f"Add track '{track.name}'"

    def apply(self, project: Project) -> None:
        if any(t.id == self.track.id for t in project.tracks):
            raise UsageError(f"a track with id {self.track.id!r} already exists")
        ids = {c.id for t in project.tracks for c in t.clips}
        if any(c.id in ids for c in self.track.clips):
            raise UsageError("the new track holds a clip whose id is already used")
        index = len(project.tracks) if self.index is None else self.index
        if not 0 <= index <= len(project.tracks):
            raise UsageError(f"track index {index} out of range 0..{len(project.tracks)}")
        project.tracks.insert(index, copy.deepcopy(self.track))

    def revert(self, project: Project) -> None:
        project.tracks.pop(_track_index(project, self.track.id))


class RemoveTrack(Command):
    """Delete a track and its clips; undo puts it back at the same index."""

    def __init__(self, track_id: str) -> None:
        self.track_id = track_id
        self.text = "Remove track"
        self._removed: tuple[int, Track] | None = None

    def apply(self, project: Project) -> None:
        index = _track_index(project, self.track_id)
        track = project.tracks.pop(index)
        self._removed = (index, track)
        self.text = f"Remove track '{track.name}'"

    def revert(self, project: Project) -> None:
        assert self._removed is not None, "revert before apply"
        index, track = self._removed
        project.tracks.insert(index, track)


TRACK_PROPERTIES = ("name", "gain_db", "pan", "mute", "solo", "colour")


class SetTrackProperty(Command):
    """Set one of ``name``, ``gain_db``, ``pan``, ``mute``, ``solo``, ``colour`` on a track.

    Gain and pan changes of the same track merge (a fader or knob drag is one step).
    """

    def __init__(self, track_id: str, name: str, value: Any) -> None:
        if name not in TRACK_PROPERTIES:
            raise UsageError(f"unknown track property {name!r}; one of {', '.join(TRACK_PROPERTIES)}")
        self.track_id, self.name, self.value = track_id, name, _check_track_value(name, value)
        self.merge_id = MERGE_TRACK_PROPERTY if name in ("gain_db", "pan") else -1
        self.text = {
            "name": "Rename track",
            "gain_db": "Track gain",
            "pan": "Track pan",
            "mute": "Mute track" if value else "Unmute track",
            "solo": "Solo track" if value else "Unsolo track",
            "colour": "Track colour",
        }[name]
        self._old: Any = None

    def apply(self, project: Project) -> None:
        track = project.track(self.track_id)
        self._old = getattr(track, self.name)
        setattr(track, self.name, self.value)

    def revert(self, project: Project) -> None:
        setattr(project.track(self.track_id), self.name, self._old)

    def merge(self, other: Command) -> bool:
        if self.merge_id == -1:  # name, mute, solo, colour: every change is its own step
            return False
        if isinstance(other, SetTrackProperty) and (other.track_id, other.name) == (self.track_id, self.name):
            self.value = other.value
            return True
        return False


def _check_track_value(name: str, value: Any) -> Any:
    if name == "name":
        if not isinstance(value, str) or not value.strip():
            raise UsageError("a track name must not be empty")
        return value.strip()
    if name == "gain_db":
        return _finite(value, "track gain (dB)")
    if name == "pan":
        pan = _finite(value, "pan")
        if not -1.0 <= pan <= 1.0:
            raise UsageError(f"pan must be in [-1, 1], got {pan}")
        return pan
    if name in ("mute", "solo"):
        if not isinstance(value, bool):
            raise UsageError(f"{name} must be true or false, got {value!r}")
        return value
    if not isinstance(value, str) or not _COLOUR.match(value):
        raise UsageError(f"colour must look like #rrggbb, got {value!r}")
    return value.lower()


# --- clips -------------------------------------------------------------------------------
def _check_clip(clip: Clip) -> None:
    _time(clip.position, "clip position")
    _time(clip.offset, "clip offset")
    if _finite(clip.duration, "clip duration") <= 0:
        raise UsageError(f"clip duration must be > 0 s, got {clip.duration}")
    _finite(clip.gain_db, "clip gain (dB)")


class AddClip(Command):
    """Append ``clip`` to a track."""

    def __init__(self, track_id: str, clip: Clip) -> None:
        self.track_id = track_id
        self.clip = copy.deepcopy(clip)
        self.text = f"Add clip{_clip_label(clip)}"

    def apply(self, project: Project) -> None:
        _check_clip(self.clip)
        track = project.track(self.track_id)
        if any(c.id == self.clip.id for t in project.tracks for c in t.clips):
            raise UsageError(f"a clip with id {self.clip.id!r} already exists")
        track.clips.append(copy.deepcopy(self.clip))

    def revert(self, project: Project) -> None:
        track, index = _clip_index(project, self.clip.id)
        track.clips.pop(index)


class RemoveClip(Command):
    """Delete a clip; undo puts it back in the same track at the same index."""

    def __init__(self, clip_id: str) -> None:
        self.clip_id = clip_id
        self.text = "Delete clip"
        self._removed: tuple[str, int, Clip] | None = None

    def apply(self, project: Project) -> None:
        track, index = _clip_index(project, self.clip_id)
        clip = track.clips.pop(index)
        self._removed = (track.id, index, clip)
        self.text = f"Delete clip{_clip_label(clip)}"

    def revert(self, project: Project) -> None:
        assert self._removed is not None, "revert before apply"
        track_id, index, clip = self._removed
        project.track(track_id).clips.insert(index, clip)


class MoveClip(Command):
    """Move a clip to ``position`` (s) and/or onto another track; drags of one clip merge.

    A clip moved to another track is appended there; undo restores its old track and index.
    """

    merge_id = MERGE_MOVE_CLIP

    def __init__(self, clip_id: str, position: float | None = None, track_id: str | None = None) -> None:
        if position is None and track_id is None:
            raise UsageError("a move needs a new position, a new track, or both")
        self.clip_id = clip_id
        self.position = None if position is None else _time(position, "clip position")
        self.track_id = track_id
        self.text = "Move clip"
        self._old: tuple[str, int, float] | None = None
        # Track changes merged in later, replayed in order on redo: a clip dragged to
        # another track and back ends up appended, and redo must reproduce exactly that.
        self._chain: list[MoveClip] = []

    def apply(self, project: Project) -> None:
        source, index = _clip_index(project, self.clip_id)
        target = source if self.track_id is None else project.track(self.track_id)
        clip = source.clips[index]
        self._old = (source.id, index, clip.position)
        if self.position is not None:
            clip.position = self.position
        if target is not source:
            source.clips.pop(index)
            target.clips.append(clip)
        for later in self._chain:
            later.apply(project)

    def revert(self, project: Project) -> None:
        assert self._old is not None, "revert before apply"
        for later in reversed(self._chain):
            later.revert(project)
        track_id, index, position = self._old
        current, now = _clip_index(project, self.clip_id)
        clip = current.clips.pop(now)
        clip.position = position
        project.track(track_id).clips.insert(index, clip)

    def merge(self, other: Command) -> bool:
        if not isinstance(other, MoveClip) or other.clip_id != self.clip_id:
            return False
        last = self._chain[-1] if self._chain else self
        if other.track_id is None and other.position is not None:
            last.position = other.position  # a move in time only: the last step just lands elsewhere
        elif other.track_id is not None:
            self._chain.append(other)
        return True


class TrimClip(Command):
    """Move a clip's ``"start"`` or ``"end"`` edge to timeline time ``time`` (s).

    Trimming the start moves position and offset together (the audio stays in sync with
    the picture). Extending is clamped at the start of the render, at timeline 0 and, when
    the render's length is known (``render_duration`` s, or read from the file's header),
    at its end. A trim that would leave less than :data:`MIN_CLIP_DURATION` is refused.
    Drags of the same edge merge.
    """

    merge_id = MERGE_TRIM_CLIP

    def __init__(self, clip_id: str, edge: str, time: float, render_duration: float | None = None) -> None:
        if edge not in ("start", "end"):
            raise UsageError(f"trim edge must be 'start' or 'end', got {edge!r}")
        self.clip_id, self.edge, self.time = clip_id, edge, _finite(time, "trim time")
        self.render_duration = None if render_duration is None else _time(render_duration, "render duration")
        self.text = f"Trim clip {edge}"
        self._old: tuple[float, float, float] | None = None

    def apply(self, project: Project) -> None:
        _, clip = project.find_clip(self.clip_id)
        render_length = (
            self.render_duration if self.render_duration is not None else _render_seconds(clip.render)
        )
        position, offset, duration = clip.position, clip.offset, clip.duration
        if self.edge == "start":
            delta = self.time - position
            delta = max(delta, -offset, -position)  # cannot start before the render or before 0
            new = (position + delta, offset + delta, duration - delta)
        else:
            length = self.time - position
            if render_length is not None:
                length = min(length, render_length - offset)
            new = (position, offset, length)
        if new[2] < MIN_CLIP_DURATION:
            raise UsageError(f"trim would leave the clip {new[2]:.4f} s long (minimum {MIN_CLIP_DURATION} s)")
        self._old = (position, offset, duration)
        clip.position, clip.offset, clip.duration = new

    def revert(self, project: Project) -> None:
        assert self._old is not None, "revert before apply"
        _, clip = project.find_clip(self.clip_id)
        clip.position, clip.offset, clip.duration = self._old

    def merge(self, other: Command) -> bool:
        if isinstance(other, TrimClip) and (other.clip_id, other.edge) == (self.clip_id, self.edge):
            self.time = other.time
            if other.render_duration is not None:
                self.render_duration = other.render_duration
            return True
        return False


def _render_seconds(path: str) -> float | None:
    """The length of a render file from its header, or None if it cannot be read."""
    import soundfile as sf  # local: only trims with an unknown render length need it

    try:
        return float(sf.info(path).duration)
    except (sf.SoundFileError, RuntimeError, OSError):
        return None


class SplitClip(Command):
    """Cut a clip at timeline time ``time`` (s) into two; the right part gets ``new_clip_id``.

    The new id is fixed when the command is made (a fresh one by default), so redo
    recreates the same clip and later commands can refer to it.
    """

    def __init__(self, clip_id: str, time: float, new_clip_id: str | None = None) -> None:
        self.clip_id, self.time = clip_id, _finite(time, "split time")
        self.new_clip_id = new_clip_id or new_id()
        self.text = "Split clip"
        self._old_duration: float | None = None

    def apply(self, project: Project) -> None:
        track, index = _clip_index(project, self.clip_id)
        clip = track.clips[index]
        if not clip.position + MIN_CLIP_DURATION <= self.time <= clip.end - MIN_CLIP_DURATION:
            raise UsageError(
                f"split time {self.time:.3f} s is not inside the clip ({clip.position:.3f}-{clip.end:.3f} s)"
            )
        if any(c.id == self.new_clip_id for t in project.tracks for c in t.clips):
            raise UsageError(f"a clip with id {self.new_clip_id!r} already exists")
        left = self.time - clip.position
        right = dataclasses.replace(
            copy.deepcopy(clip),
            id=self.new_clip_id,
            position=self.time,
            offset=clip.offset + left,
            duration=clip.end - self.time,
        )
        self._old_duration = clip.duration
        clip.duration = left
        track.clips.insert(index + 1, right)

    def revert(self, project: Project) -> None:
        assert self._old_duration is not None, "revert before apply"
        track, index = _clip_index(project, self.new_clip_id)
        track.clips.pop(index)
        project.find_clip(self.clip_id)[1].duration = self._old_duration


class SetClipGain(Command):
    """Set a clip's gain (dB); successive changes of one clip merge."""

    merge_id = MERGE_CLIP_GAIN

    def __init__(self, clip_id: str, gain_db: float) -> None:
        self.clip_id, self.gain_db = clip_id, _finite(gain_db, "clip gain (dB)")
        self.text = "Clip gain"
        self._old: float | None = None

    def apply(self, project: Project) -> None:
        _, clip = project.find_clip(self.clip_id)
        self._old = clip.gain_db
        clip.gain_db = self.gain_db

    def revert(self, project: Project) -> None:
        assert self._old is not None, "revert before apply"
        project.find_clip(self.clip_id)[1].gain_db = self._old

    def merge(self, other: Command) -> bool:
        if isinstance(other, SetClipGain) and other.clip_id == self.clip_id:
            self.gain_db = other.gain_db
            return True
        return False


# --- sources -----------------------------------------------------------------------------
def _source_name(source: Source) -> str:
    return f"{source.kind} source '{source.label}'" if source.label else f"{source.kind} source"


class AddSource(Command):
    """Add a source (object, text or audio prompt) at ``index`` (default: at the end)."""

    def __init__(self, source: Source, index: int | None = None) -> None:
        self.source, self.index = source, index
        self.text = f"Add {_source_name(source)}"

    def apply(self, project: Project) -> None:
        if any(s.id == self.source.id for s in project.sources):
            raise UsageError(f"a source with id {self.source.id!r} already exists")
        if isinstance(self.source, ObjectSource) and not self.source.keyframes:
            raise UsageError("an object source needs at least one box keyframe")
        index = len(project.sources) if self.index is None else self.index
        if not 0 <= index <= len(project.sources):
            raise UsageError(f"source index {index} out of range 0..{len(project.sources)}")
        project.sources.insert(index, self.source)

    def revert(self, project: Project) -> None:
        project.sources.pop(_source_index(project, self.source.id))


class RemoveSource(Command):
    """Remove a source and its event track; tracks linked to it are unlinked (their clips
    stay). Undo relinks and restores the events."""

    def __init__(self, source_id: str) -> None:
        self.source_id = source_id
        self.text = "Remove source"
        self._removed: tuple[int, Source, list[str], EventTrack | None] | None = None

    def apply(self, project: Project) -> None:
        index = _source_index(project, self.source_id)
        linked = [t.id for t in project.tracks if t.source_id == self.source_id]
        source = project.sources.pop(index)
        for track in project.tracks:
            if track.id in linked:
                track.source_id = None
        events = project.events.pop(self.source_id, None)
        self._removed = (index, source, linked, events)
        self.text = f"Remove {_source_name(source)}"

    def revert(self, project: Project) -> None:
        assert self._removed is not None, "revert before apply"
        index, source, linked, events = self._removed
        project.sources.insert(index, source)
        for track in project.tracks:
            if track.id in linked:
                track.source_id = self.source_id
        if events is not None:
            project.events[self.source_id] = events


class ReplaceSource(Command):
    """Replace the source with the same id by ``source`` (rename, new text, new file, …)."""

    def __init__(self, source: Source, text: str | None = None) -> None:
        self.source = source
        self.text = text or f"Edit {_source_name(source)}"
        self._old: Source | None = None

    def apply(self, project: Project) -> None:
        index = _source_index(project, self.source.id)
        old = project.sources[index]
        if old.kind != self.source.kind:
            raise UsageError(f"cannot replace a {old.kind} source with a {self.source.kind} source")
        if isinstance(self.source, ObjectSource) and not self.source.keyframes:
            raise UsageError("an object source needs at least one box keyframe")
        self._old = old
        project.sources[index] = self.source

    def revert(self, project: Project) -> None:
        assert self._old is not None, "revert before apply"
        project.sources[_source_index(project, self.source.id)] = self._old


class SetBoxKeyframe(Command):
    """Add a keyframe to an object source, or replace the one at the same time.

    Keyframes stay sorted by time. Successive edits of the same keyframe (a box drag) merge.
    """

    merge_id = MERGE_BOX_KEYFRAME

    def __init__(self, source_id: str, keyframe: BoxKeyframe) -> None:
        _time(keyframe.time, "keyframe time")
        self.source_id, self.keyframe = source_id, keyframe
        self.text = "Set box keyframe"
        self._old: Source | None = None

    def apply(self, project: Project) -> None:
        index, source = _object_source(project, self.source_id)
        kept = [k for k in source.keyframes if abs(k.time - self.keyframe.time) > KEYFRAME_TIME_TOLERANCE]
        keys = tuple(sorted([*kept, self.keyframe], key=lambda k: k.time))
        self._old = source
        project.sources[index] = dataclasses.replace(source, keyframes=keys)

    def revert(self, project: Project) -> None:
        assert self._old is not None, "revert before apply"
        project.sources[_source_index(project, self.source_id)] = self._old

    def merge(self, other: Command) -> bool:
        if (
            isinstance(other, SetBoxKeyframe)
            and other.source_id == self.source_id
            and abs(other.keyframe.time - self.keyframe.time) <= KEYFRAME_TIME_TOLERANCE
        ):
            self.keyframe = other.keyframe
            return True
        return False


class RemoveBoxKeyframe(Command):
    """Remove the keyframe at ``time`` (s) of an object source; the last one cannot go."""

    def __init__(self, source_id: str, time: float) -> None:
        self.source_id, self.time = source_id, _finite(time, "keyframe time")
        self.text = "Remove box keyframe"
        self._old: Source | None = None

    def apply(self, project: Project) -> None:
        index, source = _object_source(project, self.source_id)
        keys = tuple(k for k in source.keyframes if abs(k.time - self.time) > KEYFRAME_TIME_TOLERANCE)
        if len(keys) == len(source.keyframes):
            raise UsageError(f"no box keyframe at {self.time:.3f} s on {source.label!r}")
        if not keys:
            raise UsageError("an object source needs at least one box keyframe; remove the source instead")
        self._old = source
        project.sources[index] = dataclasses.replace(source, keyframes=keys)

    def revert(self, project: Project) -> None:
        assert self._old is not None, "revert before apply"
        project.sources[_source_index(project, self.source_id)] = self._old


# --- event tracks ------------------------------------------------------------------------
def _event_target(project: Project, target: str) -> str:
    """``target`` if it can have an event track: ``WHOLE_PICTURE`` or an object source's id."""
    if target == WHOLE_PICTURE:
        return target
    _object_source(project, target)
    return target


def _event_target_name(project: Project, target: str) -> str:
    if target == WHOLE_PICTURE:
        return "the picture"
    source = next((s for s in project.sources if s.id == target), None)
    return f"'{source.label}'" if source is not None and source.label else "the object"


def _event_indices(track: EventTrack, times: Sequence[float]) -> list[int]:
    """Indices of the events at ``times`` (each time names a different event, within
    :data:`EVENT_TIME_TOLERANCE`); :class:`UsageError` if one is not there."""
    taken: set[int] = set()
    for t in times:
        index = next(
            (
                i
                for i, e in enumerate(track.events)
                if i not in taken and abs(e.time - t) <= EVENT_TIME_TOLERANCE
            ),
            None,
        )
        if index is None:
            raise UsageError(f"no event at {t:.3f} s")
        taken.add(index)
    return sorted(taken)


def _event_times(times: Sequence[float], what: str = "event time") -> tuple[float, ...]:
    values = tuple(_finite(t, what) for t in times)
    if not values:
        raise UsageError("no events given")
    return values


class EventEdit(Command):
    """Base of the event-track edits: ``edit(project, track)`` returns the new track of
    ``target`` (an object source's id or ``WHOLE_PICTURE``; a source without a track edits
    an empty one), or None to drop the track.

    Revert restores the track (or its absence) exactly. Merged commands (one gesture) are
    replayed in order on redo, each from the track the previous one left.
    """

    def __init__(self, target: str) -> None:
        self.target = str(target)
        self._old: tuple[bool, EventTrack | None] | None = None
        self._chain: list[EventEdit] = []

    def edit(self, project: Project, track: EventTrack) -> EventTrack | None:
        raise NotImplementedError

    def _apply_one(self, project: Project) -> None:
        _event_target(project, self.target)
        old = project.events.get(self.target)
        new = self.edit(project, old if old is not None else EventTrack())
        if new is None:
            project.events.pop(self.target, None)
        else:
            project.events[self.target] = new

    def apply(self, project: Project) -> None:
        old = (self.target in project.events, project.events.get(self.target))
        self._apply_one(project)
        self._old = old
        try:
            for later in self._chain:
                later._apply_one(project)
        except BaseException:
            self.revert(project)
            raise

    def revert(self, project: Project) -> None:
        assert self._old is not None, "revert before apply"
        had, track = self._old
        if had:
            assert track is not None
            project.events[self.target] = track
        else:
            project.events.pop(self.target, None)

    def merge(self, other: Command) -> bool:
        if type(other) is type(self) and isinstance(other, EventEdit) and other.target == self.target:
            self._chain.append(other)
            return True
        return False


class SetEventTrack(EventEdit):
    """Set a source's whole event track (detection, import), or with ``start``/``end`` (s)
    replace only the events in ``[start, end)``: the events of ``track`` inside the range
    take the place of those there, and the events outside it stay. ``track=None`` without a
    range drops the source's track (generation then uses the detector's events)."""

    def __init__(
        self,
        target: str,
        track: EventTrack | None,
        start: float | None = None,
        end: float | None = None,
        text: str | None = None,
    ) -> None:
        super().__init__(target)
        if track is not None and not isinstance(track, EventTrack):
            raise UsageError(f"expected an event track, got {type(track).__name__}")
        self.start = None if start is None else _time(start, "range start")
        self.end = None if end is None else _time(end, "range end")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise UsageError(f"range end ({self.end} s) must be after its start ({self.start} s)")
        if track is None and (self.start is not None or self.end is not None):
            track = EventTrack()  # clearing a range = replacing it with nothing
        self.track = track
        ranged = self.start is not None or self.end is not None
        self.text = text or (
            "Clear events" if track is None else "Replace events in range" if ranged else "Set events"
        )

    def edit(self, project: Project, track: EventTrack) -> EventTrack | None:
        if self.track is None:
            return None
        if self.start is None and self.end is None:
            return self.track
        lo = 0.0 if self.start is None else self.start
        hi = math.inf if self.end is None else self.end
        kept = tuple(e for e in track.events if not lo <= e.time < hi)
        return EventTrack(kept + self.track.within(lo, hi).events)

    def merge(self, other: Command) -> bool:
        return False


class AddEvent(EventEdit):
    """Add one event at ``time`` s with ``strength`` in [0, 1]."""

    def __init__(self, target: str, time: float, strength: float = 1.0) -> None:
        super().__init__(target)
        self.event = SoundEvent(_time(time, "event time"), _finite(strength, "event strength"))
        self.text = "Add event"

    def edit(self, project: Project, track: EventTrack) -> EventTrack:
        return EventTrack((*track.events, self.event))

    def merge(self, other: Command) -> bool:
        return False


class RemoveEvents(EventEdit):
    """Remove the events at ``times`` (s) of a source's track."""

    def __init__(self, target: str, times: Sequence[float]) -> None:
        super().__init__(target)
        self.times = _event_times(times)
        self.text = "Delete event" if len(self.times) == 1 else f"Delete {len(self.times)} events"

    def edit(self, project: Project, track: EventTrack) -> EventTrack:
        gone = set(_event_indices(track, self.times))
        return EventTrack(tuple(e for i, e in enumerate(track.events) if i not in gone))

    def merge(self, other: Command) -> bool:
        return False


class MoveEvents(EventEdit):
    """Move the events at ``times`` by ``delta`` s (snapping is the caller's); none may land
    before 0. Moves of one source within a gesture merge."""

    merge_id = MERGE_MOVE_EVENTS

    def __init__(self, target: str, times: Sequence[float], delta: float) -> None:
        super().__init__(target)
        self.times = _event_times(times)
        self.delta = _finite(delta, "event move")
        self.text = "Move event" if len(self.times) == 1 else f"Move {len(self.times)} events"

    def edit(self, project: Project, track: EventTrack) -> EventTrack:
        moved = set(_event_indices(track, self.times))
        earliest = min(track.events[i].time for i in moved)
        if earliest + self.delta < 0:
            raise UsageError(f"the move would put an event {-(earliest + self.delta):.3f} s before the start")
        return EventTrack(
            tuple(
                SoundEvent(max(e.time + self.delta, 0.0), e.strength) if i in moved else e
                for i, e in enumerate(track.events)
            )
        )


class ScaleEventStrengths(EventEdit):
    """Multiply the strengths of the events at ``times`` by ``factor`` (>= 0), capped at 1.
    Scalings of one source within a gesture merge."""

    merge_id = MERGE_SCALE_EVENTS

    def __init__(self, target: str, times: Sequence[float], factor: float) -> None:
        super().__init__(target)
        self.times = _event_times(times)
        self.factor = _finite(factor, "strength factor")
        if self.factor < 0:
            raise UsageError(f"a strength factor must be >= 0, got {self.factor}")
        self.text = "Event strength" if len(self.times) == 1 else f"Strength of {len(self.times)} events"

    def edit(self, project: Project, track: EventTrack) -> EventTrack:
        scaled = set(_event_indices(track, self.times))
        return EventTrack(
            tuple(
                SoundEvent(e.time, min(e.strength * self.factor, 1.0)) if i in scaled else e
                for i, e in enumerate(track.events)
            )
        )


# --- project-wide ------------------------------------------------------------------------
class SetInOut(Command):
    """Set the in and out points (s; None clears one). Marker drags merge."""

    merge_id = MERGE_IN_OUT

    def __init__(self, in_point: float | None, out_point: float | None) -> None:
        self.in_point = None if in_point is None else _time(in_point, "in point")
        self.out_point = None if out_point is None else _time(out_point, "out point")
        if self.in_point is not None and self.out_point is not None and self.out_point <= self.in_point:
            raise UsageError(f"out point ({self.out_point} s) must be after in point ({self.in_point} s)")
        self.text = "Set in/out"
        self._old: tuple[float | None, float | None] | None = None

    def apply(self, project: Project) -> None:
        self._old = (project.in_point, project.out_point)
        project.in_point, project.out_point = self.in_point, self.out_point

    def revert(self, project: Project) -> None:
        assert self._old is not None, "revert before apply"
        project.in_point, project.out_point = self._old

    def merge(self, other: Command) -> bool:
        if isinstance(other, SetInOut):
            self.in_point, self.out_point = other.in_point, other.out_point
            return True
        return False


class SetSettings(Command):
    """Change generation settings, e.g. ``SetSettings(steps=32, cfg=4.0)``.

    Changes of the same set of settings merge (a slider drag is one step).
    """

    merge_id = MERGE_SETTINGS

    def __init__(self, **changes: Any) -> None:
        if not changes:
            raise UsageError("no settings to change")
        # Checked now (names and values): a bad edit never enters the undo stack.
        GenerationSettings().replace(**changes)
        self.changes = dict(changes)
        self.text = "Change " + ", ".join(sorted(changes)) if len(changes) <= 3 else "Change settings"
        self._old: GenerationSettings | None = None

    def apply(self, project: Project) -> None:
        self._old = project.settings
        project.settings = project.settings.replace(**self.changes)

    def revert(self, project: Project) -> None:
        assert self._old is not None, "revert before apply"
        project.settings = self._old

    def merge(self, other: Command) -> bool:
        if isinstance(other, SetSettings) and set(other.changes) == set(self.changes):
            self.changes = dict(other.changes)
            return True
        return False


class CommandGroup(Command):
    """Several commands as one undo step (e.g. "Use candidate" = add a track + add a clip).

    If one fails, those already applied are reverted and the error is raised.
    """

    def __init__(self, text: str, commands: Sequence[Command]) -> None:
        self.text, self.commands = text, list(commands)

    def apply(self, project: Project) -> None:
        done: list[Command] = []
        try:
            for command in self.commands:
                command.apply(project)
                done.append(command)
        except BaseException:
            for command in reversed(done):
                command.revert(project)
            raise

    def revert(self, project: Project) -> None:
        for command in reversed(self.commands):
            command.revert(project)


# --- the headless stack ------------------------------------------------------------------
__all__ = [
    "AddClip",
    "AddEvent",
    "AddSource",
    "AddTrack",
    "Command",
    "CommandGroup",
    "EventEdit",
    "MoveClip",
    "MoveEvents",
    "RemoveBoxKeyframe",
    "RemoveClip",
    "RemoveEvents",
    "RemoveSource",
    "RemoveTrack",
    "ReplaceSource",
    "ScaleEventStrengths",
    "SetBoxKeyframe",
    "SetClipGain",
    "SetEventTrack",
    "SetInOut",
    "SetSettings",
    "SetTrackProperty",
    "SplitClip",
    "TrimClip",
]
