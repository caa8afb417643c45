"""Small helpers shared by the Opportunity, WISDM, RecGym, UCI-HAR, mHealth, MotionSense and
Shoaib loaders: fast numeric tables with precise errors, path lookup, runs and label mapping."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harbench.contracts import HarbenchError
from harbench.data.parsing import read_numeric_table


def numeric_table(
    path: Path,
    *,
    columns: int | None = None,
    delimiter: str | None = None,
    skip_header: int = 0,
    usecols: Sequence[int] | None = None,
) -> np.ndarray:
    """A numeric text table as float64 [rows, cols], parsed by numpy's C reader.

    ``usecols`` (0-based) keeps only those columns, in that order: much faster on wide files;
    cells outside them are then not checked, and only the first row's width is. When numpy
    refuses the file (a truncated row, a wrong column count, a non-numeric cell), the file is
    parsed again by ``read_numeric_table`` so that the error names file and line.
    """
    if columns is not None:
        _check_first_row_width(path, columns, delimiter, skip_header)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data"
            table = np.loadtxt(
                path, delimiter=delimiter, skiprows=skip_header, ndmin=2, comments=None,
                dtype=np.float64, usecols=None if usecols is None else list(usecols),
            )
    except OSError as exc:
        raise HarbenchError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError:
        table = read_numeric_table(
            path, delimiter=delimiter, columns=columns, skip_header=skip_header
        )
        if usecols is not None:
            table = table[:, list(usecols)]
    if table.shape[0] == 0:
        raise HarbenchError(f"{path}: no data rows")
    return table


def _check_first_row_width(
    path: Path, columns: int, delimiter: str | None, skip_header: int
) -> None:
    try:
        with Path(path).open(encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, start=1):
                if number <= skip_header or not line.strip():
                    continue
                found = len(line.strip().split(delimiter))
                if found != columns:
                    raise HarbenchError(
                        f"{path}, line {number}: expected {columns} columns, found {found}"
                    )
                return
    except OSError as exc:
        raise HarbenchError(f"cannot read {path}: {exc.strerror or exc}") from None


def find_shallow(root: Path, name: str) -> Path | None:
    """``root / name``, else the first (sorted) ``name`` one or two folders below ``root``."""
    if not root.is_dir():
        return None
    for pattern in (name, f"*/{name}", f"*/*/{name}"):
        found = sorted(root.glob(pattern))
        if found:
            return found[0]
    return None


def runs(keys: Sequence[Any]) -> list[tuple[int, int]]:
    """(start, stop) of every run of equal consecutive keys."""
    bounds: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[start]:
            bounds.append((start, i))
            start = i
    return bounds


def map_labels(
    codes: np.ndarray,
    code_to_class: Mapping[Any, int],
    path: Path,
    *,
    first_line: int = 1,
    dropped: Iterable[Any] = (),
) -> np.ndarray:
    """Map published label codes to class indices; codes in ``dropped`` become -1.

    Any other code raises a HarbenchError that names the file and the line of its first sample
    (``first_line`` is the file line of ``codes[0]``; rows are one per line).
    """
    lookup = dict(code_to_class)
    lookup.update({code: -1 for code in dropped})
    out = np.empty(len(codes), dtype=np.int64)
    for i, code in enumerate(codes.tolist() if isinstance(codes, np.ndarray) else codes):
        key = _as_key(code)
        if key not in lookup:
            known = ", ".join(str(k) for k in code_to_class)
            raise HarbenchError(
                f"{path}, line {first_line + i}: unknown label {key!r}; expected one of {known}"
            )
        out[i] = lookup[key]
    return out


def _as_key(code: Any) -> Any:
    """Integral floats (as numeric tables hold label codes) become ints; others stay as they are."""
    if isinstance(code, float) and code.is_integer():
        return int(code)
    return code
