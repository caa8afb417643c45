"""QLoRA: 4-bit NF4 frozen weights (double quantisation) on the CPU, their memory, merge, reload."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

import harbench
from harbench.api import ModelInfo, attach_info
from harbench.contracts import HarbenchError
from harbench.measure.memory import frozen_weight_bytes


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def mae(seed: int = 0, **size) -> nn.Module:
    torch.manual_seed(seed)
    params = {
        "dim": 64,
        "depth": 2,
        "heads": 2,
        "decoder_dim": 16,
        "decoder_depth": 1,
        "patch": 5,
        **size,
    }
    return harbench.build_model("mae", channels=3, window=20, classes=4, **params).eval()


def test_frozen_bytes_count_4bit_weights_as_4_bits_plus_scales():
    plain = nn.Sequential(nn.Linear(640, 96), nn.Linear(96, 4)).requires_grad_(False)
    assert frozen_weight_bytes(plain) == 4 * (640 * 96 + 96 + 96 * 4 + 4)
    plain[1].requires_grad_(True)  # trainable parameters are not frozen weight
    assert frozen_weight_bytes(plain) == 4 * (640 * 96 + 96)

    from harbench_methods.qlora.nf4 import quantise_linears

    quantise_linears(plain, ["0"], torch.device("cpu"))
    n, blocks = 640 * 96, 640 * 96 // 64
    # packed nibbles + one uint8 scale per 64 weights + float32 scale per 256 scales + offset,
    # and the code tables bitsandbytes allocates for this layer: 16 NF4 levels, 256-entry map
    expected = n // 2 + blocks + 4 * math.ceil(blocks / 256) + 4 + 4 * (16 + 256) + 4 * 96
    assert frozen_weight_bytes(plain) == expected


def test_qlora_frozen_weights_take_at_most_a_fifth_of_lora_s():
    model = mae()
    lora = harbench.adapt(copy.deepcopy(model), "lora")
    qlora = harbench.adapt(copy.deepcopy(model), "qlora")
    ratio = frozen_weight_bytes(qlora) / frozen_weight_bytes(lora)
    assert ratio <= 0.2
    # same logical size and the same trainable parameters
    a = harbench.count(lora, window=20, channels=3)
    b = harbench.count(qlora, window=20, channels=3)
    assert (a["params"], a["trainable"]) == (b["params"], b["trainable"])


def test_merge_gives_a_float_model_with_the_dequantised_weights():
    import bitsandbytes as bnb

    model = mae()
    adapted = harbench.adapt(copy.deepcopy(model), "qlora")
    merged = harbench.merge(adapted)
    assert not any(isinstance(m, bnb.nn.Linear4bit) for m in merged.modules())
    assert not getattr(merged, "is_loaded_in_4bit", False)
    # LoRA B starts at zero: the merged weights are the NF4-rounded originals (blockwise error
    # well under the block's largest weight), not garbage from a wrong layout
    original = dict(model.named_parameters())
    for name, p in merged.named_parameters():
        assert p.dtype == torch.float32 and p.shape == original[name].shape
        if name.endswith(".weight") and p.dim() == 2 and not name.startswith("head"):
            error = (p - original[name]).abs().max()
            assert 0 < error <= 0.2 * original[name].abs().max()
    x = torch.randn(3, 20, 3)
    with torch.no_grad():
        torch.testing.assert_close(merged(x), adapted.eval()(x), atol=1e-4, rtol=0)


def test_eval_forward_on_the_cpu_keeps_the_nf4_double_quant_format():
    adapted = harbench.adapt(mae(), "qlora").eval()
    before = frozen_weight_bytes(adapted)
    x = torch.randn(2, 20, 3)  # the patch embedding is Linear(15 -> 64): not a multiple of 64
    with torch.no_grad():
        first = adapted(x)
        torch.testing.assert_close(adapted(x), first, atol=0, rtol=0)
    embed = adapted.base_model.model.embed
    assert embed.weight.quant_state.nested
    assert not getattr(embed.weight.quant_state, "packing_format_for_cpu", False)
    assert frozen_weight_bytes(adapted) == before


def test_a_checkpoint_of_the_4bit_model_loads_back_and_refuses_other_weights():
    adapted = harbench.adapt(mae(seed=0), "qlora")
    x = torch.randn(2, 20, 3)
    checkpoint = copy.deepcopy(adapted.state_dict())
    with torch.no_grad():
        expected = adapted.eval()(x)
        for p in adapted.parameters():
            if p.requires_grad:
                p.add_(1.0)
        adapted.load_state_dict(checkpoint)  # what the training loop does for its best epoch
        torch.testing.assert_close(adapted(x), expected, atol=0, rtol=0)
    other = harbench.adapt(mae(seed=1), "qlora")
    with pytest.raises(RuntimeError, match="differs from the frozen 4-bit layer"):
        other.load_state_dict(checkpoint)


class ConvOnly(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(3, 8, 3)
        self.head = nn.Linear(8, 4)
        attach_info(self, ModelInfo("conv_only", head="head"))

    def forward(self, x):
        return self.head(self.conv(x.transpose(1, 2)).mean(dim=-1))


def test_qlora_refuses_backbones_without_a_linear_target():
    with pytest.raises(HarbenchError, match="no Linear layer matching"):
        harbench.adapt(ConvOnly(), "qlora", targets="all")
    with pytest.raises(HarbenchError, match="conv is a Conv1d; this method adapts Linear"):
        harbench.adapt(ConvOnly(), "qlora", targets=["conv"])
