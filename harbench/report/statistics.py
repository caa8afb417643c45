"""Summary statistics and tests: mean ± std, 95% CI, paired tests, Friedman + post-hoc, Pareto."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harbench.contracts import HarbenchError

PAIRED_TESTS = ("wilcoxon", "ttest")


@dataclass(frozen=True)
class Summary:
    mean: float
    std: float
    n: int
    ci_low: float | None = None
    ci_high: float | None = None


def summarise(values: Sequence[float], *, ci: bool = False) -> Summary:
    """Mean, sample std (0 for one value), n and optionally the t-based 95% CI of the mean."""
    n = len(values)
    if n == 0:
        return Summary(math.nan, math.nan, 0)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    if not ci or n < 2:
        return Summary(mean, std, n)
    from scipy import stats

    half = stats.t.ppf(0.975, n - 1) * std / math.sqrt(n)
    return Summary(mean, std, n, float(mean - half), float(mean + half))


@dataclass(frozen=True)
class PairedTest:
    test: str
    n_pairs: int
    mean_difference: float
    p_value: float | None


def paired_test(values: Sequence[float], reference: Sequence[float], test: str = "wilcoxon"
                ) -> PairedTest:
    """Two-sided paired test of ``values`` against ``reference`` (same order = same pairing).

    ``wilcoxon``: Wilcoxon signed-rank (scipy); ``ttest``: paired t-test (scipy). The p-value is
    None with fewer than two pairs or when every difference is zero.
    """
    if test not in PAIRED_TESTS:
        raise HarbenchError(f"--test {test!r}: use one of {', '.join(PAIRED_TESTS)}")
    if len(values) != len(reference):
        raise ValueError("paired samples differ in length")
    diffs = [a - b for a, b in zip(values, reference)]
    n = len(diffs)
    mean_diff = sum(diffs) / n if n else math.nan
    if n < 2 or all(d == 0 for d in diffs):
        return PairedTest(test, n, mean_diff, None)
    from scipy import stats

    if test == "wilcoxon":
        p = float(stats.wilcoxon(values, reference).pvalue)
    else:
        p = float(stats.ttest_rel(values, reference).pvalue)
    return PairedTest(test, n, mean_diff, None if math.isnan(p) else p)


@dataclass(frozen=True)
class RankTest:
    """Friedman test over a blocks x treatments table plus a post-hoc p-value matrix."""

    methods: list[str]
    blocks: int
    statistic: float
    p_value: float
    average_ranks: dict[str, float]
    posthoc: str
    pairwise_p: list[list[float]]
    alpha: float


def friedman_posthoc(table: Sequence[Sequence[float]], methods: list[str], *,
                     alpha: float = 0.05, posthoc: str = "nemenyi") -> RankTest:
    """Friedman chi-square (scipy) and a post-hoc test (scikit-posthocs) on ``table``.

    ``table[i][j]`` is the score of ``methods[j]`` on block (dataset) ``i``; higher is better, so
    rank 1 is the best method. ``posthoc``: 'nemenyi' or 'conover' (Friedman post-hocs).
    """
    if len(methods) < 3:
        raise HarbenchError(
            f"a critical-difference diagram needs at least 3 methods; the selection has "
            f"{len(methods)} ({', '.join(methods)})"
        )
    if len(table) < 2:
        raise HarbenchError(
            f"a critical-difference diagram needs at least 2 datasets (blocks) with every method; "
            f"the selection has {len(table)}"
        )
    import numpy as np
    import scikit_posthocs as sp
    from scipy import stats

    data = np.asarray(table, dtype=float)
    result = stats.friedmanchisquare(*data.T)
    ranks = stats.rankdata(-data, axis=1).mean(axis=0)
    functions = {"nemenyi": sp.posthoc_nemenyi_friedman, "conover": sp.posthoc_conover_friedman}
    if posthoc not in functions:
        raise HarbenchError(f"--posthoc {posthoc!r}: use one of {', '.join(functions)}")
    matrix = functions[posthoc](data)
    return RankTest(
        methods=list(methods),
        blocks=len(table),
        statistic=float(result.statistic),
        p_value=float(result.pvalue),
        average_ranks={m: float(r) for m, r in zip(methods, ranks)},
        posthoc=posthoc,
        pairwise_p=np.asarray(matrix, dtype=float).tolist(),
        alpha=alpha,
    )


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated points, cost (x) minimised and score (y) maximised.

    A point is dominated when another has cost <= and score >= with at least one strict. The
    indices come back sorted by increasing cost.
    """
    front = []
    for i, (x, y) in enumerate(points):
        dominated = any(
            (x2 <= x and y2 >= y) and (x2 < x or y2 > y)
            for j, (x2, y2) in enumerate(points)
            if j != i
        )
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: (points[i][0], -points[i][1]))


def as_json(value: Any) -> Any:
    """Dataclasses of this module as dicts."""
    from dataclasses import asdict, is_dataclass

    return asdict(value) if is_dataclass(value) else value
