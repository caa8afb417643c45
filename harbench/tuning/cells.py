"""The tuning block of every cell of a suite, checked at validate: where trials are scored
(development targets apart from the reported ones) and one budget for every method compared.
"""

from __future__ import annotations

from typing import Any

from harbench import plugins
from harbench.contracts import HarbenchError
from harbench.spec import RunSpec
from harbench.suite.located import Where
from harbench.tuning import studies
from harbench.tuning.block import Tuning, check_value


def resolve(where: Where, block: dict[str, Any] | None, overrides: list[Any], methods: list[Any],
            specs: list[RunSpec]) -> dict[str, Tuning | None]:
    """run_id -> the cell's checked tuning block (None: untuned); raises a located error for a
    development target that is also reported, or methods of one comparison with unequal
    budgets. A method that trains nothing (``trains = False``: ``none``, ``adabn``) has no
    setting a trial could change, so it is never tuned and no budget is asked of it."""
    parsed: dict[str, Tuning | None] = {}
    out: dict[str, Tuning | None] = {}
    for spec in specs:
        given = studies.cell_block(block, overrides, spec)
        text = repr(sorted(given.items())) if given is not None else "None"
        if text not in parsed:
            parsed[text] = studies.parse_cell(where, given, methods)
        tuning = parsed[text] if trains(spec.method) else None
        out[spec.run_id] = tuning
        if tuning is not None:
            _check_targets(where, tuning, spec)
            _check_model_dimensions(where, tuning, spec)
    _check_budgets(where, specs, out)
    return out


def trains(method: str) -> bool:
    """Whether the method plugin trains anything (its ``trains`` declaration)."""
    try:
        return bool(getattr(plugins.get("methods", method), "trains", True))
    except HarbenchError:  # an unknown method is reported by the suite checks
        return True


def _check_targets(where: Where, tuning: Tuning, spec: RunSpec) -> None:
    subjects = spec.subjects or list(plugins.get("datasets", spec.dataset).subjects)
    why = studies.check_dev_targets(tuning, spec.protocol, subjects)
    if why:
        key = ("tuning", "dev_targets") if tuning.dev_targets else ("tuning",)
        raise where.error(key, f"{spec.dataset}: {why}")


def _check_model_dimensions(where: Where, tuning: Tuning, spec: RunSpec) -> None:
    """``model.<param>`` dimensions checked against the cell's backbone (the block alone does
    not know which backbones it applies to)."""
    for key, dim in tuning.space_of(spec.method).items():
        if dim.part != "model":
            continue
        for value in dim.values:
            try:
                check_value(dim, value, spec.method, spec.model)
            except HarbenchError as exc:
                at = ("tuning", "methods", spec.method, key) if key in tuning.methods.get(
                    spec.method, {}) else ("tuning", "space", key)
                raise where.error(at, f"{value!r} for {key}: {exc}") from None


def _check_budgets(where: Where, specs: list[RunSpec], tuning_of: dict[str, Tuning | None]
                   ) -> None:
    training = [s for s in specs if trains(s.method)]
    for budgets in studies.budgets_by_comparison(training, tuning_of).values():
        if len(set(budgets.values())) > 1:
            listed = ", ".join(f"{m}: {n}" for m, n in sorted(budgets.items()))
            raise where.error(("tuning", "trials"),
                              f"the methods of one comparison get unequal tuning budgets "
                              f"({listed} trials; 0 = untuned): every method compared must be "
                              f"tuned with the same number of trials (check the overrides that "
                              f"set tuning)")
