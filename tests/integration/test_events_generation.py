"""Events end to end: ``events detect`` writes what generation follows, and generation follows
a given event track (bundled model, so the test measures the real behaviour)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from foleystudio.cli import main
from foleystudio.core.events import EventTrack, read_event_file, write_event_file
from foleystudio.core.requests import GenerationRequest
from foleystudio.core.settings import GenerationSettings
from foleystudio.core.videowriter import write_video
from foleystudio.ml.metrics import onset_f1
from foleystudio.ml.onsets import detect_onsets


@pytest.fixture(scope="module")
def bounce_video(tmp_path_factory):
    """4 s, 25 fps, 160x96: a ball going left and right on a textured backdrop."""
    rng = np.random.default_rng(3)
    backdrop = (60 + 40 * rng.random((96, 160, 1))).repeat(3, axis=2)
    yy, xx = np.mgrid[0:96, 0:160]
    frames = []
    for i in range(100):
        u = (i / 25 / 0.8) % 1.0
        x = 12 + 130 * (1 - abs(2 * u - 1))
        frame = backdrop + rng.normal(0, 1.0, backdrop.shape)
        frame[(xx - x) ** 2 + (yy - 48) ** 2 <= 64] = (230, 200, 40)
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return write_video(tmp_path_factory.mktemp("ev") / "bounce.mp4", frames, 25)


def test_events_detect_writes_json_and_audacity(bounce_video, tmp_path, capsys):
    out = tmp_path / "ev.json"
    assert main(["events", "detect", str(bounce_video), "-o", str(out), "--no-model"]) == 0
    data = json.loads(out.read_text())
    assert data["detector"] == "flow" and len(data["events"]) >= 4
    printed = capsys.readouterr().out
    assert "(optical-flow impacts)" in printed and "note: a first guess on real footage" in printed
    turns = 0.4 + 0.4 * np.arange(9)
    track = read_event_file(out)
    assert onset_f1(track.times, turns[turns < 3.8], 0.045)[1] >= 0.75
    labels = tmp_path / "ev.txt"
    spec = "0:0,0.25,1,0.5=ball"
    assert (
        main(["events", "detect", str(bounce_video), "-o", str(labels), "--no-model", "--object", spec]) == 0
    )
    lines = labels.read_text().splitlines()
    assert lines and all(line.split("\t")[2] == "ball" for line in lines)
    capsys.readouterr()


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--end", "0"], "empty range"),
        (["--start", "nan"], "finite"),
        (["--format", "json", "-o", "/no/such/folder/x.json"], "does not exist"),
    ],
)
def test_events_detect_bad_input_is_one_line(bounce_video, tmp_path, capsys, args, problem):
    base = ["events", "detect", str(bounce_video), "--no-model"]
    if "-o" not in args:
        args = [*args, "-o", str(tmp_path / "e.json")]
    assert main(base + args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and problem in err[0]
    assert not (tmp_path / "e.json").exists()


def test_generate_events_option_errors(bounce_video, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"events": [-2]}')
    assert main(["generate", str(bounce_video), "-o", str(tmp_path / "o"), "--events", str(bad)]) == 2
    assert "event 0" in capsys.readouterr().err
    good = write_event_file(tmp_path / "good.json", EventTrack.from_times([1.0]))
    code = main(
        [
            "generate",
            str(bounce_video),
            "-o",
            str(tmp_path / "o"),
            "--object",
            "0:0,0,1,1=ball",
            "--events",
            f"door={good}",
        ]
    )
    assert code == 2 and "no --object labelled 'door'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_generation_follows_the_given_track_not_the_picture(bounce_video):
    from foleystudio.ml.engine import GenerationEngine

    engine = GenerationEngine("cpu")
    given = np.array([0.55, 1.3, 1.75, 2.6, 3.3])  # not where the ball turns (0.4, 0.8, ...)
    request = GenerationRequest(
        str(bounce_video),
        end=4.0,
        events=(("", EventTrack.from_times(given)),),
        settings=GenerationSettings(num_candidates=2),
    )
    candidates = engine.generate(request)
    assert all(c.events_from == "given" and np.allclose(c.events.times, given) for c in candidates)
    for c in candidates:
        onsets = detect_onsets(c.audio, c.sample_rate)
        # Every given event is sounded (the small model often adds a second hit ~80 ms after
        # an impact, so precision is not asserted); the same events 0.2 s later are not.
        assert onset_f1(onsets, given, 0.05)[1] >= 0.8, onsets
        assert onset_f1(onsets, given + 0.2, 0.05)[1] <= 0.4, onsets
    (default,) = engine.generate(GenerationRequest(video=str(bounce_video), end=4.0))
    assert default.events_from in ("flow", "onsets") and len(default.events) >= 3


def test_events_from_a_clap_recording(tmp_path, capsys):
    from foleystudio.core.audio import save_audio

    rate = 48000
    wave = np.zeros(3 * rate, np.float32)
    rng = np.random.default_rng(0)
    claps = [0.5, 1.25, 2.0]
    gains = [0.8, 0.2, 0.4]
    for t, g in zip(claps, gains, strict=True):
        a = round(t * rate)
        wave[a : a + 960] += g * rng.normal(0, 1, 960).astype(np.float32) * np.exp(-np.arange(960) / 200)
    wave += 0.001 * rng.normal(0, 1, len(wave)).astype(np.float32)
    recording = tmp_path / "claps.wav"
    save_audio(recording, wave, rate)
    out = tmp_path / "claps.txt"
    assert main(["events", "from-audio", str(recording), "--offset", "1.5", "-o", str(out)]) == 0
    track = read_event_file(out)
    assert onset_f1(track.times, np.array(claps) + 1.5, 0.02)[2] == 1.0
    assert track.strengths[0] == 1.0 and track.strengths[1] < track.strengths[2] < 1.0
    assert main(["events", "from-audio", str(tmp_path / "none.wav"), "-o", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err
