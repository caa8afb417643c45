"""A run's learning curves as a small hand-written SVG (no plotting library per run page)."""

from __future__ import annotations

import html
from typing import Any

WIDTH, HEIGHT, PAD = 420, 220, 36


def _polyline(points: list[tuple[float, float]], lo: float, hi: float, first: float,
              last: float, colour: str) -> str:
    span, steps = (hi - lo) or 1.0, (last - first) or 1.0
    xy = " ".join(f"{PAD + (x - first) / steps * (WIDTH - 2 * PAD):.1f},"
                  f"{HEIGHT - PAD - (y - lo) / span * (HEIGHT - 2 * PAD):.1f}" for x, y in points)
    return f"<polyline fill='none' stroke='{colour}' stroke-width='2' points='{xy}'/>"


def curves_svg(rows: list[dict[str, Any]]) -> str:
    """Validation macro-F1 (blue, 0-1) and training loss (orange, scaled to its range) per
    epoch of the training stage (the pretraining stage when there is no training stage)."""
    stage = "train" if any(r.get("stage") == "train" for r in rows) else rows[0].get("stage")
    rows = [r for r in rows if r.get("stage") == stage]
    epochs = [float(r["epoch"]) for r in rows]
    first, last = min(epochs), max(epochs)
    parts = []
    f1 = [(float(r["epoch"]), float(r["val_f1"])) for r in rows if r.get("val_f1") is not None]
    if f1:
        parts.append(_polyline(f1, 0.0, 1.0, first, last, "#1f77b4"))
    loss = [(float(r["epoch"]), float(r["train_loss"])) for r in rows
            if r.get("train_loss") is not None]
    if loss:
        values = [v for _, v in loss]
        parts.append(_polyline(loss, min(values), max(values), first, last, "#ff7f0e"))
    axes = (f"<line x1='{PAD}' y1='{HEIGHT - PAD}' x2='{WIDTH - PAD}' y2='{HEIGHT - PAD}' "
            f"stroke='#888'/><line x1='{PAD}' y1='{PAD}' x2='{PAD}' y2='{HEIGHT - PAD}' "
            "stroke='#888'/>")
    labels = (f"<text x='{PAD}' y='{HEIGHT - 8}' font-size='11'>epoch {first:g}</text>"
              f"<text x='{WIDTH - PAD - 50}' y='{HEIGHT - 8}' font-size='11'>epoch {last:g}"
              f"</text><text x='{PAD + 4}' y='{PAD - 10}' font-size='11' fill='#1f77b4'>"
              f"val macro-F1 (0-1)</text><text x='{WIDTH - PAD - 140}' y='{PAD - 10}' "
              f"font-size='11' fill='#ff7f0e'>train loss ({html.escape(str(stage))})</text>")
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{HEIGHT}' "
            f"viewBox='0 0 {WIDTH} {HEIGHT}'><rect width='100%' height='100%' fill='white'/>"
            f"{axes}{''.join(parts)}{labels}</svg>\n")
