"""AdaBN (Li et al., 2016): re-estimate every BatchNorm layer's running statistics on the
adaptation windows; no gradient step, no trainable parameter.

Before evaluation (``calibrate``) the running mean and variance of every BatchNorm layer that
tracks them are reset and re-estimated from the run's training part alone (the target's
adaptation windows; never its validation or test windows): the model is put in eval mode (dropout
off), only the BatchNorm layers in train mode with ``momentum=None`` (a cumulative average), and
the windows pass forward under ``torch.no_grad``. With ``batch_size`` null (the default) they
pass in one batch, so each layer's statistics are exactly the mean and (unbiased) variance of its
inputs over the adaptation windows; a number averages the statistics of batches of about that
size instead (for memory). Weights, biases and BN affine parameters stay as pretrained.

How it differs from ``norm``: ``norm`` trains the affine parameters of the normalisation layers
(and the head) by gradient descent, the BN statistics following the data as a side effect of
training; ``adabn`` takes no gradient step at all and changes nothing but the statistics.

A backbone without a BatchNorm layer is refused at validate (``check_backbone``), naming the
backbone: on it the method would be ``none`` under another name. The adapter state is the
re-estimated statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harbench.contracts import INFO_ATTRIBUTE, AdaptedInfo, HarbenchError, ModelInfo
from harbench.settings import PluginParams, setting

from ._base import Method

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class AdaBNParams(PluginParams):
    """AdaBN's parameters."""

    batch_size: int | None = setting(
        None, "windows per forward pass while the statistics are re-estimated; null: all "
        "adaptation windows in one pass (exact statistics)", kind="int", min=2, nullable=True,
    )


def batch_norm_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, layer) of every BatchNorm layer of ``model`` that keeps running statistics."""
    from torch import nn

    return [(name, m) for name, m in model.named_modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


class AdaBN(Method):
    name = "adabn"
    description = "AdaBN: re-estimate BatchNorm statistics on the adaptation windows, no training"
    params = AdaBNParams
    bn_policy = "update"  # the statistics follow the adaptation windows (set by calibrate)
    trains = False

    def check_backbone(self, model: nn.Module, params: Any) -> str | None:
        if batch_norm_layers(model):
            return None
        name = getattr(getattr(model, INFO_ATTRIBUTE, None), "name", type(model).__name__)
        return (f"backbone {name!r} has no BatchNorm layer with running "
                "statistics, so AdaBN would change nothing (it would be method 'none'); use "
                "'none' or a backbone with BatchNorm")

    def adapt(self, model: nn.Module, info: ModelInfo, params: Any) -> nn.Module:
        from ._base import freeze

        reason = self.check_backbone(model, params)
        if reason:
            raise HarbenchError(f"method 'adabn' on model {info.name!r}: {reason}")
        freeze(model)
        return model

    def calibrate(self, model: nn.Module, windows: Any) -> None:
        """Reset and re-estimate every BatchNorm layer's running statistics on ``windows``."""
        import torch

        if len(windows) == 0:
            raise HarbenchError("method 'adabn': no adaptation window to estimate statistics on")
        layers = [m for _, m in batch_norm_layers(model)]
        record = getattr(model, INFO_ATTRIBUTE, None)
        params = record.params if isinstance(record, AdaptedInfo) else {}
        size = params.get("batch_size") or len(windows)
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        momenta = [m.momentum for m in layers]
        try:
            model.eval()  # dropout off
            for m in layers:
                m.reset_running_stats()
                m.momentum = None  # cumulative average over the batches
                m.train()
            with torch.no_grad():
                for batch in torch.tensor_split(windows, -(-len(windows) // size)):
                    model(batch.to(device))
        finally:
            for m, momentum in zip(layers, momenta):
                m.momentum = momentum
            model.eval()

    def adapter_state(self, model: nn.Module) -> dict[str, Any]:
        """The re-estimated statistics of every BatchNorm layer."""
        state = {}
        for name, m in batch_norm_layers(model):
            for key, buf in m.named_buffers(recurse=False):
                state[f"{name}.{key}" if name else key] = buf.detach().clone()
        return state


PLUGINS = (AdaBN,)
