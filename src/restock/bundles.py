"""Bundles (组合商品): a bundle SKU holds no stock of its own; its sales draw on its components.

The product list names a bundle's components as ``"SKU-A*1;SKU-B*2"``. Before demand is
built, every order line of a bundle becomes one line per component with the quantity
multiplied (a 美妆礼盒 of one foundation and two lipsticks sold 3 times is 3 foundations and
6 lipsticks of demand). Replenishment then orders the components, never the bundle.
"""

from __future__ import annotations

import pandas as pd

from restock.schema import keep_rows

__all__ = ["bundle_components", "explode_bundles"]


def bundle_components(products: pd.DataFrame) -> pd.DataFrame:
    """One row per bundle × component: ``bundle``, ``component``, ``units`` (per bundle).

    Raises:
        ValueError: a component entry that is not ``SKU*N`` with N a whole number > 0,
            naming the bundle and the entry.
    """
    bundles = products.loc[products["bundle_components"].fillna("").str.strip() != "", ["sku", "bundle_components"]]
    if bundles.empty:
        return pd.DataFrame({"bundle": pd.Series(dtype="string"), "component": pd.Series(dtype="string"),
                             "units": pd.Series(dtype="int64")})
    entries = bundles.assign(entry=bundles["bundle_components"].str.split(";")).explode("entry")
    entries["entry"] = entries["entry"].str.strip()
    entries = entries[entries["entry"] != ""]
    parts = entries["entry"].str.extract(r"^(?P<component>[^*]+?)\s*(?:\*\s*(?P<units>\d+))?$")
    bad = parts["component"].isna() | (parts["units"].fillna("1").astype(int) <= 0)
    if bad.any():
        row = entries[bad].iloc[0]
        raise ValueError(f"bundle_components of {row['sku']} must be 'SKU*N;SKU*N'; got entry {row['entry']!r}")
    return pd.DataFrame(
        {
            "bundle": entries["sku"].astype("string").to_numpy(),
            "component": parts["component"].str.strip().astype("string").to_numpy(),
            "units": parts["units"].fillna("1").astype("int64").to_numpy(),
        }
    )


def explode_bundles(order_lines: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """``order_lines`` with each bundle line replaced by one line per component.

    A component line keeps the order, status, channel and times of its bundle line; its
    ``line_id`` gets the component appended (unique within the order), ``qty`` is the
    bundle quantity × the component's units, and the money columns are split by units so
    that the order's totals do not change.
    """
    parts = bundle_components(products)
    is_bundle = order_lines["sku"].isin(parts["bundle"])
    if not is_bundle.any():
        return order_lines
    lines = order_lines[is_bundle].merge(parts, left_on="sku", right_on="bundle")
    share = lines["units"] / lines.groupby(["order_id", "line_id"])["units"].transform("sum")
    lines["line_id"] = lines["line_id"].astype("string") + "/" + lines["component"]
    lines["sku"] = lines["component"]
    lines["qty"] = (lines["qty"] * lines["units"]).astype(order_lines["qty"].dtype)
    for money in ("paid_amount",):
        lines[money] = lines[money] * share
    lines["unit_price"] = lines["paid_amount"] / lines["qty"]
    exploded = lines[order_lines.columns].astype(order_lines.dtypes.to_dict())
    return pd.concat([keep_rows(order_lines, ~is_bundle.to_numpy(bool)), exploded], ignore_index=True)
