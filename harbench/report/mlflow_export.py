"""``harbench export --to mlflow``: every stored run as one MLflow run, idempotently.

Each harbench run becomes an MLflow run in one experiment (default ``harbench``) carrying:
params flattened from its config (``training.lr``, ``model_params.width`` ...), its metrics,
its per-epoch curves as stepped metrics (``curve.train.val_f1`` at step = epoch), tags
``harbench.run_id``, ``dataset``, ``model``, ``method``, ``suite``, ``protocol``, ``fold``,
``seed``, ``harbench.version`` (stored with the run) and ``harbench.commit`` (the git commit of
the harbench code doing the export, when it is a checkout), and the run's saved artefacts.

Idempotent: a run whose ``harbench.run_id`` tag is already in the experiment, finished, is
skipped; one left unfinished by an interrupted export is deleted and logged again. The run's
MLflow status is FINISHED for ``ok`` and FAILED for ``failed`` (with its error as a tag).

A local folder as tracking URI is MLflow's file store, which MLflow 3 keeps behind
``MLFLOW_ALLOW_FILE_STORE=true``: it is set for a folder named explicitly on the command line.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harbench.contracts import HarbenchError

RUN_TAG = "harbench.run_id"
BATCH = 900  # below MLflow's 1000 metrics per log_batch
PARAMS_BATCH = 100  # MLflow's most params per log_batch
PARAM_LIMIT = 6000  # MLflow's longest param value


@dataclass
class Exported:
    logged: int = 0
    skipped: int = 0
    replaced: int = 0


def flatten(config: Any, prefix: str = "") -> dict[str, str]:
    """``{"training": {"lr": 0.01}}`` -> ``{"training.lr": "0.01"}`` (lists as JSON)."""
    if isinstance(config, dict):
        out: dict[str, str] = {}
        for key, value in config.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    text = json.dumps(config, default=str) if not isinstance(config, str) else config
    return {prefix[:-1]: text[:PARAM_LIMIT]}


def _client(tracking_uri: str | None):
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise HarbenchError("export --to mlflow needs the mlflow library: "
                            "pip install 'harbench[mlflow]'") from None
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or "./mlruns"
    if "://" not in uri or uri.startswith("file:"):
        folder = Path(uri.removeprefix("file://").removeprefix("file:"))
        folder.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        uri = folder.resolve().as_uri()
    return MlflowClient(tracking_uri=uri), uri


def _commit() -> str:
    """The git commit of the harbench code (empty when it is not a checkout)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def _millis(text: Any) -> int | None:
    if not text:
        return None
    when = text if isinstance(text, datetime) else datetime.fromisoformat(str(text))
    return int(when.replace(tzinfo=timezone.utc).timestamp() * 1000)


def _existing(client: Any, experiment_id: str) -> dict[str, Any]:
    """harbench run id -> the MLflow run already holding it."""
    found: dict[str, Any] = {}
    token = None
    while True:
        page = client.search_runs([experiment_id], max_results=1000, page_token=token)
        for run in page:
            key = run.data.tags.get(RUN_TAG)
            if key:
                found[key] = run
        token = page.token
        if not token:
            return found


def _rows(store: Any, suite: str | None) -> list[dict[str, Any]]:
    sql = ("SELECT run_id, dataset, model_label, method_label, protocol, fold, seed, config, "
           "status, error, started_at, finished_at, harbench_version, device FROM runs")
    params: list[Any] = []
    if suite:
        sql += " WHERE run_id IN (SELECT run_id FROM suite_runs WHERE suite = ?)"
        params.append(suite)
    columns, rows = store.query(sql + " ORDER BY run_id", params)
    return [dict(zip(columns, r)) for r in rows]


def export(store: Any, tracking_uri: str | None = None, *, experiment: str = "harbench",
           suite: str | None = None) -> tuple[Exported, str]:
    """Log every stored run (of ``suite``) not yet in ``experiment``; returns counts and URI."""
    from mlflow.entities import Metric, Param

    from harbench.artifacts.request import folder_for
    from harbench.report.runs import load_curves

    client, uri = _client(tracking_uri)
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    existing = _existing(client, experiment_id)
    rows = _rows(store, suite)
    curves = load_curves(store, [r["run_id"] for r in rows])
    commit = _commit()
    counts = Exported()
    for row in rows:
        run_id = row["run_id"]
        earlier = existing.get(run_id)
        if earlier is not None and earlier.info.status in ("FINISHED", "FAILED"):
            counts.skipped += 1
            continue
        if earlier is not None:  # an interrupted export: log it again from the start
            client.delete_run(earlier.info.run_id)
            counts.replaced += 1
        suites = [s[0] for s in store.query(
            "SELECT suite FROM suite_runs WHERE run_id = ? ORDER BY suite", [run_id])[1]]
        tags = {RUN_TAG: run_id, "dataset": row["dataset"], "model": row["model_label"],
                "method": row["method_label"], "suite": ",".join(suites),
                "protocol": row["protocol"] or "", "fold": str(row["fold"]),
                "seed": str(row["seed"]), "harbench.version": row["harbench_version"] or "",
                "device": row["device"] or ""}
        if commit:
            tags["harbench.commit"] = commit
        if row["error"]:
            tags["harbench.error"] = str(row["error"])[:5000]
        started = _millis(row["started_at"])
        run = client.create_run(experiment_id, start_time=started, tags=tags,
                                run_name=f"{row['dataset']} {row['model_label']} "
                                         f"{row['method_label']} f{row['fold']} s{row['seed']}")
        mlflow_id = run.info.run_id
        stamp = started or 0
        metrics = [Metric(name, float(value), stamp, 0) for name, value in store.query(
            "SELECT name, value FROM metrics WHERE run_id = ? ORDER BY name", [run_id])[1]
                   if value is not None]
        for point in curves.get(run_id, []):
            for key in ("train_loss", "val_loss", "val_f1", "lr", "seconds"):
                value = point.get(key)
                if value is not None:
                    metrics.append(Metric(f"curve.{point['stage']}.{key}", float(value), stamp,
                                          int(point["epoch"])))
        params = [Param(k, v) for k, v in flatten(json.loads(row["config"] or "{}")).items()]
        for i in range(0, len(metrics), BATCH):
            client.log_batch(mlflow_id, metrics=metrics[i : i + BATCH])
        for i in range(0, len(params), PARAMS_BATCH):
            client.log_batch(mlflow_id, params=params[i : i + PARAMS_BATCH])
        kept = folder_for(store.path, run_id)
        if kept.is_dir():
            client.log_artifacts(mlflow_id, str(kept), artifact_path="harbench_artifacts")
        client.log_dict(mlflow_id, json.loads(row["config"] or "{}"), "config.json")
        client.set_terminated(mlflow_id, status="FINISHED" if row["status"] == "ok" else "FAILED",
                              end_time=_millis(row["finished_at"]))
        counts.logged += 1
    return counts, uri
