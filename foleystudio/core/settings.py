"""Typed settings values whose fields describe themselves (default, range, step, unit, help).

A settings class is a frozen dataclass whose fields are made with :func:`setting`. The field's
:class:`SettingSpec` is the one place a setting is described: validation (:func:`check_settings`),
the command line (``cli/settings_options.py``) and the inspector's form (``gui/settings_form.py``)
all read it, so adding a setting is a one-place change. ``ExportOptions`` (export/options.py)
follows the same pattern.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from foleystudio.errors import UsageError

S = TypeVar("S")

#: The ODE solvers of the sampler (``ml/flowley/sampler.py``).
SAMPLER_METHODS = ("euler", "heun")

#: The bundled default model.
DEFAULT_MODEL = "foleyworld-tiny"


@dataclass(frozen=True)
class SettingSpec:
    """What the UI and the command line need to know about one setting.

    ``minimum``/``maximum`` bound numbers (inclusive); ``choices`` lists the allowed values,
    texts or numbers (an editable list of texts when ``free_text``), and ``choice_labels`` how
    the form shows them (default: the value and its unit); ``option`` is the command-line flag
    (default: the field name with dashes); ``decimals``, ``step`` and ``widget`` shape the
    form's field. A setting whose default is None is optional (None = off): ``suggested`` is
    the value the form offers when it is turned on, and its type is the setting's."""

    label: str
    help: str
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    decimals: int = 2
    choices: tuple[Any, ...] = ()
    choice_labels: tuple[str, ...] = ()
    free_text: bool = False
    option: str | None = None
    #: ``"slider"`` asks the form for a slider with its value beside it instead of a spin box.
    widget: str = ""
    suggested: float | None = None


def setting(default: Any, label: str, help: str, **spec: Any) -> Any:
    """A dataclass field with ``default`` described by a :class:`SettingSpec`."""
    described = SettingSpec(label, help, **spec)
    if default is None and described.suggested is None:
        raise TypeError(f"optional setting {label!r} needs suggested= (its type is the setting's)")
    if described.choice_labels and len(described.choice_labels) != len(described.choices):
        raise TypeError(f"setting {label!r}: one label per choice")
    return field(default=default, metadata={"setting": described})


def setting_fields(cls_or_value: Any) -> list[tuple[dataclasses.Field, SettingSpec]]:
    """The described fields of a settings class (or value), in declaration order."""
    return [(f, f.metadata["setting"]) for f in dataclasses.fields(cls_or_value) if "setting" in f.metadata]


def option_name(f: dataclasses.Field, spec: SettingSpec) -> str:
    """The command-line flag of a setting, e.g. ``--sync-cfg``."""
    return spec.option or "--" + f.name.replace("_", "-")


def setting_kind(f: dataclasses.Field, spec: SettingSpec) -> type:
    """``int``, ``float``, ``str`` or ``bool``: the type of the field's default (of
    ``suggested`` for an optional setting)."""
    return type(spec.suggested) if f.default is None else type(f.default)


def is_optional(f: dataclasses.Field) -> bool:
    """Whether the setting may be None (off): its default is."""
    return f.default is None


def choice_labels(spec: SettingSpec) -> tuple[str, ...]:
    """How the form shows each of ``spec.choices``: its label, or the value and its unit."""
    unit = f" {spec.unit}" if spec.unit else ""
    return spec.choice_labels or tuple(
        f"{c}{unit}" if isinstance(c, int | float) else str(c) for c in spec.choices
    )


def check_value(f: dataclasses.Field, spec: SettingSpec, value: Any) -> Any:
    """``value`` as the setting's type, or :class:`UsageError` naming the setting and its range."""
    kind = setting_kind(f, spec)
    name = f"{spec.label} ({option_name(f, spec)})"  # the app shows the label, the CLI the option
    if value is None and is_optional(f):
        return None
    if kind is bool:
        if not isinstance(value, bool):
            raise UsageError(f"{name} must be true or false, got {value!r}")
        return value
    if kind is str:
        if not isinstance(value, str):
            raise UsageError(f"{name} must be text, got {value!r}")
        if spec.choices and not spec.free_text and value not in spec.choices:
            raise UsageError(f"{name} must be one of {', '.join(spec.choices)}, got {value!r}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise UsageError(f"{name} must be a whole number, got {value!r}")
    elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UsageError(f"{name} must be a finite number, got {value!r}")
    else:
        value = float(value)
    unit = f" {spec.unit}" if spec.unit else ""
    if spec.choices and value not in spec.choices:
        allowed = ", ".join(f"{c:g}" for c in spec.choices)
        raise UsageError(f"{name} must be one of {allowed}{unit}, got {value:g}")
    low, high = spec.minimum, spec.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        raise UsageError(f"{name} must be between {low:g} and {high:g}{unit}, got {value:g}")
    return value


@dataclass(frozen=True)
class Settings:
    """Base of a settings value: every described field is checked on construction, so a bad
    value raises :class:`UsageError` naming the setting wherever it came from (CLI, app,
    script, JSON)."""

    def __post_init__(self) -> None:
        for f, spec in setting_fields(self):
            object.__setattr__(self, f.name, check_value(f, spec, getattr(self, f.name)))

    def replace(self: S, **changes: Any) -> S:
        """A copy with ``changes`` (checked); an unknown name raises :class:`UsageError`."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})  # type: ignore[arg-type]
        if unknown:
            raise UsageError(f"unknown setting(s) {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    @classmethod
    def from_dict(cls: type[S], data: Mapping[str, Any]) -> S:
        """A value from JSON: unknown keys are ignored, missing ones take their default."""
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in data.items() if k in names})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class GenerationSettings(Settings):
    """How to generate: the model, sampling, guidance, PSCA and candidates (not what or where)."""

    model: str = setting(
        DEFAULT_MODEL,
        "Model",
        "model bundle name or folder",
        choices=(DEFAULT_MODEL,),
        free_text=True,
    )
    device: str = setting("auto", "Device", "where to run: auto, cpu, cuda, cuda:N or mps", free_text=True)
    sampler: str = setting("euler", "Sampler", "ODE solver of the flow", choices=SAMPLER_METHODS)
    steps: int = setting(16, "Steps", "sampling steps", minimum=1, maximum=1000, step=1)
    #: 1 is the default: the bundled model's onsets are best without classifier-free guidance
    #: (with sync guidance 3 on 24 held-out clips, onset F1 0.82 at w = 1, 0.77 at 1.5, 0.55 at
    #: 2.5; it raises category clarity instead; docs/decisions.md).
    cfg: float = setting(
        1.0, "CFG", "classifier-free guidance strength (1 = off)", minimum=0.0, maximum=20.0, step=0.25
    )
    #: 3 is the default: it lifts the bundled model's onset F1 from 0.57 to 0.82 on 84
    #: held-out FoleyWorld clips (benchmarks/results/sync*.json, docs/decisions.md).
    sync_cfg: float = setting(
        3.0,
        "Sync guidance",
        "how strongly the sound follows the picture's timing (1 = off)",
        minimum=0.0,
        maximum=20.0,
        step=0.25,
    )
    #: Reference guidance w_r: (w_r − 1)·(v_cond − v_no_reference) is added, so an audio
    #: prompt sets more of what the sound is like (no effect without one; docs/decisions.md).
    ref_cfg: float = setting(
        1.0,
        "Prompt guidance",
        "how strongly an audio prompt sets what the sound is like (1 = off; needs an audio prompt)",
        minimum=0.0,
        maximum=20.0,
        step=0.25,
    )
    #: Mix guidance w_m: (w_m − 1)·(v_cond − v_no_mix) is added, so the SSV2A mix target (what
    #: the sources, an audio prompt among them, say the sound is) weighs more (docs/decisions.md).
    mix_cfg: float = setting(
        1.0,
        "Mix guidance",
        "how strongly the sources' sound target sets what the sound is like (1 = off)",
        minimum=0.0,
        maximum=50.0,
        step=0.25,
    )
    omega: float = setting(
        0.25,
        "Window ω",
        "PSCA window: audio sees the frames this close",
        unit="s",
        minimum=0.0,
        maximum=2.0,
        step=0.01,
        widget="slider",
    )
    #: δ = 0 is allowed: the weight then drops straight to β outside the window (psca_mask).
    delta: float = setting(
        0.5,
        "Decay δ",
        "PSCA decay width beyond the window",
        unit="s",
        minimum=0.0,
        maximum=3.0,
        step=0.01,
        widget="slider",
    )
    seed: int = setting(0, "Seed", "seed of the first candidate", minimum=0, maximum=2**31 - 1, step=1)
    num_candidates: int = setting(
        1,
        "Candidates",
        "candidates N: seeds seed … seed+N−1, or the search's population",
        minimum=1,
        maximum=64,
        step=1,
        option="--candidates",
    )
    #: GMDS (AvSyncDiff §3.3, docs/architecture.md §7.1): T iterations, each trying a small and a
    #: large move of every population member's initial noise on quick previews. 0 (default) keeps
    #: the plain best-of-N, N seeds rendered at full steps and ranked: on 12 held-out clips GMDS
    #: (N 6, T 2) did not beat best-of-14 at equal compute (docs/decisions.md).
    search_iters: int = setting(
        0,
        "Search iterations",
        "GMDS iterations over the candidates' initial noises (0 = best-of-N)",
        minimum=0,
        maximum=50,
        step=1,
    )
    #: 4 steps: a 4-step preview's sync score ranks like its full render's (Spearman 0.70 over
    #: the kept noises of 12 held-out clips, benchmarks/results/search.json).
    search_steps: int = setting(
        4, "Search steps", "sampling steps of the search's preview renders", minimum=1, maximum=64, step=1
    )
    sigma_small: float = setting(
        0.3,
        "σ small",
        "GMDS local move x' = √(1−σ²)·x + σ·η: share of fresh noise",
        minimum=0.01,
        maximum=1.0,
        step=0.05,
    )
    sigma_large: float = setting(
        0.7,
        "σ large",
        "GMDS exploring move: share of fresh noise (≥ σ small)",
        minimum=0.01,
        maximum=1.0,
        step=0.05,
    )
    weight_semantic: float = setting(
        1.0,
        "Semantic weight",
        "weight of the semantic score (sound vs sources/picture) in the total",
        minimum=0.0,
        maximum=10.0,
        step=0.25,
    )
    weight_text: float = setting(
        1.0,
        "Text weight",
        "weight of the text score (sound vs prompt) in the total",
        minimum=0.0,
        maximum=10.0,
        step=0.25,
    )
    weight_sync: float = setting(
        1.0,
        "Sync weight",
        "weight of the sync score (onsets vs events) in the total",
        minimum=0.0,
        maximum=10.0,
        step=0.25,
    )
    negative_text: str = setting(
        "", "Avoid", "negative text prompt (steer away from it)", option="--negative"
    )
    cycle_iters: int = setting(
        0,
        "Cycle Mix T",
        "SSV2A Cycle Mix iterations for the sources' mix (0 = one Remixer pass)",
        minimum=0,
        maximum=1000,
        step=1,
    )
    cycle_samples: int = setting(
        4, "Cycle Mix N", "SSV2A Cycle Mix samples per iteration", minimum=1, maximum=1024, step=1
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.sigma_small > self.sigma_large:
            raise UsageError(
                f"σ small (--sigma-small {self.sigma_small:g}) must not exceed "
                f"σ large (--sigma-large {self.sigma_large:g})"
            )
        if self.weight_semantic + self.weight_text + self.weight_sync <= 0:
            raise UsageError("at least one score weight (--weight-semantic/-text/-sync) must be above 0")


#: The names of the generation settings, in declaration order.
GENERATION_SETTING_NAMES = tuple(f.name for f in dataclasses.fields(GenerationSettings))
