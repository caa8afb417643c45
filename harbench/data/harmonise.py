"""Harmonising datasets for cross-dataset work: one channel set, one unit system, one rate, one
activity vocabulary.

A :class:`Harmonisation` says what every dataset should look like; :func:`plan` checks a dataset's
declared facts against it (before any file is read) and :func:`apply` turns its recordings into
harmonised ones: selected channels, converted units, polyphase-resampled signals and labels mapped
onto the shared vocabulary (classes outside it become -1, which windowing drops).

Physical meaning: harmonised acceleration is the TOTAL acceleration an accelerometer measures
(body motion + gravity) in g, and angular rate is in rad/s. A dataset declares its channels'
sensor as "acc" (total acceleration), "acc_body" (gravity removed) or "gravity"; where a position
has no total acceleration but has both body acceleration and gravity, their sum is taken.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harbench.contracts import Channel, DatasetPlugin, HarbenchError, Recording
from harbench.data.parsing import resample

STANDARD_GRAVITY = 9.80665  # m/s^2 per g

SHARED_CLASSES: tuple[str, ...] = (
    "walking",
    "upstairs",
    "downstairs",
    "sitting",
    "standing",
    "lying",
    "running",
    "cycling",
    "jumping",
    "other",
)
"""The default shared activity vocabulary. "other" is only reached through an explicit map."""

SYNONYMS: dict[str, tuple[str, ...]] = {
    "walking": (
        "walking",
        "walk",
        "wlk",
        "walking_forward",
        "walking_left",
        "walking_right",
        "walking_in_parking_lot",
        "walking_parking_lot",
    ),
    "upstairs": (
        "upstairs",
        "ups",
        "walking_upstairs",
        "ascending_stairs",
        "stairs_up",
        "stair_up",
        "stairsup",
        "going_upstairs",
        "going_up_stairs",
        "walk_upstairs",
        "walking_up",
        "climbingup",
    ),
    "downstairs": (
        "downstairs",
        "dws",
        "walking_downstairs",
        "descending_stairs",
        "stairs_down",
        "stair_down",
        "stairsdown",
        "going_downstairs",
        "going_down_stairs",
        "walk_downstairs",
        "walking_down",
        "climbingdown",
    ),
    "sitting": ("sitting", "sit", "sitting_and_relaxing"),
    "standing": ("standing", "stand", "std", "standing_still"),
    "lying": (
        "lying",
        "laying",
        "lie",
        "lying_down",
        "sleeping",
        "lying_on_back",
        "lying_on_right_side",
    ),
    "running": ("running", "run", "jogging", "jog"),
    "cycling": ("cycling", "bike", "biking", "bicycling"),
    "jumping": (
        "jumping",
        "jump",
        "jumping_up",
        "rope_jumping",
        "rope_skipping",
        "ropeskipping",
        "jump_front_back",
        "jump_front_and_back",
    ),
}
"""Dataset class names (normalised: lower case, runs of other characters as "_") that map onto a
shared class without an explicit map. Transitions and mixed activities are deliberately absent."""

TOTAL, BODY, GRAVITY = "acc", "acc_body", "gravity"
"""Sensor names of total acceleration, body acceleration (gravity removed) and gravity."""

CHANNEL_SETS: dict[str, tuple[tuple[str, str], ...]] = {
    "acc": (("acc", "g"),),
    "acc_gyro": (("acc", "g"), ("gyro", "rad/s")),
}
"""Channel set name -> (sensor, target unit) in output order; three axes each."""

AXES = ("x", "y", "z")

UNIT_FACTORS: dict[str, dict[str, float]] = {
    "g": {
        "g": 1.0,
        "m/s^2": 1.0 / STANDARD_GRAVITY,
        "m/s2": 1.0 / STANDARD_GRAVITY,
        "m/s²": 1.0 / STANDARD_GRAVITY,
        "ms^-2": 1.0 / STANDARD_GRAVITY,
        "mg": 1e-3,
        "millig": 1e-3,
        "milli-g": 1e-3,
    },
    "rad/s": {
        "rad/s": 1.0,
        "deg/s": math.pi / 180.0,
        "dps": math.pi / 180.0,
        "°/s": math.pi / 180.0,
        "degrees/s": math.pi / 180.0,
    },
}
"""Target unit -> {source unit (lower case, no spaces): factor that converts into the target}."""


def normalise_name(text: str) -> str:
    """Lower case with every run of non-alphanumerics replaced by one underscore."""
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")


@dataclass(frozen=True)
class Harmonisation:
    """What harmonised data looks like.

    ``channels``: a name in :data:`CHANNEL_SETS` ("acc": 3-axis acceleration in g; "acc_gyro":
    that plus 3-axis angular rate in rad/s). ``rate_hz``: the common rate. ``position``: the body
    position to take where a dataset has the sensors at several (a name, or names in order of
    preference); None takes the first declared position that has every sensor. ``classes``: the
    shared vocabulary, in label-index order. ``label_map``: per dataset, {its class: shared class or
    None to drop it}, over the plugin's own ``shared_labels`` or the built-in synonyms.
    """

    channels: str = "acc"
    rate_hz: float = 50.0
    position: str | tuple[str, ...] | None = None
    classes: tuple[str, ...] = SHARED_CLASSES
    label_map: Mapping[str, Mapping[str, str | None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.channels not in CHANNEL_SETS:
            raise HarbenchError(
                f"harmonisation: unknown channel set {self.channels!r}; "
                f"expected one of {', '.join(CHANNEL_SETS)}"
            )
        if not isinstance(self.rate_hz, (int, float)) or not self.rate_hz > 0:
            raise HarbenchError(
                f"harmonisation: rate_hz must be a positive number, got {self.rate_hz!r}"
            )
        position = self.position
        if isinstance(position, str):
            position = (position,)
        elif position is not None:
            position = tuple(str(p) for p in position)
        classes = tuple(self.classes)
        if not classes or len(set(classes)) != len(classes):
            raise HarbenchError(f"harmonisation: classes must be distinct names, got {classes!r}")
        if not isinstance(self.label_map, Mapping):
            raise HarbenchError(
                "harmonisation: label_map must map dataset -> {class: shared class}"
            )
        object.__setattr__(self, "position", position)
        object.__setattr__(self, "rate_hz", float(self.rate_hz))
        object.__setattr__(self, "classes", classes)

    @classmethod
    def coerce(cls, value: Harmonisation | Mapping[str, Any] | str) -> Harmonisation:
        """A Harmonisation from itself, a channel set name, or a mapping (e.g. parsed YAML)."""
        if isinstance(value, Harmonisation):
            return value
        if isinstance(value, str):
            return cls(channels=value)
        if isinstance(value, Mapping):
            known = ("channels", "rate_hz", "position", "classes", "label_map")
            for key in value:
                if key not in known:
                    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.5)
                    hint = f" Did you mean {close[0]!r}?" if close else ""
                    raise HarbenchError(
                        f"harmonisation: unknown key {key!r}.{hint} Known keys: {', '.join(known)}."
                    )
            return cls(**dict(value))
        raise HarbenchError(
            f"harmonisation: expected a channel set name or a mapping, got {type(value).__name__}"
        )


@dataclass(frozen=True)
class Plan:
    """How one dataset's recordings become harmonised ones (derived from declared facts only)."""

    dataset: str
    position: str
    columns: tuple[int, ...]  # indices into the recording's channels, in output order
    scale: tuple[float, ...]  # unit factor per output channel
    plus: tuple[int, ...]  # per output channel: a channel added to it (gravity), or -1
    plus_scale: tuple[float, ...]  # unit factor of the added channel (0.0 where none)
    channels: tuple[str, ...]  # output channel names
    labels: dict[str, str]  # dataset class -> shared class, for the classes that map
    lut: tuple[int, ...]  # dataset class index -> shared class index, or -1
    classes: tuple[str, ...]
    from_hz: float
    to_hz: float

    def key(self) -> dict[str, Any]:
        """Everything that shapes the harmonised data, JSON-able (for cache keys)."""
        return {
            "position": self.position,
            "columns": list(self.columns),
            "scale": [repr(s) for s in self.scale],
            "plus": list(self.plus),
            "plus_scale": [repr(s) for s in self.plus_scale],
            "channels": list(self.channels),
            "lut": list(self.lut),
            "classes": list(self.classes),
            "from_hz": self.from_hz,
            "to_hz": self.to_hz,
        }


def _describe_channels(channels: Sequence[Channel]) -> str:
    seen: dict[str, None] = {}
    for c in channels:
        seen[f"{c.sensor or '?'}@{c.position or '(no position)'}"] = None
    return ", ".join(seen) or "no declared channels"


def _by_position(plugin: DatasetPlugin, sensor: str) -> dict[str, list[int]]:
    """Channel indices of ``sensor`` grouped by position, in declared order.

    For total acceleration, a position without it but with body acceleration and gravity (three
    axes each) counts too, with its body acceleration channels (``_gravity`` gives the rest).
    """
    groups: dict[str, list[int]] = {}
    for index, channel in enumerate(plugin.channels):
        if channel.sensor.lower() == sensor:
            groups.setdefault(channel.position.lower(), []).append(index)
    if sensor == TOTAL:
        gravity = _by_position(plugin, GRAVITY)
        for position, body in _by_position(plugin, BODY).items():
            has_gravity = len(gravity.get(position, [])) >= len(AXES)
            if position not in groups and len(body) >= len(AXES) and has_gravity:
                groups[position] = body
    return groups


def _gravity(plugin: DatasetPlugin, sensor: str, position: str) -> list[int]:
    """The gravity channels to add to ``sensor`` at ``position`` (none unless body acc is used)."""
    group = _by_position(plugin, sensor).get(position, []) if sensor == TOTAL else []
    if not group or plugin.channels[group[0]].sensor.lower() != BODY:
        return []
    return _by_position(plugin, GRAVITY)[position][: len(AXES)]


def _choose_position(plugin: DatasetPlugin, spec: Harmonisation) -> str:
    sensors = [sensor for sensor, _ in CHANNEL_SETS[spec.channels]]
    groups = {sensor: _by_position(plugin, sensor) for sensor in sensors}
    for sensor in sensors:
        if not groups[sensor]:
            raise HarbenchError(
                f"dataset {plugin.name!r} cannot be harmonised to {spec.channels!r}: it has no "
                f"{sensor!r} channels (it has: {_describe_channels(plugin.channels)})"
            )
    common = [p for p in groups[sensors[0]] if all(p in groups[s] for s in sensors[1:])]
    if spec.position is not None:
        wanted = [p.lower() for p in spec.position]
        for position in wanted:
            if position in common:
                return position
        raise HarbenchError(
            f"dataset {plugin.name!r} has no {' + '.join(sensors)} at position "
            f"{' or '.join(repr(p) for p in spec.position)} (it has: "
            f"{_describe_channels(plugin.channels)})"
        )
    if not common:
        raise HarbenchError(
            f"dataset {plugin.name!r} has no position carrying {' and '.join(sensors)} together "
            f"(it has: {_describe_channels(plugin.channels)}); choose one with position="
        )
    return common[0]


def _unit_factor(plugin: DatasetPlugin, channel: Channel, target: str) -> float:
    unit = channel.unit.lower().replace(" ", "")
    factors = UNIT_FACTORS[target]
    if unit not in factors:
        raise HarbenchError(
            f"dataset {plugin.name!r}, channel {channel.name!r}: unit {channel.unit!r} cannot be "
            f"converted to {target}; known units: {', '.join(factors)}"
        )
    return factors[unit]


def _label_mapping(plugin: DatasetPlugin, spec: Harmonisation) -> dict[str, str]:
    """Dataset class -> shared class for every class that maps onto ``spec.classes``."""
    vocabulary = set(spec.classes)
    base = getattr(plugin, "shared_labels", None)
    mapping: dict[str, str | None] = {}
    if isinstance(base, Mapping):
        mapping.update(base)
    else:
        lookup = {syn: shared for shared, names in SYNONYMS.items() for syn in names}
        for name in plugin.classes:
            mapping[name] = lookup.get(normalise_name(name))
    override = spec.label_map.get(plugin.name, {})
    for name, shared in override.items():
        if name not in plugin.classes:
            close = difflib.get_close_matches(str(name), plugin.classes, n=1, cutoff=0.5)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise HarbenchError(
                f"harmonisation label_map[{plugin.name!r}]: {name!r} is not a class of the "
                f"dataset.{hint} Its classes: {', '.join(plugin.classes)}"
            )
        mapping[name] = shared or None
    resolved: dict[str, str] = {}
    for name in plugin.classes:
        shared = mapping.get(name)
        if shared is None:
            continue
        if shared not in vocabulary and name in override:
            raise HarbenchError(
                f"harmonisation label_map[{plugin.name!r}][{name!r}]: {shared!r} is not in the "
                f"shared vocabulary ({', '.join(spec.classes)})"
            )
        if shared in vocabulary:
            resolved[name] = shared
    if not resolved:
        raise HarbenchError(
            f"dataset {plugin.name!r}: none of its classes ({', '.join(plugin.classes)}) maps onto "
            f"the shared vocabulary ({', '.join(spec.classes)}); give label_map={{"
            f"{plugin.name!r}: {{class: shared class}}}}"
        )
    return resolved


def plan(plugin: DatasetPlugin, spec: Harmonisation) -> Plan:
    """Check ``plugin``'s declared channels, units and classes against ``spec``; refuse clearly."""
    position = _choose_position(plugin, spec)
    columns: list[int] = []
    scale: list[float] = []
    plus: list[int] = []
    plus_scale: list[float] = []
    names: list[str] = []
    for sensor, target in CHANNEL_SETS[spec.channels]:
        found = _by_position(plugin, sensor)[position]
        if len(found) < len(AXES):
            raise HarbenchError(
                f"dataset {plugin.name!r} has {len(found)} {sensor!r} channel(s) at "
                f"{position or '(no position)'!r}; harmonisation needs {len(AXES)} axes"
            )
        gravity = _gravity(plugin, sensor, position) or [-1] * len(AXES)
        for axis, index, added in zip(AXES, found[: len(AXES)], gravity):
            columns.append(index)
            scale.append(_unit_factor(plugin, plugin.channels[index], target))
            plus.append(added)
            plus_scale.append(
                0.0 if added < 0 else _unit_factor(plugin, plugin.channels[added], target)
            )
            names.append(f"{sensor}_{axis}")
    labels = _label_mapping(plugin, spec)
    index = {name: i for i, name in enumerate(spec.classes)}
    lut = tuple(index[labels[c]] if c in labels else -1 for c in plugin.classes)
    return Plan(
        dataset=plugin.name,
        position=position,
        columns=tuple(columns),
        scale=tuple(scale),
        plus=tuple(plus),
        plus_scale=tuple(plus_scale),
        channels=tuple(names),
        labels=labels,
        lut=lut,
        classes=spec.classes,
        from_hz=float(plugin.rate_hz),
        to_hz=spec.rate_hz,
    )


def apply(
    plugin: DatasetPlugin, recordings: Sequence[Recording], spec: Harmonisation
) -> tuple[list[Recording], tuple[str, ...], tuple[str, ...], float]:
    """Harmonise ``plugin``'s recordings: returns (recordings, channels, classes, rate_hz).

    Recordings left without any labelled sample are dropped.
    """
    p = plan(plugin, spec)
    lut = np.asarray((*p.lut, -1), dtype=np.int64)  # label -1 indexes the trailing -1
    columns = np.asarray(p.columns)
    scale = np.asarray(p.scale, dtype=np.float64)
    plus = np.asarray([max(i, 0) for i in p.plus])
    plus_scale = np.asarray(p.plus_scale, dtype=np.float64)  # 0 where nothing is added
    width, n_classes = len(plugin.channels), len(plugin.classes)
    out: list[Recording] = []
    for i, rec in enumerate(recordings):
        where = f"dataset {plugin.name!r}, recording {rec.name or i}"
        signals, labels = np.asarray(rec.signals), np.asarray(rec.labels, dtype=np.int64)
        if signals.ndim != 2 or signals.shape[1] != width:
            raise HarbenchError(
                f"{where}: signals shaped {signals.shape}, expected [T, {width}] as declared"
            )
        if labels.size and (labels.min() < -1 or labels.max() >= n_classes):
            raise HarbenchError(f"{where}: labels outside -1..{n_classes - 1}")
        mapped = lut[labels]
        if not (mapped >= 0).any():
            continue
        selected = signals[:, columns].astype(np.float64) * scale
        if plus_scale.any():
            selected += signals[:, plus].astype(np.float64) * plus_scale
        selected, mapped = resample(selected, mapped, p.from_hz, p.to_hz)
        out.append(
            Recording(
                rec.subject,
                np.ascontiguousarray(selected, dtype=np.float32),
                np.asarray(mapped, dtype=np.int64),
                rec.name,
            )
        )
    return out, p.channels, p.classes, p.to_hz
