"""Suite parsing, expansion and located validation errors."""

from __future__ import annotations

import textwrap

import pytest

from harbench import cli, suite
from harbench.settings import TrainingSettings
from harbench.suite import SuiteError

BASE = """
name: t
defaults:
  training: {epochs: 2}
matrix:
  datasets: [synthetic]
  models: [tinierhar]
  methods: [full, {lora: {r: [4, 8, 16]}}]
  seeds: [0, 1]
  folds: [0, 2]
"""


def load(text: str) -> suite.Suite:
    return suite.loads(textwrap.dedent(text), "s.yaml")


def test_matrix_expands_sweeps_seeds_and_folds():
    specs = load(BASE).expand()
    # (full + 3 lora ranks) x 2 seeds x 2 folds
    assert len(specs) == 4 * 2 * 2
    ranks = sorted({s.method_params["r"] for s in specs if s.method == "lora"})
    assert ranks == [4, 8, 16]
    assert {s.fold for s in specs} == {0, 2}
    assert len({s.run_id for s in specs}) == len(specs)


def test_run_id_is_stable_and_ignores_suite_name_and_default_spelling():
    a = load(BASE).expand()
    b = load(BASE.replace("name: t", "name: other")).expand()
    assert [s.run_id for s in a] == [s.run_id for s in b]
    explicit = load(BASE.replace("{lora: {r: [4, 8, 16]}}", "{lora: {r: 8}}")).expand()
    plain = load(BASE.replace("{lora: {r: [4, 8, 16]}}", "lora")).expand()
    assert {s.run_id for s in explicit} == {s.run_id for s in plain}  # r=8 is lora's default


def test_exclude_and_overrides():
    text = (
        BASE
        + """
exclude:
  - {method: lora, seed: 1}
overrides:
  - when: {method: lora, method_params: {r: 16}}
    set: {training: {lr: 0.01}}
"""
    )
    specs = load(text).expand()
    assert not any(s.method == "lora" and s.seed == 1 for s in specs)
    r16 = [s for s in specs if s.method == "lora" and s.method_params["r"] == 16]
    assert r16 and all(s.training["lr"] == 0.01 for s in r16)
    others = [s for s in specs if not (s.method == "lora" and s.method_params["r"] == 16)]
    assert all(s.training["lr"] == TrainingSettings().lr for s in others)


def test_folds_default_to_every_fold_of_the_dataset_protocol():
    specs = load(BASE.replace("  folds: [0, 2]\n", "")).expand()
    assert {s.fold for s in specs} == {0, 1, 2}  # synthetic: 3 subject groups


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("models: [tinierhar]", "models: [tinierhr]"),
            "s.yaml, line 7, key 'matrix.models.0': unknown model 'tinierhr'. "
            "Did you mean 'tinierhar'",
        ),
        (
            ("{lora: {r: [4, 8, 16]}}", "{lora: {rank: 4}}"),
            "line 8, key 'matrix.methods.1.lora.rank': method 'lora' has no parameter 'rank'",
        ),
        (
            ("training: {epochs: 2}", "training: {epoch: 2}"),
            "line 4, key 'defaults.training.epoch'",
        ),
        (("folds: [0, 2]", "folds: [0, 7]"), "key 'matrix.folds': fold 7 out of range"),
        (("seeds: [0, 1]", "seeds: [zero]"), "key 'matrix.seeds': expected a list of integers"),
        (("matrix:", "matrx:"), "key 'matrx': unknown key. Did you mean 'matrix'?"),
        (("{lora: {r: [4, 8, 16]}}", "{lora: {r: four}}"), "parameter 'r'"),
    ],
)
def test_errors_name_file_line_and_key(change, expected):
    with pytest.raises(SuiteError) as info:
        load(BASE.replace(*change))
    assert expected in str(info.value)


def test_malformed_yaml_names_the_line():
    with pytest.raises(SuiteError, match=r"s.yaml, line 4: malformed YAML"):
        suite.loads("name: x\nmatrix:\n  datasets: [a\n  models: b\n", "s.yaml")


def test_yaml_tags_are_not_executed(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("name: !!python/object/apply:os.system ['echo pwned']\nmatrix: {}\n")
    with pytest.raises(SuiteError, match="malformed YAML"):
        suite.load(path)


def test_cli_validate_prints_runs_and_bad_input_exits_2(tmp_path, capsys):
    good = tmp_path / "good.yaml"
    good.write_text(BASE)
    assert cli.main(["validate", str(good)]) == 0
    assert "16 runs" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE.replace("tinierhar", "tinyhar_typo"))
    assert cli.main(["run", str(bad), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml, line 7" in err and "Traceback" not in err
    assert cli.main(["validate", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read suite" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["quick", "peft", "smoke"])
def test_shipped_suites_validate(name):
    from tests.helpers import REPO

    loaded = suite.load(REPO / "suites" / f"{name}.yaml")
    specs = loaded.expand()
    assert specs and len({s.run_id for s in specs}) == len(specs)
    if name == "quick":
        assert {s.dataset for s in specs} == {"hapt_embedded"}
        assert len({s.fold for s in specs}) >= 2 and len({s.method for s in specs}) >= 2
    if name == "peft":
        assert loaded.skip_missing_datasets and "hapt_embedded" in {s.dataset for s in specs}
        assert all(s.pretrain for s in specs if s.model == "mae")


def test_fixed_protocol_defaults_to_the_dataset_official_split():
    text = (
        BASE.replace("datasets: [synthetic]", "datasets: [uci]")
        .replace("  folds: [0, 2]\n", "")
        .replace("training: {epochs: 2}", "training: {epochs: 2}\n  protocol: {name: fixed}")
    )
    specs = load(text).expand()
    assert {s.fold for s in specs} == {0}
    assert specs[0].protocol["test_subjects"] == [2, 4, 9, 10, 12, 13, 18, 20, 24]
    with pytest.raises(SuiteError, match="dataset 'synthetic' has no official split"):
        load(
            BASE.replace("  folds: [0, 2]\n", "").replace(
                "training: {epochs: 2}", "training: {epochs: 2}\n  protocol: {name: fixed}"
            )
        )
