"""Interchange: OTIO round trip, Reaper project parsed back, CMX EDL through the adapter."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

from foleystudio.export import ExportDestinations, export_project
from foleystudio.export.reaper import parse_rpp
from tests.unit.test_export_support import add_clip, click, make_project, write_render

SR = 48000


@pytest.fixture
def project(tmp_path: Path, make_video):
    video = make_video("picture.mp4", seconds=2.0, fps=24)
    render = write_render(tmp_path / "renders", "c.wav", click(16000, 1.0, 0.0), 16000)
    other = write_render(tmp_path / "renders", "d.wav", click(16000, 2.0, 0.0), 16000)
    p = make_project(
        name="Scene 12", duration=2.0, fps=Fraction(24), start_timecode="01:00:00:00", video=str(video)
    )
    add_clip(p, "Footsteps", render, position=0.5, duration=0.25, label="step L", gain_db=-3.0)
    add_clip(p, "Footsteps", render, position=1.25, duration=0.5, offset=0.125, label="step R")
    add_clip(p, "Cloth", other, position=0.1, duration=1.0, pan=-0.5, gain_db=0.0, mute=True)
    p.track_named("Cloth").gain_db = -6.0
    return p


def audio_tracks(timeline: otio.schema.Timeline) -> list[otio.schema.Track]:
    return [t for t in timeline.tracks if t.kind == otio.schema.TrackKind.Audio]


def test_otio_round_trip_with_stems(tmp_path: Path, project) -> None:
    result = export_project(
        project, ExportDestinations(stems=tmp_path / "stems", otio=tmp_path / "cut.otio"), bundle_dir=tmp_path
    )
    timeline = otio.adapters.read_from_file(str(result.otio))
    assert timeline.global_start_time.to_frames() == 86400  # 01:00:00:00 at 24 fps
    (video,) = [t for t in timeline.tracks if t.kind == otio.schema.TrackKind.Video]
    (picture,) = video.find_clips()
    assert otio.url_utils.filepath_from_url(picture.media_reference.target_url) == project.video
    assert picture.source_range.duration.to_frames() == 48
    feet, cloth = audio_tracks(timeline)
    assert (feet.name, cloth.name, feet.enabled, cloth.enabled) == ("Footsteps", "Cloth", True, False)
    assert cloth.metadata["foleystudio"]["pan"] == -0.5
    stems = {p.name: p for p in result.stems}
    for track, expected in ((feet, [(0.5, 0.75), (1.25, 1.75)]), (cloth, [(0.1, 1.1)])):
        clips = track.find_clips()
        assert len(clips) == len(expected)
        for clip, (start, end) in zip(clips, expected, strict=True):
            placed = clip.range_in_parent()
            assert placed.start_time.rate == SR
            assert placed.start_time.value == round(start * SR)
            assert placed.duration.value == round(end * SR) - round(start * SR)
            path = Path(otio.url_utils.filepath_from_url(clip.media_reference.target_url))
            assert path.name in stems and path.is_file()
            # Media time is the stem's BWF time: the start timecode plus the position.
            assert clip.source_range.start_time.value == 172_800_000 + round(start * SR)
            assert clip.media_reference.available_range.start_time.value == 172_800_000


def test_otio_references_renders_without_stems_and_splits_overlaps(tmp_path: Path, project) -> None:
    render = project.tracks[0].clips[0].render
    add_clip(project, "Footsteps", render, position=0.6, duration=0.3)  # overlaps "step L"
    result = export_project(project, ExportDestinations(otio=tmp_path / "cut.otio"), bundle_dir=tmp_path)
    timeline = otio.adapters.read_from_file(str(result.otio))
    names = [t.name for t in audio_tracks(timeline)]
    assert names == ["Footsteps", "Footsteps (2)", "Cloth"]
    step_r = next(c for c in audio_tracks(timeline)[0].find_clips() if c.name == "step R")
    assert step_r.range_in_parent().start_time.value == round(1.25 * SR)
    assert step_r.source_range.start_time.value == round(0.125 * SR)  # offset into the render
    assert otio.url_utils.filepath_from_url(step_r.media_reference.target_url) == render
    assert step_r.metadata["foleystudio"]["gain_db"] == 0.0
    step_l = audio_tracks(timeline)[0].find_clips()[0]
    assert step_l.metadata["foleystudio"]["gain_db"] == -3.0


def test_rpp_parsed_back_has_tracks_items_and_positions(tmp_path: Path, project) -> None:
    result = export_project(
        project, ExportDestinations(stems=tmp_path / "stems", rpp=tmp_path / "scene.rpp"), bundle_dir=tmp_path
    )
    root = parse_rpp(result.rpp.read_text())
    assert root.tag == "REAPER_PROJECT"
    assert root.value("SAMPLERATE")[0] == "48000"
    assert float(root.value("PROJOFFS")[0]) == 3600.0
    tracks = root.findall("TRACK")
    assert [t.value("NAME")[0] for t in tracks] == ["Picture", "Footsteps", "Cloth"]
    picture, feet, cloth = tracks
    (video_item,) = picture.findall("ITEM")
    source = video_item.find("SOURCE")
    assert source.fields == ["VIDEO"] and source.value("FILE")[0] == "picture.mp4"  # relative to the .rpp
    assert source.value("AUDIO") == ["0"]  # the picture's own sound is off
    assert cloth.value("MUTESOLO")[:2] == ["1", "0"]
    assert [float(v) for v in cloth.value("VOLPAN")[:2]] == [1.0, -0.5]  # gain is in the stem, pan is not
    for track, expected in ((feet, [(0.5, 0.75), (1.25, 1.75)]), (cloth, [(0.1, 1.1)])):
        items = track.findall("ITEM")
        assert len(items) == len(expected)
        for item, (start, end) in zip(items, expected, strict=True):
            position = float(item.value("POSITION")[0])
            length = float(item.value("LENGTH")[0])
            assert round(position * SR) == round(start * SR)
            assert round(length * SR) == round(end * SR) - round(start * SR)
            assert float(item.value("SOFFS")[0]) == position  # stems start at the video's start
            wave = item.find("SOURCE")
            assert wave.fields == ["WAVE"]
            assert (result.rpp.parent / wave.value("FILE")[0]).is_file()  # relative to the project


def test_rpp_without_stems_carries_gains_and_solo(tmp_path: Path, project) -> None:
    project.track_named("Footsteps").solo = True
    result = export_project(project, ExportDestinations(rpp=tmp_path / "scene.rpp"), bundle_dir=tmp_path)
    root = parse_rpp(result.rpp.read_text())
    _, feet, cloth = root.findall("TRACK")
    assert feet.value("MUTESOLO")[:2] == ["0", "2"]
    assert float(cloth.value("VOLPAN")[0]) == pytest.approx(10 ** (-6 / 20))
    step_l, step_r = feet.findall("ITEM")
    assert float(step_l.value("VOLPAN")[0]) == pytest.approx(10 ** (-3 / 20))
    assert float(step_r.value("SOFFS")[0]) == 0.125
    source = result.rpp.parent / step_r.find("SOURCE").value("FILE")[0]
    assert str(source) == project.tracks[0].clips[1].render


def test_edl_written_and_parsed_by_the_adapter(tmp_path: Path, project) -> None:
    result = export_project(
        project, ExportDestinations(stems=tmp_path / "stems", edl=tmp_path / "scene.edl"), bundle_dir=tmp_path
    )
    assert [p.name for p in result.edls] == ["scene_01_Footsteps.edl", "scene_02_Cloth.edl"]
    text = result.edls[0].read_text()
    assert "FCM: NON-DROP FRAME" in text
    events = [line.split() for line in text.splitlines() if line[:3].isdigit()]
    # step L: 0.5 s -> frame 12; 0.25 s = 6 frames; stems are stamped at the start timecode.
    assert events[0][1:4] == ["ST01", "A", "C"]
    assert events[0][4:] == ["01:00:00:12", "01:00:00:18", "01:00:00:12", "01:00:00:18"]
    assert events[1][4:] == ["01:00:01:06", "01:00:01:18", "01:00:01:06", "01:00:01:18"]
    timeline = otio.adapters.read_from_string(text, adapter_name="cmx_3600", rate=24)
    (track,) = timeline.tracks
    clips = track.find_clips()
    assert [c.source_range.start_time.to_frames() for c in clips] == [86412, 86430]
    assert [c.source_range.duration.to_frames() for c in clips] == [6, 12]


def test_edl_drop_frame_timecode(tmp_path: Path) -> None:
    render = write_render(tmp_path / "renders", "c.wav", click(SR, 1.0, 0.0), SR)
    project = make_project(duration=2.0, fps=Fraction(30000, 1001), start_timecode="00:00:59;28")
    add_clip(project, "Feet", render, position=1001 / 30000 * 4, duration=1001 / 30000 * 3)
    result = export_project(project, ExportDestinations(edl=tmp_path / "scene.edl"), bundle_dir=tmp_path)
    (edl,) = result.edls
    assert edl == tmp_path / "scene.edl"
    text = edl.read_text()
    assert "FCM: DROP FRAME" in text
    (event,) = [line.split() for line in text.splitlines() if line[:3].isdigit()]
    # 00:00:59;28 + 4 frames crosses minute 1, where ;00 and ;01 are dropped -> 00:01:00;04.
    assert event[-2:] == ["00:01:00;04", "00:01:00;07"]
    assert event[4:6] == ["00:00:00;00", "00:00:00;03"]  # a render has no timecode: it starts at 0
    timeline = otio.adapters.read_from_string(text, adapter_name="cmx_3600", rate=30000 / 1001)
    assert len(timeline.tracks[0].find_clips()) == 1


def test_interchange_without_video_has_no_picture_track(tmp_path: Path) -> None:
    render = write_render(tmp_path / "renders", "c.wav", np.full(SR, 0.1, np.float32), SR)
    project = make_project(duration=1.0)
    add_clip(project, "Feet", render, position=0.0, duration=0.5)
    result = export_project(
        project, ExportDestinations(otio=tmp_path / "a.otio", rpp=tmp_path / "a.rpp"), bundle_dir=tmp_path
    )
    timeline = otio.adapters.read_from_file(str(result.otio))
    assert [t.kind for t in timeline.tracks] == [otio.schema.TrackKind.Audio]
    assert [t.value("NAME")[0] for t in parse_rpp(result.rpp.read_text()).findall("TRACK")] == ["Feet"]
    assert any("no video" in w for w in result.warnings)
