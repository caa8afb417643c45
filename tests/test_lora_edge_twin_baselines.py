"""Must show (issue 19): `none` and the BN-statistics-only method run in
suites/repro/lora_edge-hapt.yaml and appear in its report rows; every run of that twin stores
`forgetting`. A cut-down copy of the twin (1 target, 1 epoch, none / adabn / full / LoRA-Edge
rank 1) runs through the real CLI into a real DuckDB file."""

from __future__ import annotations

import json

import yaml

from harbench.report.runs import load_runs
from harbench.store import Store
from tests.helpers import REPO, harbench_env, run_cli

TWIN = REPO / "suites" / "repro" / "lora_edge-hapt.yaml"
KEPT = ("none", "adabn", "full", {"lora_edge": {"rank": 1}})


def cut_down(path) -> dict:
    """The twin as written, with one target, one seed, one epoch, four methods, no tuning (the
    twin's tuning block is tested in tests/test_tuning.py) and the local executor."""
    twin = yaml.safe_load(TWIN.read_text())
    twin.pop("tuning", None)
    twin["matrix"]["seeds"] = [0]
    assert {"none", "adabn", "full"} <= {m for m in twin["matrix"]["methods"] if isinstance(m, str)}
    twin["defaults"]["protocol"]["targets"] = [1]
    twin["defaults"]["training"].update(epochs=1, patience=1)
    twin["defaults"]["pretrain"]["epochs"] = 1
    twin["matrix"]["methods"] = list(KEPT)
    twin["matrix"]["models"] = [{"convnet1d": {"width": 8, "depth": 2}}]
    for rule in twin.get("overrides", []):
        rule["when"]["method"] = [m for m in rule["when"]["method"] if m == "lora_edge"]
    twin["executor"] = {"name": "local"}
    path.write_text(yaml.safe_dump(twin, sort_keys=False))
    return twin


def test_the_twin_runs_none_and_adabn_stores_forgetting_and_reports_them(tmp_path):
    suite_file, db = tmp_path / "twin.yaml", tmp_path / "twin.duckdb"
    twin = cut_down(suite_file)
    env = harbench_env()
    done = run_cli(["run", str(suite_file), "--db", str(db)], env=env, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr

    with Store(db, read_only=True) as store:
        runs = load_runs(store, twin["name"])
        _, failed = store.query("SELECT run_id FROM runs WHERE status <> 'ok'")
    assert not failed
    assert sorted(r.method for r in runs) == ["adabn", "full", "lora_edge", "none"]
    for run in runs:
        assert {"forgetting", "forget_source_macro_f1", "forget_adapted_macro_f1",
                "source_macro_f1"} <= set(run.metrics), run.method
    by_method = {r.method: r.metrics for r in runs}
    by_id = {r.method: r.run_id for r in runs}
    assert by_method["none"]["forgetting"] == 0.0
    assert by_method["none"]["macro_f1"] == by_method["none"]["source_macro_f1"]

    board = run_cli(["leaderboard", "--db", str(db), "--format", "json"], env=env, cwd=REPO)
    assert board.returncode == 0, board.stderr
    rows = {row["method"]: row for row in json.loads(board.stdout)["rows"]}
    assert {"none", "adabn", "full"} <= set(rows)
    assert all(row["source_macro_f1"] is not None and row["forgetting"] is not None
               for row in rows.values())
    assert rows["none"]["forgetting"] == 0.0

    shown = run_cli(["show", by_id["none"], "--db", str(db)], env=env, cwd=REPO)
    assert shown.returncode == 0 and "forgetting" in shown.stdout, shown.stderr
    from harbench.report import html

    with Store(db, read_only=True) as store:
        page = html.render(store, twin["name"])
    assert "<th" in page and ">forgetting<" in page and ">source_macro_f1<" in page

    repro = run_cli(["report", "repro", "--db", str(db), "--format", "json"], env=env, cwd=REPO)
    assert repro.returncode == 0, repro.stderr
    claims = json.loads(repro.stdout)
    variants = {(c["claim"], c["variant"]) for c in claims}
    assert ("macro-F1 gap full - no adaptation (points)", "none") in variants
    assert ("macro-F1 gap full - BN statistics only (points)", "adabn") in variants
    assert ("source model macro-F1 (before adaptation)", "source model") in variants
    forgetting = {c["variant"] for c in claims if c["claim"].startswith("forgetting")}
    assert forgetting == {"none", "adabn", "full", "lora_edge(rank=1)"}
    for c in claims:
        if c["variant"] in ("none", "adabn") or c["claim"].startswith(("forgetting", "source")):
            assert c["verdict"] == "no claim" and c["published"] == "-"
            assert c["n_units"] == 1
