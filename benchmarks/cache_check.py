"""What verifying a cache entry costs: the sha256 check of cached windows (and of a pretraining
checkpoint) against loading the same entry without the check.

A window entry of ``--windows`` windows of 128 samples x 9 channels (float32) is written to a
temporary cache; it is then loaded ``--repeats`` times without the check (memory-mapped, as a run
opens it, plus one full read of X as the run's first epoch touches it) and with the check, best
of the repeats each. The same is done for a checkpoint of ``--params`` float32 parameters (torch
save/load). Prints both times and the ratio checked / unchecked; an entry is hashed on its first
load in a process, later loads compare the files' inode, size and modification time.

    python benchmarks/cache_check.py [--windows 20000] [--params 2000000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from harbench import checksums
from harbench.data import cache
from harbench.data.windows import Windows


def best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def windows_entry(folder: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    windows = Windows(
        X=rng.standard_normal((n, 128, 9), dtype=np.float32), y=rng.integers(0, 6, n),
        subject=rng.integers(1, 30, n), recording=rng.integers(0, 90, n),
        start=np.arange(n), classes=tuple("abcdef"), channels=tuple("123456789"), rate_hz=50.0,
        dataset="bench",
    )
    cache.store(folder, windows, {"bench": n})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=20000)
    parser.add_argument("--params", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "windows" / "bench"
        windows_entry(folder, args.windows)
        size = (folder / "X.npy").stat().st_size / 2**20

        def load_plain():
            w = cache.load_cached(folder, verify=False)
            float(np.asarray(w.X).sum())  # the run reads every window in its first epoch

        def load_checked():
            checksums._SOUND.clear()  # the first load of the entry in a process: hashed
            w = cache.load_cached(folder, verify=True)
            float(np.asarray(w.X).sum())

        def load_again():  # later loads in the same process: compared by inode, size, time
            w = cache.load_cached(folder, verify=True)
            float(np.asarray(w.X).sum())

        def check_only():
            assert checksums.problems(folder, cache.FILES) == []

        load_plain()  # warm the page cache: both measure reads from memory
        plain, checked = best(load_plain, args.repeats), best(load_checked, args.repeats)
        again = best(load_again, args.repeats)
        check = best(check_only, args.repeats)
        print(f"windows entry: X.npy {size:.1f} MiB ({args.windows} windows)")
        print(f"  load (mmap + one read of X): {plain * 1000:8.1f} ms")
        print(f"  load with checksum check:    {checked * 1000:8.1f} ms  "
              f"ratio {checked / plain:.2f}")
        print(f"  again in the same process:   {again * 1000:8.1f} ms  "
              f"ratio {again / plain:.2f}")
        print(f"  the check alone:             {check * 1000:8.1f} ms "
              f"({size / check:.0f} MiB/s)")

        ckpt = Path(tmp) / "pretrain" / "bench"
        ckpt.mkdir(parents=True)
        state = {"w": torch.randn(args.params)}
        torch.save(state, ckpt / "weights.pt")
        for name in ("curves.json", "stage.json"):
            (ckpt / name).write_text("[]")
        checksums.write(ckpt, ["weights.pt", "curves.json", "stage.json"])

        def ckpt_plain():
            torch.load(ckpt / "weights.pt", map_location="cpu", weights_only=True)

        def ckpt_checked():
            checksums._SOUND.clear()
            assert checksums.problems(ckpt, ("weights.pt",)) == []
            ckpt_plain()

        ckpt_plain()
        plain_c, checked_c = best(ckpt_plain, args.repeats), best(ckpt_checked, args.repeats)
        mib = (ckpt / "weights.pt").stat().st_size / 2**20
        print(f"checkpoint: weights.pt {mib:.1f} MiB ({args.params} parameters)")
        print(f"  torch.load:                  {plain_c * 1000:8.1f} ms")
        print(f"  torch.load with check:       {checked_c * 1000:8.1f} ms  "
              f"ratio {checked_c / plain_c:.2f}")


if __name__ == "__main__":
    main()
