import pandas as pd
import pytest

from restock import quality


@pytest.fixture
def order_lines():
    return pd.DataFrame(
        {
            "platform": ["douyin", "douyin", "tiktok", "douyin"],
            "order_id": ["o1", "o2", "o3", "o4"],
            "sku": ["A", "B", "A", "ZZ"],
            "name": ["连衣裙", "T恤", "连衣裙", "未知商品"],
            "qty": [2, 1, 3, 5],
            "status": ["completed", "cancelled", "shipped", "completed"],
            "created_at": pd.to_datetime(["2026-01-01 10:00", "2026-01-01 11:00", "2026-01-02 09:00", "2026-01-03 20:00"]),
        }
    )


def test_import_overview_flags_counts_that_do_not_add_up():
    imports = pd.DataFrame(
        {
            "source_file": ["/x/a.csv", "/x/b.csv"],
            "platform": ["douyin", "tiktok"],
            "rows_in": [10, 10],
            "stored": [7, 7],
            "quarantined": [2, 2],
            "duplicates": [1, 0],
        }
    )
    out = quality.import_overview(imports)
    assert out["source_file"].tolist() == ["a.csv", "b.csv"]
    assert out["adds_up"].tolist() == [True, False]


def test_quarantine_by_reason_counts_per_file_reason_and_column():
    q = pd.DataFrame(
        {
            "source_file": ["/d/a.csv"] * 3 + ["/d/b.csv"],
            "reason": ["unparseable_date", "unparseable_date", "missing_sku", "unparseable_date"],
            "column_name": ["订单提交时间", "订单提交时间", None, "Created Time"],
        }
    )
    out = quality.quarantine_by_reason(q)
    assert out.iloc[0].to_dict() == {"source_file": "a.csv", "reason": "unparseable_date", "column_name": "订单提交时间", "rows": 2}
    assert "(row)" in out["column_name"].tolist()
    assert out["rows"].sum() == 4


def test_unknown_skus_lists_sold_skus_missing_from_products(order_lines):
    products = pd.DataFrame({"sku": ["A", "B"]})
    out = quality.unknown_skus(order_lines, products)
    assert out["sku"].tolist() == ["ZZ"]
    assert out.loc[0, "units"] == 5


def test_daily_orders_and_returns_excludes_cancelled_lines(order_lines):
    after_sales = pd.DataFrame({"qty": [1, 2], "requested_at": pd.to_datetime(["2026-01-02 08:00", "2026-01-02 18:00"])})
    out = quality.daily_orders_and_returns(order_lines, after_sales)
    ordered = out[out["kind"] == "ordered"].set_index("date")["units"]
    assert ordered[pd.Timestamp("2026-01-01")] == 2  # the cancelled line of B is not counted
    returned = out[out["kind"] == "returned"].set_index("date")["units"]
    assert returned.to_dict() == {pd.Timestamp("2026-01-02"): 3}


def test_date_coverage_per_table_and_platform(order_lines):
    out = quality.date_coverage({"order_lines": order_lines})
    douyin = out[(out["table"] == "order_lines") & (out["source"] == "douyin")].iloc[0]
    assert douyin["rows"] == 3 and douyin["days"] == 2
    assert douyin["first"] == pd.Timestamp("2026-01-01 10:00")


def test_the_checks_need_no_column_beyond_COLUMNS(order_lines):
    after_sales = pd.DataFrame({"platform": ["douyin"], "qty": [1], "requested_at": pd.to_datetime(["2026-01-02"])})
    lines = order_lines[quality.COLUMNS["order_lines"]]  # KeyError here if the fixture lacks one
    assert set(lines.columns) == set(order_lines.columns)  # the fixture is exactly what the checks read
    coverage = quality.date_coverage({"order_lines": lines, "after_sales": after_sales[quality.COLUMNS["after_sales"]]})
    assert set(coverage["table"]) == {"order_lines", "after_sales"}
    assert quality.unknown_skus(lines, pd.DataFrame({"sku": ["A"]}))["sku"].tolist() == ["ZZ", "B"]
    assert len(quality.daily_orders_and_returns(lines, after_sales[quality.COLUMNS["after_sales"]])) == 4
