"""restock.io.templates: shipped templates, English/Chinese headers, checks per kind."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from restock.config import TEMPLATES_DIR
from restock.io import ExportError, detect_platform, read_export
from restock.io.templates import TEMPLATES, template_frame, template_kind

FIXTURES = Path(__file__).parent / "fixtures" / "io"


@pytest.mark.parametrize("kind", sorted(TEMPLATES))
def test_shipped_template_reads_its_example_row(kind):
    path = TEMPLATES_DIR / f"{kind}.csv"
    shipped = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert shipped.fillna("").equals(template_frame(kind).fillna("").astype(object))  # file and code agree
    assert detect_platform(path) == "template"
    result = read_export(path)
    result.check()
    assert list(result.tables) == [kind]
    assert len(result.tables[kind]) == 1 and result.quarantine.empty


def test_chinese_product_template_matches_english():
    zh = read_export(TEMPLATES_DIR / "products_zh.csv").tables["products"]
    en = read_export(TEMPLATES_DIR / "products.csv").tables["products"]
    pd.testing.assert_frame_equal(zh, en)
    assert zh.loc[0, "unit_cost"] == 28.5 and zh.loc[0, "lead_time_days"] == 12
    assert zh.loc[0, "launch_date"] == pd.Timestamp("2025-03-01") and pd.isna(zh.loc[0, "end_date"])


def test_template_kind_from_headers():
    assert template_kind(["sku", "on_hand", "as_of", "warehouse"]) == "stock"
    assert template_kind(["商家编码", "款号"]) == "products"
    assert template_kind(["SKU", "Views", "date"]) == "traffic"  # case does not matter
    assert template_kind(["sku"]) == "products"  # sku is the only required products column
    assert template_kind(["sku", "on_hand"]) is None  # stock without its required columns
    assert template_kind(["sku", "colour"]) is None


def test_stock_checks():
    result = read_export(FIXTURES / "stock_bad_rows.csv")
    result.check()
    stock = result.tables["stock"]
    assert stock[["sku", "on_hand", "reserved"]].values.tolist() == [["TEE-BLK-M", 320, 40]]
    assert stock.loc[0, "as_of"] == pd.Timestamp("2025-06-30")
    q = result.quarantine
    assert list(zip(q["source_row"], q["column_name"], q["reason"])) == [
        (3, "on_hand", "negative_value"),
        (4, "as_of", "unparseable_date"),
        (5, "sku", "missing_sku"),
    ]
    assert set(q["table_name"]) == {"stock"}


def test_xlsx_template_with_chinese_headers_and_date_cells():
    result = read_export(FIXTURES / "stock_zh.xlsx")
    stock = result.tables["stock"]
    assert stock[["sku", "warehouse", "on_hand", "reserved"]].values.tolist() == [["TEE-BLK-M", "杭州仓", 320, 40]]
    assert stock.loc[0, "as_of"] == pd.Timestamp("2025-06-30")


def test_campaign_kinds_in_chinese_and_checks():
    result = read_export(FIXTURES / "campaigns_zh.csv")
    campaigns = result.tables["campaigns"]
    assert campaigns["campaign_id"].tolist() == ["LIVE-0705", "P-618"]
    assert campaigns["kind"].tolist() == ["live", "promotion"]
    assert campaigns["start"].tolist() == [pd.Timestamp("2025-07-05 19:00:00"), pd.Timestamp("2025-06-01")]
    assert campaigns.loc[0, "reservations"] == 1200 and campaigns.loc[1, "uplift"] == 2.5
    assert pd.isna(campaigns.loc[1, "sku"])  # blank = every SKU
    q = result.quarantine
    assert list(zip(q["source_row"], q["column_name"], q["reason"])) == [
        (4, "活动类型", "unknown_kind"),
        (5, "结束时间", "end_before_start"),
    ]


def test_bundles():
    result = read_export(FIXTURES / "products_bundles.csv")
    products = result.tables["products"]
    assert products["bundle_components"].tolist() == ["TEE-BLK-M*2", "TEE-BLK-M*1;SUN-WHT-L*1"]
    q = result.quarantine
    assert list(zip(q["source_row"], q["reason"])) == [(4, "invalid_bundle")]
    assert q["detail"].iloc[0].startswith("'TEE-BLK-M x1'")


def test_unknown_column_is_named():
    path = FIXTURES / "products_unknown_column.csv"
    assert detect_platform(path) == "template"
    with pytest.raises(ExportError, match="products_unknown_column.csv: .*unknown columns for products: lead_time_day"):
        read_export(path)


def test_not_an_export():
    with pytest.raises(ExportError, match="not_an_export.csv: headers fit no known export"):
        detect_platform(FIXTURES / "not_an_export.csv")


def test_template_frame_validates_arguments():
    with pytest.raises(ValueError, match="kind must be one of .*; got 'orders'"):
        template_frame("orders")
    with pytest.raises(ValueError, match="language must be 'en' or 'zh'; got 'fr'"):
        template_frame("stock", "fr")
