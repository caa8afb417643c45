"""Nothing that is not finite is stored as ok: NaN logits at evaluation, NaN or inf metrics, and
raw values that overflow float32 are failures that say where they came from."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pytest

from harbench import coordinator, finite
from harbench.contracts import HarbenchError, MethodPlugin, Recording
from harbench.data import fetch
from harbench.data.parsing import check_recordings, read_numeric_table
from harbench.runner import RunResult
from harbench.store import Store
from tests.adversarial.conftest import in_process_methods, tiny_suite


class NanWhenEvaluated(MethodPlugin):
    """Trains normally; every output is NaN in eval mode (a broken BatchNorm, say)."""

    name = "nan_in_eval"
    bn_policy = "update"

    def adapt(self, model, **params):
        def poison(module, args, out):
            return out if module.training else out * float("nan")

        model.register_forward_hook(poison)
        return model


def test_a_model_that_is_nan_only_in_eval_mode_is_stored_failed(tmp_path, with_plugins):
    with_plugins(in_process_methods(NanWhenEvaluated()))
    db = tmp_path / "r.duckdb"
    summary = coordinator.run_suite(tiny_suite(tmp_path, methods="nan_in_eval"), db=db)
    assert summary.ok == 0 and summary.failed == 1
    con = duckdb.connect(str(db), read_only=True)
    status, error = con.execute("SELECT status, error FROM runs").fetchone()
    metrics = con.execute("SELECT count(*) FROM metrics").fetchone()[0]
    con.close()
    assert status == "failed" and metrics == 0
    assert "NonFiniteError" in error and "validation after epoch 1" in error


def test_nan_logits_name_the_phase():
    import torch

    with pytest.raises(finite.NonFiniteError, match=r"test evaluation: .* 1 of 3 windows"):
        finite.check_logits(torch.tensor([[0.0, 1.0], [float("inf"), 0.0], [1.0, 2.0]]),
                            "test evaluation")


def test_a_non_finite_metric_fails_the_run_naming_it():
    with pytest.raises(finite.NonFiniteError, match=r"test_loss=nan"):
        finite.check_metrics({"macro_f1": 0.5, "test_loss": float("nan")}, "stored metrics")


def test_the_store_never_marks_a_non_finite_result_ok(tmp_path):
    result = RunResult(run_id="r1", spec={"dataset": "d", "model": "m", "method": "x", "fold": 0,
                                          "seed": 0}, status="ok",
                       metrics={"macro_f1": 0.4, "test_loss": math.inf})
    with Store(tmp_path / "r.duckdb") as store:
        store.write(result)
        status, error = store.query("SELECT status, error FROM runs")[1][0]
    assert status == "failed" and "test_loss" in error


def test_a_raw_value_beyond_float32_is_a_data_error_naming_file_line_and_column(tmp_path):
    path = tmp_path / "subject1.txt"
    path.write_text("0.1 0.2 0.3\n0.1 1e39 0.3\n")
    with pytest.raises(HarbenchError, match=r"subject1.txt, line 2, column 2: value '1e39'"):
        read_numeric_table(path)


def test_numeric_table_fast_path_reports_overflow_where_it_is(tmp_path):
    from harbench_datasets.readers import numeric_table

    path = tmp_path / "acc.csv"
    path.write_text("1,2,3\n4,5,6\n7,-3e40,9\n")
    with pytest.raises(HarbenchError, match=r"acc.csv, line 3, column 2"):
        numeric_table(path, delimiter=",", columns=3)


def test_loaded_recordings_beyond_float32_are_refused_and_counted_by_verify():
    from harbench import plugins

    signals = np.zeros((10, 3))
    signals[4, 1] = 1e39
    recordings = [Recording(signals=signals, labels=np.zeros(10, dtype=int), subject=1,
                            name="subject1.csv")]
    with pytest.raises(HarbenchError, match=r"subject1.csv, sample 5, column 2"):
        check_recordings(recordings)
    stats = fetch._recording_stats(plugins.get("datasets", "synthetic"), recordings)
    assert stats["not_finite_float32"] == 1
    assert any("sample 5, column 2" in p for p in stats["problems"])


def test_hapt_raw_files_with_an_overflowing_value_fail_loading_and_verify(data_root, capsys,
                                                                         monkeypatch):
    from harbench import cli
    from harbench.data.load import load_windows
    from tests.datasets.test_hapt import LABELS, write_raw

    raw = write_raw(data_root, {(1, 1): 600, (2, 2): 300}, LABELS)
    acc = raw / "acc_exp01_user01.txt"
    lines = acc.read_text().splitlines()
    lines[9] = "0.5 1e39 2.5"
    acc.write_text("\n".join(lines) + "\n")
    with pytest.raises(HarbenchError, match=r"acc_exp01_user01.txt, line 10, column 2"):
        load_windows("hapt", use_cache=False)
    monkeypatch.setenv("COLUMNS", "300")  # the message on one line of the table
    assert cli.main(["data", "verify", "hapt"]) == 1
    out = capsys.readouterr().out
    assert "line 10, column 2" in out and "not finite in float32" in out
