"""LoRA-Edge (arXiv 2511.03765): a Tensor-Train update of pre-trained conv kernels, fused after.

For every targeted ``Conv1d``/``Conv2d`` with pre-trained kernel ``W0`` of shape
``[out, in/groups, *kernel]``:

1. ``W0`` is permuted to the mode order ``(in/groups, k_1[, k_2], out)`` — input side first, the
   output channels last — and decomposed by TT-SVD (tensorly, PyTorch backend, float64) into
   cores ``G_1 .. G_d``; every TT rank is ``rank``, capped by the TT-SVD limits
   ``r_j <= min(prod(n_1..n_j), prod(n_j+1..n_d))``.
2. The input-side cores ``G_1 .. G_{d-1}`` are kept frozen. The output-side core is replaced by a
   trainable update core ``U`` of shape ``[r_{d-1}, out]`` that starts at zero.
3. The layer convolves with ``W0 + dW``, where ``dW`` is the TT contraction of the frozen cores with
   ``U``, permuted back to the kernel layout. With ``U = 0`` the adapted model is exactly the
   pre-trained one at step 0.
4. ``merge`` fuses ``W0 + dW`` into a plain dense conv with the same stride, padding, dilation,
   groups and bias: the deployed model has the backbone's architecture, size and MACs.

The head trains fully; BatchNorm affine parameters stay frozen. The method's own BatchNorm
policy is "frozen" (the paper's abstract says only the output-side core is updated and does not
say what happens to BatchNorm statistics); a run uses it when its ``bn_policy`` setting is
"method", and by default updates the statistics as for every other method. The trainable state
(``adapter_state``) is the update cores plus the head.

The frozen cores come out of TT-SVD with a canonical sign (the largest entry of every left
singular vector is positive), so a given ``W0`` gives the same cores up to rounding (barring
repeated singular values), and an ``adapter_state`` can be loaded into a freshly adapted copy of
the same backbone.

Default rank 2: on the 1-D conv backbones at HAPT shapes (6 channels, 200 samples, 12 classes)
the update cores are under 0.8% of the backbone's parameters and, with the fully trained head,
the trainable share is about 1.6% (resnet1d) to 2.0% (convnet1d); rank 4 doubles the cores' part.

The torch code (TT-SVD, the update wrapper, fusion) is ``tt_conv.py`` beside this file, imported
when the method runs; this module declares the method without importing torch.

Ablations: ``train_all_cores`` (the input-side cores train too), ``init="random"`` (the update
core starts at ``N(0, (0.1 * std(W0))^2)`` instead of zero), ``fuse=False`` (``merge`` returns
the unfused model).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harbench.contracts import HarbenchError, ModelInfo, adapted_info
from harbench.settings import PluginParams, setting

from .._base import LayerSupport, Method, targets_field

if TYPE_CHECKING:
    from torch import nn

# the kernel is applied by the layer's own _conv_forward: any groups, dilation or padding mode
CONV_SUPPORT = LayerSupport(types=("Conv1d", "Conv2d"), any_padding=True)
INITS = ("zero", "random")


@dataclass(frozen=True)
class LoRAEdgeParams(PluginParams):
    """LoRA-Edge's parameters: the TT rank and the three ablation switches."""

    rank: int = setting(2, "TT rank of every bond (capped by what TT-SVD can realise)", min=1)
    train_all_cores: bool = setting(False, "ablation: the input-side cores train too")
    init: str = setting(
        "zero", "update core start: zero, or random N(0, (0.1 std W0)^2)", choices=INITS
    )
    fuse: bool = setting(True, "merge fuses the update into dense convs (False: keep it apart)")
    targets: Any = targets_field(
        "default",
        "convs to adapt: 'default' (the backbone's 'conv' family, else every conv outside "
        "the head), a family, a module-name suffix, or a list of them",
    )


class LoRAEdge(Method):
    name = "lora_edge"
    description = "LoRA-Edge: TT-SVD of conv kernels, zero-initialised output-side core, fused"
    bn_policy = "frozen"
    needs = ("conv",)
    params = LoRAEdgeParams

    def adapt(self, model: nn.Module, info: ModelInfo, params: LoRAEdgeParams) -> nn.Module:
        from .._base import require_trainable, set_submodule, train_only
        from .._targets import resolve_targets
        from .tt_conv import TTConvUpdate

        if any(isinstance(m, TTConvUpdate) for m in model.modules()):
            raise HarbenchError(
                f"method 'lora_edge': {type(model).__name__} is already adapted by lora_edge; "
                "adapt the pre-trained backbone, or merge first"
            )
        names = resolve_targets(
            model, info, params.targets, self.name, CONV_SUPPORT, default=("conv",)
        )
        train_only(model, info)
        for name in names:
            wrapper = TTConvUpdate(
                model.get_submodule(name),
                rank=params.rank,
                init=params.init,
                train_all=params.train_all_cores,
            )
            set_submodule(model, name, wrapper)
        return require_trainable(model, self.name)

    def merge(self, model: nn.Module) -> nn.Module:
        """A copy of ``model`` with every TT update fused into a dense conv (unless fuse=False)."""
        from .._base import set_submodule
        from .tt_conv import TTConvUpdate

        if not adapted_info(model).params["fuse"]:
            return model
        fused = copy.deepcopy(model)
        wrappers = [n for n, m in fused.named_modules() if isinstance(m, TTConvUpdate)]
        for name in wrappers:
            set_submodule(fused, name, fused.get_submodule(name).fused())
        return fused


PLUGINS = (LoRAEdge,)
