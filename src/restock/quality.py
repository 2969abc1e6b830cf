"""The data-quality picture of the intake notebook: what came in, what was kept, what is missing.

Pure functions over the store's tables; notebooks/01_intake.ipynb shows their results.
"""

from __future__ import annotations

import pandas as pd

__all__ = [
    "COLUMNS",
    "import_overview",
    "quarantine_by_reason",
    "date_coverage",
    "unknown_skus",
    "daily_orders_and_returns",
]

_DATE_COLUMN = {
    "order_lines": "created_at",
    "after_sales": "requested_at",
    "stock": "as_of",
    "purchase_orders": "ordered_at",
    "traffic": "date",
    "campaigns": "start",
}


COLUMNS = {
    "order_lines": ["platform", "order_id", "sku", "name", "qty", "created_at", "status"],
    "after_sales": ["platform", "qty", "requested_at"],
    **{table: [column] for table, column in _DATE_COLUMN.items() if table not in ("order_lines", "after_sales")},
}
"""The columns :func:`date_coverage`, :func:`unknown_skus` and :func:`daily_orders_and_returns`
read, per table: a notebook loads only these (a big shop's order lines are gigabytes)."""


def import_overview(imports: pd.DataFrame) -> pd.DataFrame:
    """Rows in, stored, quarantined and duplicates per imported file, with the check.

    ``adds_up`` is the intake invariant: rows in = stored + quarantined + duplicates.
    """
    cols = ["source_file", "platform", "rows_in", "stored", "quarantined", "duplicates"]
    out = imports[cols].copy()
    out["source_file"] = out["source_file"].map(lambda p: str(p).rsplit("/", 1)[-1])
    out["adds_up"] = out["rows_in"] == out["stored"] + out["quarantined"] + out["duplicates"]
    return out.reset_index(drop=True)


def quarantine_by_reason(quarantine: pd.DataFrame) -> pd.DataFrame:
    """Quarantined rows counted per file, reason and column, largest first."""
    if quarantine.empty:
        return pd.DataFrame(columns=["source_file", "reason", "column_name", "rows"])
    q = quarantine.assign(
        source_file=quarantine["source_file"].map(lambda p: str(p).rsplit("/", 1)[-1]),
        column_name=quarantine["column_name"].fillna("(row)"),
    )
    out = q.groupby(["source_file", "reason", "column_name"], as_index=False).size()
    return out.rename(columns={"size": "rows"}).sort_values("rows", ascending=False, ignore_index=True)


def date_coverage(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """First and last date, rows and distinct days per table (and platform, where known)."""
    parts = []
    for name, df in tables.items():
        col = _DATE_COLUMN.get(name)
        if col is None or df.empty:
            continue
        by = df["platform"].fillna("?") if "platform" in df else pd.Series(name, index=df.index)
        g = df.groupby(by.rename("source"))[col]
        part = pd.DataFrame(
            {"first": g.min(), "last": g.max(), "rows": g.size(), "days": g.apply(lambda s: s.dt.normalize().nunique())}
        ).reset_index()
        part.insert(0, "table", name)
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=["table", "source", "first", "last", "rows", "days"])
    return pd.concat(parts, ignore_index=True)


def unknown_skus(order_lines: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """SKUs that were sold but are missing from the product list, by units sold.

    They cannot get a supplier, cost or lead time, so replenishment skips them until the
    product list names them.
    """
    sold = order_lines[~order_lines["sku"].isin(products["sku"])]
    if sold.empty:
        return pd.DataFrame(columns=["sku", "name", "units", "orders", "first_sold", "last_sold"])
    out = sold.groupby("sku", as_index=False).agg(
        name=("name", "first"),
        units=("qty", "sum"),
        orders=("order_id", "nunique"),
        first_sold=("created_at", "min"),
        last_sold=("created_at", "max"),
    )
    return out.sort_values("units", ascending=False, ignore_index=True)


def daily_orders_and_returns(order_lines: pd.DataFrame, after_sales: pd.DataFrame) -> pd.DataFrame:
    """Units ordered (cancelled lines excluded) and units returned per day, long format.

    Returns:
        Columns ``date``, ``kind`` (``ordered`` or ``returned``), ``units``.
    """
    kept = order_lines[order_lines["status"] != "cancelled"]
    ordered = kept.groupby(kept["created_at"].dt.normalize())["qty"].sum()
    returned = after_sales.groupby(after_sales["requested_at"].dt.normalize())["qty"].sum()
    out = pd.concat(
        [
            ordered.rename("units").rename_axis("date").reset_index().assign(kind="ordered"),
            returned.rename("units").rename_axis("date").reset_index().assign(kind="returned"),
        ],
        ignore_index=True,
    )
    out["units"] = out["units"].astype("int64")
    return out[["date", "kind", "units"]]
