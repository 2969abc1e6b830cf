"""Tests for restock.slow: hand-made receipts, counts and sales with hand-checked answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from restock.schema import conform
from restock.slow import ACTIONS, CAUSES, FLAGS, INPUT_COLUMNS, SlowParams, bucket_labels, find_slow_movers

AS_OF = pd.Timestamp("2024-06-30")
D = pd.Timestamp


# --------------------------------------------------------------------------- builders


def _products(*rows: dict) -> pd.DataFrame:
    base = {"category": "tops", "unit_cost": 10.0, "price": 30.0, "launch_date": D("2024-01-01")}
    return conform(pd.DataFrame([{**base, "name": f"name {r['sku']}", **r} for r in rows]), "products")


def _stock(*counts: tuple) -> pd.DataFrame:
    """(sku, day, on_hand[, warehouse]) rows."""
    rows = [{"sku": c[0], "as_of": D(c[1]), "on_hand": c[2], "warehouse": c[3] if len(c) > 3 else "W1"} for c in counts]
    return conform(pd.DataFrame(rows, columns=["sku", "as_of", "on_hand", "warehouse"]), "stock")


def _receipts(*rows: tuple) -> pd.DataFrame:
    """(sku, received day, qty) rows."""
    frame = pd.DataFrame(
        [{"po_id": f"P{i}", "sku": s, "qty_ordered": q, "qty_received": q, "ordered_at": D(d) - pd.Timedelta(days=20),
          "received_at": D(d)} for i, (s, d, q) in enumerate(rows)],
        columns=["po_id", "sku", "qty_ordered", "qty_received", "ordered_at", "received_at"],
    )
    return conform(frame, "purchase_orders")


def _lines(*rows: tuple) -> pd.DataFrame:
    """(order_id, sku, day, qty[, channel[, status]]) rows."""
    frame = pd.DataFrame(
        [{"platform": "douyin", "shop": "s1", "order_id": r[0], "line_id": f"{r[0]}-{r[1]}", "sku": r[1],
          "created_at": D(r[2]), "qty": r[3], "unit_price": 30.0, "channel": r[4] if len(r) > 4 else "shelf",
          "status": r[5] if len(r) > 5 else "completed"} for r in rows],
        columns=["platform", "shop", "order_id", "line_id", "sku", "created_at", "qty", "unit_price", "channel",
                 "status"],
    )
    return conform(frame, "order_lines")


def _forecast(**rates: float) -> pd.DataFrame:
    days = pd.date_range(AS_OF + pd.Timedelta(days=1), periods=28)
    return pd.DataFrame(
        [{"sku": s, "date": d, "forecast": r, "baseline": r, "campaign_units": 0.0, "model": "test"}
         for s, r in rates.items() for d in days]
    )


def _run(products, stock, purchase_orders=None, order_lines=None, params=None, **tables):
    return find_slow_movers(
        products, stock, purchase_orders, order_lines,
        tables.get("after_sales"), tables.get("traffic"), tables.get("campaigns"), tables.get("daily_demand"),
        tables.get("forecast"), tables.get("returns_profile"), AS_OF, params or SlowParams(),
    )


def _row(result, sku: str) -> pd.Series:
    sm = result.slow_movers
    return sm.loc[sm["sku"] == sku].iloc[0]


def _old_slow_sku(sku="S", on_hand=100, **product):
    """A SKU counted since January with no receipts (aged from its launch, 2024-01-01 = 181 d)."""
    return _products({"sku": sku, **product}), _stock((sku, "2024-01-01", on_hand), (sku, "2024-06-30", on_hand))


# --------------------------------------------------------------------------- parameters


def test_params_reject_out_of_range_values_naming_field_and_value():
    with pytest.raises(ValueError, match=r"sell_through_threshold must be in \[0, 1\]; got 1.2"):
        SlowParams(sell_through_threshold=1.2)
    with pytest.raises(ValueError, match="window_days must be an integer >= 1; got 0"):
        SlowParams(window_days=0)
    with pytest.raises(ValueError, match="discounts must be strictly increasing"):
        SlowParams(discounts=[0.3, 0.1])
    with pytest.raises(ValueError, match=r"discounts must be in \(0, 1\); got 1.5"):
        SlowParams(discounts=[0.5, 1.5])
    with pytest.raises(ValueError, match="age_buckets must be strictly increasing"):
        SlowParams(age_buckets=[60, 30])
    with pytest.raises(ValueError, match="lookback_days must be >= window_days"):
        SlowParams(window_days=60, lookback_days=30)


def test_params_store_lists_as_tuples_and_list_every_field():
    params = SlowParams(discounts=[0.2, 0.4], channels=["特卖"], age_buckets=[30, 90])
    assert params.discounts == (0.2, 0.4) and params.channels == ("特卖",)
    rows = dict(params.as_rows())
    assert rows["discounts"] == "0.2, 0.4" and rows["dead_days"] == 90
    assert bucket_labels(params.age_buckets) == ["0–30", "31–90", ">90"]


def test_as_of_is_required():
    products, stock = _old_slow_sku()
    with pytest.raises(ValueError, match="as_of must be a date; got None"):
        find_slow_movers(products, stock, None, None, as_of=None)


# --------------------------------------------------------------------------- stock ages


def test_fifo_age_from_po_receipts_and_an_unexplained_count_increase():
    # 50 counted on 1 Jan; 100 received 1 Mar (count 2 Mar explains the rise: 50+100-30 sold);
    # the rise 80 -> 110 on 1 Jun has no receipt, so it is a receipt of 30 on 1 Jun.
    # On hand 100 at 30 Jun = the newest 30 (age 29 d) + 70 of the 1 Mar receipt (age 121 d).
    stock = _stock(("A", "2024-01-01", 50), ("A", "2024-03-02", 120), ("A", "2024-05-01", 80),
                   ("A", "2024-06-01", 110), ("A", "2024-06-30", 100))
    res = _run(_products({"sku": "A"}), stock, _receipts(("A", "2024-03-01", 100)))
    row = _row(res, "A")
    assert row["on_hand"] == 100
    assert row["age_days"] == pytest.approx((30 * 29 + 70 * 121) / 100)  # 93.4
    assert row["oldest_age_days"] == 121
    assert row["age_bucket"] == "91–180"
    buckets = res.age_buckets.set_index("age_bucket")
    assert buckets.loc["0–30", "units"] == 30 and buckets.loc["0–30", "value"] == 300
    assert buckets.loc["91–180", "units"] == 70 and buckets.loc["91–180", "value"] == 700
    assert buckets["units"].sum() == 100


def test_stock_older_than_every_receipt_is_aged_from_launch():
    # 200 counted on 1 Jan, 50 received 31 May, 120 on hand: 50 aged 30 d, 70 aged from launch
    # 2023-12-01 (212 d), which is earlier than the first count.
    stock = _stock(("B", "2024-01-01", 200), ("B", "2024-06-30", 120))
    res = _run(_products({"sku": "B", "launch_date": D("2023-12-01")}), stock, _receipts(("B", "2024-05-31", 50)))
    row = _row(res, "B")
    assert row["age_days"] == pytest.approx((50 * 30 + 70 * 212) / 120)
    assert row["oldest_age_days"] == 212
    assert res.age_buckets.set_index("age_bucket")["units"].to_dict() == {"0–30": 50, ">180": 70}


def test_warehouses_counted_on_different_days_add_up():
    # W1 has 10 from 1 Jun; W2 first counted with 5 on 15 Jun (a rise of 5 with no receipt);
    # W1 drops to 8 on 30 Jun. On hand 13 = 5 aged 15 d + 8 aged from 1 Jun (29 d).
    stock = _stock(("C", "2024-06-01", 10, "W1"), ("C", "2024-06-15", 5, "W2"), ("C", "2024-06-30", 8, "W1"))
    res = _run(_products({"sku": "C", "launch_date": D("2024-06-01")}), stock)
    row = _row(res, "C")
    assert row["on_hand"] == 13
    assert row["age_days"] == pytest.approx((5 * 15 + 8 * 29) / 13)


def test_skus_without_stock_at_as_of_are_left_out():
    stock = _stock(("A", "2024-06-01", 10), ("A", "2024-06-30", 0), ("B", "2024-06-30", 4), ("B", "2024-07-05", 0))
    res = _run(_products({"sku": "A"}, {"sku": "B"}), stock)
    assert res.slow_movers["sku"].tolist() == ["B"]  # the count after as_of is ignored


def test_no_stock_gives_empty_tables_with_the_columns():
    res = _run(_products({"sku": "A"}), _stock())
    assert res.slow_movers.empty and {"sku", "age_days", "flag", "action"} <= set(res.slow_movers.columns)
    assert res.age_buckets.empty and res.bundle_partners.empty


# --------------------------------------------------------------------------- measures


def test_sell_through_last_sale_cover_capital_and_returns():
    products, stock = _old_slow_sku("A", 100)
    lines = _lines(("o1", "A", "2024-06-10", 10), ("o2", "A", "2024-06-20", 10),
                   ("o3", "A", "2024-05-01", 50),  # outside the 30-day window
                   ("o4", "A", "2024-06-25", 99, "shelf", "cancelled"))  # not a sale
    profile = pd.DataFrame({"sku": ["A"], "return_rate": [0.25], "return_lag_days": [7.0], "restock_share": [1.0],
                            "basis": ["sku"]})
    res = _run(products, stock, None, lines, forecast=_forecast(A=2.0), returns_profile=profile)
    row = _row(res, "A")
    assert row["sold_window"] == 20
    assert row["sell_through"] == pytest.approx(20 / 120)
    assert row["days_since_last_sale"] == 10
    assert row["daily_rate"] == pytest.approx(2.0 * (1 - 0.25))  # returns come back to stock
    assert row["days_of_cover"] == pytest.approx(100 / 1.5)
    assert row["capital"] == 1000 and row["holding_cost_month"] == pytest.approx(30)
    assert row["return_rate"] == 0.25


def test_return_rate_from_after_sales_when_no_profile():
    products, stock = _old_slow_sku("A", 100)
    lines = _lines(("o1", "A", "2024-06-10", 8), ("o2", "A", "2024-06-11", 2))
    after = conform(pd.DataFrame({
        "platform": "douyin", "after_sale_id": ["r1", "r2", "r3", "r4"], "sku": "A", "qty": [2, 1, 4, 5],
        "kind": ["return", "return", "exchange", "refund_only"], "requested_at": D("2024-06-15"),
        "reason": ["尺码不合适", "质量问题", "质量问题", "不想要了"],
        "restockable": [True, False, pd.NA, pd.NA]}),
        "after_sales")
    row = _row(_run(products, stock, None, lines, after_sales=after), "A")
    assert row["return_rate"] == pytest.approx(3 / 10)  # exchanges and refund_only are not returns
    assert row["main_return_reason"] == "尺码不合适"
    # 2 of 3 known returned units go back to stock: 10 sold / 30 d x (1 - 0.3 x 2/3)
    assert row["daily_rate"] == pytest.approx(10 / 30 * (1 - 0.3 * 2 / 3))


# --------------------------------------------------------------------------- flags


def test_dead_stock_outranks_slow_and_overstock():
    products, stock = _old_slow_sku("A", 10)
    res = _run(products, stock, None, _lines(("o1", "A", "2024-03-01", 1)))  # 121 d ago
    row = _row(res, "A")
    assert row["flag"] == "dead"
    assert row["flags"] == "dead;slow;overstock"
    assert "dead: no sale in 121 d" in row["reason"]


def test_never_sold_stock_is_dead_once_held_long_enough():
    products, stock = _old_slow_sku("A", 10)
    assert _row(_run(products, stock), "A")["flag"] == "dead"  # held 181 d, never sold
    young = _stock(("Y", "2024-06-01", 10), ("Y", "2024-06-30", 10))
    res = _run(_products({"sku": "Y", "launch_date": D("2024-06-01")}), young, forecast=_forecast(Y=1.0))
    assert pd.isna(_row(res, "Y")["flag"])  # 29 d old, cover 10 d: nothing to flag


def test_slow_needs_old_stock_and_low_sell_through():
    products, stock = _old_slow_sku("A", 100)
    slow = _run(products, stock, None, _lines(("o1", "A", "2024-06-20", 20)), forecast=_forecast(A=2.0))
    assert _row(slow, "A")["flag"] == "slow"  # 181 d, 20 / 120 = 17% < 20%
    brisk = _run(products, stock, None, _lines(("o1", "A", "2024-06-20", 30)), forecast=_forecast(A=2.0))
    assert pd.isna(_row(brisk, "A")["flag"])  # 30 / 130 = 23%


def test_overstock_when_cover_exceeds_the_limit():
    # fresh stock (10 d old), sells 1 a day: 400 d of cover > 180
    stock = _stock(("O", "2024-06-20", 400), ("O", "2024-06-30", 400))
    res = _run(_products({"sku": "O", "launch_date": D("2024-06-20")}), stock, None,
               _lines(("o1", "O", "2024-06-25", 10)), forecast=_forecast(O=1.0))
    row = _row(res, "O")
    assert row["flags"] == "overstock"
    assert row["days_of_cover"] == pytest.approx(400)


def test_season_end_counts_units_that_will_not_sell_before_the_end_date():
    # 100 fresh units, 2 a day, season ends in 20 d: 40 sell, 60 are left
    stock = _stock(("E", "2024-06-25", 100), ("E", "2024-06-30", 100))
    products = _products({"sku": "E", "launch_date": D("2024-06-25"), "end_date": D("2024-07-20")})
    res = _run(products, stock, None, _lines(("o1", "E", "2024-06-28", 30)), forecast=_forecast(E=2.0))
    row = _row(res, "E")
    assert row["flags"] == "season_end"
    assert "60 of 100 units will not sell" in row["reason"]


def test_flag_vocabulary_and_order():
    assert FLAGS == ("dead", "slow", "overstock", "season_end")
    assert ACTIONS[-1] == "write_off" and CAUSES[-1] == "unexplained"


# --------------------------------------------------------------------------- causes

# A slow SKU S (181 d old, 5 sold in the window out of 105) with the evidence for one cause.
_SLOW_SALES = (("s1", "S", "2024-06-20", 5),)


def _cause_of(extra_products=(), params=None, **tables):
    products, stock = _old_slow_sku("S", 100)
    products = pd.concat([products, _products(*extra_products)], ignore_index=True) if extra_products else products
    lines = tables.pop("order_lines", _lines(*_SLOW_SALES))
    res = _run(products, stock, None, lines, params, **tables)
    row = _row(res, "S")
    assert row["flag"] == "slow"
    return row


def test_cause_returns_high_with_the_main_reason():
    after = conform(pd.DataFrame({
        "platform": "douyin", "after_sale_id": ["r1", "r2"], "sku": "S", "qty": [2, 1], "kind": "return",
        "requested_at": D("2024-06-25"), "reason": ["尺码不合适", "质量问题"]}), "after_sales")
    row = _cause_of(after_sales=after)
    assert row["cause"] == "returns_high"
    assert "returns high: 60% of units, main reason 尺码不合适" in row["reason"]


def test_returns_high_only_when_above_its_peers():
    # live-commerce returns are high everywhere: 3 peers in stock return 35%, so S needs
    # 35% x 1.25 = 43.75%; 40% is normal here, 50% is high.
    products = _products({"sku": "S"}, {"sku": "P1"}, {"sku": "P2"}, {"sku": "P3"})
    stock = _stock(*[(s, d, 100) for s in ("S", "P1", "P2", "P3") for d in ("2024-01-01", "2024-06-30")])

    def cause(rate):
        profile = pd.DataFrame({"sku": ["S", "P1", "P2", "P3"], "return_rate": [rate, 0.35, 0.35, 0.35],
                                "return_lag_days": 7.0, "restock_share": 1.0, "basis": "sku"})
        return _row(_run(products, stock, None, _lines(*_SLOW_SALES), returns_profile=profile), "S")

    assert cause(0.40)["cause"] == "unexplained"
    high = cause(0.50)
    assert high["cause"] == "returns_high"
    assert "returns high: 50% of units vs 35% for its peers" in high["reason"]


def test_cause_traffic_without_conversion():
    traffic = conform(pd.DataFrame({"date": D("2024-06-20"), "sku": ["S", "F"], "views": [5000, 1000],
                                    "clicks": [400, 100], "orders": [2, 50]}), "traffic")
    row = _cause_of(traffic=traffic)
    assert row["cause"] == "traffic_no_conversion"
    assert "5,000 views, 400 clicks, 2 orders (0.04% of views vs shop 0.87%)" in row["reason"]
    stale = traffic.assign(date=D("2024-03-01"))  # 121 d ago: outside the 90-day traffic window
    assert _cause_of(traffic=stale)["cause"] == "unexplained"


def test_cause_price_above_category():
    others = ({"sku": "P1", "price": 40.0}, {"sku": "P2", "price": 50.0})
    products, stock = _old_slow_sku("S", 100, price=100.0)
    res = _run(pd.concat([products, _products(*others)], ignore_index=True), stock, None, _lines(*_SLOW_SALES))
    row = _row(res, "S")
    assert row["cause"] == "price_above_category"
    assert "price 100.00 is 100% above the tops median 50.00" in row["reason"]


def test_cause_falling_trend_ignores_stock_out_days():
    days = pd.date_range(end=AS_OF, periods=56)
    units = [2.0] * 28 + [0.5] * 28  # 2 a day, then 0.5 a day: -75%
    demand = pd.DataFrame({"sku": "S", "date": days, "units": units, "censored": False, "campaign_kind": None})
    row = _cause_of(daily_demand=demand)
    assert row["cause"] == "falling_trend"
    assert "0.5/d in the last 28 d vs 2.0/d before (-75%)" in row["reason"]
    stocked_out = demand.assign(censored=[False] * 28 + [True] * 28)  # the drop is a stock-out
    assert _cause_of(daily_demand=stocked_out)["cause"] == "unexplained"


def test_cause_campaign_that_sold_less_than_planned():
    campaigns = conform(pd.DataFrame({"campaign_id": ["c1"], "name": ["520直播"], "kind": ["live"],
                                      "start": [D("2024-05-20")], "end": [D("2024-05-21")], "sku": ["S"],
                                      "expected_units": [100.0]}), "campaigns")
    lines = _lines(*_SLOW_SALES, ("c1", "S", "2024-05-20", 30))
    row = _cause_of(campaigns=campaigns, order_lines=lines)
    assert row["cause"] == "campaign_shortfall"
    assert "campaign 520直播 sold 30 of 100 planned units (30%)" in row["reason"]
    enough = _lines(*_SLOW_SALES, ("c1", "S", "2024-05-20", 60))  # 60% of plan is not short
    assert _cause_of(campaigns=campaigns, order_lines=enough)["cause"] == "unexplained"


def test_shop_wide_campaign_shortfall_counts_for_every_sku():
    campaigns = conform(pd.DataFrame({"campaign_id": ["c1"], "name": ["618大促"], "kind": ["promotion"],
                                      "start": [D("2024-06-18")], "sku": [None], "expected_units": [500.0]}),
                        "campaigns")
    row = _cause_of(campaigns=campaigns)
    assert row["cause"] == "campaign_shortfall"
    assert "campaign 618大促 sold 0 of 500" in row["reason"]


def test_first_cause_wins_and_all_are_listed():
    others = ({"sku": "P1", "price": 40.0}, {"sku": "P2", "price": 50.0})
    after = conform(pd.DataFrame({"platform": "douyin", "after_sale_id": ["r1"], "sku": "S", "qty": [3],
                                  "kind": "return", "requested_at": D("2024-06-25")}), "after_sales")
    products, stock = _old_slow_sku("S", 100, price=100.0)
    res = _run(pd.concat([products, _products(*others)], ignore_index=True), stock, None, _lines(*_SLOW_SALES),
               after_sales=after)
    row = _row(res, "S")
    assert row["cause"] == "returns_high"
    assert row["causes"] == "returns_high;price_above_category"
    assert "main reason unknown" in row["reason"]


def test_no_cause_in_the_data_says_so():
    row = _cause_of()
    assert row["cause"] == "unexplained" and "no cause found in the data" in row["reason"]


# --------------------------------------------------------------------------- bundles


def _basket_world(slow_on_hand=100):
    """S (slow) is bought with the fast mover F in 4 orders; F alone in 6; G (no stock) in 10."""
    products = _products({"sku": "S", "price": 50.0, "unit_cost": 20.0}, {"sku": "F", "launch_date": D("2024-06-01")},
                         {"sku": "G"})
    stock = _stock(("S", "2024-01-01", slow_on_hand), ("S", "2024-06-30", slow_on_hand),
                   ("F", "2024-06-01", 5), ("F", "2024-06-30", 5))
    rows = [(f"o{i}", sku, "2024-06-10", 1) for i in range(1, 5) for sku in ("S", "F")]
    rows += [(f"o{i}", "F", "2024-06-12", 1) for i in range(5, 11)]
    rows += [(f"o{i}", "G", "2024-06-12", 1) for i in range(11, 21)]
    return products, stock, _lines(*rows)


def test_bundle_partner_found_from_shared_orders():
    products, stock, lines = _basket_world()
    res = _run(products, stock, None, lines)
    partners = res.bundle_partners
    assert len(partners) == 1
    p = partners.iloc[0]
    assert (p["sku"], p["partner_sku"], p["together_orders"], p["rank"]) == ("S", "F", 4, 1)
    assert p["support"] == pytest.approx(4 / 20)
    assert p["confidence"] == pytest.approx(1.0)
    assert p["lift"] == pytest.approx(4 * 20 / (4 * 10))  # 2.0
    assert _row(res, "S")["bundle_partner"] == "F"


def test_bundle_partner_needs_enough_shared_orders_and_lift():
    products, stock, lines = _basket_world()
    assert _run(products, stock, None, lines, SlowParams(bundle_min_orders=5)).bundle_partners.empty
    assert _run(products, stock, None, lines, SlowParams(bundle_min_lift=2.5)).bundle_partners.empty


# --------------------------------------------------------------------------- actions


def test_action_bundle_when_the_partner_clears_the_stock_in_time():
    # S: 30 on hand, 0.1/d alone; with F's 3/d x 20% attach: 0.7/d -> 42.9 d <= 60
    products, stock, lines = _basket_world(slow_on_hand=30)
    row = _row(_run(products, stock, None, lines, forecast=_forecast(S=0.1, F=3.0)), "S")
    assert row["action"] == "bundle"
    assert row["clear_days"] == pytest.approx(30 / 0.7)
    assert row["suggested_price"] == pytest.approx(45.0)  # 50 less the 10% bundle discount
    assert row["expected_recovery"] == pytest.approx(30 * 45 * 0.95)
    assert "bundle with F (name F): bought together in 4 orders, lift 2.0" in row["reason"]


def test_action_markdown_takes_the_smallest_step_that_clears_in_time():
    # 100 units at 1/d need 1.67/d to clear in 60 d: 20% off lifts to 1/0.8^2 = 1.56 (too little),
    # 30% off to 1/0.7^2 = 2.04/d -> 49 d.
    products, stock = _old_slow_sku("M", 100)
    row = _row(_run(products, stock, None, _lines(("o1", "M", "2024-06-20", 5)), forecast=_forecast(M=1.0)), "M")
    assert row["action"] == "markdown"
    assert row["discount"] == pytest.approx(0.3)
    assert row["suggested_price"] == pytest.approx(21.0)
    assert row["clear_days"] == pytest.approx(100 * 0.49)
    assert row["expected_recovery"] == pytest.approx(100 * 21 * 0.95)


def test_action_live_driver_when_markdown_is_too_slow_and_it_sold_live():
    # 0.1/d even at 50% off is 0.4/d (250 d); it sold in the live room; 50/week clears in 14 d
    products, stock = _old_slow_sku("L", 100)
    row = _row(_run(products, stock, None, _lines(("o1", "L", "2024-06-20", 5, "live")),
                    forecast=_forecast(L=0.1)), "L")
    assert row["action"] == "live_driver"
    assert row["suggested_price"] == pytest.approx(10.0)  # at cost, below 50% off (15)
    assert row["clear_days"] == pytest.approx(14.0)
    assert row["expected_recovery"] == pytest.approx(100 * 10 * 0.95)


def test_action_other_channels_when_nothing_clears_in_the_shop():
    products, stock = _old_slow_sku("X", 100)
    row = _row(_run(products, stock, None, _lines(("o1", "X", "2024-06-20", 5)), forecast=_forecast(X=0.1)), "X")
    assert row["action"] == "other_channels"
    assert row["suggested_price"] == pytest.approx(9.0)  # 30% of 30
    assert row["clear_days"] == 30
    assert row["expected_recovery"] == pytest.approx(100 * 9 * 0.9)
    assert "other channels (特卖渠道 / 尾货批发)" in row["reason"]


def test_action_write_off_when_holding_cost_exceeds_the_recovery():
    # channel: 810 back after fees; holding 1,000 of stock at 100%/month for 30 d = 1,000
    products, stock = _old_slow_sku("W", 100)
    lines = _lines(("o1", "W", "2024-06-20", 5))
    row = _row(_run(products, stock, None, lines, SlowParams(holding_rate_month=1.0), forecast=_forecast(W=0.1)), "W")
    assert row["action"] == "write_off"
    assert row["expected_recovery"] == 0 and np.isnan(row["suggested_price"])
    assert "other channels would bring 810 against 1,000 holding cost over 30 d" in row["reason"]
    no_channel = _run(products, stock, None, lines, SlowParams(channels=()), forecast=_forecast(W=0.1))
    assert _row(no_channel, "W")["action"] == "write_off"


def test_unflagged_skus_get_no_action_and_sort_last():
    products, stock = _old_slow_sku("A", 100)
    fresh = _stock(("F", "2024-06-25", 10), ("F", "2024-06-30", 10))
    res = _run(pd.concat([products, _products({"sku": "F", "launch_date": D("2024-06-25")})], ignore_index=True),
               pd.concat([stock, fresh], ignore_index=True), None, _lines(("o1", "F", "2024-06-28", 20)))
    sm = res.slow_movers
    assert sm["sku"].tolist() == ["A", "F"]
    f = _row(res, "F")
    assert pd.isna(f["flag"]) and pd.isna(f["action"]) and pd.isna(f["expected_recovery"])


def test_inputs_cut_to_INPUT_COLUMNS_and_the_trend_window_give_the_same_result():
    products = _products({"sku": "S", "price": 100.0}, {"sku": "P1", "price": 40.0}, {"sku": "F"})
    stock = _stock(("S", "2024-01-01", 100), ("S", "2024-06-30", 100), ("F", "2024-06-30", 10), ("P1", "2024-06-30", 50))
    receipts = _receipts(("F", "2024-06-01", 30), ("P1", "2024-02-01", 60))
    lines = _lines(("s1", "S", "2024-06-20", 5), ("o1", "F", "2024-06-21", 8), ("o1", "P1", "2024-06-21", 1),
                   ("c1", "S", "2024-05-20", 30, "live"))
    after = conform(pd.DataFrame({"platform": "douyin", "after_sale_id": ["r1"], "sku": "S", "qty": [3],
                                  "kind": "return", "requested_at": D("2024-06-25"), "reason": ["尺码不合适"]}),
                    "after_sales")
    traffic = conform(pd.DataFrame({"date": D("2024-06-20"), "sku": ["S", "F"], "views": [5000, 1000],
                                    "clicks": [400, 100], "orders": [2, 50]}), "traffic")
    campaigns = conform(pd.DataFrame({"campaign_id": ["c1"], "name": ["520直播"], "kind": ["live"],
                                      "start": [D("2024-05-20")], "sku": ["S"], "expected_units": [100.0]}),
                        "campaigns")
    days = pd.date_range(end=AS_OF, periods=120)
    demand = pd.DataFrame({"sku": "S", "date": days, "units": [3.0] * 64 + [2.0] * 28 + [0.5] * 28,
                           "censored": False, "campaign_kind": None})
    profile = pd.DataFrame({"sku": ["S", "P1", "F"], "return_rate": [0.5, 0.1, 0.1], "return_lag_days": 7.0,
                            "restock_share": 1.0, "basis": "sku"})
    full = dict(purchase_orders=receipts, order_lines=lines, after_sales=after, traffic=traffic, campaigns=campaigns,
                daily_demand=demand, forecast=_forecast(S=0.5, F=2.0, P1=0.1), returns_profile=profile)
    cut = {name: df if INPUT_COLUMNS[name] is None else df[list(INPUT_COLUMNS[name])] for name, df in full.items()}
    cut["daily_demand"] = cut["daily_demand"][cut["daily_demand"]["date"] > AS_OF - pd.Timedelta(days=2 * 28)]
    expected, got = _run(products, stock, **full), _run(products, stock[list(INPUT_COLUMNS["stock"])], **cut)
    assert _row(expected, "S")["causes"].count(";") >= 2  # the scenario exercises several causes
    pd.testing.assert_frame_equal(expected.slow_movers, got.slow_movers)
    pd.testing.assert_frame_equal(expected.bundle_partners, got.bundle_partners)
