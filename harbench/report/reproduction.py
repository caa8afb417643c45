"""The reproduction table: each paper's headline claim beside what the store holds.

Claims are data (a list of :class:`Claim`); a new paper adds entries to ``CLAIMS``. Published
numbers come from the papers' abstracts and whar-arena's per-dataset table.

Every row is one named variant (a method at one rank, each ablation, each backbone and budget:
never a pool of them), measured over independent units (dataset x fold, seeds averaged first, see
:mod:`harbench.report.pairing`) with a 95% interval, and given a verdict from that interval
against the published figure and its tolerance: *agrees* (the interval lies inside the accepted
region), *contradicts* (outside it) or *inconclusive* (it straddles a bound, the units are too few,
or the test sets cannot resolve a difference as small as the claim). Conventions:
docs/statistics.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harbench.report import pairing, statistics, targets
from harbench.report.configs import METHOD_KEYS, config_label, varying_keys
from harbench.report.runs import Run, load_curves, load_details, load_runs
from harbench.report.suites import compare_settings, suite_names
from harbench.store import Store

WHAR_ARENA = {  # dataset plugin -> (TinierHAR, TinyHAR, DeepConvLSTM) macro-F1, whar-arena
    "uci": (0.952, 0.961, 0.930), "hapt": (0.814, 0.810, 0.773),
    "hapt_embedded": (0.814, 0.810, 0.773), "mhealth": (0.848, 0.805, 0.780),
    "motionsense": (0.909, 0.912, 0.876), "dsads": (0.864, 0.868, 0.820),
    "wisdm": (0.838, 0.850, 0.840), "uschad": (0.757, 0.781, 0.735),
    "oppo": (0.659, 0.654, 0.622), "rw": (0.609, 0.602, 0.550), "pamap2": (0.596, 0.622, 0.558),
    "dg": (0.454, 0.439, 0.407), "sho": (0.912, 0.977, 0.911),
}
ARENA_MODELS = ("tinierhar", "tinyhar", "deepconvlstm")
VERDICTS = ("agrees", "contradicts", "inconclusive", "no claim")
NO_CLAIM = "none"  # Claim.check of a baseline row: the paper publishes no figure to check


@dataclass(frozen=True)
class Side:
    """Which runs one side of a claim takes: a method (every parameter setting of it, split into
    variants) or a backbone (its published form: the label without parameters)."""

    method: str | None = None
    model: str | None = None
    untuned: bool = False  # a method that trains nothing: never tuned, so the budget may differ

    @property
    def axis(self) -> tuple[str, ...]:
        """The spec keys that differ between this side and the other of a comparison (for a
        baseline that trains nothing also the tuning budget: it has nothing to tune)."""
        if self.model:
            return pairing.MODEL_KEYS
        return (*METHOD_KEYS, "tuning.trials") if self.untuned else METHOD_KEYS

    def select(self, runs: list[Run]) -> list[Run]:
        chosen = [r for r in runs if self.method is None or self.method in (r.method,
                                                                            r.method_label)]
        if self.model is None:
            return chosen
        plain = [r for r in chosen if r.model_label == self.model]
        return plain or [r for r in chosen if r.model == self.model]


@dataclass
class Measured:
    """One variant's figure over units, with what the row shows beside it."""

    variant: str
    estimate: statistics.Estimate
    runs: list[Run]
    seeds: str = ""
    one_window: float | None = None  # one test window's worth, in the claim's unit
    proxy: str = ""
    note: str = ""
    also: str = ""
    unreliable: str = ""  # set when the figure times noise (see targets.py)


Measure = Callable[[Store, str, list[Run], "Claim"], list[Measured]]


@dataclass(frozen=True)
class Claim:
    """One headline number of a paper and how to measure it from the store.

    ``check``: 'about' (within ``tolerance`` relative), 'at_most', 'at_least', 'range' (published
    is (low, high)), 'within' (absolute difference <= ``tolerance``) or 'none' (a baseline row
    harbench adds, such as no adaptation: ``published`` is None and the verdict "no claim").
    ``exact``: the measure does not vary by chance (parameter counts), so its interval is the
    range over units and it needs no minimum number of units. ``proxy``: how harbench's
    measure differs from the paper's.
    """

    paper: str
    suite_prefix: str
    claim: str
    published: float | tuple[float, float] | None
    check: str
    measure: Measure
    why: str
    tolerance: float = 0.25
    unit: str = ""
    exact: bool = False
    proxy: str = ""
    on_gpu: bool = False  # the paper measured on a GPU: a run on another device is a proxy


@dataclass
class ClaimRow:
    paper: str
    suite: str
    claim: str
    published: str
    measured: str
    ratio: float | None
    device: str
    runs: int
    agrees: bool | None  # True: agrees, False: contradicts, None: inconclusive
    why: str
    note: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    variant: str = ""
    n_units: int = 0
    seeds: str = ""
    interval: str = ""
    resolution: str = ""
    verdict: str = "inconclusive"
    reason: str = ""
    proxy: str = ""
    also: str = ""


# ---- variants and units -----------------------------------------------------------------------


def variants(runs: list[Run], side: Side, every: list[Run]) -> dict[str, list[Run]]:
    """The runs of ``side`` split into named variants: method label (and backbone label and any
    other setting that varies inside a dataset, optimisation settings aside); datasets and folds
    are the units inside a variant."""
    chosen = side.select(runs)
    skip = (*METHOD_KEYS, *pairing.MODEL_KEYS, *pairing.OPTIMISATION_KEYS, "tuning")
    keys = [k for k in varying_keys(every)
            if not any(k == s or k.startswith(s + ".") for s in skip)]
    models = {r.model_label for r in every}
    out: dict[str, list[Run]] = {}
    for run in chosen:
        name = run.model_label if side.model else run.method_label
        if side.model is None and len(models) > 1:
            name += f" on {run.model_label}"
        extra = config_label(run, keys)
        out.setdefault(f"{name} {extra}".strip(), []).append(run)
    return dict(sorted(out.items()))  # a method's ranks and budgets next to each other


def one_window(details: dict[str, Any] | None) -> float | None:
    """About how much macro-F1 one test window moves: 1 / (K x (2 n_min - 1)) with K the classes
    seen and n_min the smallest class's test windows (one window of that class misclassified)."""
    matrix = (details or {}).get("confusion")
    if not matrix:
        return None
    support = [sum(row) for row in matrix]
    predicted = [sum(col) for col in zip(*matrix)]
    seen = sum(1 for s, p in zip(support, predicted) if s + p > 0)
    present = [s for s in support if s > 0]
    if not seen or not present:
        return None
    return 1.0 / (seen * (2 * min(present) - 1))


def _window_resolution(store: Store, runs: list[Run], scale: float) -> float | None:
    details = load_details(store, [r.run_id for r in runs])
    per_run = {r.run_id: one_window(details.get(r.run_id)) for r in runs}
    units = pairing.unit_values(runs, lambda r: per_run.get(r.run_id))
    values = list(units.means.values())
    return scale * sum(values) / len(values) if values else None


def _devices(runs: list[Run]) -> tuple[str, ...]:
    return tuple(sorted({r.device or "?" for r in runs}))


def _metric(name: str) -> Callable[[Run], float | None]:
    return lambda run: run.metrics.get(name)


def _interval_text(estimate: statistics.Estimate, fmt: Callable[[float], str]) -> str:
    if estimate.ci_low is None:
        return ""
    return f"[{fmt(estimate.ci_low)}, {fmt(estimate.ci_high)}]"


# ---- measures -----------------------------------------------------------------------------------


def value_of(metric: str, side: Side, fallback: str | None = None,
             dataset: str | None = None) -> Measure:
    """The variant's own ``metric`` over units (``fallback`` metric, noted, when absent)."""

    def measure(store: Store, suite: str, runs: list[Run], claim: Claim) -> list[Measured]:
        chosen = [r for r in runs if dataset is None or r.dataset == dataset]
        out = []
        for name, members in variants(chosen, side, runs).items():
            for used in (metric, fallback):
                if used is None:
                    continue
                units = pairing.unit_values(members, _metric(used))
                if units.n:
                    break
            if not units.n:
                continue
            values = list(units.means.values())
            estimate = (statistics.range_estimate(values) if claim.exact
                        else statistics.mean_estimate(values))
            note = "" if used == metric else f"{metric} not stored: {used} instead"
            window = (_window_resolution(store, members, 1.0) if "f1" in metric else None)
            out.append(Measured(name, estimate, members, units.seeds_text(), window,
                                note=note))
        return out

    return measure


def ratio_of(metric: str, num: Side, den: Side, fallback: str | None = None,
             proxy: str = "") -> Measure:
    """Per unit mean(metric | variant of ``num``) / mean(metric | paired ``den``); summarised by
    the geometric mean (interval bootstrapped on log ratios; the range for exact measures).
    ``fallback`` (labelled ``proxy``) is used when no unit has ``metric``."""

    def measure(store: Store, suite: str, runs: list[Run], claim: Claim) -> list[Measured]:
        out = []
        reference = den.select(runs)
        for name, members in variants(runs, num, runs).items():
            for used in (metric, fallback):
                if used is None:
                    continue
                pairs = pairing.pair_units(members, reference, _metric(used), num.axis)
                if pairs.n:
                    break
            ratios = [a / b for a, b in zip(pairs.values, pairs.reference) if b]
            if not ratios:
                continue
            estimate = (statistics.range_estimate(ratios) if claim.exact
                        else statistics.geometric_estimate(ratios))
            fell_back = used != metric
            seeds = pairing.unit_values(members, _metric(used),
                                        lambda r: pairing.pairing_key(r, num.axis)).seeds_text()
            out.append(Measured(name, estimate, members, seeds,
                                proxy=proxy if fell_back else "",
                                note=f"{metric} not stored: {used} instead" if fell_back else ""))
        return out

    return measure


def difference_of(metric: str, side: Side, reference: Side, scale: float = 100.0,
                  also: tuple[str, str] | None = None) -> Measure:
    """Per unit (mean metric of the paired ``reference`` - mean of the variant) x ``scale``
    (points), averaged over units with a bootstrap interval; ``also`` = (metric, label) is the
    same difference of a second metric, shown beside (accuracy beside macro-F1)."""

    def gaps(members: list[Run], refs: list[Run], name: str) -> list[float]:
        pairs = pairing.pair_units(members, refs, _metric(name), side.axis)
        return [(b - a) * scale for a, b in zip(pairs.values, pairs.reference)]

    def measure(store: Store, suite: str, runs: list[Run], claim: Claim) -> list[Measured]:
        out = []
        refs = reference.select(runs)
        for name, members in variants(runs, side, runs).items():
            values = gaps(members, refs, metric)
            if not values:
                continue
            estimate = statistics.mean_estimate(values)
            text = ""
            if also is not None:
                second = statistics.mean_estimate(gaps(members, refs, also[0]))
                if second.n:
                    text = (f"{also[1]} {second.value:.1f} "
                            f"{_interval_text(second, lambda v: f'{v:.1f}')}").strip()
            window = _window_resolution(store, members, scale)
            seeds = pairing.unit_values(members, _metric(metric)).seeds_text()
            out.append(Measured(name, estimate, members, seeds, window, also=text))
        return out

    return measure


def speedup(side: Side, reference: str = "full") -> Measure:
    """Speed-up to the common target (reference cost / variant cost) in seconds, per unit the
    geometric mean over seeds, summarised by the geometric mean over units with its interval;
    optimiser steps and training MACs shown beside. The target is the suite's ``compare:``
    block's (else 0.95 x the reference's best validation F1)."""

    def measure(store: Store, suite: str, runs: list[Run], claim: Claim) -> list[Measured]:
        block = compare_settings(store, suite)
        setting = targets.TargetSetting.from_options(reference, None, None, block)
        curves = load_curves(store, [r.run_id for r in runs], stage="train")
        found = targets.common_targets(runs, curves, setting)

        def log_of(name: str) -> Callable[[Run], float | None]:
            def value(run: Run) -> float | None:
                ratio = found.get(run.run_id, {}).get(name)
                return math.log(ratio) if ratio else None
            return value

        out = []
        for variant, members in variants(runs, side, runs).items():
            scored = [r for r in members if r.run_id in found]
            per_unit = {name: pairing.unit_values(scored, log_of(name)) for name in
                        targets.RATIO_METRICS}
            seconds = [math.exp(v) for v in per_unit["speedup_to_target"].means.values()]
            if not seconds:
                continue
            estimate = statistics.geometric_estimate(seconds)
            parts = []
            for name, cost, label in (
                    ("speedup_steps_to_target", "steps_to_common_target", "steps"),
                    ("speedup_macs_to_target", "macs_to_common_target", "MACs")):
                ratios = [math.exp(v) for v in per_unit[name].means.values()]
                if ratios:
                    est = statistics.geometric_estimate(ratios)
                    costs = pairing.unit_values(scored, lambda r, c=cost: found[r.run_id][c])
                    typical = sum(costs.means.values()) / costs.n if costs.n else None
                    spent = f" ({typical:.3g} {label} to target)" if typical else ""
                    parts.append(f"{label} {est.value:.2f}x "
                                 f"{_interval_text(est, lambda v: f'{v:.2f}')}{spent}".strip())
            missed = sum(1 for r in scored if found[r.run_id]["reached"] == 0.0)
            note = f"{missed} of {len(scored)} runs never reached the target" if missed else ""
            flagged = pairing.unit_values(
                scored, lambda r: found[r.run_id].get("seconds_unreliable"))
            bad = sum(1 for v in flagged.means.values() if v > 0)
            unreliable = (f"seconds unreliable in {bad} of {flagged.n} units (the reference "
                          f"reaches the target in its first epoch or in under "
                          f"{targets.UNRELIABLE_SECONDS:g} s)" if bad else "")
            out.append(Measured(variant, estimate, members,
                                per_unit["speedup_to_target"].seeds_text(),
                                note=note, also="; ".join(parts), unreliable=unreliable))
        return out

    return measure


def source_score(metric: str = "source_macro_f1", reference: str = "full") -> Measure:
    """The source model's score before adaptation, one row per backbone. Every method of a unit
    starts from the same source model, so it is read from the runs of one method (``reference``
    where it has the score, else the first method that has it): never a pool of variants."""

    def measure(store: Store, suite: str, runs: list[Run], claim: Claim) -> list[Measured]:
        out = []
        for model in dict.fromkeys(r.model_label for r in runs):
            scored = [r for r in runs if r.model_label == model and metric in r.metrics]
            labels = sorted({r.method_label for r in scored},
                            key=lambda label: (label != reference, label))
            members = [r for r in scored if labels and r.method_label == labels[0]]
            units = pairing.unit_values(members, _metric(metric))
            if not units.n:
                continue
            name = "source model" + (f" ({model})" if len(
                {r.model_label for r in runs}) > 1 else "")
            out.append(Measured(name, statistics.mean_estimate(list(units.means.values())),
                                members, units.seeds_text(),
                                _window_resolution(store, members, 1.0)))
        return out

    return measure


def arena_f1(dataset: str, model: str) -> Measure:
    """The backbone's (as published) macro-F1 on ``dataset`` under full training."""
    return value_of("macro_f1", Side(method="full", model=model), dataset=dataset)


LORA_QLORA = "Seregina et al. 2025 (LoRA/QLoRA on MAE)"
LORA_EDGE = "Kwak et al. 2025 (LoRA-Edge)"
TINIERHAR = "Bian et al. 2025 (TinierHAR)"
CPU_WHY = "CPU twin: small data, few epochs"
RSS_PROXY = "process RSS growth on the CPU stands in for peak GPU memory"
FULL = Side(method="full")
EVERY_METHOD = Side()
BASELINE_WHY = ("a baseline harbench adds (issue 19): 'adaptation helps' is measured against the "
                "source model as is and against BatchNorm statistics alone")
FORGETTING_WHY = ("harbench's own measure: macro-F1 points the merged model lost on source "
                  "subjects held out of pretraining (protocol forget_subjects)")

CLAIMS: list[Claim] = [
    Claim(LORA_QLORA, "repro-lora-qlora-mae", "trainable parameters LoRA / full", 0.07, "about",
          ratio_of("trainable_params", Side(method="lora"), FULL),
          "the MAE size and LoRA targets of the paper are not public; the share grows with the "
          "rank", exact=True),
    Claim(LORA_QLORA, "repro-lora-qlora-mae", "GPU memory LoRA / full", 0.32, "about",
          ratio_of("cuda_peak_allocated_mb", Side(method="lora"), FULL,
                   fallback="peak_rss_over_start_mb", proxy=RSS_PROXY), CPU_WHY, on_gpu=True),
    Claim(LORA_QLORA, "repro-lora-qlora-mae", "GPU memory QLoRA / full", 0.32, "about",
          ratio_of("cuda_peak_allocated_mb", Side(method="qlora"), FULL,
                   fallback="peak_rss_over_start_mb", proxy=RSS_PROXY), CPU_WHY, on_gpu=True),
    Claim(LORA_QLORA, "repro-lora-qlora-mae", "training time LoRA / full", 0.43, "about",
          ratio_of("fit_seconds", Side(method="lora"), FULL),
          "time depends on device, model size and early stopping; a small MAE on a CPU spends "
          "little in the frozen weights' gradients", on_gpu=True),
    Claim(LORA_QLORA, "repro-lora-qlora-mae", "macro-F1 gap full - LoRA (points)", 0.0, "within",
          difference_of("macro_f1", Side(method="lora"), FULL, also=("accuracy", "accuracy gap")),
          "fewer epochs and labels in the twin; the paper's datasets and budget differ",
          tolerance=2.0, unit="pt",
          proxy="the paper's score is not public (abstract only): macro-F1, accuracy beside"),
    Claim(LORA_QLORA, "repro-lora-qlora-mae", "macro-F1 gap full - QLoRA (points)", 0.0, "within",
          difference_of("macro_f1", Side(method="qlora"), FULL, also=("accuracy", "accuracy gap")),
          "fewer epochs and labels in the twin; on a CPU bitsandbytes dequantises NF4 weights "
          "in its own CPU path, not the GPU kernels", tolerance=2.0, unit="pt",
          proxy="the paper's score is not public (abstract only): macro-F1, accuracy beside"),
    Claim(LORA_EDGE, "repro-lora-edge", "trainable share, head excluded", 0.0149, "at_most",
          value_of("trainable_share_no_head", Side(method="lora_edge"),
                   fallback="trainable_share"),
          "small backbones have a larger share of parameters in the adapted cores; whether the "
          "paper counts the head is not public", unit="%", exact=True),
    Claim(LORA_EDGE, "repro-lora-edge", "macro-F1 gap full - LoRA-Edge (points)", 4.7,
          "at_most", difference_of("macro_f1", Side(method="lora_edge"), FULL,
                                   also=("accuracy", "accuracy gap")),
          "short CPU training; the paper's backbones and data are not public", unit="pt",
          proxy="the paper says F1 (averaging not public): macro-F1, accuracy beside"),
    Claim(LORA_EDGE, "repro-lora-edge", "speed-up to the common target vs full", (1.4, 3.8),
          "range", speedup(Side(method="lora_edge")),
          "measured on a CPU, not a Jetson Orin Nano; time-to-target excludes setup (TT-SVD); "
          "short epochs make wall-clock ratios noisy, so steps and MACs are shown beside",
          proxy="CPU wall clock instead of a Jetson Orin Nano's"),
    Claim(LORA_EDGE, "repro-lora-edge", "source model macro-F1 (before adaptation)", None,
          NO_CLAIM, source_score(), BASELINE_WHY),
    Claim(LORA_EDGE, "repro-lora-edge", "macro-F1 gap full - no adaptation (points)", None,
          NO_CLAIM, difference_of("macro_f1", Side(method="none", untuned=True), FULL,
                                  also=("accuracy", "accuracy gap")), BASELINE_WHY, unit="pt"),
    Claim(LORA_EDGE, "repro-lora-edge", "macro-F1 gap full - BN statistics only (points)", None,
          NO_CLAIM, difference_of("macro_f1", Side(method="adabn", untuned=True), FULL,
                                  also=("accuracy", "accuracy gap")), BASELINE_WHY, unit="pt"),
    Claim(LORA_EDGE, "repro-lora-edge", "forgetting on held-out source subjects (points)",
          None, NO_CLAIM, value_of("forgetting", EVERY_METHOD), FORGETTING_WHY, unit="pt"),
    Claim(TINIERHAR, "repro-tinierhar", "parameters TinyHAR / TinierHAR", 2.7, "about",
          ratio_of("params", Side(model="tinyhar"), Side(model="tinierhar")),
          "parameters depend on each dataset's channels and classes", tolerance=0.15, exact=True),
    Claim(TINIERHAR, "repro-tinierhar", "MACs TinyHAR / TinierHAR", 6.4, "about",
          ratio_of("macs", Side(model="tinyhar"), Side(model="tinierhar")),
          "harbench counts convs, linears, attention and recurrent cells; ptflops also counts "
          "BatchNorm, activations and pooling", tolerance=0.25, exact=True,
          proxy="MACs by harbench's counter, not ptflops"),
    Claim(TINIERHAR, "repro-tinierhar", "parameters DeepConvLSTM / TinierHAR", 43.3, "about",
          ratio_of("params", Side(model="deepconvlstm"), Side(model="tinierhar")),
          "parameters depend on each dataset's channels and classes", tolerance=0.25, exact=True),
    Claim(TINIERHAR, "repro-tinierhar", "MACs DeepConvLSTM / TinierHAR", 58.6, "about",
          ratio_of("macs", Side(model="deepconvlstm"), Side(model="tinierhar")),
          "MAC counting conventions differ (see above)", tolerance=0.25, exact=True,
          proxy="MACs by harbench's counter, not ptflops"),
] + [
    Claim(TINIERHAR, "repro-tinierhar", f"{model} macro-F1 on {dataset} (whar-arena)",
          WHAR_ARENA[dataset][i], "within", arena_f1(dataset, model),
          "whar-arena uses class-weighted loss and 3 s windows; the twin follows the TinierHAR "
          "authors' recipe (4 s windows, plain loss, up to 100 epochs)", tolerance=0.05)
    for dataset in WHAR_ARENA for i, model in enumerate(ARENA_MODELS)
]


# ---- verdicts ---------------------------------------------------------------------------------


def accepted(claim: Claim) -> tuple[float, float]:
    """The region of measured values that agree with the published figure."""
    p = claim.published
    if claim.check == "range":
        return float(p[0]), float(p[1])
    if claim.check == "at_most":
        return -math.inf, float(p)
    if claim.check == "at_least":
        return float(p), math.inf
    if claim.check == "within":
        return p - claim.tolerance, p + claim.tolerance
    return p * (1 - claim.tolerance), p * (1 + claim.tolerance)


def claim_width(claim: Claim) -> float:
    """The smallest difference the claim is about: the tolerance (absolute or relative x the
    figure), the width of a published range, or the bound's distance from zero."""
    p = claim.published
    if claim.check == "range":
        return float(p[1] - p[0])
    if claim.check in ("at_most", "at_least"):
        return abs(float(p)) or math.inf
    if claim.check == "within":
        return claim.tolerance
    return abs(p) * claim.tolerance


def resolution(claim: Claim, measured: Measured) -> float | None:
    """The smallest difference the row can resolve: the larger of one test window's worth and
    the interval's width (exact measures: none)."""
    if claim.exact:
        return None
    found = [v for v in (measured.one_window, measured.estimate.width) if v is not None]
    return max(found) if found else None


def verdict(claim: Claim, measured: Measured) -> tuple[str, str]:
    """(agrees | contradicts | inconclusive | no claim, the reason)."""
    estimate = measured.estimate
    if claim.check == NO_CLAIM:
        return "no claim", "the paper publishes no figure for this row"
    if measured.unreliable:
        return "inconclusive", measured.unreliable
    if not claim.exact and estimate.n < statistics.MIN_UNITS_FOR_TEST:
        return "inconclusive", (f"{estimate.n} unit{'s' if estimate.n != 1 else ''}: fewer than "
                                f"{statistics.MIN_UNITS_FOR_TEST} for an interval to decide")
    low, high = estimate.ci_low, estimate.ci_high
    if low is None:
        return "inconclusive", "no interval"
    smallest = resolution(claim, measured)
    width = claim_width(claim)
    if smallest is not None and smallest > width:
        return "inconclusive", (f"resolves {_text(claim, smallest)} at best, the claim needs "
                                f"{_text(claim, width)}")
    region = accepted(claim)
    if region[0] <= low and high <= region[1]:
        return "agrees", "the interval lies inside the accepted region"
    if high < region[0] or low > region[1]:
        return "contradicts", "the interval lies outside the accepted region"
    return "inconclusive", "the interval straddles the published bound"


def _text(claim: Claim, value: float | tuple[float, float]) -> str:
    if isinstance(value, tuple):
        return f"{_text(claim, value[0])}-{_text(claim, value[1])}"
    if math.isinf(value):
        return "any"
    if claim.unit == "%":
        return f"{value:.2%}"
    if claim.unit == "pt":
        return f"{value:.1f}"
    if "F1" in claim.claim and "gap" not in claim.claim:
        return f"{value:.3f}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def _published_text(claim: Claim) -> str:
    if claim.check == NO_CLAIM:
        return "-"
    prefix = {"at_most": "<= ", "at_least": ">= "}.get(claim.check, "")
    if claim.check == "within" and claim.published == 0:
        return f"on par (0 ± {_text(claim, claim.tolerance)})"
    tolerance = ""
    if claim.check == "about":
        tolerance = f" ± {claim.tolerance:.0%}"
    elif claim.check == "within":
        tolerance = f" ± {_text(claim, claim.tolerance)}"
    return prefix + _text(claim, claim.published) + tolerance


def row_for(claim: Claim, suite: str, measured: Measured) -> ClaimRow:
    """One table row of one variant."""
    chosen, reason = verdict(claim, measured)
    estimate = measured.estimate
    p = claim.published
    smallest = resolution(claim, measured)
    devices = _devices(measured.runs)
    off_gpu = (f"measured on {', '.join(devices)}, the paper on a GPU"
               if claim.on_gpu and any(not d.startswith("cuda") for d in devices) else "")
    return ClaimRow(
        paper=claim.paper, suite=suite, claim=claim.claim, variant=measured.variant,
        published=_published_text(claim), measured=_text(claim, estimate.value),
        interval=_interval_text(estimate, lambda v: _text(claim, v)),
        ratio=None if isinstance(p, tuple) or not p else estimate.value / p,
        device=", ".join(devices), runs=len(measured.runs),
        n_units=estimate.n, seeds=measured.seeds,
        resolution="" if smallest is None else _text(claim, smallest),
        verdict=chosen, reason=reason,
        agrees={"agrees": True, "contradicts": False}.get(chosen),
        why=claim.why, note=measured.note,  # an unreliable figure is the verdict's reason
        proxy="; ".join(t for t in (claim.proxy, measured.proxy, off_gpu) if t),
        also=measured.also,
        values={"published": p, "measured": estimate.value, "ci_low": estimate.ci_low,
                "ci_high": estimate.ci_high, "resolution": smallest,
                "one_window": measured.one_window},
    )


def reproduction(store: Store, claims: list[Claim] | None = None) -> list[ClaimRow]:
    """One row per claim and variant whose suite (name starting with its prefix) is stored."""
    rows = []
    names = suite_names(store)
    for claim in claims or CLAIMS:
        for suite in [n for n in names if n.startswith(claim.suite_prefix)]:
            runs = load_runs(store, suite)
            if not runs:
                continue
            for measured in claim.measure(store, suite, runs, claim):
                rows.append(row_for(claim, suite, measured))
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def provenance(store: Store, manifest: dict[str, Any], folder: Any) -> str:
    """Where the rows come from: the snapshot, the commit that exported it, how many runs that
    commit's code computed, and per suite its runs, span of time and devices."""
    total = manifest["tables"]["runs"]["rows"]
    same = manifest.get("runs_computed_by_this_code")
    commit = manifest.get("exported_by_commit") or "unknown"
    lines = [f"Rows recomputed by `harbench report repro --from {folder}` from the snapshot "
             f"exported at {manifest.get('exported_at')} by commit `{commit}` "
             f"({total} runs). Code: {same} of {total} runs carry the code fingerprint of that "
             "commit's code (harbench.codeprint: the result-computing code, comments and "
             "docstrings aside), i.e. were computed by code that means the same.", "",
             "| suite | runs ok | failed | tuning trials | first started (UTC) | "
             "last finished (UTC) | span | devices | harbench |",
             "|---|---|---|---|---|---|---|---|---|"]
    _, found = store.query(
        "WITH picked AS (SELECT s.suite, r.* FROM suite_runs s JOIN runs r USING (run_id)), "
        "tried AS (SELECT DISTINCT p.suite, t.study, t.number, t.finished_at, t.seconds "
        "FROM picked p JOIN trials t ON t.study = json_extract_string(p.config, "
        "'$.tuning.study')), "
        "ran AS (SELECT suite, count(*) FILTER (WHERE status = 'ok') AS ok, "
        "count(*) FILTER (WHERE status <> 'ok') AS failed, min(started_at) AS first, "
        "max(finished_at) AS last, string_agg(DISTINCT device, ', ') AS devices, "
        "string_agg(DISTINCT harbench_version, ', ') AS versions FROM picked GROUP BY 1), "
        "trial_span AS (SELECT suite, count(*) AS n, "
        "min(finished_at - to_microseconds(CAST(seconds * 1e6 AS BIGINT))) AS first, "
        "max(finished_at) AS last FROM tried GROUP BY 1) "
        "SELECT ran.suite, ok, failed, coalesce(n, 0), least(ran.first, trial_span.first), "
        "greatest(ran.last, trial_span.last), devices, versions "
        "FROM ran LEFT JOIN trial_span USING (suite) ORDER BY 1")
    for suite, ok, failed, trials, first, last, devices, versions in found:
        span = "-"
        if first is not None and last is not None:
            span = f"{(last - first).total_seconds() / 60:.0f} min"
        cells = [suite, str(ok), str(failed), str(trials), str(first or "-")[:19],
                 str(last or "-")[:19], span, devices or "-", versions or "-"]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    lines += ["", "`span`: from the first trial or run that started to the last that finished "
              "(a trial's start is its end less its seconds); pretraining stages that ran before "
              "the first of them and pauses between sessions are not told apart."]
    return "\n".join(lines)


def markdown(rows: list[ClaimRow], provenance: str = "") -> str:
    """The reproduction table as markdown, one section per paper (``provenance``: a paragraph
    saying where the rows come from, placed before them)."""
    if not rows:
        return ("# Reproduction\n\nThe store holds no reproduction suite (suite names starting "
                "with repro-lora-qlora-mae, repro-lora-edge or repro-tinierhar).\n")
    out = ["# Reproduction", "",
           "Each paper's headline claim beside what harbench measured, one row per variant "
           "(never pooled). `n` counts independent units (dataset x fold; seeds averaged "
           "first; seeds per unit in brackets); the interval is a 95% bootstrap interval over "
           "units (the range over units for exact counts; geometric for ratios). `resolves` is "
           "the smallest difference the row can resolve (one test window's worth of macro-F1 "
           "or the interval's width); the verdict compares the interval with the published "
           "figure and its tolerance and is *inconclusive* below 5 units or when the claim is "
           "narrower than the resolution; rows harbench adds without a published figure (the "
           "source model, the gaps to no adaptation and to BatchNorm statistics alone, "
           "forgetting) say *no claim*. `proxy` says where harbench's measure is not the "
           "paper's. Published numbers: the papers' abstracts and whar-arena's table (see "
           "REFERENCES); conventions: docs/statistics.md.", ""]
    if provenance:
        out += ["## Where these rows come from", "", provenance, ""]
    for paper in dict.fromkeys(r.paper for r in rows):
        out += [f"## {paper}", "",
                "| suite | claim | variant | published | measured | 95% interval | n (seeds) | "
                "resolves | verdict | also | proxy | why it differs |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in (r for r in rows if r.paper == paper):
            verdict_text = f"{r.verdict}: {r.reason}" if r.reason else r.verdict
            why = "; ".join(t for t in (r.why, r.note) if t)
            cells = [r.suite, r.claim, r.variant, r.published, r.measured, r.interval or "-",
                     f"{r.n_units} ({r.seeds or '-'})", r.resolution or "-", verdict_text,
                     r.also or "-", r.proxy or "-", why]
            out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        out.append("")
    missing = [c for c in dict.fromkeys((c.paper, c.suite_prefix) for c in CLAIMS)
               if c[0] not in {r.paper for r in rows}]
    for paper, prefix in missing:
        out += [f"## {paper}", "", f"No run of a `{prefix}*` suite is in this store: none of "
                "this paper's claims is checked here.", ""]
    return "\n".join(out)
