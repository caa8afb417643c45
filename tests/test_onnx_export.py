"""Every built-in backbone exports to ONNX with PyTorch's logits; a model that cannot export
is a clear error naming each exporter's failure."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from harbench import blocks
from harbench.artifacts import onnx_export
from harbench.contracts import HarbenchError

BACKBONES = [
    ("tinierhar", {"filters": 4, "hidden": 8}),  # residual separable convs + BiGRU + attention
    ("tinyhar", {}),
    ("deepconvlstm", {}),
    ("convnet1d", {}),
    ("resnet1d", {}),
    ("mae", {}),
]


@pytest.mark.parametrize("name, params", BACKBONES, ids=[b[0] for b in BACKBONES])
def test_each_backbone_exports_with_pytorchs_logits(name, params, tmp_path):
    torch.manual_seed(0)
    model = blocks.build_model(name, channels=6, window=32, classes=5, **params).eval()
    X = torch.randn(8, 32, 6)
    exported = onnx_export.export(model, X, tmp_path / "m.onnx")
    with torch.no_grad():
        reference = model(X).numpy()
    assert abs(onnx_export.onnx_logits(exported.path, X) - reference).max() < 1e-4
    assert abs(onnx_export.onnx_logits(exported.path, X[:1]) - reference[:1]).max() < 1e-4
    assert exported.describe()["opset"] == onnx_export.OPSET
    timing = onnx_export.latency(exported.path, 32, 6, repeats=20, warmup=2)
    assert 0 < timing["median_ms"] <= timing["p95_ms"]


def test_lora_edge_fused_model_exports(tmp_path):
    torch.manual_seed(0)
    backbone = blocks.build_model("resnet1d", channels=6, window=32, classes=5)
    adapted = blocks.adapt(backbone, "lora_edge")
    for p in adapted.parameters():  # a trained update, not the zero-initialised one
        if p.requires_grad:
            p.data.normal_(0, 0.1)
    fused = blocks.merge(adapted).eval()
    X = torch.randn(8, 32, 6)
    with torch.no_grad():
        assert (fused(X) - adapted.eval()(X)).abs().max() < 1e-4
        reference = fused(X).numpy()
    exported = onnx_export.export(fused, X, tmp_path / "fused.onnx")
    assert abs(onnx_export.onnx_logits(exported.path, X) - reference).max() < 1e-4


class SignBranch(nn.Module):
    """Control flow on the data: a trace keeps one branch, torch.export refuses it."""

    def __init__(self):
        super().__init__()
        self.head = nn.Linear(3, 2)

    def forward(self, x):
        if x.sum() > 0:
            return self.head(x.mean(1))
        return -self.head(x.mean(1))


def test_a_model_that_cannot_export_gets_a_clear_message(tmp_path):
    X = torch.randn(8, 16, 3)
    X[0] += 5  # the traced example is positive ...
    X[1] += 5
    X[2:] -= 5  # ... the checked batch is not
    with pytest.raises(HarbenchError) as info:
        onnx_export.export(SignBranch().eval(), X, tmp_path / "m.onnx")
    message = str(info.value)
    assert message.startswith("cannot export to ONNX")
    assert "torchscript:" in message and "dynamo:" in message
    assert not (tmp_path / "m.onnx").exists()
