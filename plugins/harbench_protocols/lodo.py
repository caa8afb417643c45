"""Leave one dataset out: the held-out dataset is evaluated with an inner protocol; the suite's
pretraining stage pools every other dataset of the matrix (``pools``). The suite parser asks
this protocol which datasets to pool and refuses held-out/pretraining pairs that share
recordings, as it does for any protocol."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harbench.contracts import DatasetPlugin, Fold, HarbenchError, ProtocolPlugin
from harbench.settings import Param, ParamError


class Lodo(ProtocolPlugin):
    name = "lodo"
    description = "leave one dataset out; `inner` splits the held-out dataset (default: its own)"
    version = "1"
    params = {
        "inner": Param(
            None,
            "protocol on the held-out dataset, e.g. {name: subject_groups, groups: 3}; "
            "null = the dataset's default protocol",
            kind="mapping",
        )
    }

    def bind(self, dataset: DatasetPlugin, params: dict[str, Any]) -> dict[str, Any]:
        from harbench.data import protocols

        inner = dict(params.get("inner") or dataset.protocol)
        if inner.get("name", protocols.DEFAULT) == self.name:
            raise HarbenchError("lodo cannot be its own inner protocol")
        try:
            return {**params, "inner": protocols.bind(dataset, inner)}
        except ParamError as exc:
            raise ParamError(f"inner {exc}", path=("inner", *exc.path)) from None

    def fold_count(self, dataset: DatasetPlugin, params: dict[str, Any]) -> int:
        from harbench.data import protocols

        return protocols.fold_count(dataset, self._inner(params))

    def folds(self, windows, params: dict[str, Any]) -> list[Fold]:
        from harbench.data import protocols

        return protocols.make_folds(windows, self._inner(params))

    def pools(self, held_out: str, datasets: Sequence[str], params: dict[str, Any]) -> list[str]:
        return [name for name in datasets if name != held_out]

    def check_suite(self, datasets: Sequence[str], pretraining: bool,
                    params: dict[str, Any]) -> None:
        if len(set(datasets)) < 2:
            raise HarbenchError("protocol lodo needs at least two datasets in matrix.datasets")
        if not pretraining:
            raise HarbenchError(
                "protocol lodo pretrains on every dataset but the held-out one: add "
                "defaults.pretrain (and defaults.window.harmonise so that all datasets share "
                "channels and rate)"
            )

    @staticmethod
    def _inner(params: dict[str, Any]) -> dict[str, Any]:
        inner = params.get("inner")
        if not inner:
            raise HarbenchError("protocol lodo: its inner protocol is not bound to a dataset")
        return dict(inner)
