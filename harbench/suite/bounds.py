"""Bounds on what a suite file may ask for: text that is UTF-8, a name of safe characters, and a
number of runs below a limit, counted from the axes without building a single run.
"""

from __future__ import annotations

import codecs
import math
import os
import re
from pathlib import Path
from typing import Any

from harbench.contracts import HarbenchError
from harbench.suite.located import Key, SuiteError, Where

MAX_RUNS_ENV = "HARBENCH_MAX_RUNS"
MAX_RUNS = 10_000  # runs one suite may expand to (HARBENCH_MAX_RUNS raises it)
# letters and digits of any script, space and a few separators: nothing a terminal or rich
# interprets (no brackets, no control or escape characters)
NAME = re.compile(r"[^\W_][\w .,+=:@()/-]{0,119}")


def max_runs() -> int:
    """The most runs one suite may expand to: ``HARBENCH_MAX_RUNS``, default 10,000."""
    text = os.environ.get(MAX_RUNS_ENV, str(MAX_RUNS))
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise HarbenchError(f"{MAX_RUNS_ENV} must be a whole number >= 1, got {text!r}")
    return value


def decode(path: Path, raw: bytes) -> str:
    """A suite file's bytes as text; a located error for a binary or non-UTF-8 file."""
    for bom, encoding in ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
                          (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16")):
        if raw.startswith(bom):
            raise SuiteError(f"{path}, line 1: the file is {encoding} text (its byte-order mark "
                             "says so); save the suite as UTF-8")
    raw = raw.removeprefix(codecs.BOM_UTF8)
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise SuiteError(
            f"{path}, line {line}: the file holds NUL bytes: a suite is UTF-8 text (a binary "
            "file, or text saved as UTF-16?)"
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        raise SuiteError(
            f"{path}, line {line}, column {column}: byte 0x{raw[exc.start]:02x} is not UTF-8; "
            "save the suite as UTF-8 text"
        ) from None


def check_name(where: Where, name: str, written: bool) -> None:
    """A suite name is printed and stored: letters, digits, space and ``.,+=:@()/-`` only."""
    if NAME.fullmatch(name):
        return
    shown = name.encode("unicode_escape").decode("ascii")
    source = "" if written else " (taken from the file name; set `name:` to choose another)"
    raise where.error(
        ("name",),
        f"suite name '{shown}'{source} is refused: use at most 120 letters, digits, spaces and "
        ". , + = : @ ( ) / - (starting with a letter or digit)",
    )


def check_size(where: Where, axes: dict[str, int], folds: dict[str, int]) -> None:
    """Refuse a matrix whose product of axes exceeds :func:`max_runs` (before exclusions).

    ``axes``: number of entries of each axis other than folds; ``folds``: folds per dataset.
    """
    limit = max_runs()
    per_dataset = math.prod(n for k, n in axes.items() if k != "datasets")
    total = per_dataset * sum(folds.values())
    if total <= limit:
        return
    parts = [f"{k} {n}" for k, n in axes.items() if n > 1 and k != "datasets"]
    fold_text = " + ".join(f"{n}" for n in folds.values())
    parts.append(f"folds ({fold_text} over {len(folds)} dataset(s))")
    raise where.error(
        ("matrix",),
        f"the matrix expands to {total} runs before exclusions ({' x '.join(parts)}); the limit "
        f"is {limit}. Split the suite, or raise {MAX_RUNS_ENV} if you mean it",
    )


def check_sweep(where: Where, key: Key, options: list[list[Any]]) -> None:
    """Refuse a parameter sweep whose combinations alone exceed :func:`max_runs`."""
    limit = max_runs()
    total = math.prod(len(o) for o in options)
    if total > limit:
        sizes = " x ".join(str(len(o)) for o in options if len(o) > 1)
        raise where.error(
            key, f"the sweep has {total} combinations ({sizes}); the limit is {limit} runs "
            f"({MAX_RUNS_ENV})",
        )
