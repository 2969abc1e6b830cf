"""Shared Excel writing for the buyers' workbooks (openpyxl).

Both workbooks (replenishment, clearance) go through :func:`write_frame`, so they share
one look (bold frozen header, filters, widths, number formats) and one safety rule:
a string from an export is always stored as text. openpyxl turns any string that starts
with ``=`` into a formula; :func:`write_frame` sets the cell type back to text so a
product named ``=HYPERLINK("http://evil","click")`` stays a name. Only the columns
named in ``formulas`` hold formulas, and those are built by our code.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

__all__ = [
    "new_workbook",
    "sheet_title",
    "write_frame",
    "write_key_values",
    "HEADER_FILL",
    "DEMO_FILL",
]

HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
DEMO_FILL = PatternFill("solid", fgColor="FFE699")
_INVALID_TITLE = re.compile(r"[\[\]:*?/\\]")


def new_workbook() -> Workbook:
    """A workbook without openpyxl's default empty sheet."""
    wb = Workbook()
    wb.remove(wb.active)
    return wb


def sheet_title(name: str, taken: Iterable[str] = ()) -> str:
    """A valid, unique sheet title for ``name`` (Excel: ≤31 chars, no ``[]:*?/\\``)."""
    base = _INVALID_TITLE.sub("_", str(name)).strip("'") or "Sheet"
    base = base[:31]
    taken_lower = {t.lower() for t in taken}
    title, n = base, 2
    while title.lower() in taken_lower:
        suffix = f" ({n})"
        title, n = base[: 31 - len(suffix)] + suffix, n + 1
    return title


def _cell_value(value):
    """Convert pandas/numpy scalars to what openpyxl stores; nulls become empty cells."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, (str, bytes, datetime, date)):
        return value.item()  # numpy scalar
    return value


def write_frame(
    ws: Worksheet,
    df: pd.DataFrame,
    *,
    start_row: int = 1,
    number_formats: Mapping[str, str] | None = None,
    formulas: Mapping[str, str] | None = None,
    widths: Mapping[str, float] | None = None,
    freeze: bool = True,
    autofilter: bool = True,
) -> None:
    """Write ``df`` as a table with a header row at ``start_row``.

    Args:
        ws: the worksheet.
        df: the rows; column names become the header.
        start_row: the header's row number.
        number_formats: column -> Excel number format, e.g. ``{"unit_cost": "#,##0.00"}``.
        formulas: column -> formula template with ``{row}`` for the current row and
            ``{<column>}`` for another column's letter, e.g. ``"={buyer_qty}{row}*{unit_cost}{row}"``.
            These columns are the only cells written as formulas.
        widths: column -> width; others get a width from their longest value (capped).
        freeze: freeze the header row.
        autofilter: add filters to the header.
    """
    number_formats = dict(number_formats or {})
    formulas = dict(formulas or {})
    columns = list(df.columns)
    letters = {c: get_column_letter(i + 1) for i, c in enumerate(columns)}
    bold = Font(bold=True)
    for j, col in enumerate(columns, start=1):
        cell = ws.cell(row=start_row, column=j, value=str(col))
        cell.data_type = "s"
        cell.font = bold
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    # Cells are built directly with their column's style (a copy of one prepared style
    # array) instead of ws.cell() plus a number_format setter per cell: about half the
    # time per cell, which matters for sheets of 100,000 rows. Rows are added in order so
    # that openpyxl's sort of the cells before saving has nothing to do.
    styles = {}
    for col, fmt in number_formats.items():
        if col in letters:
            probe = Cell(ws)
            probe.number_format = fmt
            styles[col] = probe._style
    plan = [(j + 1, styles.get(col), formulas.get(col), None if col in formulas else df[col].tolist())
            for j, col in enumerate(columns)]
    for i in range(len(df)):
        r = start_row + 1 + i
        for column, style, formula, values in plan:
            if formula is not None:
                ws._cells[(r, column)] = Cell(ws, row=r, column=column, style_array=style,
                                              value=formula.format(row=r, **letters))
                continue
            value = _cell_value(values[i])
            cell = Cell(ws, row=r, column=column, value=value, style_array=style)
            if isinstance(value, str):
                cell.data_type = "s"  # text from exports never becomes a formula
            ws._cells[(r, column)] = cell
    last_row = start_row + len(df)
    ws._current_row = max(ws._current_row, last_row)
    values = df.head(200).to_numpy(dtype=object)  # enough rows to size the columns
    for j, col in enumerate(columns):
        if widths and col in widths:
            width = widths[col]
        else:
            sample = [str(col)] + [str(v) for v in values[:, j] if v is not None]
            width = min(max(len(s) for s in sample) * 1.2 + 2, 48)
        ws.column_dimensions[letters[col]].width = width
    if freeze:
        ws.freeze_panes = f"A{start_row + 1}"
    if autofilter and columns:
        ws.auto_filter.ref = f"A{start_row}:{letters[columns[-1]]}{max(last_row, start_row)}"


def write_key_values(
    ws: Worksheet,
    rows: Iterable[tuple[str, object]],
    *,
    title: str | None = None,
    demo_label: str | None = None,
) -> int:
    """Write a two-column block (label, value), e.g. a Summary or Parameters sheet.

    Args:
        ws: the worksheet.
        rows: (label, value) pairs; values that are strings are stored as text.
        title: a bold title in the first row.
        demo_label: when given, a highlighted banner above everything else, e.g.
            "DEMO DATA — generated, not a real shop".

    Returns:
        The next free row number.
    """
    r = 1
    if demo_label:
        cell = ws.cell(row=r, column=1, value=demo_label)
        cell.data_type = "s"
        cell.font = Font(bold=True, size=14)
        cell.fill = DEMO_FILL
        r += 2
    if title:
        cell = ws.cell(row=r, column=1, value=title)
        cell.data_type = "s"
        cell.font = Font(bold=True, size=13)
        r += 2
    for label, value in rows:
        ws.cell(row=r, column=1, value=str(label)).font = Font(bold=True)
        cell = ws.cell(row=r, column=2, value=_cell_value(value))
        if isinstance(cell.value, str):
            cell.data_type = "s"
        r += 1
    ws.column_dimensions["A"].width = 34
    ws.column_dimensions["B"].width = 40
    return r + 1
