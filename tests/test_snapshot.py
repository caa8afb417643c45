"""Snapshots: a folder of parquet tables that rebuilds the store behind a report, checked first.

The committed snapshot under results/ is re-checked too: the rows of results/REPRODUCTION.md are
recomputed from it and must match the file row for row.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from harbench import snapshot
from harbench.cli import main
from harbench.contracts import HarbenchError
from harbench.report.reproduction import markdown, reproduction
from harbench.store import Store
from tests.test_reproduction_rows import write_lora_edge

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ROOT / "results" / "REPRODUCTION.md"
PUBLISHED_SNAPSHOT = ROOT / "results" / "repro-runs"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    base = tmp_path_factory.mktemp("snap")
    db = base / "store.duckdb"
    write_lora_edge(db, folds=range(5), seeds=(0, 1))
    write_lora_edge(db, folds=range(2), seeds=(0,), suite="other-suite")
    folder = base / "snapshot"
    with Store(db, read_only=True) as store:
        manifest = snapshot.write(store, ["repro-lora-edge-hapt"], folder)
    return db, folder, manifest


def _rows(store: Store) -> list[dict]:
    return [{k: v for k, v in vars(r).items() if k != "values"} for r in reproduction(store)]


def test_a_snapshot_rebuilds_the_rows_of_its_suites(exported, tmp_path):
    db, folder, manifest = exported
    assert manifest["suites"] == ["repro-lora-edge-hapt"]
    assert manifest["tables"]["runs"]["rows"] == 5 * 5 * 2  # full + 4 variants, 5 folds, 2 seeds
    with Store(db, read_only=True) as original:
        wanted = [r for r in _rows(original) if r["suite"] == "repro-lora-edge-hapt"]
    with snapshot.load(folder, tmp_path / "copy.duckdb") as copy:
        assert _rows(copy) == wanted
        _, suites = copy.query("SELECT DISTINCT suite FROM suite_runs")
    assert suites == [("repro-lora-edge-hapt",)]  # the other suite stayed out


def test_harbench_import_rebuilds_a_store_and_never_overwrites_one(exported, tmp_path, capsys):
    db, folder, _ = exported
    target = tmp_path / "imported.duckdb"
    assert main(["import", str(folder), "--db", str(target)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "loaded 50 runs of repro-lora-edge-hapt into" in out
    with Store(db, read_only=True) as original, Store(target, read_only=True) as imported:
        assert _rows(imported) == [r for r in _rows(original)
                                   if r["suite"] == "repro-lora-edge-hapt"]
    before = target.read_bytes()
    assert main(["import", str(folder), "--db", str(target)]) == 2  # exists: refused
    assert "exists; a snapshot loads into a new store" in capsys.readouterr().err
    assert target.read_bytes() == before  # nothing stored is lost
    damaged = tmp_path / "damaged"
    shutil.copytree(folder, damaged)
    with (damaged / "metrics.parquet").open("ab") as handle:
        handle.write(b"\0")
    assert main(["import", str(damaged), "--db", str(tmp_path / "other.duckdb")]) == 2
    assert "metrics.parquet" in capsys.readouterr().err
    assert not (tmp_path / "other.duckdb").exists()  # checked before anything is created


def test_report_repro_from_a_snapshot_says_where_its_rows_come_from(exported, tmp_path):
    _, folder, _ = exported
    out = tmp_path / "REPRO.md"
    assert main(["report", "repro", "--from", str(folder), "-o", str(out)]) == 0
    text = out.read_text()
    assert "## Where these rows come from" in text
    assert f"--from {folder}" in text and "(50 runs)" in text
    assert "| repro-lora-edge-hapt | 50 | 0 | 0 |" in text
    # papers whose twins the snapshot lacks say so instead of vanishing
    assert "No run of a `repro-tinierhar*` suite is in this store" in text


@pytest.mark.parametrize("damage", ["edit", "delete", "manifest"])
def test_a_damaged_snapshot_is_refused_naming_the_file(exported, tmp_path, damage):
    _, folder, _ = exported
    copy = tmp_path / "snap"
    shutil.copytree(folder, copy)
    if damage == "edit":
        data = bytearray((copy / "metrics.parquet").read_bytes())
        data[len(data) // 2] ^= 0xFF
        (copy / "metrics.parquet").write_bytes(bytes(data))
        wanted = "metrics.parquet: sha256 does not match"
    elif damage == "delete":
        (copy / "curves.parquet").unlink()
        wanted = "curves.parquet: missing"
    else:
        (copy / "manifest.json").write_text("{not json")
        wanted = "unreadable snapshot manifest"
    with pytest.raises(HarbenchError, match=re.escape(wanted)):
        snapshot.load(copy, tmp_path / "x.duckdb")
    assert not (tmp_path / "x.duckdb").exists()


def test_a_snapshot_of_an_unknown_suite_names_the_stored_ones(exported, tmp_path):
    db, _, _ = exported
    with Store(db, read_only=True) as store, pytest.raises(HarbenchError, match="other-suite"):
        snapshot.write(store, ["nosuch"], tmp_path / "s")


def _table_rows(markdown_text: str) -> list[str]:
    """The claim rows of a reproduction markdown (the provenance table aside)."""
    body = markdown_text.split("## Where these rows come from")[-1]
    return [line for line in body.splitlines()
            if line.startswith("| repro-") and line.count("|") > 10]


def test_the_published_reproduction_table_is_recomputed_from_its_snapshot(tmp_path):
    """Every row of results/REPRODUCTION.md comes back, identical, from results/repro-runs."""
    text = PUBLISHED.read_text(encoding="utf-8")
    assert "--from results/repro-runs" in text, "REPRODUCTION.md must be generated from a snapshot"
    manifest = json.loads((PUBLISHED_SNAPSHOT / "manifest.json").read_text())
    assert manifest["tables"]["runs"]["rows"] > 0
    with snapshot.load(PUBLISHED_SNAPSHOT, tmp_path / "s.duckdb") as store:
        rows = reproduction(store)
    recomputed = _table_rows(markdown(rows))
    assert recomputed and recomputed == _table_rows(text)
