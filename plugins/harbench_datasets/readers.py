"""Readers shared by the dataset loaders: numeric tables whose errors name file and line, label
code mapping, path lookup, MATLAB files, and the subject subset every loader accepts.

Tables are parsed by numpy's C reader first (fast on the large published files); anything it
rejects is parsed again by ``read_numeric_table``, whose error names the file and the line.
"""

from __future__ import annotations

import io
import re
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from harbench import lazy
from harbench.contracts import Channel, DatasetPlugin, HarbenchError, Recording
from harbench.data.parsing import overflowing, read_numeric_table

np = lazy.module("numpy")  # imported on first use: registering stays light

# ---- where the files are ----------------------------------------------------------------------


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


def find_shallow(root: Path, name: str) -> Path | None:
    """``root / name``, else the first (sorted) ``name`` one or two folders below ``root``."""
    if not root.is_dir():
        return None
    for pattern in (name, f"*/{name}", f"*/*/{name}"):
        found = sorted(root.glob(pattern))
        if found:
            return found[0]
    return None


def acc_gyro_channels(
    position: str, acc_unit: str, gyro_unit: str = "rad/s", prefix: str = ""
) -> tuple[Channel, ...]:
    """acc x/y/z then gyro x/y/z of one unit at ``position``, named ``{prefix}acc_x`` ..."""
    return tuple(
        Channel(f"{prefix}{kind}_{axis}", kind, position, unit)
        for kind, unit in (("acc", acc_unit), ("gyro", gyro_unit))
        for axis in "xyz"
    )


def extract_hint(plugin: DatasetPlugin, target: Path, note: str = "") -> str:
    """``fetch_instructions`` text: download the first archive, extract it so ``target`` exists."""
    page = f"\n(page: {plugin.source_url})" if plugin.source_url else ""
    return f"Download {plugin.archive_urls[0]}{page} and extract it so that {target} exists{note}."


def open_text(path: Path) -> TextIO:
    """``path`` opened for reading text (csv-ready); a HarbenchError naming it if it cannot be."""
    try:
        return path.open(newline="", encoding="utf-8", errors="replace")
    except OSError as exc:
        raise HarbenchError(f"cannot read {path}: {exc.strerror or exc}") from None


# ---- subject subsets ------------------------------------------------------------------------


def chosen_subjects(plugin: DatasetPlugin, subjects: Iterable[int] | None) -> tuple[int, ...]:
    """The asked subject ids (None: every declared subject), checked against the declared ones."""
    if subjects is None:
        return tuple(plugin.subjects)
    asked = tuple(dict.fromkeys(int(s) for s in subjects))
    unknown = [s for s in asked if s not in plugin.subjects]
    if unknown:
        raise HarbenchError(
            f"dataset {plugin.name!r} has no subject(s) {unknown}; its subjects are "
            f"{', '.join(str(s) for s in plugin.subjects)}"
        )
    return asked


def require_files(
    plugin: DatasetPlugin, needed: Mapping[int, Sequence[Path]], base: Path
) -> None:
    """Refuse when a subject's needed files are absent, naming the subjects and the files.

    ``needed`` maps subject -> the files that subject needs (missing ones included).
    """
    missing = {s: [p for p in paths if not p.is_file()] for s, paths in needed.items()}
    missing = {s: paths for s, paths in missing.items() if paths}
    if not missing:
        return
    total = len({p for paths in needed.values() for p in paths})
    absent = list(dict.fromkeys(p for paths in missing.values() for p in paths))
    count = len(absent)
    shown = [_relative(p, base) for p in absent[:5]]
    more = " ..." if count > len(shown) else ""
    present = [s for s in needed if s not in missing]
    hint = (
        f"; or use only the subjects whose files are all here: subjects: {present} (in a suite: "
        f"datasets: [{{{plugin.name}: {{subjects: {present}}}}}])"
        if present else ""
    )
    raise HarbenchError(
        f"dataset {plugin.name!r} in {base}: missing {count} of {total} files, for subject(s) "
        f"{', '.join(str(s) for s in sorted(missing))}: {', '.join(shown)}{more}. "
        f"Fetch them (harbench data fetch {plugin.name}){hint}"
    )


class SubjectFiles(ABC):
    """Mixin for a DatasetPlugin whose raw files each belong to one subject.

    A loader defines ``needed(root, subjects)``: subject -> the files the published layout gives
    it (missing ones included); ``files``, ``is_present`` and ``checked_files`` follow from it,
    and ``load`` reads every needed file with ``read_file`` unless the loader has its own.
    """

    @abstractmethod
    def needed(self, root: Path, subjects: tuple[int, ...]) -> dict[int, list[Path]]:
        """Subject -> the files the published layout gives it, missing ones included."""

    def read_file(self, path: Path, subject: int) -> list[Recording]:
        """The recordings of one of ``subject``'s files."""
        raise HarbenchError(f"dataset {self.name!r} reads no single file")

    def load(self, root: Path, subjects: Iterable[int] | None = None) -> list[Recording]:
        return [
            recording
            for subject, paths in self.checked_files(root, subjects).items()
            for path in paths
            for recording in self.read_file(path, subject)
        ]

    def files(self, root: Path, subjects: Iterable[int] | None = None) -> list[Path]:
        needed = self.needed(root, chosen_subjects(self, subjects))
        return sorted({p for paths in needed.values() for p in paths})

    def is_present(self, root: Path) -> bool:
        return root.is_dir() and any(p.is_file() for p in self.files(root))

    def checked_files(self, root: Path, subjects: Iterable[int] | None) -> dict[int, list[Path]]:
        """``needed`` for the asked subjects, after refusing any missing file by name."""
        needed = self.needed(root, chosen_subjects(self, subjects))
        require_files(self, needed, root)
        return needed


def _relative(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return str(path)


def keep_subjects(recordings: list, subjects: tuple[int, ...]) -> list:
    """The recordings whose subject was asked for, in their order."""
    wanted = set(subjects)
    return [rec for rec in recordings if rec.subject in wanted]


def numbered(folder: Path, pattern: re.Pattern, *, want_dir: bool) -> list[Path]:
    """Entries of ``folder`` whose name matches ``pattern``, sorted by the number in it."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if pattern.match(p.name) and p.is_dir() == want_dir]
    return sorted(found, key=lambda p: int(pattern.match(p.name).group(1)))


def present_by_subject(
    files: Iterable[Path], subject_of: Callable[[Path], int | None]
) -> dict[int, list[Path]]:
    """Files grouped by the subject ``subject_of`` reads from each path (None: not a data file)."""
    groups: dict[int, list[Path]] = {}
    for path in files:
        subject = subject_of(path)
        if subject is not None:
            groups.setdefault(subject, []).append(path)
    return groups


# ---- numeric tables -----------------------------------------------------------------------


def numeric_table(
    path: Path | str,
    *,
    columns: int | None = None,
    delimiter: str | None = None,
    skip_header: int = 0,
    usecols: Sequence[int] | None = None,
    text: str | None = None,
) -> np.ndarray:
    """A numeric text table as float64 [rows, cols]; a HarbenchError naming file and line if not.

    ``usecols`` (0-based) keeps only those columns, in that order: much faster on wide files;
    cells outside them are then not checked, only the first row's width is. ``text``: parse this
    text instead of reading ``path`` (which then only names the source, e.g. a zip member).
    """
    if columns is not None and text is None:
        _check_first_row_width(Path(path), columns, delimiter, skip_header)
    source: Any = io.StringIO(text) if text is not None else path
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data"
            table = np.loadtxt(
                source, delimiter=delimiter, skiprows=skip_header, ndmin=2, comments=None,
                dtype=np.float64, usecols=None if usecols is None else list(usecols),
            )
        wrong_width = columns is not None and usecols is None and table.shape[1] != columns
    except OSError as exc:
        raise HarbenchError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError:
        wrong_width = True
    if not wrong_width and overflowing(table).any():  # beyond float32: say where, exactly
        wrong_width = True
    if wrong_width:  # the slow parser reports exactly what is wrong, and where
        table = read_numeric_table(
            Path(path), delimiter=delimiter, columns=columns, skip_header=skip_header, text=text
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
        with path.open(encoding="utf-8", errors="replace") as handle:
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


def line_of_row(path: Path | str, row: int, *, skip_header: int = 0) -> int:
    """The 1-based line of data row ``row`` (0-based) of a text table, blank lines skipped."""
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


# ---- labels -------------------------------------------------------------------------------


def map_codes(
    codes: np.ndarray, classes: Mapping[Any, int], dropped: Iterable[Any] = ()
) -> tuple[np.ndarray, int | None]:
    """Published label codes -> class indices (int64), ``dropped`` codes -> -1.

    Returns the labels and the index of the first code that is neither (None if all are known).
    """
    codes = np.asarray(codes)
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


def map_labels(
    codes: np.ndarray,
    classes: Mapping[Any, int],
    path: Path | str,
    *,
    dropped: Iterable[Any] = (),
    skip_header: int = 0,
) -> np.ndarray:
    """``map_codes`` for a text table: an unknown code (or NaN) is an error naming file and line.

    The codes are one per data row of the table at ``path``.
    """
    dropped = tuple(dropped)
    labels, bad = map_codes(codes, classes, dropped)
    if bad is not None:
        line = line_of_row(path, bad, skip_header=skip_header)
        value = codes[bad]
        shown = int(value) if isinstance(value, float) and value.is_integer() else value
        expected = ", ".join(str(c) for c in (*classes, *dropped))
        raise HarbenchError(
            f"{path}, line {line}: unknown label {shown!r}; expected one of {expected}"
        )
    return labels


def runs(keys: Sequence[Any]) -> list[tuple[int, int]]:
    """(start, stop) of every run of equal consecutive keys."""
    bounds: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[start]:
            bounds.append((start, i))
            start = i
    return bounds


# ---- MATLAB files -------------------------------------------------------------------------


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
