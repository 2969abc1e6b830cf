"""restock.io.douyin on fixture exports carrying the real 抖店 quirks (tests/fixtures/io)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from restock.io import ExportError, detect_platform, read_export

FIXTURES = Path(__file__).parent / "fixtures" / "io"


@pytest.fixture(scope="module")
def orders():
    return read_export(FIXTURES / "douyin_orders.csv", shop="测试小店")


@pytest.fixture(scope="module")
def after_sales():
    return read_export(FIXTURES / "douyin_after_sales.csv")


def _line(result, source_row):
    lines = result.tables["order_lines"]
    return lines.loc[lines["source_row"] == source_row].iloc[0]


def test_orders_rows_add_up(orders):
    orders.check()
    assert orders.platform == "douyin"
    assert orders.rows_in == 10
    assert list(orders.tables) == ["order_lines"]
    assert orders.tables["order_lines"]["source_row"].tolist() == [2, 3, 8, 10, 11]
    assert len(orders.quarantine) == 5


def test_bom_tabs_and_thousands_separators(orders):
    line = _line(orders, 2)
    assert line["order_id"] == "6917926768823643751"  # tab gone, all 19 digits kept
    assert line["line_id"] == "6917926768823643752"
    assert line["product_id"] == "3600000000000000001"
    assert line["creator_id"] == "7000000001"
    assert line["unit_price"] == 1299.0
    assert line["paid_amount"] == 2598.0
    assert line["qty"] == 2
    assert line["created_at"] == pd.Timestamp("2025-06-18 20:15:33")
    assert line["paid_at"] == pd.Timestamp("2025-06-18 20:16:01")
    assert (line["platform"], line["shop"], line["status"], line["channel"]) == ("douyin", "测试小店", "completed", "live")
    assert bool(line["is_presale"]) is False


def test_dash_means_empty_and_sku_falls_back_to_platform_ids(orders):
    line = _line(orders, 3)
    assert line["sku"] == "3600000000000000002:白色;L"
    assert pd.isna(line["paid_at"]) and pd.isna(line["warehouse"]) and pd.isna(line["creator_id"])
    assert line["created_at"] == pd.Timestamp("2025-06-19 09:05:00")  # slash format
    assert bool(line["is_presale"]) is True
    assert (line["status"], line["channel"]) == ("to_ship", "video")


def test_status_and_channel_words(orders):
    assert (_line(orders, 8)["status"], _line(orders, 8)["channel"]) == ("cancelled", "shelf")
    assert _line(orders, 8)["cancel_reason"] == "超时未支付"
    assert (_line(orders, 10)["status"], _line(orders, 10)["channel"]) == ("shipped", "affiliate")
    assert _line(orders, 10)["after_sale_status"] == "退款成功"
    assert (_line(orders, 11)["status"], _line(orders, 11)["channel"]) == ("unpaid", "unknown")


def test_bad_rows_are_quarantined_with_row_column_and_reason(orders):
    q = orders.quarantine
    got = list(zip(q["source_row"], q["column_name"], q["reason"]))
    assert got == [
        (4, "订单状态", "unknown_status"),
        (5, "订单提交时间", "unparseable_date"),
        (6, "商品数量", "non_numeric_quantity"),
        (7, "商品数量", "non_positive_quantity"),
        (9, "商家编码", "missing_sku"),
    ]
    assert set(q["source_file"]) == {str(FIXTURES / "douyin_orders.csv")}
    assert set(q["table_name"]) == {"order_lines"}
    assert q["detail"].iloc[0].startswith("'已签收'")
    raw = json.loads(q["raw"].iloc[0])
    assert raw["订单状态"] == "已签收" and raw["商家编码"] == "TEE-BLK-M"


def test_gbk_file_with_other_column_order():
    result = read_export(FIXTURES / "douyin_orders_gbk.csv")
    lines = result.tables["order_lines"]
    assert lines["order_id"].tolist() == ["5000", "5010"]
    assert lines["line_id"].tolist() == ["5001", "5011"]
    assert lines["name"].tolist() == ["纯棉短袖T恤", "防晒衣"]
    assert lines["unit_price"].tolist() == [59.0, 1089.9]
    assert lines["created_at"].tolist() == [pd.Timestamp("2025-06-01 10:00:00"), pd.Timestamp("2025-06-02 11:30:00")]
    assert lines["channel"].tolist() == ["unknown", "unknown"]  # no 流量来源 column
    assert lines["shop"].tolist() == ["default", "default"]


def test_missing_columns_raise_naming_them():
    with pytest.raises(ExportError, match="douyin_orders_missing_columns.csv: not a 抖店 order export; "
                                          "missing columns: 子订单编号, 商品数量"):
        read_export(FIXTURES / "douyin_orders_missing_columns.csv")


def test_forcing_the_platform_on_another_export_names_missing_columns():
    with pytest.raises(ExportError, match="missing columns: 主订单编号, 子订单编号"):
        read_export(FIXTURES / "tiktok_orders_us.csv", platform="douyin")


def test_undecodable_file_raises():
    with pytest.raises(ExportError, match="utf16_orders.csv: cannot decode"):
        read_export(FIXTURES / "utf16_orders.csv", platform="douyin")


def test_detection_from_headers_not_file_name(tmp_path):
    renamed = tmp_path / "tiktok_export.csv"
    shutil.copy(FIXTURES / "douyin_orders.csv", renamed)
    assert detect_platform(renamed) == "douyin"
    assert detect_platform(FIXTURES / "douyin_orders_gbk.csv") == "douyin"
    assert detect_platform(FIXTURES / "douyin_orders_missing_columns.csv") == "douyin"
    assert detect_platform(FIXTURES / "douyin_after_sales.csv") == "douyin_after_sales"


def test_after_sales_rows_add_up(after_sales):
    after_sales.check()
    assert after_sales.rows_in == 7
    rows = after_sales.tables["after_sales"]
    assert rows["source_row"].tolist() == [2, 3, 4, 5, 6]
    assert rows["after_sale_id"].tolist() == ["8001", "8002", "8003", "8004", "8005"]
    assert rows["kind"].tolist() == ["return", "return", "refund_only", "exchange", "return"]


def test_after_sales_restockable_rule(after_sales):
    rows = after_sales.tables["after_sales"].set_index("after_sale_id")
    # return + success + size -> back on the shelf; quality problem, refund only, closed -> not
    assert rows["restockable"].to_dict() == {
        "8001": True, "8002": False, "8003": False, "8004": True, "8005": False,
    }


def test_after_sales_values(after_sales):
    rows = after_sales.tables["after_sales"].set_index("after_sale_id")
    assert rows.loc["8001", "line_id"] == "6917926768823643752"
    assert rows.loc["8001", "amount"] == 1299.0
    assert rows.loc["8001", "completed_at"] == pd.Timestamp("2025-06-25 18:00:00")
    assert rows.loc["8002", "requested_at"] == pd.Timestamp("2025-06-23 11:00:00")
    assert rows.loc["8003", "qty"] == 2  # 退货数量 0 on a refund: 商品数量 counts
    assert pd.isna(rows.loc["8004", "amount"]) and pd.isna(rows.loc["8004", "completed_at"])


def test_after_sales_quarantine(after_sales):
    q = after_sales.quarantine
    assert list(zip(q["source_row"], q["column_name"], q["reason"])) == [
        (7, "售后类型", "unknown_kind"),
        (8, "售后申请时间", "unparseable_date"),
    ]
    assert set(q["table_name"]) == {"after_sales"}
