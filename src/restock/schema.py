"""The canonical tables: the contract between intake, the store and every later step.

Each table is a mapping of column name to a pandas dtype, plus the key that makes a row
unique in the store. Adapters produce these columns (extra columns are dropped, missing
optional ones are filled with nulls by :func:`conform`); the store creates its tables
from the same definitions, so there is one place to change a column.

Vocabularies (``ORDER_STATUSES``, ``CHANNELS``, ``AFTER_SALE_KINDS``, ``CAMPAIGN_KINDS``)
are the canonical values; adapters translate each platform's words into them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "Table",
    "TABLES",
    "ORDER_STATUSES",
    "CHANNELS",
    "AFTER_SALE_KINDS",
    "CAMPAIGN_KINDS",
    "QUARANTINE_COLUMNS",
    "AdapterResult",
    "conform",
    "keep_rows",
    "positions",
]

ORDER_STATUSES = ("unpaid", "to_ship", "shipped", "completed", "cancelled")
"""Order line life cycle. ``cancelled`` covers closed/unpaid-timeout orders too."""

CHANNELS = ("live", "video", "shelf", "affiliate", "unknown")
"""Where the sale came from: live room, short video, shop shelf/search, creator."""

AFTER_SALE_KINDS = ("refund_only", "return", "exchange")
"""``refund_only`` is a refund without goods coming back (often before shipping)."""

CAMPAIGN_KINDS = ("live", "promotion", "creator", "ads")
"""Live session, platform promotion (618, 双11 …), creator collaboration, ads push."""


@dataclass(frozen=True)
class Table:
    """A canonical table: its columns with dtypes, its key and its required columns."""

    name: str
    columns: dict[str, str]
    key: tuple[str, ...]
    required: tuple[str, ...]

    @property
    def optional(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c not in self.required)


_STR = "string[pyarrow]"  # Arrow-backed: about half the memory of Python strings
_INT = "Int64"
_FLOAT = "Float64"
_TS = "datetime64[ns]"
_BOOL = "boolean"

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "order_lines",
            {
                "platform": _STR,  # douyin | tiktok | generic
                "shop": _STR,
                "order_id": _STR,
                "line_id": _STR,  # stable across exports of the same line
                "sku": _STR,  # seller SKU (商家编码 / Seller SKU), else platform SKU id
                "platform_sku_id": _STR,
                "product_id": _STR,
                "name": _STR,
                "variant": _STR,
                "qty": _INT,  # positive; returns live in after_sales
                "unit_price": _FLOAT,
                "paid_amount": _FLOAT,
                "created_at": _TS,
                "paid_at": _TS,
                "status": _STR,  # one of ORDER_STATUSES
                "cancel_reason": _STR,
                "channel": _STR,  # one of CHANNELS
                "creator_id": _STR,
                "creator_name": _STR,
                "warehouse": _STR,
                "is_presale": _BOOL,
                "customer_id": _STR,
                "after_sale_status": _STR,  # platform's words on the order export
                "returned_qty": _INT,  # units returned, when the order export says
            },
            key=("platform", "shop", "order_id", "line_id"),
            required=("platform", "order_id", "line_id", "sku", "qty", "created_at", "status"),
        ),
        Table(
            "after_sales",
            {
                "platform": _STR,
                "shop": _STR,
                "after_sale_id": _STR,
                "order_id": _STR,
                "line_id": _STR,
                "sku": _STR,  # null when the export lacks it; see order_lines via line_id
                "qty": _INT,  # positive units returned or refunded
                "amount": _FLOAT,
                "kind": _STR,  # one of AFTER_SALE_KINDS
                "requested_at": _TS,
                "completed_at": _TS,
                "reason": _STR,
                "status": _STR,  # platform's words, e.g. 退款成功
                "restockable": _BOOL,  # goods back in sellable stock
            },
            key=("platform", "shop", "after_sale_id"),
            # sku may be missing from an after-sales export: demand takes it from the order line
            required=("platform", "after_sale_id", "qty", "kind", "requested_at"),
        ),
        Table(
            "stock",
            {
                "as_of": _TS,  # the day of the count
                "sku": _STR,
                "warehouse": _STR,
                "on_hand": _INT,
                "reserved": _INT,  # locked for a live session or pre-sale
            },
            key=("as_of", "sku", "warehouse"),
            required=("as_of", "sku", "warehouse", "on_hand"),
        ),
        Table(
            "purchase_orders",
            {
                "po_id": _STR,
                "sku": _STR,
                "supplier": _STR,
                "qty_ordered": _INT,
                "qty_received": _INT,
                "ordered_at": _TS,
                "eta": _TS,
                "received_at": _TS,  # last receipt; receipts feed FIFO stock ages
                "source": _STR,  # template | buyer_workbook
            },
            key=("po_id", "sku"),
            required=("po_id", "sku", "qty_ordered", "ordered_at"),
        ),
        Table(
            "products",
            {
                "sku": _STR,
                "spu": _STR,
                "name": _STR,
                "category": _STR,
                "variant": _STR,  # colour / size
                "unit_cost": _FLOAT,
                "price": _FLOAT,
                "supplier": _STR,
                "lead_time_days": _INT,
                "lead_time_max_days": _INT,
                "express_lead_time_days": _INT,
                "moq": _INT,
                "case_pack": _INT,
                "launch_date": _TS,
                "end_date": _TS,  # season or product end, when known
                "bundle_components": _STR,  # "SKU-A*1;SKU-B*2" for a bundle SKU
            },
            key=("sku",),
            required=("sku",),
        ),
        Table(
            "campaigns",
            {
                "campaign_id": _STR,
                "name": _STR,
                "kind": _STR,  # one of CAMPAIGN_KINDS
                "start": _TS,
                "end": _TS,
                "sku": _STR,  # null = every SKU of the shop
                "expected_units": _FLOAT,
                "uplift": _FLOAT,  # planned multiple of a normal day
                "reservations": _INT,  # 预约人数 for a live session
                "creator_id": _STR,
            },
            key=("campaign_id", "sku"),
            required=("campaign_id", "kind", "start"),
        ),
        Table(
            "traffic",
            {
                "date": _TS,
                "sku": _STR,
                "views": _INT,
                "clicks": _INT,
                "add_to_cart": _INT,
                "favorites": _INT,
                "orders": _INT,
            },
            key=("date", "sku"),
            required=("date", "sku"),
        ),
    )
}

QUARANTINE_COLUMNS: dict[str, str] = {
    "source_file": _STR,
    "source_row": _INT,  # 1-based row number in the file, header rows counted
    "table_name": _STR,  # the canonical table the row was meant for
    "column_name": _STR,  # the column at fault, or null for a whole-row reason
    "reason": _STR,  # short, stable code, e.g. "unparseable_date"
    "detail": _STR,  # the offending value and what was expected
    "raw": _STR,  # the row as JSON, so it can be fixed and re-imported
}


@dataclass
class AdapterResult:
    """What an adapter read from one file.

    Every data row of the file lands in exactly one place: one row of one canonical
    table, or one row of ``quarantine``. So ``rows_in == sum(len(t) for t in
    tables.values()) + len(quarantine)``, which :meth:`check` asserts.

    Attributes:
        source_file: the path as given.
        platform: ``douyin``, ``tiktok``, ``generic`` or ``template``.
        rows_in: data rows in the file (header and description rows not counted).
        tables: canonical table name -> frame conformed with :func:`conform`, plus a
            ``source_row`` column (1-based file row, header rows counted).
        quarantine: rows that could not be stored, with ``QUARANTINE_COLUMNS``.
    """

    source_file: str
    platform: str
    rows_in: int
    tables: dict[str, pd.DataFrame]
    quarantine: pd.DataFrame

    def check(self) -> None:
        """Raise ``AssertionError`` when the rows do not add up."""
        accounted = sum(len(t) for t in self.tables.values()) + len(self.quarantine)
        if accounted != self.rows_in:
            raise AssertionError(
                f"{self.source_file}: {self.rows_in} rows in but {accounted} accounted for"
            )


def conform(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """Return ``df`` with exactly the columns of ``table``, in order and with its dtypes.

    Missing optional columns become nulls; a missing required column raises.

    Raises:
        KeyError: the table is unknown.
        ValueError: a required column is missing, naming the columns.
    """
    spec = TABLES[table]
    missing = [c for c in spec.required if c not in df.columns]
    if missing:
        raise ValueError(f"{table}: required columns missing: {missing}")
    out = pd.DataFrame(index=df.index)
    for col, dtype in spec.columns.items():
        out[col] = df[col].astype(dtype) if col in df.columns else pd.Series(pd.NA, index=df.index, dtype=dtype)
    return out.reset_index(drop=True)


def keep_rows(frame: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    """``frame[keep]`` (a boolean mask), index reset; Arrow-backed columns filtered in Arrow.

    pandas filters an Arrow string column by taking row positions one by one; Arrow's own
    filter copies runs of rows: about ten times faster on the millions of order lines of a
    big shop.
    """
    keep = np.asarray(keep, dtype=bool)
    mask = pa.array(keep)
    columns = {}
    for name, column in frame.items():
        if isinstance(column.array, pd.arrays.ArrowExtensionArray):
            columns[name] = column.dtype.__from_arrow__(pc.filter(pa.array(column.array), mask))
        else:
            columns[name] = column.array[keep]
    return pd.DataFrame(columns, copy=False)


def positions(values: pd.Series, labels) -> np.ndarray:
    """Position of each value among ``labels`` (unique), -1 when absent or null.

    One Arrow hash lookup over the column, no Python string per row: pandas' ``factorize``
    and ``get_indexer`` on 2.3 M stock rows of a 100,000-SKU shop took 0.44 s, this 0.06 s.
    """
    found = pc.index_in(_large_strings(values), value_set=_large_strings(pd.Series(np.asarray(labels, dtype=object))))
    return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def _large_strings(values: pd.Series) -> pa.LargeStringArray:
    """A column as one Arrow large_string array (nulls kept); Arrow-backed columns are not copied."""
    arr = pa.array(values.astype("string[pyarrow]").array)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.large_string())
