"""Did a refactoring change any result? Compare two exports of the same suites, run by the code
before and after the change.

    # with the code before the change (e.g. a `git archive` of the starting commit on PYTHONPATH):
    harbench run benchmarks/refactor_equal/conv.yaml --db before.duckdb   # and models/backbones
    harbench export --db before.duckdb --format jsonl -o before.jsonl
    # with the code after it, the same into after.duckdb / after.jsonl; then
    python benchmarks/refactor_equal.py before.jsonl after.jsonl

Runs are paired by (dataset, model label, method label, fold, seed): the run id may change when
the canonical config changes (issue 23 stores the derived LoRA-family ``alpha``), the labels do
not. Every metric that does not measure wall-clock time or process memory must be equal
(``--atol`` 0 by default: bit-identical). It prints one row per run and a summary, the stored
config keys that changed, and exits 1 when a result differs or a run is missing on one side.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

IDENTITY = ("dataset", "model_label", "method_label", "fold", "seed")
# measured, not computed: they change between two runs of the same code
MEASURED = ("seconds", "peak_rss", "peak_heap", "started_at", "finished_at")
NOT_METRICS = ("run_id", "error", "device", "harbench_version", "torch_version",
               "python_version", "versions.", "method_params", "model_params", "training.",
               "pretrain", "protocol", "window", "dataset_params", "executor", "status",
               "data_fingerprint", "dataset", "model", "method", "fold", "seed", "rate_hz",
               "tuning.")  # a tuned run's study and chosen values: configuration, not results


def load(path: Path) -> dict[tuple, dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {tuple(row[k] for k in IDENTITY): row for row in rows}


def is_metric(key: str) -> bool:
    return not key.startswith(NOT_METRICS) and not any(m in key for m in MEASURED)


def differs(a, b, atol: float) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return False
        return abs(a - b) > atol
    return a != b


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--atol", type=float, default=0.0)
    args = parser.parse_args(argv)
    before, after = load(args.before), load(args.after)
    bad = 0
    for key in sorted(set(before) | set(after), key=str):
        if key not in before or key not in after:
            print(f"MISSING {'after' if key in before else 'before'}: {key}")
            bad += 1
            continue
        old, new = before[key], after[key]
        metrics = sorted(k for k in set(old) | set(new) if is_metric(k))
        changed = [k for k in metrics if differs(old.get(k), new.get(k), args.atol)]
        both = (old["status"], new["status"])
        status = "ok" if both == ("ok", "ok") else "/".join(both)
        configs = sorted(k for k in set(old) | set(new)
                         if k.startswith(("method_params.", "model_params.", "training."))
                         and old.get(k) != new.get(k))
        same_id = "same id" if old["run_id"] == new["run_id"] else "new id"
        label = " ".join(str(k) for k in key)
        note = f"config {', '.join(f'{k}: {old.get(k)} -> {new.get(k)}' for k in configs)}"
        print(f"{'DIFF' if changed or status != 'ok' else 'equal':5}  {label:60} "
              f"{len(metrics)} metrics, {same_id}" + (f", {note}" if configs else "")
              + (f"; differ: {', '.join(changed)}" if changed else ""))
        bad += bool(changed) or status != "ok"
    print(f"{len(before)} runs before, {len(after)} after, {bad} differ or missing")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
