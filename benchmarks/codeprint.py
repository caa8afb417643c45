"""What the code fingerprint costs a process, against what harbench's imports cost it.

    python benchmarks/codeprint.py [--repeat 5]

Each figure is the median over ``--repeat`` fresh processes (modules compiled to __pycache__):

- ``import harbench``: the package (light by design);
- ``import harbench.runner``: what every process that runs a suite imports (torch included);
- ``core fingerprint``: parsing and hashing harbench's result-path modules (first call);
- ``run fingerprint``: one run's fingerprint after the core's, the plugin registry already loaded
  (as in a worker), i.e. the plugin modules it adds;
- ``cached``: a second run's fingerprint in the same process (what every further run pays).

The fingerprint is computed once per process, so its cost is paid once per worker and once by
the coordinator; the ratio to ``import harbench.runner`` is the figure to watch.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

PROBE = """
import json, time
t = time.perf_counter()
import harbench
t_pkg = time.perf_counter() - t
t = time.perf_counter()
import harbench.runner
t_runner = time.perf_counter() - t
from harbench import codeprint, plugins
plugins.get("methods", "full")  # the registry, loaded as in a worker before its first run
t = time.perf_counter()
codeprint.core()
t_core = time.perf_counter() - t
spec = {"dataset": "hapt_embedded", "model": "convnet1d", "method": "lora_edge",
        "protocol": {"name": "subject_adaptation"}}
t = time.perf_counter()
codeprint.for_spec(spec)
t_run = time.perf_counter() - t
t = time.perf_counter()
codeprint.for_spec(spec)
t_cached = time.perf_counter() - t
n = len(codeprint.core_modules())
print(json.dumps({"pkg": t_pkg, "runner": t_runner, "core": t_core, "run": t_run,
                  "cached": t_cached, "modules": n}))
"""

PACKAGE_ONLY = "import time; t = time.perf_counter(); import harbench; " \
               "print(time.perf_counter() - t)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="fresh processes (median)")
    args = parser.parse_args()
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, check=True)
    samples = []
    for _ in range(args.repeat):
        done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                              text=True, check=True)
        samples.append(json.loads(done.stdout.strip().splitlines()[-1]))
    median = {k: statistics.median(s[k] for s in samples) for k in samples[0]}
    runner = median["runner"]
    print(f"median of {args.repeat} fresh processes; {int(median['modules'])} core modules")
    print(f"{'step':<26} {'seconds':>9} {'x import harbench.runner':>25}")
    for key, label in (("pkg", "import harbench"), ("runner", "import harbench.runner"),
                       ("core", "core fingerprint"), ("run", "run fingerprint (plugins)"),
                       ("cached", "cached (each further run)")):
        print(f"{label:<26} {median[key]:>9.4f} {median[key] / runner:>25.3f}")
    once = median["core"] + median["run"]
    print(f"fingerprint once per process: {once:.3f} s = {once / runner:.2f} x "
          f"import harbench.runner, {once / max(median['pkg'], 1e-9):.0f} x import harbench")


if __name__ == "__main__":
    main()
