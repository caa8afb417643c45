"""Seconds per training epoch of every built-in backbone: harbench vs a minimal loop vs the
authors' trainer.

Data: the HAPT windows (``hapt_embedded``), subject-group fold 0, a validation split of the
training subjects, z-scored on the training windows. For each backbone and thread count, in this
one process, one epoch (training + validation) is timed for:

- harbench: ``harbench.train.fit`` for one epoch (batch 64, float32, fast kernels);
- floor: a minimal float32 loop with the same module (shuffled index batches of 64, forward,
  backward, AdamW step; then one no-grad pass over the validation windows);
- authors (TinierHAR, TinyHAR, DeepConvLSTM only): a trainer following the authors' published
  settings: float64 model and data, batch 32, a shuffled ``torch.utils.data.DataLoader`` over a
  Dataset that slices each window out of a pandas DataFrame of samples, ``loss.item()`` every
  step, then validation through the same kind of loader;
- harbench-plain (with ``--plain``): the harbench epoch with the fast kernels switched off.

It prints seconds per epoch, the ratios harbench/authors and harbench/floor, and the largest
logit difference between the fast and the plain module on the validation windows.

    python benchmarks/epoch_speed.py                       # everything (tens of minutes)
    python benchmarks/epoch_speed.py --models tinierhar --threads 1 --windows 1500   # < 3 min
    python benchmarks/epoch_speed.py ... --clock cpu   # CPU seconds: on a machine shared by others
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

import harbench
from harbench import train
from harbench.data.normalise import ZScore
from harbench.data.protocols import make_folds, validation_split
from harbench_models._kernels import plain_kernels

MODELS = ("tinierhar", "tinyhar", "deepconvlstm", "convnet1d", "resnet1d", "mae")
AUTHORS = ("tinierhar", "tinyhar", "deepconvlstm")  # published trainers to compare against
BATCH, AUTHORS_BATCH, LR = 64, 32, 1e-3
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
CLOCK = [time.perf_counter]  # --clock cpu: process CPU seconds (steadier on a busy machine)


def load_split(limit: int | None) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Train and validation windows (z-scored float32 tensors), at most ``limit`` training ones."""
    windows = harbench.load_windows("hapt_embedded")
    fold = make_folds(windows, {"name": "subject_groups", "groups": 10})[0]
    tr, va = validation_split(windows, fold.train, 0.2, 0)
    if limit:
        rng = np.random.default_rng(0)
        tr = np.sort(rng.choice(tr, size=min(limit, len(tr)), replace=False))
        va = np.sort(rng.choice(va, size=min(max(1, limit // 4), len(va)), replace=False))
    norm = ZScore.fit(np.asarray(windows.X[tr]))
    out = {}
    for name, idx in (("train", tr), ("val", va)):
        out[name] = train.to_tensors(norm.apply(np.asarray(windows.X[idx])), windows.y[idx])
    out["classes"] = len(windows.classes)
    return out


def build(name: str, data: dict) -> nn.Module:
    X = data["train"][0]
    torch.manual_seed(0)
    return harbench.build_model(name, channels=X.shape[2], window=X.shape[1],
                                classes=data["classes"])


def harbench_epoch(model: nn.Module, data: dict) -> float:
    config = train.TrainConfig.from_dict({"epochs": 1, "batch_size": BATCH, "lr": LR})
    start = CLOCK[0]()
    train.fit(model, data["train"], data["val"], config, n_classes=data["classes"])
    return CLOCK[0]() - start


def floor_epoch(model: nn.Module, data: dict) -> float:
    """The minimal float32 loop."""
    X, y = data["train"]
    optimiser = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=1e-2)
    start = CLOCK[0]()
    model.train()
    order = torch.randperm(len(y))
    for i in range(0, len(y), BATCH):
        index = order[i : i + BATCH]
        loss = nn.functional.cross_entropy(model(X[index]), y[index])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    with torch.no_grad():
        Xv, _ = data["val"]
        for i in range(0, len(Xv), 512):
            model(Xv[i : i + 512])
    return CLOCK[0]() - start


class SampleFrame(Dataset):
    """Windows sliced out of a DataFrame of samples (one row per time step), as float64."""

    def __init__(self, X: torch.Tensor, y: torch.Tensor):
        n, steps, channels = X.shape
        self.frame = pd.DataFrame(X.reshape(n * steps, channels).double().numpy(),
                                  columns=[f"ch{c}" for c in range(channels)])
        self.frame["activity_id"] = np.repeat(y.numpy(), steps)
        self.channels = [f"ch{c}" for c in range(channels)]
        self.steps = steps

    def __len__(self) -> int:
        return len(self.frame) // self.steps

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        rows = self.frame.iloc[i * self.steps : (i + 1) * self.steps]
        x = torch.tensor(rows[self.channels].values, dtype=torch.float64)
        return x, torch.tensor(int(rows["activity_id"].iloc[-1]))


def authors_epoch(model: nn.Module, data: dict) -> float:
    """The trainer written from the authors' published settings (float64, batch 32, DataLoader
    over a DataFrame-backed Dataset, per-step loss.item())."""
    model = model.double()
    train_loader = DataLoader(SampleFrame(*data["train"]), batch_size=AUTHORS_BATCH, shuffle=True)
    val_loader = DataLoader(SampleFrame(*data["val"]), batch_size=AUTHORS_BATCH, shuffle=False)
    optimiser = torch.optim.Adam(model.parameters(), lr=LR)
    criterion = nn.CrossEntropyLoss()
    start = CLOCK[0]()
    model.train()
    losses = []
    for xb, yb in train_loader:
        optimiser.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        val_losses = [criterion(model(xb), yb).item() for xb, yb in val_loader]
    del losses, val_losses
    return CLOCK[0]() - start


def logit_difference(model: nn.Module, data: dict) -> float:
    """Largest |fast - plain| logit over the validation windows (eval mode)."""
    X = data["val"][0]
    model.eval()
    with torch.no_grad():
        fast = model(X)
        with plain_kernels():
            plain = model(X)
    return (fast - plain).abs().max().item()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--windows", type=int, default=None,
                        help="at most this many training windows (validation: a quarter)")
    parser.add_argument("--repeats", type=int, default=1, help="best of n epochs per trainer")
    parser.add_argument("--plain", action="store_true",
                        help="also time the harbench epoch with the fast kernels off")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="wall seconds, or the process's CPU seconds (all threads)")
    parser.add_argument("--no-authors", action="store_true", help="skip the authors' trainer")
    args = parser.parse_args(argv)
    CLOCK[0] = CLOCKS[args.clock]
    data = load_split(args.windows)
    print(f"HAPT windows: {len(data['train'][1])} train, {len(data['val'][1])} validation; "
          f"{args.clock} seconds per epoch (training + validation), best of {args.repeats}")
    header = (f"{'model':<13}{'thr':>4}{'harbench':>10}{'plain':>9}{'floor':>9}{'authors':>9}"
              f"{'hb/authors':>12}{'hb/floor':>10}{'max|dlogit|':>13}")
    print(header)
    for name in args.models:
        diff = logit_difference(build(name, data), data)
        for threads in args.threads:
            torch.set_num_threads(threads)
            base = build(name, data)
            trainers = {"harbench": harbench_epoch, "floor": floor_epoch}
            if name in AUTHORS and not args.no_authors:
                trainers["authors"] = authors_epoch
            warm_up(name, data, trainers)
            seconds: dict[str, float] = {}
            for _ in range(args.repeats):  # alternate the trainers, keep each one's best
                for key, epoch in trainers.items():
                    took = epoch(copy.deepcopy(base), data)
                    seconds[key] = min(seconds.get(key, took), took)
                if args.plain:
                    with plain_kernels():
                        took = harbench_epoch(copy.deepcopy(base), data)
                    seconds["plain"] = min(seconds.get("plain", took), took)
            hb = seconds["harbench"]
            ratio_authors = f"{hb / seconds['authors']:.3f}" if "authors" in seconds else "-"
            print(f"{name:<13}{threads:>4}{cell(seconds, 'harbench', 10)}"
                  f"{cell(seconds, 'plain')}{cell(seconds, 'floor')}{cell(seconds, 'authors')}"
                  f"{ratio_authors:>12}{hb / seconds['floor']:>10.3f}{diff:>13.2e}", flush=True)


def cell(seconds: dict[str, float], key: str, width: int = 9) -> str:
    return f"{seconds[key]:>{width}.2f}" if key in seconds else f"{'-':>{width}}"


def warm_up(name: str, data: dict, trainers: dict) -> None:
    """One untimed epoch of every trainer on a few windows (first-call costs: imports, caches)."""
    small = {key: (data[key][0][:64], data[key][1][:64]) for key in ("train", "val")}
    small["classes"] = data["classes"]
    for epoch in trainers.values():
        epoch(build(name, small), small)


if __name__ == "__main__":
    main()
