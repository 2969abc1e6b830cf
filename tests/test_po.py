"""Tests for restock.po: workbook → buyer edits → open POs in a store, idempotently."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from openpyxl import load_workbook

from restock import __main__ as cli
from restock.po import import_buyer_workbook, read_buyer_workbook
from restock.policy import PolicyParams, compute_policy
from restock.replenishment_report import SUPPLIER_COLUMNS, write_replenishment
from restock.schema import TABLES, conform
from restock.store import Store

AS_OF = pd.Timestamp("2024-03-31")
SUPPLIER = "=cmd|' /C calc'!A0"  # a supplier name that must stay text all the way


def empty(name: str) -> pd.DataFrame:
    return conform(pd.DataFrame(columns=list(TABLES[name].columns)), name)


def plan_inputs() -> dict:
    """X (lead 14 d, case pack 12) and Y (lead 10 d) need orders from one supplier; Z does not."""
    products = conform(pd.DataFrame([
        {"sku": "X", "name": "Ex", "supplier": SUPPLIER, "lead_time_days": 14, "case_pack": 12, "unit_cost": 5.0},
        {"sku": "Y", "name": "Why", "supplier": SUPPLIER, "lead_time_days": 10, "case_pack": 1, "unit_cost": 2.0},
        {"sku": "Z", "name": "Zed", "supplier": "S2", "lead_time_days": 7, "case_pack": 1, "unit_cost": 1.0},
    ]), "products")
    stock = conform(pd.DataFrame([
        {"as_of": AS_OF, "sku": sku, "warehouse": "W1", "on_hand": n} for sku, n in (("X", 30), ("Y", 1), ("Z", 99))
    ]), "stock")
    forecast = pd.DataFrame([
        {"sku": sku, "date": AS_OF + pd.Timedelta(days=d), "forecast": 2.0, "baseline": 2.0, "campaign_units": 0.0,
         "model": "m"} for sku in "XYZ" for d in range(1, 29)
    ])
    ltd = pd.DataFrame([
        {"sku": sku, "lead_time_days": lead, "mean": 2.0 * lead, "std": 0.0,
         **{q: 2.0 * lead for q in ("q50", "q80", "q90", "q95", "q98", "q99")}}
        for sku, lead in (("X", 14), ("Y", 10), ("Z", 7))
    ])
    return dict(products=products, stock=stock, purchase_orders=empty("purchase_orders"),
                order_lines=empty("order_lines"), campaigns=empty("campaigns"), traffic=empty("traffic"),
                daily_demand=pd.DataFrame(columns=["sku", "date", "units", "censored"]), forecast=forecast,
                lead_time_demand=ltd, expected_returns=pd.DataFrame(columns=["sku", "date", "expected_units"]),
                as_of=AS_OF, params=PolicyParams(safety_stock_method="days_cover", days_cover_n=3))


@pytest.fixture
def workbook_path(tmp_path):
    inputs = plan_inputs()
    result = compute_policy(**inputs)
    assert result.policy.set_index("sku")["suggested_qty"].to_dict() == {"X": 36, "Y": 47, "Z": 0}
    return write_replenishment(tmp_path / "replenishment.xlsx", result, inputs["products"], inputs["params"], AS_OF)


def set_buyer_qty(path, sku: str, value) -> None:
    """What the buyer does: type a quantity into the buyer column of the SKU's row."""
    wb = load_workbook(path)
    for ws in wb.worksheets:
        head = [c.value for c in ws[1]]
        if SUPPLIER_COLUMNS["buyer_qty"] not in head:
            continue
        col = head.index(SUPPLIER_COLUMNS["buyer_qty"]) + 1
        for r in range(2, ws.max_row + 1):
            if ws.cell(row=r, column=1).value == sku:
                ws.cell(row=r, column=col).value = value
    wb.save(path)


def test_round_trip_records_buyer_quantities_once(workbook_path, tmp_path):
    store_path = tmp_path / "store.duckdb"
    set_buyer_qty(workbook_path, "Y", 50)
    first = import_buyer_workbook(workbook_path, store_path)
    assert (first["inserted"], first["updated"], first["unchanged"]) == (2, 0, 0)  # Z: 0 units, not stored
    assert (first["purchase_orders"], first["units"], first["lines_read"]) == (1, 36 + 50, 3)
    with Store(store_path, read_only=True) as store:
        pos = store.load("purchase_orders").set_index("sku").sort_index()
    assert pos["po_id"].unique().tolist() == [f"RP20240331-{SUPPLIER}"]
    assert pos["supplier"].unique().tolist() == [SUPPLIER]
    assert pos["qty_ordered"].tolist() == [36, 50]  # the buyer's 50, not the suggested 47
    assert pos["ordered_at"].unique().tolist() == [AS_OF]
    assert pos["eta"].tolist() == [AS_OF + pd.Timedelta(days=14), AS_OF + pd.Timedelta(days=10)]
    assert set(pos["source"]) == {"buyer_workbook"}

    again = import_buyer_workbook(workbook_path, store_path)
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 2)
    with Store(store_path, read_only=True) as store:
        assert len(store.load("purchase_orders")) == 2
        next_week = store.load("purchase_orders")
    # next week's plan counts them as on order
    inputs = plan_inputs() | {"purchase_orders": next_week}
    on_order = compute_policy(**inputs).policy.set_index("sku")["on_order"]
    assert on_order.to_dict() == {"X": 36, "Y": 50, "Z": 0}


def test_zero_closes_a_line_imported_before(workbook_path, tmp_path):
    store_path = tmp_path / "store.duckdb"
    import_buyer_workbook(workbook_path, store_path)
    set_buyer_qty(workbook_path, "X", 0)
    counts = import_buyer_workbook(workbook_path, store_path)
    assert (counts["inserted"], counts["updated"], counts["unchanged"]) == (0, 1, 1)
    with Store(store_path, read_only=True) as store:
        assert store.load("purchase_orders").set_index("sku")["qty_ordered"].to_dict() == {"X": 0, "Y": 47}


@pytest.mark.parametrize("value", [-3, 2.5, "lots"])
def test_bad_buyer_quantity_names_sheet_and_row(workbook_path, value):
    set_buyer_qty(workbook_path, "Y", value)
    with pytest.raises(ValueError, match=r"buyer_qty must be a whole number >= 0; got .* row 2 \(SKU Y\)"):
        read_buyer_workbook(workbook_path)


def test_blank_buyer_quantity_means_zero(workbook_path):
    set_buyer_qty(workbook_path, "X", None)
    _, lines = read_buyer_workbook(workbook_path)
    assert lines.set_index("sku")["buyer_qty"].to_dict() == {"X": 0, "Y": 47, "Z": 0}


def test_refuses_other_workbooks(tmp_path):
    from openpyxl import Workbook

    path = tmp_path / "other.xlsx"
    Workbook().save(path)
    with pytest.raises(ValueError, match="not a replenishment.xlsx written by restock"):
        import_buyer_workbook(path, tmp_path / "store.duckdb")


def test_cli_po_import(workbook_path, tmp_path, capsys):
    assert cli.main(["po", "import", str(workbook_path), "--store", str(tmp_path / "s.duckdb")]) == 0
    assert json.loads(capsys.readouterr().out)["inserted"] == 2
