"""restock.io.generic: YAML mappings, the Online Retail rules, stable content keys."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from restock.config import MAPPINGS_DIR
from restock.io import ExportError, read_export
from restock.io.generic import MappingParams, load_mapping, read_generic

FIXTURES = Path(__file__).parent / "fixtures" / "io"
MAPPING = MAPPINGS_DIR / "online_retail.yaml"
ONLINE_RETAIL = Path("/work/shared/data/online_retail/online_retail.csv.gz")


@pytest.fixture(scope="module")
def sample():
    return read_export(FIXTURES / "online_retail_sample.csv", platform="generic", mapping=MAPPING)


def test_sample_rows_add_up(sample):
    sample.check()
    assert sample.platform == "generic"
    assert sample.rows_in == 13
    assert sample.tables["order_lines"]["source_row"].tolist() == [2, 3, 4]
    assert sample.tables["after_sales"]["source_row"].tolist() == [5]


def test_sales_values(sample):
    lines = sample.tables["order_lines"]
    first = lines.iloc[0]
    assert (first["platform"], first["shop"], first["order_id"], first["sku"]) == (
        "generic", "Online Retail (UCI)", "536365", "85123A")
    assert (first["qty"], first["unit_price"]) == (6, 2.55)
    assert first["paid_amount"] == pytest.approx(15.30)  # 6 × 2.55
    assert first["created_at"] == pd.Timestamp("2010-12-01 08:26:00")
    assert (first["status"], first["channel"], first["customer_id"]) == ("completed", "unknown", "17850.0")


def test_exact_duplicates_share_a_key_and_keys_are_stable(sample):
    keys = sample.tables["order_lines"]["line_id"].tolist()
    assert keys[1] == keys[2]  # rows 3 and 4 are the same line written twice
    assert keys[0] != keys[1]
    assert all(len(k) == 16 for k in keys)
    again = read_export(FIXTURES / "online_retail_sample.csv", platform="generic", mapping=MAPPING)
    assert again.tables["order_lines"]["line_id"].tolist() == keys


def test_c_invoice_becomes_a_return(sample):
    ret = sample.tables["after_sales"].iloc[0]
    assert (ret["order_id"], ret["sku"], ret["qty"], ret["kind"]) == ("C536379", "85123A", 2, "return")
    assert bool(ret["restockable"]) is True
    assert ret["amount"] == pytest.approx(5.10)  # 2 × 2.55
    assert ret["requested_at"] == ret["completed_at"] == pd.Timestamp("2010-12-01 09:41:00")
    assert (ret["platform"], ret["status"]) == ("generic", "credit_note")
    assert pd.notna(ret["after_sale_id"])


def test_quarantine_reasons(sample):
    q = sample.quarantine
    assert list(zip(q["source_row"], q["column_name"], q["reason"])) == [
        (6, "StockCode", "non_merchandise"),  # D (discount) on a C invoice is not a return
        (7, "StockCode", "non_merchandise"),  # POST
        (8, "StockCode", "non_merchandise"),  # gift_0001_10
        (9, "StockCode", "non_merchandise"),  # m, any case
        (10, "Quantity", "stock_adjustment"),  # -10 without a C invoice
        (11, "UnitPrice", "non_positive_price"),
        (12, "InvoiceDate", "unparseable_date"),
        (13, "Quantity", "non_numeric_quantity"),
        (14, "StockCode", "missing_sku"),
    ]
    assert set(q["table_name"]) == {"order_lines"}


def test_shop_argument_overrides_mapping():
    result = read_export(FIXTURES / "online_retail_sample.csv", platform="generic", mapping=MAPPING, shop="UK")
    assert set(result.tables["order_lines"]["shop"]) == {"UK"}
    assert set(result.tables["after_sales"]["shop"]) == {"UK"}


def test_mapping_to_another_table(tmp_path):
    path = tmp_path / "wms.csv"
    path.write_text("Date,Item,Depot,Qty\n2025-06-30,TEE,HZ,12\n2025-06-30,SUN,HZ,x\n", encoding="utf-8")
    mapping = MappingParams(
        table="stock",
        columns={"as_of": "Date", "sku": "Item", "warehouse": "Depot", "on_hand": "Qty"},
        date_formats=("%Y-%m-%d",),
    )
    result = read_generic(path, mapping)
    assert result.tables["stock"][["sku", "on_hand"]].values.tolist() == [["TEE", 12]]
    assert list(zip(result.quarantine["source_row"], result.quarantine["reason"])) == [(3, "non_numeric_quantity")]


def test_mapping_validation_names_field_and_value(tmp_path):
    with pytest.raises(ValueError, match="table must be one of .*; got 'orders'"):
        MappingParams(table="orders", columns={})
    with pytest.raises(ValueError, match=r"columns must name order_lines columns; got unknown \['colour'\]"):
        MappingParams(columns={"colour": "Colour"})
    with pytest.raises(ValueError, match=r"must provide order_lines.\['status'\]"):
        MappingParams(columns={"order_id": "A", "sku": "B", "qty": "C", "created_at": "D"})
    bad = tmp_path / "bad.yaml"
    bad.write_text("table: order_lines\ncolumn: {}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"unknown keys \['column'\]"):
        load_mapping(bad)


def test_missing_source_column_raises(tmp_path):
    path = tmp_path / "retail.csv"
    path.write_text("InvoiceNo,StockCode,Quantity\n1,A,1\n", encoding="utf-8")
    missing = "missing columns: Description, InvoiceDate, UnitPrice, CustomerID"
    with pytest.raises(ExportError, match=f"retail.csv: .*{missing}"):
        read_export(path, platform="generic", mapping=MAPPING)


@pytest.mark.skipif(not ONLINE_RETAIL.exists(), reason="Online Retail data not on this machine")
def test_online_retail_file():
    result = read_export(ONLINE_RETAIL, platform="generic", mapping=MAPPING)
    result.check()
    assert result.rows_in == 541_909
    reasons = result.quarantine["reason"].value_counts().to_dict()
    lines, returns = result.tables["order_lines"], result.tables["after_sales"]
    # counted independently from the raw file with pandas (see SOURCE.md)
    assert len(returns) == 8_704  # 9,288 C lines minus 584 of non-merchandise codes
    assert reasons == {"non_merchandise": 2_950, "stock_adjustment": 1_336, "non_positive_price": 1_161}
    assert len(lines) == 527_758
    assert (returns["qty"] > 0).all() and returns["order_id"].str.startswith("C").all()
    assert (lines["qty"] > 0).all() and (lines["unit_price"] > 0).all()
    assert not lines["sku"].isin(["POST", "DOT", "M", "BANK CHARGES", "AMAZONFEE"]).any()
    assert lines.duplicated(["order_id", "line_id"]).sum() == 5_221  # exact duplicates share a key
