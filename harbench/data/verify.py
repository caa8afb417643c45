"""What is on disk for a dataset and whether it loads: files present or missing, checksums of the
archives, and the recordings' statistics."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harbench.contracts import DatasetPlugin, HarbenchError
from harbench.data.completeness import missing_parts
from harbench.data.download import archive_name, downloads_dir, file_sha256


def present(plugin: DatasetPlugin, root: Path) -> bool:
    """``plugin.is_present(root)``, False where it cannot tell."""
    try:
        return bool(plugin.is_present(root))
    except HarbenchError:
        return False


def verify(
    dataset_plugin: DatasetPlugin, root: str | Path, subjects: Sequence[int] | None = None
) -> dict[str, Any]:
    """What is on disk for a dataset (only ``subjects``' files when given) and whether it loads.

    Keys: dataset, root, embedded, present, files, bytes, archives (file, sha256, expected, ok),
    loadable, error, recordings, samples, labelled, subjects, nan (NaNs left in the signals),
    nan_filled (NaNs the loader reports having filled, where it sets ``nan_count``), problems.
    """
    plugin, root = dataset_plugin, Path(root)
    report: dict[str, Any] = {
        "dataset": plugin.name,
        "root": str(root),
        "embedded": bool(plugin.embedded),
        "present": present(plugin, root),
        "files": 0,
        "bytes": 0,
        "archives": [],
        "loadable": False,
        "error": None,
        "recordings": None,
        "samples": None,
        "labelled": None,
        "subjects": None,
        "nan": None,
        "nan_filled": None,
        "not_finite_float32": None,
        "problems": [],
        "missing": [],  # what is missing against the declaration (harbench.data.completeness)
    }
    if root.is_dir():
        for path in root.rglob("*"):
            if path.is_file():
                report["files"] += 1
                report["bytes"] += path.stat().st_size
    for url in plugin.archive_urls:
        path = downloads_dir(root) / archive_name(url)
        if path.is_file():
            expected = plugin.sha256.get(path.name)
            actual = file_sha256(path)
            ok = None if expected is None else actual == expected.lower()
            report["archives"].append(
                {"file": str(path), "sha256": actual, "expected": expected, "ok": ok}
            )
            if ok is False:
                report["problems"].append(f"{path.name}: sha256 {actual}, expected {expected}")
    if not report["present"]:
        report["error"] = f"not present in {root}. {plugin.fetch_instructions(root)}"
        return report
    try:
        from harbench.data.load import load_recordings

        recordings = load_recordings(plugin, root, subjects, check_values=False)
    except HarbenchError as exc:
        report["error"] = str(exc)
        report["missing"] = missing_parts(plugin, root, None, subjects)
        return report
    except Exception as exc:  # a broken third-party loader is reported, not raised
        report["error"] = f"{type(exc).__name__}: {exc}"
        return report
    report["loadable"] = True
    report["missing"] = missing_parts(plugin, root, recordings, subjects)
    stats = _recording_stats(plugin, recordings)
    report["problems"] += stats.pop("problems")
    report.update(stats)
    filled = getattr(plugin, "nan_count", None)
    report["nan_filled"] = int(filled) if isinstance(filled, (int, np.integer)) else None
    return report


def _recording_stats(plugin: DatasetPlugin, recordings: list) -> dict[str, Any]:
    problems: list[str] = []
    from harbench.data.parsing import check_recordings, overflowing

    samples = labelled = nan = overflow = 0
    width = len(plugin.channels)
    classes = len(plugin.classes)
    declared = set(plugin.subjects)
    for i, rec in enumerate(recordings):
        where = rec.name or f"recording {i}"
        signals, labels = np.asarray(rec.signals), np.asarray(rec.labels)
        samples += int(labels.shape[0])
        labelled += int((labels >= 0).sum())
        nan += int(np.isnan(signals).sum()) if signals.dtype.kind == "f" else 0
        overflow += int(overflowing(signals).sum())
        if signals.ndim != 2 or signals.shape[0] != labels.shape[0]:
            problems.append(f"{where}: signals {signals.shape} do not match labels {labels.shape}")
        elif width and signals.shape[1] != width:
            problems.append(f"{where}: {signals.shape[1]} channels, {width} declared")
        if labels.size and (labels.min() < -1 or labels.max() >= classes):
            problems.append(f"{where}: labels outside -1..{classes - 1}")
        if declared and rec.subject not in declared:
            problems.append(f"{where}: subject {rec.subject} is not among the declared subjects")
    if overflow:
        try:
            check_recordings(recordings)
        except HarbenchError as exc:  # names the first one
            problems.insert(0, str(exc))
    return {
        "recordings": len(recordings),
        "not_finite_float32": overflow,
        "samples": samples,
        "labelled": labelled,
        "subjects": len({rec.subject for rec in recordings}),
        "nan": nan,
        "problems": problems[:20],
    }
