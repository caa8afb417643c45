"""A masked-autoencoder transformer over time patches, for self-supervised pretraining + PEFT.

Tokens: the window [B, T, C] is cut into N = T // patch non-overlapping patches of ``patch``
samples; a window whose length is not a multiple of ``patch`` is cropped (``fit: crop``, the
trailing T % patch samples are dropped) or zero-padded at the end (``fit: pad``). Each patch
(patch x C values, time-major) is embedded by Linear(patch*C -> dim) and a learned positional
embedding is added.

Encoder: ``depth`` pre-norm transformer blocks, written with explicit ``nn.Linear`` layers
``q``, ``k``, ``v``, ``proj`` (attention output) and ``fc1``, ``fc2`` (GELU MLP), so an adapter
can wrap any of them and no fused attention path can bypass it; then a LayerNorm (``norm``).
Classification: mean of the encoded tokens -> ``head`` (Linear(dim -> K)).

Pretraining (``pretrain_loss``): per sample, a random ``mask_ratio`` of the patches is hidden;
the encoder sees the visible patches only (with their positional embeddings); a light decoder
(``decoder``: Linear(dim -> decoder_dim), a learned mask token for every hidden patch, its own
positional embedding, ``decoder_depth`` blocks, Linear -> patch*C) reconstructs every patch; the
loss is the mean squared error over the MASKED patches only. Targets are the input patches as
given (harbench z-scores every channel on the training subjects), or, with ``norm_target``, each
patch normalised by its own mean and standard deviation.

Sizes come from ``preset`` ("small": dim 64, depth 4, heads 4, decoder 32 x 1, ~0.2M parameters,
pretrains in minutes on a CPU; "base": dim 256, depth 6, heads 8, decoder 128 x 2, ~5M
parameters, for GPUs); ``dim``, ``depth``, ``heads``, ``decoder_dim`` and ``decoder_depth`` given
explicitly override the preset. The decoder only serves pretraining: ``pretrain_modules`` names
it, so a pretrained checkpoint leaves it out and ``harbench.pretrain.strip_pretraining`` removes
it before fine-tuning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harbench.contracts import HarbenchError, ModelPlugin
from harbench.settings import PluginParams, setting

if TYPE_CHECKING:
    from torch import nn

PRESETS: dict[str, dict[str, int]] = {
    "small": {"dim": 64, "depth": 4, "heads": 4, "decoder_dim": 32, "decoder_depth": 1},
    "base": {"dim": 256, "depth": 6, "heads": 8, "decoder_dim": 128, "decoder_depth": 2},
}
FITS = ("crop", "pad")


def _size(params: dict[str, Any]) -> dict[str, int]:
    preset = params.pop("preset")
    if preset not in PRESETS:
        raise HarbenchError(f"model 'mae' parameter 'preset' must be one of {sorted(PRESETS)}, "
                            f"got {preset!r}")
    sizes = dict(PRESETS[preset])
    for key in sizes:
        value = params.pop(key)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise HarbenchError(f"model 'mae' parameter {key!r} must be an integer >= 1, "
                                f"got {value!r}")
        sizes[key] = value
    if sizes["dim"] % sizes["heads"]:
        raise HarbenchError(f"model 'mae': dim {sizes['dim']} is not divisible by "
                            f"heads {sizes['heads']}")
    return sizes


def _size_field(doc: str, most: int) -> Any:
    return setting(None, f"{doc} (null: from the preset)", kind="int", min=1, max=most)


@dataclass(frozen=True)
class MAEParams(PluginParams):
    """MAE's parameters."""

    preset: str = setting(
        "small", "small (dim 64, depth 4, heads 4) | base (dim 256, depth 6, heads 8)",
        choices=tuple(PRESETS),
    )
    dim: Any = _size_field("token width", 4096)
    depth: Any = _size_field("encoder blocks", 64)
    heads: Any = _size_field("attention heads", 64)
    decoder_dim: Any = _size_field("pretraining decoder width", 4096)
    decoder_depth: Any = _size_field("pretraining decoder blocks", 64)
    patch: int = setting(10, "samples per patch (10 = 0.2 s at 50 Hz)", min=1, max=10_000)
    fit: str = setting(
        "crop", "window not a multiple of patch: crop the tail | pad it with zeros", choices=FITS
    )
    mlp_ratio: float = setting(4.0, "MLP hidden width / dim", min=0, min_exclusive=True, max=64)
    dropout: float = setting(
        0.0, "dropout probability after attention and MLP", min=0, max=1, max_exclusive=True
    )
    norm_target: bool = setting(False, "reconstruct per-patch-normalised patches, not raw ones")


class MAE(ModelPlugin):
    name = "mae"
    description = "masked-autoencoder transformer over time patches (q/k/v/proj/fc1/fc2 Linears)"
    params = MAEParams
    head = "head"
    targets = {
        "adapter": ("q", "v"),
        "linear": ("q", "k", "v", "proj", "fc1", "fc2"),
        "attention": ("q", "k", "v", "proj"),
        "mlp": ("fc1", "fc2"),
        "conv": (),
    }

    def build(self, *, channels: int, window: int, classes: int, params: MAEParams) -> nn.Module:
        params = params.to_dict()
        sizes = _size(params)
        patch, fit = params.pop("patch"), params.pop("fit")
        if not isinstance(patch, int) or patch < 1:
            raise HarbenchError(f"model 'mae' parameter 'patch' must be an integer >= 1, "
                                f"got {patch!r}")
        if fit not in FITS:
            raise HarbenchError(f"model 'mae' parameter 'fit' must be one of {FITS}, got {fit!r}")
        if window < patch:
            raise HarbenchError(f"model 'mae': the window ({window} samples) is shorter than "
                                f"one patch ({patch} samples)")
        from .net import MAENet

        return MAENet(channels, window, classes, patch=patch, fit=fit, **sizes, **params)


PLUGINS = (MAE,)
