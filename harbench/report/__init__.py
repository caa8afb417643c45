"""Views of the store: leaderboard, statistics, time-to-target, plots, HTML and reproduction."""

from harbench.report.exports import export, failures, flat, markdown_table
from harbench.report.formatting import fmt_count, fmt_number, fmt_value
from harbench.report.leaderboard import COST_METRICS, build, leaderboard

__all__ = [
    "COST_METRICS",
    "build",
    "export",
    "failures",
    "flat",
    "fmt_count",
    "fmt_number",
    "fmt_value",
    "leaderboard",
    "markdown_table",
]
