"""Speed-up of the process and ray executors over serial execution of the same runs.

The same runs (TinierHAR on HAPT, subject-group fold 0, one run per seed; or ``--dataset``) go
through the ``local`` executor (serial), ``process`` with 2 workers and ``ray`` with 2 workers (a
local Ray cluster of 2 CPUs, started inside the timing), each into its own fresh store. For
each it prints the wall time, the speed-up over serial (goal on 2 cores: >= 1.9 for process,
>= 1.8 for ray), and the executor's overhead per run as a ratio to a run's own time:

    overhead per run = (wall x workers - sum of the runs' own times) / runs
    ratio            = overhead per run / mean own time of a run

where a run's own time is measured inside its worker around ``run_one`` (so process start-up,
imports, Ray's start and result transport count as overhead). ``ray-cluster`` (not measured
by default) is the ray executor joining a 2-CPU cluster that was started before the timing
(``ray start --head``, as on a cluster that is already running: ``address: auto``), so that its
figure leaves out the cost of starting and stopping a local cluster. With ``--repeat K`` the
engines are measured K times in turn (local, process, ray, local, ...) and each figure is the
median, and each speed-up the median of the rounds' own (serial and parallel of the same
round), so that a noisy moment of a shared machine does not decide a speed-up.

    python benchmarks/scaling.py [--runs 4] [--epochs 6] [--repeat 1]
                                 [--engines local,process,ray,ray-cluster]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harbench import coordinator
from harbench import events as ev

SUITE = """
name: scaling
defaults:
  {protocol}
  training: {{epochs: {epochs}, batch_size: 64, lr: 0.003, patience: 1000}}
matrix:
  datasets: [{dataset}]
  models: [tinierhar]
  methods: [full]
  seeds: {seeds}
  folds: [0]
"""
WORKERS = {"local": 1, "process": 2, "ray": 2, "ray-cluster": 2, "slurm": 2}
OPTIONS = {"slurm": {"cluster": "local", "poll_s": 0.2}, "ray-cluster": {"address": "auto"}}
GOALS = {"process": 1.9, "ray": 1.8, "ray-cluster": 1.8}


@contextlib.contextmanager
def running_cluster():
    """A 2-CPU Ray cluster on this machine for the block (``ray start --head``, ``ray stop``)."""
    ray_cli = str(Path(sys.executable).with_name("ray"))
    subprocess.run([ray_cli, "start", "--head", "--num-cpus=2", "--include-dashboard=false"],
                   check=True, capture_output=True)
    try:
        yield
    finally:
        subprocess.run([ray_cli, "stop"], check=True, capture_output=True)


def measure(engine: str, path: Path, folder: Path) -> dict[str, float]:
    """Run the suite on ``engine``; wall time and the runs' own times."""
    own: list[float] = []

    def sink(event: object) -> None:
        if isinstance(event, ev.RunFinished):
            if event.status != "ok":
                raise SystemExit(f"{engine}: run failed: {event.error}")
            own.append(event.seconds)

    with running_cluster() if engine == "ray-cluster" else contextlib.nullcontext():
        start = time.perf_counter()
        coordinator.run_suite(path, db=folder / f"{engine}.duckdb",
                              executor=engine.partition("-")[0], workers=WORKERS[engine],
                              options=OPTIONS.get(engine), sink=sink)
        wall = time.perf_counter() - start
    workers = WORKERS[engine]
    overhead = (wall * workers - sum(own)) / len(own)
    return {"wall": wall, "own": statistics.mean(own), "overhead": overhead, "workers": workers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--dataset", default="hapt_embedded")
    parser.add_argument("--engines", default="local,process,ray")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; figures are medians")
    args = parser.parse_args()
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if engines[0] != "local":
        engines.insert(0, "local")  # the serial baseline, measured in the same run
    import harbench

    harbench.load_windows(args.dataset)  # warm the window cache: every engine reads it
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "scaling.yaml"
        seeds = list(range(args.runs))
        protocol = "protocol: {name: subject_groups, groups: 10}" if "hapt" in args.dataset else ""
        path.write_text(SUITE.format(epochs=args.epochs, dataset=args.dataset, seeds=seeds,
                                     protocol=protocol))
        rounds = []
        for r in range(max(1, args.repeat)):
            stores = folder / f"round{r}"
            stores.mkdir()
            rounds.append({engine: measure(engine, path, stores) for engine in engines})
    figures = {e: {k: statistics.median(r[e][k] for r in rounds) for k in rounds[0][e]}
               for e in engines}
    # each round's speed-up against the serial run of the same round, then their median
    speedups = {e: [r["local"]["wall"] / r[e]["wall"] for r in rounds] for e in engines}
    print(f"{args.runs} runs of TinierHAR on {args.dataset}, {args.epochs} epochs each, CPU"
          + (f"; medians of {len(rounds)} rounds" if len(rounds) > 1 else ""))
    print(f"{'executor':<12} {'workers':>7} {'wall s':>8} {'speed-up':>9} {'goal':>6} "
          f"{'run s':>7} {'overhead/run s':>15} {'overhead/run time':>18}  speed-up per round")
    for engine, f in figures.items():
        speedup = statistics.median(speedups[engine])
        goal = f">={GOALS[engine]}" if engine in GOALS else ""
        each = " ".join(f"{x:.2f}" for x in speedups[engine])
        print(f"{engine:<12} {int(f['workers']):>7} {f['wall']:>8.1f} {speedup:>9.2f} {goal:>6} "
              f"{f['own']:>7.1f} {f['overhead']:>15.2f} {f['overhead'] / f['own']:>18.3f}  {each}")


if __name__ == "__main__":
    main()
