"""GenerationSettings: one typed, self-describing value checked once (issue 13)."""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass

import pytest

from foleystudio.cli.settings_options import add_settings_options, settings_from_args
from foleystudio.core.requests import GenerationRequest
from foleystudio.core.settings import GenerationSettings, setting, setting_fields
from foleystudio.errors import UsageError


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
