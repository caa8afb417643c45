"""The backbones' fast kernels compute what the plain modules compute.

Every built-in backbone runs once with its fast paths (the default) and once under
``plain_kernels()`` (every conv/pool module called as it is): outputs, gradients and BatchNorm
statistics agree within 1e-5 in train and eval mode (in float64, where the rounding of the two
summation orders is far below the tolerance and any difference in the maths is not: a bias before a
train-mode BatchNorm has a true gradient of 0 and a float32 one of rounding noise ~3e-5), and the
float32 logits agree within 1e-5; parameter counts, MACs and state_dict keys
are the same; and a 1x1 conv that an adapter wrapped is called (its update is not skipped).
"""

from __future__ import annotations

import copy
from unittest import mock

import pytest
import torch
from torch import nn

import harbench
from harbench.measure.counting import count
from harbench_models._kernels import max_pool_half, plain_kernels, pointwise

MODELS = ("tinierhar", "tinyhar", "deepconvlstm", "convnet1d", "resnet1d", "mae")
SMALL = {"mae": {"dim": 32, "depth": 2, "heads": 2, "decoder_dim": 16, "decoder_depth": 1}}
# an odd window: the halving max-pools must drop the last step as nn.MaxPool does
CHANNELS, WINDOW, CLASSES = 6, 63, 5
TOLERANCE = 1e-5


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def build(name: str) -> nn.Module:
    torch.manual_seed(0)
    return harbench.build_model(
        name, channels=CHANNELS, window=WINDOW, classes=CLASSES, **SMALL.get(name, {})
    )


def run(model: nn.Module, x: torch.Tensor, train: bool) -> tuple[torch.Tensor, dict, torch.Tensor]:
    """Logits, parameter gradients and input gradient of one forward/backward pass."""
    model.train(train)
    x = x.clone().requires_grad_(True)
    torch.manual_seed(1)  # the same dropout masks on both sides
    logits = model(x)
    (logits * torch.linspace(-1, 1, logits.numel()).view_as(logits)).sum().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return logits.detach(), grads, x.grad


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("name", MODELS)
def test_fast_outputs_and_gradients_equal_the_plain_computation(name, train):
    fast_model = build(name).double()
    plain_model = copy.deepcopy(fast_model)
    x = torch.randn(16, WINDOW, CHANNELS, generator=torch.Generator().manual_seed(2)).double()
    fast = run(fast_model, x, train)
    with plain_kernels():
        plain = run(plain_model, x, train)
    assert max_diff(fast[0], plain[0]) <= TOLERANCE
    assert fast[1] and fast[1].keys() == plain[1].keys()
    for key in fast[1]:
        assert max_diff(fast[1][key], plain[1][key]) <= TOLERANCE, key
    assert max_diff(fast[2], plain[2]) <= TOLERANCE
    for (key, a), b in zip(fast_model.state_dict().items(), plain_model.state_dict().values()):
        assert max_diff(a.double(), b.double()) <= TOLERANCE, key  # BatchNorm running statistics


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("name", MODELS)
def test_float32_logits_equal_the_plain_computation(name, train):
    fast_model = build(name)
    plain_model = copy.deepcopy(fast_model)
    x = torch.randn(16, WINDOW, CHANNELS, generator=torch.Generator().manual_seed(3))
    fast = run(fast_model, x, train)
    with plain_kernels():
        plain = run(plain_model, x, train)
    assert max_diff(fast[0], plain[0]) <= TOLERANCE


@pytest.mark.parametrize("name", MODELS)
def test_counts_macs_and_state_dict_keys_do_not_depend_on_the_kernels(name):
    model = build(name)
    fast = count(model, window=WINDOW, channels=CHANNELS)
    with plain_kernels():
        plain = count(model, window=WINDOW, channels=CHANNELS)
    assert fast == plain and fast["macs"] > 0
    state = model.state_dict()
    reloaded = build(name)
    reloaded.load_state_dict(state, strict=True)


# Conv2d modules run as convs per forward pass: (fast, plain). TinierHAR: six depthwise convs
# stay convs, its six pointwise and two shortcut 1x1 convs become matmuls; TinyHAR and
# DeepConvLSTM: the first (one-channel) conv becomes a matmul.
CONV_CALLS = {"tinierhar": (6, 14), "tinyhar": (3, 4), "deepconvlstm": (3, 4)}


@pytest.mark.parametrize("name", sorted(CONV_CALLS))
def test_the_fast_paths_are_taken(name):
    model = build(name)
    x = torch.randn(4, WINDOW, CHANNELS)
    with mock.patch.object(nn.Conv2d, "_conv_forward", autospec=True,
                           side_effect=nn.Conv2d._conv_forward) as conv_calls:
        model(x)
        fast_calls = conv_calls.call_count
        with plain_kernels():
            model(x)
        plain_calls = conv_calls.call_count - fast_calls
    assert (fast_calls, plain_calls) == CONV_CALLS[name]


def test_tinierhar_keeps_conv_shaped_weights():
    model = build("tinierhar")
    state = model.state_dict()
    assert state["blocks.0.conv.pointwise.weight"].shape == (4, 1, 1, 1)
    assert state["blocks.1.shortcut.conv.weight"].shape == (8, 4, 1, 1)
    assert state["blocks.5.conv.pointwise.weight"].shape == (8, 8, 1, 1)


def test_a_lora_wrapped_pointwise_conv_is_called_not_bypassed():
    model = build("tinierhar").eval()
    adapted = harbench.adapt(model, "lora")
    wrapped = [m for n, m in adapted.named_modules() if n.endswith("blocks.2.conv.pointwise")]
    assert wrapped and type(wrapped[0]) is not nn.Conv2d
    with torch.no_grad():  # a non-zero update, so skipping the adapter would change the output
        for name, p in adapted.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn_like(p))
    calls = []
    wrapped[0].register_forward_hook(lambda *args: calls.append(1))
    x = torch.randn(4, WINDOW, CHANNELS)
    adapted.eval()
    with torch.no_grad():
        fast = adapted(x)
        with plain_kernels():
            plain = adapted(x)
    assert len(calls) == 2
    assert max_diff(fast, plain) <= TOLERANCE


def test_a_hooked_conv_or_pool_takes_the_module_path():
    conv, pool = nn.Conv2d(3, 5, 1), nn.MaxPool2d((2, 1))
    x = torch.randn(2, 3, 9, 4)
    seen = []
    conv.register_forward_hook(lambda *args: seen.append("conv"))
    pool.register_forward_hook(lambda *args: seen.append("pool"))
    assert max_diff(pointwise(conv, x), nn.functional.conv2d(x, conv.weight, conv.bias)) <= 1e-6
    assert torch.equal(max_pool_half(pool, x), nn.functional.max_pool2d(x, (2, 1)))
    assert seen == ["conv", "pool"]


def test_pair_max_gives_the_gradient_to_the_first_of_equal_values():
    x = torch.tensor([[[1.0, 1.0, 3.0, 2.0, 0.0, 5.0, 7.0]]])  # [1, 1, 7]: ties, odd length
    a, b = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    out = max_pool_half(nn.MaxPool1d(2), a)
    ref = nn.functional.max_pool1d(b, 2)
    assert torch.equal(out, ref)
    out.sum().backward()
    ref.sum().backward()
    assert torch.equal(a.grad, b.grad)
    assert a.grad.tolist() == [[[1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0]]]
