"""export_project as a whole: mixdown rules, remuxed video, all-or-nothing writes, the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import wavinfo

from foleystudio.cli import main
from foleystudio.core.jobs import CancelToken
from foleystudio.core.project_bundle import save_project
from foleystudio.errors import ExportError, JobCancelled, UsageError
from foleystudio.export import ExportDestinations, ExportOptions, export_project
from tests.unit.test_export_support import add_clip, files_under, make_project, sine, write_render

SR = 48000


def three_tracks(tmp_path: Path):
    """Left (hard-left 0.2 DC), Right (hard-right 0.4 DC), Muted (0.3 DC, muted)."""
    project = make_project(duration=1.0)
    for name, level, pan, mute in (
        ("Left", 0.2, -1.0, False),
        ("Right", 0.4, 1.0, False),
        ("Muted", 0.3, 0.0, True),
    ):
        render = write_render(tmp_path / "renders", f"{name}.wav", np.full(SR, level, np.float32), SR)
        add_clip(project, name, render, position=0.0, duration=1.0, pan=pan, mute=mute)
    return project


def test_mix_pans_and_leaves_out_muted_tracks(tmp_path: Path) -> None:
    result = export_project(
        three_tracks(tmp_path),
        ExportDestinations(mix=tmp_path / "mix.wav"),
        ExportOptions(bits=32),
        bundle_dir=tmp_path,
    )
    mix, _ = sf.read(str(result.mix), dtype="float32")
    assert mix.shape == (SR, 2)
    assert mix[100] == pytest.approx([0.2, 0.4], abs=1e-6)  # hard pans: full level on one side only


def test_solo_wins_over_mute(tmp_path: Path) -> None:
    project = three_tracks(tmp_path)
    project.track_named("Muted").solo = True
    project.track_named("Right").solo = True
    result = export_project(
        project, ExportDestinations(mix=tmp_path / "mix.wav"), ExportOptions(bits=32), bundle_dir=tmp_path
    )
    mix, _ = sf.read(str(result.mix), dtype="float32")
    centre = 0.3 * math.sqrt(0.5)  # constant-power centre: -3 dB per side
    assert mix[100] == pytest.approx([centre, 0.4 + centre], abs=1e-6)


def test_loudness_normalisation_is_explicit_and_reported(tmp_path: Path) -> None:
    project = make_project(duration=2.0)
    render = write_render(tmp_path / "renders", "tone.wav", sine(SR, 2.0, 1000, 0.05), SR)
    add_clip(project, "Props", render, position=0.0, duration=2.0)
    plain = export_project(project, ExportDestinations(mix=tmp_path / "plain.wav"), bundle_dir=tmp_path)
    assert plain.mix_report.normalization_gain_db is None and plain.mix_report.target_lufs is None
    loud = export_project(
        project,
        ExportDestinations(mix=tmp_path / "loud.wav"),
        ExportOptions(loudness_target=-23.0),
        bundle_dir=tmp_path,
    )
    report = loud.mix_report
    assert report.loudness_lufs == pytest.approx(-23.0, abs=0.01)
    assert report.normalization_gain_db == pytest.approx(-23.0 - report.measured_lufs, abs=1e-6)
    assert report.measured_lufs == pytest.approx(plain.mix_report.loudness_lufs, abs=1e-6)
    assert wavinfo.WavInfoReader(str(loud.mix)).bext.loudness_value == pytest.approx(-23.0, abs=0.01)
    a, _ = sf.read(str(plain.mix), dtype="float32")
    b, _ = sf.read(str(loud.mix), dtype="float32")
    ratio = np.max(np.abs(b)) / np.max(np.abs(a))
    assert 20 * math.log10(ratio) == pytest.approx(report.normalization_gain_db, abs=0.01)


def test_clipping_mix_gives_a_warning(tmp_path: Path) -> None:
    project = make_project(duration=1.0)
    render = write_render(tmp_path / "renders", "tone.wav", sine(SR, 1.0, 500, 0.9), SR)
    add_clip(project, "Props", render, position=0.0, duration=1.0, gain_db=12.0)
    result = export_project(project, ExportDestinations(mix=tmp_path / "mix.wav"), bundle_dir=tmp_path)
    assert result.mix_report.peak_dbfs > 0
    assert any("over full scale" in w for w in result.warnings)


def test_remuxed_video_has_the_new_audio(tmp_path: Path, make_video) -> None:
    import av

    from foleystudio.core.media import probe, read_audio

    video = make_video("picture.mp4", seconds=1.0, fps=24)  # its own sound: a 440 Hz sine
    project = make_project(duration=1.0, video=str(video))
    render = write_render(tmp_path / "renders", "tone.wav", sine(SR, 1.0, 2000, 0.3), SR)
    add_clip(project, "Props", render, position=0.0, duration=1.0)
    result = export_project(
        project, ExportDestinations(video=tmp_path / "out" / "with_foley.mp4"), bundle_dir=tmp_path
    )
    assert result.video == tmp_path / "out" / "with_foley.mp4" and result.video.is_file()
    sound = read_audio(result.video, SR)[2400:40000]
    spectrum = np.abs(np.fft.rfft(sound))
    assert np.fft.rfftfreq(len(sound), 1 / SR)[np.argmax(spectrum)] == pytest.approx(2000, abs=5)

    def packets(path: Path) -> list[bytes]:
        with av.open(str(path)) as container:
            return [bytes(p) for p in container.demux(video=0) if p.size]

    assert packets(result.video) == packets(video)  # the picture is copied, not re-encoded
    assert probe(result.video).frame_count == probe(video).frame_count


def test_missing_render_fails_before_anything_is_written(tmp_path: Path) -> None:
    project = three_tracks(tmp_path)
    missing = tmp_path / "renders" / "gone.wav"
    add_clip(project, "Right", str(missing), position=0.5, duration=0.2)
    out = tmp_path / "out"
    with pytest.raises(ExportError) as info:
        export_project(
            project,
            ExportDestinations(stems=out / "stems", mix=out / "mix.wav", rpp=out / "a.rpp"),
            bundle_dir=tmp_path,
        )
    assert info.value.path == str(missing) and "not found" in info.value.problem
    assert not out.exists()


def test_missing_video_is_named(tmp_path: Path) -> None:
    project = three_tracks(tmp_path)
    project.video = str(tmp_path / "lost.mp4")
    with pytest.raises(ExportError) as info:
        export_project(project, ExportDestinations(video=tmp_path / "v.mp4"), bundle_dir=tmp_path)
    assert info.value.path == str(tmp_path / "lost.mp4")
    assert not (tmp_path / "v.mp4").exists()


def test_failure_midway_leaves_no_half_written_file(tmp_path: Path) -> None:
    project = three_tracks(tmp_path)
    bad = tmp_path / "renders" / "bad.wav"
    bad.write_bytes(b"RIFF but not really a wave file at all")  # exists, so only reading fails
    add_clip(project, "Muted", str(bad), position=0.5, duration=0.2)
    out = tmp_path / "out"
    (out / "stems").mkdir(parents=True)
    keep = out / "mix.wav"
    keep.write_bytes(b"previous mix")
    with pytest.raises(ExportError) as info:
        export_project(
            project,
            ExportDestinations(stems=out / "stems", mix=keep, otio=out / "a.otio"),
            bundle_dir=tmp_path,
        )
    assert info.value.path == str(bad)
    assert files_under(out) == ["mix.wav", "stems"]  # no stem, no staging folder, no temp file
    assert keep.read_bytes() == b"previous mix"


def test_cancel_changes_nothing(tmp_path: Path) -> None:
    project = three_tracks(tmp_path)
    token = CancelToken()
    seen: list[str] = []

    def progress(fraction: float, message: str) -> None:
        seen.append(message)
        if len(seen) == 2:  # after the first stem has been written into the staging folder
            token.cancel()

    out = tmp_path / "out"
    with pytest.raises(JobCancelled):
        export_project(
            project,
            ExportDestinations(stems=out / "stems", mix=out / "mix.wav"),
            bundle_dir=tmp_path,
            progress=progress,
            cancel=token,
        )
    assert not out.exists()


def test_bad_options_are_usage_errors(tmp_path: Path) -> None:
    project = three_tracks(tmp_path)
    # A bad rate, depth or loudness cannot even be made (tests/unit/test_settings.py).
    with pytest.raises(UsageError, match="nothing to export"):
        ExportDestinations()
    with pytest.raises(UsageError, match="per-clip export needs a stems folder"):
        export_project(
            project,
            ExportDestinations(mix=tmp_path / "m.wav"),
            ExportOptions(per_clip=True),
            bundle_dir=tmp_path,
        )
    with pytest.raises(UsageError, match="unknown naming preset 'nonsense'"):
        export_project(
            project,
            ExportDestinations(stems=tmp_path / "s"),
            ExportOptions(naming="nonsense"),
            bundle_dir=tmp_path,
        )
    with pytest.raises(UsageError, match="PCM"):
        export_project(
            project,
            ExportDestinations(video=tmp_path / "v.mp4"),
            ExportOptions(video_audio_codec="pcm"),
            bundle_dir=tmp_path,
        )
    with pytest.raises(UsageError, match="same name"):
        export_project(
            project,
            ExportDestinations(stems=tmp_path / "s", mix=tmp_path / "s" / "Scene-12_01_PROPS_Left.wav"),
            bundle_dir=tmp_path,
        )
    assert not (tmp_path / "s").exists()


def test_relative_destinations_resolve_against_the_bundle(tmp_path: Path) -> None:
    result = export_project(
        three_tracks(tmp_path), ExportDestinations(mix="exports/mix.wav"), bundle_dir=tmp_path / "b.foley"
    )
    assert result.mix == tmp_path / "b.foley" / "exports" / "mix.wav" and result.mix.is_file()


def test_cli_export_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = three_tracks(tmp_path)
    bundle = tmp_path / "scene.foley"
    save_project(project, bundle)
    stems, rpp = tmp_path / "stems", tmp_path / "scene.rpp"
    code = main(
        [
            "export",
            str(bundle),
            "--stems",
            str(stems),
            "--rpp",
            str(rpp),
            "--rate",
            "44100",
            "--bits",
            "16",
            "--json",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["sample_rate"] == 44100 and report["bits"] == 16 and report["rpp"] == str(rpp)
    assert [Path(p).name for p in report["stems"]] == [
        "Scene-12_01_PROPS_Left.wav",
        "Scene-12_02_PROPS_Right.wav",
        "Scene-12_03_PROPS_Muted.wav",
    ]
    assert all(sf.info(p).samplerate == 44100 for p in report["stems"])


def test_cli_missing_render_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = three_tracks(tmp_path)
    bundle = tmp_path / "scene.foley"
    save_project(project, bundle)
    (tmp_path / "renders" / "Left.wav").unlink()
    code = main(["export", str(bundle), "--mix", str(tmp_path / "mix.wav")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "Left.wav" in err and "not found" in err
    assert not (tmp_path / "mix.wav").exists()


def test_video_with_pcm_audio_in_mov(tmp_path: Path, make_video) -> None:
    from foleystudio.core.media import probe

    video = make_video("picture.mp4", seconds=0.5, fps=24)
    project = make_project(duration=0.5, video=str(video))
    render = write_render(tmp_path / "renders", "tone.wav", sine(SR, 0.5, 1000, 0.3), SR)
    add_clip(project, "Props", render, position=0.0, duration=0.5)
    result = export_project(
        project,
        ExportDestinations(video=tmp_path / "v.mov"),
        ExportOptions(video_audio_codec="pcm", bits=16),
        bundle_dir=tmp_path,
    )
    info = probe(result.video)
    assert info.audio_codec == "pcm_s16le" and info.sample_rate == SR and info.channels == 2


def test_cli_naming_preset_file_and_bad_preset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = tmp_path / "scene.foley"
    save_project(three_tracks(tmp_path), bundle)
    preset = tmp_path / "studio.json"
    preset.write_text(json.dumps({"name": "Studio", "template": "{nn}_{track}", "rules": []}))
    assert main(["export", str(bundle), "--stems", str(tmp_path / "s"), "--naming", str(preset)]) == 0
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == [
        "01_Left.wav",
        "02_Right.wav",
        "03_Muted.wav",
    ]
    assert main(["export", str(bundle), "--stems", str(tmp_path / "t"), "--naming", "nonsense"]) == 2
    assert "unknown naming preset" in capsys.readouterr().err
