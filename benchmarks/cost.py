"""Estimated cost of the reproduction suites (suites/repro/*.yaml) in runs and device-hours.

Every suite is expanded (nothing runs). Each run's time is estimated from runs measured in a
store (``--db``, default results/harbench.duckdb): the median seconds per epoch of stored ok runs
of the same dataset, model and method, times the run's epoch budget, plus the median time such a
run spent outside its training epochs (loading, setup, evaluation, measurement). Without such a
run, the same model and method on any dataset is used, then the same model, then any run; the
table says how many runs each level estimated. Epoch budgets are upper bounds (early stopping
ends runs sooner), so the totals are too. Pretraining stages are not included.

    python benchmarks/cost.py [--suites suites/repro] [--db results/harbench.duckdb]

Prints a markdown table: suite, runs, runs already stored, estimated device-hours, and the basis.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

MEASURED = """
SELECT r.dataset, r.model, r.method,
       MAX(CASE WHEN m.name = 'epoch_seconds' THEN m.value END) AS epoch_s,
       MAX(CASE WHEN m.name = 'epochs' THEN m.value END) AS epochs,
       epoch(r.finished_at) - epoch(r.started_at) AS wall_s
FROM runs r JOIN metrics m USING (run_id)
WHERE r.status = 'ok'
GROUP BY r.run_id, r.dataset, r.model, r.method, r.started_at, r.finished_at
"""
LEVELS = ("same cell", "model+method", "model", "any run")


class Estimator:
    """Per-run seconds from measured runs, falling back from the same cell to any run."""

    def __init__(self, rows: list[tuple[Any, ...]]):
        self.tables: list[dict[tuple, list[tuple[float, float]]]] = [defaultdict(list)
                                                                     for _ in LEVELS]
        for dataset, model, method, epoch_s, epochs, wall_s in rows:
            if epoch_s is None or epochs is None or wall_s is None:
                continue
            sample = (float(epoch_s), max(0.0, float(wall_s) - float(epoch_s) * float(epochs)))
            for level, key in enumerate(self._keys(dataset, model, method)):
                self.tables[level][key].append(sample)

    @staticmethod
    def _keys(dataset: str, model: str, method: str) -> tuple[tuple, ...]:
        return ((dataset, model, method), (model, method), (model,), ())

    def seconds(self, dataset: str, model: str, method: str, epochs: int) -> tuple[float, int]:
        """(estimated seconds, level used); level len(LEVELS) when nothing was measured."""
        for level, key in enumerate(self._keys(dataset, model, method)):
            samples = self.tables[level].get(key)
            if samples:
                per_epoch = statistics.median(s[0] for s in samples)
                rest = statistics.median(s[1] for s in samples)
                return per_epoch * epochs + rest, level
        return 0.0, len(LEVELS)


def measured_rows(db: Path) -> tuple[list[tuple[Any, ...]], set[str]]:
    """The measured runs of the store, and the ids of its ok runs ([] and set() without one)."""
    if not db.is_file():
        return [], set()
    from harbench.store import Store

    with Store(db, read_only=True) as store:
        _, rows = store.query(MEASURED)
        _, ok = store.query("SELECT run_id FROM runs WHERE status = 'ok'")
    return rows, {r[0] for r in ok}


def suite_row(path: Path, estimator: Estimator, stored: set[str]) -> list[str]:
    from harbench import suite

    specs = suite.load(path).expand()
    total, used = 0.0, [0] * (len(LEVELS) + 1)
    for spec in specs:
        seconds, level = estimator.seconds(spec.dataset, spec.model, spec.method,
                                           int(spec.training.get("epochs", 0)))
        total += seconds
        used[level] += 1
    basis = ", ".join(f"{n} by {name}" for n, name in zip(used, LEVELS) if n)
    if used[-1]:
        basis += (", " if basis else "") + f"{used[-1]} unmeasured"
    hours = f"{total / 3600:.1f}" if used[-1] < len(specs) else "-"
    done = sum(1 for s in specs if s.run_id in stored)
    return [path.stem, str(len(specs)), str(done), hours, basis]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suites", default="suites/repro", help="folder of suite YAML files")
    parser.add_argument("--db", default=None, help="store with measured runs")
    args = parser.parse_args()
    from harbench.contracts import HarbenchError
    from harbench.store import default_db

    folder = Path(args.suites)
    files = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    if not files:
        print(f"no suites in {folder} yet: nothing to estimate")
        return 0
    db = default_db(args.db)
    rows, stored = measured_rows(db)
    estimator = Estimator(rows)
    print(f"Estimated from {len(rows)} measured runs in {db} (epoch budgets: upper bounds).\n")
    print("| suite | runs | stored | device-hours | basis (runs estimated by) |")
    print("|---|---:|---:|---:|---|")
    for path in files:
        try:
            cells = suite_row(path, estimator, stored)
        except HarbenchError as exc:
            cells = [path.stem, "-", "-", "-", f"invalid: {str(exc).splitlines()[0]}"]
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
