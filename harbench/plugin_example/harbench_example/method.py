"""The "last_n" method: train the last ``n`` layers with parameters (the head is last)."""

from __future__ import annotations

from dataclasses import dataclass

from harbench.contracts import MethodPlugin, ModelInfo
from harbench.settings import PluginParams, setting


@dataclass(frozen=True)
class LastNParams(PluginParams):
    """The parameters of "last_n"."""

    n: int = setting(2, "how many of the last parameterised layers train", min=1)


class ExampleLastN(MethodPlugin):
    name = "last_n"
    description = "freeze everything but the last n parameterised layers"
    version = "1"  # bump when what adapt() computes changes
    params = LastNParams
    needs = ()  # any backbone: it adapts whatever layers come last
    bn_policy = "frozen"

    def adapt(self, model, info: ModelInfo, params: LastNParams):
        """``info`` (the backbone's head and target families) is unused: position decides."""
        layers = [m for m in model.modules() if any(True for _ in m.parameters(recurse=False))]
        for p in model.parameters():
            p.requires_grad_(False)
        for layer in layers[-params.n:]:
            for p in layer.parameters(recurse=False):
                p.requires_grad_(True)
        return model
