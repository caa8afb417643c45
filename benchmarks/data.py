"""How long HAPT windows take: decoding, cold windowing (after decoding) and the warm cache.

    python benchmarks/data.py [--repeat 5]

Uses the embedded HAPT (``hapt_embedded``) and a temporary cache folder. Targets on 2 cores:
cold windowing under 2 s, a cached load under 0.3 s.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from harbench import load_windows, plugins
from harbench.data.load import window_samples
from harbench.data.windows import make_windows

DATASET = "hapt_embedded"
COLD_TARGET_S = 2.0
CACHED_TARGET_S = 0.3


def best_of(repeat: int, fn):
    """(smallest wall time in seconds, last result) of ``repeat`` calls."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timings keep the best of this many")
    args = parser.parse_args()

    plugin = plugins.get("datasets", DATASET)
    win, hop = window_samples(plugin, None, None)

    start = time.perf_counter()
    recordings = plugin.load(Path("."))
    decode_s = time.perf_counter() - start

    def cold():
        return make_windows(
            recordings,
            window=win,
            step=hop,
            classes=tuple(plugin.classes),
            channels=tuple(c.name for c in plugin.channels),
            rate_hz=float(plugin.rate_hz),
            dataset=plugin.name,
        )

    cold_s, windows = best_of(args.repeat, cold)

    with tempfile.TemporaryDirectory(prefix="harbench-bench-") as cache_dir:
        load_windows(DATASET, cache_dir=cache_dir)  # fills the cache (decodes once more)
        cached_s, cached = best_of(args.repeat, lambda: load_windows(DATASET, cache_dir=cache_dir))
        read_s, total = best_of(
            args.repeat,
            lambda: float(np.asarray(load_windows(DATASET, cache_dir=cache_dir).X).sum()),
        )
        if not (
            np.array_equal(np.asarray(cached.X), windows.X) and np.array_equal(cached.y, windows.y)
        ):
            raise SystemExit("cached windows differ from freshly made ones")

    mb = windows.X.nbytes / 1e6
    print(
        f"{DATASET}: {len(recordings)} recordings -> {len(windows)} windows "
        f"{tuple(windows.X.shape)} ({mb:.0f} MB), window {win} step {hop}; "
        f"{os.cpu_count()} CPUs; best of {args.repeat}"
    )
    print(f"  decoding (restricted unpickler)      {decode_s:8.3f} s   (reported separately)")
    print(
        f"  cold: windows from decoded signals   {cold_s:8.3f} s   target < {COLD_TARGET_S} s "
        f"{'ok' if cold_s < COLD_TARGET_S else 'MISSED'}"
    )
    print(
        f"  cached: load_windows (memory-mapped) {cached_s:8.3f} s   target < "
        f"{CACHED_TARGET_S} s {'ok' if cached_s < CACHED_TARGET_S else 'MISSED'}"
    )
    print(f"  cached + read every sample of X      {read_s:8.3f} s   (checksum {total:.1f})")
    print(f"  ratio cold / cached                  {cold_s / cached_s:8.1f}x")
    print(f"  ratio (decode + cold) / cached       {(decode_s + cold_s) / cached_s:8.1f}x")


if __name__ == "__main__":
    main()
