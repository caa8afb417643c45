"""Fixed cost of an executor per suite: what a worker pays before its first run, and Ray's own.

For ``process`` x2: spawning two workers and importing what a run imports (torch, the runner,
the plugins), up to the first result of a trivial task. For ``ray`` x2: starting a local
cluster of 2 CPUs (``ray.init``), the same trivial tasks, and stopping the cluster
(``ray.shutdown``), each timed apart. Prints each figure and Ray's total as a ratio to the
process executor's, measured in the same run (medians of ``--repeat`` rounds).

    python benchmarks/executor_startup.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time


def first_run_imports(_spec: object) -> int:
    """What a worker does before its first run: import the runner and the plugins."""
    import harbench.runner  # noqa: F401  (torch, peft, the metrics)
    from harbench.plugins import registry

    return len(registry().names("models"))


def process_startup() -> float:
    """Seconds until two fresh process workers have each returned the trivial task."""
    from harbench_executors.process import ProcessExecutor

    start = time.perf_counter()
    list(ProcessExecutor().map(first_run_imports, range(2), workers=2))
    return time.perf_counter() - start


def ray_startup() -> dict[str, float]:
    """Seconds to start a local 2-CPU cluster, run the two trivial tasks, and stop it."""
    import ray

    from harbench_executors.ray import _start

    t0 = time.perf_counter()
    _start(ray, None, workers=2, cpus=1.0)
    t1 = time.perf_counter()
    task = ray.remote(first_run_imports).options(num_cpus=1)
    ray.get([task.remote(i) for i in range(2)])
    t2 = time.perf_counter()
    ray.shutdown()
    t3 = time.perf_counter()
    return {"start": t1 - t0, "tasks": t2 - t1, "stop": t3 - t2, "total": t3 - t0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    process, ray = [], []
    for _ in range(max(1, args.repeat)):
        process.append(process_startup())
        ray.append(ray_startup())
    med = {k: statistics.median(r[k] for r in ray) for k in ray[0]}
    base = statistics.median(process)
    print(f"fixed cost per suite, 2 workers, medians of {len(process)} rounds")
    print(f"process: spawn + first-run imports   {base:6.2f} s")
    print(f"ray: start local cluster              {med['start']:6.2f} s")
    print(f"ray: first tasks (worker imports)     {med['tasks']:6.2f} s")
    print(f"ray: stop cluster                     {med['stop']:6.2f} s")
    print(f"ray: total                            {med['total']:6.2f} s  "
          f"({med['total'] / base:.1f}x the process executor's)")


if __name__ == "__main__":
    main()
