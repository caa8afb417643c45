"""Text from the store or a suite is printed as text: rich markup in names, YAML and query results
is shown as written, and control characters (ANSI escapes, carriage returns) are shown escaped,
never sent to the user's terminal."""

from __future__ import annotations

import dataclasses
import io
import random

import pytest
from rich.console import Console

from harbench.cli import main
from harbench.report import terminal
from harbench.report.terminal import escaped, shown
from harbench.store import Store
from tests.report_store import demo_store, result_for, spec_for

ESC = "\x1b"
CLEAR = "\x1b[2J"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_store(tmp_path_factory)


@pytest.fixture
def terminal_out(monkeypatch):
    """Commands print on a 120-column terminal (colours off) whose text the test reads."""
    buffer = io.StringIO()
    monkeypatch.setattr(terminal, "console", lambda **_: Console(
        file=buffer, force_terminal=True, width=120, color_system=None))
    return buffer


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A store whose names, suite and error carry markup and ANSI escapes."""
    db = tmp_path_factory.mktemp("hostile") / "hostile.duckdb"
    rng = random.Random(3)
    ids = []
    with Store(db) as store:
        for fold in (0, 1):
            spec = spec_for("pamap2", "lora", {"r": 8}, fold, 0)
            store.write(result_for(spec, 0.8, 5_251, 1.0, True, rng),
                        labels={"model": f"{CLEAR}red[bold]", "method": "[/x]"})
            ids.append(spec.run_id)
        spec = spec_for("pamap2", "full", {}, 0, 0)
        failed = dataclasses.replace(result_for(spec, 0.8, 40_000, 1.0, True, rng),
                                     status="failed", metrics={},
                                     error=f"[/oops] boom{CLEAR}\rhidden")
        store.write(failed, labels={"model": "tinierhar", "method": "full"})
        ids.append(spec.run_id)
        store.link_suite("[/x]", ids, yaml_text=f"name: '[/x]'\n# {CLEAR}\n", path="x.yaml")
    return db, ids


def test_shown_writes_control_characters_as_escapes():
    assert shown(f"a{CLEAR}b\r\x07\u202ec\td\ne") == "a\\x1b[2Jb\\x0d\\x07\\u202ec\\td\ne"
    assert shown("a\r\nb", newlines=False) == "a\\nb" and shown("a\r\nb") == "a\nb"
    buffer = io.StringIO()
    Console(file=buffer, width=80).print(f"[bold]{escaped('[/x] [red]')}[/]")
    assert buffer.getvalue() == "[/x] [red]\n"


def test_query_prints_closing_tag_as_text(demo, capsys):
    assert main(["query", "SELECT '[/oops]'", "--db", str(demo)]) == 0  # piped: TSV
    assert capsys.readouterr().out.splitlines()[1] == "[/oops]"


def test_query_table_prints_closing_tag_as_text(demo, terminal_out):
    assert main(["query", "SELECT '[/oops]' AS x", "--db", str(demo)]) == 0  # a terminal
    assert "│ [/oops] │" in terminal_out.getvalue()


def test_query_keeps_the_brackets_of_stored_yaml(demo, capsys, terminal_out):
    assert main(["query", "SELECT yaml FROM suites", "--db", str(demo), "--format", "tsv"]) == 0
    assert "datasets: [hapt_embedded, pamap2, mhealth]" in capsys.readouterr().out
    assert main(["query", "SELECT yaml FROM suites", "--db", str(demo), "--format",
                 "table"]) == 0
    text = terminal_out.getvalue()
    assert "[hapt_embedded, pamap2, mhealth]" in text and "models: [tinierhar]" in text


@pytest.mark.parametrize("fmt", ["tsv", "csv", "table"])
def test_query_shows_ansi_escapes_escaped(demo, capsys, terminal_out, fmt):
    sql = "SELECT chr(27) || '[2Jgone' AS x, 'a' || chr(13) || 'b' AS y"
    assert main(["query", sql, "--db", str(demo), "--format", fmt]) == 0
    text = capsys.readouterr().out + terminal_out.getvalue()
    assert ESC not in text and "\r" not in text
    assert "\\x1b[2Jgone" in text and "a\\x0db" in text


def test_hostile_names_in_the_store_are_printed_as_written_on_a_terminal(hostile, capsys,
                                                                         terminal_out):
    db, ids = hostile
    assert main(["leaderboard", "--db", str(db), "--suite", "[/x]", "--by",
                 "dataset,model,method,fold"]) == 0
    assert main(["show", ids[2], "--db", str(db)]) == 0
    text = terminal_out.getvalue()
    assert ESC not in text and "\r" not in text
    assert "(suite [/x])" in text and "\\x1b[2Jred[bold]" in text and "│ [/x]" in text
    assert "1 failed run(s)" in text and "[/oops] boom\\x1b[2J\\x0dhidden" in text


def test_hostile_names_in_the_store_are_printed_as_written_when_piped(hostile, capsys):
    db, ids = hostile
    assert main(["leaderboard", "--db", str(db), "--suite", "[/x]"]) == 0
    assert main(["show", ids[0], "--db", str(db)]) == 0
    assert main(["query", "SELECT yaml FROM suites", "--db", str(db)]) == 0
    text = capsys.readouterr().out
    assert ESC not in text and "(suite [/x])" in text and "\\x1b[2Jred[bold]" in text
    assert "name: '[/x]'\\n# \\x1b[2J\\n" in text.splitlines()
    assert main(["leaderboard", "--db", str(db), "--suite", "[/x]", "--format", "json"]) == 0
    assert '"model": "\\u001b[2Jred[bold]"' in capsys.readouterr().out  # JSON escapes it


def test_error_messages_show_control_characters_escaped(capsys, tmp_path):
    assert main(["validate", str(tmp_path / f"{CLEAR}x.yaml")]) == 2
    err = capsys.readouterr().err
    assert ESC not in err and "\\x1b[2Jx.yaml" in err
    with pytest.raises(SystemExit):
        main(["leaderboard", f"--x{CLEAR}"])
    err = capsys.readouterr().err
    assert ESC not in err and "\\x1b[2J" in err


SUITE = """name: {name}
defaults:
  training: {{epochs: 1, batch_size: 32, patience: 1}}
matrix:
  datasets: [synthetic]
  models: [{{tinierhar: {{filters: 4, hidden: 8}}}}]
  methods: [full]
  seeds: [0]
  folds: [0]
"""


@pytest.mark.parametrize("name, title", [('"[/x]"', "[/x]"), ('"\\e[2Jevil"', "\\x1b[2Jevil"),
                                         ('"[bold]x[/bold]"', "[bold]x[/bold]")])
def test_a_suite_named_with_markup_or_escapes_never_crashes_validate(tmp_path, capsys, name,
                                                                     title):
    suite = tmp_path / "s.yaml"
    suite.write_text(SUITE.format(name=name))
    for argv in (["validate", str(suite)], ["run", str(suite), "--dry-run"]):
        code = main(argv)  # a MarkupError would escape main as an exception
        captured = capsys.readouterr()
        text = captured.out + captured.err
        assert code in (0, 2) and ESC not in text  # shown, or refused by name at validate
        if code == 0:
            assert f"{title}: 1 runs" in captured.out


def test_running_a_suite_named_with_markup_stores_its_run(tmp_path, capsys):
    suite = tmp_path / "s.yaml"
    suite.write_text(SUITE.format(name='"[/x]"'))
    db = tmp_path / "x.duckdb"
    code = main(["run", str(suite), "--db", str(db)])
    out = capsys.readouterr().out
    assert code in (0, 2)  # run and shown as written, or refused by name before any run
    if code == 0:
        assert "[/x]: 1 ok, 0 failed" in out and "(suite [/x])" in out
        with Store(db, read_only=True) as store:
            assert store.query("SELECT status FROM runs")[1] == [("ok",)]


def test_warnings_show_control_characters_escaped():
    import warnings

    from harbench.cli import _escape_warnings

    _escape_warnings()
    text = warnings.formatwarning(f"plugin {CLEAR}bad failed", UserWarning, "x.py", 1, "")
    assert ESC not in text and "plugin \\x1b[2Jbad failed" in text


def test_progress_lines_print_hostile_names_and_errors_as_text():
    from harbench import events as ev
    from harbench.commands.progress import ProgressView

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100, color_system=None)
    with ProgressView(console) as view:
        view(ev.SuiteStarted("[/x]", 2, 2, 0, 1, "local", 1, "/tmp/[/db]"))
        view(ev.DatasetSkipped("[/d]", f"missing {CLEAR}"))
        view(ev.StageStarted("k", "[/stage]"))
        view(ev.StageFinished("k", "[/stage]", "failed", 1.0, "[/e]"))
        view(ev.RunStarted("r1", f"{CLEAR}[/run]", 3))
        view(ev.RunFinished("r1", f"{CLEAR}[/run]", "failed", None, 1.0, "[bold]boom", 1, 2))
        view(ev.RunStarted("r2", "[red]ok", 3))
        view(ev.RunFinished("r2", "[red]ok", "ok", 0.5, 1.0, "", 2, 2))
    text = out.getvalue()
    for expected in ("[/x]: 2 to run", "/tmp/[/db]", "skipping dataset [/d]: missing \\x1b[2J",
                     "stage FAILED [/stage]: [/e]", "FAILED \\x1b[2J[/run]: [bold]boom",
                     "[2/2] ok     [red]ok  macro-F1 0.500"):
        assert expected in text, expected
    assert CLEAR not in text
