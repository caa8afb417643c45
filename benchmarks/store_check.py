"""What the damaged-store check costs when a suite opens its store for writing.

A store of ``--runs`` runs (40 metrics and 30 curve rows each, written with SQL in bulk) is
created; then ``Store(path)`` (the writer's open, which first reads every table in full, see
``harbench.store.check_sound``) is timed against opening the file for writing without the check.
Best of ``--repeats``; prints both and the ratio.

    python benchmarks/store_check.py [--runs 10000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb

from harbench.store import SCHEMA, Store, check_sound


def build(path: Path, runs: int) -> None:
    con = duckdb.connect(str(path))
    con.execute(SCHEMA)
    con.execute(
        "INSERT INTO runs (run_id, dataset, model, method, fold, seed, status, config) "
        "SELECT 'run' || i, 'hapt', 'tinierhar', 'lora', i % 10, i % 3, 'ok', '{}' "
        "FROM range(?) t(i)", [runs])
    con.execute("INSERT INTO metrics SELECT 'run' || i, 'metric' || j, random() "
                "FROM range(?) a(i), range(40) b(j)", [runs])
    con.execute("INSERT INTO curves (run_id, stage, epoch, train_loss, val_loss, val_f1, lr, "
                "seconds, steps, samples) SELECT 'run' || i, 'train', j, random(), random(), "
                "random(), 0.001, 0.5, 10 * (j + 1), 640 * (j + 1) "
                "FROM range(?) a(i), range(30) b(j)", [runs])
    con.close()


def best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "store.duckdb"
        build(path, args.runs)
        size = path.stat().st_size / 2**20

        def plain():
            duckdb.connect(str(path)).close()

        def checked():
            Store(path).close()

        plain_s, checked_s = best(plain, args.repeats), best(checked, args.repeats)
        check_s = best(lambda: check_sound(path, 1.0), args.repeats)
        print(f"store: {args.runs} runs, {size:.1f} MiB")
        print(f"  open for writing, no check:   {plain_s * 1000:8.1f} ms")
        print(f"  Store(path) with the check:   {checked_s * 1000:8.1f} ms  "
              f"ratio {checked_s / plain_s:.1f}")
        print(f"  the check alone:              {check_s * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
