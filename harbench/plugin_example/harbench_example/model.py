"""The example_net backbone: two 1-D convolutions and a linear head (network in network.py)."""

from __future__ import annotations

from dataclasses import dataclass

from harbench.contracts import ModelPlugin
from harbench.settings import PluginParams, setting


@dataclass(frozen=True)
class ExampleNetParams(PluginParams):
    """example_net's parameters: one field per setting, each with its range and doc line."""

    width: int = setting(16, "channels of each convolution", min=1, max=1024)


class ExampleNet(ModelPlugin):
    name = "example_net"
    description = "two Conv1d-BN-ReLU blocks, global average pooling, a linear head"
    version = "1"  # bump when what build() computes changes
    params = ExampleNetParams
    head = "head"
    targets = {"conv": ("conv1", "conv2"), "linear": ()}

    def build(self, *, channels: int, window: int, classes: int, params: ExampleNetParams):
        from harbench_example.network import Net

        return Net(channels, classes, width=params.width)
