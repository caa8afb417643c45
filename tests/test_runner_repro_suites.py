"""The reproduction suites (suites/repro/) validate; each CPU twin stays on data this machine has:
the embedded HAPT data, and for the LODO twin the real raw subsets of ../shared/data/real."""

from __future__ import annotations

import pytest

from harbench import suite
from tests.helpers import REPO

PAPERS = {
    "lora_qlora_mae": "repro-lora-qlora-mae",
    "lora_edge": "repro-lora-edge",
    "tinierhar": "repro-tinierhar",
}


@pytest.mark.parametrize("stem", sorted(PAPERS))
def test_each_paper_has_a_suite_and_a_cpu_twin_that_validate(stem):
    full = suite.load(REPO / "suites" / "repro" / f"{stem}.yaml")
    twin = suite.load(REPO / "suites" / "repro" / f"{stem}-hapt.yaml")
    assert full.name == PAPERS[stem] and twin.name == PAPERS[stem] + "-hapt"
    header = (REPO / "suites" / "repro" / f"{stem}.yaml").read_text().split("\nname:")[0]
    for part in ("Claim:", "Published setup", "Choices harbench made"):
        assert part in header, (stem, part)
    full_specs, twin_specs = full.expand(), twin.expand()
    assert len(twin_specs) < len(full_specs)
    local = {"hapt_embedded"} | ({"dsads", "motionsense"} if stem == "lora_qlora_mae" else set())
    assert {s.dataset for s in twin_specs} == local
    assert len({s.run_id for s in twin_specs}) == len(twin_specs)


def test_lora_qlora_suite_is_leave_one_dataset_out_with_mae_pretraining():
    specs = suite.load(REPO / "suites" / "repro" / "lora_qlora_mae.yaml").expand()
    assert len({s.dataset for s in specs}) == 5
    assert all(s.protocol.get("name") == "lodo" or s.protocol.get("scheme") == "lodo"
               for s in specs)
    assert all(s.pretrain["objective"] == "mae" and s.dataset not in s.pretrain["datasets"]
               for s in specs)
    ranks = {s.method_params["r"] for s in specs if s.method == "lora"}
    assert ranks == {1, 2, 4, 8, 16, 32}
    assert {s.method_params["r"] for s in specs if s.method == "qlora"} == {4, 8, 16}
    assert {s.seed for s in specs} == {0, 1, 2}


def test_lora_edge_suites_adapt_a_supervised_source_model_to_each_person():
    for name in ("lora_edge.yaml", "lora_edge-hapt.yaml"):
        loaded = suite.load(REPO / "suites" / "repro" / name)
        specs = loaded.expand()
        assert all(s.protocol["name"] == "subject_adaptation" for s in specs)
        assert all(s.pretrain["objective"] == "supervised" for s in specs)
        edge = [s.method_params for s in specs if s.method == "lora_edge"]
        assert any(p["train_all_cores"] for p in edge) and any(not p["fuse"] for p in edge)
        assert any(p["init"] == "random" for p in edge)
        assert loaded.compare == {"reference": "full", "fraction": 0.95}


def test_the_mae_twin_holds_out_each_real_dataset_with_only_the_people_on_disk():
    """The LODO twin pools MotionSense people 1-3 (the real files in ../shared/data/real) when
    another dataset is held out, not all 24, and reads DSADS and MotionSense raw files only."""
    specs = suite.load(REPO / "suites" / "repro" / "lora_qlora_mae-hapt.yaml").expand()
    by_held_out = {s.dataset: s for s in specs}
    assert by_held_out["motionsense"].subjects == [1, 2, 3]
    for held_out in ("hapt_embedded", "dsads"):
        stage = by_held_out[held_out].pretrain
        assert held_out not in stage["datasets"] and "motionsense" in stage["datasets"]
        assert stage["dataset_subjects"] == {"motionsense": [1, 2, 3]}
    assert "dataset_subjects" not in by_held_out["motionsense"].pretrain
    assert {s.method_params.get("r") for s in specs if s.method == "lora"} == {2, 8, 32}
    assert {s.seed for s in specs} == {0, 1, 2}
