"""The one undo model: core commands on the document's QUndoStack (gui/undo.py adapter).

The document applies a command, then records it; commands of one gesture (a merge session)
merge into one step; nothing merges across the saved state; a refused edit records nothing.
These were tests of a plain-Python stack that nothing else used (issue 13)."""

from __future__ import annotations

import pytest

from foleystudio.core import commands as C
from foleystudio.core.boxes import Box, BoxKeyframe
from foleystudio.core.requests import WHOLE_PICTURE
from foleystudio.errors import FoleyStudioError
from foleystudio.gui.document import Document
from tests.unit import test_event_commands as E
from tests.unit.test_commands import CASES, make_project


@pytest.fixture
def doc(qapp) -> Document:
    document = Document()
    document.project = make_project()
    return document


def test_through_the_undo_stack(doc: Document) -> None:
    project, stack = doc.project, doc.undo_stack
    states = [project.to_dict()]
    for name in ("move clip to track", "split clip", "add keyframe", "remove source", "remove track"):
        doc.push(CASES[name][0]())
        states.append(project.to_dict())
    assert stack.index() == 5 and stack.count() == 5 and not stack.canRedo()
    assert stack.undoText() == "Remove track 'Cup'"
    for i in range(5, 0, -1):
        doc.undo()
        assert project.to_dict() == states[i - 1]
    assert not stack.canUndo() and stack.isClean()
    for i in range(1, 6):
        doc.redo()
        assert project.to_dict() == states[i]
    doc.undo()
    doc.undo()
    doc.push(C.SetInOut(0.0, 1.0))  # a new edit after undo discards the redo tail
    assert stack.count() == 4 and not stack.canRedo()


def test_a_gesture_merges_into_one_step(doc: Document) -> None:
    project, stack = doc.project, doc.undo_stack
    before = project.to_dict()
    drag = doc.new_merge_session()
    for x in (1.5, 2.0, 2.5):
        doc.push(C.MoveClip("c1", position=x), drag)
    doc.push(C.MoveClip("c1", track_id="t3"), drag)  # dragged onto another track…
    doc.push(C.MoveClip("c1", track_id="t1", position=3.0), drag)  # …and back: still one step
    assert stack.count() == 1 and project.find_clip("c1")[1].position == 3.0
    doc.push(C.MoveClip("c2", position=6.0), drag)  # another clip: a new step
    assert stack.count() == 2
    fader = doc.new_merge_session()
    for g in (-1.0, -2.0, -3.0):
        doc.push(C.SetTrackProperty("t2", "gain_db", g), fader)
    doc.push(C.SetTrackProperty("t2", "pan", 0.2), fader)  # another property: a new step
    trim = doc.new_merge_session()
    for t in (2.5, 2.6):
        doc.push(C.TrimClip("c2", "end", t + 4), trim)
    box = doc.new_merge_session()
    for b in (Box(0.2, 0.2, 0.1, 0.1), Box(0.3, 0.3, 0.1, 0.1)):
        doc.push(C.SetBoxKeyframe("obj", BoxKeyframe(2.0, b)), box)
    assert stack.count() == 6
    # The same edits in two gestures stay two steps.
    doc.push(C.SetClipGain("c1", -1.0), doc.new_merge_session())
    doc.push(C.SetClipGain("c1", -2.0), doc.new_merge_session())
    assert stack.count() == 8
    after = project.to_dict()
    while stack.canUndo():
        doc.undo()
    assert project.to_dict() == before
    while stack.canRedo():
        doc.redo()
    assert project.to_dict() == after


def test_no_merge_across_the_saved_state(doc: Document) -> None:
    stack = doc.undo_stack
    fader = doc.new_merge_session()
    doc.push(C.SetClipGain("c1", -1.0), fader)
    stack.setClean()
    doc.push(C.SetClipGain("c1", -2.0), fader)  # the saved state must stay reachable
    assert stack.count() == 2 and not stack.isClean()
    doc.undo()
    assert stack.isClean() and doc.project.find_clip("c1")[1].gain_db == -1.0


def test_a_refused_edit_records_nothing(doc: Document) -> None:
    before = doc.project.to_dict()
    with pytest.raises(FoleyStudioError, match="not inside the clip"):
        doc.push(C.SplitClip("c1", 0.5))
    assert doc.undo_stack.count() == 0 and doc.project.to_dict() == before


def test_event_gestures_merge_per_source(doc: Document) -> None:
    doc.project = E.make_project()
    project, stack = doc.project, doc.undo_stack
    before = project.to_dict()
    doc.push(C.AddEvent(E.BALL, 2.0))
    drag = doc.new_merge_session()
    # One drag sent as three moves (each naming where the events are now): one step.
    doc.push(C.MoveEvents(E.BALL, [1.2, 2.0], 0.1), drag)
    doc.push(C.MoveEvents(E.BALL, [1.3, 2.1], 0.1), drag)
    doc.push(C.MoveEvents(E.BALL, [1.4, 2.2], -0.3), drag)
    assert stack.count() == 2 and E.times(project, E.BALL) == [0.4, 1.1, 1.9, 3.0, 4.5]
    wheel = doc.new_merge_session()
    doc.push(C.ScaleEventStrengths(E.BALL, [1.1], 0.5), wheel)
    doc.push(C.ScaleEventStrengths(E.BALL, [1.1], 0.5), wheel)
    assert stack.count() == 3 and E.strengths(project, E.BALL)[1] == 0.15
    doc.push(C.MoveEvents(WHOLE_PICTURE, [2.0], 0.5), drag)  # another source: a new step
    assert stack.count() == 4
    while stack.canUndo():
        doc.undo()
    assert project.to_dict() == before
