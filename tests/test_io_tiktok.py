"""restock.io.tiktok on OrderSKUList fixtures: UK XLSX, US CSV, BR CSV (tests/fixtures/io)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from restock.io import ExportError, detect_platform, read_export

FIXTURES = Path(__file__).parent / "fixtures" / "io"


@pytest.fixture(scope="module")
def uk():
    return read_export(FIXTURES / "tiktok_orders_uk.xlsx", shop="UK shop")


def test_xlsx_two_header_rows(uk):
    uk.check()
    assert uk.platform == "tiktok"
    assert uk.rows_in == 4  # the description row is not data
    assert uk.tables["order_lines"]["source_row"].tolist() == [3, 4, 6]


def test_xlsx_values(uk):
    lines = uk.tables["order_lines"].set_index("source_row")
    first = lines.loc[3]
    assert (first["order_id"], first["line_id"], first["sku"]) == ("576460752303423001", "1729384756001", "TEE-BLK-M")
    assert first["platform_sku_id"] == "1729384756001"
    assert (first["qty"], first["unit_price"], first["paid_amount"]) == (2, 12.99, 25.98)
    assert first["created_at"] == pd.Timestamp("2025-06-18 20:15:33")  # DD/MM/YYYY
    assert (first["status"], first["channel"], first["shop"]) == ("completed", "unknown", "UK shop")
    assert bool(first["is_presale"]) is False


def test_excel_serial_dates_and_seller_sku_fallback(uk):
    row = uk.tables["order_lines"].set_index("source_row").loc[4]
    assert row["created_at"] == pd.Timestamp("2025-06-19 12:00:00")  # 45827.5
    assert row["paid_at"] == pd.Timestamp("2025-06-19 12:00:01")  # 45827.50001, rounded to the second
    assert row["sku"] == "1729384756002"  # no Seller SKU: SKU ID
    assert (row["status"], bool(row["is_presale"])) == ("to_ship", True)


def test_cancelled_and_unknown_status(uk):
    row = uk.tables["order_lines"].set_index("source_row").loc[6]
    assert (row["status"], row["after_sale_status"]) == ("cancelled", "Cancel")
    q = uk.quarantine
    assert list(zip(q["source_row"], q["column_name"], q["reason"])) == [(5, "Order Status", "unknown_status")]
    assert q["detail"].iloc[0].startswith("'Lost in space'")


def test_us_csv_am_pm_dollars_and_tabs():
    result = read_export(FIXTURES / "tiktok_orders_us.csv")
    lines = result.tables["order_lines"]
    assert result.rows_in == 3 and lines["source_row"].tolist() == [2, 3]
    assert lines["order_id"].tolist() == ["576460752303424001", "576460752303424002"]
    assert lines["created_at"].tolist() == [pd.Timestamp("2025-06-18 20:15:33"), pd.Timestamp("2025-06-19 00:05:00")]
    assert lines["unit_price"].tolist() == [1234.5, 12.99]
    assert lines["paid_amount"].tolist() == [1200.0, 25.98]
    assert lines["status"].tolist() == ["shipped", "shipped"]  # Delivered, In transit
    q = result.quarantine
    assert list(zip(q["source_row"], q["column_name"], q["reason"])) == [(4, "Quantity", "non_numeric_quantity")]


def test_br_csv_description_row_comma_decimals_day_first():
    result = read_export(FIXTURES / "tiktok_orders_br.csv")
    result.check()
    lines = result.tables["order_lines"]
    assert result.rows_in == 2 and lines["source_row"].tolist() == [3, 4]
    assert lines["unit_price"].tolist() == [35.91, 1234.5]
    assert lines["paid_amount"].tolist() == [35.91, 2469.0]
    # 25/06 proves the file is day-first, so 05/06 is 5 June
    assert lines["created_at"].tolist() == [pd.Timestamp("2025-06-25 14:03:00"), pd.Timestamp("2025-06-05 10:00:00")]
    assert lines["status"].tolist() == ["to_ship", "shipped"]
    assert lines["warehouse"].tolist() == ["São Paulo", "São Paulo"]


def test_detect_tiktok_from_headers():
    for name in ("tiktok_orders_uk.xlsx", "tiktok_orders_us.csv", "tiktok_orders_br.csv"):
        assert detect_platform(FIXTURES / name) == "tiktok"


def test_missing_columns_raise_naming_them(tmp_path):
    header = "Order ID,Order Status,Seller SKU,Created Time\n576460752303423001,Completed,TEE,18/06/2025 20:15:33\n"
    path = tmp_path / "orders.csv"
    path.write_text(header, encoding="utf-8")
    assert detect_platform(path) == "tiktok"
    with pytest.raises(ExportError, match="orders.csv: not a TikTok Shop OrderSKUList export; "
                                          "missing columns: SKU ID, Quantity"):
        read_export(path)
