"""`harbench export --to mlflow` against a local MLflow file store: one MLflow run per stored
run with params, metrics, curves, tags and artefacts; a second export adds nothing."""

from __future__ import annotations

import pytest

from harbench import cli
from harbench.store import Store

mlflow = pytest.importorskip("mlflow")


def _runs(uri: str):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("harbench")
    return client, client.search_runs([experiment.experiment_id], max_results=100)


def test_export_twice_logs_each_run_once_with_metrics_and_curves(demo_store, tmp_path, capsys,
                                                                  monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    target = tmp_path / "mlruns"
    args = ["export", "--to", "mlflow", "--tracking-uri", str(target), "--db", str(demo_store)]
    assert cli.main(args) == 0
    assert "2 run(s) logged, 0 already there" in capsys.readouterr().out
    assert cli.main(args) == 0
    assert "0 run(s) logged, 2 already there" in capsys.readouterr().out

    client, runs = _runs(target.as_uri())
    with Store(demo_store, read_only=True) as store:
        stored = {r[0]: r for r in store.query(
            "SELECT run_id, dataset, method_label, fold FROM runs")[1]}
        f1 = dict(store.query("SELECT run_id, value FROM metrics WHERE name = 'macro_f1'")[1])
        epochs = dict(store.query(
            "SELECT run_id, count(*) FROM curves WHERE stage = 'train' GROUP BY run_id")[1])
    assert sorted(r.data.tags["harbench.run_id"] for r in runs) == sorted(stored)
    for run in runs:
        run_id = run.data.tags["harbench.run_id"]
        assert run.info.status == "FINISHED"
        assert run.data.tags["dataset"] == "synthetic" and run.data.tags["suite"] == "demo"
        assert run.data.tags["method"] == stored[run_id][2]
        assert run.data.metrics["macro_f1"] == pytest.approx(f1[run_id])
        assert run.data.params["training.epochs"] == "2"
        history = client.get_metric_history(run.info.run_id, "curve.train.val_f1")
        assert sorted(m.step for m in history) == list(range(1, epochs[run_id] + 1))
        files = [a.path for a in client.list_artifacts(run.info.run_id, "harbench_artifacts")]
        assert "harbench_artifacts/merged.safetensors" in files
        assert "harbench_artifacts/model.onnx" in files


def test_an_interrupted_export_is_logged_again_not_twice(demo_store, tmp_path, monkeypatch):
    from harbench.report import mlflow_export

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri()
    with Store(demo_store, read_only=True) as store:
        first = store.query("SELECT min(run_id) FROM runs")[1][0][0]
        client, _ = mlflow_export._client(uri)
        experiment = client.create_experiment("harbench")
        client.create_run(experiment, tags={mlflow_export.RUN_TAG: first})  # left RUNNING
        counts, _ = mlflow_export.export(store, uri)
    assert (counts.logged, counts.replaced, counts.skipped) == (2, 1, 0)
    _, runs = _runs(uri)
    assert len(runs) == 2 and all(r.info.status == "FINISHED" for r in runs)
