"""From a dataset name to cached windows: the path every run and the public API take."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harbench import plugins
from harbench.contracts import DatasetPlugin, HarbenchError, Recording
from harbench.data import cache
from harbench.data.fingerprint import dataset_fingerprint
from harbench.data.harmonise import Harmonisation
from harbench.data.harmonise import apply as harmonise_recordings
from harbench.data.harmonise import plan as harmonise_plan
from harbench.data.parsing import check_recordings
from harbench.data.paths import data_root, dataset_root  # noqa: F401 (re-exported)
from harbench.data.windows import Windows, make_windows


def window_samples(
    dataset: DatasetPlugin, seconds: float | None, step: float | None, rate_hz: float | None = None
) -> tuple[int, int]:
    """Window and step in samples at ``rate_hz`` (default: the dataset's rate; its window
    defaults where not given)."""
    rate = dataset.rate_hz if rate_hz is None else rate_hz
    seconds = dataset.window_s if seconds is None else float(seconds)
    step = dataset.step_s if step is None else float(step)
    if seconds <= 0 or step <= 0:
        raise HarbenchError(f"window seconds and step must be positive, got {seconds} and {step}")
    return max(1, round(seconds * rate)), max(1, round(step * rate))


def subject_subset(dataset: DatasetPlugin, subjects: Iterable[int] | None) -> list[int] | None:
    """``subjects`` sorted and checked against the dataset's declared ones (None: all)."""
    if subjects is None:
        return None
    chosen = sorted({int(s) for s in subjects})
    unknown = [s for s in chosen if dataset.subjects and s not in dataset.subjects]
    if unknown or not chosen:
        raise HarbenchError(
            f"dataset {dataset.name!r} has no subjects {unknown or '(empty list)'}; "
            f"its subjects are {list(dataset.subjects)}"
        )
    return chosen


def load_recordings(
    dataset: DatasetPlugin, root: Path, subjects: Iterable[int] | None = None,
    *, check_values: bool = True,
) -> list[Recording]:
    """Recordings of ``dataset`` from ``root`` (only ``subjects``' when given); a message that
    says how to get them if absent. A value not finite in float32 is an error naming where
    (``check_values=False`` leaves it to the caller: ``data verify`` counts them)."""
    if not dataset.embedded and not dataset.is_present(root):
        raise HarbenchError(
            f"dataset {dataset.name!r} is not present in {root}. {dataset.fetch_instructions(root)}"
            f"\n(or run: harbench data fetch {dataset.name}; set HARBENCH_DATA or --data-root to "
            "use another folder)"
        )
    if subjects is None:
        recordings = dataset.load(root)
    else:
        chosen = set(subjects)
        if "subjects" in inspect.signature(dataset.load).parameters:
            recordings = dataset.load(root, subjects=sorted(chosen))
        else:  # a loader written before subject subsets: read everything, keep the subset
            recordings = dataset.load(root)
        recordings = [r for r in recordings if r.subject in chosen]
    if check_values:  # a value beyond float32 would become inf in the windows
        check_recordings(recordings)
    return recordings


def load_windows(
    dataset: str,
    *,
    root: str | Path | None = None,
    seconds: float | None = None,
    step: float | None = None,
    harmonise: Harmonisation | dict[str, Any] | str | None = None,
    use_cache: bool = True,
    cache_dir: str | Path | None = None,
    subjects: Iterable[int] | None = None,
    **extra: Any,
) -> Windows:
    """Windows of a registered dataset: X float32 [N, T, C], y int64 [N], subject int64 [N].

    ``seconds`` and ``step`` default to the dataset's own; results are cached on disk under a hash
    of the dataset, its loader version, the fingerprint of its raw files, the subject subset and
    every windowing parameter. ``subjects``: read only these subjects. ``harmonise`` (a
    Harmonisation, a mapping of its fields, or a channel set name such as "acc") selects channels,
    converts units, resamples and maps labels onto a shared vocabulary first.
    """
    if extra:
        raise HarbenchError(f"load_windows got unknown window parameters: {sorted(extra)}")
    plugin = plugins.get("datasets", dataset)
    spec = None if harmonise is None else Harmonisation.coerce(harmonise)
    plan = None if spec is None else harmonise_plan(plugin, spec)  # refuses before reading files
    rate = plugin.rate_hz if spec is None else spec.rate_hz
    win, hop = window_samples(plugin, seconds, step, rate)
    chosen = subject_subset(plugin, subjects)
    root_dir = dataset_root(plugin, root)
    key = {
        "dataset": plugin.name,
        "loader_version": plugin.loader_version,
        "fingerprint": dataset_fingerprint(plugin, root_dir, chosen, cache_dir=cache_dir),
        "subjects": chosen,
        "rate_hz": rate,
        "window": win,
        "step": hop,
    }
    if plan is not None:
        key["harmonise"] = plan.key()
    if not plugin.embedded:  # two trees of one dataset must not share cached windows
        key["root"] = str(root_dir.resolve())
    folder = (
        Path(cache_dir or cache.default_cache_dir())
        / "windows"
        / (f"{plugin.name}-{cache.cache_key(key)}")
    )
    if use_cache:
        hit = cache.load_cached(folder)
        if hit is not None:
            return hit
    recordings = load_recordings(plugin, root_dir, chosen)
    channels = tuple(c.name for c in plugin.channels)
    classes, rate_hz = tuple(plugin.classes), float(plugin.rate_hz)
    if spec is not None:
        recordings, channels, classes, rate_hz = harmonise_recordings(plugin, recordings, spec)
    windows = make_windows(
        recordings,
        window=win,
        step=hop,
        classes=classes,
        channels=channels,
        rate_hz=rate_hz,
        dataset=plugin.name,
    )
    if use_cache:
        cache.store(folder, windows, key)
    return windows
