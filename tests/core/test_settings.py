"""Typed settings: one declaration per value (default, range, doc), checked where it is read."""

from __future__ import annotations

import dataclasses

import pytest

from harbench import settings, train
from harbench.contracts import HarbenchError
from harbench.settings import (
    ExecutorSettings,
    Param,
    ParamError,
    PretrainSettings,
    TrainingSettings,
    WindowSettings,
)


def test_every_setting_has_a_doc_line_and_a_default_its_own_range_accepts():
    for cls in settings.SETTINGS.values():
        for name, param in cls.params().items():
            assert param.doc and "\n" not in param.doc, f"{cls.__name__}.{name} lacks a doc line"
            assert param.check(param.default) == param.default
        assert cls.from_dict({}) == cls()


def test_training_defaults_and_new_fields():
    t = TrainingSettings()
    assert (t.epochs, t.lr, t.monitor, t.budget) == (30, 1e-3, "val_f1", None)
    assert t.precision == "fp32" and t.bn_policy == "update"


def test_train_config_is_the_typed_training_settings_and_refuses_unknown_keys():
    assert train.TrainConfig is TrainingSettings
    config = train.TrainConfig.from_dict({"epochs": 3, "lr": 0.01})
    assert (config.epochs, config.lr, config.batch_size) == (3, 0.01, 64)
    with pytest.raises(ParamError, match="no parameter 'epochz'.*Did you mean 'epochs'") as info:
        train.TrainConfig.from_dict({"epochz": 3})
    assert info.value.path == ("epochz",)
    with pytest.raises(ParamError, match="'lr'.*expected float > 0, got -1"):
        train.TrainConfig(lr=-1)  # checked on construction too


@pytest.mark.parametrize(
    ("values", "path", "text"),
    [
        ({"lr": 0}, ("lr",), "expected float > 0"),
        ({"lr_factor": 5}, ("lr_factor",), "expected float > 0 and < 1"),
        ({"lr_factor": 1}, ("lr_factor",), "expected float > 0 and < 1"),
        ({"val_fraction": 1.5}, ("val_fraction",), "expected float > 0 and < 1"),
        ({"weight_decay": -0.1}, ("weight_decay",), "expected float >= 0"),
        ({"epochs": 0}, ("epochs",), "expected int >= 1"),
        ({"epochs": 2.5}, ("epochs",), "expected int >= 1, got 2.5"),
        ({"monitor": "val_acc"}, ("monitor",), "one of val_f1, val_loss"),
        ({"precision": "fp64"}, ("precision",), "one of fp32, bf16, fp16"),
        ({"bn_policy": "freeze"}, ("bn_policy",), "Did you mean 'frozen'"),
        ({"budget": {"per_class": 0}}, ("budget", "per_class"), "expected int >= 1"),
        ({"budget": {"fraction": 1.5}}, ("budget", "fraction"), "expected float > 0 and <= 1"),
        ({"budget": {"per_class": 2, "fraction": 0.5}}, ("budget",), "{per_class: N} or"),
        ({"budget": 5}, ("budget",), "expected mapping"),
        ({"measure_latency": "yes"}, ("measure_latency",), "expected bool"),
    ],
)
def test_bad_training_values_name_their_key_path(values, path, text):
    with pytest.raises(ParamError) as info:
        TrainingSettings.from_dict(values)
    assert info.value.path == path
    assert text in str(info.value)


def test_budgets_accepted():
    assert TrainingSettings.from_dict({"budget": {"per_class": 5}}).budget == {"per_class": 5}
    assert TrainingSettings.from_dict({"budget": {"fraction": 1}}).budget == {"fraction": 1}


def test_pretraining_seed_follows_the_run_by_default_and_stays_in_the_stored_range():
    assert PretrainSettings().seed is None
    assert PretrainSettings.from_dict({"seed": 2**31 - 1}).seed == 2**31 - 1
    with pytest.raises(ParamError, match="expected int >= 0 and < 2147483648"):
        PretrainSettings.from_dict({"seed": 2**31})
    with pytest.raises(ParamError, match="one of mae, supervised"):
        PretrainSettings.from_dict({"objective": "contrastive"})
    with pytest.raises(ParamError, match="expected float > 0 and < 1"):
        PretrainSettings.from_dict({"mask_ratio": 1.0})
    supervised = PretrainSettings.from_dict({"objective": "supervised", "patience": 3})
    assert (supervised.patience, supervised.val_fraction) == (3, 0.2)
    with pytest.raises(ParamError, match="'patience'.*expected int >= 1"):
        PretrainSettings.from_dict({"patience": 0})


def test_window_and_executor_settings():
    assert WindowSettings.from_dict({"seconds": 2}).given() == {"seconds": 2}
    with pytest.raises(ParamError, match="'step'.*expected float > 0"):
        WindowSettings.from_dict({"step": 0})
    with pytest.raises(ParamError, match="unknown channel set"):
        WindowSettings.from_dict({"harmonise": {"channels": "accel"}})
    assert ExecutorSettings().workers == 1
    with pytest.raises(ParamError, match="'workers'.*expected int >= 1, got -4"):
        ExecutorSettings.from_dict({"workers": -4})


def test_updated_checks_the_new_values():
    t = TrainingSettings().updated({"lr": 0.5})
    assert t.lr == 0.5 and t.epochs == 30
    with pytest.raises(ParamError):
        t.updated({"lr": -1})
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.lr = 1.0  # type: ignore[misc]


def test_param_kinds_and_messages():
    names = Param("default", kind="names")
    assert names.check(["q", "v"]) == ["q", "v"] and names.check("q") == "q"
    with pytest.raises(HarbenchError, match="a name or a list of names"):
        names.check([1, 2])
    assert Param(0.5).check(1) == 1  # a float setting accepts an integer
    with pytest.raises(HarbenchError, match="expected a finite number"):
        Param(0.5).check(float("nan"))
    with pytest.raises(HarbenchError, match="got null"):
        Param(3).check(None)
    assert Param(3, nullable=True).check(None) is None


def test_params_inferred_from_plain_defaults_are_lenient_but_typed():
    inferred = settings.params_from_defaults(
        {"r": 8, "alpha": 16.0, "targets": "default", "modules": ["a"], "dim": None}
    )
    out = settings.resolve("method 'x'", inferred, {"alpha": 2, "targets": ["q", "v"], "dim": 4})
    assert out == {"r": 8, "alpha": 2, "targets": ["q", "v"], "modules": ["a"], "dim": 4}
    with pytest.raises(ParamError, match="parameter 'r': expected int"):
        settings.resolve("method 'x'", inferred, {"r": "eight"})
    with pytest.raises(ParamError, match="has no parameter 'alhpa'. Did you mean 'alpha'"):
        settings.resolve("method 'x'", inferred, {"alhpa": 4})


def test_resolve_plugin_params_is_the_one_resolution_of_the_registered_plugins():
    out = settings.resolve_plugin_params("methods", "lora", {"r": 4})
    assert out["r"] == 4 and set(out) >= {"r", "alpha", "targets"}
    assert settings.resolve_plugin_params("protocols", "subject_groups", {}) == {"groups": 5}
    with pytest.raises(ParamError, match="protocol 'subject_groups' parameter 'groups'"):
        settings.resolve_plugin_params("protocols", "subject_groups", {"groups": 1})
    with pytest.raises(HarbenchError, match="unknown model 'tinierhr'. Did you mean 'tinierhar'"):
        settings.resolve_plugin_params("models", "tinierhr", {})


def test_the_reference_documentation_is_rendered_from_the_declarations():
    text = settings.reference()
    for cls in settings.SETTINGS.values():
        for name, param in cls.params().items():
            assert f"| `{name}` |" in text and param.doc in text
    assert "### protocol `subject_adaptation`" in text and "| `adapt_fraction` |" in text
    assert "| `lr` | `0.001` | float > 0 | AdamW learning rate |" in text
