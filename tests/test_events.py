"""Events are plain data; the CLI renders them; the Python API prints nothing without a sink."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

import harbench
from harbench import events as ev
from harbench.commands.progress import ProgressView, eta_seconds
from harbench.commands.run import executor_options
from harbench.contracts import HarbenchError

EXAMPLES = [
    ev.SuiteStarted("s", 6, 4, 2, 1, "process", 2, "r.duckdb"),
    ev.DatasetSkipped("pamap2", "not present in /data/pamap2"),
    ev.StageStarted("k1", "mae pretraining of mae for hapt", at=1.0),
    ev.StageFinished("k1", "mae pretraining of mae for hapt", "ok", 12.5),
    ev.RunStarted("r1", "hapt tinierhar full fold 0 seed 0", 12, at=2.0),
    ev.EpochEnded("r1", 3, 0.41, 0.73, 9.5),
    ev.RunFinished("r1", "hapt tinierhar full fold 0 seed 0", "ok", 0.8125, 30.0, "", 1, 4),
    ev.SuiteFinished("s", 4, 0, 2, 120.0),
]


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: type(e).__name__)
def test_every_event_survives_a_json_round_trip(event):
    assert ev.from_dict(json.loads(json.dumps(ev.to_dict(event)))) == event


def test_unknown_event_kinds_and_fields_are_refused():
    with pytest.raises(ValueError, match="unknown event kind"):
        ev.from_dict({"kind": "Exploded"})
    with pytest.raises(ValueError, match="no fields"):
        ev.from_dict({**ev.to_dict(EXAMPLES[1]), "colour": "red"})


def test_eta_extrapolates_from_the_runs_finished_so_far():
    assert eta_seconds(60.0, 2, 6) == pytest.approx(120.0)
    assert eta_seconds(60.0, 6, 6) == 0
    assert eta_seconds(0.0, 0, 6) is None


def test_the_view_shows_runs_in_flight_and_prints_one_line_per_finished_run():
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None)
    with ProgressView(console) as view:
        for event in EXAMPLES[:6]:
            view(event)
        in_flight = {t.description: t for t in view.progress.tasks}
        run = in_flight["hapt tinierhar full fold 0 seed 0"]
        assert (run.completed, run.total) == (3, 12)
        assert run.fields["info"] == "loss 0.410 val F1 0.730"
        view(EXAMPLES[6])
        view(ev.RunFinished("r2", "hapt tinierhar lora fold 0 seed 0", "failed", None, 1.0,
                            "HarbenchError: boom", 2, 4))
        suite_bar = next(t for t in view.progress.tasks if t.description == "suite")
        assert suite_bar.completed == 2 and "ETA" in suite_bar.fields["info"]
        assert "1 failed" in suite_bar.fields["info"]
        assert [t.description for t in view.progress.tasks] == ["suite"]  # nothing left in flight
    text = out.getvalue()
    assert "s: 4 to run, 2 already stored, 1 pretraining stage(s), executor process x2" in text
    assert "skipping dataset pamap2: not present in /data/pamap2" in text
    assert "stage ok     mae pretraining of mae for hapt (12 s)" in text
    assert "[1/4] ok     hapt tinierhar full fold 0 seed 0  macro-F1 0.812" in text
    assert "[2/4] FAILED hapt tinierhar lora fold 0 seed 0: HarbenchError: boom" in text


def test_executor_options_from_the_command_line_are_read_as_yaml_scalars():
    assert executor_options(["partition=gpu", "timeout_min=240", "gpus=0.5", "address="]) == {
        "partition": "gpu", "timeout_min": 240, "gpus": 0.5, "address": None
    }
    with pytest.raises(HarbenchError, match="KEY=VALUE"):
        executor_options(["partition"])


def test_the_python_api_prints_nothing_without_a_sink_and_everything_with_one(tmp_path, capfd):
    path = tmp_path / "quiet.yaml"
    path.write_text(
        "name: quiet\n"
        "defaults: {training: {epochs: 1, batch_size: 64}}\n"
        "matrix: {datasets: [synthetic], models: [{tinierhar: {filters: 4, hidden: 8}}],\n"
        "         methods: [full], folds: [0]}\n"
    )
    summary = harbench.run_suite(path, db=tmp_path / "q.duckdb")
    assert summary.ok == 1
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    seen: list = []
    harbench.run_suite(path, db=tmp_path / "q.duckdb", rerun=True, sink=seen.append)
    kinds = [type(e).__name__ for e in seen]
    assert kinds == ["SuiteStarted", "RunStarted", "EpochEnded", "RunFinished", "SuiteFinished"]
    assert capfd.readouterr() == ("", "")
