"""Saved artefacts of a run: they reload (peft adapter, merged model, ONNX) and give the logits
the run saved; the ``artifacts`` block is checked; the store lists and exports them."""

from __future__ import annotations

import json

import pytest
from sklearn.metrics import f1_score

from harbench import cli, coordinator, suite
from harbench.artifacts import rebuild
from harbench.artifacts.request import ENV, folder_for
from harbench.store import Store
from tests.deploy.conftest import DEMO

SUITE = DEMO  # the shared demo suite (conftest): LoRA and LoRA-Edge, every artefact kept


@pytest.fixture(scope="module")
def kept(demo_store):
    """The demo's LoRA and LoRA-Edge runs, their configs, metrics and artefact folders."""
    db = demo_store
    with Store(db, read_only=True) as store:
        rows = store.query("SELECT run_id, method, config FROM runs ORDER BY method")[1]
        metrics = {r[0]: dict(store.query("SELECT name, value FROM metrics WHERE run_id = ?",
                                          [r[0]])[1]) for r in rows}
    runs = {method: {"id": run_id, "config": json.loads(config), "metrics": metrics[run_id],
                     "folder": folder_for(db, run_id)} for run_id, method, config in rows}
    return db, runs


@pytest.mark.parametrize("method", ["lora", "lora_edge"])
def test_saved_models_reload_to_the_stored_runs_test_logits(kept, method):
    _, runs = kept
    run = runs[method]
    X, y = rebuild.test_data(run["config"])
    saved = rebuild.stored_logits(run["folder"])
    # the saved logits are the run's: they give the macro-F1 the store holds
    predicted = saved["adapted"].argmax(1).numpy()
    stored_f1 = run["metrics"]["macro_f1"]
    assert f1_score(y.numpy(), predicted, average="macro",
                    labels=sorted(set(y.tolist()))) == pytest.approx(stored_f1, abs=1e-9)
    merged = rebuild.logits(rebuild.load_merged(run["folder"]), X)
    assert (merged - saved["merged"]).abs().max() < 1e-5
    assert (saved["merged"] - saved["adapted"]).abs().max() < 1e-4  # merging keeps the model
    if method == "lora":
        from peft import PeftModel

        adapted = rebuild.load_adapted(run["folder"])
        assert isinstance(adapted, PeftModel)
        assert (rebuild.logits(adapted, X) - saved["adapted"]).abs().max() < 1e-5
        config = json.loads((run["folder"] / "adapter" / "adapter_config.json").read_text())
        assert config["peft_type"] == "LORA" and config["r"] == 2
    else:  # LoRA-Edge is not a peft method: its fused model is what deploys
        assert not (run["folder"] / "adapter").exists()


def test_onnx_of_each_run_matches_and_is_timed(kept):
    from harbench.artifacts.onnx_export import onnx_logits

    _, runs = kept
    for run in runs.values():
        X, _ = rebuild.test_data(run["config"])
        saved = rebuild.stored_logits(run["folder"])
        onnx = onnx_logits(run["folder"] / "model.onnx", X)
        assert abs(onnx - saved["merged"].numpy()).max() < 1e-4
        m = run["metrics"]
        assert 0 < m["onnx_latency_ms"] <= m["onnx_latency_p95_ms"]
        assert m["onnx_bytes"] == (run["folder"] / "model.onnx").stat().st_size


def test_show_lists_the_artefacts_and_says_why_some_are_missing(kept, capsys):
    db, runs = kept
    assert cli.main(["show", runs["lora_edge"]["id"], "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "merged.safetensors" in out and "model.onnx" in out
    assert "not saved: adapter" in out and "not a peft method" in out
    assert "energy cpu" in out  # readable RAPL gives joules; otherwise the reason is printed
    assert cli.main(["show", runs["lora"]["id"], "--db", str(db), "--format", "json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert "adapter/adapter_model.safetensors" in record["artifacts"]["files"]


def test_export_model_copies_the_folder_and_checks_it(kept, tmp_path, capsys):
    db, runs = kept
    out = tmp_path / "exported"
    code = cli.main(["export-model", runs["lora"]["id"][:8], "-o", str(out), "--db", str(db),
                     "--check"])
    assert code == 0
    printed = capsys.readouterr().out
    assert (out / "adapter" / "adapter_config.json").is_file()
    assert (out / "merged.safetensors").is_file() and (out / "model.onnx").is_file()
    for name in ("merged", "adapter", "onnx"):
        line = next(x for x in printed.splitlines() if x.startswith(name + ":"))
        assert float(line.rsplit(" ", 1)[1]) < 1e-4


def test_a_run_stored_without_artefacts_says_how_to_get_them(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    path = tmp_path / "plain.yaml"
    path.write_text(SUITE.replace("  artifacts: {adapter: true, merged: true, onnx: true}\n", "")
                    .replace("[{lora: {r: 2}}, lora_edge]", "[full]"))
    db = tmp_path / "r" / "h.duckdb"
    assert coordinator.run_suite(path, db=db).ok == 1
    with Store(db, read_only=True) as store:
        run_id = store.query("SELECT run_id FROM runs")[1][0][0]
    assert not folder_for(db, run_id).exists()
    assert cli.main(["export-model", run_id, "-o", str(tmp_path / "x"), "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert "no saved artefacts" in err and "--save-artifacts" in err


@pytest.mark.parametrize("block, expected", [
    ("{adapter: yes}", "defaults.artifacts"),  # YAML 1.2: 'yes' is text, not true
    ("{onx: true}", "onnx"),  # did-you-mean
    ("[adapter]", "defaults.artifacts"),
])
def test_a_bad_artifacts_block_is_refused_with_its_key(block, expected):
    text = SUITE.replace("{adapter: true, merged: true, onnx: true}", block)
    with pytest.raises(suite.SuiteError) as info:
        suite.loads(text, "bad.yaml")
    assert expected in str(info.value) and "bad.yaml" in str(info.value)


def test_artifacts_are_not_part_of_a_runs_identity():
    with_block = suite.loads(SUITE).expand()
    without = suite.loads(SUITE.replace(
        "  artifacts: {adapter: true, merged: true, onnx: true}\n", "")).expand()
    assert [s.run_id for s in with_block] == [s.run_id for s in without]


def test_a_damaged_weights_file_is_a_clear_error(kept, tmp_path):
    import shutil

    from harbench.contracts import HarbenchError

    _, runs = kept
    copy = tmp_path / "copy"
    shutil.copytree(runs["lora"]["folder"], copy)
    (copy / "merged.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(HarbenchError, match="merged.safetensors"):
        rebuild.load_merged(copy)


def test_the_leaderboard_shows_onnx_latency(kept, capsys):
    db, runs = kept
    assert cli.main(["leaderboard", "--db", str(db), "--metric", "onnx_latency_ms",
                     "--format", "json"]) == 0
    board = json.loads(capsys.readouterr().out)
    values = {row["method"]: row["onnx_latency_ms"] for row in board["rows"]}
    assert set(values) == {"lora(r=2)", "lora_edge"}
    assert values["lora_edge"] == pytest.approx(runs["lora_edge"]["metrics"]["onnx_latency_ms"])


def test_a_garbled_artefact_request_is_a_clear_error(monkeypatch):
    from harbench.artifacts.request import current
    from harbench.contracts import HarbenchError

    monkeypatch.setenv(ENV, '{"root": "/tmp/x", "onnx": "maybe"}')
    with pytest.raises(HarbenchError, match=ENV):
        current()


def test_an_empty_defaults_block_asks_for_no_artefacts():
    loaded = suite.loads("name: x\ndefaults:\nmatrix: {datasets: [synthetic], models: "
                         "[convnet1d], methods: [full]}\n")
    assert loaded.artifacts == {}
