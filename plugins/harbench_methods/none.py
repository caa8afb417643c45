"""No adaptation: the source model evaluated as it is (the floor every method must beat).

Nothing trains and nothing is estimated: every parameter is frozen, no training epoch runs and no
BatchNorm statistic changes, so the run scores the pretrained (source) model on the target's test
part. Under ``subject_adaptation`` with a supervised source model its ``macro_f1`` therefore equals
the run's ``source_macro_f1`` and its ``forgetting`` is 0. Without a pretraining stage it scores
the freshly built backbone (a chance-level floor). Time-to-target has no value for it (it never
trains); its adapter state is empty.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harbench.contracts import HarbenchError, ModelInfo

from ._base import Method

if TYPE_CHECKING:
    from torch import nn


class NoAdaptation(Method):
    name = "none"
    description = "no adaptation: the source model evaluated as is (no training, nothing changes)"
    bn_policy = "frozen"  # the statistics stay the source model's
    trains = False

    def adapt(self, model: nn.Module, info: ModelInfo, params: Any) -> nn.Module:
        from ._base import freeze

        freeze(model)
        return model

    def adapter_state(self, model: nn.Module) -> dict[str, Any]:
        """Nothing: the model is the source model."""
        return {}

    def load_adapter_state(self, model: nn.Module, state: dict[str, Any]) -> None:
        if state:
            raise HarbenchError(
                f"method 'none' has no adapter state; got entries {sorted(state)[:5]}"
            )


PLUGINS = (NoAdaptation,)
