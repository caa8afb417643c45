"""Checks a plugin author calls from their own tests (the built-in plugins pass them too).

Each ``check_*`` function raises ``AssertionError`` with a sentence naming what is wrong, and
returns a small dict of what it saw, so a test can assert more::

    from harbench.testing import check_dataset, check_method, check_model

    def test_my_dataset(tmp_path):
        write_my_raw_files(tmp_path)                 # in the dataset's published layout
        check_dataset(MyDataset(), tmp_path)

    def test_my_model():
        check_model(MyModel())

    def test_my_method():
        check_method(MyMethod(), model="convnet1d")  # any registered backbone

    def test_my_protocol():
        check_protocol(MyProtocol(), params={"groups": 2})  # on the synthetic dataset

    def test_my_executor():
        check_executor(MyExecutor(), workers=2)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harbench.contracts import DatasetPlugin, MethodPlugin, ModelInfo, ModelPlugin

__all__ = ["check_dataset", "check_executor", "check_method", "check_model", "check_protocol"]


def _fail(message: str) -> None:
    raise AssertionError(message)


def check_dataset(
    plugin: DatasetPlugin, root: str | Path, *, subjects: list[int] | None = None
) -> dict[str, Any]:
    """Load the raw files under ``root`` and check the recordings against the declared facts.

    Checks: float32 [T, C] signals with C = the declared channels, int64 labels in -1..K-1,
    subjects among the declared ones (and only ``subjects`` when given), declared classes and
    label codes agree, ``files()`` lists existing files, loading twice gives the same data,
    and at least one window of the dataset's default length can be cut.
    """
    import numpy as np

    from harbench.data.windows import make_windows

    root = Path(root)
    name = getattr(plugin, "name", type(plugin).__name__)
    if not plugin.channels:
        _fail(f"dataset {name!r} declares no channels")
    if not plugin.classes:
        _fail(f"dataset {name!r} declares no classes")
    if plugin.label_codes and len(plugin.label_codes) != len(plugin.classes):
        _fail(f"dataset {name!r}: {len(plugin.label_codes)} label codes for "
              f"{len(plugin.classes)} classes")
    if not plugin.rate_hz or plugin.rate_hz <= 0:
        _fail(f"dataset {name!r}: rate_hz must be positive, got {plugin.rate_hz!r}")
    recordings = plugin.load(root, subjects) if subjects is not None else plugin.load(root)
    if not recordings:
        _fail(f"dataset {name!r} loaded no recording from {root}")
    n_channels, n_classes = len(plugin.channels), len(plugin.classes)
    allowed = set(subjects) if subjects is not None else set(plugin.subjects)
    for rec in recordings:
        where = f"dataset {name!r}, recording {rec.name or rec.subject}"
        if rec.signals.dtype != np.float32 or rec.signals.ndim != 2:
            _fail(f"{where}: signals must be float32 [T, C], got {rec.signals.dtype} "
                  f"{rec.signals.shape}")
        if rec.signals.shape[1] != n_channels:
            _fail(f"{where}: {rec.signals.shape[1]} channels, {n_channels} declared")
        if rec.labels.dtype != np.int64 or rec.labels.shape != (rec.signals.shape[0],):
            _fail(f"{where}: labels must be int64 [T] matching the signals, got "
                  f"{rec.labels.dtype} {rec.labels.shape}")
        if rec.labels.size and (rec.labels.min() < -1 or rec.labels.max() >= n_classes):
            _fail(f"{where}: labels outside -1..{n_classes - 1}")
        if allowed and int(rec.subject) not in allowed:
            _fail(f"{where}: subject {rec.subject} is not among {sorted(allowed)}")
    files = plugin.files(root, subjects) if subjects is not None else plugin.files(root)
    missing = [str(f) for f in files if not Path(f).is_file()]
    if missing:
        _fail(f"dataset {name!r}: files() lists files that do not exist: {missing[:3]}")
    again = plugin.load(root, subjects) if subjects is not None else plugin.load(root)
    if len(again) != len(recordings) or any(
        not np.array_equal(a.signals, b.signals) or not np.array_equal(a.labels, b.labels)
        for a, b in zip(recordings, again)
    ):
        _fail(f"dataset {name!r}: loading twice gave different recordings")
    window = max(1, round(plugin.window_s * plugin.rate_hz))
    step = max(1, round(plugin.step_s * plugin.rate_hz))
    windows = make_windows(
        recordings,
        window=window,
        step=step,
        classes=tuple(plugin.classes),
        channels=tuple(c.name for c in plugin.channels),
        rate_hz=float(plugin.rate_hz),
        dataset=name,
    )
    if len(windows.y) == 0:
        _fail(f"dataset {name!r}: no labelled window of {window} samples can be cut")
    return {
        "recordings": len(recordings),
        "windows": int(len(windows.y)),
        "subjects": sorted({int(r.subject) for r in recordings}),
        "classes_seen": sorted({int(c) for c in np.unique(windows.y)}),
    }


def _info(plugin: ModelPlugin, channels: int, window: int, classes: int) -> ModelInfo:
    return ModelInfo(
        name=plugin.name,
        head=plugin.head,
        targets={k: tuple(v) for k, v in plugin.targets.items()},
        channels=channels,
        window=window,
        classes=classes,
    )


def check_model(
    plugin: ModelPlugin,
    *,
    channels: int = 6,
    window: int = 128,
    classes: int = 5,
    batch: int = 4,
    **params: Any,
) -> dict[str, Any]:
    """Build the backbone and check its contract.

    Checks: float32 [B, T, C] -> finite logits [B, K] in train and eval mode; the same seed builds
    the same weights; ``head`` names a submodule with parameters; every declared target family
    matches at least one module; a backward pass reaches every parameter that requires grad.
    """
    import torch

    from harbench.blocks import call_build
    from harbench.settings import derive, plugin_params, resolve

    name = plugin.name
    resolved = derive(plugin, resolve(f"model {name!r}", plugin_params(plugin), params))
    torch.manual_seed(0)
    model = call_build(plugin, channels=channels, window=window, classes=classes, params=resolved)
    torch.manual_seed(0)
    twin = call_build(plugin, channels=channels, window=window, classes=classes, params=resolved)
    state, twin_state = model.state_dict(), twin.state_dict()
    if state.keys() != twin_state.keys() or any(
        not torch.equal(state[k], twin_state[k]) for k in state
    ):
        _fail(f"model {name!r}: two builds under the same seed differ")
    x = torch.randn(batch, window, channels)
    for mode in ("train", "eval"):
        model.train(mode == "train")
        out = model(x)
        if tuple(out.shape) != (batch, classes) or out.dtype != torch.float32:
            _fail(f"model {name!r} ({mode} mode): logits {tuple(out.shape)} {out.dtype}, "
                  f"expected ({batch}, {classes}) float32")
        if not torch.isfinite(out).all():
            _fail(f"model {name!r} ({mode} mode): non-finite logits")
    modules = dict(model.named_modules())
    head = modules.get(plugin.head)
    if head is None or not any(True for _ in head.parameters()):
        _fail(f"model {name!r}: head {plugin.head!r} is not a submodule with parameters")
    for family, suffixes in plugin.targets.items():
        matched = [n for n in modules if any(n == s or n.endswith("." + s) for s in suffixes)]
        if suffixes and not matched:
            _fail(f"model {name!r}: target family {family!r} {tuple(suffixes)} matches no module")
    model.train()
    model.zero_grad()
    model(x).sum().backward()
    pretraining_only = tuple(getattr(model, "pretrain_modules", ()))
    no_grad = [
        n
        for n, p in model.named_parameters()
        if p.requires_grad and p.grad is None and n.split(".")[0] not in pretraining_only
    ]
    if no_grad:
        _fail(f"model {name!r}: backward reaches no gradient for {no_grad[:3]}")
    return {
        "params": sum(p.numel() for p in model.parameters()),
        "info": _info(plugin, channels, window, classes),
    }


def check_method(
    plugin: MethodPlugin,
    *,
    model: str | None = None,
    channels: int = 6,
    window: int = 128,
    classes: int = 5,
    steps: int = 3,
    atol: float = 1e-4,
    **params: Any,
) -> dict[str, Any]:
    """Adapt a registered backbone with the method and check what it did.

    ``model`` defaults to "convnet1d", or "mae" for a method that only adapts linear layers.
    Checks: something trains and the head is trainable; a few optimiser steps change the outputs;
    (a method declaring ``trains = False``: nothing trains and ``calibrate`` changes no
    parameter;)
    the merged (deployable) model gives the outputs of the adapted one (``atol``) in eval mode;
    ``adapter_state`` loads into a fresh adaptation of the same backbone and reads back equal.
    """
    import torch

    from harbench.blocks import attach_info, build_model, call_adapt
    from harbench.contracts import AdaptedInfo
    from harbench.settings import derive, plugin_params, resolve

    if model is None:
        model = "mae" if tuple(plugin.needs) == ("linear",) else "convnet1d"
    torch.manual_seed(0)
    base = build_model(model, channels=channels, window=window, classes=classes)
    info = base.harbench_info
    resolved = resolve(f"method {plugin.name!r}", plugin_params(plugin), params)
    resolved = derive(plugin, resolved)
    x = torch.randn(8, window, channels)
    y = torch.arange(8) % classes
    base.eval()
    with torch.no_grad():
        before = base(x).clone()
    adapted = call_adapt(plugin, base, info, resolved)
    attach_info(adapted, AdaptedInfo(plugin.name, dict(resolved), "update", info))
    trainable = {n for n, p in adapted.named_parameters() if p.requires_grad}
    total = sum(p.numel() for p in adapted.parameters())
    if not getattr(plugin, "trains", True):
        return _check_untrained(plugin, adapted, trainable, x, model, atol)
    if not trainable:
        _fail(f"method {plugin.name!r} leaves nothing trainable on {model!r}")
    head_params = [n for n in trainable if n.startswith(info.head + ".") or f".{info.head}." in n]
    if not head_params:
        _fail(f"method {plugin.name!r}: the head {info.head!r} of {model!r} is not trainable")
    optimiser = torch.optim.AdamW([p for p in adapted.parameters() if p.requires_grad], lr=1e-2)
    adapted.train()
    for _ in range(steps):
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(adapted(x), y).backward()
        optimiser.step()
    adapted.eval()
    with torch.no_grad():
        after = adapted(x).clone()
    if torch.allclose(before, after):
        _fail(f"method {plugin.name!r}: training changed nothing in the outputs")
    state = plugin.adapter_state(adapted)
    torch.manual_seed(0)
    fresh_base = build_model(model, channels=channels, window=window, classes=classes)
    fresh = call_adapt(plugin, fresh_base, info, resolved)
    plugin.load_adapter_state(fresh, state)
    reloaded = plugin.adapter_state(fresh)
    if reloaded.keys() != state.keys() or any(
        not torch.equal(reloaded[k], state[k]) for k in state
    ):
        _fail(f"method {plugin.name!r}: an adapter state loaded into a fresh adaptation of "
              f"{model!r} does not give the same state back")
    deployed = plugin.merge(adapted)
    deployed.eval()
    with torch.no_grad():
        merged = deployed(x)
    gap = float((merged - after).abs().max())
    if gap > atol:
        _fail(f"method {plugin.name!r}: merged outputs differ from the adapted one's by {gap:.2e}")
    return {
        "trainable": sum(p.numel() for n, p in adapted.named_parameters() if n in trainable),
        "params": total,
        "merge_gap": gap,
    }


def _check_untrained(plugin: Any, adapted: Any, trainable: set[str], x: Any, model: str,
                     atol: float) -> dict[str, Any]:
    """``check_method`` for a method that declares ``trains = False``: nothing is trainable;
    ``calibrate`` on windows changes no parameter and leaves the model in eval mode; the
    adapter state loads back into the model; the merged model gives the same outputs."""
    import torch

    if trainable:
        _fail(f"method {plugin.name!r} declares trains = False but leaves "
              f"{len(trainable)} parameter tensors trainable on {model!r}")
    params = {n: p.detach().clone() for n, p in adapted.named_parameters()}
    plugin.calibrate(adapted, x)
    if any(not torch.equal(params[n], p) for n, p in adapted.named_parameters()):
        _fail(f"method {plugin.name!r}: calibrate() changed a parameter (no gradient step is "
              "allowed to a method that trains nothing)")
    if adapted.training:
        _fail(f"method {plugin.name!r}: calibrate() left the model in train mode")
    with torch.no_grad():
        after = adapted(x).clone()
    state = plugin.adapter_state(adapted)
    plugin.load_adapter_state(adapted, state)
    deployed = plugin.merge(adapted)
    deployed.eval()
    with torch.no_grad():
        gap = float((deployed(x) - after).abs().max())
    if gap > atol:
        _fail(f"method {plugin.name!r}: merged outputs differ from the adapted one's by {gap:.2e}")
    return {"trainable": 0, "params": sum(p.numel() for p in adapted.parameters()),
            "merge_gap": gap}


# ---- protocols and executors ----------------------------------------------------------------


def check_protocol(
    plugin: Any,
    *,
    params: dict[str, Any] | None = None,
    dataset: DatasetPlugin | None = None,
    windows: Any = None,
    suite_datasets: list[str] | None = None,
) -> dict[str, Any]:
    """Bind ``params`` to ``dataset`` (default: the built-in ``synthetic`` dataset), cut the
    folds of its ``windows`` (default: all of them) and check them and the suite-level answers.

    Checks: declared ``params`` are Param values; ``bind`` returns a mapping; ``fold_count``
    equals the number of folds (when the windows cover the dataset's subjects); every fold has
    a name and test windows (and source windows when it declares ``source_part``), indices in
    range, train, test and ``source`` pairwise disjoint, and cutting twice gives the same
    folds; ``pools`` over ``suite_datasets`` (default: the dataset and ``synthetic``) names
    only those datasets and never the held-out one, and
    ``check_suite`` accepts them with a pretraining stage or refuses with a HarbenchError.
    """
    import numpy as np

    from harbench import plugins
    from harbench.contracts import Fold, HarbenchError
    from harbench.settings import Param, plugin_params, resolve

    name = getattr(plugin, "name", type(plugin).__name__)
    for key, declared in (getattr(plugin, "params", None) or {}).items():
        if not isinstance(declared, Param):
            _fail(f"protocol {name!r}: params[{key!r}] is {type(declared).__name__}, not a Param")
    dataset = dataset or plugins.get("datasets", "synthetic")
    resolved = resolve(f"protocol {name!r}", plugin_params(plugin), params or {})
    bound = plugin.bind(dataset, resolved)
    if not isinstance(bound, dict):
        _fail(f"protocol {name!r}: bind() returned {type(bound).__name__}, not a dict")
    count = plugin.fold_count(dataset, bound)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        _fail(f"protocol {name!r}: fold_count() returned {count!r}, not a positive int")
    if windows is None:
        from harbench.data.load import load_windows

        windows = load_windows(dataset.name)
    folds = plugin.folds(windows, bound)
    covers = set(np.unique(windows.subject).tolist()) >= set(dataset.subjects)
    if covers and len(folds) != count:
        _fail(f"protocol {name!r}: fold_count() says {count} folds, folds() made {len(folds)}")
    n = len(windows)
    for i, fold in enumerate(folds):
        if not isinstance(fold, Fold) or not fold.name:
            _fail(f"protocol {name!r}: fold {i} is not a named harbench.contracts.Fold")
        parts = {"train": fold.train, "test": fold.test}
        if fold.source is not None:
            parts["source"] = fold.source
        if getattr(fold, "held_out", None) is not None:
            parts["held_out"] = fold.held_out
        for part, index in parts.items():
            index = np.asarray(index)
            if index.size and (index.min() < 0 or index.max() >= n):
                _fail(f"protocol {name!r}: fold {fold.name!r} {part} indexes outside 0..{n - 1}")
        if len(fold.test) == 0:
            _fail(f"protocol {name!r}: fold {fold.name!r} has no test window")
        if getattr(plugin, "source_part", False) and len(parts.get("source", ())) == 0:
            _fail(f"protocol {name!r} declares source_part = True but fold {fold.name!r} has "
                  "no source windows")
        names = list(parts)
        for a in range(len(names)):
            for b in range(a + 1, len(names)):
                if np.intersect1d(parts[names[a]], parts[names[b]]).size:
                    _fail(f"protocol {name!r}: fold {fold.name!r} shares windows between "
                          f"{names[a]} and {names[b]}")
    again = plugin.folds(windows, bound)
    if [f.name for f in again] != [f.name for f in folds] or not all(
        np.array_equal(x.test, y.test) and np.array_equal(x.train, y.train)
        for x, y in zip(again, folds)
    ):
        _fail(f"protocol {name!r}: folds() is not stable (two calls cut different folds)")
    datasets = suite_datasets or list(dict.fromkeys([dataset.name, "synthetic", "hapt_embedded"]))
    pools = {}
    for held_out in datasets:
        pooled = list(plugin.pools(held_out, datasets, dict(params or {})))
        if held_out in pooled or not set(pooled) <= set(datasets):
            _fail(f"protocol {name!r}: pools({held_out!r}) gave {pooled}: it may name only the "
                  f"suite's other datasets ({datasets})")
        pools[held_out] = pooled
    try:
        plugin.check_suite(datasets, True, dict(params or {}))
        accepted = True
    except HarbenchError:
        accepted = False
    return {"folds": len(folds), "fold_count": count, "bound": bound, "pools": pools,
            "suite_accepted": accepted}


def _square(spec: int) -> int:
    """What ``check_executor`` maps (module-level: a worker process can import it)."""
    return spec * spec


def _square_telling(spec: int, emit: Any) -> int:
    """``_square`` that emits ``(spec, step)`` twice while it works."""
    for step in (1, 2):
        emit((spec, step))
    return spec * spec


def check_executor(
    executor: Any, *, workers: int = 2, settings: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Run small maps through the executor's contract and check what comes back.

    Checks: ``session`` yields an object with ``map``; a map returns every spec once with its
    result; a second map in the same session works; with events, every event a run emits
    reaches the caller, each run's in order, before its result; ``map`` (derived from
    ``session``) gives the same results. ``settings`` are resolved against ``params``.
    """
    from harbench.settings import plugin_params, resolve

    name = getattr(executor, "name", type(executor).__name__)
    resolved = {"workers": workers,
                **resolve(f"executor {name!r}", plugin_params(executor), settings or {})}
    specs = [1, 2, 3, 4, 5]
    seen: list[Any] = []
    with executor.session(workers=workers, events=None, settings=resolved) as running:
        if not callable(getattr(running, "map", None)):
            _fail(f"executor {name!r}: session() yielded {type(running).__name__} without map()")
        first = dict(running.map(_square, specs))
        second = dict(running.map(_square, specs[:2]))
    for got, wanted in ((first, specs), (second, specs[:2])):
        if got != {s: s * s for s in wanted}:
            _fail(f"executor {name!r}: a session's map returned {got}, expected each spec once "
                  "with its result")
    order: list[tuple[str, Any]] = []
    with executor.session(workers=workers, events=lambda e: order.append(("event", e)),
                          settings=resolved) as running:
        for spec, result in running.map(_square_telling, specs):
            order.append(("result", (spec, result)))
            seen.append(spec)
    for spec in specs:
        mine = [i for i, (kind, item) in enumerate(order) if kind == "event" and item[0] == spec]
        steps = [order[i][1][1] for i in mine]
        done = order.index(("result", (spec, spec * spec)))
        if steps != [1, 2] or any(i > done for i in mine):
            _fail(f"executor {name!r}: run {spec}'s events came as {steps} (expected [1, 2], "
                  "each before its result)")
    derived = dict(executor.map(_square, specs, workers=workers, settings=resolved))
    if derived != first:
        _fail(f"executor {name!r}: map() returned {derived}, unlike its session's map")
    return {"results": first, "events": sum(kind == "event" for kind, _ in order)}
