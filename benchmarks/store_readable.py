"""What keeping the store readable during a suite costs per run.

    python benchmarks/store_readable.py [--runs 40] [--stored 500] [--run-seconds 30]

The coordinator's Store opens the DuckDB file for each write transaction and closes it after, so
other processes can read between runs. This writes ``--runs`` typical results (12 classes, 30
epochs of curves, 20 metrics) into a store already holding ``--stored`` runs, once through that
mechanism (open + write + close) and once on a connection kept open for the whole suite (the old
way, which locks readers out), and prints the per-run cost of each, the difference, and both as a
share of a run's time (default 30 s, a typical TinierHAR run on HAPT on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from harbench.store import Store

CLASSES = 12


@dataclass
class Result:
    """The fields of a RunResult the store reads."""

    run_id: str
    spec: dict[str, Any]
    status: str = "ok"
    error: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    curves: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    started_at: str = "2026-01-01 00:00:00"
    finished_at: str = "2026-01-01 00:00:30"
    env: dict[str, str] = field(default_factory=dict)


def typical(i: int) -> Result:
    spec = {
        "dataset": "hapt_embedded",
        "model": "tinierhar",
        "method": "lora",
        "protocol": {"name": "subject_groups", "groups": 10},
        "fold": i % 10,
        "seed": i,
        "training": {"epochs": 30, "lr": 0.005},
    }
    return Result(
        run_id=f"{i:020d}",
        spec=spec,
        metrics={f"metric_{k}": k / 20 for k in range(20)},
        curves=[
            {"epoch": e, "train_loss": 1 / e, "val_loss": 1 / e, "val_f1": 0.5, "lr": 0.01}
            for e in range(1, 31)
        ],
        details={
            "classes": [f"c{k}" for k in range(CLASSES)],
            "per_class_f1": [0.5] * CLASSES,
            "confusion": [[k] * CLASSES for k in range(CLASSES)],
        },
        env={"harbench": "0.1.0", "torch": "2", "python": "3.11", "device": "cpu", "host": "h"},
    )


def per_write(store: Store, first: int, runs: int) -> list[float]:
    times = []
    for i in range(first, first + runs):
        start = time.perf_counter()
        store.write(typical(i))
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="writes timed per mechanism")
    parser.add_argument("--stored", type=int, default=500, help="runs already in the store")
    parser.add_argument("--run-seconds", type=float, default=30.0, help="a run's time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        store = Store(db)
        per_write(store, 10_000_000, args.stored)  # fill (not timed)
        reopen = per_write(store, 0, args.runs)  # the mechanism: open + write + close
        store.con = duckdb.connect(str(db))  # the old way: one connection held for the suite
        held = per_write(store, args.runs, args.runs)
        store.close()
    a, b = statistics.median(reopen), statistics.median(held)
    share = 100 / args.run_seconds
    print(f"store with {args.stored} runs; median of {args.runs} writes each")
    print(f"open + write + close : {a * 1e3:8.1f} ms per run = {a * share:.4f}% of a run")
    print(f"write, file held open: {b * 1e3:8.1f} ms per run = {b * share:.4f}% of a run")
    print(
        f"cost of readability  : {(a - b) * 1e3:8.1f} ms per run = {(a - b) * share:.4f}% of a "
        f"{args.run_seconds:g} s run (ratio open/held {a / b:.2f})"
    )


if __name__ == "__main__":
    main()
