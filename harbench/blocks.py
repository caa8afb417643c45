"""The building blocks under the runner: build a backbone, adapt it, merge it, count it.

The runner, the pretraining stage and the public API (:mod:`harbench.api`) all use these
functions; nothing here knows about suites, executors or the store. A module built here
carries one record, a :class:`~harbench.contracts.ModelInfo` (what the
backbone is: head, target families, input shape); once adapted, an
:class:`~harbench.contracts.AdaptedInfo` (method, resolved parameters, BatchNorm policy). Read
them with :func:`model_info` and :func:`adapted_info`.
"""

from __future__ import annotations

import inspect
import warnings
from typing import TYPE_CHECKING, Any

from harbench import plugins
from harbench.contracts import (
    BN_POLICIES,
    INFO_ATTRIBUTE,
    PLUGIN_API,
    AdaptedInfo,
    HarbenchError,
    ModelInfo,
    adapted_info,
    model_info,
)
from harbench.settings import is_params_record, params_record, resolve_plugin_params

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "AdaptedInfo",
    "ModelInfo",
    "adapt",
    "adapted_info",
    "attach_info",
    "build_model",
    "call_adapt",
    "calibrate",
    "call_build",
    "count",
    "merge",
    "model_info",
    "resolve_bn_policy",
]

BN_POLICY_SETTINGS = (*BN_POLICIES, "method")


def attach_info(module: nn.Module, info: ModelInfo | AdaptedInfo) -> nn.Module:
    """Attach harbench's record to ``module`` (replacing any earlier one); returns ``module``."""
    setattr(module, INFO_ATTRIBUTE, info)
    return module


def build_model(name: str, *, channels: int, window: int, classes: int, **params: Any) -> nn.Module:
    """Build backbone ``name``: float32 [B, T, C] -> logits [B, K], with its ModelInfo."""
    plugin = plugins.get("models", name)
    resolved = resolve_plugin_params("models", name, params)
    model = call_build(plugin, channels=channels, window=window, classes=classes, params=resolved)
    info = ModelInfo(
        name=name,
        head=plugin.head,
        targets={family: tuple(names) for family, names in plugin.targets.items()},
        channels=channels,
        window=window,
        classes=classes,
        params=resolved,
    )
    return attach_info(model, info)


def resolve_bn_policy(setting: str, method: str) -> str:
    """The BatchNorm policy a run of ``method`` trains with: "update" or "frozen".

    ``setting`` is the training setting ``bn_policy``: "update", "frozen", or "method" (the
    method's own declared ``bn_policy``).
    """
    if setting not in BN_POLICY_SETTINGS:
        raise HarbenchError(
            f"bn_policy must be one of {', '.join(BN_POLICY_SETTINGS)}, got {setting!r}"
        )
    if setting != "method":
        return setting
    policy = getattr(plugins.get("methods", method), "bn_policy", "update")
    if policy not in BN_POLICIES:
        raise HarbenchError(
            f"method {method!r} declares bn_policy {policy!r}; expected one of "
            f"{', '.join(BN_POLICIES)}"
        )
    return policy


def call_build(plugin: Any, *, channels: int, window: int, classes: int,
               params: dict[str, Any]) -> nn.Module:
    """``plugin.build`` under the plugin's API: the typed record (API 2), else ``**params`` with
    a DeprecationWarning (API 1)."""
    if is_params_record(getattr(plugin, "params", None)):
        record = params_record(plugin, params)
        return plugin.build(channels=channels, window=window, classes=classes, params=record)
    _deprecated(plugin, "models", "declares its parameters as a dict (`defaults` or `params = "
                "{...}`) and receives `**params` in build()")
    return plugin.build(channels=channels, window=window, classes=classes, **params)


def _positional(function: Any) -> int:
    return sum(
        p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        for p in inspect.signature(function).parameters.values()
    )


def call_adapt(plugin: Any, model: nn.Module, info: ModelInfo, params: dict[str, Any]) -> Any:
    """``plugin.adapt`` under the plugin's API (see ``harbench.contracts.PLUGIN_API``).

    API 2: ``adapt(model, info, params)`` with the typed record. API 1 (dict ``params`` or
    ``defaults``): ``adapt(model, info, **params)``. API 0: ``adapt(model, **params)`` reading
    ``model.harbench_head`` / ``model.harbench_targets``, which are set for it. Both older forms
    run with a DeprecationWarning naming the rename; they go in the next API version.
    """
    if is_params_record(getattr(plugin, "params", None)):
        return plugin.adapt(model, info, params_record(plugin, params))
    if _positional(plugin.adapt) >= 2:
        _deprecated(plugin, "methods", "declares its parameters as a dict (`defaults` or `params "
                    "= {...}`) and receives `**params` in adapt(model, info, **params)")
        return plugin.adapt(model, info, **params)
    _deprecated(plugin, "methods", "implements adapt(model, **params) and reads "
                "`model.harbench_head`; write adapt(model, info, params) and read `info.head` / "
                "`info.targets`", api=0)
    model.harbench_head = info.head
    model.harbench_targets = dict(info.targets)
    return plugin.adapt(model, **params)


def _deprecated(plugin: Any, kind: str, what: str, api: int = 1) -> None:
    """The one DeprecationWarning of a plugin written for an older plugin API."""
    record = "harbench.settings.PluginParams"
    entry = "build(*, channels, window, classes, params)" if kind == "models" else (
        "adapt(model, info, params)")
    warnings.warn(
        f"{kind[:-1]} plugin {plugin.name!r} {what}: that is plugin API {api}, which plugin API "
        f"{PLUGIN_API} still runs but the next version will not. Rename: declare `params = "
        f"MyParams`, a frozen dataclass subclassing {record} with one setting() per field, and "
        f"implement {entry} reading the fields as attributes (see docs/plugins.md, Changes).",
        DeprecationWarning,
        stacklevel=3,
    )


def adapt(
    model: nn.Module,
    method: str,
    *,
    bn_policy: str = "update",
    info: ModelInfo | None = None,
    **params: Any,
) -> nn.Module:
    """Prepare ``model`` for training with adaptation method ``method``.

    ``params`` are resolved once (defaults, ranges, derived values such as LoRA's
    ``alpha = 2 * r``) and recorded with the BatchNorm policy (``bn_policy``: "update",
    "frozen" or "method"; see :func:`resolve_bn_policy`) in the returned module's AdaptedInfo.
    ``info`` describes a module not built by :func:`build_model` (default: its own record).
    """
    plugin = plugins.get("methods", method)
    info = info or model_info(model)
    resolved = resolve_plugin_params("methods", method, params)  # derived values included
    policy = resolve_bn_policy(bn_policy, method)
    adapted = call_adapt(plugin, model, info, resolved)
    return attach_info(adapted, AdaptedInfo(method, dict(resolved), policy, info))


def calibrate(model: nn.Module, windows: Any) -> None:
    """Let the method that adapted ``model`` use the adaptation windows before training
    (``MethodPlugin.calibrate``: AdaBN re-estimates BatchNorm statistics; most methods do
    nothing). ``windows``: the training part alone, float32 [N, T, C], normalised."""
    record = getattr(model, INFO_ATTRIBUTE, None)
    if isinstance(record, AdaptedInfo):
        plugins.get("methods", record.method).calibrate(model, windows)


def merge(model: nn.Module) -> nn.Module:
    """The deployable model: adapters merged or fused by the method that added them.

    A model that merging turned into a new module carries the backbone's ModelInfo; one the
    method returns unchanged keeps its AdaptedInfo.
    """
    record = getattr(model, INFO_ATTRIBUTE, None)
    if not isinstance(record, AdaptedInfo):
        return model
    merged = plugins.get("methods", record.method).merge(model)
    if merged is not model:
        attach_info(merged, record.model)
    return merged


def count(model: nn.Module, *, window: int, channels: int) -> dict[str, int]:
    """{"params", "trainable", "macs"} of ``model`` for one window; for a module with a harbench
    record also "params_no_head" and "trainable_no_head" (the classifier head left out)."""
    from harbench.measure.counting import count as _count

    record = getattr(model, INFO_ATTRIBUTE, None)
    head = model_info(model).head if record is not None else None
    return _count(model, window=window, channels=channels, head=head)

