"""Event tracks: values, rendering at the token rate, JSON and Audacity files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from foleystudio.core.events import (
    EventTrack,
    SoundEvent,
    parse_audacity_labels,
    read_event_file,
    read_event_objects,
    render_track,
    write_event_file,
)
from foleystudio.core.requests import GenerationRequest
from foleystudio.errors import UsageError


def test_track_sorts_and_rejects_bad_values():
    track = EventTrack.from_times([2.0, 0.5, 1.0], [0.2, 1.0, 0.5])
    assert track.times.tolist() == [0.5, 1.0, 2.0]
    assert track.strengths.tolist() == [1.0, 0.5, 0.2]
    for bad in (float("nan"), float("inf"), -0.1):
        with pytest.raises(UsageError):
            SoundEvent(bad)
    with pytest.raises(UsageError):
        SoundEvent(1.0, 1.5)
    with pytest.raises(UsageError):
        EventTrack.from_times([1.0], [0.5, 0.5])


def test_render_puts_each_event_in_its_token():
    track = EventTrack.from_times([0.0, 0.1, 0.13, 1.0], [0.3, 0.4, 0.9, 1.0])
    out = render_track(track, 10.0, 8, start=0.0)
    assert out.tolist() == pytest.approx([0.3, 0.9, 0, 0, 0, 0, 0, 0])  # 1.0 s is outside 8 bins
    binary = render_track(track, 10.0, 11, start=0.0, use_strength=False)
    assert binary[[0, 1, 10]].tolist() == [1.0, 1.0, 1.0] and binary.sum() == 3.0
    shifted = render_track(track, 10.0, 5, start=0.1)
    assert shifted[0] == pytest.approx(0.9) and shifted[3] == 0.0


def test_json_forms_round_trip(tmp_path):
    track = EventTrack.from_times([0.25, 1.5], [1.0, 0.5])
    path = write_event_file(tmp_path / "ev.json", track)
    assert read_event_file(path) == track
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps({"events": [0.25, 1.5]}))
    assert read_event_file(bare).times.tolist() == [0.25, 1.5]
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps([{"time": 0.25, "strength": 0.1}]))
    assert read_event_file(listed).strengths.tolist() == [0.1]
    objects = write_event_file(tmp_path / "objs.json", objects={"ball": track, "door": EventTrack()})
    assert read_event_objects(objects) == {"ball": track, "door": EventTrack()}


def test_audacity_labels_round_trip_and_text_labels(tmp_path):
    track = EventTrack.from_times([0.5, 2.25], [0.75, 1.0])
    path = write_event_file(tmp_path / "labels.txt", track)
    assert path.read_text().splitlines()[0] == "0.500000\t0.500000\t0.750"
    assert read_event_file(path) == track
    parsed = parse_audacity_labels("1.0\t1.2\tclap\n\\\t100\t2000\n3\t3\tx\n")
    assert parsed.times.tolist() == [1.0, 3.0] and parsed.strengths.tolist() == [1.0, 1.0]


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("bad.json", "{not json", "not valid JSON"),
        ("neg.json", '{"events": [-1]}', "event 0"),
        ("str.json", '{"events": ["a"]}', "event 0"),
        ("nokey.json", '{"times": []}', "'events'"),
        ("bad.txt", "abc\tdef\n", "line 1"),
    ],
)
def test_bad_files_name_the_file_and_problem(tmp_path, name, text, problem):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(UsageError) as info:
        read_event_file(path)
    assert str(path) in str(info.value) and problem in str(info.value)
    with pytest.raises(UsageError, match="not found"):
        read_event_file(tmp_path / "missing.json")


def test_request_carries_events_through_json():
    track = EventTrack.from_times([0.5, 1.0], [1.0, 0.25])
    request = GenerationRequest(video="v.mp4", events=(("", track), ("s1", EventTrack())))
    assert request.event_track(None) == track and request.event_track("s1") == EventTrack()
    assert request.event_track("s2") is None
    data = json.loads(json.dumps(request.to_dict()))
    assert GenerationRequest.from_dict(data) == request
    assert GenerationRequest.from_dict({"video": "v.mp4"}).events == ()


def test_event_sync_score_prefers_sound_on_the_track():
    from foleystudio.ml.scores import event_sync_score

    rate = 16000
    track = EventTrack.from_times([2.5, 3.0, 3.75])

    def clicks(times, start):
        wave = np.zeros(2 * rate, np.float32)
        for t in times:
            a = round((t - start) * rate)
            wave[a : a + 160] = 0.5 * np.exp(-np.arange(160) / 40.0)
        return wave

    on = event_sync_score(clicks([2.5, 3.0, 3.75], 2.0), rate, track, start=2.0)
    off = event_sync_score(clicks([2.7, 3.2, 3.55], 2.0), rate, track, start=2.0)
    assert on == pytest.approx(1.0) and off == 0.0
    assert event_sync_score(np.zeros(rate, np.float32), rate, EventTrack(), start=0.0) == 1.0


def test_detectors_are_described_and_first_guesses_come_with_advice():
    from foleystudio.core.events import CHECK_EVENTS_ADVICE, describe_detector, detection_advice

    assert describe_detector("flow") == "optical-flow impacts"
    assert describe_detector("onsets") == "the model's visual onset network"
    assert describe_detector("something new") == "something new"
    assert detection_advice(["onsets", "flow"]) == CHECK_EVENTS_ADVICE
    assert detection_advice(["flow-net"]) == CHECK_EVENTS_ADVICE
    assert detection_advice(["onsets", "given"]) == "" and detection_advice([]) == ""
