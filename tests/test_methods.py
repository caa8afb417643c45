"""Every adaptation method: it trains what it promises, changes the model, merges, saves and loads.

Conv-capable methods run on ``tinierhar``, Linear-only methods on a small ``mae``; the data are a
few windows of the built-in synthetic dataset.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import harbench
from harbench import plugins
from harbench.api import ModelInfo, adapted_info, attach_info, model_info
from harbench.contracts import HarbenchError
from harbench.settings import ParamError

MAE_SMALL = {"dim": 16, "depth": 1, "heads": 2, "decoder_dim": 8, "decoder_depth": 1}
MODEL_PARAMS = {"tinierhar": {}, "mae": MAE_SMALL}
ADALORA = {"init_r": 4, "target_r": 2, "total_step": 3}

# (method, backbone, method params)
CASES = [
    ("lora", "tinierhar", {}),
    ("dora", "tinierhar", {}),
    ("loha", "tinierhar", {}),
    ("lokr", "tinierhar", {}),
    ("bitfit", "tinierhar", {}),
    ("norm", "tinierhar", {}),
    ("norm", "mae", {}),
    ("ia3", "mae", {}),
    ("vera", "mae", {}),
    ("adalora", "mae", ADALORA),
    ("qlora", "mae", {}),
]
IDS = [f"{m}-{b}" for m, b, _ in CASES]
PEFT_METHODS = ("lora", "dora", "loha", "lokr", "ia3", "vera", "adalora", "qlora")
LINEAR_ONLY = ("ia3", "vera", "adalora", "qlora")


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny models on a shared 2-core machine: intra-op threads only spin against each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def batch():
    windows = harbench.load_windows("synthetic")
    order = torch.randperm(len(windows.y), generator=torch.Generator().manual_seed(0))[:32]
    X = torch.as_tensor(windows.X[order.numpy()], dtype=torch.float32)
    y = torch.as_tensor(windows.y[order.numpy()], dtype=torch.int64)
    return X, y, len(windows.classes)


def build(backbone: str, batch) -> nn.Module:
    X, _, classes = batch
    torch.manual_seed(0)
    model = harbench.build_model(
        backbone,
        channels=X.shape[2],
        window=X.shape[1],
        classes=classes,
        **MODEL_PARAMS[backbone],
    )
    return model.eval()


def train_steps(model: nn.Module, X: torch.Tensor, y: torch.Tensor, steps: int = 5) -> None:
    """A tiny training loop that honours the method's BatchNorm policy."""
    optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.05)
    for _ in range(steps):
        model.train()
        if adapted_info(model).bn_policy == "frozen":
            for module in model.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        loss = nn.functional.cross_entropy(model(X), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()


_TRAINED: dict[str, tuple[nn.Module, nn.Module]] = {}


def trained(case, batch) -> tuple[nn.Module, nn.Module]:
    """(base model, adapted model after a few steps), built once per case."""
    method, backbone, params = case
    key = f"{method}-{backbone}"
    if key not in _TRAINED:
        base = build(backbone, batch)
        adapted = harbench.adapt(copy.deepcopy(base), method, **params)
        train_steps(adapted, batch[0], batch[1])
        _TRAINED[key] = (base, adapted)
    return _TRAINED[key]


def expected_targets(backbone: str, base: nn.Module) -> list[str]:
    """Default targets, from the backbones' design: TinierHAR's 1x1 convs and attention score
    (depthwise convs and the GRU left out), the MAE's q and v projections."""
    if backbone == "tinierhar":
        return [
            n
            for n, m in base.named_modules()
            if (isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)) or n == "pool.score"
        ]
    return [n for n, m in base.named_modules() if n.endswith((".q", ".v"))]


def layer_sizes(layer: nn.Module) -> tuple[int, int, int]:
    """(inputs seen by one output, outputs, kernel elements) of a Linear or Conv2d."""
    if isinstance(layer, nn.Linear):
        return layer.in_features, layer.out_features, 1
    kernel = layer.kernel_size[0] * layer.kernel_size[1]
    return layer.in_channels // layer.groups, layer.out_channels, kernel


def expected_trainable(method: str, backbone: str, base: nn.Module, params: dict) -> int:
    head = sum(p.numel() for p in base.head.parameters())
    if method == "bitfit":
        return head + sum(
            p.numel()
            for n, p in base.named_parameters()
            if not n.startswith("head.") and n.rsplit(".", 1)[-1].startswith("bias")
        )
    if method == "norm":
        norms = (nn.BatchNorm2d, nn.LayerNorm)
        return head + sum(
            p.numel()
            for n, m in base.named_modules()
            if isinstance(m, norms)
            for p in m.parameters()
        )
    r = {"vera": 64, "adalora": params.get("init_r", 12)}.get(method, 8)
    total = head
    for name in expected_targets(backbone, base):
        fan_in, out, kernel = layer_sizes(base.get_submodule(name))
        total += {
            "lora": r * (fan_in * kernel + out),
            "qlora": r * (fan_in * kernel + out),
            "dora": r * (fan_in * kernel + out) + out,
            "loha": 2 * r * (fan_in * kernel + out),
            "ia3": out,
            "vera": out + r,
            "adalora": r * (fan_in + out) + r,
        }[method]
    return total


def inner(model: nn.Module) -> nn.Module:
    """The backbone inside a peft wrapper (or the model itself)."""
    return model.base_model.model if hasattr(model, "base_model") else model


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_training_changes_the_eval_output_and_nothing_frozen(case, batch):
    method, backbone, params = case
    base = build(backbone, batch)
    X = batch[0][:8]
    adapted = harbench.adapt(copy.deepcopy(base), method, **params).eval()
    with torch.no_grad():
        if method != "qlora":  # every other method starts as the identity
            torch.testing.assert_close(adapted(X), base(X), atol=1e-5, rtol=0)
    base, adapted = trained(case, batch)
    with torch.no_grad():
        change = (adapted(X) - base(X)).abs().max().item()
    assert change > 1e-3
    # the frozen weights did not move
    trainable = {n for n, p in adapted.named_parameters() if p.requires_grad}
    backbone_params = dict(inner(adapted).named_parameters())
    for name, p in base.named_parameters():
        owner, _, leaf = name.rpartition(".")
        peft_name = f"{owner}.base_layer.{leaf}"
        current = backbone_params.get(name, backbone_params.get(peft_name))
        if current is None or current.requires_grad or method == "qlora":
            continue
        assert not any(t.endswith(name) for t in trainable)
        torch.testing.assert_close(current, p, atol=0, rtol=0)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_trainable_parameters_are_what_the_method_promises(case, batch):
    method, backbone, params = case
    base, adapted = trained(case, batch)
    counts = harbench.count(adapted, window=batch[0].shape[1], channels=batch[0].shape[2])
    head = dict(inner(adapted).named_modules())["head"]
    assert type(head) is nn.Linear  # never wrapped, never quantised
    assert all(p.requires_grad for p in head.parameters())
    assert adapted_info(adapted).bn_policy == "update"  # every method's default
    if method == "lokr":  # Kronecker factor shapes: check where the trainables live instead
        targets = expected_targets(backbone, base)
        for name, p in inner(adapted).named_parameters():
            if p.requires_grad and not name.startswith("head."):
                assert "lokr_" in name and any(name.startswith(t + ".lokr_") for t in targets)
        assert 0 < counts["trainable"] - sum(p.numel() for p in base.head.parameters())
        return
    assert counts["trainable"] == expected_trainable(method, backbone, base, params)
    if method in PEFT_METHODS:
        from harbench_methods._peft import adapter_layer_names

        assert sorted(adapter_layer_names(adapted)) == sorted(expected_targets(backbone, base))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_merge_preserves_the_outputs(case, batch):
    method, backbone, _ = case
    base, adapted = trained(case, batch)
    X = batch[0][:8]
    merged = harbench.merge(adapted)
    with torch.no_grad():
        before, after = adapted(X), merged(X)
    # float merges hold 1e-5; a 4-bit merge dequantises exactly, matmul order differs (1e-4)
    torch.testing.assert_close(after, before, atol=1e-4 if method == "qlora" else 1e-5, rtol=0)
    from peft.tuners.tuners_utils import BaseTunerLayer

    assert not any(isinstance(m, BaseTunerLayer) for m in merged.modules())
    assert all(p.dtype == torch.float32 for p in merged.parameters())
    assert sum(p.numel() for p in merged.parameters()) == sum(p.numel() for p in base.parameters())
    with torch.no_grad():  # merging left the adapted model usable and unchanged
        torch.testing.assert_close(adapted(X), before, atol=0, rtol=0)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_adapter_state_round_trip_reproduces_the_outputs(case, batch):
    method, backbone, params = case
    base, adapted = trained(case, batch)
    plugin = plugins.get("methods", method)
    state = plugin.adapter_state(adapted)
    fresh = harbench.adapt(copy.deepcopy(base), method, **params).eval()
    X = batch[0][:8]
    with torch.no_grad():
        assert (fresh(X) - adapted(X)).abs().max() > 1e-4
        plugin.load_adapter_state(fresh, state)
        torch.testing.assert_close(fresh(X), adapted(X), atol=1e-6, rtol=0)
    with pytest.raises(HarbenchError):
        plugin.load_adapter_state(fresh, {**state, "model.no_such.weight": torch.zeros(1)})


@pytest.mark.parametrize("method", PEFT_METHODS)
def test_targets_matching_nothing_fail_loudly(method, batch):
    backbone = "mae" if method in LINEAR_ONLY else "tinierhar"
    model = build(backbone, batch)
    with pytest.raises(HarbenchError, match="found no .*no_such_layer"):
        harbench.adapt(model, method, targets=["no_such_layer"])
    with pytest.raises(HarbenchError, match="found no"):  # the head alone is never a target
        harbench.adapt(build(backbone, batch), method, targets=["head"])


@pytest.mark.parametrize("method", LINEAR_ONLY)
def test_linear_only_methods_refuse_conv_targets(method, batch):
    with pytest.raises(HarbenchError, match=r"blocks\.1\.conv\.pointwise is a Conv2d.*Linear"):
        harbench.adapt(build("tinierhar", batch), method)
    # the backbone's Linear layers are fine
    adapted = harbench.adapt(build("tinierhar", batch), method, targets="linear")
    assert adapted_info(adapted).method == method


class BiasAndNormFree(nn.Module):
    """A backbone without any bias or normalisation layer (its head has a bias)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Linear(3, 8, bias=False)
        self.head = nn.Linear(8, 4)

    def forward(self, x):
        return self.head(torch.relu(self.body(x)).mean(dim=1))


def test_bitfit_and_norm_refuse_a_backbone_they_cannot_adapt():
    info = ModelInfo("bias_and_norm_free", head="head")
    with pytest.raises(HarbenchError, match="bitfit.*no bias term"):
        harbench.adapt(BiasAndNormFree(), "bitfit", info=info)
    with pytest.raises(HarbenchError, match="norm.*no normalisation layer"):
        harbench.adapt(attach_info(BiasAndNormFree(), info), "norm")


@pytest.mark.parametrize("method", sorted({m for m, _, _ in CASES}))
def test_unknown_parameters_get_a_did_you_mean(method, batch):
    plugin = plugins.get("methods", method)
    model = build("tinierhar", batch)
    if not plugin.defaults:
        with pytest.raises(HarbenchError, match="has no parameter 'r'"):
            harbench.adapt(model, method, r=4)
        return
    key = sorted(plugin.defaults)[0]
    with pytest.raises(HarbenchError, match=f"Did you mean .*'{key}'"):
        harbench.adapt(model, method, **{key + "x": 1})


def test_adalora_prunes_to_its_rank_budget(batch):
    _, adapted = trained(("adalora", "mae", ADALORA), batch)
    pattern = adapted.peft_config["default"].rank_pattern
    assert pattern, "rank allocation never ran"
    kept = sum(sum(mask) for mask in pattern.values())
    assert kept == ADALORA["target_r"] * len(pattern)  # the final budget
    for name, p in adapted.named_parameters():
        if ".lora_E." in name:
            key = name.removeprefix("base_model.model.")
            mask = torch.tensor(pattern[key])
            assert torch.count_nonzero(p.detach().flatten()[~mask]) == 0


def test_norm_updates_and_ships_batchnorm_statistics(batch):
    base, adapted = trained(("norm", "tinierhar", {}), batch)
    bn_base = base.blocks[1].bn.running_mean
    bn_now = adapted.blocks[1].bn.running_mean
    assert not torch.equal(bn_base, bn_now)  # "update": the statistics followed the data
    state = plugins.get("methods", "norm").adapter_state(adapted)
    torch.testing.assert_close(state["blocks.1.bn.running_mean"], bn_now)


@pytest.mark.parametrize("method", ["lora", "dora", "qlora"])
def test_lora_alpha_defaults_to_twice_the_rank_so_the_scaling_is_constant(method, batch):
    backbone = "mae" if method == "qlora" else "tinierhar"
    for r in (2, 8):
        adapted = harbench.adapt(build(backbone, batch), method, r=r)
        assert adapted_info(adapted).params["alpha"] == 2 * r  # resolved and recorded
        scalings = [m.scaling["default"] for m in adapted.modules() if hasattr(m, "scaling")]
        assert scalings and all(s == pytest.approx(2.0) for s in scalings)
    explicit = harbench.adapt(build(backbone, batch), method, r=4, alpha=4)
    assert adapted_info(explicit).params["alpha"] == 4
    assert {m.scaling["default"] for m in explicit.modules() if hasattr(m, "scaling")} == {1.0}


def test_rslora_keeps_its_own_rule_alpha_over_sqrt_r(batch):
    for r in (4, 16):
        adapted = harbench.adapt(build("tinierhar", batch), "lora", r=r, rslora=True)
        assert adapted_info(adapted).params["alpha"] == 16
        scalings = [m.scaling["default"] for m in adapted.modules() if hasattr(m, "scaling")]
        assert scalings and all(s == pytest.approx(16 / r**0.5) for s in scalings)


def test_lycoris_and_adalora_alpha_follow_their_rank(batch):
    for method, params, key in [("loha", {"r": 4}, "r"), ("lokr", {"r": 4}, "r"),
                                ("adalora", {**ADALORA}, "init_r")]:
        backbone = "mae" if method == "adalora" else "tinierhar"
        adapted = harbench.adapt(build(backbone, batch), method, **params)
        assert adapted_info(adapted).params["alpha"] == 2 * params[key]
        assert plugins.get("methods", method).version == "2"


@pytest.mark.parametrize("method", ["lora", "lora_edge", "bitfit", "linear_probe", "full"])
def test_the_batchnorm_policy_comes_from_the_caller_and_is_recorded(method, batch):
    plugin = plugins.get("methods", method)
    default = harbench.adapt(build("tinierhar", batch), method)
    assert adapted_info(default).bn_policy == "update"
    own = harbench.adapt(build("tinierhar", batch), method, bn_policy="method")
    assert adapted_info(own).bn_policy == plugin.bn_policy
    frozen = harbench.adapt(build("tinierhar", batch), method, bn_policy="frozen")
    assert adapted_info(frozen).bn_policy == "frozen"
    with pytest.raises(HarbenchError, match="bn_policy must be one of update, frozen, method"):
        harbench.adapt(build("tinierhar", batch), method, bn_policy="sometimes")
    # the adapter state carries the BatchNorm statistics exactly when training updates them
    bn_keys = {n for n, _ in default.named_buffers() if "running_mean" in n}
    assert bn_keys
    shipped = {k.removeprefix("model.") for k in plugin.adapter_state(default)}  # peft's prefix
    assert all(n.removeprefix("base_model.model.") in shipped for n in bn_keys)
    if method != "full":  # full ships everything anyway; others ship no statistics when frozen
        assert not any("running_mean" in k for k in plugin.adapter_state(frozen))


def test_updated_batchnorm_statistics_travel_with_the_adapter_state(batch):
    base, adapted = trained(("lora", "tinierhar", {}), batch)
    assert not torch.equal(base.blocks[1].bn.running_mean,
                           inner(adapted).blocks[1].bn.running_mean)
    plugin = plugins.get("methods", "lora")
    fresh = harbench.adapt(copy.deepcopy(base), "lora").eval()
    plugin.load_adapter_state(fresh, plugin.adapter_state(adapted))
    torch.testing.assert_close(inner(fresh).blocks[1].bn.running_mean,
                               inner(adapted).blocks[1].bn.running_mean, atol=0, rtol=0)


def test_records_describe_the_built_adapted_and_merged_model(batch):
    X, _, classes = batch
    base = build("tinierhar", batch)
    info = model_info(base)
    assert (info.name, info.head, info.channels, info.window, info.classes) == (
        "tinierhar", "head", X.shape[2], X.shape[1], classes)
    assert info.family("conv") == plugins.get("models", "tinierhar").targets["conv"]
    with pytest.raises(HarbenchError, match="no harbench adaptation record.*harbench.adapt"):
        adapted_info(base)
    with pytest.raises(HarbenchError, match="Sequential carries no harbench model record"):
        model_info(nn.Sequential(nn.Linear(2, 2)))
    with pytest.raises(HarbenchError, match="carries no harbench model record"):
        harbench.adapt(nn.Sequential(nn.Linear(2, 2)), "lora")
    adapted = harbench.adapt(copy.deepcopy(base), "lora", r=4)
    record = adapted_info(adapted)
    assert (record.method, record.params["r"], record.model) == ("lora", 4, info)
    assert model_info(adapted) == info  # the backbone's record, through the adapted one
    merged = harbench.merge(adapted)
    assert model_info(merged) == info
    with pytest.raises(HarbenchError):
        adapted_info(merged)  # a plain backbone again


@pytest.mark.parametrize(
    ("method", "params", "key"),
    [("lora", {"r": 0}, "r"), ("lora", {"dropout": 1.0}, "dropout"),
     ("lora", {"alpha": 0}, "alpha"), ("loha", {"rank_dropout": -0.1}, "rank_dropout"),
     ("lora_edge", {"rank": 0}, "rank"), ("lora_edge", {"init": "ones"}, "init"),
     ("adalora", {"beta1": 1.5}, "beta1"), ("vera", {"r": 1.5}, "r")],
)
def test_out_of_range_parameters_are_refused_before_adapting(method, params, key, batch):
    model = build("tinierhar", batch)
    before = {n: p.clone() for n, p in model.named_parameters()}
    with pytest.raises(ParamError, match=f"method '{method}' parameter '{key}'") as caught:
        harbench.adapt(model, method, **params)
    assert caught.value.key == key
    assert all(torch.equal(p, before[n]) and p.requires_grad for n, p in model.named_parameters())


def test_every_builtin_method_declares_typed_params_and_the_families_it_needs():
    needs = {"lora_edge": ("conv",), "ia3": ("linear",), "vera": ("linear",),
             "adalora": ("linear",), "qlora": ("linear",), "lora": ("linear", "conv"),
             "dora": ("linear", "conv"), "loha": ("linear", "conv"), "lokr": ("linear", "conv"),
             "full": (), "linear_probe": (), "bitfit": (), "norm": ()}
    for name, families in needs.items():
        plugin = plugins.get("methods", name)
        assert plugin.needs == families, name
        declared = plugin.params.params()  # the typed record's fields (plugin API 2)
        assert plugin.defaults == {k: p.default for k, p in declared.items()}
        assert all(p.doc for p in declared.values()), name


def test_an_old_style_third_party_method_without_the_info_argument_still_adapts(monkeypatch):
    import types

    from harbench.contracts import MethodPlugin
    from harbench.hookspecs import hookimpl

    class HeadOnly(MethodPlugin):
        name = "old_head_only"
        defaults = {"scale": 1.0}

        def adapt(self, model, **params):  # the signature before ModelInfo existed
            model.requires_grad_(False)
            model.head.requires_grad_(True)
            return model

    @hookimpl
    def harbench_register_methods(register):
        register(HeadOnly())

    module = types.ModuleType("old_style_methods")
    module.harbench_register_methods = harbench_register_methods
    registry = plugins.build_registry(extra_plugins=(module,))
    monkeypatch.setattr(plugins, "registry", lambda: registry)
    model = harbench.build_model("tinierhar", channels=3, window=32, classes=4)
    adapted = harbench.adapt(model, "old_head_only", scale=2.0)
    assert adapted_info(adapted).params == {"scale": 2.0}
    assert {n for n, p in adapted.named_parameters() if p.requires_grad} == {
        "head.weight", "head.bias"}
