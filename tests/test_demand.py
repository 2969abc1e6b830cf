"""Tests for restock.demand: hand-made order lines, stock counts and campaigns with known answers."""

import numpy as np
import pandas as pd
import pytest

from restock.demand import (
    DemandParams,
    build_daily_demand,
    campaign_days,
    classify,
    expected_returns,
    paid_lines,
    panel_bounds,
    return_profile,
)

AS_OF = pd.Timestamp("2024-03-31")


def lines(rows):
    """Order lines from (sku, day offset before AS_OF, qty, status) tuples."""
    return pd.DataFrame(
        {
            "platform": "generic",
            "shop": "s1",
            "order_id": [f"o{i}" for i in range(len(rows))],
            "line_id": [f"l{i}" for i in range(len(rows))],
            "sku": [r[0] for r in rows],
            "qty": pd.array([r[2] for r in rows], dtype="Int64"),
            "created_at": [AS_OF - pd.Timedelta(days=r[1]) + pd.Timedelta(hours=15) for r in rows],
            "status": [r[3] for r in rows],
        }
    )


def series_lines(sku, units, status="completed"):
    """Order lines giving ``units[i]`` on day i of a series that ends on AS_OF."""
    n = len(units)
    return lines([(sku, n - 1 - i, int(q), status) for i, q in enumerate(units) if q > 0])


def counts(sku, day_and_on_hand):
    return pd.DataFrame(
        {
            "as_of": [AS_OF - pd.Timedelta(days=d) for d, _ in day_and_on_hand],
            "sku": sku,
            "warehouse": "W1",
            "on_hand": pd.array([q for _, q in day_and_on_hand], dtype="Int64"),
        }
    )


def sku_rows(daily, sku):
    return daily[daily["sku"] == sku].reset_index(drop=True)


# --------------------------------------------------------------------------- daily demand


def test_gross_demand_counts_paid_lines_only_from_first_sale_to_as_of():
    ol = lines(
        [
            ("A", 3, 2, "completed"),
            ("A", 3, 1, "shipped"),
            ("A", 1, 5, "cancelled"),  # cancelled before shipping: not demand
            ("A", 0, 4, "unpaid"),  # never paid: not demand
            ("A", 0, 1, "to_ship"),
        ]
    )
    daily = build_daily_demand(ol, None, None, None, AS_OF)
    assert list(daily["date"]) == list(pd.date_range(AS_OF - pd.Timedelta(days=3), AS_OF))
    assert list(daily["units"]) == [3.0, 0.0, 0.0, 1.0]
    assert not daily["censored"].any()
    assert daily["campaign_kind"].isna().all()
    assert isinstance(daily["sku"].dtype, pd.CategoricalDtype)


def test_launch_date_starts_history_before_first_sale():
    ol = lines([("A", 1, 2, "completed")])
    products = pd.DataFrame({"sku": ["A", "B"], "launch_date": [AS_OF - pd.Timedelta(days=4), AS_OF - pd.Timedelta(days=2)]})
    daily = build_daily_demand(ol, None, None, products, AS_OF)
    assert len(sku_rows(daily, "A")) == 5
    assert list(sku_rows(daily, "B")["units"]) == [0.0, 0.0, 0.0]  # launched, never sold yet


def test_zero_stock_count_censors_days_until_next_positive_count_or_sale():
    # 10 days, sells 1/day, count 0 on day 3 (offset 6), next positive count on day 7 (offset 2)
    units = [1, 1, 1, 0, 0, 0, 0, 0, 1, 1]
    stock = counts("A", [(9, 5), (6, 0), (2, 4)])
    daily = build_daily_demand(series_lines("A", units), stock, None, None, AS_OF)
    assert list(daily["censored"]) == [False, False, False, True, True, True, True, False, False, False]
    # a sale ends the censored run even before a new count arrives
    units = [1, 1, 1, 0, 0, 2, 0, 0, 1, 1]
    daily = build_daily_demand(series_lines("A", units), counts("A", [(6, 0)]), None, None, AS_OF)
    assert list(daily["censored"]) == [False, False, False, True, True, False, False, False, False, False]


def test_zero_sales_right_after_selling_out_the_last_count_are_censored():
    # count of 5 at the end of day 0; 3 + 2 sold on days 1-2 (sold out); nothing until day 6
    units = [1, 3, 2, 0, 0, 0, 1, 0]
    daily = build_daily_demand(series_lines("A", units), counts("A", [(7, 5)]), None, None, AS_OF)
    assert list(daily["censored"]) == [False, False, False, True, True, True, False, False]
    # not sold out (4 of 5 sold): the zero days are real zeros
    units = [1, 3, 1, 0, 0, 0, 0, 0]
    daily = build_daily_demand(series_lines("A", units), counts("A", [(7, 5)]), None, None, AS_OF)
    assert not daily["censored"].any()


def test_a_sold_out_sku_never_censors_the_next_skus_days():
    # A sells out its count of 2 and then stays at zero; B's history starts (launch) with
    # zero-sale days before any count of its own: those are zeros, not A's stock-out
    ol = pd.concat([series_lines("A", [0, 2, 0, 0]), series_lines("B", [0, 0, 1, 0]).assign(order_id="b", line_id="b")])
    products = pd.DataFrame({"sku": ["A", "B"], "launch_date": [AS_OF - pd.Timedelta(days=3)] * 2})
    stock = pd.concat([counts("A", [(4, 2)]).assign(as_of=AS_OF - pd.Timedelta(days=3)), counts("B", [(0, 5)])])
    daily = build_daily_demand(ol, stock, None, products, AS_OF)
    assert list(sku_rows(daily, "A")["censored"]) == [False, False, True, True]
    assert list(sku_rows(daily, "B")["censored"]) == [False, False, False, False]


def test_stock_counts_are_summed_over_warehouses():
    units = [1, 0, 0, 0]
    stock = pd.concat([counts("A", [(3, 0)]), counts("A", [(3, 2)]).assign(warehouse="W2")])
    daily = build_daily_demand(series_lines("A", units), stock, None, None, AS_OF)
    assert not daily["censored"].any()  # 2 units in W2: the zero days are real zeros


def test_campaign_days_are_marked_with_live_winning_overlaps():
    ol = pd.concat([series_lines("A", [1] * 6), series_lines("B", [2] * 6).assign(order_id=lambda d: "b" + d["order_id"], line_id=lambda d: "b" + d["line_id"])])
    campaigns = pd.DataFrame(
        {
            "campaign_id": ["promo", "live1"],
            "kind": ["promotion", "live"],
            "start": [AS_OF - pd.Timedelta(days=3), AS_OF - pd.Timedelta(days=2)],
            "end": [AS_OF - pd.Timedelta(days=2), pd.NaT],  # a missing end lasts its start day
            "sku": pd.array([None, "A"], dtype="string"),  # null = every SKU
        }
    )
    daily = build_daily_demand(ol, None, campaigns, None, AS_OF)
    a, b = sku_rows(daily, "A"), sku_rows(daily, "B")
    assert list(a["campaign_kind"].astype("string").fillna("-")) == ["-", "-", "promotion", "live", "-", "-"]
    assert list(b["campaign_kind"].astype("string").fillna("-")) == ["-", "-", "promotion", "promotion", "-", "-"]
    assert list(a["units"]) == [1.0] * 6  # marking never changes the units


def test_campaign_days_expands_each_day_within_bounds():
    campaigns = pd.DataFrame(
        {"campaign_id": ["c"], "kind": ["Live"], "start": [pd.Timestamp("2024-01-30")], "end": [pd.Timestamp("2024-02-02")], "sku": [None]}
    )
    days = campaign_days(campaigns, pd.Timestamp("2024-01-31"), pd.Timestamp("2024-02-05"))
    assert list(days["date"]) == list(pd.date_range("2024-01-31", "2024-02-02"))
    assert set(days["kind"]) == {"live"} and set(days["n_days"]) == {4}


def test_panel_bounds_rejects_unsorted_rows():
    daily = pd.DataFrame({"sku": ["A", "B", "A"], "date": pd.to_datetime(["2024-01-01"] * 3)})
    with pytest.raises(ValueError, match="sorted by sku, date"):
        panel_bounds(daily)


# --------------------------------------------------------------------------- classes


def test_classes_follow_adi_and_cv2_plus_new_and_inactive():
    n = 120
    every_day_steady = [4, 6] * (n // 2)  # ADI 1, CV² = 1/25 = 0.04
    every_day_jumpy = [1, 9] * (n // 2)  # ADI 1, CV² = 16/25 = 0.64
    every_other_steady = [5, 0] * (n // 2)  # ADI 2, CV² 0
    every_other_jumpy = [1, 0, 9, 0] * (n // 4)  # ADI 2, CV² 0.64
    old_seller = [3] * 40 + [0] * 80  # nothing in the last 80 days, in stock
    frames = [
        series_lines("smooth", every_day_steady),
        series_lines("erratic", every_day_jumpy),
        series_lines("intermittent", every_other_steady),
        series_lines("lumpy", every_other_jumpy),
        series_lines("new", [2] * 10),
        series_lines("inactive", old_seller),
    ]
    ol = pd.concat([f.assign(order_id=f"{i}-" + f["order_id"], line_id=f"{i}-" + f["line_id"]) for i, f in enumerate(frames)])
    classes = classify(build_daily_demand(ol, None, None, None, AS_OF), AS_OF).set_index("sku")
    assert classes["demand_class"].to_dict() == {s: s for s in ["erratic", "inactive", "intermittent", "lumpy", "new", "smooth"]}
    assert classes.loc["smooth", "adi"] == pytest.approx(1.0)
    assert classes.loc["smooth", "cv2"] == pytest.approx(0.04)
    assert classes.loc["lumpy", "adi"] == pytest.approx(2.0)
    assert classes.loc["lumpy", "cv2"] == pytest.approx(0.64)
    assert classes.loc["new", "n_days"] == 10


def test_classes_leave_censored_and_campaign_days_out():
    # sells 2 every day except a stock-out of 30 days: counted as zeros it would look intermittent
    units = [2] * 60 + [0] * 30 + [2] * 30
    stock = counts("A", [(60, 0)])  # zero count at the start of the gap, next sale ends it
    daily = build_daily_demand(series_lines("A", units), stock, None, None, AS_OF)
    assert daily["censored"].sum() == 30
    row = classify(daily, AS_OF).iloc[0]
    assert row["adi"] == pytest.approx(1.0) and row["demand_class"] == "smooth"
    assert row["censored_days"] == 30 and row["units"] == 180  # totals over the whole history


def test_out_of_stock_sku_is_not_called_inactive():
    units = [2] * 60 + [0] * 60
    daily = build_daily_demand(series_lines("A", units), counts("A", [(59, 0)]), None, None, AS_OF)
    assert classify(daily, AS_OF).iloc[0]["demand_class"] == "smooth"


# --------------------------------------------------------------------------- returns


def after_sale(line, qty, kind, requested_days_before, completed=True, restockable=True, sku=None):
    requested = AS_OF - pd.Timedelta(days=requested_days_before)
    return {
        "platform": "generic",
        "shop": "s1",
        "after_sale_id": f"as-{line}-{kind}",
        "order_id": f"o{line[1:]}",
        "line_id": line,
        "sku": sku,
        "qty": qty,
        "kind": kind,
        "requested_at": requested,
        "completed_at": requested + pd.Timedelta(days=2) if completed else pd.NaT,
        "restockable": restockable,
    }


def test_return_profile_uses_own_rate_and_falls_back_to_spu():
    # A: 40 units in 4 old orders of 10, one returned (sku missing on the after-sale)
    # B: 5 units, same SPU: borrows the SPU rate (2 of 45 units back)
    ol = lines([("A", 60, 10, "completed")] * 4 + [("B", 60, 5, "completed")])
    returns = pd.DataFrame(
        [
            after_sale("l0", 4, "return", 52, sku=None),  # lag: 60 -> 50 = 10 days
            after_sale("l4", 1, "return", 58, restockable=False, sku="B"),  # lag 4 days
            after_sale("l1", 10, "refund_only", 59, sku="A"),  # no goods back: not a return
        ]
    )
    products = pd.DataFrame({"sku": ["A", "B"], "spu": ["P", "P"], "category": ["c", "c"]})
    prof = return_profile(ol, returns, products, AS_OF, DemandParams(return_min_units=20)).set_index("sku")
    assert prof.loc["A", "basis"] == "sku"
    assert prof.loc["A", "return_rate"] == pytest.approx(4 / 40)
    assert prof.loc["A", "return_lag_days"] == 10
    assert prof.loc["A", "restock_share"] == pytest.approx(1.0)
    assert prof.loc["B", "basis"] == "spu"
    assert prof.loc["B", "return_rate"] == pytest.approx(5 / 45)
    assert prof.loc["B", "restock_share"] == pytest.approx(4 / 5)


def test_paid_lines_are_gross_demand_up_to_as_of():
    ol = lines([("A", 3, 2, "completed"), ("A", 2, 5, "cancelled"), ("B", 1, 1, "unpaid"), ("B", 0, 4, "to_ship"),
                ("B", -1, 9, "shipped")])  # the last one is after as_of
    paid = paid_lines(ol, AS_OF)
    assert paid["sku"].astype(str).tolist() == ["A", "B"]
    assert paid["qty"].tolist() == [2.0, 4.0]
    assert paid["day"].tolist() == [(AS_OF - pd.Timestamp(0)).days - 3, (AS_OF - pd.Timestamp(0)).days]


def test_paid_lines_computed_once_give_the_same_demand_and_returns():
    ol = lines([("A", 60, 10, "completed")] * 4 + [("B", 60, 5, "completed"), ("B", 9, 2, "cancelled"),
                                                    ("A", 3, 1, "shipped")])
    returns = pd.DataFrame([after_sale("l0", 4, "return", 52, sku=None), after_sale("l4", 1, "return", 58, sku="B")])
    products = pd.DataFrame({"sku": ["A", "B"], "spu": ["P", "P"], "category": ["c", "c"]})
    stock = counts("A", [(30, 0), (10, 6)])
    paid = paid_lines(ol, AS_OF)
    pd.testing.assert_frame_equal(build_daily_demand(None, stock, None, products, AS_OF, paid=paid),
                                  build_daily_demand(ol, stock, None, products, AS_OF))
    pd.testing.assert_frame_equal(return_profile(ol, returns, products, AS_OF, paid=paid),
                                  return_profile(ol, returns, products, AS_OF))


def test_returns_do_not_become_negative_demand():
    ol = lines([("A", 5, 3, "completed"), ("A", 2, 1, "completed")])
    returns = pd.DataFrame([after_sale("l0", 3, "return", 1)])
    daily = build_daily_demand(ol, None, None, None, AS_OF)
    assert (daily["units"] >= 0).all() and daily["units"].sum() == 4  # gross: the return is not netted
    prof = pd.DataFrame({"sku": ["A"], "return_rate": [0.5], "return_lag_days": [4], "restock_share": [0.5], "basis": ["sku"]})
    expected = expected_returns(ol, returns, prof, AS_OF, 28)
    # l0 is already back (completed return); l1 ordered 2 days ago returns 1 * 0.5 * 0.5 in 2 days
    assert list(expected["date"]) == [AS_OF + pd.Timedelta(days=2)]
    assert list(expected["expected_units"]) == [pytest.approx(0.25)]
    assert (expected["expected_units"] > 0).all()


def test_expected_returns_stay_inside_the_horizon():
    ol = lines([("A", 1, 10, "shipped"), ("A", 1, 10, "to_ship")])  # not shipped: nothing comes back
    prof = pd.DataFrame({"sku": ["A"], "return_rate": [0.4], "return_lag_days": [20], "restock_share": [1.0], "basis": ["sku"]})
    assert expected_returns(ol, None, prof, AS_OF, 28)["expected_units"].sum() == pytest.approx(4.0)
    assert expected_returns(ol, None, prof, AS_OF, 10).empty


# --------------------------------------------------------------------------- params


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("adi_cutoff", 0, "adi_cutoff must be a number > 0; got 0"),
        ("min_history_days", 0, "min_history_days must be an integer >= 1; got 0"),
        ("default_restock_share", 1.5, r"default_restock_share must be in \[0, 1\]; got 1.5"),
    ],
)
def test_params_name_the_field_and_value(field, value, message):
    with pytest.raises(ValueError, match=message):
        DemandParams(**{field: value})


def test_daily_demand_empty_orders_give_empty_typed_table():
    ol = lines([("A", 1, 2, "cancelled")])
    daily = build_daily_demand(ol, None, None, None, AS_OF)
    assert daily.empty and list(daily.columns) == ["sku", "date", "units", "censored", "campaign_kind"]
    assert np.issubdtype(daily["date"].dtype, np.datetime64)


# --------------------------------------------------------------------------- speed paths


def test_daily_text_columns_are_categorical_and_survive_parquet(tmp_path):
    campaigns = pd.DataFrame(
        {"campaign_id": ["c"], "kind": ["live"], "start": [AS_OF], "end": [AS_OF], "sku": pd.array(["A"], dtype="string")}
    )
    daily = build_daily_demand(series_lines("A", [1, 0, 2]), None, campaigns, None, AS_OF)
    for column in ("sku", "campaign_kind"):
        assert isinstance(daily[column].dtype, pd.CategoricalDtype)
        assert daily[column].cat.categories.dtype == pd.StringDtype("pyarrow")
    daily.to_parquet(tmp_path / "daily.parquet")
    back = pd.read_parquet(tmp_path / "daily.parquet")
    pd.testing.assert_frame_equal(back, daily, check_dtype=False, check_categorical=False)
    assert list(back["sku"].astype("string")) == ["A", "A", "A"]
    assert list(back["campaign_kind"].astype("string").fillna("-")) == ["-", "-", "live"]


@pytest.mark.parametrize("dtype", ["string[pyarrow]", "string[python]", object, "category"])
def test_panel_bounds_finds_blocks_for_every_string_storage(dtype):
    daily = pd.DataFrame({"sku": pd.array(["A", "A", "B", "C", "C", "C"], dtype=dtype)})
    starts, lengths = panel_bounds(daily)
    assert list(starts) == [0, 2, 3] and list(lengths) == [2, 1, 3]
    with pytest.raises(ValueError, match="sorted by sku, date"):
        panel_bounds(pd.DataFrame({"sku": pd.array(["A", "B", "A"], dtype=dtype)}))


def test_first_match_finds_the_first_right_row_with_equal_keys_nulls_equal():
    from restock.demand import _first_match

    left = pd.DataFrame({"k1": pd.array(["a", "b", None, "c"], dtype="string[pyarrow]"), "k2": ["x", "y", "z", "x"]})
    right = pd.DataFrame({"k1": ["b", "a", "a", None, "c", "c"], "k2": ["y", "x", "x", "z", "q", "q"]})
    assert list(_first_match(left, right, ["k1", "k2"])) == [1, 0, 3, -1]  # "a","x" twice: the first wins
    # the other way round (the left side is now the larger one, hashed from the right)
    assert list(_first_match(right, left.iloc[:2], ["k1", "k2"])) == [1, 0, 0, -1, -1, -1]


def test_after_sale_without_sku_finds_its_line_by_full_key_else_by_line_id():
    # A: line l0 found by its full key; B: the after-sale names another platform, so its
    # line is found by line_id alone (the first of the two lines with id "l1")
    ol = lines([("A", 60, 10, "completed"), ("B", 50, 10, "completed"), ("C", 40, 10, "completed")])
    ol.loc[2, "line_id"] = "l1"
    ol.loc[2, "platform"] = "tiktok"
    returns = pd.DataFrame([after_sale("l0", 2, "return", 52), after_sale("l1", 5, "return", 46)])
    returns.loc[1, "platform"] = "douyin"
    prof = return_profile(ol, returns, None, AS_OF, DemandParams(return_min_units=1)).set_index("sku")
    assert prof.loc["A", "return_rate"] == pytest.approx(2 / 10) and prof.loc["A", "return_lag_days"] == 10
    assert prof.loc["B", "return_rate"] == pytest.approx(5 / 10) and prof.loc["B", "return_lag_days"] == 6
    assert prof.loc["C", "return_rate"] == 0.0 and prof.loc["C", "basis"] == "sku"


def test_expected_returns_look_back_as_far_as_the_longest_lag():
    # A ordered 20 days ago comes back after 30 days (day +10); B's 2-day lag is long past
    ol = lines([("A", 20, 10, "completed"), ("B", 20, 10, "completed"), ("B", 1, 4, "shipped")])
    prof = pd.DataFrame(
        {"sku": ["A", "B"], "return_rate": [0.5, 0.25], "return_lag_days": [30, 2], "restock_share": [1.0, 1.0], "basis": "sku"}
    )
    expected = expected_returns(ol, None, prof, AS_OF, 28)
    assert list(expected["sku"]) == ["A", "B"]
    assert list(expected["date"]) == [AS_OF + pd.Timedelta(days=10), AS_OF + pd.Timedelta(days=1)]
    assert list(expected["expected_units"]) == pytest.approx([5.0, 1.0])
