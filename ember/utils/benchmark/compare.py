"""Compare: print Measurements as tables, one per label, rows by sub_label/stmt and thread
count, columns by description (torch.utils.benchmark.Compare's layout)."""
from __future__ import annotations

import math

from .common import Measurement, select_unit, trim_sigfig, unit_to_english

__all__ = ["Compare"]

_BEST = "\033[92m\033[1m"
_GOOD = "\033[34m\033[1m"
_VERY_SLOW = "\033[31m\033[1m"
_SLOW = "\033[2m\033[91m"
_END = "\033[0m\033[0m"


class Compare:
    """A side-by-side view of Measurements.

    >>> from ember.utils.benchmark import Compare, Measurement, TaskSpec
    >>> ms = [Measurement(1, [t], TaskSpec("f()", "pass", label="f", description=d))
    ...       for t, d in ((1e-3, "a"), (2e-3, "b"))]
    >>> print(str(Compare(ms)).splitlines()[3])
          f()  |  1.0  |  2.0
    """

    def __init__(self, results: list[Measurement]):
        self._results: list[Measurement] = []
        self.extend_results(results)
        self._trim_significant_figures = False
        self._colorize = None
        self._highlight_warnings = False

    def extend_results(self, results) -> None:
        """Add more Measurements to the table."""
        for r in results:
            if not isinstance(r, Measurement):
                raise ValueError(f"Expected an instance of `Measurement`, got {type(r)} instead.")
        self._results.extend(results)

    def trim_significant_figures(self) -> None:
        """Round each time to the digits its spread supports."""
        self._trim_significant_figures = True

    def colorize(self, rowwise: bool = False) -> None:
        """Color each time by how it compares with the best in its column (or row)."""
        self._colorize = "row" if rowwise else "column"

    def highlight_warnings(self) -> None:
        """Mark times whose IQR is over 10% of the median with '(! XX%)'."""
        self._highlight_warnings = True

    def print(self) -> None:
        print(str(self))

    def __str__(self) -> str:
        groups: dict[str | None, list[Measurement]] = {}
        for m in Measurement.merge(self._results):
            groups.setdefault(m.label, []).append(m)
        return "\n".join(self._layout(label, ms) for label, ms in groups.items())

    def _layout(self, label: str | None, results: list[Measurement]) -> str:
        unit, scale = select_unit(min(m.median for m in results))
        columns = _unique(m.description for m in results)
        rows = _unique((m.num_threads, m.env or "", m.as_row_name) for m in results)
        rows.sort(key=lambda key: key[:2])
        cells = {(m.num_threads, m.env or "", m.as_row_name, m.description): m for m in results}
        digits = self._trimmed_digits(results, scale)
        table = [[self._cell(cells.get(row + (col,)), scale, digits) for col in columns]
                 for row in rows]
        self._paint(table, rows, columns, cells)
        widths = [max([len(str(col or ""))] + [len(r[j][0]) for r in table])
                  for j, col in enumerate(columns)]
        number_widths = [max(len(r[j][0]) for r in table) for j in range(len(columns))]
        envs = [f"({env})" if env else "" for _, env, _ in rows]
        env_width = max([2] + [len(e) for e in envs])
        name_width = max(len(name) for _, _, name in rows)
        first_width = 2 + env_width + 2 + name_width + 2

        def line(first: str, contents: list[str]) -> str:
            parts = [first]
            for j, content in enumerate(contents):
                parts.append("|  " + content + ("  " if j < len(contents) - 1 else ""))
            return "".join(parts)

        header = line(" " * first_width, [str(col or "").center(w) for col, w in
                                           zip(columns, widths)])
        width = len(header)
        lines = ["[" + f" {label or ''} ".center(width - 2, "-") + "]", header]
        previous = (None, None)
        for row, row_cells in zip(rows, table):
            threads, env, name = row
            if threads != previous[0]:
                lines.append(f"{threads} threads: ".ljust(width, "-"))
            shown_env = f"({env})" if env and row[:2] != previous else ""
            previous = row[:2]
            contents = []
            for (text, color), w, nw in zip(row_cells, widths, number_widths):
                padded = text.rjust(nw).center(w) if text else " " * w
                if color:
                    padded = color + padded + _END
                contents.append(padded)
            first = "  " + shown_env.ljust(env_width) + "  " + name.ljust(name_width) + "  "
            lines.append(line(first, contents))
        lines += ["", f"Times are in {unit_to_english(unit)}s ({unit})."]
        if self._highlight_warnings and any(m.has_warnings for m in results):
            lines.append("(! XX%) Measurement has high variance, where XX is the IQR / median "
                         "* 100.")
        return "\n".join(lines) + "\n"

    def _trimmed_digits(self, results: list[Measurement], scale: float) -> int:
        """Decimal places shown: one, or when trimming, what the least certain time allows."""
        if not self._trim_significant_figures:
            return 1
        return max(0, min(m.significant_figures - _integer_digits(m.median / scale)
                          for m in results))

    def _cell(self, m: Measurement | None, scale: float, digits: int) -> list:
        """[text, color] of one table cell."""
        if m is None:
            return ["", None]
        value = m.median / scale
        if self._trim_significant_figures:
            value = trim_sigfig(value, m.significant_figures)
        text = f"{value:.{digits}f}"
        if self._highlight_warnings and m.has_warnings:
            text += f" (! {m.iqr / m.median * 100:.0f}%)"
        return [text, None]

    def _paint(self, table, rows, columns, cells) -> None:
        """Set each cell's color from its median relative to the best in its row, or in its
        column among rows of the same thread count."""
        if self._colorize is None:
            return
        if self._colorize == "row":
            lines = [[(i, j) for j in range(len(columns))] for i in range(len(rows))]
        else:
            lines = [[(i, j) for i in range(len(rows)) if rows[i][0] == threads]
                     for threads in _unique(row[0] for row in rows) for j in range(len(columns))]
        for cells_in_line in lines:
            found = [(cells.get(rows[i] + (columns[j],)), i, j) for i, j in cells_in_line]
            found = [(m.median, i, j) for m, i, j in found if m is not None]
            best = min(median for median, _, _ in found)
            for k, (median, i, j) in enumerate(found):
                table[i][j][1] = _color(median / best, k == _first_best(found, best))


def _first_best(found, best) -> int:
    return next(k for k, (median, _, _) in enumerate(found) if median == best)


def _color(ratio: float, is_best: bool) -> str | None:
    """Green for the best, blue within 10% of it, dim red from 2x, bold red past 4x."""
    if is_best:
        return _BEST
    if ratio <= 1.1 + 1e-9:
        return _GOOD
    if ratio > 4:
        return _VERY_SLOW
    if ratio >= 2:
        return _SLOW
    return None


def _integer_digits(value: float) -> int:
    return max(1, int(math.floor(math.log10(abs(value)))) + 1) if value else 1


def _unique(items) -> list:
    return list(dict.fromkeys(items))
