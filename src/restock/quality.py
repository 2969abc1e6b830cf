"""The data-quality picture of the intake notebook: what came in, what was kept, what is missing.

Pure functions over the store's imports, quarantine and totals (:meth:`restock.store.Store.day_totals`
and :meth:`~restock.store.Store.sku_totals`, summed in DuckDB: a big shop's order lines are
gigabytes, their totals per day or SKU are not); notebooks/01_intake.ipynb shows their results.
"""

from __future__ import annotations

import pandas as pd

__all__ = [
    "import_overview",
    "quarantine_by_reason",
    "date_coverage",
    "unknown_skus",
    "daily_orders_and_returns",
]

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


def date_coverage(day_totals: pd.DataFrame) -> pd.DataFrame:
    """First and last date, rows and distinct days per table and source (platform, where known).

    Args:
        day_totals: :meth:`restock.store.Store.day_totals`.
    """
    if day_totals.empty:
        return pd.DataFrame(columns=["table", "source", "first", "last", "rows", "days"])
    out = day_totals.groupby(["table", "source"], as_index=False, sort=False).agg(
        first=("first", "min"), last=("last", "max"), rows=("rows", "sum"), days=("date", "count")
    )
    return out[["table", "source", "first", "last", "rows", "days"]]


def unknown_skus(sku_totals: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """SKUs that were sold but are missing from the product list, by units sold.

    They cannot get a supplier, cost or lead time, so replenishment skips them until the
    product list names them.

    Args:
        sku_totals: :meth:`restock.store.Store.sku_totals`.
        products: the product list (``sku``).
    """
    columns = ["sku", "name", "units", "orders", "first_sold", "last_sold"]
    missing = sku_totals.loc[~sku_totals["sku"].isin(products["sku"]), columns]
    return missing.sort_values(["units", "sku"], ascending=[False, True], ignore_index=True)


def daily_orders_and_returns(day_totals: pd.DataFrame) -> pd.DataFrame:
    """Units ordered (cancelled lines excluded) and units returned per day, long format.

    Args:
        day_totals: :meth:`restock.store.Store.day_totals`.

    Returns:
        Columns ``date``, ``kind`` (``ordered`` or ``returned``), ``units``.
    """
    kinds = {"order_lines": "ordered", "after_sales": "returned"}
    rows = day_totals[day_totals["table"].isin(list(kinds)) & day_totals["date"].notna()]
    out = rows.assign(kind=rows["table"].map(kinds)).groupby(["kind", "date"], as_index=False)["units"].sum()
    out["units"] = out["units"].astype("int64")  # sum() of a day without units is 0
    return out[["date", "kind", "units"]]
