"""Typed settings: every tunable value declared once, with its default, range and one-line doc.

A :class:`Param` describes one value. Plugins declare theirs in a ``params`` mapping
(``{"r": Param(8, "adapter rank", min=1)}``); the suite parser, the runner, the public API and the
docs all read the same declarations, so a bad value is refused at ``harbench validate`` with the
key that holds it, before any run.

The harness's own settings (training, pretraining, window, executor) are dataclasses whose fields
are declared with :func:`setting`; ``Class.params()`` gives their :class:`Param` declarations and
``Class.from_dict(values)`` builds a checked instance (unknown keys are refused, never dropped).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from harbench.contracts import HarbenchError

SEED_LIMIT = 2**31  # seeds are stored as a signed 32-bit INTEGER: 0 <= seed < 2**31


@dataclass(frozen=True)
class Param:
    """One setting: default, accepted type, inclusive/exclusive bounds or choices, and a doc line.

    ``kind`` is inferred from the default when not given: "bool", "int", "float", "str", "list",
    "mapping" or "any"; "names" accepts a name or a list of names (e.g. adapter targets).
    ``nullable`` admits None (implied by a default of None). ``rule`` is a further check called
    with the value; it raises :class:`HarbenchError` (a :class:`ParamError` with ``key`` for a
    part of a mapping value).
    """

    default: Any
    doc: str = ""
    kind: str = ""
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    max_exclusive: bool = False
    choices: tuple[Any, ...] | None = None
    nullable: bool = False
    rule: Callable[[Any], None] | None = None

    @property
    def type_name(self) -> str:
        if self.kind:
            return self.kind
        d = self.default
        if isinstance(d, bool):
            return "bool"
        if isinstance(d, int):
            return "int"
        if isinstance(d, float):
            return "float"
        if isinstance(d, str):
            return "str"
        if isinstance(d, (list, tuple)):
            return "list"
        if isinstance(d, Mapping):
            return "mapping"
        return "any"

    def describe_range(self) -> str:
        """Human text of what is accepted, e.g. ``int >= 1`` or ``one of fp32, bf16``."""
        if self.choices is not None:
            text = "one of " + ", ".join(str(c) for c in self.choices)
        else:
            kind = self.type_name
            bounds = []
            if self.min is not None:
                bounds.append(f"{'>' if self.min_exclusive else '>='} {_number(self.min)}")
            if self.max is not None:
                bounds.append(f"{'<' if self.max_exclusive else '<='} {_number(self.max)}")
            text = "a name or a list of names" if kind == "names" else kind
            text = " ".join([text, " and ".join(bounds)]) if bounds else text
        return text + (" or null" if self.nullable and self.default is not None else "")

    def check(self, value: Any) -> Any:
        """The value, or a HarbenchError message (without location) saying what was expected."""
        if value is None:
            if self.nullable or self.default is None:
                return None
            raise HarbenchError(f"expected {self.describe_range()}, got null")
        if not _kind_ok(self.type_name, value):
            raise HarbenchError(f"expected {self.describe_range()}, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise HarbenchError(f"expected a finite number, got {value!r}")
        if self.choices is not None and value not in self.choices:
            close = difflib.get_close_matches(str(value), [str(c) for c in self.choices], n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise HarbenchError(f"expected {self.describe_range()}, got {value!r}.{hint}")
        if _is_number(value) and not self._in_range(value):
            raise HarbenchError(f"expected {self.describe_range()}, got {value!r}")
        if self.rule is not None:
            self.rule(value)
        return value

    def _in_range(self, value: float) -> bool:
        if self.min is not None and (value <= self.min if self.min_exclusive else value < self.min):
            return False
        return self.max is None or (value < self.max if self.max_exclusive else value <= self.max)


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _kind_ok(kind: str, value: Any) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return _is_number(value)
    if kind == "str":
        return isinstance(value, str)
    if kind == "names":
        items = [value] if isinstance(value, str) else value
        return isinstance(items, (list, tuple)) and all(isinstance(v, str) for v in items)
    if kind == "list":
        return isinstance(value, (list, tuple))
    if kind == "mapping":
        return isinstance(value, Mapping)
    return True


class ParamError(HarbenchError):
    """A bad parameter. ``path`` is the key path inside the parameters (``("budget",
    "per_class")``), ``key`` its first element, for locating the error in a suite."""

    def __init__(self, message: str, key: str | None = None, path: tuple[Any, ...] = ()):
        super().__init__(message)
        self.path = tuple(path) or ((key,) if key is not None else ())
        self.key = self.path[0] if self.path else None


def defaults_of(params: Mapping[str, Param]) -> dict[str, Any]:
    """``{name: default}`` of a parameter declaration."""
    return {k: p.default for k, p in params.items()}


def resolve(
    owner: str, params: Mapping[str, Param], given: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Merge ``given`` over the declared defaults, checking names (did-you-mean) and values.

    ``owner`` names what the parameters belong to in messages, e.g. ``"method 'lora'"``. Raises
    :class:`ParamError` whose ``path`` locates the offending value.
    """
    out = defaults_of(params)
    for key, value in dict(given or {}).items():
        if key not in params:
            close = difflib.get_close_matches(str(key), list(params), n=2, cutoff=0.5)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            known = ", ".join(sorted(params)) or "none"
            raise ParamError(
                f"{owner} has no parameter {key!r}.{hint} Its parameters: {known}.", key
            )
        try:
            out[key] = params[key].check(value)
        except ParamError as exc:
            raise ParamError(f"{owner} parameter {key!r}: {exc}", path=(key, *exc.path)) from None
        except HarbenchError as exc:
            raise ParamError(f"{owner} parameter {key!r}: {exc}", key) from None
    return out


def params_from_defaults(defaults: Mapping[str, Any]) -> dict[str, Param]:
    """A lenient declaration inferred from a plain defaults dict (for plugins without ``params``).

    Types follow the defaults (an int default also accepts no float, a float one accepts ints);
    a default of None accepts anything; a name (str) or list-of-names default accepts either.
    """
    out = {}
    for key, value in defaults.items():
        kind = ""
        if value is None:
            kind = "any"
        elif isinstance(value, str) or (
            isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
        ):
            kind = "names"
        out[key] = Param(value, kind=kind)
    return out


def plugin_params(plugin: Any) -> dict[str, Param]:
    """A plugin's declared ``params`` (a typed record class, or the API-1 mapping of
    :class:`Param`), else a lenient declaration inferred from its ``defaults`` (API 1)."""
    declared = getattr(plugin, "params", None)
    if is_params_record(declared):
        return declared.params()
    if declared:
        return dict(declared)
    return params_from_defaults(getattr(plugin, "defaults", None) or {})


def resolve_plugin_params(kind: str, name: str, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """The full, checked parameters of plugin ``name`` of ``kind`` ("models", "methods", ...).

    The one function through which the suite parser, the runner and the public API resolve a
    plugin's parameters. Raises :class:`ParamError` (unknown key with did-you-mean, bad value).
    """
    from harbench import plugins

    kind = kind if kind.endswith("s") else kind + "s"
    plugin = plugins.get(kind, name)
    return derive(plugin, resolve(f"{kind[:-1]} {name!r}", plugin_params(plugin), given))


def derive(plugin: Any, resolved: Mapping[str, Any]) -> dict[str, Any]:
    """``resolved`` with the plugin's derived values filled in: its record's :meth:`derived`
    (API 2), else its ``derive_params`` (API 1 methods). Idempotent."""
    declared = getattr(plugin, "params", None)
    if is_params_record(declared):
        return declared(**resolved).derived().to_dict()
    legacy = getattr(plugin, "derive_params", None)
    return dict(legacy(dict(resolved))) if callable(legacy) else dict(resolved)


def params_record(plugin: Any, resolved: Mapping[str, Any]) -> Any:
    """The typed record a plugin of API 2 receives for ``resolved`` values."""
    return plugin.params(**resolved)


def label_params(plugin: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    """The values of ``params`` a label shows: those that differ from the plugin's defaults,
    leaving out a derived value that the other values imply (``alpha = 2 * r`` is not shown)."""
    declared = plugin_params(plugin)
    defaults = defaults_of(declared)
    shown = {}
    for key, value in sorted(params.items()):
        if key in defaults and defaults[key] == value:
            continue
        if key in defaults:
            try:
                implied = derive(plugin, {**params, key: defaults[key]}).get(key, object())
            except (HarbenchError, TypeError):
                implied = object()
            if implied == value:
                continue
        shown[key] = value
    return shown


# ---- the harness's own settings -----------------------------------------------------------------


def setting(default: Any, doc: str, **check: Any) -> Any:
    """A dataclass field declared once: its default, its range (``Param`` keywords) and its doc."""
    param = Param(default, doc, **check)
    if isinstance(default, (list, dict)):
        return dataclasses.field(
            default_factory=lambda: type(default)(default), metadata={"param": param}
        )
    return dataclasses.field(default=default, metadata={"param": param})


S = TypeVar("S", bound="Settings")


class Settings:
    """Base of the typed settings dataclasses: checked on construction, built from mappings."""

    owner: ClassVar[str] = "settings"

    @classmethod
    def params(cls) -> dict[str, Param]:
        """Every field's :class:`Param` declaration, by name."""
        return {f.name: f.metadata["param"] for f in dataclasses.fields(cls)}  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls: type[S], values: Mapping[str, Any] | None) -> S:
        """A checked instance from ``values`` over the defaults; unknown keys are refused."""
        return cls(**resolve(cls.owner, cls.params(), values))

    def updated(self: S, values: Mapping[str, Any] | None) -> S:
        """A copy with ``values`` applied (checked like :meth:`from_dict`)."""
        return type(self).from_dict({**self.to_dict(), **dict(values or {})})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def __post_init__(self) -> None:
        for name, param in self.params().items():
            try:
                param.check(getattr(self, name))
            except ParamError as exc:
                raise ParamError(f"{self.owner} {name!r}: {exc}", path=(name, *exc.path)) from None
            except HarbenchError as exc:
                raise ParamError(f"{self.owner} {name!r}: {exc}", name) from None


class PluginParams(Settings):
    """Base of a plugin's typed parameter record (plugin API 2): a frozen dataclass whose fields
    are declared with :func:`setting` (default, range, one doc line each).

    A plugin names its record in ``params``; the suite parser, the runner and the API resolve the
    user's values against it once, where a run's spec is made (:func:`resolve_plugin_params`),
    then apply :meth:`derived` (values whose default depends on others, e.g. LoRA's
    ``alpha = 2 * r``), so the stored config holds every value the plugin ran with. The plugin's
    ``adapt``/``build`` receives the resolved instance.
    """

    owner: ClassVar[str] = "parameters"

    def derived(self: S) -> S:
        """This record with derived values filled in (default: unchanged). Must be idempotent."""
        return self

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """``{name: default}`` of every field."""
        return defaults_of(cls.params())


def is_params_record(declared: Any) -> bool:
    """Whether ``declared`` (a plugin's ``params``) is a typed record class (plugin API 2)."""
    return isinstance(declared, type) and issubclass(declared, Settings)


def _check_budget(value: Mapping[str, Any]) -> None:
    """``{per_class: N >= 1}`` or ``{fraction: 0 < F <= 1}``."""
    if len(value) != 1 or set(value) not in ({"per_class"}, {"fraction"}):
        raise HarbenchError(f"expected {{per_class: N}} or {{fraction: F}}, got {dict(value)!r}")
    if "per_class" in value:
        _sub("per_class", Param(1, min=1), value["per_class"])
    else:
        _sub("fraction", Param(0.5, min=0, min_exclusive=True, max=1), value["fraction"])


def _sub(key: str, param: Param, value: Any) -> None:
    try:
        param.check(value)
    except HarbenchError as exc:
        raise ParamError(f"{key!r}: {exc}", key) from None


def _check_harmonise(value: Any) -> None:
    from harbench.data.harmonise import Harmonisation

    try:
        Harmonisation.coerce(value)
    except TypeError as exc:
        raise HarbenchError(str(exc)) from None


def _seed(doc: str) -> Any:
    return setting(None, doc, kind="int", min=0, max=SEED_LIMIT, max_exclusive=True)


POSITIVE = {"min": 0, "min_exclusive": True}
OPEN_UNIT = {"min": 0, "min_exclusive": True, "max": 1, "max_exclusive": True}


@dataclass(frozen=True)
class TrainingSettings(Settings):
    """How a run trains: optimiser, schedule, early stopping, validation, labels and precision."""

    owner: ClassVar[str] = "training"

    epochs: int = setting(30, "maximum training epochs", min=1)
    batch_size: int = setting(64, "windows per optimiser step", min=1)
    lr: float = setting(1e-3, "AdamW learning rate", **POSITIVE)
    weight_decay: float = setting(1e-2, "AdamW weight decay", min=0)
    patience: int = setting(8, "epochs without improvement before early stopping", min=1)
    lr_patience: int = setting(3, "epochs without improvement before the lr drops", min=0)
    lr_factor: float = setting(0.5, "factor applied to the lr when it drops", **OPEN_UNIT)
    val_fraction: float = setting(
        0.2, "share of training subjects held out to validate", **OPEN_UNIT
    )
    monitor: str = setting("val_f1", "what early stopping watches", choices=("val_f1", "val_loss"))
    budget: dict[str, Any] | None = setting(
        None,
        "labelled windows kept: {per_class: N} or {fraction: F}; null = every window",
        kind="mapping",
        rule=_check_budget,
    )
    measure_latency: bool = setting(False, "time inference at batch 1 and 64 after training")
    precision: str = setting(
        "fp32", "training arithmetic on CUDA (the CPU trains in fp32)",
        choices=("fp32", "bf16", "fp16"),
    )
    bn_policy: str = setting(
        "update",
        "BatchNorm running statistics: updated, frozen, or the method's own policy",
        choices=("update", "frozen", "method"),
    )


@dataclass(frozen=True)
class PretrainSettings(Settings):
    """A pretraining stage shared by the runs of a suite (self-supervised MAE or supervised)."""

    owner: ClassVar[str] = "pretrain"

    objective: str = setting(
        "mae", "mae = masked reconstruction; supervised = labels of the source data",
        choices=("mae", "supervised"),
    )
    models: list[str] | None = setting(None, "backbones pretrained; null = every one", kind="names")
    datasets: list[str] | None = setting(
        None,
        "datasets pooled for pretraining; null = the run's own training (source) data",
        kind="names",
    )
    epochs: int = setting(20, "pretraining epochs", min=1)
    batch_size: int = setting(128, "windows per pretraining step", min=1)
    lr: float = setting(1e-3, "pretraining learning rate", **POSITIVE)
    weight_decay: float = setting(0.05, "pretraining weight decay", min=0)
    mask_ratio: float = setting(0.75, "share of patches masked (mae)", **OPEN_UNIT)
    patience: int = setting(5, "epochs without improvement before stopping (supervised)", min=1)
    val_fraction: float = setting(
        0.2, "share of source subjects held out to validate (supervised)", **OPEN_UNIT
    )
    seed: int | None = _seed("pretraining seed; null = the run's seed")


@dataclass(frozen=True)
class WindowSettings(Settings):
    """How recordings are cut into windows (and optionally harmonised first)."""

    owner: ClassVar[str] = "window"

    seconds: float | None = setting(
        None, "window length in seconds; null = the dataset's own", kind="float", **POSITIVE
    )
    step: float | None = setting(
        None, "hop between windows in seconds; null = the dataset's own", kind="float", **POSITIVE
    )
    harmonise: Any = setting(
        None, "shared channels, units, rate and labels across datasets (see harmonise.py)",
        kind="any", rule=_check_harmonise,
    )

    def given(self) -> dict[str, Any]:
        """Only the values set (what ``load_windows`` needs; None means the dataset's own)."""
        return {k: v for k, v in self.to_dict().items() if v is not None}


@dataclass(frozen=True)
class ExecutorSettings(Settings):
    """Which executor maps the runs, and how many at once.

    Engine options (cpus, gpus, address, partition ...) are the executor plugin's own ``params``,
    resolved by :func:`executor_options`.
    """

    owner: ClassVar[str] = "executor"

    name: str = setting("local", "executor plugin that maps the runs")
    workers: int = setting(1, "runs in parallel", min=1)


def executor_options(name: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """The executor's own options (everything but ``name`` and ``workers``), checked.

    An unknown key is refused with a did-you-mean over every key of the block, ``workers``
    included (``worker: 2`` -> "Did you mean 'workers'?").
    """
    from harbench import plugins

    declared = plugin_params(plugins.get("executors", name))
    for key in given:
        if key not in declared:
            known = sorted({*declared, *ExecutorSettings.params()} - {"name"})
            close = difflib.get_close_matches(str(key), known, n=2, cutoff=0.5)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise ParamError(
                f"executor {name!r} has no parameter {key!r}.{hint} Its parameters: "
                f"{', '.join(known)}.",
                key,
            )
    return resolve_plugin_params("executors", name, given)


SETTINGS: dict[str, type[Settings]] = {
    "training": TrainingSettings,
    "pretrain": PretrainSettings,
    "window": WindowSettings,
    "executor": ExecutorSettings,
}


def markdown_table(params: Mapping[str, Param]) -> str:
    """A markdown table of parameter declarations: name, default, accepted values, doc."""
    rows = ["| key | default | accepted | meaning |", "|---|---|---|---|"]
    for name, param in params.items():
        default = "null" if param.default is None else f"`{param.default!r}`"
        rows.append(f"| `{name}` | {default} | {param.describe_range()} | {param.doc} |")
    return "\n".join(rows)


# The suite's `tuning:` block (harbench.tuning.block checks it; docs/settings.md renders it).
TUNING_PRUNERS = ("median", "halving", "none")
TUNING_SCORES = ("validation", "development")
TUNING_MAX_TRIALS = 1000
TUNING_PARAMS = {
    "trials": Param(None, "trials per method and study (required): the one budget of every "
                          "method compared", kind="int", min=1, max=TUNING_MAX_TRIALS),
    "seed": Param(0, "seed of the TPE sampler (per trial: seed, study, number) and of the "
                     "trials' training", min=0, max=2**31 - 1),
    "pruner": Param("median", "stop a trial on its per-epoch validation macro-F1: median of "
                              "the completed trials, successive halving, or never",
                    choices=TUNING_PRUNERS),
    "startup": Param(None, "trials drawn at random before TPE models the space and pruning "
                           "starts; null = a third of the trials (at least 1)", kind="int",
                     min=0, max=TUNING_MAX_TRIALS),
    "parallel": Param(1, "trials of one study asked at once from the same history (studies of "
                         "different methods and folds always run side by side)", min=1,
                      max=TUNING_MAX_TRIALS),
    "dev_targets": Param(None, "subject_adaptation: the development targets trials adapt to; "
                               "never among protocol.targets", kind="list"),
    "score": Param("validation", "what a trial is scored on: its best validation macro-F1 "
                                 "(carved from the adaptation windows), or, with dev_targets, "
                                 "the macro-F1 on the development targets' later (test-like) "
                                 "part, which no reported run ever sees",
                   choices=TUNING_SCORES),
    "space": Param({}, "dimensions searched for every method: training.<setting>, "
                       "method.<param> or model.<param> -> {log_uniform, uniform, int or log_int: "
                       "[low, high]} or {categorical: [choices]}"),
    "methods": Param({}, "per method name, dimensions searched on top of space"),
}


def reference() -> str:
    """Every suite setting of the harness and of each registered protocol, as markdown: the
    documentation is rendered from the same declarations the parser checks against."""
    from harbench import plugins

    parts = []
    for block, cls in SETTINGS.items():
        where = "`executor:`" if block == "executor" else f"`defaults.{block}`"
        parts.append(f"### {where}\n\n{(cls.__doc__ or '').strip().splitlines()[0]}\n")
        parts.append(markdown_table(cls.params()) + "\n")
    parts.append("### `tuning:`\n\nOne budget of trials per method, searched on validation "
                 "only (docs/tuning.md).\n")
    parts.append(markdown_table(TUNING_PARAMS) + "\n")
    for kind in ("protocols", "models", "methods", "executors"):
        for name in plugins.registry().names(kind):
            plugin = plugins.get(kind, name)
            parts.append(f"### {kind[:-1]} `{name}`\n\n{plugin.description}\n")
            declared = plugin_params(plugin)
            parts.append((markdown_table(declared) if declared else "No parameters.") + "\n")
    return "\n".join(parts)
