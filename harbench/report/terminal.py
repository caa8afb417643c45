"""Text for the terminal: stored or suite text shown as text, tables that fit or print whole.

Every value that came from a suite, the store or a plugin goes through :func:`shown` (control
characters written as escapes) and reaches rich as a :class:`~rich.text.Text` (:func:`as_text`),
never as markup; a value placed inside a markup string goes through :func:`escaped`.

Tables follow one rule: on a terminal they fit its width (numbers and ids whole, names wrap down
to a minimum, optional columns drop, else one block per row); piped, nothing wraps or is cut.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

NAME_MIN_WIDTH = 12
PIPE_WIDTH = 100_000  # piped output: nothing wraps, full names

# C0 and C1 controls (newline aside), DEL, and the bidirectional overrides that reorder a line.
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")

Cell = str | Text


def _escape_control(match: re.Match) -> str:
    code = ord(match.group())
    if code == 9:
        return "\\t"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(value: Any, *, newlines: bool = True) -> str:
    """``value`` as text that is safe to print: ESC, CR, tabs and other control characters (and
    bidirectional overrides) written as escapes (``\\x1b``); newlines (and CR LF) kept as line
    ends unless ``newlines`` is False (then ``\\n``)."""
    text = "" if value is None else str(value)
    text = text.replace("\r\n", "\n")  # a Windows line end is a line end
    if not newlines:
        text = text.replace("\n", "\\n")
    return CONTROL.sub(_escape_control, text)


def as_text(value: Any, style: str = "") -> Text:
    """``value`` as rich Text: printed as it reads, never interpreted as markup or emoji codes."""
    return Text(shown(value), style=style)


def escaped(value: Any) -> str:
    """``value`` for a place inside a markup string (``f"[bold]{escaped(name)}[/]"``)."""
    return escape(shown(value))


def console(*, stderr: bool = False) -> Console:
    """The console every command prints on: no highlighting or emoji codes; piped, as wide as
    the longest line (nothing wraps mid-name or mid-number)."""
    out = Console(highlight=False, emoji=False, stderr=stderr)
    if not out.is_terminal:
        out.width = PIPE_WIDTH
    return out


def _plain(cell: Cell) -> str:
    return cell.plain if isinstance(cell, Text) else shown(cell)


def _width(cell: Cell) -> int:
    return max(cell_len(line) for line in _plain(cell).split("\n"))


def _cell(cell: Cell) -> Text:
    return cell if isinstance(cell, Text) else as_text(cell)


def fits(console: Console, headers: Sequence[str], rows: Sequence[Sequence[Cell]],
         numeric: Sequence[bool]) -> bool:
    """Whether the table fits the console with numbers whole and names at their minimum."""
    if not console.is_terminal:
        return True
    widths = [max([_width(headers[i])] + [_width(r[i]) for r in rows])
              for i in range(len(headers))]
    total = sum(w if numeric[i] else min(w, NAME_MIN_WIDTH) for i, w in enumerate(widths))
    return total + 3 * len(headers) + 1 <= console.width


def fit_table(
    console: Console,
    headers: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    *,
    numeric: Sequence[bool],
    droppable: Sequence[str] = (),
    title: str | None = None,
    show_header: bool = True,
    whole: Sequence[str] = (),
) -> tuple[RenderableType, list[str]]:
    """A rich Table of ``rows`` that fits ``console.width`` (under its title, which is a line of
    its own, never wrapped to the table's width); returns it and the dropped headers.

    Numeric columns (and ids: anything marked numeric) keep their full width, never cut; text
    columns wrap down to a minimum; when that is still too wide, the ``droppable`` headers go,
    last first; the ``whole`` text columns (ids) are never wrapped either, but read left to right.
    Piped output (not a terminal) is never wrapped. A cell is plain text (shown as it reads) or
    a rich Text (its style kept).
    """
    if not console.is_terminal:
        console.width = PIPE_WIDTH
    width = console.width
    keep = list(range(len(headers)))

    numeric = [n or h in whole for n, h in zip(numeric, headers)]

    def natural(i: int) -> int:
        return max([_width(headers[i])] + [_width(r[i]) for r in rows])

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
    table = Table(show_header=show_header)
    for i in keep:
        header = as_text(headers[i])
        if numeric[i]:
            table.add_column(header, justify="left" if headers[i] in whole else "right",
                             no_wrap=True, min_width=natural(i))
        else:
            table.add_column(header, overflow="fold", min_width=min(natural(i), NAME_MIN_WIDTH))
    for row in rows:
        table.add_row(*[_cell(row[i]) for i in keep])
    return (Group(as_text(title, "italic"), table) if title else table), dropped


def print_fitted(
    console: Console,
    headers: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    *,
    numeric: Sequence[bool],
    droppable: Sequence[str] = (),
    title: str | None = None,
    constant: Sequence[str] = (),
    show_header: bool = True,
    whole: Sequence[str] = (),
    split_by: Sequence[str] = (),
) -> list[str]:
    """Print ``rows`` as a table that fits, else as one 'header: value' block per row.

    On a terminal, the ``constant`` headers whose value is the same on every row leave the table
    for its title (``fold 0``); a table still too wide becomes one table per value of the
    ``split_by`` headers (named in each title) before it falls back to blocks. Returns the
    headers left out of the table to make it fit.
    """
    if console.is_terminal and len(rows) > 1:
        same = [h for h in constant if h in headers
                and len({_plain(r[headers.index(h)]) for r in rows}) == 1]
        if same:
            title = (title + " · " if title else "") + ", ".join(
                f"{h} {_plain(rows[0][headers.index(h)])}" for h in same)
            keep_at = [i for i, h in enumerate(headers) if h not in same]
            headers = [headers[i] for i in keep_at]
            numeric = [numeric[i] for i in keep_at]
            rows = [[r[i] for i in keep_at] for r in rows]
    keep = [i for i, h in enumerate(headers) if h not in droppable]
    fitting = fits(console, [headers[i] for i in keep], [[r[i] for i in keep] for r in rows],
                   [numeric[i] or headers[i] in whole for i in keep])
    split = [headers.index(h) for h in split_by if h in headers]
    if not fitting and split:
        rest = [i for i in range(len(headers)) if i not in split]
        groups: dict[tuple[str, ...], list[Sequence[Cell]]] = {}
        for row in rows:
            groups.setdefault(tuple(_plain(row[i]) for i in split), []).append(row)
        dropped: list[str] = []
        for values, members in groups.items():
            named = ", ".join(f"{headers[i]} {v}" for i, v in zip(split, values))
            dropped += print_fitted(
                console, [headers[i] for i in rest], [[r[i] for i in rest] for r in members],
                numeric=[numeric[i] for i in rest], droppable=droppable, whole=whole,
                title=f"{title} · {named}" if title else named, show_header=show_header)
        return list(dict.fromkeys(dropped))
    if fitting:
        table, dropped = fit_table(console, headers, rows, numeric=numeric, droppable=droppable,
                                   title=title, show_header=show_header, whole=whole)
        console.print(table)
        return dropped
    if title:
        console.print(as_text(title, "italic"))
    width = max(_width(h) for h in headers)
    for number, row in enumerate(rows, 1):
        if show_header:
            console.print(Text(f"#{number}", style="bold"))
        for header, value in zip(headers, row):
            console.print(Text(f"  {shown(header):<{width}}  ") + _cell(value))
    return []
