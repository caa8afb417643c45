"""Parsing helpers for dataset loaders: numeric tables with errors that name file and line,
and polyphase resampling."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from harbench import lazy
from harbench.contracts import HarbenchError

np = lazy.module("numpy")  # imported on first use: plugin registration stays light

FLOAT32_MAX = 3.4028234663852886e38  # numpy.finfo(numpy.float32).max: signals are float32


def overflowing(signals: np.ndarray) -> np.ndarray:
    """Mask of values that are infinite, or finite but beyond float32's range (NaN is not)."""
    values = np.asarray(signals)
    if values.dtype.kind not in "fc":
        return np.zeros(values.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        return np.abs(values) > FLOAT32_MAX


def check_recordings(recordings: list) -> None:
    """Refuse a recording whose signals hold a value not finite in float32, naming the
    recording, the row and the column (a loader that reads text names its file and line)."""
    for i, rec in enumerate(recordings):
        bad = overflowing(rec.signals)
        if bad.any():
            row, column = (int(x[0]) for x in np.nonzero(bad.reshape(len(bad), -1)))
            value = np.asarray(rec.signals).reshape(len(bad), -1)[row, column]
            where = getattr(rec, "name", "") or f"recording {i}"
            raise HarbenchError(
                f"{where}, sample {row + 1}, column {column + 1}: value {value!r} is not finite "
                f"in float32 (|x| > {FLOAT32_MAX:.4g}); {int(bad.sum())} such value(s) in all"
            )


def read_numeric_table(
    path: Path,
    *,
    delimiter: str | None = None,
    columns: int | None = None,
    skip_header: int = 0,
    allow_nan: bool = True,
    text: str | None = None,
) -> np.ndarray:
    """Parse a delimited numeric text file into float64 [rows, cols].

    ``delimiter`` None splits on whitespace. Every row must have ``columns`` fields (or as many as
    the first row). A truncated row, a wrong column count or a non-numeric cell raises a
    HarbenchError naming the file and the 1-based line. "NaN"/"nan" cells are NaN when allowed.
    """
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise HarbenchError(f"cannot read {path}: {exc.strerror or exc}") from None
    rows: list[list[float]] = []
    lines = text.splitlines()
    for number, line in enumerate(lines[skip_header:], start=skip_header + 1):
        stripped = line.strip()
        if not stripped:
            continue
        fields = stripped.split(delimiter) if delimiter else stripped.split()
        if delimiter:
            fields = [f.strip() for f in fields]
        if columns is None:
            columns = len(fields)
        if len(fields) != columns:
            raise HarbenchError(
                f"{path}, line {number}: expected {columns} columns, found {len(fields)}"
            )
        try:
            values = [float(f) for f in fields]
        except ValueError:
            bad = next(f for f in fields if not _is_float(f))
            raise HarbenchError(f"{path}, line {number}: non-numeric cell {bad!r}") from None
        if not allow_nan and any(v != v for v in values):
            raise HarbenchError(f"{path}, line {number}: NaN where none is allowed")
        for column, value in enumerate(values, start=1):
            if abs(value) > FLOAT32_MAX:  # inf, or finite here but inf once stored as float32
                raise HarbenchError(
                    f"{path}, line {number}, column {column}: value {fields[column - 1]!r} is "
                    f"not finite in float32 (|x| > {FLOAT32_MAX:.4g}); fix or remove the row"
                )
        rows.append(values)
    if not rows:
        raise HarbenchError(f"{path}: no data rows")
    return np.asarray(rows, dtype=np.float64)


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def interpolate_nans(signals: np.ndarray) -> tuple[np.ndarray, int]:
    """Linearly interpolate NaNs per column (edges take the nearest value); returns (array, count).

    A column that is entirely NaN becomes zeros.
    """
    out = np.array(signals, dtype=np.float64, copy=True)
    missing = int(np.isnan(out).sum())
    if missing == 0:
        return out, 0
    index = np.arange(out.shape[0])
    for c in range(out.shape[1]):
        col = out[:, c]
        nan = np.isnan(col)
        if nan.all():
            col[:] = 0.0
        elif nan.any():
            col[nan] = np.interp(index[nan], index[~nan], col[~nan])
    return out, missing


def resample(
    signals: np.ndarray, labels: np.ndarray, from_hz: float, to_hz: float
) -> tuple[np.ndarray, np.ndarray]:
    """Polyphase resampling of signals [T, C] (anti-aliased, scipy) and nearest-sample labels [T].

    The signal is extended linearly past its ends, so the edges are not pulled towards zero.
    """
    if abs(from_hz - to_hz) < 1e-9:
        return signals, labels
    from scipy.signal import resample_poly

    ratio = Fraction(to_hz / from_hz).limit_denominator(1000)
    up, down = ratio.numerator, ratio.denominator
    out = resample_poly(np.asarray(signals, dtype=np.float64), up, down, axis=0, padtype="line")
    n_out = out.shape[0]
    source = np.minimum((np.arange(n_out) * down / up).round().astype(np.int64), len(labels) - 1)
    return out.astype(np.float32), np.asarray(labels)[source]
