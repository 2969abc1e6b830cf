"""Tests for restock.policy: hand-checked numbers on a four-SKU shop.

The shop (as of 2024-03-31), with the ``days_cover`` method (N = 3) so each reorder
point is easy to check by hand:

* A: 2/day, lead 14 d, on hand 30, case pack 12 → reorder point 28 + 14 + 6 = 48,
  order-up-to 62, need 32 → 36; 15 days of cover → ``order``.
* B: stock in two warehouses, four POs, returns, unshipped orders → position 84.
* C: lead 7 d, 5 on order → below its reorder point with an order on the way → ``watch``.
* D: 2/day, 6 on hand → 3 days of cover < 14 d lead time → ``urgent``; its CTR doubled.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from restock import policy
from restock.policy import INPUT_COLUMNS, PolicyParams, compute_policy
from restock.schema import TABLES, conform

AS_OF = pd.Timestamp("2024-03-31")


def day(offset: int) -> pd.Timestamp:
    return AS_OF + pd.Timedelta(days=offset)


def table(name: str, rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(TABLES[name].columns)) if not rows else pd.DataFrame(rows)
    return conform(frame, name)


def daily_rows(sku: str, units: list[float], censored: list[bool] | None = None) -> list[dict]:
    """One row per day, the last one on AS_OF."""
    censored = censored or [False] * len(units)
    n = len(units)
    return [{"sku": sku, "date": day(i - n + 1), "units": float(u), "censored": c, "campaign_kind": None}
            for i, (u, c) in enumerate(zip(units, censored))]


@pytest.fixture
def shop() -> dict[str, pd.DataFrame]:
    products = table("products", [
        {"sku": "A", "name": "Alpha", "supplier": "S1", "lead_time_days": 14, "lead_time_max_days": 14,
         "express_lead_time_days": 3, "moq": 0, "case_pack": 12, "unit_cost": 5.0, "price": 10.0},
        {"sku": "B", "name": "Beta", "supplier": "S1", "lead_time_days": 14, "moq": 30, "case_pack": 12,
         "unit_cost": 2.0, "price": 4.0},
        {"sku": "C", "name": "Gamma", "supplier": "S2", "lead_time_days": 7, "moq": 0, "case_pack": 1,
         "unit_cost": 1.0, "price": 3.0},
        {"sku": "D", "name": "Delta", "supplier": "S2", "lead_time_days": 14, "moq": 20, "case_pack": 1,
         "unit_cost": 3.0, "price": 9.0},
    ])
    stock = table("stock", [
        {"as_of": day(0), "sku": "A", "warehouse": "W1", "on_hand": 30, "reserved": 0},
        {"as_of": day(-11), "sku": "B", "warehouse": "W1", "on_hand": 50, "reserved": 5},  # superseded
        {"as_of": day(-1), "sku": "B", "warehouse": "W1", "on_hand": 40, "reserved": 4},
        {"as_of": day(-6), "sku": "B", "warehouse": "W2", "on_hand": 10, "reserved": 0},
        {"as_of": day(0), "sku": "C", "warehouse": "W1", "on_hand": 10, "reserved": 0},
        {"as_of": day(0), "sku": "D", "warehouse": "W2", "on_hand": 6, "reserved": None},
    ])
    purchase_orders = table("purchase_orders", [
        {"po_id": "P1", "sku": "B", "supplier": "S1", "qty_ordered": 20, "ordered_at": day(-3), "eta": day(5)},
        {"po_id": "P2", "sku": "B", "supplier": "S1", "qty_ordered": 30, "qty_received": 10,
         "ordered_at": day(-20), "received_at": day(-2)},  # partial: 20 open, eta = ordered + 14 = overdue
        {"po_id": "P3", "sku": "B", "supplier": "S1", "qty_ordered": 15, "ordered_at": day(-30),
         "received_at": day(-10)},  # received, quantity not given: closed
        {"po_id": "P4", "sku": "B", "supplier": "S1", "qty_ordered": 5, "qty_received": 5,
         "ordered_at": day(-30), "received_at": day(-12)},
        {"po_id": "P5", "sku": "C", "supplier": "S2", "qty_ordered": 5, "ordered_at": day(-1), "eta": day(6)},
    ])
    order_lines = table("order_lines", [
        {"platform": "douyin", "order_id": "o1", "line_id": "1", "sku": "A", "qty": 70, "paid_amount": 700.0,
         "created_at": day(-5), "status": "completed"},
        {"platform": "douyin", "order_id": "o2", "line_id": "1", "sku": "B", "qty": 3, "paid_amount": 60.0,
         "created_at": day(0) + pd.Timedelta(hours=20), "status": "to_ship", "is_presale": True},
        {"platform": "douyin", "order_id": "o3", "line_id": "1", "sku": "B", "qty": 1, "paid_amount": 20.0,
         "created_at": day(-1), "status": "to_ship"},
        {"platform": "douyin", "order_id": "o4", "line_id": "1", "sku": "B", "qty": 10, "paid_amount": 120.0,
         "created_at": day(-2), "status": "shipped"},
        {"platform": "douyin", "order_id": "o5", "line_id": "1", "sku": "B", "qty": 4, "paid_amount": 80.0,
         "created_at": day(-1), "status": "unpaid"},
        {"platform": "douyin", "order_id": "o6", "line_id": "1", "sku": "C", "qty": 10, "unit_price": 10.0,
         "created_at": day(-3), "status": "completed"},
        {"platform": "douyin", "order_id": "o7", "line_id": "1", "sku": "C", "qty": 9, "paid_amount": 1000.0,
         "created_at": day(-3), "status": "cancelled"},
        {"platform": "douyin", "order_id": "o8", "line_id": "1", "sku": "C", "qty": 9, "paid_amount": 5000.0,
         "created_at": day(-200), "status": "completed"},  # outside the 90-day window
    ])
    campaigns = table("campaigns", [
        {"campaign_id": "K0", "name": "past", "kind": "live", "start": day(-2), "sku": "A", "expected_units": 99.0},
        {"campaign_id": "K1", "name": "live A", "kind": "live", "start": day(5), "end": day(5), "sku": "A",
         "expected_units": 40.0},
        {"campaign_id": "K2", "name": "sale", "kind": "promotion", "start": day(10), "end": day(11),
         "expected_units": 500.0},
        {"campaign_id": "K3", "name": "later", "kind": "live", "start": day(40), "sku": "A", "expected_units": 9.0},
    ])
    traffic_rows = []
    for sku, recent_clicks in (("A", 10), ("B", 7), ("D", 10)):
        for offset in range(-30, 1):
            recent = offset > -3
            traffic_rows.append({"date": day(offset), "sku": sku, "views": 100,
                                 "clicks": recent_clicks if recent else 5, "orders": 2 if recent else 1})
    traffic = table("traffic", traffic_rows)
    daily_demand = pd.DataFrame(
        daily_rows("A", [2] * 90)
        + daily_rows("B", [3] * 7 + [1] * 7, censored=[False] * 13 + [True])
        + daily_rows("C", [4])
    )
    horizon = pd.date_range(day(1), day(28))
    forecast = pd.DataFrame([
        {"sku": sku, "date": d, "forecast": rate, "baseline": rate, "campaign_units": 0.0, "model": "m"}
        for sku, rate in (("A", 2.0), ("B", 1.0), ("C", 1.0), ("D", 2.0)) for d in horizon
    ])
    lead_time_demand = pd.DataFrame([
        {"sku": "A", "lead_time_days": 14, "mean": 28.0, "std": 5.0, "q50": 28.0, "q80": 32.0, "q90": 34.0,
         "q95": 36.0, "q98": 38.0, "q99": 40.0},
        {"sku": "B", "lead_time_days": 14, "mean": 14.0, "std": 3.0, "q50": 14.0, "q80": 16.0, "q90": 18.0,
         "q95": 19.0, "q98": 20.0, "q99": 21.0},
        {"sku": "C", "lead_time_days": 7, "mean": 7.0, "std": 2.0, "q50": 7.0, "q80": 9.0, "q90": 10.0,
         "q95": 11.0, "q98": 12.0, "q99": 13.0},
        {"sku": "D", "lead_time_days": 14, "mean": 28.0, "std": 5.0, "q50": 28.0, "q80": 32.0, "q90": 34.0,
         "q95": 36.0, "q98": 38.0, "q99": 40.0},
    ])
    expected_returns = pd.DataFrame([
        {"sku": "B", "date": day(3), "expected_units": 2.0},
        {"sku": "B", "date": day(20), "expected_units": 7.0},  # after B's 14-day lead time
    ])
    return dict(products=products, stock=stock, purchase_orders=purchase_orders, order_lines=order_lines,
                campaigns=campaigns, traffic=traffic, daily_demand=daily_demand, forecast=forecast,
                lead_time_demand=lead_time_demand, expected_returns=expected_returns)


PARAMS = PolicyParams(safety_stock_method="days_cover", days_cover_n=3)


@pytest.fixture
def result(shop):
    return compute_policy(**shop, as_of=AS_OF, params=PARAMS)


def row(result, sku: str) -> pd.Series:
    return result.policy.set_index("sku").loc[sku]


# --- parameters ------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, message", [
    ({"service_level_a": 1.2}, "service_level_a must be in [0.5, 0.99] (the forecast's quantiles); got 1.2"),
    ({"safety_stock_method": "magic"}, "safety_stock_method must be one of"),
    ({"abc_measure": "profit"}, "abc_measure must be one of"),
    ({"abc_cutoffs": (0.9, 0.7)}, "abc_cutoffs must satisfy 0 < A < B <= 1; got (0.9, 0.7)"),
    ({"split_main_share": 0.0}, "split_main_share must be in (0, 1]; got 0.0"),
    ({"review_days": -1}, "review_days must be >= 0; got -1"),
    ({"horizon_days": 0}, "horizon_days must be a whole number >= 1; got 0"),
    ({"split_express": "yes"}, "split_express must be true or false; got 'yes'"),
])
def test_params_reject_bad_values_naming_field_and_value(kwargs, message):
    with pytest.raises(ValueError) as err:
        PolicyParams(**kwargs)
    assert message in str(err.value)


def test_params_accept_lists_from_yaml():
    assert PolicyParams(abc_cutoffs=[0.6, 0.85]).abc_cutoffs == (0.6, 0.85)


# --- safety stock methods ---------------------------------------------------------------


def test_each_safety_stock_method_hand_checked():
    frame = pd.DataFrame({
        "avg_daily": [2.0, 2.0, 2.0], "max_daily": [5.0, 5.0, 5.0],
        "lead_time_days": [14.0, 14.0, 14.0], "lead_time_max_days": [22.0, 14.0, 22.0],
        "service_level": [0.95, 0.96, 0.95], "ltd_mean": [28.0, 28.0, 28.0], "ltd_std": [6.0, 6.0, 0.0],
        "q50": [28.0] * 3, "q80": [32.0] * 3, "q90": [35.0] * 3, "q95": [37.0] * 3, "q98": [40.0] * 3,
        "q99": [42.0] * 3,
    })
    ss = policy._safety_stocks(frame, PolicyParams(days_cover_n=7, buffer=5, live_days_n=1))
    assert ss["ss_max_minus_avg"].tolist() == [42.0] * 3  # (5 − 2) × 14
    assert ss["ss_days_cover"].tolist() == [14.0] * 3  # 2 × 7
    assert ss["ss_max_lead_time"].tolist() == [49.0, 33.0, 49.0]  # 2 × 22 + 5; 2 × 14 + 5
    assert ss["ss_live_volatility"].tolist() == [19.0] * 3  # 2 × 7 + 5 × 1
    service = ss["ss_service_level"].to_numpy()
    # k = (37 − 28) / 6 = 1.5; σ_L = (22 − 14) / 2 = 4, d = 28 / 14 = 2 → σ = √(36 + 64) = 10
    assert service[0] == pytest.approx(15.0)
    # q(0.96) = 37 + (0.96 − 0.95) / 0.03 × 3 = 38 → 10 units, no lead-time spread
    assert service[1] == pytest.approx(10.0)
    # σ = 0: k = z(0.95), σ = d × σ_L = 8
    assert service[2] == pytest.approx(NormalDist().inv_cdf(0.95) * 8.0)


def test_chosen_method_is_the_safety_stock(shop):
    for method in policy.SAFETY_STOCK_METHODS:
        res = compute_policy(**shop, as_of=AS_OF, params=PolicyParams(safety_stock_method=method))
        assert (res.policy["safety_stock"] == res.policy[f"ss_{method}"]).all()


# --- rounding and split -----------------------------------------------------------------


@pytest.mark.parametrize("need, moq, pack, expected", [
    (43, 0, 12, 48),  # up to the case pack
    (24, 0, 12, 24),  # already whole packs
    (5, 30, 12, 36),  # MOQ 30, then whole packs
    (4, 10, 1, 10),  # MOQ
    (2.2, 0, np.nan, 3),  # no case pack: whole units
    (0, 30, 12, 0),  # nothing needed: no MOQ order
    (-3, 0, 1, 0),
])
def test_round_order_qty(need, moq, pack, expected):
    got = policy._round_order_qty(np.array([need], float), np.array([moq], float), np.array([pack], float))
    assert got.tolist() == [expected]


def test_split_keeps_whole_case_packs():
    main, reserve = policy._split(np.array([100, 48, 12, 0]), np.array([1.0, 12.0, 12.0, 1.0]), 0.8)
    assert main.tolist() == [80, 36, 12, 0]
    assert reserve.tolist() == [20, 12, 0, 0]


def test_split_express_fills_main_and_reserve(shop):
    res = compute_policy(**shop, as_of=AS_OF, params=PolicyParams(safety_stock_method="days_cover",
                                                                  days_cover_n=3, split_express=True))
    a = row(res, "A")
    assert (a["suggested_qty"], a["main_qty"], a["reserve_qty"]) == (36, 24, 12)  # 28.8 → 2 packs


# --- position ---------------------------------------------------------------------------


def test_position_arithmetic(result):
    b = row(result, "B")
    assert b["on_hand"] == 50  # latest count per warehouse: W1 40 (not 50 from earlier) + W2 10
    assert b["reserved"] == 4
    assert b["on_order"] == 40  # P1 20 + P2 30 − 10; P3 and P4 received
    assert b["returns_due"] == 2  # the 7 due on day 20 arrive after the 14-day lead time
    assert b["unshipped"] == 4  # to_ship incl. pre-sale; shipped and unpaid are not
    assert b["position"] == 50 + 40 + 2 - 4 - 4


def test_warehouse_split_lists_latest_counts(result):
    b = result.warehouse_split.query("sku == 'B'")
    assert b[["warehouse", "on_hand", "reserved"]].values.tolist() == [["W1", 40.0, 4.0], ["W2", 10.0, 0.0]]


# --- ABC / XYZ ----------------------------------------------------------------------------


def test_abc_by_revenue_and_units(shop):
    res = compute_policy(**shop, as_of=AS_OF, params=PARAMS)
    # revenue A 700, B 200 (paid lines only), C 100 (10 × 10; cancelled and old lines ignored)
    assert row(res, "A")["abc_measure"] == 700 and row(res, "C")["abc_measure"] == 100
    assert res.policy.set_index("sku")["abc"].to_dict() == {"A": "A", "B": "B", "C": "C", "D": "C"}
    by_units = compute_policy(**shop, as_of=AS_OF, params=PolicyParams(abc_measure="units"))
    # units A 70, B 14, C 10 of 94: B starts at 74 %, C at 89 % → both B
    assert by_units.policy.set_index("sku")["abc"].to_dict() == {"A": "A", "B": "B", "C": "B", "D": "C"}


def test_xyz_from_weekly_cv(result):
    # A constant → X; B weeks 21 and 7 (censored day left out) → CV √98 / 14 = 0.71 → Y;
    # C one week, D no history → Z
    assert result.policy.set_index("sku")["xyz"].to_dict() == {"A": "X", "B": "Y", "C": "Z", "D": "Z"}
    assert result.abc_xyz.loc["A", "X"] == 1 and result.abc_xyz.loc["C", "Z"] == 2
    assert result.abc_xyz.to_numpy().sum() == 4


# --- reorder point, quantity, alerts, reasons ------------------------------------------------


def test_reorder_point_and_suggestion(result):
    a = row(result, "A")
    assert a["safety_stock"] == 6  # 2/day × 3 days
    assert a["reorder_point"] == 48  # 28 + 7 × 2 + 6
    assert a["order_up_to"] == 62  # + 7 days × 2
    assert a["suggested_qty"] == 36  # 62 − 30 = 32 → case pack 12
    assert a["order_value"] == 180
    assert a["days_of_cover"] == 15
    assert row(result, "B")["suggested_qty"] == 0


def test_alert_levels(result):
    alerts = result.policy.set_index("sku")["alert"]
    assert alerts["A"] == "order"  # below the reorder point, nothing on order
    assert pd.isna(alerts["B"])
    assert alerts["C"] == "watch"  # below, 5 on order
    assert alerts["D"] == "urgent"  # 6 / 2 = 3 days of cover < 14 d lead time
    assert result.alerts["sku"].tolist() == ["D", "A", "C"]


def test_alerts_rule_order():
    levels = policy._alerts(
        position=np.array([5.0, 5.0, 5.0, 50.0]), reorder_point=np.array([20.0, 20.0, 20.0, 20.0]),
        on_order=np.array([0.0, 0.0, 10.0, 0.0]), days_of_cover=np.array([2.0, 20.0, 20.0, np.nan]),
        lead_time=np.array([14.0, 14.0, 14.0, 14.0]),
    )
    assert levels.tolist() == ["urgent", "order", "watch", None]


def test_reason_states_rule_and_numbers(result):
    assert row(result, "A")["reason"] == (
        "order 36: position 30 < reorder point 48 (lead-time demand 28 over 14 d + review 7 d 14 "
        "+ safety stock 6 [days_cover], service level 98%, class A); order-up-to 62 − 30 = 32, "
        "rounded to case pack 12 → 36"
    )
    assert row(result, "B")["reason"] == "no order: position 84 ≥ reorder point 27"
    assert row(result, "C")["reason"].endswith("; 5 already on order")
    d = row(result, "D")["reason"]
    assert d.startswith("URGENT: 3.0 days of cover < lead time 14 d, top up by the express route (3 d); order 50:")
    assert ", raised to MOQ" not in d  # need 56 − 6 = 50 is above the MOQ 20


# --- live-commerce triggers -------------------------------------------------------------------


def test_expedite_on_ctr_spike_and_short_cover(result):
    p = result.policy.set_index("sku")
    # D: CTR 10 % over 3 d vs 5 % before → 200 %; conversion 20 % vs 20 %; cover 3 < 10
    assert bool(p.loc["D", "expedite"])
    assert p.loc["D", "ctr_ratio"] == pytest.approx(2.0)
    assert p.loc["D", "conversion_ratio"] == pytest.approx(1.0)
    assert p.loc["D", "expedite_reason"] == (
        "expedite: CTR 10.0% over 3 d = 200% of 28-d average 5.0%; 3.0 days of cover < 10"
    )
    assert not p.loc["A", "expedite"]  # same spike, but 15 days of cover
    assert p.loc["B", "ctr_ratio"] == pytest.approx(1.4) and not p.loc["B", "expedite"]


def test_expedite_needs_enough_views(shop):
    res = compute_policy(**shop, as_of=AS_OF, params=PolicyParams(expedite_min_views=301))
    assert not res.policy["expedite"].any()


def test_campaign_check(result):
    check = result.campaign_check
    assert set(check["campaign_id"]) == {"K1", "K2"}  # K0 is past, K3 beyond the 28-day horizon
    k1 = check.query("campaign_id == 'K1'").iloc[0]
    # A: 30 on hand − 4 days × 2 forecast = 22 at the start; needs 6 + 40 = 46
    assert (k1["stock_at_start"], k1["required"], k1["shortfall"]) == (22, 46, 24)
    assert k1["expedite_qty"] == 24  # two case packs of 12
    assert k1["arrive_by"] == day(4)
    assert bool(k1["express_in_time"]) and k1["status"] == "short"
    k2 = check.query("campaign_id == 'K2'").set_index("sku")
    assert sorted(k2.index) == ["A", "B", "C", "D"]  # shop-wide: every SKU
    # B: 50 − 4 − 4 + PO 20 (eta day 5) + 20 (overdue) + returns 2 − 9 days × 1 = 75; units: 2 days forecast
    assert k2.loc["B", "stock_at_start"] == 75
    assert k2.loc["B", "campaign_units"] == 2  # the shop-wide 500 is not one SKU's figure
    assert k2.loc["B", "status"] == "ok" and k2.loc["B", "expedite_qty"] == 0


def test_a_bundle_is_never_ordered_itself(shop):
    bundle = table("products", [{"sku": "GIFT", "name": "礼盒", "supplier": None, "bundle_components": "A*1;C*2"}])
    shop = {**shop, "products": pd.concat([shop["products"], bundle], ignore_index=True)}
    planned = compute_policy(**shop, as_of=AS_OF, params=PARAMS).policy
    assert "GIFT" not in set(planned["sku"]) and {"A", "C"} <= set(planned["sku"])


def test_inputs_cut_to_INPUT_COLUMNS_and_the_history_window_give_the_same_policy(shop):
    cut = {name: df if INPUT_COLUMNS[name] is None else df[list(INPUT_COLUMNS[name])] for name, df in shop.items()}
    daily = cut["daily_demand"]
    cut["daily_demand"] = daily[daily["date"] > AS_OF - pd.Timedelta(days=PARAMS.history_days)]
    expected, got = compute_policy(**shop, as_of=AS_OF, params=PARAMS), compute_policy(**cut, as_of=AS_OF, params=PARAMS)
    for name in ("policy", "warehouse_split", "alerts", "campaign_check"):
        pd.testing.assert_frame_equal(getattr(expected, name), getattr(got, name))
