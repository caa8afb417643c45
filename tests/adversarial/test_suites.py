"""Hostile or careless suite files: each is refused by `validate`, located (file, line, key),
before anything is built or run; several independent problems are reported together."""

from __future__ import annotations

import pytest

from harbench import cli, suite
from harbench.suite import SuiteError
from tests.adversarial.conftest import TINY_SUITE


def text(name: str = "hostile", methods: str = "full") -> str:
    return TINY_SUITE.format(name=name, methods=methods, seeds="0")


def refused(tmp_path, body: str | bytes, match: str, capsys=None) -> str:
    path = tmp_path / "s.yaml"
    (path.write_bytes if isinstance(body, bytes) else path.write_text)(body)
    with pytest.raises(SuiteError, match=match) as caught:
        suite.load(path).expand()
    return str(caught.value)


def test_three_independent_errors_are_reported_at_once_with_exit_2(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text("""
name: three
defaults:
  training: {lr: -1, epocs: 5}
matrix:
  datasets: [synthetic]
  models: [tinierhar]
  methods: [ful]
""")
    assert cli.main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "3 problems" in err
    assert "line 4, key 'defaults.training.lr'" in err
    assert "key 'defaults.training.epocs'" in err and "Did you mean 'epochs'" in err
    assert "line 8, key 'matrix.methods.0'" in err and "'full'" in err
    assert "Traceback" not in err


def test_a_suite_expanding_past_the_limit_is_refused_with_the_count_and_axes(tmp_path,
                                                                             monkeypatch):
    body = text().replace("seeds: [0]", "seeds: [" + ", ".join(map(str, range(1000))) + "]")
    body = body.replace("methods: [full]", "methods: [full, linear_probe, bitfit, lora]")
    body = body.replace("folds: [0]", "folds: [0, 1, 2]")
    message = refused(tmp_path, body, "expands to 12000 runs")
    assert "methods 4 x seeds 1000" in message and "HARBENCH_MAX_RUNS" in message
    monkeypatch.setenv("HARBENCH_MAX_RUNS", "100000")
    path = tmp_path / "s.yaml"
    assert suite.load(path).name == "hostile"  # refused by the limit alone


def test_a_sweep_past_the_limit_is_refused_before_it_is_built(tmp_path):
    sweep = "[" + ", ".join(str(r) for r in range(1, 101)) + "]"
    alphas = "[" + ", ".join(str(a) for a in range(1, 102)) + "]"
    refused(tmp_path, text(methods=f"{{lora: {{r: {sweep}, alpha: {alphas}}}}}"),
            r"key 'matrix.methods.0.lora': the sweep has 10100 combinations")


def test_a_rank_beyond_the_declared_range_is_refused(tmp_path):
    body = text(methods="{lora: {r: 100000}}").replace("{tinierhar: {filters: 4, hidden: 8}}",
                                                       "convnet1d")
    refused(tmp_path, body, r"matrix.methods.0.lora.r'.*<= 4096")


def test_a_rank_no_adapted_layer_can_hold_is_refused_at_validate(tmp_path):
    body = text(methods="{lora: {r: 100}}").replace("{tinierhar: {filters: 4, hidden: 8}}",
                                                    "{convnet1d: {width: 8}}")
    message = refused(tmp_path, body, r"key 'matrix.methods.0.lora'")
    assert "r=100 exceeds every side of every layer" in message and "r <= 40" in message


@pytest.mark.parametrize("params, key", [
    ("{convnet1d: {width: 0}}", "width"),
    ("{convnet1d: {dropout: 7.5}}", "dropout"),
    ("{mae: {preset: huge}}", "preset"),
])
def test_model_parameters_out_of_range_are_refused_at_validate(tmp_path, params, key):
    body = text().replace("{tinierhar: {filters: 4, hidden: 8}}", params)
    refused(tmp_path, body, rf"matrix.models.0.\w+.{key}'")


def test_a_window_of_less_than_two_samples_is_refused_at_validate(tmp_path):
    body = text().replace("defaults:\n", "defaults:\n  window: {seconds: 0.00001}\n")
    refused(tmp_path, body, r"key 'defaults.window.seconds': a window of 1e-05 s is 1 sample")


def test_a_window_shorter_than_the_models_patch_is_refused_at_validate(tmp_path):
    body = text().replace("{tinierhar: {filters: 4, hidden: 8}}", "{mae: {patch: 500}}")
    refused(tmp_path, body, r"key 'matrix.models.0.mae'")


@pytest.mark.parametrize("name", ["\x1b[2J\x1b[Hcleared", "[/x]", "[bold]loud[/bold]",
                                  "tab\there", ""])
def test_suite_names_outside_the_safe_set_are_refused(tmp_path, name):
    if not name:  # a name taken from a file name is held to the same rule
        path = tmp_path / "[red]x.yaml"
        path.write_text(text().replace("name: hostile\n", ""))
        with pytest.raises(SuiteError, match="taken from the file name"):
            suite.load(path)
        return
    body = text().replace("name: hostile", f'name: "{name.encode("unicode_escape").decode()}"')
    message = refused(tmp_path, body, r"key 'name': suite name")
    assert "\x1b" not in message


def test_a_utf16_suite_gives_a_located_error(tmp_path):
    refused(tmp_path, text().encode("utf-16"), r"s.yaml, line 1: the file is UTF-16 text")


def test_a_binary_suite_gives_a_located_error(tmp_path):
    refused(tmp_path, b"name: x\n\x89PNG\x00\x00\x01", r"s.yaml, line 2: the file holds NUL bytes")


def test_a_latin1_suite_gives_line_and_column(tmp_path):
    body = text().replace("name: hostile", "name: caf\xe9").encode("latin-1")
    refused(tmp_path, body, r"s.yaml, line 2, column 10: byte 0xe9 is not UTF-8")


def test_deep_nesting_gives_a_located_error_not_a_recursion_error(tmp_path):
    body = text() + "description: " + "[" * 5000 + "]" * 5000 + "\n"
    refused(tmp_path, body, r"line \d+: nesting deeper than 50 levels")


@pytest.mark.parametrize("args, match", [
    (["--executor", "nosuch"], "unknown executor 'nosuch'"),
    (["--workers", "-5"], "workers"),
])
def test_dry_run_makes_every_check_run_makes(tmp_path, capsys, args, match):
    path = tmp_path / "s.yaml"
    path.write_text(text())
    assert cli.main(["run", str(path), "--dry-run", *args]) == 2
    assert match in capsys.readouterr().err


def test_problems_of_different_cells_are_reported_together(tmp_path):
    body = text(methods="{lora: {r: 100}}").replace(
        "[{tinierhar: {filters: 4, hidden: 8}}]", "[{mae: {patch: 500}}, {convnet1d: {width: 8}}]")
    message = refused(tmp_path, body, "2 problems in the suite")
    assert "key 'matrix.models.0.mae'" in message
    assert "key 'matrix.methods.0.lora': method 'lora': r=100 exceeds" in message
