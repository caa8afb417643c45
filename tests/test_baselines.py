"""Issue 19 item 2: the `none` and `adabn` baselines (no gradient step) and forgetting under
subject_adaptation (source subjects held out of pretraining, scored before and after)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harbench import api, plugins, suite
from harbench.data.normalise import ZScore
from harbench.rundata import prepare
from harbench.runner import run_one
from harbench.suite.located import SuiteError
from tests.helpers import capture_supervised_subjects

TINY = """
name: unit-baselines
defaults:
  protocol: {{name: subject_adaptation, targets: [1]{protocol}}}
  training: {{epochs: 1, batch_size: 32, lr: 0.003, patience: 1}}
  pretrain: {{objective: supervised, epochs: 1, batch_size: 128, lr: 0.003, seed: {seed}}}
matrix:
  datasets: [hapt_embedded]
  models: [{{convnet1d: {{width: 8, depth: 2}}}}]
  methods: [{methods}]
  seeds: [0]
  folds: all
"""


def specs(methods: str = "none", seed: int = 3, protocol: str = "") -> dict:
    text = TINY.format(methods=methods, seed=seed, protocol=protocol)
    return {s.method: s for s in suite.loads(text).expand()}


@pytest.fixture(scope="module")
def results():
    """One tiny run of none, adabn and full on target 1 (the stage trains once)."""
    return {name: run_one(spec) for name, spec in specs("none, adabn, full").items()}


def test_none_is_the_source_model_and_forgets_nothing(results):
    got = results["none"]
    assert got.status == "ok", got.error
    m = got.metrics
    assert m["macro_f1"] == m["source_macro_f1"] and m["accuracy"] == m["source_accuracy"]
    assert m["forgetting"] == 0.0
    assert m["forget_adapted_macro_f1"] == m["forget_source_macro_f1"]
    assert m["trainable_params"] == 0 and m["epochs"] == 0 and m["adapter_bytes"] == 0
    # no fake epoch: nothing per epoch is stored, and no training curve
    assert not {"best_val_f1", "best_epoch", "epoch_seconds"} & set(m)
    assert not [r for r in got.curves if r["stage"] == "train"]
    assert got.details["bn_policy"] == "frozen"


def test_every_subject_adaptation_run_stores_forgetting(results):
    for name, got in results.items():
        assert got.status == "ok", (name, got.error)
        m = got.metrics
        assert 0 <= m["forget_source_macro_f1"] <= 1 and 0 <= m["forget_adapted_macro_f1"] <= 1
        assert m["forgetting"] == pytest.approx(
            (m["forget_source_macro_f1"] - m["forget_adapted_macro_f1"]) * 100)
        assert got.details["forget_subjects"] == [29, 30]  # the highest non-target subjects
        assert got.details["forget_rule"].startswith("the 2 highest-numbered subjects")
    # the source model is one and the same for every method of the fold
    assert len({r.metrics["forget_source_macro_f1"] for r in results.values()}) == 1
    assert results["adabn"].metrics["trainable_params"] == 0
    assert results["adabn"].metrics["epochs"] == 0 and results["full"].metrics["epochs"] == 1


def test_held_out_subjects_never_reach_pretraining_or_the_zscore(monkeypatch):
    seen = capture_supervised_subjects(monkeypatch)
    spec = specs("full", seed=11)["full"]  # a stage no other test has cached
    got = run_one(spec)
    assert got.status == "ok", got.error
    assert len(seen) == 1
    trained_on = set(seen[0].tolist())
    assert trained_on == set(range(2, 29)) == set(got.details["pretrain_subjects"])
    assert not trained_on & {1, 29, 30}
    data = prepare(spec)
    subjects = data.windows.subject
    assert set(subjects[data.held_out].tolist()) == {29, 30}
    assert not np.intersect1d(data.held_out, data.source).size
    fitted = ZScore.fit(np.asarray(data.windows.X[data.source]))
    assert np.array_equal(fitted.mean, data.norm.mean) and np.array_equal(fitted.std, data.norm.std)
    everything = ZScore.fit(np.asarray(data.windows.X[np.concatenate([data.source,
                                                                        data.held_out])]))
    assert not np.array_equal(everything.mean, data.norm.mean)


def test_forget_subjects_rule_and_zero_disables_it():
    from harbench_protocols.subject_adaptation import held_out_subjects

    every = list(range(1, 11))
    assert held_out_subjects(every, [1, 2, 3], 1, 2) == [9, 10]
    assert held_out_subjects(every, [1, 2, 10], 2, 2) == [8, 9]  # targets are not preferred
    assert held_out_subjects(every, every, 10, 2) == [8, 9]  # all targets: never the own one
    assert held_out_subjects(every, every, 3, 3) == [8, 9, 10]
    assert held_out_subjects(every, [1], 1, 0) == []
    spec = specs("full", protocol=", forget_subjects: 0")["full"]
    data = prepare(spec)
    assert len(data.held_out) == 0 and 29 in set(data.windows.subject[data.source].tolist())
    assert specs("full")["full"].protocol["forget_subjects"] == 2  # part of the run's identity
    assert plugins.get("protocols", "subject_adaptation").version == "3"


def test_forget_subjects_that_leave_no_source_are_refused_at_validate():
    with pytest.raises(SuiteError, match="forget_subjects=29 leaves no source subject"):
        specs("full", protocol=", forget_subjects: 29")
    with pytest.raises(SuiteError, match="forget_subjects"):
        specs("full", protocol=", forget_subjects: -1")


def test_adabn_statistics_are_those_of_the_adaptation_windows():
    model = api.build_model("convnet1d", channels=6, window=64, classes=5, width=8, depth=3)
    layers = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    with torch.no_grad():  # pretend pretraining left statistics of some other data
        for m in layers:
            m.running_mean.fill_(3.0)
            m.running_var.fill_(7.0)
    adapted = api.adapt(model, "adabn")
    assert not any(p.requires_grad for p in adapted.parameters())
    inputs: dict[torch.nn.Module, list[torch.Tensor]] = {m: [] for m in layers}
    hooks = [m.register_forward_pre_hook(
        lambda mod, args: inputs[mod].append(args[0].detach().clone()) if mod.training else None)
        for m in layers]
    X = torch.randn(40, 64, 6) * 2 + 1
    api.calibrate(adapted, X)
    for h in hooks:
        h.remove()
    for m in layers:
        seen = torch.cat(inputs[m])
        assert len(seen) == 40  # every adaptation window once, in one pass
        assert torch.allclose(m.running_mean, seen.mean(dim=(0, 2)), atol=1e-5)
        assert torch.allclose(m.running_var, seen.var(dim=(0, 2), unbiased=True), atol=1e-4)
        assert m.momentum == 0.1 and int(m.num_batches_tracked) == 1
        assert not torch.allclose(m.running_mean, torch.full_like(m.running_mean, 3.0))
    assert not adapted.training and not any(m.training for m in adapted.modules())
    # the adapter state is the statistics alone
    state = plugins.get("methods", "adabn").adapter_state(adapted)
    assert set(state) == {k for k in adapted.state_dict() if ".running_" in k
                          or k.endswith("num_batches_tracked")}


def test_adabn_in_batches_averages_the_batch_statistics():
    model = api.build_model("convnet1d", channels=3, window=32, classes=4, width=4, depth=1)
    adapted = api.adapt(model, "adabn", batch_size=10)
    bn = next(m for m in adapted.modules() if isinstance(m, torch.nn.BatchNorm1d))
    seen: list[torch.Tensor] = []
    bn.register_forward_pre_hook(lambda mod, args: seen.append(args[0].clone()))
    api.calibrate(adapted, torch.randn(30, 32, 3))
    assert [len(s) for s in seen] == [10, 10, 10] and int(bn.num_batches_tracked) == 3
    means = torch.stack([s.mean(dim=(0, 2)) for s in seen]).mean(dim=0)
    assert torch.allclose(bn.running_mean, means, atol=1e-5)


def test_adabn_run_passes_only_the_adaptation_windows_through_train_mode(results, monkeypatch):
    """Test and validation windows never reach a BatchNorm layer in train mode: counted over
    every forward pass of the run (the stage is cached by the fixture, so none is pretraining)."""
    spec = specs("adabn")["adabn"]
    rows = {"train_mode": 0}

    def count(module, args):
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) and module.training:
            if module is first.get("bn", module):
                first["bn"] = module
                rows["train_mode"] += len(args[0])

    first: dict[str, torch.nn.Module] = {}
    passed: list[torch.Tensor] = []
    method = plugins.get("methods", "adabn")
    real = type(method).calibrate
    monkeypatch.setattr(type(method), "calibrate",
                        lambda self, model, windows: (passed.append(windows.clone()),
                                                      real(self, model, windows))[1])
    handle = torch.nn.modules.module.register_module_forward_pre_hook(count)
    try:
        got = run_one(spec)
    finally:
        handle.remove()
    assert got.status == "ok", got.error
    data = prepare(spec)
    assert len(passed) == 1
    assert torch.equal(passed[0], torch.from_numpy(data.normalised(data.labelled)))
    # activation_bytes (a measurement after evaluation) runs one train-mode batch of training
    # windows; everything else in train mode is the calibration pass
    batch = min(spec.training["batch_size"], len(data.labelled))
    assert rows["train_mode"] == len(data.labelled) + batch
    assert got.metrics["train_windows"] == len(data.labelled)
    assert got.metrics["macro_f1"] == results["adabn"].metrics["macro_f1"]


def test_adabn_refuses_a_backbone_without_batchnorm_at_validate():
    text = TINY.format(methods="adabn", seed=3, protocol="").replace(
        "{convnet1d: {width: 8, depth: 2}}", "{deepconvlstm: {filters: 4, hidden: 8}}")
    with pytest.raises(SuiteError, match="'adabn'.*'deepconvlstm' has no BatchNorm.*'none'"):
        suite.loads(text).expand()


def test_fit_with_nothing_to_train_runs_no_epoch():
    from harbench.train import TrainConfig, fit

    model = api.adapt(api.build_model("convnet1d", channels=3, window=16, classes=2, width=4,
                                      depth=1), "none")
    X, y = torch.randn(8, 16, 3), torch.tensor([0, 1] * 4)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = fit(model, (X, y), (X, y), TrainConfig.from_dict({"epochs": 3}), n_classes=2)
    assert result.curves == [] and result.best_epoch == 0
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_a_method_must_say_whether_it_trains():
    from types import SimpleNamespace

    from harbench.contracts import HarbenchError
    from harbench.runner import check_trainable

    model = api.build_model("convnet1d", channels=3, window=16, classes=2, width=4, depth=1)
    with pytest.raises(HarbenchError, match="'none' declares trains = False but left"):
        check_trainable(SimpleNamespace(method="none"), model)
    model.requires_grad_(False)
    with pytest.raises(HarbenchError, match="'full' left no trainable parameter"):
        check_trainable(SimpleNamespace(method="full"), model)
    check_trainable(SimpleNamespace(method="adabn"), model)  # nothing trainable: as declared
