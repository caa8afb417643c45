"""MAC and parameter counting: the convention checked against formulas written in the test, and
recurrent layers counted the same whether or not the RNN kernel is visible to the flop counter."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from harbench import build_model, count
from harbench.measure.counting import parameter_counts

SHAPES = [(6, 200, 12), (3, 80, 6), (77, 120, 18)]  # HAPT, WISDM, OPPORTUNITY (C, T, K)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models on a shared machine: one intra-op thread avoids oversubscription stalls."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tinierhar_macs(c: int, t: int, k: int, m: int = 4, n: int = 16) -> int:
    t2, t4 = t // 2, t // 4
    block1 = t * c * 5 + m * t * c * 1 + m * t * c * 1  # depthwise, pointwise, shortcut
    block2 = m * t2 * c * 5 + 2 * m * t2 * c * m + 2 * m * t2 * c * m
    blocks36 = 4 * (2 * m * t4 * c * 5 + 2 * m * t4 * c * 2 * m)
    bigru = 2 * t4 * 3 * n * (2 * m * c + n)
    return block1 + block2 + blocks36 + bigru + t4 * 2 * n + 2 * n * k


def unpadded_lengths(t: int) -> list[int]:
    lengths = [t - 4]
    lengths.append((lengths[-1] - 5) // 2 + 1)
    lengths.append(lengths[-1] - 4)
    lengths.append((lengths[-1] - 5) // 2 + 1)
    return lengths


def tinyhar_macs(c: int, t: int, k: int, f: int = 20) -> int:
    l1, l2, l3, l4 = unpadded_lengths(t)
    convs = f * l1 * c * 5 + (l2 + l3 + l4) * f * c * 5 * f
    channel_attention = l4 * (3 * c * f * f + 2 * c * c * f)  # q, k, v; scores; weights @ v
    fusion = l4 * c * f * 2 * f
    lstm = l4 * 4 * 2 * f * (2 * f + 2 * f)
    temporal_attention = l4 * (2 * f * 2 * f + 2 * f)
    return convs + channel_attention + fusion + lstm + temporal_attention + 2 * f * k


def deepconvlstm_macs(c: int, t: int, k: int, f: int = 64, h: int = 128) -> int:
    l1, l2, l3, l4 = unpadded_lengths(t)
    convs = f * l1 * c * 5 + (l2 + l3 + l4) * f * c * 5 * f
    return convs + l4 * 4 * h * (f * c + h) + h * k


def mae_macs(c: int, t: int, k: int, d: int = 64, depth: int = 4, patch: int = 10) -> int:
    n = t // patch
    per_block = 4 * n * d * d + 2 * n * n * d + 2 * n * d * 4 * d
    return n * patch * c * d + depth * per_block + d * k


FORMULAS = {"tinierhar": tinierhar_macs, "tinyhar": tinyhar_macs,
            "deepconvlstm": deepconvlstm_macs, "mae": mae_macs}


@pytest.mark.parametrize("name", sorted(FORMULAS))
@pytest.mark.parametrize("shape", SHAPES)
def test_macs_follow_the_convention(name, shape):
    c, t, k = shape
    model = build_model(name, channels=c, window=t, classes=k)
    counted = count(model, window=t, channels=c)
    assert counted["macs"] == FORMULAS[name](c, t, k)
    assert counted["params"] == counted["trainable"] == sum(p.numel() for p in model.parameters())


# ---- a fused RNN kernel the flop counter cannot see --------------------------------------------


@torch.library.custom_op("harbench_test::opaque_gru", mutates_args=())
def opaque_gru(x: torch.Tensor, weights: list[torch.Tensor], hidden: int,
               bidirectional: bool) -> torch.Tensor:
    """A single-layer batch-first GRU as one opaque op, like cuDNN's fused RNN kernel."""
    h0 = x.new_zeros(2 if bidirectional else 1, x.shape[0], hidden)
    out, _ = torch.gru(x, h0, weights, True, 1, 0.0, False, bidirectional, True)
    return out


@opaque_gru.register_fake
def _opaque_gru_fake(x, weights, hidden, bidirectional):
    return x.new_empty(x.shape[0], x.shape[1], hidden * (2 if bidirectional else 1))


def plain_flop_counter_macs(model: nn.Module, x: torch.Tensor) -> int:
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    return counter.get_total_flops() // 2


def test_gru_counts_the_same_through_a_fused_kernel(monkeypatch):
    c, t, k = 6, 200, 12
    torch.manual_seed(0)
    model = build_model("tinierhar", channels=c, window=t, classes=k).eval()
    x = torch.randn(1, t, c)
    gru = model.temporal
    assert isinstance(gru, nn.GRU)
    reference_out = model(x)
    plain_visible = plain_flop_counter_macs(model, x)
    counted_visible = count(model, window=t, channels=c)["macs"]

    def fused_forward(inp, hx=None):
        out = opaque_gru(inp, list(gru._flat_weights), gru.hidden_size, gru.bidirectional)
        return out, None

    monkeypatch.setattr(gru, "forward", fused_forward)
    assert torch.allclose(model(x), reference_out, atol=1e-5)  # the same computation
    plain_fused = plain_flop_counter_macs(model, x)
    counted_fused = count(model, window=t, channels=c)["macs"]

    gru_macs = 2 * (t // 4) * 3 * 16 * (8 * c + 16)
    assert plain_visible - plain_fused == gru_macs  # the plain counter lost the whole GRU
    assert counted_fused == counted_visible == tinierhar_macs(c, t, k)


# ---- recurrent layouts -------------------------------------------------------------------------


class TimeMajorGRU(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(5, 7, num_layers=2)  # batch_first=False: [T, B, F]

    def forward(self, x):
        out, _ = self.rnn(x.transpose(0, 1))
        return out[-1]


class UnbatchedLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(5, 8, proj_size=3, bidirectional=True, batch_first=True)

    def forward(self, x):
        out, _ = self.rnn(x[0])  # unbatched [T, F]
        return out[-1:]


def test_time_major_and_multi_layer_gru():
    t = 11
    counted = count(TimeMajorGRU(), window=t, channels=5)["macs"]
    assert counted == t * (3 * 7 * (5 + 7) + 3 * 7 * (7 + 7))


@pytest.mark.filterwarnings("ignore:LSTM with projections")
def test_unbatched_bidirectional_lstm_with_projection():
    t = 9
    counted = count(UnbatchedLSTM(), window=t, channels=5)["macs"]
    per_step_and_direction = 4 * 8 * (5 + 3) + 8 * 3
    assert counted == 2 * t * per_step_and_direction


def test_parameter_counts_split_trainable():
    model = build_model("tinyhar", channels=6, window=200, classes=12)
    for p in model.parameters():
        p.requires_grad_(False)
    for p in model.head.parameters():
        p.requires_grad_(True)
    total, trainable = parameter_counts(model)
    assert total == sum(p.numel() for p in model.parameters())
    assert trainable == 40 * 12 + 12


# ---- `harbench models --count` -----------------------------------------------------------------


def test_mean_ratios_skip_demo_datasets_and_refused_shapes():
    from harbench.commands.models import Shape, mean_ratios

    shapes = [Shape("a", 3, 80, 6, False), Shape("b", 6, 200, 12, False),
              Shape("c", 9, 100, 4, False), Shape("demo", 3, 50, 4, True)]
    counts = {
        ("tinyhar", "a"): {"params": 30, "macs": 80},
        ("tinierhar", "a"): {"params": 10, "macs": 10},
        ("tinyhar", "b"): {"params": 20, "macs": 40},
        ("tinierhar", "b"): {"params": 10, "macs": 10},
        ("tinyhar", "c"): "window too short", ("tinierhar", "c"): {"params": 1, "macs": 1},
        ("tinyhar", "demo"): {"params": 99, "macs": 99},
        ("tinierhar", "demo"): {"params": 1, "macs": 1},
    }
    assert mean_ratios(counts, shapes) == {"params": 2.5, "macs": 6.0, "datasets": 2}
    assert mean_ratios(counts, shapes[3:]) is None


def test_dataset_shapes_come_from_the_registered_plugins():
    from harbench.commands.models import dataset_shapes

    shapes = {s.dataset: s for s in dataset_shapes()}
    synthetic = shapes["synthetic"]
    assert (synthetic.channels, synthetic.window, synthetic.classes) == (3, 50, 4)
    assert synthetic.demo
    assert [s.demo for s in dataset_shapes()] == sorted(s.demo for s in dataset_shapes())


def test_models_count_command_prints_counts_and_the_ratio(capsys, monkeypatch):
    import argparse

    from harbench.commands import models as command
    from harbench.commands.models import dataset_shapes

    monkeypatch.setenv("COLUMNS", "250")
    parser = argparse.ArgumentParser()
    command.add_parsers(parser.add_subparsers())
    benchmark = next(s for s in dataset_shapes() if not s.demo)
    args = parser.parse_args(["models", "--count", "--exact", "--model", "tinyhar", "--model",
                              "tinierhar", "--dataset", benchmark.dataset, "--dataset",
                              "synthetic"])
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    tiny = count(build_model("tinyhar", channels=benchmark.channels, window=benchmark.window,
                             classes=benchmark.classes),
                 window=benchmark.window, channels=benchmark.channels)
    tinier = count(build_model("tinierhar", channels=benchmark.channels,
                               window=benchmark.window, classes=benchmark.classes),
                   window=benchmark.window, channels=benchmark.channels)
    assert f"{tiny['params']:,} / {tiny['macs']:,}" in out
    assert (f"over 1 benchmark datasets: parameters {tiny['params'] / tinier['params']:.2f}x, "
            f"MACs {tiny['macs'] / tinier['macs']:.2f}x") in out
    args = parser.parse_args(["models"])
    assert args.handler(args) == 0
    assert "tinierhar" in capsys.readouterr().out


# ---- counts without the classifier head ---------------------------------------------------------


def test_counts_without_the_head_leave_out_exactly_the_head_inside_a_peft_wrapper_too():
    import copy

    from harbench import adapt
    from harbench.measure.counting import trainable_shares

    torch.manual_seed(0)
    base = build_model("tinierhar", channels=6, window=64, classes=5)
    head = sum(p.numel() for p in base.head.parameters())
    before = count(base, window=64, channels=6)
    assert before["params_no_head"] == before["params"] - head
    assert before["trainable_no_head"] == before["trainable"] - head
    adapted = adapt(copy.deepcopy(base), "lora", r=2)  # head inside base_model.model
    after = count(adapted, window=64, channels=6)
    lora = sum(p.numel() for n, p in adapted.named_parameters() if "lora_" in n)
    assert after["trainable"] == lora + head
    assert after["trainable_no_head"] == lora
    shares = trainable_shares(before, after)
    assert shares == {
        "trainable_share": pytest.approx((lora + head) / before["params"]),
        "trainable_share_no_head": pytest.approx(lora / (before["params"] - head)),
    }
    probe = adapt(copy.deepcopy(base), "linear_probe")
    assert trainable_shares(before, count(probe, window=64, channels=6))[
        "trainable_share_no_head"] == 0.0


class NestedNamesake(nn.Module):
    """A head at the top and a block that happens to call its own layer "head" too."""

    def __init__(self):
        super().__init__()
        self.block = nn.Sequential()
        self.block.head = nn.Linear(4, 4)
        self.head = nn.Linear(4, 2)


def test_the_head_to_leave_out_is_the_named_one_never_a_namesake_and_never_guessed():
    model = NestedNamesake()
    assert parameter_counts(model, without="head") == (20, 20)  # block.head stays counted
    wrapped = nn.Module()
    wrapped.inner = model
    assert parameter_counts(wrapped, without="head") == (20, 20)  # the shallowest "head"
    with pytest.raises(ValueError, match="no single submodule named 'classifier'"):
        parameter_counts(model, without="classifier")
    twins = nn.Module()
    twins.a, twins.b = NestedNamesake(), NestedNamesake()
    with pytest.raises(ValueError, match="no single submodule named 'head'"):
        parameter_counts(twins, without="head")
