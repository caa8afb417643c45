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


# ---- bad values refused before any run, as a user meets them: `harbench validate FILE` --------

USER_SUITE = """\
name: user
defaults:
  training:
    epochs: 2
    lr: 1e-3
matrix:
  datasets: [synthetic]
  models: [tinierhar]
  methods:
    - full
    - lora: {r: 4}
  seeds: [0]
  folds: [0]
"""


def validate(tmp_path, capsys, text: str) -> tuple[int, str]:
    """Write ``text`` as a suite file, run `harbench validate` on it: (exit code, stderr)."""
    path = tmp_path / "user.yaml"
    path.write_text(text)
    code = cli.main(["validate", str(path)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, " ".join(err.split())  # the message is wrapped to the terminal


def test_yaml_1_2_numbers_lr_1e_3_is_a_float(tmp_path, capsys):
    code, _ = validate(tmp_path, capsys, USER_SUITE)
    assert code == 0
    specs = suite.load(tmp_path / "user.yaml").expand()
    assert {s.training["lr"] for s in specs} == {0.001}


@pytest.mark.parametrize(
    ("old", "new", "line", "key", "text"),
    [
        ("    lr: 1e-3", "    lr: -1", 5, "defaults.training.lr", "expected float > 0, got -1"),
        ("    lr: 1e-3", "    lr_factor: 5", 5, "defaults.training.lr_factor", "> 0 and < 1"),
        ("    lr: 1e-3", "    val_fraction: 1.5", 5, "defaults.training.val_fraction", "< 1"),
        (
            "    lr: 1e-3",
            "    budget: {per_class: 0}",
            5,
            "defaults.training.budget.per_class",
            "expected int >= 1",
        ),
        ("    lr: 1e-3", "    epochz: 3", 5, "defaults.training.epochz", "Did you mean 'epochs'"),
        (
            "  seeds: [0]",
            "  seeds: [0, 2147483648]",
            12,
            "matrix.seeds.1",
            "outside the stored range",
        ),
        ("    - lora: {r: 4}", "    - lora: {r: 0}", 11, "matrix.methods.1.lora.r", ">= 1"),
        (
            "    - lora: {r: 4}",
            "    - lora: {r: [4, 0]}",
            11,
            "matrix.methods.1.lora.r.1",
            "expected int >= 1 and <= 4096, got 0",
        ),
        (
            "matrix:",
            "  window: {seconds: -2}\nmatrix:",
            6,
            "defaults.window.seconds",
            "expected float > 0",
        ),
        (
            "matrix:",
            "  pretrain: {seed: 2147483648}\nmatrix:",
            6,
            "defaults.pretrain.seed",
            "< 2147483648",
        ),
        (
            "matrix:",
            "  protocol: {name: subject_groups, groups: 7}\nmatrix:",
            6,
            "defaults.protocol",
            "groups 7 exceeds the 6 subjects of dataset 'synthetic'",
        ),
        (
            "matrix:",
            "  protocol: {name: subject_groups, groups: 1}\nmatrix:",
            6,
            "defaults.protocol.groups",
            "expected int >= 2",
        ),
        (
            "matrix:",
            "  protocol: {name: lsoo}\nmatrix:",
            6,
            "defaults.protocol.name",
            "unknown protocol 'lsoo'. Did you mean 'loso'",
        ),
        (
            "  folds: [0]",
            "  folds: [0]\nexecutor: {name: process, workers: -4}",
            14,
            "executor.workers",
            "expected int >= 1, got -4",
        ),
        (
            "  folds: [0]",
            "  folds: [0]\nexecutor: {name: procss}",
            14,
            "executor.name",
            "Did you mean 'process'",
        ),
        (
            "  folds: [0]",
            "  folds: [0]\nexclude:\n  - {model: tinyerhar}",
            15,
            "exclude.0.model",
            "unknown model 'tinyerhar'. Did you mean 'tinierhar'",
        ),
        (
            "  folds: [0]",
            "  folds: [0]\nexclude:\n  - {model: tinyhar}",
            15,
            "exclude.0.model",
            "model 'tinyhar' is not in matrix.models",
        ),
        (
            "  folds: [0]",
            "  folds: [0]\noverrides:\n  - when: {method: [full, lroa]}\n    set: {}",
            15,
            "overrides.0.when.method.1",
            "Did you mean 'lora'",
        ),
        (
            "  folds: [0]",
            "  folds: [0]\noverrides:\n  - when: {method_params: {rank: 4}}\n    set: {}",
            15,
            "overrides.0.when.method_params.rank",
            "has a parameter 'rank'",
        ),
        (
            "  folds: [0]",
            "  folds: [0]\noverrides:\n  - when: {method: lora}\n    set: {training: {lr: -1}}",
            16,
            "overrides.0.set.training.lr",
            "expected float > 0",
        ),
        (
            "  folds: [0]",
            "  folds: [0]\ncompare: {reference: lora, fraction: 1.5}",
            14,
            "compare.fraction",
            "expected float > 0 and <= 1",
        ),
        (
            "  folds: [0]",
            "  folds: [0]\ncompare: {reference: dora}",
            14,
            "compare.reference",
            "reference method 'dora' is not in matrix.methods",
        ),
        (
            "  datasets: [synthetic]",
            "  datasets: [{synthetic: {subjects: [1, 2, 9]}}]",
            7,
            "matrix.datasets.0.synthetic.subjects",
            "[9] are not subjects of dataset 'synthetic'",
        ),
        (
            "name: user",
            "name: user\nskip_missing_datasets: yes",
            2,
            "skip_missing_datasets",
            "expected true or false, got 'yes'",
        ),
    ],
)
def test_bad_values_exit_2_at_validate_with_file_line_and_full_key(
    tmp_path, capsys, old, new, line, key, text
):
    assert old in USER_SUITE
    code, err = validate(tmp_path, capsys, USER_SUITE.replace(old, new))
    assert code == 2
    assert f"user.yaml, line {line}, key '{key}':" in err
    assert text in err


def test_an_override_that_breaks_a_method_is_located_at_the_override(tmp_path, capsys):
    text = USER_SUITE + "overrides:\n  - when: {method: lora}\n    set: {method: {r: 0}}\n"
    code, err = validate(tmp_path, capsys, text)
    assert code == 2 and "line 16, key 'overrides.0.set.method.r'" in err and ">= 1" in err


def test_duplicate_keys_are_refused_naming_both_lines(tmp_path, capsys):
    text = USER_SUITE.replace("    lr: 1e-3\n", "    lr: 1e-3\n    epochs: 5\n")
    code, err = validate(tmp_path, capsys, text)
    assert code == 2
    assert "line 6, key 'defaults.training.epochs'" in err
    assert "duplicate key 'epochs' (first at line 4, again at line 6)" in err


def test_an_alias_bomb_is_refused_quickly(tmp_path, capsys):
    levels = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdefgh", "bcdefghi"):
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    code, err = validate(tmp_path, capsys, "\n".join(levels) + "\n" + USER_SUITE)
    assert code == 2 and "alias" in err and "user.yaml, line" in err


def test_many_alias_uses_are_refused(tmp_path, capsys):
    uses = "".join("  - *s\n" for _ in range(101))
    code, err = validate(tmp_path, capsys, "x: &s 1\ny:\n" + uses + USER_SUITE)
    assert code == 2 and "more than 100 alias uses" in err


# ---- model/method compatibility at validate (issue 13) ----------------------------------------


@pytest.mark.parametrize(
    ("model", "method", "text"),
    [
        (
            "{mae: {dim: 16, depth: 1, heads: 2}}",
            "lora_edge",
            "method 'lora_edge' adapts conv layers and backbone 'mae' declares no conv layer",
        ),
        (
            "convnet1d",
            "ia3",
            "method 'ia3' adapts linear layers and backbone 'convnet1d' declares no linear layer",
        ),
        (
            "resnet1d",
            "{vera: {r: 4}}",
            "method 'vera' adapts linear layers and backbone 'resnet1d'",
        ),
    ],
)
def test_incompatible_model_and_method_fail_at_validate(tmp_path, capsys, model, method, text):
    suite_text = USER_SUITE.replace("  models: [tinierhar]", f"  models: [{model}]").replace(
        "    - lora: {r: 4}", f"    - {method}"
    )
    code, err = validate(tmp_path, capsys, suite_text)
    assert code == 2
    assert "user.yaml, line 11, key 'matrix.methods.1" in err and text in err


def test_compatible_pairs_and_explicit_targets_pass():
    text = USER_SUITE.replace("  models: [tinierhar]", "  models: [convnet1d, tinierhar]")
    text = text.replace("    - lora: {r: 4}", "    - lora_edge\n    - {lora: {r: 4}}")
    specs = load(text).expand()
    pairs = {(s.model, s.method) for s in specs}
    assert pairs >= {("convnet1d", "lora_edge"), ("tinierhar", "lora")}
    explicit = USER_SUITE.replace("  models: [tinierhar]", "  models: [convnet1d]").replace(
        "    - lora: {r: 4}", "    - {ia3: {targets: [conv1]}}"
    )
    assert load(explicit).expand()  # named modules: the method checks them when it adapts


# ---- plan, identity, subsets, compare -----------------------------------------------------------


def test_expand_builds_the_plan_lazily_once(monkeypatch):
    calls = []
    real = suite.plan.expand

    def counting(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(suite.plan, "expand", counting)
    loaded = load(BASE)
    assert calls == []
    first = loaded.expand()
    assert loaded.expand() is first and loaded.specs is first and calls == [1]


def test_identity_includes_plugin_versions_and_the_data_fingerprint(monkeypatch):
    from harbench import plugins

    spec = load(BASE).expand()[0]
    canonical = spec.canonical()
    assert canonical["versions"] == {
        "dataset": plugins.get("datasets", "synthetic").loader_version,
        "model": plugins.get("models", "tinierhar").version,
        "method": plugins.get("methods", spec.method).version,
        "protocol": "subject_groups=" + plugins.get("protocols", "subject_groups").version,
    }
    assert canonical["data_fingerprint"]
    method = plugins.get("methods", spec.method)
    monkeypatch.setattr(type(method), "version", method.version + ".changed")
    again = load(BASE).expand()[0]
    assert (again.method, again.fold, again.seed) == (spec.method, spec.fold, spec.seed)
    assert again.run_id != spec.run_id


def test_a_dataset_restricted_to_some_subjects():
    text = USER_SUITE.replace(
        "  datasets: [synthetic]", "  datasets: [{synthetic: {subjects: [4, 1, 2]}}]"
    ).replace("  folds: [0]\n", "").replace("matrix:", "  protocol: {name: loso}\nmatrix:")
    specs = load(text).expand()
    assert {s.fold for s in specs} == {0, 1, 2}  # loso over the 3 listed subjects
    assert all(s.dataset_params == {"subjects": [1, 2, 4]} for s in specs)
    assert specs[0].subjects == [1, 2, 4]
    too_many = text.replace("{name: loso}", "{name: subject_groups, groups: 4}")
    with pytest.raises(SuiteError, match="groups 4 exceeds the 3 subjects"):
        load(too_many)


def test_subject_adaptation_makes_one_fold_per_target():
    text = USER_SUITE.replace("  folds: [0]\n", "").replace(
        "matrix:", "  protocol: {name: subject_adaptation, targets: [2, 5]}\nmatrix:"
    )
    specs = load(text).expand()
    assert {s.fold for s in specs} == {0, 1}
    assert specs[0].protocol == {"name": "subject_adaptation", "targets": [2, 5],
                                 "adapt_fraction": 0.5, "min_per_class": 2,
                                 "forget_subjects": 2}


def test_compare_is_parsed_with_its_defaults():
    plain = load(USER_SUITE + "compare: {reference: full}\n")
    assert plain.compare == {"reference": "full", "fraction": 0.95}
    absolute = load(USER_SUITE + "compare: {f1: 0.8}\n")
    assert absolute.compare == {"reference": "full", "f1": 0.8}
    assert load(USER_SUITE).compare is None
    with pytest.raises(SuiteError, match="either fraction"):
        load(USER_SUITE + "compare: {fraction: 0.9, f1: 0.8}\n")


def test_training_settings_in_a_spec_are_complete_and_typed():
    spec = load(USER_SUITE).expand()[0]
    assert spec.training == {**TrainingSettings(epochs=2, lr=1e-3).to_dict()}
    assert spec.training["bn_policy"] == "update" and spec.training["precision"] == "fp32"


def test_pretraining_seed_follows_the_run_unless_set():
    text = USER_SUITE.replace("matrix:", "  pretrain: {objective: supervised}\nmatrix:")
    stage = load(text).expand()[0].pretrain
    assert stage["objective"] == "supervised" and "seed" not in stage
    fixed = load(text.replace("{objective: supervised}", "{objective: supervised, seed: 3}"))
    assert fixed.expand()[0].pretrain["seed"] == 3


def test_an_override_may_change_the_protocol_of_some_cells():
    text = USER_SUITE.replace("  folds: [0]\n", "") + (
        "overrides:\n  - when: {method: lora}\n    set: {protocol: {groups: 2}}\n"
    )
    specs = load(text).expand()
    full = sorted(s.fold for s in specs if s.method == "full")
    lora = sorted(s.fold for s in specs if s.method == "lora")
    assert full == [0, 1, 2] and lora == [0, 1]  # folds: all follows each cell's protocol
    assert {s.protocol["groups"] for s in specs if s.method == "lora"} == {2}
    with pytest.raises(SuiteError, match=r"line 15, key 'overrides.0.set.protocol'.*groups 9"):
        load(text.replace("groups: 2", "groups: 9")).expand()
    listed = USER_SUITE.replace("  folds: [0]", "  folds: [2]") + (
        "overrides:\n  - when: {method: lora}\n    set: {protocol: {groups: 2}}\n"
    )
    with pytest.raises(SuiteError, match="'overrides.0.set.protocol.groups'.*fold 2 does not"):
        load(listed).expand()


def test_yaml_1_2_scalars():
    from harbench import yamlsafe

    data = yamlsafe.load(
        "a: 1e-3\nb: 0o17\nc: 017\nd: 0x1F\ne: yes\nf: 2026-01-01\ng: .5\nh: ~\ni: true\n"
        "base: &b {x: 1}\nmerged: {<<: *b, y: 2}\n"
    ).data
    assert data["a"] == 0.001 and isinstance(data["a"], float)
    assert (data["b"], data["c"], data["d"]) == (15, 17, 31)  # 017 is decimal in YAML 1.2
    assert (data["e"], data["f"], data["g"], data["h"], data["i"]) == (
        "yes", "2026-01-01", 0.5, None, True
    )
    assert data["merged"] == {"x": 1, "y": 2}
    with pytest.raises(yamlsafe.YamlError, match="recursive document"):
        yamlsafe.load("a: &a [1, *a]\n")


def _shipped_suites() -> list[str]:
    from tests.helpers import REPO

    return sorted(str(p.relative_to(REPO)) for p in (REPO / "suites").rglob("*.yaml"))


@pytest.mark.parametrize("relative", _shipped_suites())
def test_every_shipped_suite_validates_with_distinct_runs(relative):
    from tests.helpers import REPO

    specs = suite.load(REPO / relative).expand()
    assert specs and len({s.run_id for s in specs}) == len(specs)


def test_a_budget_sweep_makes_one_run_per_budget_and_refuses_a_bad_one(tmp_path):
    text = """
name: budgets
defaults:
  protocol: {name: subject_groups, groups: 10}
  training: {epochs: 1}
matrix:
  datasets: [hapt_embedded]
  models: [tinierhar]
  methods: [full]
  budgets: [{fraction: 0.01}, {per_class: 5}, null]
  folds: [0]
"""
    specs = suite.loads(text, tmp_path / "b.yaml").expand()
    assert [s.training["budget"] for s in specs] == [{"fraction": 0.01}, {"per_class": 5}, None]
    assert len({s.run_id for s in specs}) == 3
    with pytest.raises(SuiteError, match=r"line 10, key .matrix\.budgets\.1."):
        suite.loads(text.replace("{per_class: 5}", "{per_class: 0}"), tmp_path / "b.yaml")
