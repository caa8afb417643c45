"""The reproduction table: each paper's headline claim beside what the store holds.

Claims are data (a list of :class:`Claim`); a new paper adds entries to ``CLAIMS``. Published
numbers come from the papers' abstracts and whar-arena's per-dataset table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harbench.report import targets
from harbench.report.runs import Run, load_curves, load_runs
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


@dataclass(frozen=True)
class Measured:
    value: float
    runs: int
    devices: tuple[str, ...]
    note: str = ""


Measure = Callable[[Store, str, list[Run]], "Measured | None"]  # (store, suite, its runs)


@dataclass(frozen=True)
class Claim:
    """One headline number of a paper and how to measure it from the store.

    ``check``: 'about' (within ``tolerance`` relative), 'at_most', 'at_least', 'range' (published
    is (low, high)) or 'within' (absolute difference <= ``tolerance``).
    """

    paper: str
    suite_prefix: str
    claim: str
    published: float | tuple[float, float]
    check: str
    measure: Measure
    why: str
    tolerance: float = 0.25
    unit: str = ""


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
    agrees: bool | None
    why: str
    note: str = ""
    values: dict[str, Any] = field(default_factory=dict)


def _of(runs: list[Run], *, method: str | None = None, model: str | None = None) -> list[Run]:
    """Runs of ``method`` (any of its parameter settings) on backbone ``model``: the backbone as
    published (its label without parameters) when the suite has it, so that ablation variants
    (``tinierhar(residual=False)``) do not mix into the paper's numbers."""
    chosen = [r for r in runs if method is None or method in (r.method, r.method_label)]
    if model is None:
        return chosen
    plain = [r for r in chosen if r.model_label == model]
    return plain or [r for r in chosen if r.model == model]


def _mean(runs: list[Run], metric: str) -> float | None:
    values = [r.metrics[metric] for r in runs if metric in r.metrics]
    return sum(values) / len(values) if values else None


def _devices(runs: list[Run]) -> tuple[str, ...]:
    return tuple(sorted({r.device or "?" for r in runs}))


def ratio_of(metric: str, num: dict[str, str], den: dict[str, str], fallback: str | None = None
             ) -> Measure:
    """mean(metric | num) / mean(metric | den); ``fallback`` metric when ``metric`` is absent."""

    def measure(store: Store, suite: str, runs: list[Run]) -> Measured | None:
        a, b = _of(runs, **num), _of(runs, **den)
        note = ""
        top, bottom = _mean(a, metric), _mean(b, metric)
        if (top is None or bottom is None) and fallback:
            top, bottom = _mean(a, fallback), _mean(b, fallback)
            note = f"{metric} not stored (no GPU): {fallback} instead"
        if top is None or not bottom:
            return None
        return Measured(top / bottom, len(a) + len(b), _devices(a + b), note)

    return measure


def difference_of(metric: str, method: str, reference: str, scale: float = 100.0
                  ) -> Measure:
    """(mean metric of ``reference`` - mean of ``method``) x ``scale`` (F1 points)."""

    def measure(store: Store, suite: str, runs: list[Run]) -> Measured | None:
        a, b = _of(runs, method=method), _of(runs, method=reference)
        top, bottom = _mean(a, metric), _mean(b, metric)
        if top is None or bottom is None:
            return None
        return Measured((bottom - top) * scale, len(a) + len(b), _devices(a + b))

    return measure


def largest(metric: str, method: str, fallback: str | None = None
            ) -> Measure:
    """The largest stored ``metric`` of ``method`` (``fallback`` metric, noted, if absent)."""

    def measure(store: Store, suite: str, runs: list[Run]) -> Measured | None:
        chosen = _of(runs, method=method)
        for name in (metric, fallback):
            values = [r.metrics[name] for r in chosen if name and name in r.metrics]
            if values:
                note = "" if name == metric else f"{metric} not stored: {name} (head included)"
                return Measured(max(values), len(values), _devices(chosen), note)
        return None

    return measure


def speedup(method: str, reference: str = "full"
            ) -> Measure:
    """Mean speed-up to the common target (reference time / method time) of ``method``; the
    target fraction (or F1) is the suite's ``compare:`` block's, else 0.95."""

    def measure(store: Store, suite: str, runs: list[Run]) -> Measured | None:
        block = compare_settings(store, suite)
        setting = targets.TargetSetting.from_options(reference, None, None, block)
        curves = load_curves(store, [r.run_id for r in runs], stage="train")
        found = targets.common_targets(runs, curves, setting)
        chosen = _of(runs, method=method)
        values = [found[r.run_id]["speedup_to_target"] for r in chosen if r.run_id in found]
        reached = [v for v in values if v is not None]
        if not reached:
            return None
        note = f"{len(values) - len(reached)} of {len(values)} runs never reached the target"
        return Measured(sum(reached) / len(reached), len(values), _devices(chosen),
                        note if len(reached) < len(values) else "")

    return measure


def arena_f1(dataset: str, model: str) -> Measure:
    def measure(store: Store, suite: str, runs: list[Run]) -> Measured | None:
        chosen = [r for r in _of(runs, model=model, method="full") if r.dataset == dataset]
        value = _mean(chosen, "macro_f1")
        return None if value is None else Measured(value, len(chosen), _devices(chosen))

    return measure


LORA_QLORA = "Seregina et al. 2025 (LoRA/QLoRA on MAE)"
LORA_EDGE = "Kwak et al. 2025 (LoRA-Edge)"
TINIERHAR = "Bian et al. 2025 (TinierHAR)"
CPU_WHY = "CPU twin: memory is the process RSS, not GPU memory; small data, few epochs"

CLAIMS: list[Claim] = [
    Claim(LORA_QLORA, "repro-lora-qlora-mae", "trainable parameters LoRA / full", 0.07, "about",
          ratio_of("trainable_params", {"method": "lora"}, {"method": "full"}),
          "the MAE size and LoRA targets/rank of the paper are not public; mean over all ranks"),
    Claim(LORA_QLORA, "repro-lora-qlora-mae", "GPU memory LoRA / full", 0.32, "about",
          ratio_of("cuda_peak_allocated_mb", {"method": "lora"}, {"method": "full"},
                   fallback="peak_rss_over_start_mb"), CPU_WHY),
    Claim(LORA_QLORA, "repro-lora-qlora-mae", "GPU memory QLoRA / full", 0.32, "about",
          ratio_of("cuda_peak_allocated_mb", {"method": "qlora"}, {"method": "full"},
                   fallback="peak_rss_over_start_mb"), CPU_WHY),
    Claim(LORA_QLORA, "repro-lora-qlora-mae", "training time LoRA / full", 0.43, "about",
          ratio_of("fit_seconds", {"method": "lora"}, {"method": "full"}),
          "time depends on device, model size and early stopping; a small MAE on a CPU spends "
          "little in the frozen weights' gradients"),
    Claim(LORA_QLORA, "repro-lora-qlora-mae", "macro-F1 gap full - LoRA (points)", 0.0, "within",
          difference_of("macro_f1", "lora", "full"),
          "fewer epochs and labels in the twin; the paper's datasets and budget differ",
          tolerance=2.0, unit="pt"),
    Claim(LORA_EDGE, "repro-lora-edge", "trainable share, head excluded", 0.0149, "at_most",
          largest("trainable_share_no_head", "lora_edge", fallback="trainable_share"),
          "small backbones have a larger share of parameters in the adapted cores", unit="%"),
    Claim(LORA_EDGE, "repro-lora-edge", "macro-F1 gap full - LoRA-Edge (points)", 4.7,
          "at_most", difference_of("macro_f1", "lora_edge", "full"),
          "short CPU training; the paper's backbones and data are not public", unit="pt"),
    Claim(LORA_EDGE, "repro-lora-edge", "speed-up to the common target vs full", (1.4, 3.8),
          "range", speedup("lora_edge"),
          "measured on a CPU, not a Jetson Orin Nano; epochs are short so setup weighs more"),
    Claim(TINIERHAR, "repro-tinierhar", "parameters TinyHAR / TinierHAR", 2.7, "about",
          ratio_of("params", {"model": "tinyhar"}, {"model": "tinierhar"}),
          "parameters depend on each dataset's channels and classes", tolerance=0.15),
    Claim(TINIERHAR, "repro-tinierhar", "MACs TinyHAR / TinierHAR", 6.4, "about",
          ratio_of("macs", {"model": "tinyhar"}, {"model": "tinierhar"}),
          "harbench counts convs, linears, attention and recurrent cells; ptflops also counts "
          "BatchNorm, activations and pooling", tolerance=0.25),
    Claim(TINIERHAR, "repro-tinierhar", "parameters DeepConvLSTM / TinierHAR", 43.3, "about",
          ratio_of("params", {"model": "deepconvlstm"}, {"model": "tinierhar"}),
          "parameters depend on each dataset's channels and classes", tolerance=0.25),
    Claim(TINIERHAR, "repro-tinierhar", "MACs DeepConvLSTM / TinierHAR", 58.6, "about",
          ratio_of("macs", {"model": "deepconvlstm"}, {"model": "tinierhar"}),
          "MAC counting conventions differ (see above)", tolerance=0.25),
] + [
    Claim(TINIERHAR, "repro-tinierhar", f"{model} macro-F1 on {dataset} (whar-arena)",
          WHAR_ARENA[dataset][i], "within", arena_f1(dataset, model),
          "whar-arena trains up to 100 epochs with class-weighted loss and 3 s windows; the "
          "CPU twin trains briefly", tolerance=0.05)
    for dataset in WHAR_ARENA for i, model in enumerate(ARENA_MODELS)
]


def _agrees(claim: Claim, value: float) -> bool:
    p = claim.published
    if claim.check == "range":
        return p[0] <= value <= p[1]
    if claim.check == "at_most":
        return value <= p
    if claim.check == "at_least":
        return value >= p
    if claim.check == "within":
        return abs(value - p) <= claim.tolerance
    return abs(value / p - 1) <= claim.tolerance if p else value == 0


def _text(claim: Claim, value: float | tuple[float, float]) -> str:
    if isinstance(value, tuple):
        return f"{_text(claim, value[0])}-{_text(claim, value[1])}"
    if claim.unit == "%":
        return f"{value:.2%}"
    if claim.unit == "pt":
        return f"{value:.1f}"
    if "F1" in claim.claim and "gap" not in claim.claim:
        return f"{value:.3f}"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def _published_text(claim: Claim) -> str:
    prefix = {"at_most": "<= ", "at_least": ">= "}.get(claim.check, "")
    if claim.check == "within" and claim.published == 0:
        return "on par (0)"
    return prefix + _text(claim, claim.published)


def reproduction(store: Store, claims: list[Claim] | None = None) -> list[ClaimRow]:
    """One row per claim whose suite (name starting with its prefix) is in the store."""
    rows = []
    names = suite_names(store)
    for claim in claims or CLAIMS:
        for suite in [n for n in names if n.startswith(claim.suite_prefix)]:
            runs = load_runs(store, suite)
            measured = claim.measure(store, suite, runs) if runs else None
            if measured is None:
                continue
            agrees = _agrees(claim, measured.value)
            p = claim.published
            ratio = None if isinstance(p, tuple) or not p else measured.value / p
            rows.append(ClaimRow(
                paper=claim.paper, suite=suite, claim=claim.claim,
                published=_published_text(claim), measured=_text(claim, measured.value),
                ratio=ratio, device=", ".join(measured.devices), runs=measured.runs,
                agrees=agrees, why="" if agrees else claim.why, note=measured.note,
                values={"published": p, "measured": measured.value},
            ))
    return rows


def markdown(rows: list[ClaimRow]) -> str:
    """The reproduction table as markdown, one section per paper."""
    if not rows:
        return ("# Reproduction\n\nThe store holds no reproduction suite (suite names starting "
                "with repro-lora-qlora-mae, repro-lora-edge or repro-tinierhar).\n")
    out = ["# Reproduction", "",
           "Each paper's headline claim beside what harbench measured for the same measure. "
           "Published numbers: the papers' abstracts and whar-arena's table "
           "(see REFERENCES). `ratio` = measured / published.", ""]
    for paper in dict.fromkeys(r.paper for r in rows):
        out += [f"## {paper}", "",
                "| suite | claim | published | measured | ratio | device | runs | agrees | "
                "why it differs |", "|---|---|---|---|---|---|---|---|---|"]
        for r in (r for r in rows if r.paper == paper):
            why = "; ".join(t for t in (r.why, r.note) if t)
            ratio = "-" if r.ratio is None else f"{r.ratio:.2f}"
            agrees = "yes" if r.agrees else "no"
            out.append(f"| {r.suite} | {r.claim} | {r.published} | {r.measured} | {ratio} | "
                       f"{r.device} | {r.runs:,} | {agrees} | {why} |")
        out.append("")
    return "\n".join(out)
