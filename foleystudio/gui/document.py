"""The open document as an evented model for the views (napari's model / ``_qt`` split).

:class:`Document` owns the :class:`~foleystudio.core.project.Project`, its bundle folder,
the ``QUndoStack`` over ``core/commands.py``, the playhead, the selection and the latest
candidates. Views read from it and call its methods; it emits signals when something
changed. Every edit is a core command; every file operation is a ``core/project_bundle.py`` call.

Decisions: a video opened without a project gets a bundle in the user folder
(``$FOLEYSTUDIO_USER_DIR/untitled/``, or the platform's app-data folder) so renders and
autosaves have a home from the first edit; "Save As" copies that bundle's renders to the
chosen place and points the clips at the copies.

Event tracks (issue 15): the selection also holds selected events — one source's, named by
their times (events are values, not objects with ids). Selecting events deselects the clip
(and selects their object, so "Regenerate Object" takes it); selecting a clip or another
source deselects the events, so Delete acts on what was picked last. An undo that takes a
selected event away drops it from the selection.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from foleystudio.core import commands as cmd
from foleystudio.core import project_bundle as bundles
from foleystudio.core.boxes import Box, BoxKeyframe
from foleystudio.core.events import EventTrack, read_event_file, write_event_file
from foleystudio.core.media import MediaInfo, probe
from foleystudio.core.paths import user_dir
from foleystudio.core.placement import place_candidate
from foleystudio.core.project import TRACK_COLOURS, Clip, Project, Track, new_id
from foleystudio.core.project_requests import more_like_this
from foleystudio.core.proxy import carry_proxy
from foleystudio.core.ranking import reweighted, settings_weights
from foleystudio.core.requests import WHOLE_PICTURE, Candidate, GenerationRequest, rank_candidates
from foleystudio.core.sources import AudioSource, ObjectSource, Source, TextSource
from foleystudio.core.tapping import snap_to_frame
from foleystudio.core.timebase import timecode_at, uses_drop_frame
from foleystudio.errors import FoleyStudioError, UsageError
from foleystudio.gui.undo import UndoCommand

#: Marks an argument of :meth:`Document.select` left as it is.
_KEEP: Any = object()
#: The colour of the whole picture's events (object sources use their track's colour).
PICTURE_EVENTS_COLOUR = "#9fb0c4"


def untitled_bundle_path(stem: str) -> Path:
    """A fresh bundle folder under ``user_dir()/untitled`` named after ``stem``."""
    folder = user_dir() / "untitled"
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(1, 10000):
        candidate = folder / (
            f"{stem}{bundles.BUNDLE_SUFFIX}" if n == 1 else f"{stem}-{n}{bundles.BUNDLE_SUFFIX}"
        )
        if not candidate.exists():
            return candidate
    raise FoleyStudioError("too many untitled projects", folder)


class Document(QObject):
    """The project being edited, with undo, playhead, selection and candidates."""

    #: After every applied/reverted edit; the argument is the core command (or None).
    changed = Signal(object)
    #: A different project was loaded (views rebuild everything).
    project_replaced = Signal()
    playhead_changed = Signal(float)
    selection_changed = Signal()
    candidates_changed = Signal()
    #: ``True`` when there are unsaved edits.
    dirty_changed = Signal(bool)
    #: A short status message.
    message = Signal(str)
    #: A user-facing error from an edit made in a view (the window shows a dialog).
    error = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project = Project()
        self.bundle_dir: Path | None = None
        #: False while the bundle is an untitled one in the user folder (Save asks where).
        self.has_location = False
        self.media: MediaInfo | None = None
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)
        self.playhead = 0.0
        self.selected_source_id: str | None = None
        self.selected_track_id: str | None = None
        self.selected_clip_id: str | None = None
        #: Selected events: the source (``WHOLE_PICTURE`` or an object id) and their times.
        self.selected_event_target: str | None = None
        self.selected_event_times: tuple[float, ...] = ()
        self.candidates: list[Candidate] = []
        #: The weights the candidates were last ranked with.
        self._ranked_with: dict[str, float] = {}
        self._merge_session = 0

    def _on_clean_changed(self, clean: bool) -> None:
        self.dirty_changed.emit(not clean)

    # --- state ---------------------------------------------------------------------------
    @property
    def dirty(self) -> bool:
        return not self.undo_stack.isClean()

    @property
    def frame_duration(self) -> float:
        """Seconds per video frame."""
        return float(1 / self.project.fps)

    @property
    def length(self) -> float:
        return self.project.length

    def timecode(self, seconds: float) -> str:
        """Source timecode of the frame at ``seconds`` (the video's start timecode added)."""
        fps = self.project.fps
        start = self.project.start_timecode
        try:
            return timecode_at(seconds, start, fps)
        except FoleyStudioError:  # a malformed start timecode: count from zero, as written
            return timecode_at(seconds, "00:00:00;00" if uses_drop_frame(start, fps) else "00:00:00:00", fps)

    def source_colour(self, source_id: str) -> str:
        """The colour a source is drawn in: its track's, else one from the palette."""
        track = self.project.track_for_source(source_id)
        if track is not None:
            return track.colour
        index = next((i for i, s in enumerate(self.project.sources) if s.id == source_id), 0)
        return TRACK_COLOURS[index % len(TRACK_COLOURS)]

    def _set_project(self, project: Project, bundle_dir: Path | None, has_location: bool) -> None:
        self.undo_stack.clear()
        self.project = project
        self.bundle_dir = bundle_dir
        self.has_location = has_location
        self.media = None
        if project.video and os.path.isfile(project.video):
            with contextlib.suppress(FoleyStudioError):
                self.media = probe(project.video)
        self.playhead = 0.0
        self.selected_source_id = self.selected_track_id = self.selected_clip_id = None
        self.selected_event_target, self.selected_event_times = None, ()
        self.candidates = []
        self.undo_stack.setClean()
        self.project_replaced.emit()
        self.candidates_changed.emit()
        self.selection_changed.emit()
        self.playhead_changed.emit(0.0)
        self.dirty_changed.emit(False)

    # --- files ---------------------------------------------------------------------------
    def open_video(self, path: str | os.PathLike[str]) -> None:
        """Start a new project on ``path`` (probed first: a bad file changes nothing)."""
        info = probe(path)
        if not info.has_video:
            raise FoleyStudioError("has no video stream to work on", path)
        project, bundle = bundles.new_bundle(untitled_bundle_path(Path(path).stem), video=path, info=info)
        self._set_project(project, bundle, has_location=False)
        self.media = info
        self.message.emit(f"Opened {Path(path).name}")

    def open_project(self, path: str | os.PathLike[str], recovered: Project | None = None) -> None:
        """Open a bundle (``recovered``: the autosaved version the user chose to restore)."""
        project = recovered if recovered is not None else bundles.load_project(path)
        bundle = bundles.bundle_folder(path)
        self._set_project(project, bundle, has_location=True)
        if recovered is not None:
            # The recovered edits are not on disk yet: mark the document as modified.
            self.undo_stack.resetClean()
            self.dirty_changed.emit(True)
        self.message.emit(f"Opened {bundle.name}")

    def save(self) -> Path:
        """Save in place; raises :class:`UsageError` when the project has no location yet."""
        if self.bundle_dir is None or not self.has_location:
            raise UsageError("the project has not been saved yet; choose where (Save As)")
        bundles.save_project(self.project, self.bundle_dir)
        self.undo_stack.setClean()
        self.message.emit(f"Saved {self.bundle_dir.name}")
        return self.bundle_dir

    def save_as(self, path: str | os.PathLike[str]) -> Path:
        """Save into a new bundle at ``path`` (``.foley`` appended), taking the renders along."""
        target = Path(path).expanduser().absolute()
        if target.suffix != bundles.BUNDLE_SUFFIX:
            target = target.with_name(target.name + bundles.BUNDLE_SUFFIX)
        if self.bundle_dir is not None and target == self.bundle_dir:
            return self.save()
        if (target / bundles.PROJECT_FILE).exists():
            raise FoleyStudioError("a project already exists here; choose another name", target)
        old_renders = None if self.bundle_dir is None else self.bundle_dir / bundles.RENDERS_DIR
        new_renders = target / bundles.RENDERS_DIR
        try:
            new_renders.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FoleyStudioError(
                f"cannot create the project folder: {exc.strerror or exc}", target
            ) from exc
        moved: list[tuple[str, str]] = []
        for track in self.project.tracks:
            for clip in track.clips:
                src = Path(clip.render)
                if old_renders is not None and src.parent == old_renders and src.is_file():
                    dst = new_renders / src.name
                    if not dst.exists():
                        shutil.copy2(src, dst)
                    moved.append((clip.render, str(dst)))
        for old, new in dict(moved).items():
            bundles.relink(self.project, old, new)
        if self.project.video and self.bundle_dir is not None:
            carry_proxy(
                self.project.video, bundles.cache_folder(self.bundle_dir), bundles.cache_folder(target)
            )
        self.project.name = target.stem
        bundles.save_project(self.project, target)
        self.bundle_dir = target
        self.has_location = True
        self.undo_stack.setClean()
        self.project_replaced.emit()
        self.message.emit(f"Saved {target.name}")
        return target

    def autosave(self) -> Path | None:
        """Write the autosave side file when there are unsaved edits."""
        if self.bundle_dir is None or not self.dirty:
            return None
        return bundles.write_autosave(self.project, self.bundle_dir)

    # --- edits ---------------------------------------------------------------------------
    def push(self, command: cmd.Command, merge_session: int | None = None) -> None:
        """Apply ``command`` and put it on the undo stack.

        ``merge_session``: commands pushed with the same session number (one slider drag)
        merge into one undo step; None never merges. Raises the command's
        :class:`FoleyStudioError` if the edit is invalid (nothing changes then).
        """
        command.apply(self.project)
        self.undo_stack.push(UndoCommand(command, lambda: self.project, self._notify, merge_session))

    def push_group(self, text: str, commands: Sequence[cmd.Command]) -> None:
        """Several commands as one undo step."""
        self.push(cmd.CommandGroup(text, list(commands)))

    def new_merge_session(self) -> int:
        """A fresh session number for one continuous gesture (see :meth:`push`)."""
        self._merge_session += 1
        return self._merge_session

    def _notify(self, command: Any) -> None:
        self._prune_selection()
        self._rerank()
        self.changed.emit(command)

    def report_error(self, exc: FoleyStudioError) -> None:
        """Tell the user an edit a view asked for was refused (the ``error`` signal)."""
        self.error.emit(str(exc))

    def post_message(self, text: str) -> None:
        """A short status message for the user (the ``message`` signal)."""
        self.message.emit(text)

    def undo(self) -> None:
        self.undo_stack.undo()

    def redo(self) -> None:
        self.undo_stack.redo()

    # --- playhead and selection ------------------------------------------------------------
    def set_playhead(self, seconds: float) -> None:
        """Move the playhead (clamped to [0, project length])."""
        t = min(max(float(seconds), 0.0), max(self.project.length, 0.0))
        if t != self.playhead:
            self.playhead = t
            self.playhead_changed.emit(t)

    def step_frames(self, count: int) -> None:
        """Move the playhead by ``count`` frames, landing on a frame boundary."""
        fps = self.project.fps
        frame = round(self.playhead * fps) + count
        self.set_playhead(float(frame / fps))

    def select(self, source_id: Any = _KEEP, track_id: Any = _KEEP, clip_id: Any = _KEEP) -> None:
        """Change the selection (ids or None); arguments left out stay as they are."""
        if source_id is not _KEEP:
            self.selected_source_id = source_id
            if source_id is not None and source_id != self.selected_event_target:
                self.selected_event_target, self.selected_event_times = None, ()
        if track_id is not _KEEP:
            self.selected_track_id = track_id
        if clip_id is not _KEEP:
            self.selected_clip_id = clip_id
            if clip_id is not None:
                self.selected_event_target, self.selected_event_times = None, ()
        self.selection_changed.emit()

    def _prune_selection(self) -> None:
        project = self.project
        pruned = False
        if self.selected_source_id and all(s.id != self.selected_source_id for s in project.sources):
            self.selected_source_id, pruned = None, True
        if self.selected_track_id and all(t.id != self.selected_track_id for t in project.tracks):
            self.selected_track_id, pruned = None, True
        if self.selected_clip_id and all(
            c.id != self.selected_clip_id for t in project.tracks for c in t.clips
        ):
            self.selected_clip_id, pruned = None, True
        target = self.selected_event_target
        if target is not None:
            track = project.events.get(target)
            kept = tuple(
                t
                for t in self.selected_event_times
                if track is not None
                and any(abs(e.time - t) <= cmd.EVENT_TIME_TOLERANCE for e in track.events)
            )
            if kept != self.selected_event_times:
                self.selected_event_times, pruned = kept, True
            if not kept:
                self.selected_event_target = None
        if pruned:
            self.selection_changed.emit()

    def selected_source(self) -> Source | None:
        return next((s for s in self.project.sources if s.id == self.selected_source_id), None)

    # --- edit helpers used by the views (each one core command or group) -------------------
    def add_object(self, box: Box, label: str | None = None) -> ObjectSource:
        """A new object source with a keyframe at the playhead, and its own track."""
        count = sum(isinstance(s, ObjectSource) for s in self.project.sources) + 1
        source = ObjectSource(new_id(), label or f"object {count}", (BoxKeyframe(self.playhead, box),))
        self.push_group(f"Add object '{source.label}'", [cmd.AddSource(source), self._track_command(source)])
        self.select(source_id=source.id)
        return source

    def add_text(self, text: str) -> TextSource:
        """A new text prompt source with its own track."""
        if not text.strip():
            raise UsageError("a text prompt must not be empty")
        source = TextSource(new_id(), text.strip())
        self.push_group("Add text prompt", [cmd.AddSource(source), self._track_command(source)])
        self.select(source_id=source.id)
        return source

    def add_audio_prompt(self, path: str | os.PathLike[str], replace_id: str | None = None) -> AudioSource:
        """An audio prompt from a file; ``replace_id`` swaps the file of that audio source."""
        from foleystudio.core.audio import load_audio

        load_audio(path)  # check it is readable now, not at generation time
        label = Path(path).stem
        if replace_id is not None:
            old = self.project.source(replace_id)
            if isinstance(old, AudioSource):
                source = AudioSource(old.id, str(Path(path).absolute()), label)
                self.push(cmd.ReplaceSource(source, text="Replace audio prompt"))
                return source
        source = AudioSource(new_id(), str(Path(path).absolute()), label)
        self.push_group("Add audio prompt", [cmd.AddSource(source), self._track_command(source)])
        self.select(source_id=source.id)
        return source

    def _track_command(self, source: Source) -> cmd.AddTrack:
        track = Track(
            name=source.label[:40] or source.kind, colour=self.project.next_colour(), source_id=source.id
        )
        return cmd.AddTrack(track)

    def remove_source(self, source_id: str) -> None:
        self.push(cmd.RemoveSource(source_id))

    def rename_source(self, source_id: str, label: str) -> None:
        """New label (object/audio) or prompt text (text source)."""
        source = self.project.source(source_id)
        if not label.strip():
            raise UsageError("a source label must not be empty")
        if isinstance(source, TextSource):
            new: Source = TextSource(source.id, label.strip())
        else:
            new = dataclasses.replace(source, label=label.strip())
        self.push(cmd.ReplaceSource(new))

    def set_box(self, source_id: str, box: Box, time: float | None = None) -> None:
        """Set the object's box at ``time`` (default: the playhead) as a keyframe."""
        t = self.playhead if time is None else time
        self.push(cmd.SetBoxKeyframe(source_id, BoxKeyframe(t, box)))

    def remove_keyframe(self, source_id: str, time: float) -> None:
        self.push(cmd.RemoveBoxKeyframe(source_id, time))

    def add_track(self, name: str | None = None) -> Track:
        track = Track(name=name or f"Track {len(self.project.tracks) + 1}", colour=self.project.next_colour())
        self.push(cmd.AddTrack(track))
        return track

    def remove_track(self, track_id: str) -> None:
        self.push(cmd.RemoveTrack(track_id))

    def set_track(self, track_id: str, name: str, value: Any, merge_session: int | None = None) -> None:
        """Set one track property (name, gain_db, pan, mute, solo, colour)."""
        self.push(cmd.SetTrackProperty(track_id, name, value), merge_session)

    def move_clip(self, clip_id: str, position: float, track_id: str | None = None) -> None:
        track, clip = self.project.find_clip(clip_id)
        if abs(clip.position - position) < 1e-9 and (track_id is None or track_id == track.id):
            return
        self.push(cmd.MoveClip(clip_id, max(position, 0.0), None if track_id == track.id else track_id))

    def trim_clip(self, clip_id: str, edge: str, time: float, render_duration: float | None = None) -> None:
        self.push(cmd.TrimClip(clip_id, edge, time, render_duration))

    def split_clip(self, clip_id: str, time: float) -> None:
        self.push(cmd.SplitClip(clip_id, time))

    def split_at_playhead(self) -> int:
        """Split the selected clip, or else every clip under the playhead; returns how many."""
        t = self.playhead
        targets = [
            c.id
            for tr in self.project.tracks
            for c in tr.clips
            if c.position + cmd.MIN_CLIP_DURATION <= t <= c.end - cmd.MIN_CLIP_DURATION
        ]
        if self.selected_clip_id in targets:
            targets = [self.selected_clip_id]
        if not targets:
            return 0
        self.push_group("Split at playhead", [cmd.SplitClip(c, t) for c in targets])
        return len(targets)

    def remove_clip(self, clip_id: str) -> None:
        self.push(cmd.RemoveClip(clip_id))

    def delete_selection(self) -> bool:
        """Delete the selected events, else the selected clip, else the selected source;
        False when nothing is selected."""
        if self.selected_event_target is not None and self.selected_event_times:
            self.remove_events(self.selected_event_target, self.selected_event_times)
            return True
        if self.selected_clip_id:
            self.remove_clip(self.selected_clip_id)
            return True
        if self.selected_source_id:
            self.remove_source(self.selected_source_id)
            return True
        return False

    def set_clip_gain(self, clip_id: str, gain_db: float, merge_session: int | None = None) -> None:
        self.push(cmd.SetClipGain(clip_id, gain_db), merge_session)

    def set_in_out(self, in_point: float | None, out_point: float | None) -> None:
        self.push(cmd.SetInOut(in_point, out_point))

    def mark_in(self) -> None:
        """Set the in point at the playhead (the out point goes if it would come first)."""
        out = self.project.out_point
        self.set_in_out(self.playhead, out if out is not None and out > self.playhead else None)

    def mark_out(self) -> None:
        """Set the out point at the playhead (the in point goes if it would come after)."""
        in_point = self.project.in_point
        if self.playhead <= 0:
            raise UsageError("the out point must be after the start")
        self.set_in_out(
            in_point if in_point is not None and in_point < self.playhead else None, self.playhead
        )

    def set_settings(self, merge_session: int | None = None, **changes: Any) -> None:
        current = vars(self.project.settings)
        changes = {k: v for k, v in changes.items() if current.get(k) != v}
        if changes:
            self.push(cmd.SetSettings(**changes), merge_session)

    def import_audio_clip(self, path: str | os.PathLike[str], track_id: str | None, position: float) -> Clip:
        """Put an audio file on a track at ``position`` s (a new track when ``track_id`` is None).

        The file is copied into the bundle's renders (content-named), so the project does
        not depend on where it came from.
        """
        from foleystudio.core.audio import load_audio

        audio, rate = load_audio(path)
        render = self._store(audio, rate)
        clip = Clip(
            render=str(render), position=max(position, 0.0), duration=len(audio) / rate, label=Path(path).stem
        )
        commands: list[cmd.Command] = []
        if track_id is None:
            track = Track(name=Path(path).stem[:40], colour=self.project.next_colour())
            commands.append(cmd.AddTrack(track))
            track_id = track.id
        commands.append(cmd.AddClip(track_id, clip))
        self.push_group(f"Import '{Path(path).name}'", commands)
        self.select(clip_id=clip.id, track_id=track_id)
        return clip

    # --- event tracks (issue 15) ---------------------------------------------------------
    def event_targets(self) -> list[str]:
        """The sources that can have an event track: the whole picture (with a video) and
        each object source, in the project's order."""
        objects = [s.id for s in self.project.sources if isinstance(s, ObjectSource)]
        return ([WHOLE_PICTURE] if self.project.video else []) + objects

    def event_label(self, target: str) -> str:
        if target == WHOLE_PICTURE:
            return "Picture"
        source = next((s for s in self.project.sources if s.id == target), None)
        return source.label if source is not None else "object"

    def event_colour(self, target: str) -> str:
        """The colour a source's events are drawn in: the source's colour."""
        return PICTURE_EVENTS_COLOUR if target == WHOLE_PICTURE else self.source_colour(target)

    def event_track(self, target: str) -> EventTrack:
        """The source's event track (an empty one when it has none)."""
        return self.project.events.get(target) or EventTrack()

    def has_event_track(self, target: str) -> bool:
        """Whether the source has a track of its own (else generation uses the detector's)."""
        return target in self.project.events

    def select_events(self, target: str | None, times: Sequence[float] = ()) -> None:
        """Select the events at ``times`` of one source (None or no times: no events); the
        clip selection goes, and an object's events select that object."""
        times = tuple(float(t) for t in times) if target is not None else ()
        self.selected_event_target = target if times else None
        self.selected_event_times = times
        if times:
            self.selected_clip_id = None
            if any(s.id == target for s in self.project.sources):
                self.selected_source_id = target  # so "Regenerate Object" takes these events' object
        self.selection_changed.emit()

    def selected_events(self, target: str) -> tuple[float, ...]:
        """The selected event times of ``target`` (empty when its events are not selected)."""
        return self.selected_event_times if self.selected_event_target == target else ()

    def set_event_track(
        self,
        target: str,
        track: EventTrack | None,
        start: float | None = None,
        end: float | None = None,
        text: str | None = None,
    ) -> None:
        """Set (or, with ``start``/``end``, replace the range of) a source's track; None
        without a range drops it."""
        self.push(cmd.SetEventTrack(target, track, start, end, text))

    def add_event(self, target: str, time: float, strength: float = 1.0) -> None:
        """Add an event at ``time`` s; it becomes the selected event."""
        self.push(cmd.AddEvent(target, time, strength))
        self.select_events(target, [time])

    def tap_target(self) -> str:
        """The source taps go to: the selected object, else the whole picture."""
        source = self.selected_source()
        if isinstance(source, ObjectSource):
            return source.id
        if self.project.video:
            return WHOLE_PICTURE
        raise UsageError("Open a video (or select an object) before tapping events")

    def add_or_select_event(self, target: str, time: float, strength: float = 1.0) -> float:
        """Add an event at ``time`` s and select it; where one is already at that time it is
        selected instead (no doubled events). Returns the event's time."""
        there = [
            e.time for e in self.event_track(target).events if abs(e.time - time) <= cmd.EVENT_TIME_TOLERANCE
        ]
        if there:
            self.select_events(target, there[:1])
            return there[0]
        self.add_event(target, time, strength)
        return time

    def tap_event(self, target: str, time: float, snap: bool) -> float:
        """Add a tapped event at ``time`` s (on the nearest frame when ``snap``), one undo
        step per tap; a tap on an event already there selects it instead. Returns the time."""
        if snap:
            time = snap_to_frame(time, self.project.fps)
        return self.add_or_select_event(target, time)

    def remove_events(self, target: str, times: Sequence[float]) -> None:
        self.push(cmd.RemoveEvents(target, list(times)))
        self.select_events(None)

    def move_events(
        self, target: str, times: Sequence[float], delta: float, merge_session: int | None = None
    ) -> None:
        """Move the events at ``times`` by ``delta`` s; the selection follows them."""
        if delta == 0 or not times:
            return
        self.push(cmd.MoveEvents(target, list(times), delta), merge_session)
        self.select_events(target, [t + delta for t in times])

    def scale_event_strengths(
        self, target: str, times: Sequence[float], factor: float, merge_session: int | None = None
    ) -> None:
        if factor == 1 or not times:
            return
        self.push(cmd.ScaleEventStrengths(target, list(times), factor), merge_session)

    def detection_range(self, use_in_out: bool = True) -> tuple[float, float, bool]:
        """``(start, end, ranged)`` s that detection covers: the in/out range when one is set
        and ``use_in_out`` (``ranged``: only that range of the tracks is replaced), else the
        whole clip."""
        project = self.project
        length = project.duration or project.length
        ranged = use_in_out and (project.in_point is not None or project.out_point is not None)
        if not ranged:
            return 0.0, length, False
        start = project.in_point or 0.0
        end = project.out_point if project.out_point is not None else length
        return start, end, True

    def apply_detected_events(
        self, tracks: dict[str, EventTrack], start: float | None = None, end: float | None = None
    ) -> None:
        """Detected tracks as one undo step: each replaces its source's events in
        ``[start, end)``, or its whole track without a range."""
        targets = [t for t in tracks if t == WHOLE_PICTURE or any(s.id == t for s in self.project.sources)]
        if not targets:
            return
        ranged = start is not None or end is not None
        text = (
            f"Detect events {start or 0.0:.2f}–{end:.2f} s" if ranged and end is not None else "Detect events"
        )
        self.push_group(text, [cmd.SetEventTrack(t, tracks[t], start, end, text) for t in targets])
        if self.selected_event_target in targets:
            self.select_events(None)

    def import_events(self, target: str, path: str | os.PathLike[str]) -> EventTrack:
        """Replace a source's track by a JSON or Audacity-labels file (one undo step)."""
        track = read_event_file(path)
        self.set_event_track(target, track, text=f"Import events '{Path(path).name}'")
        self.message.emit(f"Imported {len(track)} events from {Path(path).name}")
        return track

    def export_events(self, target: str, path: str | os.PathLike[str]) -> Path:
        """Write a source's track as JSON or Audacity labels (``.txt``)."""
        written = write_event_file(path, self.event_track(target))
        self.message.emit(f"Exported {len(self.event_track(target))} events to {written.name}")
        return written

    def _bundle(self) -> Path:
        """The bundle folder renders go to; :class:`UsageError` before a video is open."""
        if self.bundle_dir is None:
            raise UsageError("open a video or a project first")
        return self.bundle_dir

    def _store(self, audio: Any, sample_rate: int) -> Path:
        return bundles.store_render(self._bundle(), audio, sample_rate)

    # --- candidates ----------------------------------------------------------------------
    def set_candidates(self, candidates: Sequence[Candidate]) -> None:
        """Show a generation's candidates, best first; totals made under other score weights
        than the project's current ones are recomputed (``core/ranking.py``)."""
        self.candidates = rank_candidates(candidates)
        self._ranked_with = settings_weights(self.candidates[0].request.settings) if self.candidates else {}
        self._rerank(emit=False)
        self.candidates_changed.emit()

    def score_weights(self) -> dict[str, float]:
        """The project's score weights by criterion (settings ``weight_*``)."""
        return settings_weights(self.project.settings)

    def _rerank(self, emit: bool = True) -> None:
        """Re-rank the candidates when an edit (or its undo) changed the score weights."""
        weights = self.score_weights()
        if self.candidates and weights != self._ranked_with:
            self.candidates = reweighted(self.candidates, weights)
            self._ranked_with = weights
            if emit:
                self.candidates_changed.emit()

    def more_like_this_request(self, candidate: Candidate) -> GenerationRequest:
        """The request for variations of ``candidate`` (:func:`more_like_this`)."""
        return more_like_this(candidate, self.project.settings)

    def use_candidate(self, candidate: Candidate, model_name: str = "") -> Clip:
        """Store the candidate as a render and place it on its track (one undo step).

        Placement is :func:`foleystudio.core.placement.place_candidate` (the CLI's too): the
        source's track, else the selected free track, else a new one; the clip keeps the full
        request, seed and scores as provenance. The new clip and its track become selected.
        """
        group, clip = place_candidate(
            self.project,
            self._bundle(),
            candidate,
            model_name=model_name,
            track_id=self.selected_track_id,
        )
        self.push(group)
        track, _ = self.project.find_clip(clip.id)
        self.select(clip_id=clip.id, track_id=track.id)
        return clip
