"""What every built-in method shares, without importing torch: the base class, layer support,
parameter fields used by several methods, freezing and adapter-state helpers.

Not a plugin (the leading underscore keeps it out of discovery). Torch is imported inside the
helpers that need it, when a method runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from harbench.contracts import HarbenchError, MethodPlugin, ModelInfo
from harbench.settings import PluginParams, setting

if TYPE_CHECKING:
    from torch import nn

# shorthands for ``targets``; neither includes the head nor pretraining-only modules
ALL_LINEAR = "all-linear"  # every nn.Linear
ALL_LAYERS = "all"  # every layer of the types the method supports

# the target families a method may need (ModelPlugin.targets keys)
LINEAR_AND_CONV = ("linear", "conv")  # any one of them will do


@dataclass(frozen=True)
class NoParams(PluginParams):
    """A method without parameters."""


class Method(MethodPlugin):
    """A built-in method: ``params`` (a :class:`~harbench.settings.PluginParams` dataclass) is the
    one declaration; ``adapt`` receives an instance of it, resolved."""

    params: ClassVar[type[PluginParams]] = NoParams
    # target families (ModelPlugin.targets keys) of which the backbone must declare at least one
    # non-empty family for this method to adapt it; () adapts any backbone
    needs: ClassVar[tuple[str, ...]] = ()

    def adapter_state(self, model: Any) -> dict[str, Any]:
        """The trainable parameters, and the BatchNorm running statistics when the run updates
        them (``bn_policy`` "update"): both are needed to reproduce the trained model."""
        return {**super().adapter_state(model), **running_statistics(model)}

    def load_adapter_state(self, model: Any, state: dict[str, Any]) -> None:
        load_plain_state(model, state, self.name)


@dataclass(frozen=True)
class LayerSupport:
    """Which layers a method can adapt, and which conv variants it computes (and merges) correctly.

    ``types`` names ``torch.nn`` classes (resolved on use, so declaring costs no torch import).
    ``grouped_conv``/``dilated_conv`` False: the method refuses convs with ``groups > 1`` or
    ``dilation != 1`` instead of silently computing something else; ``any_padding`` False: it
    refuses convs whose ``padding_mode`` is not "zeros" (an adapter branch pads with zeros).
    """

    types: tuple[str, ...] = ("Linear", "Conv1d", "Conv2d")
    grouped_conv: bool = True
    dilated_conv: bool = True
    any_padding: bool = False

    @property
    def classes(self) -> tuple[type, ...]:
        from torch import nn

        return tuple(getattr(nn, name) for name in self.types)

    def describe(self) -> str:
        return ", ".join(self.types)


LINEAR_ONLY = LayerSupport(types=("Linear",), grouped_conv=False, dilated_conv=False)

# --- parameter fields shared by several methods ---------------------------------------------------

TARGETS_DOC = (
    "layers to adapt: 'default' (the backbone's 'adapter' family, else its 'linear' and 'conv' "
    "families), a family the backbone declares, 'all-linear', 'all', a module-name suffix, or a "
    "list of families and suffixes"
)


def targets_field(default: Any = "default", doc: str = TARGETS_DOC) -> Any:
    return setting(default, doc, kind="names")


def rank_field(default: int, doc: str = "adapter rank") -> Any:
    return setting(default, doc, min=1, max=4096)


def alpha_field(doc: str) -> Any:
    return setting(None, doc, kind="float", min=0, min_exclusive=True, nullable=True)


def dropout_field(doc: str = "dropout probability on the adapter branch") -> Any:
    return setting(0.0, doc, min=0, max=1, max_exclusive=True)


# --- freezing -----------------------------------------------------------------------------------


def freeze(model: nn.Module) -> None:
    for p in model.parameters():
        p.requires_grad_(False)


def unfreeze_modules(model: nn.Module, names: Iterable[str]) -> None:
    """Make the parameters of the named submodules trainable."""
    modules = dict(model.named_modules())
    for name in names:
        if name not in modules:
            raise HarbenchError(f"model has no submodule {name!r}")
        for p in modules[name].parameters():
            p.requires_grad_(True)


def trainable_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def require_trainable(model: nn.Module, method: str) -> nn.Module:
    """Fail loudly when a method left nothing to train."""
    if trainable_count(model) == 0:
        raise HarbenchError(
            f"method {method!r} adapted nothing: the model has no trainable parameter"
        )
    return model


def train_only(model: nn.Module, info: ModelInfo, names: Iterable[str] = ()) -> nn.Module:
    """Freeze everything, then make the named submodules and the head trainable."""
    freeze(model)
    unfreeze_modules(model, [*names, info.head])
    return model


def in_head(name: str, head: str) -> bool:
    return name == head or name.startswith(head + ".")


def matches_suffix(name: str, suffixes: Iterable[str]) -> bool:
    """Whether a dotted module name equals one of ``suffixes`` or ends with ``.suffix``."""
    return any(name == s or name.endswith("." + s) for s in suffixes)


def set_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    """Replace the submodule called ``name`` (dotted) by ``module``."""
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


# --- adapter state ------------------------------------------------------------------------------


def running_statistics(model: nn.Module, owner: nn.Module | None = None) -> dict[str, Any]:
    """The BatchNorm running statistics of ``model`` ({state-dict key: tensor}) when they are
    part of what training changed: the adapted model ``owner`` (default ``model``) trains with
    ``bn_policy`` "update", or carries no record saying otherwise. Else {}."""
    from torch import nn

    from harbench.contracts import AdaptedInfo

    record = getattr(owner if owner is not None else model, "harbench_info", None)
    if isinstance(record, AdaptedInfo) and record.bn_policy != "update":
        return {}
    state = {}
    for name, module in model.named_modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            for key, buf in module.named_buffers(recurse=False):
                state[f"{name}.{key}" if name else key] = buf.detach().clone()
    return state


def load_plain_state(model: nn.Module, state: dict[str, Any], method: str) -> None:
    """Load an adapter state of parameters and buffers keyed like ``model.state_dict()``."""
    unknown = set(state) - set(model.state_dict())
    if unknown:
        raise HarbenchError(
            f"adapter state of {method!r} names unknown entries: {sorted(unknown)[:5]}"
        )
    model.load_state_dict(state, strict=False)
