"""Tests for restock.replenishment_report: write the workbook, read it back with openpyxl."""

from __future__ import annotations

import pandas as pd
import pytest
from openpyxl import load_workbook

from restock.policy import PolicyParams, compute_policy
from restock.replenishment_report import META_SHEET, SUPPLIER_COLUMNS, WORKBOOK_FORMAT, write_replenishment
from restock.schema import TABLES, conform

AS_OF = pd.Timestamp("2024-03-31")
EVIL_NAME = '=HYPERLINK("http://evil.example","click")'
SCRIPT_NAME = "<script>alert(1)</script>"
H = SUPPLIER_COLUMNS


def empty(name: str) -> pd.DataFrame:
    return conform(pd.DataFrame(columns=list(TABLES[name].columns)), name)


PARAMS = PolicyParams(safety_stock_method="days_cover", days_cover_n=3)


def make_plan(params: PolicyParams):
    """Three SKUs, two suppliers; X and Y need orders, Z does not."""
    products = conform(pd.DataFrame([
        {"sku": "X", "name": EVIL_NAME, "supplier": "S1", "lead_time_days": 14, "case_pack": 12, "unit_cost": 5.0,
         "category": "bags"},
        {"sku": "Y", "name": SCRIPT_NAME, "supplier": "S1", "lead_time_days": 14, "case_pack": 1, "unit_cost": 2.5},
        {"sku": "Z", "name": "Zed", "supplier": "Summary", "lead_time_days": 7, "case_pack": 1, "unit_cost": 1.0},
    ]), "products")
    stock = conform(pd.DataFrame([
        {"as_of": AS_OF, "sku": sku, "warehouse": "W1", "on_hand": n} for sku, n in (("X", 30), ("Y", 1), ("Z", 99))
    ]), "stock")
    campaigns = conform(pd.DataFrame([
        {"campaign_id": "K1", "name": "直播 live", "kind": "live", "start": AS_OF + pd.Timedelta(days=5), "sku": "X",
         "expected_units": 40.0},
    ]), "campaigns")
    forecast = pd.DataFrame([
        {"sku": sku, "date": AS_OF + pd.Timedelta(days=d), "forecast": 2.0, "baseline": 2.0, "campaign_units": 0.0,
         "model": "m"} for sku in "XYZ" for d in range(1, 29)
    ])
    ltd = pd.DataFrame([
        {"sku": sku, "lead_time_days": lead, "mean": 2.0 * lead, "std": 0.0, **{q: 2.0 * lead for q in
         ("q50", "q80", "q90", "q95", "q98", "q99")}} for sku, lead in (("X", 14), ("Y", 14), ("Z", 7))
    ])
    result = compute_policy(products, stock, empty("purchase_orders"), empty("order_lines"), campaigns,
                            empty("traffic"), pd.DataFrame(columns=["sku", "date", "units", "censored"]),
                            forecast, ltd, pd.DataFrame(columns=["sku", "date", "expected_units"]), AS_OF, params)
    return result, products


@pytest.fixture
def plan():
    return (*make_plan(PARAMS), PARAMS)


@pytest.fixture
def workbook(plan, tmp_path):
    result, products, params = plan
    path = write_replenishment(tmp_path / "out" / "replenishment.xlsx", result, products, params, AS_OF,
                               is_demo=True, run_date=pd.Timestamp("2024-04-01 09:30"))
    return load_workbook(path), result


def header(ws) -> list[str]:
    return [c.value for c in ws[1]]


def column(ws, name: str) -> str:
    return ws.cell(row=1, column=header(ws).index(name) + 1).column_letter


def test_sheets(workbook):
    wb, _ = workbook
    # a supplier called "Summary" must not collide with the Summary sheet
    assert wb.sheetnames == ["Summary", "S1", "Summary (2)", "Alerts", "Campaign check", "Parameters", META_SHEET]
    assert wb[META_SHEET].sheet_state == "hidden"
    assert wb.active.title == "Summary"
    meta = {r[0]: r[1] for r in wb[META_SHEET].iter_rows(min_col=1, max_col=2, values_only=True) if r[0]}
    assert meta["format"] == WORKBOOK_FORMAT and meta["run_id"] == "RP20240331" and meta["as_of"] == "2024-03-31"


def test_supplier_sheet_lines_formula_and_validation(workbook):
    wb, result = workbook
    ws = wb["S1"]
    assert header(ws)[:3] == ["SKU", "品名 Name", "规格 Variant"]
    rows = {ws[f"A{r}"].value: r for r in range(2, ws.max_row + 1)}
    assert set(rows) == {"X", "Y"}
    suggested = result.policy.set_index("sku")["suggested_qty"]
    buyer, cost, value = column(ws, H["buyer_qty"]), column(ws, H["unit_cost"]), column(ws, H["line_value"])
    for sku, r in rows.items():
        assert ws[f"{buyer}{r}"].value == suggested[sku]  # pre-filled with the suggestion
        assert ws[f"{value}{r}"].data_type == "f"
        assert ws[f"{value}{r}"].value == f"={buyer}{r}*{cost}{r}"  # live: buyer qty × unit cost
    assert suggested["X"] == 36  # order-up-to 28 + 14 + 0 (no history) + 14 = 56; 56 − 30 = 26 → case pack 12
    (validation,) = ws.data_validations.dataValidation
    assert (validation.type, validation.operator, validation.formula1) == ("whole", "greaterThanOrEqual", "0")
    assert str(validation.sqref) == f"{buyer}2:{buyer}3"
    assert ws.column_dimensions[column(ws, H["supplier"])].hidden
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref.startswith("A1:")
    assert ws[f"{cost}2"].number_format == "#,##0.00"
    alert_col = column(ws, H["alert"])
    rules = [r for rng in ws.conditional_formatting for r in rng.rules if str(rng.sqref) == f"{alert_col}2:{alert_col}3"]
    assert {r.formula[0] for r in rules} >= {'"urgent"', '"order"', '"watch"'}


def test_export_text_never_becomes_a_formula(workbook):
    wb, _ = workbook
    ws = wb["S1"]
    names = {ws[f"A{r}"].value: ws[f"B{r}"] for r in range(2, ws.max_row + 1)}
    assert names["X"].value == EVIL_NAME and names["X"].data_type == "s"
    assert names["Y"].value == SCRIPT_NAME and names["Y"].data_type == "s"
    formulas = [c.coordinate for row in ws.iter_rows() for c in row if c.data_type == "f"]
    assert all(c.startswith(column(ws, H["line_value"])) for c in formulas)


def test_summary_totals_demo_banner_and_live_supplier_sums(workbook):
    wb, result = workbook
    ws = wb["Summary"]
    assert ws["A1"].value.startswith("DEMO DATA")
    labels = {r[0]: r[1] for r in ws.iter_rows(min_col=1, max_col=2, values_only=True) if r[0]}
    assert labels["数据截至 As of"] == "2024-03-31"
    assert labels["运行日期 Run date"] == "2024-04-01 09:30"
    assert labels["建议数量 Suggested units"] == int(result.policy["suggested_qty"].sum())
    assert labels["预警 Alerts: urgent"] == int((result.policy["alert"] == "urgent").sum())
    buyer = column(wb["S1"], H["buyer_qty"])
    sums = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str) and c.value.startswith("=SUM(")]
    assert f"=SUM('S1'!{buyer}2:{buyer}3)" in sums
    assert f"=SUM('Summary (2)'!{buyer}2:{buyer}2)" in sums


def test_alerts_campaign_and_parameters_sheets(workbook):
    wb, result = workbook
    alerts = wb["Alerts"]
    assert [alerts[f"A{r}"].value for r in range(2, alerts.max_row + 1)] == result.alerts["sku"].tolist()
    campaign = wb["Campaign check"]
    head = header(campaign)
    row = dict(zip(head, [c.value for c in campaign[2]]))
    assert row["SKU"] == "X" and row["状态 Status"] == "short"
    assert row["最晚到货 Arrive by"] == pd.Timestamp("2024-04-04").to_pydatetime()
    params = {r[0]: r[1] for r in wb["Parameters"].iter_rows(min_col=1, max_col=2, values_only=True) if r[0]}
    assert params["safety_stock_method"] == "days_cover" and params["abc_cutoffs"] == "0.7, 0.9"


def test_split_columns_only_when_splitting(plan, tmp_path):
    result, products, params = plan
    wb = load_workbook(write_replenishment(tmp_path / "a.xlsx", result, products, params, AS_OF))
    assert H["main_qty"] not in header(wb["S1"])
    assert not str(wb["Summary"]["A1"].value).startswith("DEMO")
    split = PolicyParams(safety_stock_method="days_cover", days_cover_n=3, split_express=True)
    split_result, _ = make_plan(split)
    wb = load_workbook(write_replenishment(tmp_path / "b.xlsx", split_result, products, split, AS_OF))
    ws = wb["S1"]
    assert {H["main_qty"], H["reserve_qty"]} <= set(header(ws))
    x = next(r for r in range(2, ws.max_row + 1) if ws[f"A{r}"].value == "X")
    # X: 36 = 3 packs of 12; 80 % → 2 packs by the normal route, 1 kept for express; buyer qty = main
    assert [ws[f"{column(ws, H[c])}{x}"].value for c in ("suggested_qty", "main_qty", "reserve_qty", "buyer_qty")] \
        == [36, 24, 12, 24]
