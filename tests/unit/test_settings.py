"""GenerationSettings: one typed, self-describing value checked once (issue 13)."""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path

import pytest

from foleystudio.cli.settings_options import add_settings_options, settings_from_args
from foleystudio.core.requests import GenerationRequest
from foleystudio.core.settings import (
    GenerationSettings,
    choice_labels,
    is_optional,
    option_name,
    setting,
    setting_fields,
    setting_kind,
)
from foleystudio.errors import UsageError
from foleystudio.export.options import ExportDestinations, ExportOptions


@dataclass(frozen=True)
class ExtendedSettings(GenerationSettings):
    """A setting added in one place: the CLI and the form must show it with no other change."""

    shimmer: float = setting(0.5, "Shimmer", "how much shimmer", minimum=0.0, maximum=1.0, step=0.1)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"omega": math.nan}, "finite"),
        ({"cfg": math.inf}, "finite"),
        ({"steps": 0}, "between 1 and 1000"),
        ({"num_candidates": 65}, "between 1 and 64"),
        ({"seed": -1}, "between 0"),
        ({"delta": -0.1}, "between 0 and 3"),
        ({"sampler": "ddim"}, "one of euler, heun"),
        ({"steps": 2.5}, "whole number"),
        ({"model": 3}, "text"),
    ],
)
def test_bad_values_are_refused_naming_the_setting(changes, message):
    with pytest.raises(UsageError, match=message):
        GenerationSettings(**changes)
    with pytest.raises(UsageError, match=message):
        GenerationSettings().replace(**changes)


def test_boundaries_and_types():
    s = GenerationSettings(delta=0, cfg=2, steps=4.0)
    assert s.delta == 0.0 and isinstance(s.cfg, float) and s.steps == 4 and isinstance(s.steps, int)
    with pytest.raises(UsageError, match="unknown setting"):
        GenerationSettings().replace(colour=1)
    every = setting_fields(GenerationSettings)
    assert [f.name for f, _ in every] == [f.name for f, _ in setting_fields(GenerationSettings())]
    assert all(spec.label and spec.help for _, spec in every)


def test_request_json_is_valid_and_round_trips_with_its_settings():
    request = GenerationRequest("v.mp4", end=2.0, settings=GenerationSettings(steps=4, delta=0.0))
    text = json.dumps(request.to_dict(), allow_nan=False)  # NaN/Infinity cannot get in
    assert GenerationRequest.from_dict(json.loads(text)) == request
    # The flat form written before settings had their own type still reads.
    old = {"video": "v.mp4", "steps": 4, "seed": 7, "search": None, "model": "m"}
    assert GenerationRequest.from_dict(old).settings == GenerationSettings(steps=4, seed=7, model="m")
    # A setting's name given to replace() changes the settings.
    assert request.replace(seed=3, end=3.0).settings.seed == 3


def test_cli_options_come_from_the_field_descriptions():
    parser = argparse.ArgumentParser()
    add_settings_options(parser, ExtendedSettings)
    args = parser.parse_args(
        ["--shimmer", "0.7", "--candidates", "3", "--negative", "hum", "--sync-cfg", "2"]
    )
    value = settings_from_args(args, ExtendedSettings)
    assert (value.shimmer, value.num_candidates, value.negative_text, value.sync_cfg) == (0.7, 3, "hum", 2.0)
    assert settings_from_args(parser.parse_args([]), ExtendedSettings) == ExtendedSettings()
    with pytest.raises(UsageError, match=r"Shimmer \(--shimmer\) must be between 0 and 1"):
        settings_from_args(parser.parse_args(["--shimmer", "2"]), ExtendedSettings)
    with pytest.raises(UsageError, match="finite"):
        settings_from_args(parser.parse_args(["--omega", "nan"]), ExtendedSettings)
    assert "how much shimmer (default 0.5)" in " ".join(parser.format_help().split())


# --- ExportOptions: the same machinery with number choices and an optional number ----------
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sample_rate": 22050}, r"Sample rate \(--rate\) must be one of 44100, 48000, 96000 Hz, got 22050"),
        ({"bits": 8}, r"Format \(--bits\) must be one of 16, 24, 32 bit, got 8"),
        ({"bits": 24.5}, "whole number"),
        ({"sample_rate": True}, "whole number"),
        ({"loudness_target": math.nan}, r"Loudness target \(--loudness\) must be a finite number"),
        ({"loudness_target": 3.0}, "between -70 and 0 LUFS, got 3"),
        ({"loudness_target": "-23"}, "finite number"),
        ({"video_audio_codec": "mp3"}, "one of aac, pcm"),
        ({"per_clip": 1}, "true or false"),
        ({"naming": None}, "text"),
    ],
)
def test_export_options_refuse_bad_values_naming_the_setting(changes, message):
    with pytest.raises(UsageError, match=message):
        ExportOptions(**changes)
    with pytest.raises(UsageError, match=message):
        ExportOptions().replace(**changes)


def test_export_options_defaults_types_and_json():
    assert ExportOptions() == ExportOptions(48000, 24, False, "foley", None, "aac", True)
    options = ExportOptions(sample_rate=96000.0, loudness_target=-23)
    assert options.sample_rate == 96000 and isinstance(options.sample_rate, int)
    assert options.loudness_target == -23.0 and isinstance(options.loudness_target, float)
    assert options.replace(loudness_target=None).loudness_target is None  # off again
    text = json.dumps(options.to_dict(), allow_nan=False)
    assert ExportOptions.from_dict(json.loads(text)) == options
    assert all(spec.label and spec.help for _, spec in setting_fields(ExportOptions))


def test_optional_and_labelled_settings_are_declared_completely():
    with pytest.raises(TypeError, match="suggested"):
        setting(None, "Gain", "gain", unit="dB")
    with pytest.raises(TypeError, match="one label per choice"):
        setting(1, "Speed", "speed", choices=(1, 2), choice_labels=("slow",))
    described = {f.name: (f, spec) for f, spec in setting_fields(ExportOptions)}
    assert choice_labels(described["sample_rate"][1]) == ("44.1 kHz", "48 kHz", "96 kHz")
    assert choice_labels(described["video_audio_codec"][1]) == ("aac", "pcm")
    assert choice_labels(setting(2, "N", "n", choices=(1, 2), unit="x").metadata["setting"]) == ("1 x", "2 x")
    assert setting_kind(*described["loudness_target"]) is float and is_optional(
        described["loudness_target"][0]
    )
    assert setting_kind(*described["bits"]) is int and not is_optional(described["bits"][0])


def test_export_cli_flags_come_from_the_field_descriptions():
    parser = argparse.ArgumentParser()
    add_settings_options(parser, ExportOptions)
    assert settings_from_args(parser.parse_args([]), ExportOptions) == ExportOptions()
    args = parser.parse_args(
        [
            "--rate",
            "44100",
            "--bits",
            "32",
            "--per-clip",
            "--naming",
            "plain",
            "--loudness",
            "-16",
            "--video-audio",
            "pcm",
            "--no-ixml",
        ]
    )
    assert settings_from_args(args, ExportOptions) == ExportOptions(
        44100, 32, True, "plain", -16.0, "pcm", False
    )
    with pytest.raises(SystemExit):  # argparse keeps to the choices
        parser.parse_args(["--rate", "22050"])
    with pytest.raises(UsageError, match="between -70 and 0 LUFS"):
        settings_from_args(parser.parse_args(["--loudness", "5"]), ExportOptions)
    # `foleystudio export` has every described flag (and the flags it had before they were).
    from foleystudio.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    text = " ".join(sub.choices["export"].format_help().split())
    flags = {option_name(f, spec) for f, spec in setting_fields(ExportOptions)}
    assert flags == {"--rate", "--bits", "--per-clip", "--naming", "--loudness", "--video-audio", "--ixml"}
    assert all(flag in text for flag in [*flags, "--no-ixml", "--stems", "--mix", "--edl", "--json"])
    assert "(default off; e.g. -23 LUFS)" in text and "(default 48000 Hz)" in text


def test_export_destinations_are_paths_and_need_one(tmp_path):
    to = ExportDestinations(stems="stems", mix=tmp_path / "mix.wav")
    assert to.stems == Path("stems") and to.video is None
    assert to.resolved(tmp_path) == ExportDestinations(stems=tmp_path / "stems", mix=tmp_path / "mix.wav")
    with pytest.raises(UsageError, match="nothing to export"):
        ExportDestinations()
    with pytest.raises(UsageError, match="the mix destination must be a path"):
        ExportDestinations(mix="")
    with pytest.raises(UsageError, match="per-clip export needs a stems folder"):
        ExportDestinations(mix="m.wav").check_for(ExportOptions(per_clip=True))
    to.check_for(ExportOptions(per_clip=True))
