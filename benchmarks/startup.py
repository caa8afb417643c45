"""How fast the CLI starts: `harbench --help`, `data list`, `plugins` vs. `python -c pass`.

    python benchmarks/startup.py [--repeat 7]

Each command runs ``--repeat`` times in a fresh process; the median wall time is printed with its
ratio to the median of ``python -c pass`` measured in the same run, and which heavy modules
(torch, peft, bitsandbytes, duckdb, numpy) the command imported (from ``python -X importtime``).
Target: each command under 0.3 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "harbench --help": ["-m", "harbench", "--help"],
    "harbench data list": ["-m", "harbench", "data", "list"],
    "harbench plugins": ["-m", "harbench", "plugins"],
}
BASELINE = ["-c", "pass"]
HEAVY = ("torch", "peft", "bitsandbytes", "tensorly", "ray", "submitit", "duckdb", "numpy")
TARGET_S = 0.3


def median_seconds(args: list[str], repeat: int, env: dict[str, str]) -> float:
    """Median wall time of ``python ARGS`` over ``repeat`` fresh processes."""
    subprocess.run([sys.executable, *args], env=env, capture_output=True, check=True)  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def heavy_imports(args: list[str], env: dict[str, str]) -> list[str]:
    """The top-level heavy packages a command imports."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *args], env=env, capture_output=True, text=True
    )
    names = set()
    for line in done.stderr.splitlines():
        if "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return [h for h in HEAVY if h in names]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs per command (median)")
    args = parser.parse_args()
    env = dict(os.environ, COLUMNS="120")
    # as on a user's machine: modules compiled once to __pycache__ and reused (some sandboxes set
    # PYTHONDONTWRITEBYTECODE, which makes every start recompile every module)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    base = median_seconds(BASELINE, args.repeat, env)
    print(f"python -c pass: {base:.3f} s (median of {args.repeat})")
    print(f"{'command':<22} {'median s':>9} {'x pass':>7} {'target':>7}  heavy imports")
    for label, command in COMMANDS.items():
        seconds = median_seconds(command, args.repeat, env)
        verdict = "ok" if seconds < TARGET_S else "SLOW"
        heavy = ", ".join(heavy_imports(command, env)) or "none"
        print(f"{label:<22} {seconds:>9.3f} {seconds / base:>7.1f} {verdict:>7}  {heavy}")


if __name__ == "__main__":
    main()
