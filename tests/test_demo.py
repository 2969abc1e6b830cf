"""Tests for restock.demo on a tiny shop (60 SKUs × 120 days), read back with pandas/openpyxl.

The shop-health properties (cover, slow share, stock-outs) need more SKUs to be stable: they
run the simulation alone (no files) on 400 SKUs × 540 days, which takes about a second.
"""

from __future__ import annotations

import json

import numpy as np
import openpyxl
import pandas as pd
import pytest

from restock import demo
from restock.demo import DEMO_LABEL, MARKER_FILE, SHOP_NAME, DemoParams, generate

SKUS, DAYS, SEED, END = 60, 120, 11, "2026-03-31"
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
    po = pd.read_csv(shop_dir / "purchase_orders.csv", dtype={"po_id": str})
    assert not po.duplicated(["po_id", "sku"]).any()  # a PO lists a SKU once: the store's key
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
     ({"tiktok_share": 1.2}, "tiktok_share must be in [0, 1); got 1.2"), ({"skus": 2.5}, "skus must be an integer"),
     ({"douyin_max_lines": 0}, "douyin_max_lines must be ≥ 1; got 0")],
)
def test_params_are_validated(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        DemoParams(**kwargs)


def test_orders_of_two_or_three_lines_pair_related_skus(shop_dir, orders):
    dy = orders  # the injected bad rows (copies of real lines) left out
    lines = dy.groupby("主订单编号").size()
    assert 0.05 <= (lines >= 2).mean() <= 0.25, (lines >= 2).mean()  # about 15 % in larger shops
    assert lines.max() <= 3
    multi = dy[dy["主订单编号"].isin(lines.index[lines >= 2])]
    assert not multi.duplicated(["主订单编号", "商家编码"]).any()  # one line per SKU in an order
    assert (multi.groupby("主订单编号")["流量来源"].nunique() == 1).all()  # one traffic source per order
    products = pd.read_csv(shop_dir / "products.csv").set_index("sku")
    category = multi["商家编码"].map(products["category"])
    assert (category.groupby(multi["主订单编号"]).nunique() == 1).all()  # same SPU or paired items


def test_pre_buy_and_reorder_on_one_day_get_two_pos():
    p = DemoParams(skus=SKUS, days=DAYS, seed=SEED, end=END)
    sim = demo._Simulation(demand=None, sales=None, opening=None, counts={}, expected_rate=None, lines={},
                           pos=pd.DataFrame({"sku": [0, 0, 1], "t_order": [5, 5, 5], "qty": [10, 20, 30],
                                             "t_arrive": [20, 21, 200], "eta": [20, 20, 200],
                                             "qty_received": [10, 20, 30]}))
    rng = np.random.default_rng(p.seed)
    shop = demo._catalogue(rng, p)
    shop.supplier[:2] = shop.supplier[0]  # one supplier for both SKUs
    po = demo._purchase_order_frame(p, shop, sim)
    assert po["po_id"].nunique() == 2 and not po.duplicated(["po_id", "sku"]).any()
    assert po.groupby("po_id")["sku"].apply(sorted).tolist() == [[shop.code[0], shop.code[1]], [shop.code[0]]]
    assert po["received_at"].isna().tolist() == [False, False, True]  # SKU 1 arrives after the end


def test_douyin_exports_split_at_the_line_cap_and_the_bad_rows_follow(tmp_path):
    manifest = generate(tmp_path, skus=SKUS, days=DAYS, seed=SEED, end=END, douyin_max_lines=40)
    parts = sorted(tmp_path.glob("douyin_orders_1_part*.csv"))
    assert len(parts) >= 3 and not (tmp_path / "douyin_orders_1.csv").exists()
    frames = [pd.read_csv(f, dtype=str, encoding="utf-8-sig") for f in parts]
    assert all(len(f) <= 40 for f in frames) and all(len(f) == 40 for f in frames[:-1])
    assert all(f.columns[0] == "主订单编号" for f in frames)
    assert all(f.read_bytes().startswith(b"\xef\xbb\xbf") for f in parts)
    assert sum(len(f) for f in frames) == sum(
        v["rows"] for k, v in manifest["files"].items() if k.startswith("douyin_orders_1"))
    for row in manifest["injected_bad_rows"]:  # the manifest names the part and the line in it
        lines = (tmp_path / row["file"]).read_text(encoding="utf-8-sig").splitlines()
        cells = pd.read_csv(pd.io.common.StringIO(lines[0] + "\n" + lines[row["row"] - 1]), dtype=str).iloc[0]
        assert cells[row["column"]] == row["value"], row
    assert {r["file"] for r in manifest["injected_bad_rows"]} > {parts[0].name}  # the rows span parts
    # a later run with one file per export leaves no stale parts behind
    generate(tmp_path, skus=SKUS, days=DAYS, seed=SEED, end=END)
    assert not list(tmp_path.glob("*_part*.csv")) and (tmp_path / "douyin_orders_1.csv").exists()


@pytest.fixture(scope="module")
def health():
    """The shop at its end: on hand, trailing sales, days since the last sale (400 SKUs × 540 days)."""
    p = DemoParams(skus=400, days=540, seed=5)
    rng = np.random.default_rng(p.seed)
    shop = demo._catalogue(rng, p)
    cal = demo._calendar(rng, p, shop)
    sim = demo._simulate(rng, p, shop, cal)
    on_hand = sim.counts[p.days - 1]
    rate = sim.sales[-28:].sum(axis=0) / 28
    sold = sim.sales > 0
    since_sale = np.where(sold.any(axis=0), np.argmax(sold[::-1], axis=0), p.days)
    on_order = sim.pos[(sim.pos["t_order"] < p.days) & (sim.pos["t_arrive"] >= p.days)]
    position = on_hand + np.bincount(on_order["sku"], weights=on_order["qty_received"], minlength=p.skus)
    established = ~shop.is_bundle & (shop.launch_t < p.days - 28)
    return dict(shop=shop, sim=sim, on_hand=on_hand, rate=rate, since_sale=since_sale, position=position,
                established=established)


def test_most_selling_skus_hold_a_few_weeks_of_cover(health):
    h = health
    selling = h["established"] & (h["rate"] > 0) & (h["on_hand"] > 0)
    cover = h["on_hand"][selling] / h["rate"][selling]
    assert 20 <= np.median(cover) <= 60, np.median(cover)


def test_a_minority_of_stocked_skus_is_slow_or_dead(health):
    h = health
    stocked = h["established"] & (h["on_hand"] > 0)
    cover = np.divide(h["on_hand"], h["rate"], out=np.full(len(h["rate"]), np.inf), where=h["rate"] > 0)
    slow = stocked & ((h["since_sale"] >= 60) | (cover > 180))
    assert 0.15 <= slow.sum() / stocked.sum() <= 0.30, slow.sum() / stocked.sum()


def test_some_skus_need_an_order_and_stock_outs_happen(health):
    h = health
    shop, sim = h["shop"], h["sim"]
    selling = h["established"] & (h["rate"] > 0)
    below = selling & (h["on_hand"] <= h["rate"] * shop.lead)  # on hand under lead-time demand
    assert 0.05 <= below.sum() / selling.sum() <= 0.5, below.sum() / selling.sum()
    assert ((h["position"] <= h["rate"] * shop.lead) & selling).any()  # some even counting open POs
    stock_out_days = (sim.opening == 0)[:, h["established"]].mean()
    assert 0.01 <= stock_out_days <= 0.15, stock_out_days  # censored days for the forecasts
