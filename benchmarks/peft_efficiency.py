"""Cost of parameter-efficient fine-tuning against full fine-tuning, through the harness itself.

    python benchmarks/peft_efficiency.py [--quick] [--db FILE] [SUITE ...]

Runs the CPU twins of the reproduction suites (default: ``suites/repro/lora_qlora_mae-hapt.yaml``
and ``suites/repro/lora_edge-hapt.yaml``) with ``harbench.run_suite``: the pretraining stage
(self-supervised MAE, or a CNN pretrained with labels on the source subjects) runs once per fold,
then every method adapts the same checkpoint. The figures are then read back from the store, the
way a user reads them: per method, the mean over folds and seeds of macro-F1 (and its gap to full
fine-tuning), the trainable share with and without the classifier head, fit time, setup time
(TT-SVD, quantisation, adapter creation) and training memory, each as a ratio to full
fine-tuning measured in the same run, and the speed-up to one common target (95% of full
fine-tuning's best validation macro-F1 in each comparison group, from the stored curves).

Memory: with ``HARBENCH_DEVICE=cuda`` the peak allocated CUDA memory of the training phase alone
(``cuda_peak_allocated_mb``); on the CPU the analytic training memory at the batch size
(weights + gradients + AdamW state + saved activations, ``mem_total_bytes``).

Published: LoRA/QLoRA on an MAE (LODO, five datasets): trainable 0.07x, GPU memory 0.32x, training
time 0.43x of full fine-tuning, F1 on par. LoRA-Edge: at most 1.49% of the parameters trained,
F1 within 4.7 points of full fine-tuning, 1.4-3.8x faster to a target F1.

``--quick`` runs each suite with at most 2 epochs everywhere (pretraining too) and one fold: it
shows that the pipeline works, not converged figures.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
from pathlib import Path
from typing import Any

import harbench
from harbench import suite as suites
from harbench.report.runs import Run, load_curves, load_runs
from harbench.report.targets import TargetSetting, common_targets
from harbench.store import Store

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SUITES = ("suites/repro/lora_qlora_mae-hapt.yaml", "suites/repro/lora_edge-hapt.yaml")
PUBLISHED = {
    "repro-lora-qlora-mae": "trainable 0.07x, GPU memory 0.32x, time 0.43x of full; F1 on par",
    "repro-lora-edge": "trainable <= 1.49%, F1 gap <= 4.7 points, 1.4-3.8x faster to target",
}


def quick_copy(path: Path, folder: Path) -> Path:
    """The suite with every ``epochs`` capped at 2 and one fold (same name, so same queries)."""
    text = re.sub(r"epochs: \d+", "epochs: 2", path.read_text())
    text = re.sub(r"targets: \[[^\]]*\]", "targets: [1]", text)
    text = re.sub(r"folds: \[[^\]]*\]|folds: all", "folds: [0]", text)
    copy = folder / path.name
    copy.write_text(text)
    return copy


def mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def memory_of(run: Run) -> float | None:
    """Training memory of a run: the CUDA training peak when measured, else the analytic total."""
    if "cuda_peak_allocated_mb" in run.metrics:
        return run.metrics["cuda_peak_allocated_mb"] * 2**20
    return run.metrics.get("mem_total_bytes")


def summarise(runs: list[Run], targets: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per method label: means, and ratios to full fine-tuning of the same groups."""
    by_method: dict[str, list[Run]] = {}
    for run in runs:
        by_method.setdefault(run.method_label, []).append(run)
    full = by_method.get("full", [])

    def avg(rs: list[Run], fn) -> float | None:
        return mean([v for v in (fn(r) for r in rs) if v is not None])

    ref = {
        "f1": avg(full, lambda r: r.metrics.get("macro_f1")),
        "fit": avg(full, lambda r: r.metrics.get("fit_seconds")),
        "mem": avg(full, memory_of),
    }
    rows = []
    for label, rs in sorted(by_method.items()):
        f1 = avg(rs, lambda r: r.metrics.get("macro_f1"))
        fit = avg(rs, lambda r: r.metrics.get("fit_seconds"))
        mem = avg(rs, memory_of)
        reached = [targets.get(r.run_id, {}) for r in rs]
        speedups = [t["speedup_to_target"] for t in reached if t.get("speedup_to_target")]
        rows.append({
            "method": label,
            "runs": len(rs),
            "macro_f1": f1,
            "f1_gap_pts": None if f1 is None or ref["f1"] is None else 100 * (ref["f1"] - f1),
            "source_f1": avg(rs, lambda r: r.metrics.get("source_macro_f1")),
            "trainable_%": avg(rs, lambda r: 100 * r.metrics["trainable_share"]),
            "no_head_%": avg(rs, lambda r: 100 * r.metrics.get("trainable_share_no_head", 0)),
            "fit_x_full": None if not fit or not ref["fit"] else fit / ref["fit"],
            "mem_x_full": None if not mem or not ref["mem"] else mem / ref["mem"],
            "setup_s": avg(rs, lambda r: r.metrics.get("setup_seconds")),
            "speedup": statistics.geometric_mean(speedups) if speedups else None,  # of ratios
            "reached": f"{sum(1 for t in reached if t.get('reached'))}/{len(rs)}",
        })
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    columns = list(rows[0]) if rows else []
    cells = [[_fmt(row[c]) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("suites", nargs="*", default=list(DEFAULT_SUITES))
    parser.add_argument("--quick", action="store_true", help="2 epochs, one fold (smoke figures)")
    parser.add_argument("--db", help="DuckDB file (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(args.db) if args.db else Path(tmp) / "peft.duckdb"
        for name in args.suites:
            path = (ROOT / name) if not Path(name).is_absolute() else Path(name)
            if args.quick:
                path = quick_copy(path, Path(tmp))
            loaded = suites.load(path)
            summary = harbench.run_suite(path, db=db)
            print(f"\n{loaded.name}: {summary.ok} ok, {summary.failed} failed, "
                  f"{summary.skipped} already stored, of {summary.total} runs")
            for run_id, error in summary.failures:
                print(f"  failed {run_id}: {error.splitlines()[0] if error else ''}")
            with Store(db, read_only=True) as store:
                runs = load_runs(store, loaded.name)
                curves = load_curves(store, [r.run_id for r in runs], stage="train")
            setting = TargetSetting.from_options(None, None, None, loaded.compare)
            rows = summarise(runs, common_targets(runs, curves, setting))
            print(render(rows))
            base = loaded.name.removesuffix("-hapt")
            print(f"published: {PUBLISHED.get(base, '-')}; {setting.describe()}")


if __name__ == "__main__":
    main()
