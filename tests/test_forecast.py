"""Tests for restock.forecast: small daily tables built by hand, known answers."""

import numpy as np
import pandas as pd
import pytest

from restock.demand import classify
from restock.forecast import (
    QUANTILES,
    _mase_scale,
    _panel,
    _trailing_clean_mean,
    ForecastParams,
    forecast_horizon,
    run_forecast,
    statsforecast_floor,
)

AS_OF = pd.Timestamp("2024-06-30")
FAST = ForecastParams(backtest_windows=2, min_train_days=28, n_jobs=1)  # tiny tables: no process pool


def daily_table(series: dict[str, list[float]], censored=None, campaign=None) -> pd.DataFrame:
    """A daily table (contract of daily_demand.parquet) ending on AS_OF.

    ``censored`` / ``campaign``: sku -> day indexes (0 = first day of that SKU's series).
    """
    frames = []
    for sku, units in sorted(series.items()):
        n = len(units)
        cens = np.zeros(n, bool)
        cens[list((censored or {}).get(sku, []))] = True
        kind = np.full(n, None, dtype=object)
        kind[list((campaign or {}).get(sku, []))] = "live"
        frames.append(
            pd.DataFrame(
                {
                    "sku": pd.array([sku] * n, dtype="string"),
                    "date": pd.date_range(end=AS_OF, periods=n),
                    "units": np.asarray(units, dtype=float),
                    "censored": cens,
                    "campaign_kind": pd.array(kind, dtype="string"),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def products_for(skus, lead=7, **columns):
    return pd.DataFrame({"sku": skus, "lead_time_days": pd.array([lead] * len(skus), dtype="Int64"), **columns})


def forecast_of(result, sku):
    return result.forecast[result.forecast["sku"] == sku].reset_index(drop=True)


def test_campaign_spike_does_not_lift_the_baseline():
    units = [2.0] * 120
    units[110] = 100.0  # a live session 10 days ago
    marked = run_forecast(daily_table({"A": units}, campaign={"A": [110]}), _classes({"A": "smooth"}), products_for(["A"]), None, None, AS_OF, FAST)
    assert forecast_of(marked, "A")["baseline"].to_numpy() == pytest.approx(2.0, abs=1e-6)
    unmarked = run_forecast(daily_table({"A": units}), _classes({"A": "smooth"}), products_for(["A"]), None, None, AS_OF, FAST)
    assert forecast_of(unmarked, "A")["baseline"].mean() > 2.5  # what marking prevents


def test_censored_days_are_excluded_from_fitting():
    units = [3.0] * 100 + [0.0] * 20  # sold out for the last 20 days
    censored = {"A": list(range(100, 120))}
    result = run_forecast(daily_table({"A": units}, censored=censored), _classes({"A": "smooth"}), products_for(["A"]), None, None, AS_OF, FAST)
    assert forecast_of(result, "A")["forecast"].to_numpy() == pytest.approx(3.0, abs=1e-6)
    naive = run_forecast(daily_table({"A": units}), _classes({"A": "smooth"}), products_for(["A"]), None, None, AS_OF, FAST)
    assert forecast_of(naive, "A")["forecast"].mean() < 1.0  # zeros read as demand


def test_backtest_never_uses_data_after_its_cutoff():
    # flat at 1 unit/day, then 100/day from the day after the first cut-off on
    params = ForecastParams(backtest_windows=2, backtest_step_days=7, min_train_days=28)
    lead = 7  # backtest horizon = 7; cut-offs at AS_OF - 14 and AS_OF - 7
    units = [1.0] * 106 + [100.0] * 14
    result = run_forecast(daily_table({"A": units}), _classes({"A": "smooth"}), products_for(["A"], lead=lead), None, None, AS_OF, params)
    bt = result.backtest
    first_cutoff = AS_OF - pd.Timedelta(days=14)
    assert sorted(bt["cutoff"].unique()) == [first_cutoff, AS_OF - pd.Timedelta(days=7)]
    first = bt[bt["cutoff"] == first_cutoff].set_index("model")
    # every model saw only the flat part: its 7-day total is 7 (SBA's 0.95 debiasing: 6.65)
    assert first["forecast"].between(0.95 * 7 - 1e-6, 7 + 1e-6).all()
    assert (first["actual"] == 700.0).all()


def test_stand_in_level_uses_only_earlier_clean_days():
    units = np.array([1.0, 2.0, 3.0, 100.0, 5.0, 9.0])
    clean = np.array([True, True, True, False, True, True])  # day 3 is a campaign day
    starts, lengths = np.array([0, 4]), np.array([4, 2])  # two SKUs
    every_row = np.arange(6)
    level = _trailing_clean_mean(units, clean, starts, window=2, rows=every_row)
    # SKU 1: nothing before day 0; then 1; mean(1, 2); mean(2, 3). SKU 2 starts afresh: 0, then 5
    assert level == pytest.approx([0.0, 1.0, 1.5, 2.5, 0.0, 5.0])
    changed_future = units.copy()
    changed_future[2:4] = 1000.0
    assert _trailing_clean_mean(changed_future, clean, starts, 2, every_row)[:3] == pytest.approx(level[:3])


def test_mase_scale_uses_seasonal_differences_inside_each_sku_up_to_the_cutoff():
    # season 2. A: |2-1|, |5-3| before the cut-off (the 4 after it is not seen) -> 1.5 a day
    # B: only |0-10| (B's first two days have no day two back inside B) -> 10 a day
    panel = _panel(daily_table({"A": [1.0, 3.0, 2.0, 5.0, 4.0], "B": [10.0, 0.0, 0.0, 6.0]}), FAST)
    cutoff = np.array([(AS_OF - pd.Timedelta(days=1)).to_datetime64().astype("datetime64[D]").astype(np.int64)])
    scale = _mase_scale(panel, np.array([0, 1]), cutoff, lead=np.array([2, 3]), season=2)
    assert scale[:, 0] == pytest.approx([1.5 * 2, 10.0 * 3])


def test_learned_uplift_pools_categories_and_converts_reservations():
    # A (2/day) and B (4/day) of category c sell 10 and 8 on their two live days each:
    # 4 campaigns in c -> (10+10+8+8) / (2+2+4+4) = 3; per SKU only 2 each: no SKU row.
    # C (no category, 1/day) sells 3 on each of its 3 live days: a SKU row of 3, no category row.
    series = {"A": [2.0] * 120, "B": [4.0] * 120, "C": [1.0] * 120}
    days = {"A": [80, 95], "B": [85, 100], "C": [70, 90, 105]}
    for sku, peak in (("A", 10.0), ("B", 8.0), ("C", 3.0)):
        for d in days[sku]:
            series[sku][d] = peak
    rows = [(sku, d) for sku in days for d in days[sku]]
    start = [AS_OF - pd.Timedelta(days=119 - d) for _, d in rows]
    campaigns = pd.DataFrame(
        {
            "campaign_id": [f"{sku}{d}" for sku, d in rows],
            "kind": "live",
            "start": start,
            "end": start,
            "sku": pd.array([sku for sku, _ in rows], dtype="string"),
            "reservations": [10.0 if sku != "C" else np.nan for sku, _ in rows],
        }
    )
    products = products_for(["A", "B", "C"], category=["c", "c", None])
    daily = daily_table(series, campaign=days)
    result = run_forecast(daily, _classes(dict.fromkeys(series, "smooth")), products, campaigns, None, AS_OF, FAST)
    uplift = result.uplift.set_index(["level", "key"])
    assert uplift.loc[("category", "c"), "uplift"] == pytest.approx(3.0)
    assert uplift.loc[("category", "c"), "n_campaigns"] == 4
    assert list(result.uplift.loc[result.uplift["level"] == "sku", "key"]) == ["C"]
    assert uplift.loc[("sku", "C"), "uplift"] == pytest.approx(3.0)
    assert uplift.loc[("kind", "live"), "uplift"] == pytest.approx(45 / 15)
    assert uplift.loc[("conversion", "live"), "uplift"] == pytest.approx(36 / 40)


def test_two_processes_forecast_exactly_as_one():
    rng = np.random.default_rng(5)
    series = {f"S{i}": list(rng.poisson(2 + i, 150).astype(float)) for i in range(5)}
    classes = classify(daily_table(series), AS_OF)
    one, two = (
        run_forecast(daily_table(series), classes, products_for(sorted(series)), None, None, AS_OF,
                     ForecastParams(backtest_windows=2, min_train_days=28, n_jobs=n))
        for n in (1, 2)
    )
    pd.testing.assert_frame_equal(one.forecast, two.forecast)
    pd.testing.assert_frame_equal(one.backtest, two.backtest)


def test_skus_fitted_in_batches_forecast_exactly_as_in_one_call():
    rng = np.random.default_rng(7)
    series = {f"S{i}": list(rng.poisson(1 + i % 3, 150).astype(float)) for i in range(7)}
    series["NEW"] = [1.0, 0.0, 2.0]  # not modelled: batches must skip it, not shift the others
    daily = daily_table(series)
    classes = classify(daily, AS_OF)
    whole, batched = (
        run_forecast(daily, classes, products_for(sorted(series)), None, None, AS_OF,
                     ForecastParams(backtest_windows=2, min_train_days=28, n_jobs=1, batch_skus=n))
        for n in (100, 3)
    )
    pd.testing.assert_frame_equal(whole.forecast, batched.forecast)
    pd.testing.assert_frame_equal(whole.backtest, batched.backtest)
    pd.testing.assert_frame_equal(whole.chosen, batched.chosen)


def test_every_active_sku_gets_every_day_of_a_horizon_covering_lead_time_plus_review():
    params = ForecastParams(horizon_days=28, review_days=7, backtest_windows=2, min_train_days=28)
    series = {"A": [2.0, 3.0] * 60, "B": [0.0, 0.0, 5.0] * 40, "N": [1.0] * 10}
    products = products_for(["A", "B", "N"], lead=40, spu=["P", "P", "P"])
    classes = _classes({"A": "smooth", "B": "intermittent", "N": "new"})
    result = run_forecast(daily_table(series), classes, products, None, None, AS_OF, params)
    assert forecast_horizon(products, params) == 47 == result.horizon_days
    fc = result.forecast
    assert len(fc) == 3 * 47 and fc[["forecast", "baseline", "campaign_units"]].notna().all().all()
    for sku in ["A", "B", "N"]:
        assert list(forecast_of(result, sku)["date"]) == list(pd.date_range(AS_OF + pd.Timedelta(days=1), periods=47))
    assert set(result.lead_time_demand["lead_time_days"]) == {40}


def test_lead_time_quantiles_are_monotone_and_centred_on_the_mean():
    rng = np.random.default_rng(1)
    series = {f"S{i}": list(rng.poisson(3 + i, 150).astype(float)) for i in range(4)}
    series["Z"] = [0.0] * 60 + [1.0] + [0.0] * 89  # fading, one sale
    result = run_forecast(daily_table(series), classify(daily_table(series), AS_OF), products_for(sorted(series), lead=10), None, None, AS_OF, FAST)
    ltd = result.lead_time_demand
    q = ltd[[f"q{round(p * 100)}" for p in QUANTILES]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all()
    active = ltd["mean"] > 0
    assert (ltd.loc[active, "q99"] > ltd.loc[active, "mean"]).all()
    # each mean is the forecast total over the lead time
    first10 = result.forecast.groupby("sku")["forecast"].apply(lambda s: s.iloc[:10].sum())
    assert ltd.set_index("sku")["mean"].to_dict() == pytest.approx(first10.to_dict())
    assert (ltd.loc[active, "std"] >= np.sqrt(ltd.loc[active, "mean"]) - 1e-9).all()  # Poisson floor


def test_learned_uplift_is_added_for_a_planned_campaign():
    units = [2.0] * 120
    live_days = [80, 95, 110]
    for d in live_days:
        units[d] = 10.0  # 5x a normal day, three times
    daily = daily_table({"A": units}, campaign={"A": live_days})
    past = [AS_OF - pd.Timedelta(days=119 - d) for d in live_days]
    planned = AS_OF + pd.Timedelta(days=3)
    campaigns = pd.DataFrame(
        {
            "campaign_id": ["c1", "c2", "c3", "next"],
            "kind": "live",
            "start": past + [planned],
            "end": past + [planned],
            "sku": pd.array(["A"] * 4, dtype="string"),
        }
    )
    result = run_forecast(daily, _classes({"A": "smooth"}), products_for(["A"]), campaigns, None, AS_OF, FAST)
    uplift = result.uplift.set_index(["level", "kind"])
    assert uplift.loc[("kind", "live"), "uplift"] == pytest.approx(5.0)
    assert uplift.loc[("sku", "live"), "n_campaigns"] == 3
    fc = forecast_of(result, "A").set_index("date")
    assert fc.loc[planned, "campaign_units"] == pytest.approx(8.0, abs=1e-6)  # 2 x (5 - 1)
    assert fc.loc[planned, "forecast"] == pytest.approx(10.0, abs=1e-6)
    assert fc["campaign_units"].drop(planned).eq(0).all()


def test_plan_expected_units_win_over_learned_uplift():
    daily = daily_table({"A": [2.0] * 120, "B": [6.0] * 120})
    day = AS_OF + pd.Timedelta(days=2)
    campaigns = pd.DataFrame(
        {"campaign_id": ["promo"], "kind": ["promotion"], "start": [day], "end": [day], "sku": pd.array([None], dtype="string"), "expected_units": [40.0]}
    )
    result = run_forecast(daily, _classes({"A": "smooth", "B": "smooth"}), products_for(["A", "B"]), campaigns, None, AS_OF, FAST)
    on_day = result.forecast[result.forecast["date"] == day].set_index("sku")
    assert on_day["forecast"].to_dict() == pytest.approx({"A": 10.0, "B": 30.0})  # 40 split 2:6


def test_new_sku_borrows_the_level_of_its_spu():
    series = {"A": [4.0] * 120, "B": [2.0] * 120, "C": [9.0] * 120, "N": [0.0] * 3}
    products = products_for(["A", "B", "C", "N"], spu=["P", "P", "Q", "P"])
    classes = _classes({"A": "smooth", "B": "smooth", "C": "smooth", "N": "new"})
    result = run_forecast(daily_table(series), classes, products, None, None, AS_OF, FAST)
    n = forecast_of(result, "N")
    # own mean 0 over 3 of 28 days, peers of SPU P at 3/day: 3/28*0 + 25/28*3
    assert n["forecast"].to_numpy() == pytest.approx(25 / 28 * 3.0)
    assert set(n["model"]) == {"peer_level"}


def test_inactive_sku_forecasts_zero():
    result = run_forecast(daily_table({"A": [1.0] * 30 + [0.0] * 90}), _classes({"A": "inactive"}), None, None, None, AS_OF, FAST)
    assert forecast_of(result, "A")["forecast"].eq(0).all()
    assert result.lead_time_demand["q99"].iloc[0] == 0


def test_model_is_chosen_per_class_and_accuracy_reports_benchmarks():
    rng = np.random.default_rng(7)
    series = {f"I{i}": list((rng.random(150) < 0.3) * rng.poisson(4, 150) * 1.0) for i in range(3)}
    series |= {f"S{i}": list(rng.poisson(6, 150).astype(float)) for i in range(3)}
    classes = classify(daily_table(series), AS_OF)
    by_class = ForecastParams(backtest_windows=2, min_train_days=28, selection="class")
    result = run_forecast(daily_table(series), classes, products_for(sorted(series)), None, None, AS_OF, by_class)
    chosen = result.chosen.set_index("sku")
    for sku in series:
        cls = chosen.loc[sku, "demand_class"]
        assert chosen.loc[sku, "model"] in FAST.candidates[cls]
    assert chosen.groupby("demand_class")["model"].nunique().eq(1).all()  # one model per class
    acc = result.accuracy
    assert list(acc.columns) == ["demand_class", "model", "wape", "mase", "bias", "n_skus"]
    all_rows = acc[acc["demand_class"] == "all"].set_index("model")
    assert {"SeasonalNaive", "WindowAverage", "chosen"} <= set(all_rows.index)
    assert all_rows.loc["chosen", "n_skus"] == 6
    # WAPE is recomputable from the backtest table
    bt = result.backtest[result.backtest["model"] == "SeasonalNaive"]
    wape = (bt["forecast"] - bt["actual"]).abs().sum() / bt["actual"].sum()
    assert all_rows.loc["SeasonalNaive", "wape"] == pytest.approx(wape)


def test_sku_selection_only_where_the_sku_sold_in_every_window():
    rng = np.random.default_rng(3)
    series = {f"S{i}": list(rng.poisson(5, 150).astype(float)) for i in range(3)}
    series["Q"] = [4.0] * 120 + [0.0] * 30  # nothing in the backtest windows: keeps the class model
    classes = _classes({s: "smooth" for s in series})
    result = run_forecast(daily_table(series), classes, products_for(sorted(series)), None, None, AS_OF, FAST)
    chosen = result.chosen.set_index("sku")
    assert chosen.loc["Q", "basis"] == "class"
    bt = result.backtest[result.backtest["sku"] == "S0"]
    abs_err = (bt["forecast"] - bt["actual"]).abs().groupby(bt["model"]).sum()
    best_own = abs_err.drop("SeasonalNaive").idxmin()  # benchmarks are not candidates
    assert chosen.loc["S0", "model"] == best_own


def test_floor_times_the_library_calls():
    daily = daily_table({"A": [2.0, 3.0] * 60})
    assert 0 < statsforecast_floor(daily, FAST, _classes({"A": "smooth"}), products_for(["A"])) < 30
    assert 0 < statsforecast_floor(daily) < 30  # classes derived, default lead times


def test_run_forecast_reports_the_seconds_inside_statsforecast(monkeypatch):
    import time

    from restock import forecast

    calls = forecast._library_calls

    def slow_calls(*args, **kwargs):  # each statsforecast call pair takes 0.3 s longer
        time.sleep(0.3)
        return calls(*args, **kwargs)

    monkeypatch.setattr(forecast, "_library_calls", slow_calls)
    series = {"A": [2.0, 3.0] * 60, "B": [0.0, 0.0, 4.0] * 40}
    daily = daily_table(series)
    params = ForecastParams(backtest_windows=2, min_train_days=28, n_jobs=1, batch_skus=1)  # two groups
    started = time.perf_counter()
    result = run_forecast(daily, classify(daily, AS_OF), products_for(sorted(series)), None, None, AS_OF, params)
    assert 0.6 <= result.statsforecast_seconds < time.perf_counter() - started


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"horizon_days": 0}, "horizon_days must be an integer >= 1; got 0"),
        ({"selection": "best"}, "selection must be 'class' or 'sku'; got 'best'"),
        ({"batch_skus": 0}, "batch_skus must be an integer >= 1; got 0"),
        ({"tsb_alpha_d": 1.2}, r"tsb_alpha_d must be in \(0, 1\); got 1.2"),
        ({"candidates": {"smooth": ("Magic",), "erratic": ("SES",), "intermittent": ("TSB",), "lumpy": ("TSB",)}}, "candidates"),
    ],
)
def test_params_name_the_field_and_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ForecastParams(**kwargs)


def _classes(mapping: dict[str, str]) -> pd.DataFrame:
    """A demand_classes table with the given class per SKU (ADI/CV² not needed here)."""
    return pd.DataFrame({"sku": pd.array(list(mapping), dtype="string"), "n_days": 120, "adi": np.nan, "cv2": np.nan, "demand_class": list(mapping.values())})
