"""LoRA-Edge: TT-SVD conv updates that start at zero, train few parameters and fuse back exactly."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import tensorly as tl
import torch
import torch.nn.functional as F
from torch import nn

import harbench
from harbench import HarbenchError
from harbench.api import ModelInfo, adapted_info, attach_info, model_info
from harbench.measure.counting import trainable_shares
from harbench.plugins import get as get_plugin
from harbench_methods.lora_edge.tt_conv import TTConvUpdate, tt_decompose, tt_ranks

WINDOW, CHANNELS, CLASSES = 50, 3, 4


class TinyConvNet(nn.Module):
    """Plain, grouped, dilated and strided Conv1d layers, a Conv2d, BatchNorm and a linear head."""

    def __init__(self, channels: int = CHANNELS, classes: int = CLASSES, width: int = 16):
        super().__init__()
        self.stem = nn.Conv1d(channels, width, 5, padding=2)
        self.bn = nn.BatchNorm1d(width)
        self.grouped = nn.Conv1d(width, width, 3, padding=2, dilation=2, groups=4)
        self.strided = nn.Conv1d(width, 2 * width, 3, stride=2, padding=1, bias=False)
        self.image = nn.Conv2d(1, 4, (3, 3), padding=1, padding_mode="reflect")
        self.head = nn.Linear(2 * width + 4, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, C]
        h = torch.relu(self.bn(self.stem(x.transpose(1, 2))))
        h = torch.relu(self.grouped(h))
        h = self.strided(h).mean(dim=2)
        g = self.image(x.unsqueeze(1)).mean(dim=(2, 3))
        return self.head(torch.cat([h, g], dim=1))


class LinearNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(WINDOW * CHANNELS, 8)
        self.head = nn.Linear(8, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.body(x.flatten(1))))


def pretrained(seed: int = 0) -> TinyConvNet:
    torch.manual_seed(seed)
    model = TinyConvNet()
    model.eval()
    return model


def adapted(model: nn.Module, **params) -> nn.Module:
    """LoRA-Edge on ``model``; an in-test model first gets the record build_model attaches."""
    try:
        model_info(model)
    except HarbenchError:
        attach_info(model, ModelInfo(type(model).__name__, head="head"))
    return harbench.adapt(model, "lora_edge", **params)


def inputs(n: int = 6, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, WINDOW, CHANNELS, generator=torch.Generator().manual_seed(seed))


def randomise_updates(model: nn.Module, seed: int = 2) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, TTConvUpdate):
                module.update.copy_(torch.randn(module.update.shape, generator=gen) * 0.3)


def wrappers(model: nn.Module) -> dict[str, TTConvUpdate]:
    return {n: m for n, m in model.named_modules() if isinstance(m, TTConvUpdate)}


def test_adapted_model_equals_pretrained_one_exactly_at_step_zero():
    base = pretrained()
    model = adapted(copy.deepcopy(base))
    model.eval()
    x = inputs()
    with torch.no_grad():
        assert torch.equal(model(x), base(x))
    assert set(wrappers(model)) == {"stem", "grouped", "strided", "image"}

    tinier = harbench.build_model("tinierhar", channels=6, window=64, classes=5).eval()
    # torch picks another (equal up to rounding) GRU kernel when the GRU weights require grad,
    # so the reference is taken with the backbone frozen, as it is once adapted
    tinier.requires_grad_(False)
    x6 = torch.randn(3, 64, 6)
    with torch.no_grad():
        before = tinier(x6)
        pristine = copy.deepcopy(tinier)
        tinier_adapted = adapted(tinier).eval()
        # TinierHAR runs its plain 1x1 convs through its own fast kernels; a wrapped conv runs
        # torch's conv: equal up to float32 rounding
        torch.testing.assert_close(tinier_adapted(x6), before, atol=1e-6, rtol=0)
    names = set(wrappers(tinier_adapted))
    assert {"blocks.0.conv.pointwise", "blocks.5.conv.pointwise"} <= names
    assert not any("depthwise" in n for n in names)  # the plugin's "conv" family leaves them out
    # depthwise kernels [C, 1, 5, 1] adapt through their kernel mode when targeted by name
    depthwise = adapted(pristine, targets=["depthwise"]).eval()
    layers = wrappers(depthwise)
    assert len(layers) == 6 and all(w.base.groups == w.base.in_channels for w in layers.values())
    randomise_updates(depthwise)
    fused = harbench.merge(depthwise)
    with torch.no_grad():
        assert (fused(x6) - depthwise(x6)).abs().max() < 1e-5
        assert (fused(x6) - before).abs().max() > 1e-4


def test_only_output_side_update_cores_and_head_train():
    model = adapted(pretrained(), bn_policy="method")
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    expected = {f"{n}.update" for n in ("stem", "grouped", "strided", "image")}
    assert trainable == expected | {"head.weight", "head.bias"}
    for wrapper in wrappers(model).values():
        assert all(not p.requires_grad for p in wrapper.input_cores)
        assert not wrapper.base.weight.requires_grad
        assert torch.count_nonzero(wrapper.update) == 0
    assert not model.bn.weight.requires_grad
    assert adapted_info(model).bn_policy == "frozen"  # the method's own policy
    plugin = get_plugin("methods", "lora_edge")
    assert set(plugin.adapter_state(model)) == trainable
    # a run's default policy updates the statistics: then they ship with the adapter
    updated = adapted(pretrained())
    assert adapted_info(updated).bn_policy == "update"
    statistics = {"bn.running_mean", "bn.running_var", "bn.num_batches_tracked"}
    assert set(plugin.adapter_state(updated)) == trainable | statistics


class PlainConvNet(nn.Module):
    """Three 128-channel Conv1d layers of kernel 5 and a head: the size of a small HAR CNN."""

    def __init__(self, width: int = 128):
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv1d(CHANNELS, width, 5, padding=2), nn.ReLU(),
            nn.Conv1d(width, width, 5, padding=2), nn.ReLU(),
            nn.Conv1d(width, width, 5, padding=2), nn.ReLU(),
        )
        self.head = nn.Linear(width, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.convs(x.transpose(1, 2)).mean(dim=2))


def test_trainable_share_is_small_on_a_plain_conv_backbone():
    torch.manual_seed(0)
    model = PlainConvNet()
    base_params = harbench.count(model, window=WINDOW, channels=CHANNELS)["params"]
    model = adapted(model, rank=4)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    updates = sum(w.update.numel() for w in wrappers(model).values())
    assert updates == 3 * 4 * 128  # one rank-4 output core [4, 128] per conv
    assert trainable == updates + 128 * CLASSES + CLASSES
    assert trainable / base_params < 0.015


def test_training_on_synthetic_data_moves_the_output_and_only_the_updates():
    windows = harbench.load_windows("synthetic")
    x = torch.from_numpy(windows.X[:64])
    y = torch.from_numpy(windows.y[:64])
    torch.manual_seed(0)
    base = TinyConvNet(channels=x.shape[2], classes=len(windows.classes)).eval()
    model = adapted(copy.deepcopy(base))
    frozen_before = {n: p.detach().clone() for n, p in model.named_parameters()
                     if not p.requires_grad}
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    model.bn.eval()  # bn_policy "frozen"
    for _ in range(5):
        optimiser.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimiser.step()
    model.eval()
    with torch.no_grad():
        assert (model(x) - base(x)).abs().max() > 1e-3
    assert all(torch.count_nonzero(w.update) > 0 for w in wrappers(model).values())
    for n, p in model.named_parameters():
        if not p.requires_grad:
            assert torch.equal(p, frozen_before[n]), n
    assert torch.equal(model.bn.running_mean, base.bn.running_mean)


def test_merge_gives_the_base_architecture_size_macs_and_the_same_outputs():
    base = pretrained()
    base_counts = harbench.count(base, window=WINDOW, channels=CHANNELS)
    model = adapted(copy.deepcopy(base))
    randomise_updates(model)
    model.eval()
    fused = harbench.merge(model)
    assert not wrappers(fused) and wrappers(model)  # the adapted model is left as it was
    for name, conv in base.named_modules():
        if isinstance(conv, (nn.Conv1d, nn.Conv2d)):
            other = fused.get_submodule(name)
            assert type(other) is type(conv)
            for attr in ("stride", "padding", "dilation", "groups", "padding_mode"):
                assert getattr(other, attr) == getattr(conv, attr), (name, attr)
            assert (other.bias is None) == (conv.bias is None)
            assert not torch.equal(other.weight, conv.weight)
    counts = harbench.count(fused, window=WINDOW, channels=CHANNELS)
    assert (counts["params"], counts["macs"]) == (base_counts["params"], base_counts["macs"])
    shapes = [tuple(p.shape) for p in fused.parameters()]
    assert shapes == [tuple(p.shape) for p in base.parameters()]
    x = inputs(8)
    with torch.no_grad():
        assert (fused(x) - model(x)).abs().max() < 1e-5
        assert (fused(x) - base(x)).abs().max() > 1e-3


def test_update_is_the_tt_contraction_in_the_documented_mode_order():
    torch.manual_seed(3)
    conv = nn.Conv2d(6, 8, (3, 2), groups=2, dilation=(2, 1), padding=(2, 1))
    full = tt_decompose(conv.weight, rank=100)
    # full TT-SVD ranks reproduce the kernel; modes are (in/groups, k1, k2, out)
    assert [c.shape[1] for c in full] == [3, 3, 2, 8]
    rebuilt = tl.tt_to_tensor([c.numpy() for c in full])
    np.testing.assert_allclose(
        np.moveaxis(rebuilt, -1, 0), conv.weight.detach().double().numpy(), atol=1e-10
    )
    assert tt_ranks((3, 3, 2, 8), 4) == [1, 3, 4, 4, 1]
    layer = TTConvUpdate(copy.deepcopy(conv), rank=4, init="zero", train_all=False)
    randomise_updates(layer)
    cores = [c.detach().double().numpy() for c in layer.input_cores]
    last = layer.update.detach().double().numpy()[:, :, None]
    delta = np.moveaxis(tl.tt_to_tensor(cores + [last]), -1, 0)
    x = torch.randn(2, 6, 11, 7)
    expected = F.conv2d(x, conv.weight + torch.from_numpy(delta).float(), conv.bias,
                        padding=(2, 1), dilation=(2, 1), groups=2)
    with torch.no_grad():
        assert (layer(x) - expected).abs().max() < 1e-5
        assert (layer.fused()(x) - expected).abs().max() < 1e-5


def test_grouped_and_dilated_conv1d_fuse_correctly():
    torch.manual_seed(4)
    conv = nn.Conv1d(8, 12, 3, groups=4, dilation=3, stride=2, padding=3)
    layer = TTConvUpdate(copy.deepcopy(conv), rank=2, init="zero", train_all=False)
    assert layer.update.shape == (2, 12)
    x = torch.randn(3, 8, 40)
    with torch.no_grad():
        assert torch.equal(layer(x), conv(x))
        randomise_updates(layer)
        fused = layer.fused()
        assert fused.groups == 4 and fused.dilation == (3,) and fused.stride == (2,)
        expected = F.conv1d(x, conv.weight + layer.delta(), conv.bias, stride=2, padding=3,
                            dilation=3, groups=4)
        assert (fused(x) - expected).abs().max() < 1e-5
        assert (layer(x) - expected).abs().max() < 1e-5
        assert (fused(x) - conv(x)).abs().max() > 1e-3


def test_ablation_options():
    base = pretrained()
    x = inputs()
    every = adapted(copy.deepcopy(base), train_all_cores=True)
    for wrapper in wrappers(every).values():
        assert all(p.requires_grad for p in wrapper.input_cores)
        assert not wrapper.base.weight.requires_grad

    noisy = adapted(copy.deepcopy(base), init="random").eval()
    with torch.no_grad():
        assert (noisy(x) - base(x)).abs().max() > 0
    assert all(torch.count_nonzero(w.update) > 0 for w in wrappers(noisy).values())

    unfused = adapted(copy.deepcopy(base), fuse=False)
    assert harbench.merge(unfused) is unfused and wrappers(unfused)

    only = adapted(copy.deepcopy(base), targets=["grouped", "image"])
    assert set(wrappers(only)) == {"grouped", "image"}

    # stem modes (in, k, out) = (3, 5, 16): TT-SVD caps the ranks at r_1 = 3, r_2 = 3 * 5 = 15
    wide = adapted(copy.deepcopy(base), rank=1000)
    assert tt_ranks((3, 5, 16), 1000) == [1, 3, 15, 1]
    assert wrappers(wide)["stem"].update.shape == (15, 16)
    assert [tuple(c.shape) for c in wrappers(wide)["stem"].input_cores] == [(1, 3, 3), (3, 5, 15)]


def test_bad_input_is_refused_with_a_clear_message():
    with pytest.raises(HarbenchError, match="found no Conv1d, Conv2d layer"):
        adapted(LinearNet())
    with pytest.raises(HarbenchError, match="rank"):
        adapted(pretrained(), rank=0)
    with pytest.raises(HarbenchError, match="init"):
        adapted(pretrained(), init="ones")
    with pytest.raises(HarbenchError, match="targets"):
        adapted(pretrained(), targets=["nowhere"])
    with pytest.raises(HarbenchError, match="already"):
        adapted(adapted(pretrained()))


def test_adapter_state_loads_into_a_fresh_adaptation_of_the_same_backbone():
    plugin = get_plugin("methods", "lora_edge")
    base = pretrained()
    model = adapted(copy.deepcopy(base))
    randomise_updates(model)
    with torch.no_grad():
        model.head.weight.add_(0.5)
    state = plugin.adapter_state(model)
    fresh = adapted(copy.deepcopy(base))
    plugin.load_adapter_state(fresh, state)
    x = inputs()
    model.eval()
    fresh.eval()
    with torch.no_grad():
        assert torch.equal(fresh(x), model(x))


def test_resnet1d_at_hapt_shapes_adapts_every_conv_and_fuses_back():
    torch.manual_seed(0)
    base = harbench.build_model("resnet1d", channels=6, window=200, classes=12).eval()
    base.requires_grad_(False)
    base_counts = harbench.count(base, window=200, channels=6)
    model = adapted(copy.deepcopy(base))  # default rank 2
    convs = [n for n, m in base.named_modules() if isinstance(m, nn.Conv1d)]
    assert set(wrappers(model)) == set(convs)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    head = sum(p.numel() for p in base.head.parameters())
    updates = sum(w.update.numel() for w in wrappers(model).values())
    assert updates == 2 * sum(base.get_submodule(n).out_channels for n in convs)
    assert trainable == updates + head
    assert updates / base_counts["params"] < 0.008
    assert trainable / base_counts["params"] < 0.017
    x = torch.randn(4, 200, 6)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), base(x))
        randomise_updates(model)
        fused = harbench.merge(model)
        assert (fused(x) - model(x)).abs().max() < 1e-5
    counts = harbench.count(fused, window=200, channels=6)
    assert (counts["params"], counts["macs"]) == (base_counts["params"], base_counts["macs"])
    # the share with and without the classifier head (the head trains fully under LoRA-Edge)
    shares = trainable_shares(base_counts, harbench.count(model, window=200, channels=6))
    assert shares["trainable_share"] == pytest.approx(trainable / base_counts["params"])
    assert shares["trainable_share_no_head"] == pytest.approx(
        updates / (base_counts["params"] - head))
    assert shares["trainable_share_no_head"] < shares["trainable_share"]
