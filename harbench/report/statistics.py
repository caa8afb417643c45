"""Summary statistics and tests: mean ± std, 95% CI, paired tests over units with bootstrap
intervals and Holm's correction, Friedman + post-hoc, Pareto. Conventions: docs/statistics.md."""

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


MIN_UNITS_FOR_TEST = 5
TOO_FEW_UNITS = f"too few units (n < {MIN_UNITS_FOR_TEST}) for a test"
CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 9999
BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class Estimate:
    """A summary over independent units with its 95% bootstrap interval (None below 2 units)."""

    value: float
    n: int
    ci_low: float | None = None
    ci_high: float | None = None

    @property
    def width(self) -> float | None:
        return None if self.ci_low is None else self.ci_high - self.ci_low


def bootstrap_interval(values: Sequence[float], *, seed: int = BOOTSTRAP_SEED
                       ) -> tuple[float, float] | None:
    """The 95% bootstrap interval of the mean of ``values`` (scipy.stats.bootstrap, BCa, seeded;
    percentile where BCa is undefined) over the sorted values, so the order they come in does not
    matter. None below two values; (v, v) when all values are equal."""
    if len(values) < 2:
        return None
    if max(values) == min(values):
        return float(values[0]), float(values[0])
    import inspect
    import warnings

    import numpy as np
    from scipy import stats

    data = (np.sort(np.asarray(values, dtype=float)),)  # the same interval in any order
    # scipy >= 1.15 names the generator `rng`, older releases `random_state`
    name = "rng" if "rng" in inspect.signature(stats.bootstrap).parameters else "random_state"
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = stats.bootstrap(data, np.mean, confidence_level=CONFIDENCE,
                                     n_resamples=BOOTSTRAP_RESAMPLES, method=method,
                                     **{name: np.random.default_rng(seed)})
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
        if math.isfinite(low) and math.isfinite(high):
            return low, high
    return None


def mean_estimate(values: Sequence[float]) -> Estimate:
    """Mean over units with its bootstrap interval."""
    if not values:
        return Estimate(math.nan, 0)
    interval = bootstrap_interval(values)
    mean = sum(values) / len(values)
    return Estimate(mean, len(values), *(interval or (None, None)))


def geometric_estimate(ratios: Sequence[float]) -> Estimate:
    """Geometric mean of positive ratios with the interval bootstrapped on their logarithms."""
    logs = [math.log(r) for r in ratios if r is not None and r > 0]
    if not logs:
        return Estimate(math.nan, 0)
    interval = bootstrap_interval(logs)
    value = math.exp(sum(logs) / len(logs))
    if interval is None:
        return Estimate(value, len(logs))
    return Estimate(value, len(logs), math.exp(interval[0]), math.exp(interval[1]))


def range_estimate(values: Sequence[float]) -> Estimate:
    """Mean with the smallest and largest value as its interval: for measures that do not vary
    by chance (parameter counts), where the spread is between datasets, not sampling error."""
    if not values:
        return Estimate(math.nan, 0)
    return Estimate(sum(values) / len(values), len(values), float(min(values)),
                    float(max(values)))


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1); None stays None and
    does not count in the family."""
    tested = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(tested)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, index) in enumerate(tested):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[index] = running
    return adjusted


@dataclass(frozen=True)
class UnitComparison:
    """A method against a reference over paired units: mean difference, its bootstrap interval
    and the paired test's p-value (None with a ``note`` when no test is possible)."""

    n_units: int
    mean_difference: float
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    note: str = ""


def compare_units(values: Sequence[float], reference: Sequence[float], test: str = "wilcoxon"
                  ) -> UnitComparison:
    """Paired comparison of per-unit means (same order = same unit)."""
    diffs = [a - b for a, b in zip(values, reference, strict=True)]
    estimate = mean_estimate(diffs)
    note, p = "", None
    if len(diffs) < MIN_UNITS_FOR_TEST:
        note = TOO_FEW_UNITS
    else:
        p = paired_test(values, reference, test).p_value
        if p is None:
            note = "every paired difference is zero"
    return UnitComparison(len(diffs), estimate.value, estimate.ci_low, estimate.ci_high, p, note)


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
