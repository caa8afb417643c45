"""harbench's overhead over a minimal hand-written PyTorch loop.

The same model (TinierHAR), data (HAPT, subject-group fold 0, z-scored on the training subjects)
and epochs are trained once through ``harbench.runner.run_one`` (the whole run: windows from the
cache, folds, normalisation, counting, training with per-epoch validation, test evaluation and
merge) and once by a hand-written loop doing the same training, per-epoch validation and final
test evaluation. Both run in this process, alternated, best of ``--repeats``. Target ratio <= 1.05.

    python benchmarks/overhead.py [--epochs 4] [--repeats 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn

import harbench
from harbench import runner, suite
from harbench.data.normalise import ZScore
from harbench.data.protocols import make_folds, validation_split

SUITE = """
name: overhead
defaults:
  protocol: {{name: subject_groups, groups: 10}}
  training: {{epochs: {epochs}, batch_size: 64, lr: 0.003, patience: 1000}}
matrix:
  datasets: [hapt_embedded]
  models: [tinierhar]
  methods: [full]
  folds: [0]
"""


def hand_written(spec: suite.RunSpec) -> float:
    """The minimal loop: returns its wall time in seconds."""
    start = time.perf_counter()
    torch.manual_seed(spec.seed)
    w = harbench.load_windows(spec.dataset)
    fold = make_folds(w, spec.protocol)[spec.fold]
    train, val = validation_split(w, fold.train, 0.2, spec.seed)
    norm = ZScore.fit(np.asarray(w.X[train]))
    tensors = {
        name: (torch.from_numpy(norm.apply(np.asarray(w.X[idx]))), torch.from_numpy(w.y[idx]))
        for name, idx in (("train", train), ("val", val), ("test", fold.test))
    }
    model = harbench.build_model("tinierhar", channels=6, window=200, classes=12)
    optimiser = torch.optim.AdamW(model.parameters(), lr=spec.training["lr"], weight_decay=1e-2)
    X, y = tensors["train"]
    generator = torch.Generator().manual_seed(spec.seed)
    for _ in range(spec.training["epochs"]):
        model.train()
        order = torch.randperm(len(y), generator=generator)
        for i in range(0, len(y), 64):
            index = order[i : i + 64]
            loss = nn.functional.cross_entropy(model(X[index]), y[index])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        model.eval()
        with torch.no_grad():
            Xv, yv = tensors["val"]
            model(Xv).argmax(1).eq(yv).float().mean()
    with torch.no_grad():
        Xt, yt = tensors["test"]
        model(Xt).argmax(1).eq(yt).float().mean()
    return time.perf_counter() - start


def through_harbench(spec: suite.RunSpec) -> float:
    start = time.perf_counter()
    result = runner.run_one(spec)
    if result.status != "ok":
        raise SystemExit(f"harbench run failed: {result.error}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(runner.run_threads())  # the same threads on both sides
    spec = suite.loads(SUITE.format(epochs=args.epochs), "overhead.yaml").expand()[0]
    harbench.load_windows(spec.dataset)  # warm the window cache for both sides
    hand, ours = [], []
    for _ in range(args.repeats):
        hand.append(hand_written(spec))
        ours.append(through_harbench(spec))
    print(f"device: cpu, torch threads: {torch.get_num_threads()}, epochs: {args.epochs}")
    print(f"hand-written loop: {min(hand):.2f} s (runs: {', '.join(f'{t:.2f}' for t in hand)})")
    print(f"through harbench:  {min(ours):.2f} s (runs: {', '.join(f'{t:.2f}' for t in ours)})")
    print(f"ratio harbench / hand-written: {min(ours) / min(hand):.3f} (target <= 1.05)")


if __name__ == "__main__":
    main()
