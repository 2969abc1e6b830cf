import pandas as pd
import pytest

from restock import quality
from restock.schema import conform
from restock.store import Store


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


@pytest.fixture
def store(tmp_path, order_lines):
    """A store holding the fixture's lines (on two platforms) and two returns."""
    lines = order_lines.assign(shop="s", line_id="1")
    after_sales = pd.DataFrame({"platform": "douyin", "after_sale_id": ["r1", "r2"], "sku": "A", "qty": [1, 2],
                                "kind": "return", "requested_at": pd.to_datetime(["2026-01-02 08:00", "2026-01-02 18:00"])})
    with Store(tmp_path / "s.duckdb") as s:
        s.upsert("order_lines", conform(lines, "order_lines"))
        s.upsert("after_sales", conform(after_sales, "after_sales"))
        yield s


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


def test_unknown_skus_lists_sold_skus_missing_from_products(store):
    out = quality.unknown_skus(store.sku_totals(), pd.DataFrame({"sku": ["A", "B"]}))
    assert out["sku"].tolist() == ["ZZ"]
    assert out.iloc[0][["name", "units", "orders"]].tolist() == ["未知商品", 5, 1]


def test_daily_orders_and_returns_excludes_cancelled_lines(store):
    out = quality.daily_orders_and_returns(store.day_totals())
    ordered = out[out["kind"] == "ordered"].set_index("date")["units"]
    assert ordered[pd.Timestamp("2026-01-01")] == 2  # the cancelled line of B is not counted
    returned = out[out["kind"] == "returned"].set_index("date")["units"]
    assert returned.to_dict() == {pd.Timestamp("2026-01-02"): 3}


def test_date_coverage_per_table_and_platform(store):
    out = quality.date_coverage(store.day_totals())
    douyin = out[(out["table"] == "order_lines") & (out["source"] == "douyin")].iloc[0]
    assert douyin["rows"] == 3 and douyin["days"] == 2  # the cancelled line still came in
    assert douyin["first"] == pd.Timestamp("2026-01-01 10:00") and douyin["last"] == pd.Timestamp("2026-01-03 20:00")
    assert out["table"].tolist() == ["order_lines", "order_lines", "after_sales"]  # sales first; empty tables left out


def test_unlisted_only_sums_just_the_skus_products_lack(store):
    store.upsert("products", conform(pd.DataFrame({"sku": ["A", "B"]}), "products"))
    assert store.sku_totals(unlisted_only=True)["sku"].tolist() == ["ZZ"]
    assert store.sku_totals()["sku"].tolist() == ["A", "B", "ZZ"]


def test_totals_are_cut_at_as_of(store):
    assert store.day_totals(as_of="2026-01-01")["date"].max() == pd.Timestamp("2026-01-01")
    cut = quality.unknown_skus(store.sku_totals(as_of="2026-01-02"), pd.DataFrame({"sku": ["A", "B"]}))
    assert cut.empty  # ZZ sold on 3 January only
