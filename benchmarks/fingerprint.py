"""What identity fingerprinting costs: HAPT and a 1 GB dataset tree, cold and cached.

    python benchmarks/fingerprint.py [--gigabytes 1] [--files 200] [--run-seconds 30]

``cold``: no remembered content hashes (every file is read and hashed; the OS page cache may hold
the files, which this script cannot drop). ``cached``: the second fingerprint, which only stats
the files. Each time is printed with its share of a run's time (default 30 s, a typical TinierHAR
run on HAPT on 2 CPU cores). HAPT is the embedded copy (one package file) and, when present, the
raw HAPT tree in ../shared/data/real/hapt. The 1 GB tree is made in a temporary folder of sparse
files (a random 64 KiB block every MiB, holes in between), so it takes little disk space.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from harbench import plugins
from harbench.contracts import DatasetPlugin
from harbench.data.fingerprint import dataset_fingerprint

REAL_HAPT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "real" / "hapt"
MIB = 1 << 20


class Tree(DatasetPlugin):
    """A dataset whose raw files are every file under its root (the default ``files``)."""

    name = "tree"


def make_tree(root: Path, gigabytes: float, files: int) -> int:
    """Sparse random files totalling ``gigabytes``; returns the byte count."""
    size = int(gigabytes * 1024 * MIB / files)
    past = time.time() - 3600  # older than the racy window, so hashes may be remembered
    for i in range(files):
        path = root / f"subject{i % 20:02d}" / f"recording{i:04d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            for offset in range(0, size, MIB):
                handle.seek(offset)
                handle.write(os.urandom(min(64 * 1024, size - offset)))
            handle.truncate(size)
        os.utime(path, (past, past))
    return size * files


def cold_and_cached(plugin: DatasetPlugin, root: Path) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        first = dataset_fingerprint(plugin, root, cache_dir=cache)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        second = dataset_fingerprint(plugin, root, cache_dir=cache)
        cached = time.perf_counter() - start
    assert first == second
    return cold, cached


def report(label: str, size: int, cold: float, cached: float, run_s: float) -> None:
    print(
        f"{label:<34} {size / MIB:9.1f} MiB  cold {cold:8.3f} s ({cold / run_s:7.2%} of a run)"
        f"  cached {cached * 1e3:8.2f} ms ({cached / run_s:7.4%} of a run)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=1.0)
    parser.add_argument("--files", type=int, default=200, help="files in the big tree")
    parser.add_argument("--run-seconds", type=float, default=30.0, help="a run's time")
    args = parser.parse_args()
    run_s = args.run_seconds
    print(f"fingerprint cost against a {run_s:g} s run")

    embedded = plugins.get("datasets", "hapt_embedded")
    if embedded.is_present(Path(".")):
        files = embedded.files(Path("."), None)
        size = sum(p.stat().st_size for p in files if p.exists())
        report("hapt_embedded (package files)", size, *cold_and_cached(embedded, Path(".")), run_s)
    if REAL_HAPT.is_dir():
        hapt = plugins.get("datasets", "hapt")
        root = REAL_HAPT.resolve()
        size = sum(p.stat().st_size for p in hapt.files(root, None) if p.exists())
        report("hapt raw tree (shared partial copy)", size, *cold_and_cached(hapt, root), run_s)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "tree"
        size = make_tree(root, args.gigabytes, args.files)
        label = f"{args.files} sparse files, {args.gigabytes:g} GiB"
        report(label, size, *cold_and_cached(Tree(), root), run_s)


if __name__ == "__main__":
    main()
