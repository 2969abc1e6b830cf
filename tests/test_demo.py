"""Tests for restock.demo on a tiny shop (30 SKUs × 120 days), read back with pandas/openpyxl."""

from __future__ import annotations

import json

import numpy as np
import openpyxl
import pandas as pd
import pytest

from restock import demo
from restock.demo import DEMO_LABEL, MARKER_FILE, SHOP_NAME, DemoParams, generate

SKUS, DAYS, SEED, END = 30, 120, 11, "2026-03-31"
FILES = {
    "products.csv", "douyin_orders_1.csv", "douyin_orders_2.csv", "douyin_after_sales.csv",
    "tiktok_OrderSKUList.xlsx", "stock.csv", "purchase_orders.csv", "campaigns.csv", "traffic.csv",
}


@pytest.fixture(scope="module")
def shop_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    generate(out, skus=SKUS, days=DAYS, seed=SEED, end=END)
    return out


@pytest.fixture(scope="module")
def manifest(shop_dir):
    return json.loads((shop_dir / MARKER_FILE).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def orders(shop_dir):
    """First 抖店 export without the injected bad rows, with parsed numbers and days."""
    df = pd.read_csv(shop_dir / "douyin_orders_1.csv", dtype=str, encoding="utf-8-sig")
    df = df.apply(lambda s: s.str.lstrip("\t"))
    df["qty"] = pd.to_numeric(df["商品数量"], errors="coerce")
    df["day"] = pd.to_datetime(df["订单提交时间"], errors="coerce").dt.normalize()
    return df[df["qty"].gt(0) & df["day"].notna() & df["子订单编号"].ne("-") & df["商家编码"].ne("-")]


def test_same_arguments_give_byte_identical_files(shop_dir, tmp_path):
    generate(tmp_path, skus=SKUS, days=DAYS, seed=SEED, end=END)
    names = sorted(p.name for p in shop_dir.iterdir())
    assert names == sorted(p.name for p in tmp_path.iterdir())
    for name in names:
        assert (shop_dir / name).read_bytes() == (tmp_path / name).read_bytes(), name


def test_another_seed_gives_another_shop(shop_dir, tmp_path):
    generate(tmp_path, skus=SKUS, days=DAYS, seed=SEED + 1, end=END)
    assert (shop_dir / "douyin_orders_1.csv").read_bytes() != (tmp_path / "douyin_orders_1.csv").read_bytes()


def test_every_file_is_present_labelled_and_counted(shop_dir, manifest):
    assert FILES | {"README.md", MARKER_FILE} == {p.name for p in shop_dir.iterdir()}
    assert manifest["demo"] is True and manifest["shop"] == SHOP_NAME
    assert manifest["generated_by"] == "restock demo"
    assert (manifest["seed"], manifest["skus"], manifest["days"], manifest["end"]) == (SEED, SKUS, DAYS, END)
    assert set(manifest["files"]) == FILES
    assert DEMO_LABEL in (shop_dir / "README.md").read_text(encoding="utf-8")
    products = pd.read_csv(shop_dir / "products.csv")
    assert len(products) == SKUS == manifest["files"]["products.csv"]["rows"]
    stock = pd.read_csv(shop_dir / "stock.csv")
    assert len(stock) == manifest["files"]["stock.csv"]["rows"]
    dy = pd.read_csv(shop_dir / "douyin_orders_1.csv", dtype=str, encoding="utf-8-sig")
    assert len(dy) == manifest["files"]["douyin_orders_1.csv"]["rows"]


def test_douyin_export_has_bom_leading_tabs_dashes_and_thousands_separators(shop_dir):
    raw = (shop_dir / "douyin_orders_1.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    df = pd.read_csv(shop_dir / "douyin_orders_1.csv", dtype=str, encoding="utf-8-sig")
    assert df.columns[0] == "主订单编号"
    good = df["子订单编号"].ne("-")
    for column in ("主订单编号", "子订单编号", "选购商品", "商品规格"):
        assert df.loc[good, column].str.startswith("\t").all(), column
    assert df["售后状态"].eq("-").any() and df["取消原因"].eq("-").any()
    price = df["商品单价"].str.replace(",", "").astype(float)
    assert (df.loc[price >= 1000, "商品单价"].str.contains(",")).all()
    assert not df.loc[price < 1000, "商品单价"].str.contains(",").any()


def test_overlapping_exports_update_statuses(shop_dir, manifest):
    one = pd.read_csv(shop_dir / "douyin_orders_1.csv", dtype=str, encoding="utf-8-sig")
    two = pd.read_csv(shop_dir / "douyin_orders_2.csv", dtype=str, encoding="utf-8-sig")
    both = one.merge(two, on="子订单编号", suffixes=("_1", "_2"))
    assert len(both) > 0
    assert (both["订单状态_1"] != both["订单状态_2"]).any()
    days_2 = pd.to_datetime(two["订单提交时间"], format="%Y/%m/%d %H:%M:%S").dt.normalize()
    assert days_2.min() >= pd.Timestamp(END) - pd.Timedelta(days=59)
    days_1 = pd.to_datetime(one["订单提交时间"], errors="coerce")
    assert days_1.max() < pd.Timestamp(END) - pd.Timedelta(days=6)


def test_tiktok_xlsx_has_english_then_description_header_rows(shop_dir):
    ws = openpyxl.load_workbook(shop_dir / "tiktok_OrderSKUList.xlsx", read_only=True).active
    first, second, third = ws.iter_rows(min_row=1, max_row=3, values_only=True)
    assert first[:2] == ("Order ID", "Order Status")
    assert second[0] == "Platform unique order ID."
    assert isinstance(third[0], str) and third[0].isdigit()  # IDs stay text
    df = pd.read_excel(shop_dir / "tiktok_OrderSKUList.xlsx", skiprows=[1], dtype=str)
    assert df["SKU Unit Original Price"].str.match(r"^USD \d+\.\d\d$").all()
    text_times = df["Created Time"].str.match(r"^\d\d/\d\d/\d{4} \d\d:\d\d:\d\d$")
    assert text_times.mean() > 0.8


def test_injected_bad_rows_are_listed_and_where_the_manifest_says(shop_dir, manifest):
    bad = manifest["injected_bad_rows"]
    assert 1 <= len(bad) <= 5
    lines = (shop_dir / "douyin_orders_1.csv").read_text(encoding="utf-8-sig").splitlines()
    header = lines[0].split(",")
    for row in bad:
        cells = pd.read_csv(pd.io.common.StringIO(lines[0] + "\n" + lines[row["row"] - 1]), dtype=str).iloc[0]
        assert cells[row["column"]] == row["value"], row
        assert row["column"] in header


def test_apparel_returns_are_30_to_60_percent_of_units(shop_dir, orders):
    products = pd.read_csv(shop_dir / "products.csv")
    apparel = set(products.loc[products["category"].isin(["女装", "男装"]), "sku"])
    after = pd.read_csv(shop_dir / "douyin_after_sales.csv", dtype=str, encoding="utf-8-sig")
    after = after.apply(lambda s: s.str.lstrip("\t"))
    # lines old enough for every return request to be in the after-sales export
    sold = orders[orders["商家编码"].isin(apparel) & orders["订单状态"].isin(["已发货", "已完成"])
                  & (orders["day"] <= pd.Timestamp(END) - pd.Timedelta(days=40))]
    returns = after[after["售后类型"].isin(["退货退款", "换货"]) & after["子订单编号"].isin(sold["子订单编号"])]
    share = returns["退货数量"].astype(int).sum() / sold["qty"].sum()
    assert 0.30 <= share <= 0.60, share
    assert returns["售后原因"].value_counts().index[0] == "尺码不合适"


def test_stock_counts_are_never_negative_and_include_the_end(shop_dir):
    stock = pd.read_csv(shop_dir / "stock.csv")
    assert stock["on_hand"].min() >= 0
    assert (stock["reserved"] <= stock["on_hand"]).all()
    assert stock["as_of"].max() == END
    assert set(stock["warehouse"]) <= {"华东仓", "华南仓"}
    dates = pd.to_datetime(stock["as_of"].drop_duplicates()).sort_values()
    assert (dates.diff().dropna() == pd.Timedelta(days=7)).all()  # weekly for small shops


def test_sales_never_exceed_stock_and_stop_on_stock_out_days():
    p = DemoParams(skus=SKUS, days=DAYS, seed=SEED, end=END)
    rng = np.random.default_rng(p.seed)
    shop = demo._catalogue(rng, p)
    cal = demo._calendar(rng, p, shop)
    sim = demo._simulate(rng, p, shop, cal)
    assert sim.opening.min() >= 0
    assert (sim.sales <= sim.opening).all()
    stock_out = sim.opening == 0
    assert stock_out[:, ~shop.is_bundle].any()  # the shop does run out
    assert (sim.sales[stock_out] == 0).all()
    assert (sim.demand > sim.sales).any()  # censored demand exists
    assert (sim.sales <= sim.demand).all()
    lines_units = np.bincount(sim.lines["t"] * SKUS + sim.lines["sku"], weights=sim.lines["qty"],
                              minlength=DAYS * SKUS).reshape(DAYS, SKUS)
    assert (lines_units == sim.sales).all()  # order lines carry exactly the units sold


def test_live_session_days_show_lifts(shop_dir, orders):
    campaigns = pd.read_csv(shop_dir / "campaigns.csv")
    live = campaigns[(campaigns["kind"] == "live") & (campaigns["start"] < END)].copy()
    live["day"] = pd.to_datetime(live["start"]).dt.normalize()
    daily = orders.groupby(["商家编码", "day"])["qty"].sum()
    featured = set(zip(live["sku"], live["day"]))
    on_live = daily[[k in featured for k in daily.index]]
    off_live = daily[[k not in featured and k[0] in set(live["sku"]) for k in daily.index]]
    days_off = len(pd.date_range(orders["day"].min(), orders["day"].max())) * live["sku"].nunique()
    lift = (on_live.sum() / len(featured)) / (off_live.sum() / days_off)
    assert lift > 3, lift


def test_campaigns_cover_promotions_and_planned_sessions(shop_dir, manifest):
    campaigns = pd.read_csv(shop_dir / "campaigns.csv")
    assert set(campaigns["kind"]) == {"live", "promotion", "creator"}
    planned = campaigns[campaigns["start"] > END]
    assert len(planned) and planned["start"].max() <= str(pd.Timestamp(END) + pd.Timedelta(days=42))
    assert planned.loc[planned["kind"] == "live", "reservations"].notna().all()
    assert manifest["scenario"]["flop_campaign"] in set(campaigns["campaign_id"])


def test_purchase_orders_hold_received_and_open_lines(shop_dir):
    po = pd.read_csv(shop_dir / "purchase_orders.csv")
    received = po["received_at"].notna()
    assert received.any() and (~received).any()
    assert (po.loc[~received, "qty_received"] == 0).all()
    assert (po.loc[received, "received_at"] >= po.loc[received, "ordered_at"]).all()
    assert (po["ordered_at"] <= END).all()


def test_traffic_covers_90_days_with_the_two_story_skus(shop_dir, manifest):
    traffic = pd.read_csv(shop_dir / "traffic.csv")
    assert traffic["date"].nunique() == 90 and traffic["date"].max() == END
    assert (traffic["views"] >= traffic["clicks"]).all() and (traffic["clicks"] >= traffic["orders"]).all()
    story = manifest["scenario"]
    silent = traffic[traffic["sku"] == story["traffic_no_conversion_sku"]]
    assert silent["clicks"].sum() > 50 and silent["orders"].sum() == 0
    jump = traffic[traffic["sku"] == story["traffic_ctr_jump_sku"]]
    recent = jump["date"] > str(pd.Timestamp(END) - pd.Timedelta(days=10))
    ctr = lambda d: d["clicks"].sum() / d["views"].sum()  # noqa: E731
    assert ctr(jump[recent]) > 2 * ctr(jump[~recent])


def test_money_and_time_formatting():
    assert demo._money(np.array([129_900, 1_299, 100_000_000, 5])).to_pylist() == [
        "1,299.00", "12.99", "1,000,000.00", "0.05"]
    seconds = np.array([pd.Timestamp("2025-06-18 20:15:33").value // 10**9])
    assert demo._times(seconds).to_pylist() == ["2025-06-18 20:15:33"]
    assert demo._times(seconds, "%d/%m/%Y %H:%M:%S").to_pylist() == ["18/06/2025 20:15:33"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"skus": 5}, "skus must be at least 20; got 5"), ({"days": 30}, "days must be in [90, 3650]; got 30"),
     ({"seed": -1}, "seed must be ≥ 0; got -1"), ({"end": "22/11/2026"}, "end must be a date YYYY-MM-DD"),
     ({"tiktok_share": 1.2}, "tiktok_share must be in [0, 1); got 1.2"), ({"skus": 2.5}, "skus must be an integer")],
)
def test_params_are_validated(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        DemoParams(**kwargs)
