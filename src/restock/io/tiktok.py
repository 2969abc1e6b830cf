"""TikTok Shop order export "OrderSKUList" (XLSX or CSV) → ``order_lines``.

Quirks handled here:

* Two header rows: row 1 holds the English column names, row 2 a localized
  description ("Platform unique order ID."); data start on row 3. CSV files may have
  the description row or not; it is recognised by its content, not assumed.
* Column order differs by region; headers are matched by name, ignoring case and
  surrounding spaces.
* Times come as ``DD/MM/YYYY HH:MM:SS`` (UK, SEA, BR), ``MM/DD/YYYY h:mm:ss AM`` (US),
  ``YYYY-MM-DD HH:MM:SS``, or Excel serial numbers. Day-first or month-first for the
  24-hour slash form is decided per column: a first field above 12 means day-first,
  a second field above 12 means month-first, otherwise day-first (US exports use AM/PM).
* Money as ``12.99``, ``USD 12.99``, ``BRL 35,91``, ``1.234,50`` (see
  :func:`restock.io._common.parse_number`).
* IDs stay text; a CSV may carry Excel-guard tabs.

One line per SKU per order: ``line_id`` = SKU ID; ``sku`` = Seller SKU, else SKU ID.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from restock.io._common import (
    EXCEL_SERIAL,
    RowFaults,
    assemble,
    constant,
    flag_missing,
    map_required_words,
    map_words,
    parse_columns,
    read_rows,
    require_columns,
    text,
)
from restock.schema import AdapterResult

__all__ = ["ORDER_COLUMNS", "REQUIRED", "ORDER_STATUSES", "read_orders"]

ORDER_COLUMNS: dict[str, str] = {
    "order_id": "Order ID",
    "status": "Order Status",
    "after_sale_status": "Cancelation/Return Type",
    "cancel_reason": "Cancel Reason",
    "is_presale": "Normal or Pre-order",
    "line_id": "SKU ID",
    "sku": "Seller SKU",
    "name": "Product Name",
    "variant": "Variation",
    "qty": "Quantity",
    "returned_qty": "Sku Quantity of return",
    "unit_price": "SKU Unit Original Price",
    "paid_amount": "SKU Subtotal After Discount",
    "created_at": "Created Time",
    "paid_at": "Paid Time",
    "warehouse": "Warehouse Name",
}
"""Canonical ``order_lines`` column -> OrderSKUList header (``platform_sku_id`` is SKU ID too)."""

REQUIRED = ("Order ID", "Order Status", "SKU ID", "Quantity", "Created Time")
"""Headers an OrderSKUList export must have."""

ORDER_STATUSES = {
    "unpaid": "unpaid",
    "awaiting shipment": "to_ship",
    "to ship": "to_ship",
    "awaiting collection": "to_ship",
    "in transit": "shipped",
    "shipped": "shipped",
    "delivered": "shipped",
    "completed": "completed",
    "cancelled": "cancelled",
    "canceled": "cancelled",
}
"""Order Status (any case) -> canonical status. ``Delivered`` is ``shipped``: the order
is not final until TikTok marks it Completed. Other words quarantine the row."""

_PRESALE = {"pre-order": True, "preorder": True, "normal": False}
_DAY_FIRST = "%d/%m/%Y %H:%M:%S"
_MONTH_FIRST = "%m/%d/%Y %H:%M:%S"
_SLASH_TIME = r"^(?P<first>\d{1,2})/(?P<second>\d{1,2})/\d{4} \d{1,2}:\d{2}:\d{2}$"
_OTHER_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", EXCEL_SERIAL)


def read_orders(path: str | Path, shop: str | None = None) -> AdapterResult:
    """Read a TikTok Shop OrderSKUList export (XLSX or CSV) into ``order_lines``.

    Args:
        path: the export.
        shop: the shop name stored on every line; ``"default"`` when None.

    Raises:
        ExportError: unreadable file, or required columns missing (named in the message).
    """
    frame = read_rows(path)
    frame.columns = _canonical_headers(frame.columns)
    require_columns(frame.columns, REQUIRED, path, "TikTok Shop OrderSKUList export")
    first_row = 2
    if _has_description_row(frame):
        frame, first_row = frame.iloc[1:].reset_index(drop=True), 3
    return _orders_from_frame(frame, first_row, path, shop)


def _canonical_headers(headers: pd.Index) -> list[str]:
    """Known headers spelled as in :data:`ORDER_COLUMNS`, whatever their case."""
    known = {h.lower(): h for h in ORDER_COLUMNS.values()}
    return [known.get(str(h).strip().lower(), str(h).strip()) for h in headers]


def _has_description_row(frame: pd.DataFrame) -> bool:
    """Row 2 describes the columns when its Order ID holds words and its Quantity no number."""
    if frame.empty:
        return False
    order_id, quantity = (str(frame.iloc[0][c]).strip() for c in ("Order ID", "Quantity"))
    has_words = re.search(r"[^\W\d_]{2,}", order_id) is not None  # letters of any script
    return has_words and not quantity.replace(".", "", 1).isdigit()


def _date_formats(frame: pd.DataFrame) -> tuple[str, ...]:
    """Formats for this file's time columns: day-first or month-first, decided per file."""
    # Chunks gathered from each column's ChunkedArray: given the ChunkedArrays themselves,
    # pa.chunked_array would convert every cell through Python.
    chunks = [chunk for c in ("Created Time", "Paid Time") if c in frame.columns
              for chunk in pa.chunked_array(pa.array(text(frame[c]).array)).chunks]
    fields = pc.extract_regex(pa.chunked_array(chunks, type=pa.large_string()), _SLASH_TIME)  # RE2 in C++
    month_first = not _any_above_12(fields, "first") and _any_above_12(fields, "second")
    return ((_MONTH_FIRST, _DAY_FIRST) if month_first else (_DAY_FIRST, _MONTH_FIRST)) + _OTHER_FORMATS


def _any_above_12(fields: pa.ChunkedArray, name: str) -> bool:
    """Whether a matched date field exceeds 12, so it cannot be the month."""
    return bool(pc.any(pc.greater(pc.cast(pc.struct_field(fields, name), pa.int64()), 12)).as_py())


def _orders_from_frame(frame: pd.DataFrame, first_row: int, source: str | Path, shop: str | None) -> AdapterResult:
    """Map OrderSKUList cells to ``order_lines``.

    Checks, in order: cells that do not parse (quantity, money, times), missing order
    id / SKU ID / quantity / created time, unknown Order Status (``unknown_status``),
    quantity ≤ 0 (``non_positive_quantity``).
    """
    faults = RowFaults(len(frame))
    lines = parse_columns(
        frame, ORDER_COLUMNS, "order_lines", faults,
        date_formats=_date_formats(frame), as_text=("status", "is_presale"),
    )
    lines["platform_sku_id"] = lines["line_id"]
    lines["sku"] = lines.get("sku", lines["line_id"]).fillna(lines["line_id"])
    flag_missing(lines, ("order_id", "line_id", "qty", "created_at"), faults, ORDER_COLUMNS)

    lines["status"] = map_required_words(lines["status"], ORDER_STATUSES, "status", ORDER_COLUMNS["status"], faults,
                                         case_insensitive=True, listed=sorted(set(ORDER_STATUSES) - {"canceled"}))
    faults.add(lines["qty"] <= 0, "non_positive_quantity", ORDER_COLUMNS["qty"], lines["qty"],
               "expected a quantity above 0")

    if "is_presale" in lines:
        lines["is_presale"] = map_words(lines["is_presale"], _PRESALE, case_insensitive=True, dtype="boolean")[0]
    lines["channel"] = constant("unknown", frame.index)  # OrderSKUList does not say where the sale came from
    lines["platform"] = constant("tiktok", frame.index)
    lines["shop"] = constant(shop or "default", frame.index)
    every_row = np.ones(len(frame), dtype=bool)
    return assemble(source, "tiktok", frame, first_row, {"order_lines": (lines, every_row)}, faults, "order_lines")
