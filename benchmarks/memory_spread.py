"""Seed-to-seed spread of the CPU memory measures on one configuration.

Runs the same configuration (HAPT, a small 1-D CNN, one method, subject-group fold 0) for two
seeds through ``harbench.runner.run_one``, one after the other in this process (as the local
executor and a process-pool worker do), and prints, per measure, each seed's value and the spread
|a - b| / mean(a, b):

- ``peak_rss_over_start_mb`` (old): the RSS high-water mark over the RSS at the run's start,
  before data and model are loaded;
- ``train_peak_heap_mb`` (new, used by the leaderboard's memory column and ``pareto --x memory``):
  the peak of the C heap's bytes in use during training over its value at the start of training
  (glibc ``mallinfo2``, sampled every millisecond);
- ``train_peak_rss_mb`` (stored beside it): the RSS high-water mark of the training phase over
  the RSS at its start, mapped files left out;
- ``mem_total_bytes`` (analytic, for reference: weights + gradients + optimiser + activations).

Target: the new measure's spread < 10%.

    python benchmarks/memory_spread.py [--method full] [--epochs 3] [--repeats 1]
"""

from __future__ import annotations

import argparse

import harbench
from harbench import runner, suite

SUITE = """
name: memory-spread
defaults:
  protocol: {{name: subject_groups, groups: 10}}
  training: {{epochs: {epochs}, batch_size: 64, lr: 0.003, patience: 1000}}
matrix:
  datasets: [hapt_embedded]
  models: [{{convnet1d: {{width: 32, depth: 4}}}}]
  methods: [{method}]
  folds: [0]
  seeds: [0, 1]
"""
MEASURES = (("peak_rss_over_start_mb", "old: RSS peak over the run's start (MB)", 1.0),
            ("train_peak_heap_mb", "new: heap peak of training over its start (MB)", 1.0),
            ("train_peak_rss_mb", "RSS peak of training over its start (MB)", 1.0),
            ("mem_total_bytes", "analytic total (MB)", 2.0 ** -20))


def spread(a: float, b: float) -> float:
    """|a - b| relative to their mean (0 when both are 0)."""
    mean = (a + b) / 2
    return abs(a - b) / mean if mean else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--method", default="full")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=1,
                        help="run the pair of seeds this many times (fresh numbers each time)")
    args = parser.parse_args(argv)
    specs = suite.loads(SUITE.format(epochs=args.epochs, method=args.method),
                        "memory_spread.yaml").expand()
    harbench.load_windows(specs[0].dataset)  # the window cache is warm for both seeds
    worst_new = 0.0
    for repeat in range(args.repeats):
        results = [runner.run_one(spec) for spec in specs]
        for result in results:
            if result.status != "ok":
                print(f"run failed: {result.error}")
                return 1
        print(f"repeat {repeat + 1}: {specs[0].short().rsplit(' seed', 1)[0]}, seeds "
              f"{', '.join(str(s.seed) for s in specs)}")
        for name, title, scale in MEASURES:
            a, b = (r.metrics.get(name) for r in results)
            if a is None or b is None:
                print(f"  {title:48s} not measured here")
                continue
            a, b = a * scale, b * scale
            s = spread(a, b)
            if name == "train_peak_heap_mb":
                worst_new = max(worst_new, s)
            print(f"  {title:48s} seed 0 {a:9.2f}  seed 1 {b:9.2f}  spread {100 * s:6.1f}%")
    print(f"new measure's worst seed-to-seed spread: {100 * worst_new:.1f}% (target < 10%)")
    return 0 if worst_new < 0.10 else 1


if __name__ == "__main__":
    raise SystemExit(main())
