"""A small stored suite for the report tests: RunResults written through Store.write, no training.

Scores are drawn from a fixed generator around a per-method level so every view (leaderboard,
plots, statistics) has real groups, folds and seeds to work on.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

from harbench.runner import RunResult
from harbench.spec import RunSpec
from harbench.store import Store

CLASSES = ["walk", "upstairs", "downstairs", "sit", "stand", "lie"]
DATASETS = ("hapt_embedded", "pamap2", "mhealth")
# method name, params, F1 level, trainable params, epoch seconds, learns
METHODS = (
    ("full", {}, 0.86, 40_000, 2.0, True),
    ("linear_probe", {}, 0.70, 400, 0.8, True),
    ("lora", {"r": 2}, 0.80, 1_500, 1.0, True),
    ("lora", {"r": 8}, 0.83, 5_251, 1.1, True),
    ("bitfit", {}, 0.76, 171, 0.9, True),
)
METHOD_VERSIONS = {"lora": "2"}  # plugin versions differ between methods, as in real stores
SUITE_YAML = """name: demo
description: report test suite
compare: {reference: full, fraction: 0.95}
matrix:
  datasets: [hapt_embedded, pamap2, mhealth]
  models: [tinierhar]
  methods: [full, linear_probe, {lora: {r: 2}}, {lora: {r: 8}}, bitfit]
  folds: [0, 1]
  seeds: [0, 1]
"""


def spec_for(dataset: str, method: str, params: dict, fold: int, seed: int,
             budget: int | None = None, pretrain: dict | None = None) -> RunSpec:
    training = {"epochs": 8, "lr": 0.005, "batch_size": 64}
    if budget is not None:
        training["budget"] = {"per_class": budget}
    # as the planner stores them: each plugin's version and the raw data's fingerprint
    versions = {"dataset": "1", "model": "1", "method": METHOD_VERSIONS.get(method, "1"),
                "protocol": "subject_groups=1"}
    return RunSpec(dataset=dataset, model="tinierhar", model_params={}, method=method,
                   method_params=dict(params), protocol={"name": "subject_groups", "groups": 4},
                   fold=fold, seed=seed, window={"seconds": 2.56, "step": 1.28},
                   training=training, pretrain=pretrain, versions=versions,
                   data_fingerprint=f"fp-{dataset}")


def curve(level: float, epoch_seconds: float, learns: bool, rng: random.Random) -> list[dict]:
    rows = []
    for epoch in range(1, 9):
        f1 = level * (1 - math.exp(-epoch / 2.0)) if learns else 0.05
        rows.append({"stage": "train", "epoch": epoch, "train_loss": 1.5 / epoch,
                     "val_loss": 1.6 / epoch + rng.random() * 0.01, "val_f1": f1,
                     "lr": 0.005, "seconds": epoch_seconds})
    return rows


def confusion(level: float, rng: random.Random) -> list[list[int]]:
    k = len(CLASSES)
    return [[int(50 * level) + rng.randint(0, 5) if i == j else rng.randint(0, 4)
             for j in range(k)] for i in range(k)]


def label(method: str, params: dict) -> str:
    return method + ("(" + ",".join(f"{k}={v}" for k, v in params.items()) + ")" if params else "")


def result_for(spec: RunSpec, level: float, trainable: int, epoch_seconds: float, learns: bool,
               rng: random.Random, device: str = "cpu") -> RunResult:
    f1 = level + rng.gauss(0, 0.01) if learns else 0.05
    metrics = {"macro_f1": f1, "accuracy": f1 + 0.02, "trainable_params": trainable,
               "params": 40_000, "trainable_share": trainable / 40_000, "macs": 1_234_567,
               "fit_seconds": 8 * epoch_seconds, "peak_rss_over_start_mb": 50 + trainable / 1000,
               "best_val_f1": level}
    if spec.method == "lora":
        metrics["setup_seconds"] = 0.25
    curves = curve(level, epoch_seconds, learns, rng)
    if spec.pretrain:
        curves += [{"stage": "pretrain", "epoch": e, "train_loss": 1 / e, "val_loss": 1.1 / e,
                    "val_f1": None, "lr": 0.001, "seconds": 1.0} for e in range(1, 5)]
    return RunResult(
        run_id=spec.run_id, spec=spec.canonical(), status="ok", metrics=metrics, curves=curves,
        details={"classes": CLASSES, "per_class_f1": [f1] * len(CLASSES),
                 "confusion": confusion(level, rng)},
        started_at="2026-01-01 10:00:00", finished_at="2026-01-01 10:01:00",
        env={"harbench": "0.1.0", "torch": "2.13.0", "python": "3.12.0", "device": device,
             "host": "test"},
    )


def write_demo_store(path: Path, *, suite: str = "demo", with_yaml: bool = True) -> list[str]:
    """The demo suite: 3 datasets x 5 methods x 2 folds x 2 seeds; returns the run ids."""
    rng = random.Random(7)
    ids = []
    with Store(path) as store:
        for d_index, dataset in enumerate(DATASETS):
            for method, params, level, trainable, seconds, learns in METHODS:
                for fold in (0, 1):
                    for seed in (0, 1):
                        spec = spec_for(dataset, method, params, fold, seed,
                                        pretrain={"objective": "mae", "epochs": 4})
                        result = result_for(spec, level - 0.05 * d_index, trainable, seconds,
                                            learns, rng)
                        store.write(result, labels={"model": "tinierhar",
                                                    "method": label(method, params)})
                        ids.append(spec.run_id)
        if with_yaml:
            store.link_suite(suite, ids, yaml_text=SUITE_YAML, path="suites/demo.yaml")
        else:
            store.link_suite(suite, ids)
    return ids


_CACHE: dict[str, Path] = {}


def demo_store(tmp_path_factory) -> Path:
    """The demo store, written once per test session (read-only use)."""
    if "demo" not in _CACHE:
        path = tmp_path_factory.mktemp("report") / "demo.duckdb"
        write_demo_store(path)
        _CACHE["demo"] = path
    return _CACHE["demo"]
