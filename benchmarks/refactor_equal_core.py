"""Does a restructuring of the core change any result? Run three tiny deterministic suites and
export their metrics, or compare two such exports.

    python benchmarks/refactor_equal_core.py run OUT.jsonl      # at a commit (fresh caches)
    python benchmarks/refactor_equal_core.py compare BEFORE.jsonl AFTER.jsonl

The suites cover the paths a core move can touch: supervised pretraining on source subjects then
subject adaptation (full, LoRA, LoRA-Edge), leave-one-dataset-out with a pooled MAE stage
(linear probe, LoRA), and training from scratch (TinierHAR, subject groups). Each runs with the
local executor on the CPU, in a fresh database and a fresh cache (so every pretraining stage is
trained again). ``compare`` matches runs by (suite, dataset, model, method, seed, fold, method
parameters) and requires every result metric and setting to be equal; metrics that measure the
machine (time, resident memory) are listed apart and not compared. Run ids are not a key: they
hash the data fingerprint, which may differ between two checkouts of the same files.
Prints the number of runs and metrics compared, and exits 1 on any difference.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SUITES = {
    "eq-adapt": """
name: eq-adapt
defaults:
  protocol: {name: subject_adaptation, targets: [1]}
  training: {epochs: 2, batch_size: 32, lr: 0.003, patience: 5}
  pretrain: {objective: supervised, epochs: 1, batch_size: 128, lr: 0.003}
matrix:
  datasets: [hapt_embedded]
  models: [{convnet1d: {width: 8, depth: 2}}]
  methods: [full, {lora: {r: 4}}, lora_edge]
  seeds: [0]
executor: {name: local}
""",
    "eq-lodo": """
name: eq-lodo
defaults:
  window:
    seconds: 2
    step: 1
    harmonise:
      channels: acc
      rate_hz: 25
      label_map:
        synthetic: {class0_5hz: lying, class1_5hz: walking, class3_0hz: running,
                    class5_0hz: cycling}
  protocol: {name: lodo, inner: {name: subject_groups, groups: 3}}
  training: {epochs: 1, batch_size: 64}
  pretrain: {epochs: 1, batch_size: 256}
matrix:
  datasets: [synthetic, hapt_embedded]
  models: [{mae: {dim: 16, depth: 1, heads: 2, decoder_dim: 8, decoder_depth: 1, patch: 5}}]
  methods: [linear_probe, {lora: {r: 2}}]
  folds: [0]
executor: {name: local}
""",
    "eq-scratch": """
name: eq-scratch
defaults:
  protocol: {name: subject_groups, groups: 10}
  training: {epochs: 1, batch_size: 64}
matrix:
  datasets: [hapt_embedded]
  models: [tinierhar]
  methods: [full, bitfit]
  folds: [0]
executor: {name: local}
""",
}

# metrics that measure the machine, not the result
MACHINE = ("seconds", "peak_rss", "latency", "_mb")
KEY = ("suite", "dataset", "model", "method", "seed", "fold")


def run(output: Path) -> None:
    """Run every suite into a fresh store and cache; export the runs as jsonl to ``output``."""
    harbench = [sys.executable, "-m", "harbench"]
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "HARBENCH_CACHE": str(Path(tmp) / "cache"), "HARBENCH_DEVICE": "cpu"}
        db = str(Path(tmp) / "eq.duckdb")
        for name, text in SUITES.items():
            path = Path(tmp) / f"{name}.yaml"
            path.write_text(text)
            subprocess.run([*harbench, "run", str(path), "--db", db], env=env, check=True)
        subprocess.run([*harbench, "export", "--db", db, "--format", "jsonl", "-o", str(output)],
                       env=env, check=True)


def _rows(path: Path) -> dict[tuple, dict]:
    rows = {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        params = {k: v for k, v in row.items() if k.startswith(("method_params", "model_params"))}
        key = tuple(row.get(k) for k in KEY) + (json.dumps(params, sort_keys=True),)
        rows[key] = row
    return rows


def _metric_names(row: dict) -> list[str]:
    return [k for k, v in row.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
            and k not in KEY and not k.startswith(("method_params", "model_params", "config."))]


def compare(before: Path, after: Path) -> int:
    """0 when every run of ``before`` is in ``after`` with equal result metrics, else 1."""
    old, new = _rows(before), _rows(after)
    problems = []
    if set(old) != set(new):
        problems.append(f"runs differ: only before {sorted(set(old) - set(new))}, "
                        f"only after {sorted(set(new) - set(old))}")
    compared, machine = 0, set()
    for key in sorted(set(old) & set(new), key=str):
        a, b = old[key], new[key]
        if a.get("status") != b.get("status"):
            problems.append(f"{key}: status {a.get('status')} -> {b.get('status')}")
        for name in sorted(set(_metric_names(a)) | set(_metric_names(b))):
            if "." not in name and any(part in name for part in MACHINE):
                machine.add(name)
                continue
            compared += 1
            if a.get(name) != b.get(name):
                problems.append(f"{key}: {name} {a.get(name)!r} -> {b.get(name)!r}")
    print(f"runs compared: {len(set(old) & set(new))}; result values compared: {compared}; "
          f"machine measurements not compared: {', '.join(sorted(machine))}")
    for problem in problems:
        print("DIFFERENT", problem)
    print("equal" if not problems else f"{len(problems)} differences")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "run":
        run(Path(sys.argv[2]))
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(compare(Path(sys.argv[2]), Path(sys.argv[3])))
    else:
        sys.exit(__doc__)
