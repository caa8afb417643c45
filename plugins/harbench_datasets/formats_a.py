"""Helpers shared by the raw-file loaders dg, uschad, pamap2, rw, skodar, dsads and hapt.

Tables are parsed by numpy's C reader first (fast on the large published files); anything it
rejects is parsed again by ``read_numeric_table``, whose error names the file and the line.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from harbench.contracts import HarbenchError
from harbench.data.parsing import read_numeric_table


def find_base(root: Path, prefixes: Iterable[str], entry: str | re.Pattern) -> Path | None:
    """The first folder ``root/prefix`` (``""``: root itself) that holds ``entry``.

    ``entry`` is a relative path that must exist, or a pattern some child's name must match.
    """
    for prefix in prefixes:
        base = root / prefix if prefix else root
        if isinstance(entry, str):
            if (base / entry).exists():
                return base
        elif base.is_dir() and any(entry.match(child.name) for child in base.iterdir()):
            return base
    return None


def load_table(
    path: Path | str,
    *,
    columns: int,
    delimiter: str | None = None,
    skip_header: int = 0,
    text: str | None = None,
) -> np.ndarray:
    """A numeric table float64 [rows, columns]; a HarbenchError naming file and line if malformed.

    ``path`` only names the source in messages when ``text`` is given (e.g. a zip member).
    """
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise HarbenchError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data"
            table = np.loadtxt(
                io.StringIO(text),
                delimiter=delimiter,
                skiprows=skip_header,
                comments=None,
                ndmin=2,
                dtype=np.float64,
            )
        if table.shape[0] > 0 and table.shape[1] == columns:
            return table
    except ValueError:
        pass
    # the slow parser reports exactly what is wrong, and where
    return read_numeric_table(
        Path(path), delimiter=delimiter, columns=columns, skip_header=skip_header, text=text
    )


def line_of_row(path: Path | str, row: int, *, skip_header: int = 0) -> int:
    """The 1-based line of data row ``row`` (0-based) of a text table, as parsed above."""
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return row + skip_header + 1
    seen = -1
    for number, line in enumerate(lines[skip_header:], start=skip_header + 1):
        if line.strip():
            seen += 1
            if seen == row:
                return number
    return row + skip_header + 1


def map_codes(
    codes: np.ndarray, classes: Mapping[int, int], dropped: Iterable[int]
) -> tuple[np.ndarray, int | None]:
    """Published integer codes -> class indices (int64), ``dropped`` codes -> -1.

    Returns the labels and the index of the first code that is neither (None if all are known).
    """
    codes = np.asarray(codes, dtype=np.float64)
    labels = np.full(codes.shape[0], -1, dtype=np.int64)
    known = np.zeros(codes.shape[0], dtype=bool)
    for code, index in classes.items():
        hit = codes == code
        labels[hit] = index
        known |= hit
    for code in dropped:
        known |= codes == code
    bad = np.flatnonzero(~known)
    return labels, (int(bad[0]) if len(bad) else None)


def codes_to_labels(
    codes: np.ndarray,
    classes: Mapping[int, int],
    dropped: Iterable[int],
    path: Path | str,
    *,
    skip_header: int = 0,
) -> np.ndarray:
    """``map_codes`` for a text table: an unknown code (or NaN) is an error naming file and line."""
    dropped = tuple(dropped)
    labels, bad = map_codes(codes, classes, dropped)
    if bad is not None:
        line = line_of_row(path, bad, skip_header=skip_header)
        expected = sorted({*classes, *dropped})
        raise HarbenchError(
            f"{path}, line {line}: unknown label code {float(codes[bad])}; "
            f"expected one of {expected}"
        )
    return labels


def read_mat(path: Path, names: Iterable[str] | None = None) -> dict[str, Any]:
    """Variables of a MATLAB (v4-v7.2) file; scipy's reader never executes what it reads."""
    from scipy.io import loadmat

    try:
        return loadmat(str(path), variable_names=list(names) if names is not None else None)
    except FileNotFoundError:
        raise HarbenchError(f"missing file {path}") from None
    except Exception as exc:  # scipy raises many types for a damaged or foreign file
        raise HarbenchError(f"{path}: not a readable MATLAB .mat file ({exc})") from None


def mat_matrix(contents: Mapping[str, Any], key: str, path: Path, *, columns: int) -> np.ndarray:
    """The 2-D numeric variable ``key`` of a loaded .mat, float64 [rows, columns]."""
    if key not in contents:
        found = sorted(k for k in contents if not k.startswith("__"))
        raise HarbenchError(f"{path}: no variable {key!r} (found {found})")
    value = np.asarray(contents[key])
    if value.ndim != 2 or value.shape[1] != columns or value.shape[0] == 0:
        raise HarbenchError(
            f"{path}, variable {key!r}: expected a [rows, {columns}] matrix, got shape "
            f"{value.shape}"
        )
    if not np.issubdtype(value.dtype, np.number):
        raise HarbenchError(f"{path}, variable {key!r}: expected numbers, got {value.dtype}")
    return value.astype(np.float64)
