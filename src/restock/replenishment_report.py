"""The buyers' workbook ``replenishment.xlsx``.

Sheets: **Summary** (run date, as-of, run id, totals, alert counts, value by supplier as
live sums of the supplier sheets, a DEMO banner for generated data), **one sheet per
supplier** (what to order and why, with an editable buyer quantity), **Alerts**,
**Campaign check**, **Parameters**, and a hidden ``_restock`` sheet with the run id and
as-of that :mod:`restock.po` needs to import the buyer's edits idempotently.

Every table goes through :func:`restock.excel.write_frame`, so text from exports stays
text (a product named ``=HYPERLINK(...)`` is a name, not a formula). The only formulas
are ours: line value = buyer quantity × unit cost, and the supplier sums on Summary.
Headers are bilingual (中文 English) for Chinese-speaking buyers.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from restock.excel import new_workbook, sheet_title, write_frame, write_key_values
from restock.policy import ALERT_LEVELS, PolicyParams, PolicyResult

__all__ = [
    "META_SHEET",
    "WORKBOOK_FORMAT",
    "SUPPLIER_COLUMNS",
    "default_run_id",
    "write_replenishment",
]

META_SHEET = "_restock"
"""Hidden sheet with the identifiers ``po import`` reads (format, run_id, as_of, is_demo)."""
WORKBOOK_FORMAT = "restock.replenishment/1"

SUPPLIER_COLUMNS: dict[str, str] = {
    "sku": "SKU",
    "name": "品名 Name",
    "variant": "规格 Variant",
    "category": "类目 Category",
    "abc": "ABC",
    "xyz": "XYZ",
    "on_hand": "在库 On hand",
    "on_order": "在途 On order",
    "position": "库存头寸 Position",
    "lead_time_days": "交期(天) Lead time (d)",
    "lead_time_demand": "交期需求 Lead-time demand",
    "safety_stock": "安全库存 Safety stock",
    "reorder_point": "再订货点 Reorder point",
    "order_up_to": "目标库存 Order-up-to",
    "suggested_qty": "建议采购量 Suggested qty",
    "main_qty": "常规采购 Main qty",
    "reserve_qty": "加急预留 Express reserve",
    "buyer_qty": "采购数量 Buyer qty",
    "unit_cost": "单价 Unit cost",
    "line_value": "金额 Line value",
    "days_of_cover": "可售天数 Days of cover",
    "alert": "预警 Alert",
    "expedite": "加急 Expedite",
    "reason": "原因 Reason",
    "supplier": "供应商 Supplier",
}
"""Policy column -> header on a supplier sheet; ``po import`` finds columns by these."""

_ALERT_COLUMNS = {
    "sku": "SKU", "name": "品名 Name", "supplier": "供应商 Supplier", "alert": "预警 Alert",
    "expedite": "加急 Expedite", "days_of_cover": "可售天数 Days of cover",
    "lead_time_days": "交期(天) Lead time (d)", "position": "库存头寸 Position",
    "reorder_point": "再订货点 Reorder point", "on_order": "在途 On order",
    "suggested_qty": "建议采购量 Suggested qty", "reason": "原因 Reason",
    "expedite_reason": "加急原因 Expedite reason",
}
_CAMPAIGN_COLUMNS = {
    "campaign_id": "活动编号 Campaign id", "name": "活动 Campaign", "kind": "类型 Kind", "scope": "范围 Scope",
    "start": "开始 Start", "end": "结束 End", "sku": "SKU", "product_name": "品名 Name",
    "supplier": "供应商 Supplier", "stock_at_start": "开始时库存 Stock at start",
    "safety_stock": "安全库存 Safety stock", "campaign_units": "活动销量 Campaign units",
    "required": "需要 Required", "shortfall": "缺口 Shortfall", "expedite_qty": "加急数量 Expedite qty",
    "arrive_by": "最晚到货 Arrive by", "express_in_time": "加急来得及 Express in time",
    "status": "状态 Status",
}
_UNITS = "#,##0"
_MONEY = "#,##0.00"
_DAYS = "0.0"
_DATE = "yyyy-mm-dd"
_ALERT_FILLS = {
    "urgent": PatternFill("solid", fgColor="F8CBAD", bgColor="F8CBAD"),
    "order": PatternFill("solid", fgColor="FFE699", bgColor="FFE699"),
    "watch": PatternFill("solid", fgColor="DDEBF7", bgColor="DDEBF7"),
    "short": PatternFill("solid", fgColor="F8CBAD", bgColor="F8CBAD"),
}
_EDITABLE_FILL = PatternFill("solid", fgColor="E2EFDA")
_RESERVED_TITLES = ("Summary", "Alerts", "Campaign check", "Parameters", META_SHEET)


def default_run_id(as_of: pd.Timestamp) -> str:
    """``RP<as-of date>``: one plan per as-of date, so re-importing a re-written plan
    of the same date updates its purchase orders instead of adding new ones."""
    return f"RP{pd.Timestamp(as_of):%Y%m%d}"


def _supplier_columns(split_express: bool) -> list[str]:
    """Policy columns of a supplier sheet, in order (the split columns only when splitting)."""
    return [c for c in SUPPLIER_COLUMNS if split_express or c not in ("main_qty", "reserve_qty")]


def _supplier_rows(policy: pd.DataFrame, products: pd.DataFrame, split_express: bool) -> pd.DataFrame:
    """The supplier-sheet columns (bilingual headers), most urgent first.

    The buyer quantity starts as the main quantity (the whole suggestion unless the
    express split is on)."""
    severity = policy["alert"].map({level: i for i, level in enumerate(ALERT_LEVELS)}).fillna(len(ALERT_LEVELS))
    category = products.drop_duplicates("sku", keep="last").set_index("sku")["category"]
    # with the express split on, the order placed now is the main part; the reserve waits
    rows = (policy.assign(_severity=severity, buyer_qty=policy["main_qty"], line_value=None,
                          category=policy["sku"].map(category),
                          expedite=policy["expedite"].map({True: "yes", False: ""}))
            .sort_values(["supplier", "_severity", "suggested_qty", "sku"], ascending=[True, True, False, True]))
    return rows[_supplier_columns(split_express)].rename(columns=SUPPLIER_COLUMNS).reset_index(drop=True)


def _alert_rule(ws: Worksheet, column: str, first_row: int, last_row: int) -> None:
    """Colour alert words (urgent / order / watch / short) in one column."""
    if last_row < first_row:
        return
    cells = f"{column}{first_row}:{column}{last_row}"
    for word, fill in _ALERT_FILLS.items():
        ws.conditional_formatting.add(cells, CellIsRule(operator="equal", formula=[f'"{word}"'], fill=fill))


def _column_letter(df: pd.DataFrame, header: str) -> str:
    return get_column_letter(list(df.columns).index(header) + 1)


def _write_supplier_sheet(ws: Worksheet, rows: pd.DataFrame) -> None:
    """One supplier's lines: buyer quantity editable (whole number ≥ 0), live line value."""
    h = SUPPLIER_COLUMNS
    units = [h[c] for c in ("on_hand", "on_order", "position", "lead_time_demand", "safety_stock",
                            "reorder_point", "order_up_to", "suggested_qty", "main_qty", "reserve_qty", "buyer_qty")]
    write_frame(
        ws, rows,
        number_formats={**{c: _UNITS for c in units}, h["unit_cost"]: _MONEY, h["line_value"]: _MONEY,
                        h["days_of_cover"]: _DAYS, h["lead_time_days"]: "0"},
        formulas={h["line_value"]: "={%s}{row}*{%s}{row}" % (h["buyer_qty"], h["unit_cost"])},
        widths={h["name"]: 30, h["reason"]: 90, h["supplier"]: 16},
    )
    last = len(rows) + 1
    buyer = _column_letter(rows, h["buyer_qty"])
    if len(rows):
        validation = DataValidation(type="whole", operator="greaterThanOrEqual", formula1="0", allow_blank=True,
                                    showErrorMessage=True, errorTitle="采购数量 Buyer qty",
                                    error="请输入不小于 0 的整数 · Enter a whole number ≥ 0")
        validation.add(f"{buyer}2:{buyer}{last}")
        ws.add_data_validation(validation)
        for (cell,) in ws[f"{buyer}2:{buyer}{last}"]:
            cell.fill = _EDITABLE_FILL
    ws[f"{buyer}1"].font = Font(bold=True, color="375623")
    _alert_rule(ws, _column_letter(rows, h["alert"]), 2, last)
    ws.column_dimensions[_column_letter(rows, h["supplier"])].hidden = True  # key for po import


def _by_supplier(policy: pd.DataFrame, titles: dict[str, str]) -> pd.DataFrame:
    """Suggested lines, units and value per supplier (buyer figures are added as formulas)."""
    ordered = policy.assign(lines=policy["suggested_qty"] > 0)
    totals = ordered.groupby("supplier", sort=True).agg(
        skus=("sku", "size"), lines=("lines", "sum"), units=("suggested_qty", "sum"), value=("order_value", "sum"))
    totals = totals.reset_index()
    return pd.DataFrame({
        "供应商 Supplier": totals["supplier"],
        "工作表 Sheet": totals["supplier"].map(titles),
        "SKU数 SKUs": totals["skus"],
        "建议行数 Lines to order": totals["lines"],
        "建议数量 Suggested units": totals["units"],
        "建议金额 Suggested value": totals["value"],
        "采购数量 Buyer units": None,
        "采购金额 Buyer value": None,
    })


def _write_summary(ws: Worksheet, result: PolicyResult, titles: dict[str, str], as_of: pd.Timestamp,
                   run_id: str, run_date: pd.Timestamp, is_demo: bool, split_express: bool) -> None:
    policy = result.policy
    alerts = policy["alert"].value_counts()
    shortfalls = int((result.campaign_check["status"] == "short").sum()) if len(result.campaign_check) else 0
    rows = [
        ("运行日期 Run date", run_date.strftime("%Y-%m-%d %H:%M")),
        ("数据截至 As of", as_of.strftime("%Y-%m-%d")),
        ("运行编号 Run id", run_id),
        ("SKU数 SKUs planned", len(policy)),
        ("需采购SKU SKUs to order", int((policy["suggested_qty"] > 0).sum())),
        ("建议数量 Suggested units", int(policy["suggested_qty"].sum())),
        ("建议金额 Suggested value", round(float(policy["order_value"].fillna(0).sum()), 2)),
        *[(f"预警 Alerts: {level}", int(alerts.get(level, 0))) for level in ALERT_LEVELS],
        ("加急 Expedite flags", int(policy["expedite"].sum())),
        ("活动缺货 Campaign shortfalls", shortfalls),
    ]
    demo = "DEMO DATA — 演示数据, generated, not a real shop" if is_demo else None
    next_row = write_key_values(ws, rows, title="补货计划 Replenishment plan", demo_label=demo)
    table = _by_supplier(policy, titles)
    write_frame(ws, table, start_row=next_row, freeze=False, autofilter=False,
                number_formats={"建议数量 Suggested units": _UNITS, "建议金额 Suggested value": _MONEY,
                                "采购数量 Buyer units": _UNITS, "采购金额 Buyer value": _MONEY},
                widths={"供应商 Supplier": 34, "工作表 Sheet": 40})
    columns = _supplier_columns(split_express)
    buyer_col = get_column_letter(columns.index("buyer_qty") + 1)
    value_col = get_column_letter(columns.index("line_value") + 1)
    counts = policy.groupby("supplier").size()
    units_col = list(table.columns).index("采购数量 Buyer units") + 1
    for i, supplier in enumerate(table["供应商 Supplier"]):
        sheet = "'" + titles[supplier].replace("'", "''") + "'"
        last = int(counts[supplier]) + 1
        r = next_row + 1 + i
        ws.cell(row=r, column=units_col, value=f"=SUM({sheet}!{buyer_col}2:{buyer_col}{last})")
        ws.cell(row=r, column=units_col + 1, value=f"=SUM({sheet}!{value_col}2:{value_col}{last})")


def _campaign_rows(campaign_check: pd.DataFrame, policy: pd.DataFrame) -> pd.DataFrame:
    """Campaigns that name the SKU, and every shortfall of a shop-wide one (its many
    covered SKUs would drown the ones that matter)."""
    names = policy.set_index("sku")[["name", "supplier"]].rename(columns={"name": "product_name"})
    shown = (campaign_check["scope"] == "sku") | (campaign_check["status"] == "short")
    rows = campaign_check.loc[shown].join(names, on="sku")
    rows["express_in_time"] = rows["express_in_time"].map({True: "yes", False: "NO"})
    return rows[list(_CAMPAIGN_COLUMNS)].rename(columns=_CAMPAIGN_COLUMNS)


def _parameter_value(value: object) -> object:
    return ", ".join(str(v) for v in value) if isinstance(value, (tuple, list)) else value


def write_replenishment(path: str | Path, result: PolicyResult, products: pd.DataFrame, params: PolicyParams,
                        as_of, is_demo: bool = False, *, run_id: str | None = None,
                        run_date: pd.Timestamp | None = None) -> Path:
    """Write the buyers' workbook and return its path.

    Args:
        path: the ``.xlsx`` to write (its folder is created).
        result: :func:`restock.policy.compute_policy`'s result.
        products: the canonical products table; supplier sheets show its category.
        params: the policy parameters, listed on the Parameters sheet.
        as_of: the plan date.
        is_demo: put a DEMO banner on the Summary sheet.
        run_id: identifies the plan for ``po import`` (purchase order id = run id +
            supplier); default :func:`default_run_id`.
        run_date: when the plan was made; default now.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    as_of = pd.Timestamp(as_of).normalize()
    run_id = run_id or default_run_id(as_of)
    run_date = pd.Timestamp.now() if run_date is None else pd.Timestamp(run_date)
    policy = result.policy

    wb = new_workbook()
    summary = wb.create_sheet("Summary")
    taken = list(_RESERVED_TITLES)
    titles: dict[str, str] = {}
    rows = _supplier_rows(policy, products, params.split_express)
    supplier_header = SUPPLIER_COLUMNS["supplier"]
    for supplier, group in rows.groupby(supplier_header, sort=True):
        title = sheet_title(supplier, taken)
        taken.append(title)
        titles[supplier] = title
        _write_supplier_sheet(wb.create_sheet(title), group.reset_index(drop=True))
    _write_summary(summary, result, titles, as_of, run_id, run_date, is_demo, params.split_express)

    alerts_ws = wb.create_sheet("Alerts")
    alerts = result.alerts.assign(expedite=result.alerts["expedite"].map({True: "yes", False: ""}))
    alerts = alerts[list(_ALERT_COLUMNS)].rename(columns=_ALERT_COLUMNS)
    write_frame(alerts_ws, alerts,
                number_formats={_ALERT_COLUMNS["days_of_cover"]: _DAYS, _ALERT_COLUMNS["position"]: _UNITS,
                                _ALERT_COLUMNS["reorder_point"]: _UNITS, _ALERT_COLUMNS["on_order"]: _UNITS,
                                _ALERT_COLUMNS["suggested_qty"]: _UNITS},
                widths={_ALERT_COLUMNS["name"]: 30, _ALERT_COLUMNS["reason"]: 90,
                        _ALERT_COLUMNS["expedite_reason"]: 60})
    _alert_rule(alerts_ws, _column_letter(alerts, _ALERT_COLUMNS["alert"]), 2, len(alerts) + 1)

    campaign_ws = wb.create_sheet("Campaign check")
    campaigns = _campaign_rows(result.campaign_check, policy)
    write_frame(campaign_ws, campaigns,
                number_formats={**{_CAMPAIGN_COLUMNS[c]: _UNITS for c in
                                   ("stock_at_start", "safety_stock", "campaign_units", "required", "shortfall",
                                    "expedite_qty")},
                                **{_CAMPAIGN_COLUMNS[c]: _DATE for c in ("start", "end", "arrive_by")}},
                widths={_CAMPAIGN_COLUMNS["product_name"]: 30})
    _alert_rule(campaign_ws, _column_letter(campaigns, _CAMPAIGN_COLUMNS["status"]), 2, len(campaigns) + 1)

    write_key_values(wb.create_sheet("Parameters"),
                     [(name, _parameter_value(value)) for name, value in params.as_dict().items()],
                     title="参数 Parameters")

    meta = wb.create_sheet(META_SHEET)
    write_key_values(meta, [("format", WORKBOOK_FORMAT), ("run_id", run_id),
                            ("as_of", as_of.strftime("%Y-%m-%d")), ("run_date", run_date.isoformat()),
                            ("is_demo", str(bool(is_demo)).lower())])
    meta.sheet_state = "hidden"
    wb.active = 0
    wb.save(path)
    return path
