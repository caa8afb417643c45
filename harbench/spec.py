"""RunSpec: one cell of a suite, and its identity.

A run's identity (``run_id``) is the hash of its canonical spec: every setting that shapes the
result, the versions of the plugins it uses (a dataset's ``loader_version``, the model's,
method's and protocol's ``version``) and the fingerprint of the dataset's raw files. Changed
code or data is a new run; the old one stays stored and queryable.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any

from harbench import plugins
from harbench.contracts import HarbenchError


@dataclass(frozen=True)
class RunSpec:
    """One cell of a suite: everything that determines a run's result, and nothing else."""

    dataset: str
    model: str
    model_params: dict[str, Any]
    method: str
    method_params: dict[str, Any]
    protocol: dict[str, Any]
    fold: int
    seed: int
    window: dict[str, Any]
    training: dict[str, Any]
    pretrain: dict[str, Any] | None = None
    # what the loader is asked for beyond the defaults, e.g. {"subjects": [1, 2, 3]}
    dataset_params: dict[str, Any] = field(default_factory=dict)
    # {"dataset": loader_version, "model": ..., "method": ..., "protocol": ...}: see identity()
    versions: dict[str, str] = field(default_factory=dict)
    data_fingerprint: str = ""
    # a tuned run: {"study": key, "family": key without the fold, "trials": budget, "params":
    # chosen, "label": method before tuning} (harbench.tuning); absent from untuned runs
    tuning: dict[str, Any] | None = None
    suite: str = field(default="", compare=False)

    def canonical(self) -> dict[str, Any]:
        """The identity of the run (the suite that asked for it is not part of it): a fresh
        JSON-shaped copy, safe to change."""
        return json.loads(self._canonical_text)

    @cached_property
    def _canonical_text(self) -> str:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "suite"}
        if data["tuning"] is None:  # untuned runs keep the identity they had before tuning
            del data["tuning"]
        return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)

    @cached_property
    def run_id(self) -> str:
        """The hash of the canonical spec: the run's identity in the store."""
        return hashlib.sha256(self._canonical_text.encode()).hexdigest()[:20]

    @property
    def subjects(self) -> list[int] | None:
        """The subjects the dataset is restricted to (None: every subject)."""
        subjects = self.dataset_params.get("subjects")
        return None if subjects is None else list(subjects)

    @property
    def model_label(self) -> str:
        return label(self.model, self.model_params, "models")

    @property
    def method_label(self) -> str:
        if self.tuning:  # one label for the method whatever its studies chose
            return f"{self.tuning['label']} tuned"
        return label(self.method, self.method_params, "methods")

    def short(self) -> str:
        labels = f"{self.dataset} {self.model_label} {self.method_label}"
        return f"{labels} fold {self.fold} seed {self.seed}"


def label(name: str, params: Mapping[str, Any], kind: str) -> str:
    """``name(k=v,...)`` listing the parameters that differ from the plugin's defaults (a derived
    value the others imply, such as LoRA's ``alpha = 2 * r``, is left out)."""
    from harbench.settings import label_params

    try:
        diff = label_params(plugins.get(kind, name), params)
    except HarbenchError:
        diff = dict(sorted(params.items()))
    if not diff:
        return name
    return f"{name}(" + ",".join(f"{k}={v}" for k, v in diff.items()) + ")"


def _version(kind: str, name: str) -> str:
    version_of = getattr(plugins, "version_of", None)
    if version_of is not None:
        return str(version_of(kind, name))
    attribute = "loader_version" if kind == "datasets" else "version"
    return str(getattr(plugins.get(kind, name), attribute, ""))


def protocol_version(protocol: Mapping[str, Any]) -> str:
    """``name=version`` of a protocol, followed by its inner protocol's (LODO) when it has one."""
    name = protocol.get("name", "loso")
    text = f"{name}={_version('protocols', name)}"
    inner = protocol.get("inner")
    if isinstance(inner, Mapping):
        text += "/" + protocol_version(inner)
    return text


def versions(dataset: str, model: str, method: str, protocol: Mapping[str, Any]) -> dict[str, str]:
    """The versions of every plugin a run uses, as stored in its canonical spec."""
    return {
        "dataset": _version("datasets", dataset),
        "model": _version("models", model),
        "method": _version("methods", method),
        "protocol": protocol_version(protocol),
    }


def data_fingerprint(dataset: str, subjects: tuple[int, ...] | None = None) -> str:
    """The fingerprint of ``dataset``'s raw files in the data root (HARBENCH_DATA), or "" when
    the files are absent (such a run fails or is skipped before it could be stored). The content
    hashes behind it are cached on (path, size, mtime), so a second call only stats the files."""
    try:
        from harbench.data.fingerprint import dataset_fingerprint
    except ImportError:
        return ""
    from harbench.data.load import dataset_root

    plugin = plugins.get("datasets", dataset)
    try:
        return dataset_fingerprint(
            plugin, dataset_root(plugin), None if subjects is None else list(subjects)
        )
    except (HarbenchError, OSError):
        return ""
