"""The cost of an equal-budget tuned comparison, with and without pruning, against the untuned one.

The LoRA-Edge twin's shapes (suites/repro/lora_edge-hapt.yaml: the embedded HAPT data, a 1-D CNN
pretrained with labels on the source subjects, subject_adaptation), shrunk to minutes on 2 CPU
cores: ``--targets`` reported targets, ``--dev`` development targets, ``--epochs`` epochs, and the
twin's main methods (full, linear probe, LoRA on convs, LoRA-Edge at rank 2). Three suites run in
this process, one after the other, on fresh stores sharing the window and pretraining caches:

- untuned: every method at the twin's hand-picked settings;
- tuned, pruned: ``--trials`` trials per method (TPE, ``--pruner``), then the reported runs;
- tuned, unpruned: the same trials without pruning, then the reported runs.

Cost is counted in training epochs and training MACs (3 x forward MACs x windows seen, plus the
validation passes; pretraining left out: every configuration shares its stages) and in seconds of
training (trial seconds + the reported runs' fit seconds; the machine may be shared, so seconds
are indicative). Goal: tuned with 12 trials per method <= 4x the untuned comparison.

    python benchmarks/tuning_cost.py [--trials 12] [--targets 1 2] [--dev 3] [--epochs 6]
                                     [--pruner median|halving]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from harbench import coordinator
from harbench.store import Store

METHODS = """    - full
    - linear_probe
    - {lora: {r: 4, targets: conv}}
    - {lora_edge: {rank: 2}}"""

SUITE = """
name: {name}
defaults:
  protocol: {{name: subject_adaptation, targets: {targets}}}
  training: {{epochs: {epochs}, batch_size: 32, lr: 0.003, patience: {epochs}}}
  pretrain: {{objective: supervised, epochs: 3, batch_size: 128, lr: 0.003}}
matrix:
  datasets: [hapt_embedded]
  models: [{{convnet1d: {{width: 16, depth: 4}}}}]
  methods:
{methods}
  seeds: [0]
overrides:
  - when: {{method: [linear_probe, lora, lora_edge]}}
    set: {{training: {{lr: 0.01}}}}
executor: {{name: local}}
"""

TUNING = """tuning:
  trials: {trials}
  seed: 0
  pruner: {pruner}
  dev_targets: {dev}
  space:
    training.lr: {{log_uniform: [3.0e-4, 3.0e-2]}}
    training.weight_decay: {{log_uniform: [1.0e-6, 1.0e-2]}}
  methods:
    lora: {{method.r: {{categorical: [2, 4, 8]}}}}
    lora_edge: {{method.rank: {{categorical: [1, 2, 4]}}}}
"""


def run_costs(store: Store) -> dict[str, float]:
    """Epochs, training MACs and fit seconds of the stored ok runs."""
    _, rows = store.query(
        "SELECT r.run_id, m.value, c.epochs, c.samples, v.value, f.value FROM runs r "
        "JOIN metrics m ON m.run_id = r.run_id AND m.name = 'train_forward_macs' "
        "JOIN metrics v ON v.run_id = r.run_id AND v.name = 'val_windows' "
        "JOIN metrics f ON f.run_id = r.run_id AND f.name = 'fit_seconds' "
        "JOIN (SELECT run_id, count(*) AS epochs, sum(samples) AS samples FROM curves "
        "      WHERE stage = 'train' GROUP BY run_id) c ON c.run_id = r.run_id "
        "WHERE r.status = 'ok'")
    out = {"runs": len(rows), "epochs": 0.0, "macs": 0.0, "seconds": 0.0}
    for _, forward, epochs, samples, val, seconds in rows:
        out["epochs"] += epochs
        out["macs"] += forward * (3 * samples + epochs * val)
        out["seconds"] += seconds
    return out


def trial_costs(store: Store) -> dict[str, float]:
    _, rows = store.query("SELECT state, curve, seconds, macs FROM trials")
    out = {"trials": len(rows), "pruned": 0.0, "epochs": 0.0, "macs": 0.0, "seconds": 0.0}
    for state, curve, seconds, macs in rows:
        out["pruned"] += state == "pruned"
        out["epochs"] += len(json.loads(curve))
        out["macs"] += macs
        out["seconds"] += seconds
    return out


def measure(folder: Path, name: str, text: str) -> dict[str, float]:
    path = folder / f"{name}.yaml"
    path.write_text(text)
    db = folder / f"{name}.duckdb"
    started = time.perf_counter()
    summary = coordinator.run_suite(path, db=db)
    wall = time.perf_counter() - started
    if summary.failed:
        raise SystemExit(f"{name}: {summary.failed} runs failed: {summary.failures[:3]}")
    with Store(db, read_only=True) as store:
        runs = run_costs(store)
        trials = trial_costs(store) if "tuning:" in text else {
            "trials": 0, "pruned": 0, "epochs": 0.0, "macs": 0.0, "seconds": 0.0}
    return {"wall": wall, "runs": runs, "trials": trials,
            "epochs": runs["epochs"] + trials["epochs"], "macs": runs["macs"] + trials["macs"],
            "seconds": runs["seconds"] + trials["seconds"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--targets", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--dev", type=int, nargs="+", default=[3])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--pruner", choices=("median", "halving"), default="median")
    args = parser.parse_args()
    base = dict(targets=list(args.targets), epochs=args.epochs, methods=METHODS)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        results = {
            "untuned": measure(folder, "untuned", SUITE.format(name="untuned", **base)),
            "tuned, pruned": measure(folder, "pruned", SUITE.format(name="pruned", **base)
                                     + TUNING.format(trials=args.trials, pruner=args.pruner,
                                                     dev=list(args.dev))),
            "tuned, unpruned": measure(folder, "unpruned", SUITE.format(name="unpruned", **base)
                                       + TUNING.format(trials=args.trials, pruner="none",
                                                       dev=list(args.dev))),
        }
    print(f"4 methods, {len(args.targets)} reported targets {args.targets}, dev targets "
          f"{args.dev}, {args.epochs} epochs, {args.trials} trials per method (pruning: "
          f"{args.pruner})")
    print(f"{'comparison':<17}{'trials':>7}{'pruned':>7}{'epochs':>8}{'GMACs':>9}"
          f"{'train s':>9}{'wall s':>8}")
    for name, r in results.items():
        print(f"{name:<17}{r['trials']['trials']:>7}{int(r['trials']['pruned']):>7}"
              f"{r['epochs']:>8.0f}{r['macs'] / 1e9:>9.2f}{r['seconds']:>9.1f}{r['wall']:>8.1f}")
    untuned, pruned, unpruned = (results[k] for k in results)
    for unit in ("epochs", "macs", "seconds"):
        print(f"{unit:>8}: pruned / unpruned = {pruned[unit] / unpruned[unit]:.2f}   "
              f"pruned / untuned = {pruned[unit] / untuned[unit]:.2f}   "
              f"unpruned / untuned = {unpruned[unit] / untuned[unit]:.2f}   (goal <= 4.00)")


if __name__ == "__main__":
    main()
