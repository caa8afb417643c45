"""The built-in backbones: shapes, ablations, MAE structure, and parameter counts checked against
formulas written from the layer specifications (not from the modules' own numel)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from torch import nn

from harbench import HarbenchError, build_model, plugins
from harbench_methods._targets import matching_modules

MODELS = ("tinierhar", "tinyhar", "deepconvlstm", "convnet1d", "resnet1d", "mae")
# (channels, window samples, classes) of a few of the benchmark datasets
SHAPES = {"hapt": (6, 200, 12), "wisdm": (3, 80, 6), "oppo": (77, 120, 18), "pamap2": (18, 132, 12)}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models on a shared machine: one intra-op thread avoids oversubscription stalls."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ---- layer formulas ----------------------------------------------------------------------------


def conv(cin: int, cout: int, k: int, groups: int = 1, bias: bool = True) -> int:
    return cout * (cin // groups) * k + (cout if bias else 0)


def linear(fin: int, fout: int, bias: bool = True) -> int:
    return fin * fout + (fout if bias else 0)


def bn(ch: int) -> int:
    return 2 * ch  # weight and bias (running statistics are buffers)


def gru(fin: int, hidden: int, directions: int = 1) -> int:
    return directions * 3 * (hidden * fin + hidden * hidden + 2 * hidden)


def lstm(fin: int, hidden: int, directions: int = 1) -> int:
    return directions * 4 * (hidden * fin + hidden * hidden + 2 * hidden)


def tinierhar_formula(c: int, k: int, m: int = 4, n: int = 16) -> int:
    def separable(cin, cout):
        return conv(cin, cin, 5, groups=cin) + conv(cin, cout, 1)

    block1 = separable(1, m) + bn(m) + conv(1, m, 1) + bn(m)
    block2 = separable(m, 2 * m) + bn(2 * m) + conv(m, 2 * m, 1) + bn(2 * m)
    blocks36 = 4 * (separable(2 * m, 2 * m) + bn(2 * m))
    return (block1 + block2 + blocks36 + gru(2 * m * c, n, directions=2) + linear(2 * n, 1)
            + linear(2 * n, k))


def tinyhar_formula(c: int, k: int, f: int = 20) -> int:
    convs = conv(1, f, 5) + 3 * conv(f, f, 5) + 4 * bn(f)
    channel_attention = 3 * linear(f, f, bias=False) + 1
    fusion = linear(c * f, 2 * f)
    temporal_attention = linear(2 * f, 2 * f) + linear(2 * f, 1, bias=False) + 1
    return (convs + channel_attention + fusion + lstm(2 * f, 2 * f) + temporal_attention
            + linear(2 * f, k))


def deepconvlstm_formula(c: int, k: int, f: int = 64, h: int = 128) -> int:
    return conv(1, f, 5) + 3 * conv(f, f, 5) + lstm(f * c, h) + linear(h, k)


FORMULAS = {
    "tinierhar": tinierhar_formula,
    "tinyhar": tinyhar_formula,
    "deepconvlstm": deepconvlstm_formula,
}


# ---- tests -------------------------------------------------------------------------------------


def test_all_backbones_are_registered():
    assert set(MODELS) <= set(plugins.registry().names("models"))


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("shape", ["hapt", "wisdm", "oppo"])
def test_forward_maps_windows_to_logits(name, shape):
    c, t, k = SHAPES[shape]
    torch.manual_seed(0)
    model = build_model(name, channels=c, window=t, classes=k)
    x = torch.randn(3, t, c)
    out = model(x)
    assert out.shape == (3, k) and out.dtype == torch.float32
    assert torch.isfinite(out).all()
    out.sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad and p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("name", sorted(FORMULAS))
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_parameter_counts_match_layer_formulas(name, shape):
    c, t, k = SHAPES[shape]
    model = build_model(name, channels=c, window=t, classes=k)
    assert n_params(model) == FORMULAS[name](c, k)


def test_parameter_counts_match_the_published_architectures():
    # Counts in the TinierHAR authors' Run_logs/macs_params.txt (HAPT: 6 channels, 12 classes;
    # WISDM: 3 channels, 6 classes) for TinierHAR, TinyHAR and DeepConvLSTM.
    published = {"tinierhar": (7483, 4981), "tinyhar": (27674, 25028),
                 "deepconvlstm": (326732, 227654)}
    for name, (hapt, wisdm) in published.items():
        assert n_params(build_model(name, channels=6, window=200, classes=12)) == hapt
        assert n_params(build_model(name, channels=3, window=80, classes=6)) == wisdm


@pytest.mark.parametrize(
    "params",
    [
        {"residual": False},
        {"separable": False},
        {"temporal": "lstm"},
        {"temporal": "none", "aggregation": "mean"},
        {"aggregation": "last"},
        {"residual": False, "separable": False, "temporal": "none", "aggregation": "attention"},
    ],
)
def test_tinierhar_ablations_build_and_run(params):
    model = build_model("tinierhar", channels=6, window=200, classes=12, **params)
    assert model(torch.randn(2, 200, 6)).shape == (2, 12)
    modules = dict(model.named_modules())
    has_shortcut = any(n.endswith("shortcut") and m is not None for n, m in modules.items())
    assert has_shortcut == params.get("residual", True)
    depthwise = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.groups > 1]
    assert bool(depthwise) == params.get("separable", True)
    recurrent = {type(m) for m in model.modules() if isinstance(m, nn.RNNBase)}
    expected = {"gru": {nn.GRU}, "lstm": {nn.LSTM}, "none": set()}[params.get("temporal", "gru")]
    assert recurrent == expected


def test_tinierhar_ablation_parameter_differences():
    base = n_params(build_model("tinierhar", channels=6, window=200, classes=12))
    no_res = n_params(build_model("tinierhar", channels=6, window=200, classes=12, residual=False))
    # the shortcuts of blocks 1 and 2 are 1x1 conv + BN; blocks 3-6 have identity shortcuts
    assert base - no_res == conv(1, 4, 1) + bn(4) + conv(4, 8, 1) + bn(8)
    lstm_model = build_model("tinierhar", channels=6, window=200, classes=12, temporal="lstm")
    assert n_params(lstm_model) - base == lstm(48, 16, 2) - gru(48, 16, 2)


def test_mean_aggregation_differs_from_last_step():
    torch.manual_seed(0)
    mean = build_model("tinierhar", channels=3, window=80, classes=5, aggregation="mean").eval()
    last = build_model("tinierhar", channels=3, window=80, classes=5, aggregation="last").eval()
    last.load_state_dict(mean.state_dict())
    x = torch.randn(2, 80, 3)
    assert not torch.allclose(mean(x), last(x))


@pytest.mark.parametrize(
    "name,params",
    [("tinierhar", {"temporal": "transformer"}), ("tinierhar", {"aggregation": "max"}),
     ("mae", {"fit": "stretch"}), ("mae", {"preset": "huge"}), ("mae", {"dim": 30, "heads": 4}),
     ("resnet1d", {"width": 0})],
)
def test_bad_parameters_are_refused(name, params):
    with pytest.raises(HarbenchError):
        build_model(name, channels=3, window=80, classes=4, **params)


@pytest.mark.parametrize("name", ["tinyhar", "deepconvlstm"])
def test_unpadded_conv_models_refuse_too_short_windows(name):
    with pytest.raises(HarbenchError, match="longer window"):
        build_model(name, channels=3, window=20, classes=4)
    build_model(name, channels=3, window=25, classes=4)(torch.randn(1, 25, 3))


@pytest.mark.parametrize("name", MODELS)
def test_declared_targets_resolve_and_never_include_the_head(name):
    plugin = plugins.get("models", name)
    model = build_model(name, channels=6, window=200, classes=12)
    kinds = (nn.Linear, nn.Conv1d, nn.Conv2d)
    adapter = matching_modules(model, plugin.targets["adapter"], kinds)
    assert adapter and plugin.head not in adapter
    convs = matching_modules(model, plugin.targets.get("conv", ()), (nn.Conv1d, nn.Conv2d))
    # conv adapters (LoRA-Edge) get standard, non-grouped convs only
    assert all(model.get_submodule(n).groups == 1 for n in convs)
    if name in ("convnet1d", "resnet1d"):
        every_conv = [n for n, m in model.named_modules() if isinstance(m, nn.Conv1d)]
        assert sorted(convs) == sorted(every_conv)
    linears = matching_modules(model, plugin.targets.get("linear", ()), (nn.Linear,))
    assert plugin.head not in linears
    assert isinstance(model.get_submodule(plugin.head), nn.Linear)


def test_tinierhar_conv_family_follows_the_separable_switch():
    targets = plugins.get("models", "tinierhar").targets["conv"]
    for separable in (True, False):
        model = build_model("tinierhar", channels=6, window=200, classes=12, separable=separable)
        found = matching_modules(model, targets, (nn.Conv2d,))
        every = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
        assert sorted(found) == sorted(n for n in every if not n.endswith(".depthwise"))
        assert len(found) == 6 + 2  # one standard or pointwise conv per block + two shortcuts


def test_mae_has_explicit_projection_layers_and_no_fused_attention():
    model = build_model("mae", channels=6, window=200, classes=12)
    fused = (nn.MultiheadAttention, nn.TransformerEncoderLayer, nn.TransformerEncoder,
             nn.TransformerDecoderLayer, nn.Transformer)
    assert not any(isinstance(m, fused) for m in model.modules())
    assert len(model.blocks) == 4
    for block in model.blocks:
        for layer in (block.attn.q, block.attn.k, block.attn.v, block.attn.proj, block.fc1,
                      block.fc2):
            assert type(layer) is nn.Linear
    targets = plugins.get("models", "mae").targets
    assert set(targets["adapter"]) == {"q", "v"}
    assert set(targets["linear"]) == {"q", "k", "v", "proj", "fc1", "fc2"}
    linear = matching_modules(model, targets["linear"], (nn.Linear,))
    assert len(linear) == 6 * 4 and not any(n.startswith("decoder") for n in linear)


@pytest.mark.parametrize("layer", ["q", "k", "v", "proj", "fc1", "fc2"])
def test_every_mae_projection_is_on_the_forward_path(layer):
    """An adapter wraps these Linears by name: a change to any of them must reach the logits."""
    torch.manual_seed(0)
    model = build_model("mae", channels=3, window=50, classes=4, patch=5).eval()
    x = torch.randn(2, 50, 3)
    before = model(x)
    name = f"blocks.1.{'attn.' if layer in ('q', 'k', 'v', 'proj') else ''}{layer}"
    calls = []

    def shift(module, args, output):
        calls.append(module)
        return output * 1.5

    handle = model.get_submodule(name).register_forward_hook(shift)
    after = model(x)
    handle.remove()
    assert len(calls) == 1
    assert not torch.allclose(after, before, atol=1e-4)


@pytest.mark.parametrize("fit,patches", [("crop", 5), ("pad", 6)])
def test_mae_window_not_a_multiple_of_the_patch(fit, patches):
    model = build_model("mae", channels=3, window=55, classes=4, patch=10, fit=fit)
    x = torch.randn(2, 55, 3)
    tokens = model.patchify(x)
    assert tokens.shape == (2, patches, 30)
    # time-major patches: token 0 holds samples 0..9 of every channel
    assert torch.equal(tokens[0, 0].view(10, 3), x[0, :10])
    if fit == "pad":
        assert torch.equal(tokens[0, 5].view(10, 3)[:5], x[0, 50:])
        assert torch.count_nonzero(tokens[0, 5].view(10, 3)[5:]) == 0
    assert model(x).shape == (2, 4)
    assert model.pretrain_loss(x, 0.5).ndim == 0


def test_mae_presets_and_overrides():
    small = build_model("mae", channels=6, window=200, classes=12)
    base = build_model("mae", channels=6, window=200, classes=12, preset="base")
    assert small.blocks[0].attn.q.in_features == 64 and len(small.blocks) == 4
    assert base.blocks[0].attn.q.in_features == 256 and len(base.blocks) == 6
    assert 2_000_000 < n_params(base) < 10_000_000
    assert n_params(small) < 400_000
    wide = build_model("mae", channels=6, window=200, classes=12, dim=96, heads=3)
    assert wide.blocks[0].attn.q.in_features == 96 and len(wide.blocks) == 4



def test_registering_the_models_does_not_import_torch():
    """The plugin modules are light (the CLI starts fast); the networks load on build."""
    code = (
        "import json, sys, harbench_models\n"
        "from harbench_models import tinierhar\n"
        "tinierhar.TinierHAR()\n"
        "names = [m for m in sys.modules if m == 'torch' or m.startswith('harbench_models')]\n"
        "print(json.dumps(names))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(done.stdout)
    assert "torch" not in loaded
    assert "harbench_models.tinierhar" in loaded
    assert "harbench_models.tinierhar.net" not in loaded
    assert "harbench_models._kernels" not in loaded
