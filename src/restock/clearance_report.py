"""The clearance workbook ``clearance.xlsx`` for the team (built with :mod:`restock.excel`).

Sheets:

- **Summary** — a DEMO banner on demo data, the headline figures, then cash tied up by
  age bucket, by category and by action, with the expected cash back.
- **One sheet per action** (in :data:`restock.slow.ACTIONS` order, present even when
  empty so the layout never moves) — SKU, name, variant, stock, age, measures, cause,
  action, suggested price and expected recovery.
- **Parameters** — the run date and every :class:`~restock.slow.SlowParams` field.

All tables go through :func:`restock.excel.write_frame`: bold frozen header, filters,
number formats, and text from exports stored as text (never a formula).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl.styles import Font

from restock.excel import new_workbook, sheet_title, write_frame, write_key_values
from restock.slow import ACTIONS, SlowParams, SlowResult, bucket_labels

__all__ = ["ACTION_SHEETS", "ACTION_COLUMNS", "summary_tables", "write_clearance"]

ACTION_SHEETS = {
    "bundle": "Bundle 组合",
    "markdown": "Markdown 降价",
    "live_driver": "Live driver 引流款",
    "other_channels": "Other channels 清仓渠道",
    "write_off": "Write-off 报废捐赠",
}
"""Sheet title of each action."""

ACTION_COLUMNS = [
    "sku", "name", "variant", "category", "supplier", "on_hand", "age_days", "age_bucket",
    "sell_through", "days_since_last_sale", "days_of_cover", "capital", "holding_cost_month",
    "return_rate", "flag", "flags", "cause", "action", "discount", "suggested_price",
    "clear_days", "expected_recovery", "bundle_partner", "reason",
]
"""Columns of an action sheet, in order."""

_FORMATS = {
    "on_hand": "#,##0",
    "units": "#,##0",
    "flagged_units": "#,##0",
    "skus": "#,##0",
    "flagged_skus": "#,##0",
    "age_days": "0",
    "sell_through": "0%",
    "days_since_last_sale": "0",
    "days_of_cover": "#,##0",
    "capital": "#,##0.00",
    "value": "#,##0.00",
    "flagged_capital": "#,##0.00",
    "share_of_value": "0%",
    "holding_cost_month": "#,##0.00",
    "return_rate": "0%",
    "discount": "0%",
    "suggested_price": "#,##0.00",
    "clear_days": "0",
    "expected_recovery": "#,##0.00",
}
_WIDTHS = {"reason": 80, "name": 28}
_DEMO_LABEL = "DEMO DATA — generated, not a real shop / 演示数据"


def summary_tables(result: SlowResult, params: SlowParams) -> dict[str, pd.DataFrame]:
    """The Summary sheet's tables, as frames (pure; the writer only lays them out).

    Returns:
        ``by_age_bucket`` (all stock: units, value at cost, share of value, every bucket even
        when empty), ``by_category`` (skus, flagged skus, capital, flagged capital, expected
        cash back) and ``by_action`` (flagged SKUs per action: skus, units, capital, holding
        cost per month, expected cash back).
    """
    sm = result.slow_movers
    labels = bucket_labels(params.age_buckets)
    by_age = (
        result.age_buckets.assign(age_bucket=result.age_buckets["age_bucket"].astype(str))
        .groupby("age_bucket")[["units", "value"]]
        .sum(min_count=1)
        .reindex(labels)
        .fillna({"units": 0.0})
        .rename_axis("age_bucket")
        .reset_index()
    )
    total_value = by_age["value"].sum()
    by_age["share_of_value"] = by_age["value"] / total_value if total_value > 0 else np.nan

    flagged = sm["flag"].notna()
    cat = sm.assign(
        category=sm["category"].fillna("(none)"),
        flagged=flagged.astype(int),
        flagged_capital=sm["capital"].where(flagged),
    )
    by_category = (
        cat.groupby("category")
        .agg(
            skus=("sku", "size"),
            flagged_skus=("flagged", "sum"),
            capital=("capital", "sum"),
            flagged_capital=("flagged_capital", "sum"),
            expected_recovery=("expected_recovery", "sum"),
        )
        .sort_values("flagged_capital", ascending=False)
        .reset_index()
    )
    by_action = (
        sm[flagged]
        .groupby("action")
        .agg(
            skus=("sku", "size"),
            units=("on_hand", "sum"),
            capital=("capital", "sum"),
            holding_cost_month=("holding_cost_month", "sum"),
            expected_recovery=("expected_recovery", "sum"),
        )
        .reindex(list(ACTIONS))
        .fillna(0)
        .rename_axis("action")
        .reset_index()
    )
    return {"by_age_bucket": by_age, "by_category": by_category, "by_action": by_action}


def _headline(result: SlowResult, as_of: pd.Timestamp) -> list[tuple[str, object]]:
    sm = result.slow_movers
    flagged = sm[sm["flag"].notna()]
    return [
        ("As of 日期", as_of.strftime("%Y-%m-%d")),
        ("SKUs with stock 有库存SKU", len(sm)),
        ("Flagged SKUs 滞销SKU", len(flagged)),
        ("Capital tied up, all stock 库存资金", round(float(sm["capital"].sum()), 2)),
        ("Capital in flagged SKUs 滞销资金", round(float(flagged["capital"].sum()), 2)),
        ("Holding cost / month, flagged 月持有成本", round(float(flagged["holding_cost_month"].sum()), 2)),
        ("Expected cash back 预计回款", round(float(flagged["expected_recovery"].sum()), 2)),
    ]


def _for_excel(df: pd.DataFrame) -> pd.DataFrame:
    """Infinite cover (no demand) becomes an empty cell: Excel has no infinity."""
    numeric = df.select_dtypes("number").columns
    return df.assign(**{c: df[c].replace([np.inf, -np.inf], np.nan) for c in numeric})


def write_clearance(
    path: str | Path,
    result: SlowResult,
    params: SlowParams,
    as_of: str | pd.Timestamp,
    is_demo: bool = False,
) -> Path:
    """Write ``clearance.xlsx`` and return its path.

    Args:
        path: the file to write (its folder must exist).
        result: :func:`restock.slow.find_slow_movers` output.
        params: the parameters used, listed on the Parameters sheet.
        as_of: the analysis day.
        is_demo: put a DEMO banner on the Summary sheet.
    """
    path = Path(path)
    as_of = pd.Timestamp(as_of)
    wb = new_workbook()

    ws = wb.create_sheet("Summary")
    row = write_key_values(
        ws,
        _headline(result, as_of),
        title="Clearance plan 清仓计划",
        demo_label=_DEMO_LABEL if is_demo else None,
    )
    titles = {
        "by_age_bucket": "Cash tied up by stock age 按库龄",
        "by_category": "Cash tied up by category 按类目",
        "by_action": "Flagged stock by action 按处理方式",
    }
    for key, table in summary_tables(result, params).items():
        ws.cell(row=row, column=1, value=titles[key]).font = Font(bold=True, size=12)
        write_frame(ws, table, start_row=row + 1, number_formats=_FORMATS, freeze=False, autofilter=False)
        row += len(table) + 4

    flagged = _for_excel(result.slow_movers[result.slow_movers["flag"].notna()])
    for action in ACTIONS:
        ws = wb.create_sheet(sheet_title(ACTION_SHEETS[action], wb.sheetnames))
        rows = flagged.loc[flagged["action"] == action, ACTION_COLUMNS]
        write_frame(ws, rows, number_formats=_FORMATS, widths=_WIDTHS)

    ws = wb.create_sheet("Parameters")
    write_key_values(ws, [("as_of", as_of.strftime("%Y-%m-%d")), *params.as_rows()], title="Parameters 参数")
    wb.save(path)
    return path
