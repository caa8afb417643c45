"""(IA)^3 through peft: a learned vector rescales each target's output, or its input for the
targets named by ``feedforward`` ("default": the backbone's "feedforward" family, else none).

Linear layers only: a conv target is refused with its name. Nothing to merge but the vectors,
which peft folds into the weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harbench.contracts import HarbenchError, ModelInfo
from harbench.settings import PluginParams, setting

from .._base import LINEAR_ONLY, matches_suffix, targets_field
from .._peft import PeftMethod


@dataclass(frozen=True)
class IA3Params(PluginParams):
    """(IA)^3's parameters."""

    targets: Any = targets_field()
    feedforward: Any = setting(
        "default",
        "targets whose input (not output) is rescaled: 'default' (the backbone's 'feedforward' "
        "family), a suffix or a list of suffixes",
        kind="names",
    )


class IA3(PeftMethod):
    name = "ia3"
    description = "(IA)^3 (peft): learned rescaling vectors on Linear layers"
    support = LINEAR_ONLY
    needs = ("linear",)
    params = IA3Params
    peft_config = "IA3Config"

    def config_fields(self, info: ModelInfo, targets: list[str], params: Any) -> dict[str, Any]:
        from .._targets import exact_names_pattern

        return {"feedforward_modules": exact_names_pattern(self.feedforward(info, targets, params))}

    @staticmethod
    def feedforward(info: ModelInfo, targets: list[str], params: IA3Params) -> list[str]:
        """The targets whose input (not output) is rescaled."""
        wanted = params.feedforward
        if wanted in (None, "", "default"):
            return [t for t in targets if matches_suffix(t, info.family("feedforward"))]
        suffixes = [wanted] if isinstance(wanted, str) else list(wanted)
        chosen = [t for t in targets if matches_suffix(t, suffixes)]
        if not chosen:
            raise HarbenchError(
                f"method 'ia3' parameter 'feedforward' {suffixes} names none of its targets "
                f"{targets}"
            )
        return chosen


PLUGINS = (IA3,)
