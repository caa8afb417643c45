"""Ways PEFT silently corrupts results on custom (non-transformers) models, and how harbench
handles each: every test first shows the trap with peft or torch alone, then harbench's answer."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import harbench
from harbench.api import ModelInfo, attach_info
from harbench.contracts import HarbenchError


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def backbone(model: nn.Module, **targets: tuple[str, ...]) -> nn.Module:
    """Give an in-test model the record harbench.build_model attaches to a built one."""
    return attach_info(model, ModelInfo(type(model).__name__, head="head", targets=targets)).eval()


def peft_lora(model: nn.Module, targets) -> nn.Module:
    """peft's LoRA alone, with non-zero B so the adapter visibly contributes."""
    from peft import LoraConfig, get_peft_model

    wrapped = get_peft_model(model, LoraConfig(r=2, target_modules=targets))
    torch.manual_seed(1)
    for name, p in wrapped.named_parameters():
        if "lora_B" in name:
            nn.init.normal_(p)
    return wrapped


def perturb_adapters(model: nn.Module) -> None:
    torch.manual_seed(2)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.requires_grad and "lora_B" in name:
                p.normal_()


class EncoderNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.layer(x).mean(dim=1))


class AttentionNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.attn(x, x, x, need_weights=False)[0].mean(dim=1))


class ConvNet(nn.Module):
    def __init__(self, **conv):
        super().__init__()
        self.conv = nn.Conv1d(4, 4, 3, **conv)
        self.head = nn.Linear(4, 3)

    def forward(self, x):  # [B, T, C]
        return self.head(self.conv(x.transpose(1, 2)).mean(dim=-1))


def test_a_fused_encoder_layer_ignores_lora_in_eval_and_harbench_refuses_it():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 8)
    base = EncoderNet().eval()
    adapted = peft_lora(copy.deepcopy(base), ["linear1", "linear2"])
    adapted.train()
    assert (adapted(x) - base(x)).abs().max() > 1e-2  # the slow path applies LoRA
    adapted.eval()  # fast path: eval mode, frozen weights -> torch._transformer_encoder_layer_fwd
    torch.testing.assert_close(adapted(x), base(x), atol=1e-6, rtol=0)  # LoRA silently gone

    with pytest.raises(
        HarbenchError,
        match=r"layer\.linear1 belongs to torch\.nn\."
        r"TransformerEncoderLayer 'layer'.*fast path",
    ):
        harbench.adapt(backbone(EncoderNet()), "lora", targets=["linear1", "linear2"])
    with pytest.raises(HarbenchError, match="found no"):  # nor does "all-linear" pick them up
        harbench.adapt(backbone(EncoderNet()), "lora", targets="all-linear")


def test_a_harbench_mae_applies_lora_in_eval():
    torch.manual_seed(0)
    model = harbench.build_model(
        "mae",
        channels=3,
        window=20,
        classes=3,
        dim=8,
        depth=1,
        heads=2,
        decoder_dim=8,
        decoder_depth=1,
        patch=5,
    ).eval()
    base = copy.deepcopy(model)
    adapted = harbench.adapt(model, "lora").eval()
    x = torch.randn(2, 20, 3)
    with torch.no_grad():
        torch.testing.assert_close(adapted(x), base(x), atol=1e-6, rtol=0)
        perturb_adapters(adapted)
        assert (adapted(x) - base(x)).abs().max() > 1e-2


def test_b_lora_on_multihead_attention_out_proj_is_ignored_and_refused():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 8)
    base = AttentionNet().train()
    adapted = peft_lora(copy.deepcopy(base), ["out_proj"]).train()
    assert "lora" in type(adapted.base_model.model.attn.out_proj).__module__  # wrapped ...
    torch.testing.assert_close(adapted(x), base(x), atol=1e-6, rtol=0)  # ... and never called

    with pytest.raises(
        HarbenchError,
        match=r"attn\.out_proj belongs to torch\.nn\."
        r"MultiheadAttention 'attn'.*silently ignored",
    ):
        harbench.adapt(backbone(AttentionNet()), "lora", targets=["out_proj"])


class TwoLinear(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 8)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(torch.relu(self.body(x)).mean(dim=1))


def test_c_all_linear_never_wraps_the_head():
    from peft import LoraConfig, get_peft_model
    from peft.tuners.tuners_utils import BaseTunerLayer

    peft_only = get_peft_model(TwoLinear(), LoraConfig(r=2, target_modules="all-linear"))
    assert isinstance(peft_only.base_model.model.head, BaseTunerLayer)  # peft wraps the head

    for targets in ("all-linear", "all", ["body", "head"]):
        adapted = harbench.adapt(backbone(TwoLinear()), "lora", targets=targets)
        head = adapted.base_model.model.head
        assert type(head) is nn.Linear
        assert all(p.requires_grad for p in head.parameters())
        assert isinstance(adapted.base_model.model.body, BaseTunerLayer)
    family_with_head = backbone(TwoLinear(), adapter=("body", "head"))
    adapted = harbench.adapt(family_with_head, "dora")
    assert type(adapted.base_model.model.head) is nn.Linear


def test_d_qlora_weights_are_really_4bit_and_use_peft_4bit_lora():
    import bitsandbytes as bnb
    from peft.tuners.lora.bnb import Linear4bit as LoraLinear4bit

    # the trap: a Linear4bit holds float weights until it is moved with .to(device)
    layer = bnb.nn.Linear4bit(64, 32, compute_dtype=torch.float32, quant_type="nf4")
    assert layer.weight.quant_state is None and layer.weight.dtype == torch.float32

    model = harbench.build_model(
        "mae",
        channels=3,
        window=20,
        classes=3,
        dim=64,
        depth=1,
        heads=2,
        decoder_dim=8,
        decoder_depth=1,
        patch=5,
    )
    frozen_linears = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    adapted = harbench.adapt(model, "qlora")
    inner = adapted.base_model.model
    assert inner.is_loaded_in_4bit is True
    lora_layers = [n for n, m in inner.named_modules() if isinstance(m, LoraLinear4bit)]
    assert sorted(lora_layers) == ["blocks.0.attn.q", "blocks.0.attn.v"]
    quantised = [m for m in inner.modules() if isinstance(m, bnb.nn.Linear4bit)]
    # every frozen Linear but the head: the LoRA layers wrap one each
    assert len(quantised) == len(frozen_linears) - 1
    assert all(
        isinstance(m.get_base_layer(), bnb.nn.Linear4bit)
        for m in inner.modules()
        if isinstance(m, LoraLinear4bit)
    )
    for layer in quantised:
        weight = layer.weight
        assert isinstance(weight, bnb.nn.Params4bit) and weight.bnb_quantized
        assert weight.dtype == torch.uint8 and weight.quant_state is not None
        assert weight.quant_state.quant_type == "nf4" and weight.quant_state.nested
    assert type(inner.head) is nn.Linear and inner.head.weight.dtype == torch.float32


def test_e_grouped_and_dilated_convs_are_refused_by_lora_and_handled_by_loha():
    torch.manual_seed(0)
    x = torch.randn(3, 12, 4)
    # the trap: peft's LoRA conv branch drops the dilation -> the merged layer is another function
    dilated = ConvNet(dilation=2, padding="same")
    adapted = peft_lora(copy.deepcopy(dilated), ["conv"])
    with torch.no_grad():
        unmerged = adapted(x)
        assert (adapted.merge_and_unload()(x) - unmerged).abs().max() > 1e-3
    # ... and it cannot merge a grouped conv at all
    grouped = peft_lora(ConvNet(groups=2, padding=1), ["conv"])
    with pytest.raises(NotImplementedError):
        grouped.merge_and_unload()

    for method in ("lora", "dora"):
        with pytest.raises(HarbenchError, match=r"conv is a dilated Conv1d \(dilation=\(2,\)\)"):
            harbench.adapt(backbone(ConvNet(dilation=2, padding="same")), method, targets=["conv"])
        with pytest.raises(HarbenchError, match=r"conv is a grouped Conv1d \(groups=2\)"):
            harbench.adapt(backbone(ConvNet(groups=2, padding=1)), method, targets=["conv"])

    for conv in (
        {"dilation": 2, "padding": "same"},
        {"groups": 2, "padding": 1},
        {"groups": 4, "dilation": 2, "padding": 2},
    ):
        for method in ("loha", "lokr"):
            base = backbone(ConvNet(**conv))
            adapted = harbench.adapt(copy.deepcopy(base), method, targets=["conv"]).eval()
            with torch.no_grad():
                for name, p in adapted.named_parameters():
                    if p.requires_grad and "head" not in name:
                        p.add_(0.3 * torch.randn_like(p))
                out = adapted(x)
                assert (out - base(x)).abs().max() > 1e-3
                torch.testing.assert_close(harbench.merge(adapted)(x), out, atol=1e-5, rtol=0)


def test_non_zero_padding_modes_are_refused():
    model = backbone(ConvNet(padding=1, padding_mode="reflect"))
    with pytest.raises(HarbenchError, match="padding_mode='reflect'"):
        harbench.adapt(model, "loha", targets=["conv"])
