"""One way to write every number: counts, F1, shares, seconds, megabytes, ratios."""

from __future__ import annotations

import math
from typing import Any

COUNT_NAMES = ("params", "macs", "windows", "epochs", "epoch", "n", "fold", "seed", "bytes",
               "runs", "not_reached", "samples")
PERCENT_NAMES = ("share",)
RATIO_NAMES = ("speedup", "ratio")
SECONDS_NAMES = ("seconds", "_s", "_ms")
MB_NAMES = ("_mb",)
POINTS_NAMES = ("forgetting",)  # differences of macro-F1 x 100 (points)
SHORT_HEADERS = {"trainable_params": "trainable", "trainable_share": "share", "macs": "MACs",
                 "fit_seconds": "fit s", "setup_seconds": "setup s", "peak_memory_mb": "peak MB"}


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def kind_of(name: str) -> str:
    """The formatting family of a metric or column name."""
    lower = name.lower()
    if lower.endswith("_seconds"):  # epoch_seconds is a time, not an epoch count
        return "seconds"
    if any(lower == s or lower.endswith("_" + s) or lower.startswith(s + "_") for s in COUNT_NAMES):
        return "count"
    if any(p in lower for p in PERCENT_NAMES):
        return "percent"
    if any(p in lower for p in RATIO_NAMES):
        return "ratio"
    if any(lower.endswith(s) for s in SECONDS_NAMES) or "seconds" in lower:
        return "seconds"
    if any(lower.endswith(s) for s in MB_NAMES):
        return "mb"
    if lower in POINTS_NAMES:
        return "points"
    if "f1" in lower or "accuracy" in lower or lower in ("std", "mean", "p", "ci_low", "ci_high"):
        return "score"
    return "number"


def fmt_count(value: Any) -> str:
    """An integer with thousands separators: 1234567 -> '1,234,567'."""
    if is_missing(value):
        return "-"
    return f"{round(float(value)):,}"


def fmt_number(name: str, value: Any) -> str:
    """``value`` written the one way harbench writes a column called ``name``."""
    if is_missing(value):
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    kind = kind_of(name)
    if kind == "count":
        return fmt_count(value)
    if kind == "percent":
        return f"{value:.2%}"
    if kind == "ratio":
        return f"{value:.2f}x"
    if kind == "seconds":
        return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.1f}"
    if kind == "mb":
        return f"{value:,.1f}"
    if kind == "score":
        return f"{value:.3f}"
    if kind == "points":
        return f"{value:.1f}"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.3f}" if abs(value) < 1000 else f"{value:,.1f}"


def fmt_value(value: Any, name: str = "") -> str:
    """Backward-compatible name for :func:`fmt_number` (column name optional)."""
    return fmt_number(name, value)


def fmt_mean_std(mean: Any, std: Any, name: str = "macro_f1") -> str:
    """'0.912 ± 0.013'."""
    if is_missing(mean):
        return "-"
    return f"{fmt_number(name, mean)} ± {fmt_number(name, 0.0 if is_missing(std) else std)}"


def fmt_p(value: Any) -> str:
    """A p-value: 3 significant decimals, '<0.001' below."""
    if is_missing(value):
        return "-"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def json_ready(value: Any) -> Any:
    """NaN -> None so that the output is strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
