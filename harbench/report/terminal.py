"""Tables that fit the terminal: names wrap, numbers are never cut, optional columns drop."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

NAME_MIN_WIDTH = 12
PIPE_WIDTH = 100_000  # piped output: nothing wraps, full names


def fits(console: Console, headers: Sequence[str], rows: Sequence[Sequence[str]],
         numeric: Sequence[bool]) -> bool:
    """Whether the table fits the console with numbers whole and names at their minimum."""
    if not console.is_terminal:
        return True
    widths = [max([len(headers[i])] + [len(r[i]) for r in rows]) for i in range(len(headers))]
    total = sum(w if numeric[i] else min(w, NAME_MIN_WIDTH) for i, w in enumerate(widths))
    return total + 3 * len(headers) + 1 <= console.width


def fit_table(
    console: Console,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    numeric: Sequence[bool],
    droppable: Sequence[str] = (),
    title: str | None = None,
) -> tuple[Table, list[str]]:
    """A rich Table of ``rows`` that fits ``console.width``; returns it and the dropped headers.

    Numeric columns keep their full width (never cut); text columns wrap down to a minimum; when
    that is still too wide, the ``droppable`` headers go, last first. Piped output (not a terminal)
    is never wrapped.
    """
    if not console.is_terminal:
        console.width = PIPE_WIDTH
    width = console.width
    keep = list(range(len(headers)))

    def natural(i: int) -> int:
        return max([len(headers[i])] + [len(r[i]) for r in rows])

    def needed(cols: list[int]) -> int:
        fixed = sum(natural(i) if numeric[i] else min(natural(i), NAME_MIN_WIDTH) for i in cols)
        return fixed + 3 * len(cols) + 1

    dropped: list[str] = []
    for name in reversed(list(droppable)):
        if needed(keep) <= width:
            break
        if name in headers and headers.index(name) in keep:
            keep.remove(headers.index(name))
            dropped.append(name)
    table = Table(title=title, title_justify="left")
    for i in keep:
        if numeric[i]:
            table.add_column(headers[i], justify="right", no_wrap=True, min_width=natural(i))
        else:
            table.add_column(headers[i], overflow="fold", min_width=min(natural(i),
                                                                          NAME_MIN_WIDTH))
    for row in rows:
        table.add_row(*[row[i] for i in keep])
    return table, dropped


def print_fitted(
    console: Console,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    numeric: Sequence[bool],
    droppable: Sequence[str] = (),
    title: str | None = None,
) -> list[str]:
    """Print ``rows`` as a table that fits, else as one 'header: value' block per row.

    Returns the headers left out of the table to make it fit.
    """
    keep = [i for i, h in enumerate(headers) if h not in droppable]
    if fits(console, [headers[i] for i in keep], [[r[i] for i in keep] for r in rows],
            [numeric[i] for i in keep]):
        table, dropped = fit_table(console, headers, rows, numeric=numeric, droppable=droppable,
                                   title=title)
        console.print(table)
        return dropped
    if title:
        console.print(title, style="italic")
    width = max(len(h) for h in headers)
    for number, row in enumerate(rows, 1):
        console.print(f"[bold]#{number}[/]")
        for header, value in zip(headers, row):
            console.print(f"  {header:<{width}}  {value}", markup=False, highlight=False)
    return []
