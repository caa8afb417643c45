"""Checks that need the backbone itself: a method's own rule against the built model (a rank no
layer can hold, say), run at validate on a model built once per (dataset, backbone, window).

A method plugin opts in by defining ``check_backbone(model, params) -> str | None`` (the reason
the parameters cannot adapt this model, or None). Building a small backbone takes milliseconds.
"""

from __future__ import annotations

from typing import Any

from harbench import plugins
from harbench.contracts import HarbenchError
from harbench.suite.located import Where, dotted


def model_for(dataset: str, model: str, model_params: dict[str, Any],
              window: dict[str, Any]) -> Any:
    """The backbone a run of ``dataset`` builds (channels, window length and classes as the
    dataset declares them), on the CPU, untrained."""
    from harbench import blocks
    from harbench.data.load import window_samples

    plugin = plugins.get("datasets", dataset)
    samples, _ = window_samples(plugin, window.get("seconds"), window.get("step"))
    return blocks.build_model(model, channels=len(plugin.channels), window=samples,
                              classes=len(plugin.classes), **model_params)


MIN_WINDOW_SAMPLES = 2  # a window of one sample has no time axis to learn from


def check_builds(where: Where, dataset: str, model: Any, model_params: dict[str, Any],
                 window: dict[str, Any], window_key: tuple[Any, ...]) -> None:
    """The window holds at least two samples at the dataset's rate, and the backbone builds for
    it (a window shorter than a model's patch, say): located errors at validate, not at run."""
    from harbench.data.load import window_samples

    if window.get("harmonise") is not None:  # the rate and channels change: checked at run
        return
    plugin = plugins.get("datasets", dataset)
    try:
        samples, step = window_samples(plugin, window.get("seconds"), window.get("step"))
    except HarbenchError as exc:
        raise where.error(window_key, str(exc)) from None
    if samples < MIN_WINDOW_SAMPLES:
        raise where.error(window_key, f"a window of {window.get('seconds')} s is {samples} "
                          f"sample(s) of dataset {dataset!r} at {plugin.rate_hz:g} Hz; at least "
                          f"{MIN_WINDOW_SAMPLES} are needed")
    try:
        model_for(dataset, model.name, model_params, window)
    except HarbenchError as exc:
        raise where.error(model.path, f"{exc} (for dataset {dataset!r}, a window of {samples} "
                                      "samples)") from None
    except Exception as exc:  # a backbone that cannot be built for this input
        raise where.error(model.path, f"model {model.name!r} cannot be built for dataset "
                          f"{dataset!r} (a window of {samples} samples, {len(plugin.channels)} "
                          f"channels): {type(exc).__name__}: {exc}") from None


def check_backbone(where: Where, dataset: str, model: Any, method: Any,
                   model_params: dict[str, Any], method_params: dict[str, Any],
                   window: dict[str, Any]) -> None:
    """Refuse method parameters the backbone cannot hold (the method's ``check_backbone``)."""
    plugin = plugins.get("methods", method.name)
    rule = getattr(plugin, "check_backbone", None)
    if rule is None or window.get("harmonise") is not None:  # harmonised: channels differ
        return
    try:
        built = model_for(dataset, model.name, model_params, window)
        reason = rule(built, plugin.derive_params(dict(method_params)))
    except HarbenchError as exc:
        raise where.error(method.path, f"{exc} (backbone from {dotted(model.path)})") from None
    if reason:
        raise where.error(method.path, f"method {method.name!r}: {reason} (backbone from "
                                       f"{dotted(model.path)}, dataset {dataset!r})")
