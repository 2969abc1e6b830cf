"""Baseline forecasts through statsforecast, campaign uplift, backtests and lead-time demand.

The flow of :func:`run_forecast`, all on the dense daily table of :mod:`restock.demand`:

1. Training series: censored days and past campaign days are replaced by a causal baseline
   estimate (mean of the SKU's clean days in the ``baseline_days`` before that day), so a
   stock-out does not read as zero demand and a live session does not lift the everyday
   level. Only past data enters each estimate, so backtests stay honest.
2. One statsforecast cross-validation (rolling origin, ``backtest_windows`` cut-offs every
   ``backtest_step_days``) and one final forecast, with every fitted model on every
   modelled SKU (smooth, erratic, intermittent, lumpy).
3. Errors are measured on the total over each SKU's lead time (what an order depends on).
   The model with the lowest total absolute error wins per demand class among the class's
   candidates; with ``selection="sku"`` a SKU that had demand in every window picks its own.
   The accuracy of the choice is scored leave-one-window-out (the window scored never took
   part in choosing), next to every model and the seasonal-naive and moving-average
   benchmarks. Actuals are the training series: on censored and campaign days they are the
   causal baseline estimate, since true everyday demand is unknown there.
4. New SKUs borrow the level of their SPU or category (scaled by add-to-cart and favourites
   when traffic is known); inactive SKUs get zero.
5. Planned campaigns are added on top: the plan's expected units or uplift where given,
   else reservations times the learned conversion, else the uplift learned from past
   campaigns (per SKU or category with at least ``min_campaigns`` past campaigns, else per
   kind).
6. Lead-time demand: a gamma distribution with the forecast total as mean and a standard
   deviation from the backtest errors (the SKU's own, shrunk toward its class), never below
   the Poisson floor, plus campaign uncertainty.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd
from scipy import stats

with warnings.catch_warnings():  # statsforecast imports tqdm.autonotebook, which warns in kernels
    warnings.filterwarnings("ignore", message="IProgress not found")
    from statsforecast import StatsForecast
from statsforecast.models import (
    ADIDA,
    IMAPA,
    TSB,
    AutoETS,
    CrostonSBA,
    Holt,
    SeasonalExponentialSmoothingOptimized,
    SeasonalNaive,
    SimpleExponentialSmoothingOptimized,
    WindowAverage,
)

from restock.demand import campaign_days, panel_bounds

__all__ = [
    "ForecastParams",
    "ForecastResult",
    "MODELS",
    "BENCHMARKS",
    "QUANTILES",
    "run_forecast",
    "statsforecast_floor",
    "forecast_horizon",
]

MODELS: Mapping[str, Callable[["ForecastParams"], object]] = MappingProxyType(
    {
        "SES": lambda p: SimpleExponentialSmoothingOptimized(alias="SES"),
        "SeasonalES": lambda p: SeasonalExponentialSmoothingOptimized(season_length=p.season_length, alias="SeasonalES"),
        "Holt": lambda p: Holt(alias="Holt"),
        "AutoETS": lambda p: AutoETS(season_length=p.season_length, alias="AutoETS"),
        "CrostonSBA": lambda p: CrostonSBA(alias="CrostonSBA"),
        "TSB": lambda p: TSB(alpha_d=p.tsb_alpha_d, alpha_p=p.tsb_alpha_p, alias="TSB"),
        "ADIDA": lambda p: ADIDA(alias="ADIDA"),
        "IMAPA": lambda p: IMAPA(alias="IMAPA"),
        "WindowAverage": lambda p: WindowAverage(window_size=p.window_days, alias="WindowAverage"),
        "SeasonalNaive": lambda p: SeasonalNaive(season_length=p.season_length, alias="SeasonalNaive"),
    }
)
"""statsforecast models by name. Holt and AutoETS cost ~30-140 ms per series: opt-in only."""

BENCHMARKS = ("SeasonalNaive", "WindowAverage")
"""Always fitted and reported: seasonal naive and the moving average buyers use today."""

QUANTILES = (0.5, 0.8, 0.9, 0.95, 0.98, 0.99)
_QUANTILE_COLUMNS = tuple(f"q{round(q * 100)}" for q in QUANTILES)
_MODELLED = ("smooth", "erratic", "intermittent", "lumpy")
_CHEAP_MODELS = ("SES", "SeasonalES", "CrostonSBA", "TSB", "ADIDA", "IMAPA", "WindowAverage")
# Every class chooses among all cheap models: on the UCI Online Retail backtest, seasonal
# ES won the lumpy class and ADIDA the intermittent one, against the textbook pairing.
_DEFAULT_CANDIDATES = MappingProxyType({c: _CHEAP_MODELS for c in _MODELLED})
_ERROR_PRIOR_WINDOWS = 4.0  # weight of the class-wide error when shrinking a SKU's own


def _is_int(value, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


@dataclass(frozen=True)
class ForecastParams:
    """Parameters of the forecast step.

    Attributes:
        horizon_days: days to forecast; raised to the longest lead time plus
            ``review_days`` when shorter.
        review_days: days between two ordering reviews.
        default_lead_time_days: lead time of a SKU whose product row has none.
        backtest_windows: rolling-origin cut-offs.
        backtest_step_days: days between two cut-offs.
        min_train_days: fewest days a series needs before its first cut-off to be backtested.
        season_length: weekly seasonality of daily data.
        window_days: window of the moving-average model.
        baseline_days: trailing window of clean days whose mean stands in for censored and
            campaign days.
        tsb_alpha_d: TSB smoothing of demand sizes (Teunter, Syntetos & Babai 2011).
        tsb_alpha_p: TSB smoothing of demand probability.
        candidates: demand class -> model names (keys of :data:`MODELS`) chosen between.
        selection: ``"class"`` (one model per class) or ``"sku"`` (per SKU where it had
            demand in every backtest window, per class otherwise).
        min_campaigns: past campaigns a SKU or category needs for its own uplift.
        campaign_cv: coefficient of variation of campaign units, for lead-time quantiles.
        n_jobs: processes statsforecast fits in (its multiprocessing pool); 2 uses both
            cores of the reference machine, 1 fits in this process.
        batch_skus: most SKUs per statsforecast call. Its inputs, copies and outputs grow
            with the SKUs of one call, so batches bound the memory of a big shop.
    """

    horizon_days: int = 28
    review_days: int = 7
    default_lead_time_days: int = 14
    backtest_windows: int = 4
    backtest_step_days: int = 7
    min_train_days: int = 56
    season_length: int = 7
    window_days: int = 28
    baseline_days: int = 28
    tsb_alpha_d: float = 0.1
    tsb_alpha_p: float = 0.1
    candidates: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(_DEFAULT_CANDIDATES))
    selection: str = "sku"
    min_campaigns: int = 3
    campaign_cv: float = 0.5
    n_jobs: int = 2
    batch_skus: int = 10_000

    def __post_init__(self) -> None:
        for name in (
            "horizon_days",
            "default_lead_time_days",
            "backtest_windows",
            "backtest_step_days",
            "min_train_days",
            "season_length",
            "window_days",
            "baseline_days",
            "min_campaigns",
            "n_jobs",
            "batch_skus",
        ):
            if not _is_int(getattr(self, name), 1):
                raise ValueError(f"{name} must be an integer >= 1; got {getattr(self, name)!r}")
        if not _is_int(self.review_days, 0):
            raise ValueError(f"review_days must be an integer >= 0; got {self.review_days!r}")
        for name in ("tsb_alpha_d", "tsb_alpha_p"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0 < value < 1):
                raise ValueError(f"{name} must be in (0, 1); got {value!r}")
        if not (isinstance(self.campaign_cv, (int, float)) and self.campaign_cv >= 0):
            raise ValueError(f"campaign_cv must be a number >= 0; got {self.campaign_cv!r}")
        if self.selection not in ("class", "sku"):
            raise ValueError(f"selection must be 'class' or 'sku'; got {self.selection!r}")
        if set(self.candidates) != set(_MODELLED):
            raise ValueError(f"candidates must have exactly the keys {list(_MODELLED)}; got {sorted(self.candidates)}")
        for cls, names in self.candidates.items():
            unknown = [n for n in names if n not in MODELS]
            if not names or unknown:
                raise ValueError(f"candidates[{cls!r}] must be model names from {list(MODELS)}; got {names!r}")

    @property
    def fitted_models(self) -> tuple[str, ...]:
        """Every model fitted: the candidates of all classes plus the benchmarks."""
        names = [n for cls in _MODELLED for n in self.candidates[cls]] + list(BENCHMARKS)
        return tuple(dict.fromkeys(names))


@dataclass
class ForecastResult:
    """Everything :func:`run_forecast` produces.

    Attributes:
        forecast: sku, date, forecast, baseline, campaign_units, model (contract table).
        lead_time_demand: sku, lead_time_days, mean, std, q50 … q99 (contract table).
        backtest: sku, demand_class, cutoff, model, lead_time_days, actual, forecast, scale:
            lead-time totals per SKU, window and model (``scale`` is the MASE denominator).
        accuracy: demand_class, model, wape, mase, bias, n_skus (contract
            backtest_accuracy; ``model="chosen"`` is the selection scored leave-one-window-out,
            ``demand_class="all"`` pools the classes).
        uplift: level (kind|category|sku), kind, key, uplift, n_campaigns, plus one row per
            kind with level ``conversion`` (units per reservation).
        chosen: sku, demand_class, model, basis (sku|class|peer|inactive).
        horizon_days: days forecast.
        statsforecast_seconds: seconds of the run spent inside statsforecast's calls; the
            rest of the run is this module's own cost, measured in the same conditions.
    """

    forecast: pd.DataFrame
    lead_time_demand: pd.DataFrame
    backtest: pd.DataFrame
    accuracy: pd.DataFrame
    uplift: pd.DataFrame
    chosen: pd.DataFrame
    horizon_days: int
    statsforecast_seconds: float


# --------------------------------------------------------------------------- helpers


def _lead_times(skus: np.ndarray, products: pd.DataFrame | None, default: int) -> np.ndarray:
    """Lead time in days per SKU from products, ``default`` when missing, at least 1."""
    if products is None or len(products) == 0 or "lead_time_days" not in products:
        return np.full(len(skus), default, dtype=np.int64)
    p = products.drop_duplicates("sku")
    days = pd.to_numeric(p["lead_time_days"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    lt = pd.Series(days, index=p["sku"].astype(str).to_numpy())
    out = lt.reindex(skus.astype(str)).to_numpy()
    return np.maximum(np.where(np.isnan(out), default, out), 1).astype(np.int64)


def forecast_horizon(products: pd.DataFrame | None, params: ForecastParams) -> int:
    """Days to forecast: ``horizon_days``, never shorter than the longest lead time + review."""
    longest = params.default_lead_time_days
    if products is not None and len(products) and "lead_time_days" in products:
        lead = pd.to_numeric(products["lead_time_days"], errors="coerce").max()
        longest = max(longest, int(lead)) if pd.notna(lead) else longest
    return max(params.horizon_days, longest + params.review_days)


def _trailing_clean_mean(
    units: np.ndarray, clean: np.ndarray, starts: np.ndarray, window: int, rows: np.ndarray
) -> np.ndarray:
    """Mean of the clean days among the ``window`` days before each of ``rows`` (same SKU, excluding it).

    When none of those days is clean, the mean of all the SKU's earlier clean days; 0 when
    there is none. Running sums over the flat panel, read only at ``rows``.

    Args:
        units: units per panel row.
        clean: rows that are neither censored nor campaign days.
        starts: first row of each SKU's block (ascending).
        window: days looked back.
        rows: the rows to estimate (typically the censored and campaign days).
    """
    value_cs = np.empty(len(units) + 1)  # filled in place: no temporary of panel length
    value_cs[0] = 0.0
    np.multiply(units, clean, out=value_cs[1:])
    np.cumsum(value_cs, out=value_cs)
    count_cs = np.zeros(len(units) + 1, dtype=np.int32)  # int32 sums: 4x less memory traffic
    np.cumsum(clean, out=count_cs[1:], dtype=np.int32)
    block_start = starts[np.searchsorted(starts, rows, side="right") - 1]
    lo = np.maximum(rows - window, block_start)
    n_window = count_cs[rows] - count_cs[lo]
    n_before = count_cs[rows] - count_cs[block_start]
    with np.errstate(invalid="ignore", divide="ignore"):
        recent = (value_cs[rows] - value_cs[lo]) / n_window
        earlier = (value_cs[rows] - value_cs[block_start]) / n_before
    return np.where(n_window > 0, recent, np.where(n_before > 0, earlier, 0.0))


@dataclass(frozen=True)
class _Panel:
    """The daily table as flat arrays, one block of rows per SKU (private working form)."""

    sku: np.ndarray  # per SKU
    starts: np.ndarray  # per SKU: first row
    lengths: np.ndarray  # per SKU: rows
    first_day: np.ndarray  # per SKU: day number of the first row
    units: np.ndarray  # per row
    censored: np.ndarray  # per row
    campaign: np.ndarray  # per row: a campaign ran
    y: np.ndarray  # per row: training series (clean days as sold, others = causal everyday level)
    date: np.ndarray  # per row: datetime64[ns]

    @property
    def row_start(self) -> np.ndarray:
        return np.repeat(self.starts, self.lengths)

    def last_rows(self, days: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows of each SKU's last ``days`` days (fewer when its history is shorter) and their SKU."""
        n = np.minimum(self.lengths, days)
        sku = np.repeat(np.arange(len(self.sku)), n)
        end = np.cumsum(n)
        rows = np.repeat(self.starts + self.lengths - n - (end - n), n) + np.arange(end[-1] if len(end) else 0)
        return rows, sku


def _panel(daily: pd.DataFrame, params: ForecastParams) -> _Panel:
    starts, lengths = panel_bounds(daily)
    units = daily["units"].to_numpy(dtype=float)
    censored = daily["censored"].to_numpy(dtype=bool)
    campaign = daily["campaign_kind"].notna().to_numpy(dtype=bool)
    clean = ~censored & ~campaign
    y = units.copy()
    stand_in = np.flatnonzero(~clean)
    y[stand_in] = _trailing_clean_mean(units, clean, starts, params.baseline_days, stand_in)
    date = daily["date"].to_numpy(dtype="datetime64[ns]")
    return _Panel(
        sku=daily["sku"].iloc[starts].to_numpy(dtype=object),
        starts=starts,
        lengths=lengths,
        first_day=date[starts].astype("datetime64[D]").astype(np.int64),
        units=units,
        censored=censored,
        campaign=campaign,
        y=y,
        date=date,
    )


def _series_frame(panel: _Panel, members: np.ndarray) -> pd.DataFrame:
    """statsforecast input (unique_id = position in ``members``, ds, y) for some SKUs.

    Built without copying the columns (``copy=False``): statsforecast only reads them. Some
    SKUs: their rows picked with a boolean mask (one pass, no row-index array).
    """
    lengths = panel.lengths[members]
    unique_id = np.repeat(np.arange(len(members), dtype=np.int32), lengths)
    if len(members) == len(panel.sku):  # every SKU, in order: no gather needed
        return pd.DataFrame({"unique_id": unique_id, "ds": panel.date, "y": panel.y}, copy=False)
    picked = np.zeros(len(panel.sku), dtype=bool)
    picked[members] = True
    rows = np.repeat(picked, panel.lengths)
    return pd.DataFrame({"unique_id": unique_id, "ds": panel.date[rows], "y": panel.y[rows]}, copy=False)


@dataclass(frozen=True)
class _Group:
    """SKUs fitted with the same models in one statsforecast call: at most ``batch_skus`` (private)."""

    models: tuple[str, ...]
    modelled: np.ndarray  # SKU positions fitted
    backtested: np.ndarray  # those long enough for every backtest window


@dataclass(frozen=True)
class _Plan:
    """Which SKUs are fitted with which models, and the windows (private)."""

    groups: tuple[_Group, ...]
    backtest_h: int
    horizon: int

    @property
    def modelled(self) -> np.ndarray:
        return np.concatenate([g.modelled for g in self.groups]) if self.groups else np.zeros(0, np.int64)

    @property
    def backtested(self) -> np.ndarray:
        return np.concatenate([g.backtested for g in self.groups]) if self.groups else np.zeros(0, np.int64)


def _class_models(params: ForecastParams, demand_class: str) -> tuple[str, ...]:
    """Models fitted for a class: its candidates plus the benchmarks."""
    return tuple(dict.fromkeys(tuple(params.candidates[demand_class]) + BENCHMARKS))


def _plan(panel: _Panel, classes: np.ndarray, lead: np.ndarray, horizon: int, params: ForecastParams) -> _Plan:
    modelled = np.isin(classes, _MODELLED)
    backtest_h = int(lead[modelled].max()) if modelled.any() else 1
    needed = params.min_train_days + backtest_h + params.backtest_step_days * (params.backtest_windows - 1)
    long_enough = panel.lengths >= needed
    by_models: dict[tuple[str, ...], list[str]] = {}
    for demand_class in _MODELLED:
        by_models.setdefault(_class_models(params, demand_class), []).append(demand_class)
    groups = []
    for models, members in by_models.items():
        in_group = np.flatnonzero(np.isin(classes, members))
        for first in range(0, len(in_group), params.batch_skus):
            batch = in_group[first : first + params.batch_skus]
            groups.append(_Group(models, batch, batch[long_enough[batch]]))
    return _Plan(tuple(groups), backtest_h, horizon)


def _group_inputs(panel: _Panel, group: _Group) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The statsforecast frames of one group: for the final forecast and for the backtest."""
    train = _series_frame(panel, group.modelled)
    same = len(group.backtested) == len(group.modelled)  # backtested is a subset of modelled
    return train, train if same else _series_frame(panel, group.backtested)


def _library_calls(group: _Group, train: pd.DataFrame, backtest_train: pd.DataFrame, plan: _Plan,
                   params: ForecastParams) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """The statsforecast calls of one group (cross-validation, then the final forecast); nothing else."""
    sf = StatsForecast(models=[MODELS[n](params) for n in group.models], freq="D", n_jobs=params.n_jobs)
    cv = None
    if len(backtest_train):
        cv = sf.cross_validation(
            h=plan.backtest_h, df=backtest_train, n_windows=params.backtest_windows, step_size=params.backtest_step_days
        )
    return cv, sf.forecast(h=plan.horizon, df=train)


def _run_library(panel: _Panel, lead: np.ndarray, plan: _Plan, params: ForecastParams) -> tuple[list[tuple], float]:
    """Per group: its input frames, the statsforecast calls, and only what the forecast uses of
    their output: the backtest's lead-time totals (:func:`_cv_totals`, None when nothing was
    backtested) and the final forecast as [series, day, model]. One group's frames exist at a
    time, so a big shop's memory is bounded by ``batch_skus``.

    Returns:
        The per-group outputs, and the seconds spent inside statsforecast's calls.
    """
    out, seconds = [], 0.0
    for group in plan.groups:
        inputs = _group_inputs(panel, group)
        started = time.perf_counter()
        cv, fc = _library_calls(group, *inputs, plan, params)
        seconds += time.perf_counter() - started
        del inputs
        totals = _cv_totals(cv, lead[group.backtested], group.models, params) if len(group.backtested) else None
        values = fc[list(group.models)].to_numpy(dtype=float)
        out.append((totals, values.reshape(len(group.modelled), plan.horizon, len(group.models))))
        del cv, fc  # the next group reuses their heap: trimming it here made statsforecast fault
        # it in again, 34 s of 188 at 100,000 SKUs (notebook 02 trims once the stage is done)
    return out, seconds


# --------------------------------------------------------------------------- backtest


def _cv_totals(cv: pd.DataFrame, lead: np.ndarray, models: tuple[str, ...], params: ForecastParams):
    """Cross-validation rows -> lead-time totals: actual [series, window], fcst [series, window, model].

    Only the rows within each series' lead time are summed (one weighted bincount per
    column, no [series, window, step, model] array); a window missing any of those steps,
    or with a NaN among them, totals NaN.
    """
    n_series, n_w = len(lead), params.backtest_windows
    cutoff = cv["cutoff"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    step = cv["ds"].to_numpy(dtype="datetime64[D]").astype(np.int64) - cutoff - 1
    sid = cv["unique_id"].to_numpy().astype(np.int64)
    within = step < lead[sid]
    cell = (sid * n_w + (cutoff - cutoff.min()) // params.backtest_step_days)[within]
    size = n_series * n_w
    complete = np.bincount(cell, minlength=size) == np.repeat(lead, n_w)

    def totals(values: np.ndarray) -> np.ndarray:
        return np.where(complete, np.bincount(cell, weights=values[within], minlength=size), np.nan).reshape(n_series, n_w)

    actual = totals(cv["y"].to_numpy(dtype=float))
    fcst = np.stack([totals(cv[m].to_numpy(dtype=float)) for m in models], axis=2)
    return actual, fcst, np.unique(cutoff)


def _lead_time_totals(x: np.ndarray, lead: np.ndarray) -> np.ndarray:
    """Sum over the first ``lead[i]`` steps (axis 2) of series i, for every window (and model).

    NaN in those steps (a model not fitted for the series) gives NaN.
    """
    within = np.arange(x.shape[2])[None, :] < lead[:, None]  # [series, step]
    within = within.reshape((x.shape[0], 1, x.shape[2]) + (1,) * (x.ndim - 3))
    return np.sum(x, axis=2, where=within)


def _mase_scale(panel: _Panel, members: np.ndarray, cutoffs: np.ndarray, lead: np.ndarray, season: int) -> np.ndarray:
    """MASE denominator per series and window: lead time × in-sample mean |y_t - y_(t-season)|
    over the training days up to the cut-off (Hyndman & Koehler 2006, seasonal naive scale)."""
    # one array of panel length, filled in place: |y_t - y_(t-season)|, then its running sum
    diff_cs = np.empty(len(panel.y) + 1)
    diff = diff_cs[1:]
    diff_cs[: season + 1] = 0.0
    np.subtract(panel.y[season:], panel.y[:-season], out=diff[season:])
    np.abs(diff, out=diff)
    # the first ``season`` days of a SKU have no day a season back (inside the SKU)
    first_days = panel.starts[:, None] + np.arange(season)[None, :]
    diff[first_days[first_days < (panel.starts + panel.lengths)[:, None]]] = 0.0
    np.cumsum(diff_cs, out=diff_cs)
    start = panel.starts[members][:, None]
    n_days = (cutoffs[None, :] - panel.first_day[members][:, None]) + 1  # rows up to the cut-off
    n_diffs = np.maximum(n_days - season, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_abs = (diff_cs[start + n_days] - diff_cs[start]) / n_diffs
    return np.nan_to_num(mean_abs) * lead[:, None]


def _select(abs_err: np.ndarray, actual: np.ndarray, cls: np.ndarray, allowed: np.ndarray, by_sku: bool):
    """Chosen model per series (all windows) and per series and window (that window left out).

    Args:
        abs_err: |error| of lead-time totals [series, window, model]; NaN where not fitted.
        actual: actual lead-time totals [series, window].
        cls: class index per series.
        allowed: [class, model] candidate mask (candidates are always fitted).
        by_sku: choose per series where it had demand in every window.

    Returns:
        (full [series], loo [series, window], class_winner [class]; -1 for a class without series).
    """
    n_cls = allowed.shape[0]
    err = np.nan_to_num(abs_err, nan=0.0)
    penalty = np.where(allowed, 0.0, np.inf)  # [class, model]
    class_total = np.zeros((n_cls, err.shape[2]))
    np.add.at(class_total, cls, err.sum(axis=1))
    class_window = np.zeros((n_cls, err.shape[1], err.shape[2]))
    np.add.at(class_window, cls, err)
    class_winner = np.where(np.bincount(cls, minlength=n_cls) > 0, np.argmin(class_total + penalty, axis=1), -1)
    full = class_winner[cls]
    loo = np.argmin(class_total[:, None, :] - class_window + penalty[:, None, :], axis=2)[cls]  # [series, window]
    if by_sku:
        own = (actual > 0).all(axis=1)
        sku_total = err.sum(axis=1)
        sku_pen = penalty[cls]
        full = np.where(own, np.argmin(sku_total + sku_pen, axis=1), full)
        sku_loo = np.argmin(sku_total[:, None, :] - err + sku_pen[:, None, :], axis=2)
        loo = np.where(own[:, None], sku_loo, loo)
    return full, loo, class_winner


def _accuracy_rows(actual, fcst, scale, cls_names, models) -> pd.DataFrame:
    """wape, mase, bias and n_skus of lead-time totals per class (and ``all``) and model.

    Ratios of sums over SKUs and windows: WAPE = Σ|F−A| / ΣA, MASE = Σ|F−A| / Σscale,
    bias = Σ(F−A) / ΣA (positive = over-forecast). A model not fitted on every SKU of a
    class gets no row for that class.
    """
    rows = []
    for name in sorted(set(cls_names)) + ["all"]:
        mask = np.ones(len(cls_names), bool) if name == "all" else cls_names == name
        a, f, s = actual[mask], fcst[mask], scale[mask]
        err = f - a[:, :, None]
        fitted = ~np.isnan(err).any(axis=(0, 1))
        with np.errstate(invalid="ignore", divide="ignore"):
            wape = np.abs(err).sum(axis=(0, 1)) / a.sum()
            mase = np.abs(err).sum(axis=(0, 1)) / s.sum()
            bias = err.sum(axis=(0, 1)) / a.sum()
        rows += [(name, m, wape[j], mase[j], bias[j], int(mask.sum())) for j, m in enumerate(models) if fitted[j]]
    out = pd.DataFrame(rows, columns=["demand_class", "model", "wape", "mase", "bias", "n_skus"])
    return out.astype({"demand_class": "string", "model": "string", "wape": float, "mase": float, "bias": float, "n_skus": "int64"})


# --------------------------------------------------------------------------- campaigns


def _campaign_pairs(camp: pd.DataFrame, panel_sku: pd.Index, first_day: np.ndarray, last_day: np.ndarray) -> pd.DataFrame:
    """Campaign-day rows joined to the SKUs they cover: one row per (campaign row, day, SKU).

    Returns campaign_row (index into ``camp``), pos (SKU position), day (day number).
    """
    day = camp["date"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    specific = camp["sku"].notna().to_numpy(bool)
    pos = panel_sku.get_indexer(camp["sku"].to_numpy(dtype=object))
    keep = specific & (pos >= 0)
    keep[keep] = (day[keep] >= first_day[pos[keep]]) & (day[keep] <= last_day[pos[keep]])
    rows, positions = [np.flatnonzero(keep)], [pos[keep]]
    # a shop-wide campaign day pairs with every SKU whose history covers it: built day by day,
    # in int32, so a big shop never holds the (campaign day x SKU) product before the cut
    every_sku = np.arange(len(panel_sku), dtype=np.int32)
    for r in np.flatnonzero(~specific):
        covered = every_sku[(first_day <= day[r]) & (day[r] <= last_day)]
        rows.append(np.full(len(covered), r, dtype=np.int32))
        positions.append(covered)
    campaign_row = np.concatenate(rows).astype(np.int32, copy=False)
    return pd.DataFrame(
        {"campaign_row": campaign_row, "pos": np.concatenate(positions).astype(np.int32, copy=False),
         "day": day[campaign_row]},
        copy=False,
    )


def _grouped_sums(frame: pd.DataFrame, distinct: pd.DataFrame, keys: list[str], sizes: dict[str, int]):
    """Per combination of ``keys`` codes: summed units and baseline, and distinct campaigns.

    A code of -1 is a null label (dropped, as groupby does). Integer codes combine into one
    bin number, so the sums are bincounts, not a groupby over millions of pair rows.

    Returns:
        The key codes of each combination present ({key: codes}), units, base and n.
    """
    def bins(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        codes = [df[k].to_numpy() for k in keys]
        labelled = np.logical_and.reduce([c >= 0 for c in codes])
        combined = np.zeros(int(labelled.sum()), dtype=np.int64)
        for key, c in zip(keys, codes):
            combined = combined * sizes[key] + c[labelled]
        return combined, labelled

    n_bins = int(np.prod([sizes[k] for k in keys]))
    code, labelled = bins(frame)
    rows = np.bincount(code, minlength=n_bins)
    units = np.bincount(code, weights=frame["units"].to_numpy()[labelled], minlength=n_bins)
    base = np.bincount(code, weights=frame["baseline"].to_numpy()[labelled], minlength=n_bins)
    d_code, d_labelled = bins(distinct)
    campaign = distinct["campaign"].to_numpy()[d_labelled]
    counted = ~np.isnan(campaign)  # a campaign without an id is not counted
    n_campaigns = int(campaign[counted].max()) + 1 if counted.any() else 1
    code_campaign = np.unique(d_code[counted] * n_campaigns + campaign[counted].astype(np.int64))
    n = np.bincount(code_campaign // n_campaigns, minlength=n_bins).astype(float)
    present = np.flatnonzero(rows > 0)
    key_codes, rest = {}, present
    for key in reversed(keys):
        rest, key_codes[key] = np.divmod(rest, sizes[key])
    return key_codes, units[present], base[present], n[present]


def _learn_uplift(panel: _Panel, campaigns, products, as_of, params: ForecastParams) -> pd.DataFrame:
    """Uplift = campaign-day units / baseline, pooled (ratio of sums) per kind, category, SKU;
    conversion = campaign units / reservations per kind. Censored days are left out.

    Shop-wide campaigns pair with every SKU (millions of rows for a big shop), so the
    grouping runs on integer codes (sorted like their labels) and labels come back at the end.
    """
    columns = ["level", "kind", "key", "uplift", "n_campaigns"]
    if campaigns is None or len(campaigns) == 0 or len(panel.sku) == 0:
        return pd.DataFrame({c: pd.Series(dtype="string" if c in ("level", "kind", "key") else float) for c in columns})
    camp = campaign_days(campaigns, pd.Timestamp(int(panel.first_day.min()), unit="D"), as_of)
    last_day = panel.first_day + panel.lengths - 1
    pairs = _campaign_pairs(camp, pd.Index(panel.sku), panel.first_day, last_day)
    p = pairs["pos"].to_numpy()
    row = panel.starts[p] + pairs["day"].to_numpy() - panel.first_day[p]
    r = pairs["campaign_row"].to_numpy()
    del pairs
    in_stock = ~panel.censored[row]
    p, row, r = p[in_stock], row[in_stock], r[in_stock]
    kind_code, kinds = pd.factorize(camp["kind"], sort=True)
    campaign_code, campaign_ids = pd.factorize(camp["campaign_id"], sort=True)
    category_code, categories = pd.factorize(_categories(panel.sku, products), sort=True)
    # on a campaign day, y holds the everyday level
    campaign, day_units, baseline = campaign_code[r], panel.units[row], panel.y[row]
    with_base = np.flatnonzero(baseline > 0)
    labels = {
        "any_kind": np.array(["any"], dtype=object),
        "kind": np.asarray(kinds, dtype=object),
        "sku": panel.sku,
        "category": np.asarray(categories, dtype=object),
    }
    b_campaign, b_kind, b_sku = campaign[with_base], kind_code[r[with_base]], p[with_base]

    def coded(campaign_code, kind, sku) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "any_kind": np.zeros(len(sku), dtype=np.int8),
                "kind": kind,
                "campaign": np.where(campaign_code >= 0, campaign_code, np.nan),  # NaN: no id, not counted
                "sku": sku,  # panel.sku is sorted, so positions sort like the SKUs
                "category": category_code[sku],
            },
            copy=False,
        )

    based = coded(b_campaign, b_kind, b_sku)
    based["units"], based["baseline"] = day_units[with_base], baseline[with_base]
    # kind, category and SKU are fixed per (campaign, kind, SKU): count campaigns on those few
    # rows, decoded from the distinct combined codes (-1 codes stored +1)
    n_sku, n_kind = len(panel.sku), len(kinds) + 1
    combined = np.unique(((b_campaign + 1) * n_kind + b_kind + 1) * n_sku + b_sku)
    campaign_kind, distinct_sku = np.divmod(combined, n_sku)
    distinct = coded(campaign_kind // n_kind - 1, campaign_kind % n_kind - 1, distinct_sku)
    sizes = {key: len(values) for key, values in labels.items()}
    out = []
    for level, keys in (
        ("any", ["any_kind"]),
        ("kind", ["kind"]),
        ("category", ["kind", "category"]),
        ("sku", ["kind", "sku"]),
    ):
        codes, units, base, n = _grouped_sums(based, distinct, keys, sizes)
        keep = n >= params.min_campaigns if level in ("category", "sku") else np.ones(len(n), bool)
        out.append(
            pd.DataFrame(
                {
                    "level": level,
                    "kind": labels[keys[0]][codes[keys[0]][keep]],
                    "key": labels[keys[-1]][codes[keys[-1]][keep]],
                    "uplift": units[keep] / base[keep],
                    "n_campaigns": n[keep],
                }
            )
        )
    reserved = camp.drop_duplicates(["campaign_id", "sku"])
    reserved = reserved[reserved["reservations"] > 0]
    if len(reserved):
        named = campaign >= 0
        units = pd.Series(
            np.bincount(campaign[named], weights=day_units[named], minlength=len(campaign_ids)),
            index=np.asarray(campaign_ids, dtype=object),
        )
        res = reserved.groupby("campaign_id").agg(kind=("kind", "first"), reservations=("reservations", "sum"))
        res["units"] = units.reindex(res.index, fill_value=0.0)
        g = res.groupby("kind").agg(units=("units", "sum"), reservations=("reservations", "sum"), n=("units", "size")).reset_index()
        conversion = g["units"] / g["reservations"]
        out.append(
            pd.DataFrame({"level": "conversion", "kind": g["kind"], "key": g["kind"], "uplift": conversion, "n_campaigns": g["n"]})
        )
    result = pd.concat(out, ignore_index=True)
    return result.astype({"level": "string", "kind": "string", "key": "string", "uplift": float, "n_campaigns": float})


def _categories(skus: np.ndarray, products: pd.DataFrame | None) -> np.ndarray:
    if products is None or len(products) == 0 or "category" not in products:
        return np.full(len(skus), None, dtype=object)
    p = products.drop_duplicates("sku")
    cat = pd.Series(p["category"].astype("string").to_numpy(dtype=object), index=p["sku"].astype(str).to_numpy())
    return cat.reindex(skus.astype(str)).to_numpy(dtype=object)


def _planned_campaign_units(
    campaigns, uplift: pd.DataFrame, skus: np.ndarray, baseline: np.ndarray, categories: np.ndarray, as_of, horizon: int
) -> np.ndarray:
    """Extra units per SKU and horizon day [sku, day] from planned campaigns.

    Per campaign row, in order of precedence: the plan's ``expected_units`` (spread over its
    SKUs and days in proportion to baseline), the plan's ``uplift``, reservations × the
    learned conversion of its kind, the learned uplift (SKU, else category, else kind).
    Overlapping campaigns on one SKU-day: the larger extra counts (one day, one pulse).
    """
    extra = np.zeros_like(baseline)
    if campaigns is None or len(campaigns) == 0 or len(skus) == 0:
        return extra
    as_of = pd.Timestamp(as_of).normalize()
    camp = campaign_days(campaigns, as_of + pd.Timedelta(days=1), as_of + pd.Timedelta(days=horizon))
    if len(camp) == 0:
        return extra
    first = _day_number(as_of) + 1
    pairs = _campaign_pairs(camp, pd.Index(skus), np.full(len(skus), first), np.full(len(skus), first + horizon - 1))
    r, p = pairs["campaign_row"].to_numpy(), pairs["pos"].to_numpy()
    d = pairs["day"].to_numpy() - first
    base = baseline[p, d]
    kind = camp["kind"].to_numpy(dtype=object)[r]

    def learned(level: str, kinds: np.ndarray, keys: np.ndarray) -> np.ndarray:
        table = uplift[uplift["level"] == level]
        if len(table) == 0:
            return np.full(len(kinds), np.nan)
        lookup = pd.Series(
            table["uplift"].to_numpy(dtype=float),
            index=pd.MultiIndex.from_arrays([table["kind"].to_numpy(dtype=object), table["key"].to_numpy(dtype=object)]),
        )
        return lookup.reindex(pd.MultiIndex.from_arrays([kinds, keys])).to_numpy(dtype=float)

    anything = np.full(len(kind), "any", dtype=object)
    rate = learned("sku", kind, skus[p].astype(object))
    rate = np.where(np.isnan(rate), learned("category", kind, categories[p]), rate)
    rate = np.where(np.isnan(rate), learned("kind", kind, kind), rate)
    rate = np.where(np.isnan(rate), learned("any", anything, anything), rate)
    plan_uplift = camp["uplift"].to_numpy()[r]
    rate = np.where(np.isnan(plan_uplift), rate, plan_uplift)
    conversion = learned("conversion", kind, kind)
    total = camp["expected_units"].to_numpy()[r]
    from_reservations = camp["reservations"].to_numpy()[r] * conversion
    total = np.where(np.isnan(total) & np.isnan(plan_uplift), from_reservations, total)

    # spread a campaign row's total over its SKU-days in proportion to baseline (evenly if none)
    base_sum = np.bincount(r, weights=base, minlength=len(camp))[r]
    n_pairs = np.bincount(r, minlength=len(camp))[r]
    share = np.where(base_sum > 0, base / np.where(base_sum > 0, base_sum, 1.0), 1.0 / n_pairs)
    units = np.where(np.isnan(total), base * (np.nan_to_num(rate, nan=1.0) - 1.0), total * share - base)
    np.maximum.at(extra, (p, d), np.maximum(units, 0.0))
    return extra


def _day_number(ts) -> int:
    return int(np.datetime64(pd.Timestamp(ts).date(), "D").astype(np.int64))


# --------------------------------------------------------------------------- new SKUs


def _peer_levels(panel: _Panel, classes: np.ndarray, products, traffic, as_of, params: ForecastParams) -> np.ndarray:
    """Daily level for every SKU: its recent clean mean, and for new SKUs a blend with peers.

    A new SKU's peers are established SKUs of its SPU, else its category, else all. With
    traffic, the peer level is the peers' units per (add-to-cart + favourite) times the new
    SKU's own daily add-to-cart + favourites. The blend weights the SKU's own mean by its
    clean days / ``window_days``.
    """
    rows, group = panel.last_rows(params.window_days)
    clean = ~panel.censored[rows] & ~panel.campaign[rows]
    n_recent = np.bincount(group, weights=clean.astype(float), minlength=len(panel.sku))
    sum_recent = np.bincount(group, weights=np.where(clean, panel.units[rows], 0.0), minlength=len(panel.sku))
    with np.errstate(invalid="ignore", divide="ignore"):
        own = np.where(n_recent > 0, sum_recent / n_recent, 0.0)
    new = classes == "new"
    if not new.any():
        return own
    established = np.isin(classes, _MODELLED)
    signal = _traffic_signal(panel.sku, traffic, as_of, params.window_days)
    frame = pd.DataFrame({"own": own, "signal": signal, "established": established})
    frame["all"] = "all"
    spu = _product_column(panel.sku, products, "spu")
    frame["spu"] = np.where(pd.isna(spu), None, spu)
    frame["category"] = _categories(panel.sku, products)
    peer = np.full(len(panel.sku), np.nan)
    for level in ("spu", "category", "all"):
        est = frame[frame["established"] & frame[level].notna()]
        g = est.groupby(level).agg(level_mean=("own", "mean"), units=("own", "sum"), signal=("signal", "sum"))
        key = frame[level]
        level_mean = key.map(g["level_mean"]).to_numpy(dtype=float)
        per_signal = key.map(g["units"] / g["signal"].where(g["signal"] > 0)).to_numpy(dtype=float)
        candidate = np.where(np.isfinite(per_signal) & (signal > 0), per_signal * signal, level_mean)
        peer = np.where(np.isnan(peer), candidate, peer)
    weight = np.minimum(n_recent / params.window_days, 1.0)
    blended = weight * own + (1 - weight) * np.nan_to_num(peer, nan=own)
    return np.where(new, blended, own)


def _product_column(skus: np.ndarray, products, column: str) -> np.ndarray:
    if products is None or len(products) == 0 or column not in products:
        return np.full(len(skus), None, dtype=object)
    p = products.drop_duplicates("sku")
    values = pd.Series(p[column].astype("string").to_numpy(dtype=object), index=p["sku"].astype(str).to_numpy())
    return values.reindex(skus.astype(str)).to_numpy(dtype=object)


def _traffic_signal(skus: np.ndarray, traffic, as_of, window: int) -> np.ndarray:
    """Mean daily add-to-cart + favourites per SKU over the last ``window`` days (0 if none)."""
    if traffic is None or len(traffic) == 0:
        return np.zeros(len(skus))
    as_of = pd.Timestamp(as_of).normalize()
    t = traffic[(pd.to_datetime(traffic["date"], cache=False) > as_of - pd.Timedelta(days=window)).to_numpy(bool)]
    interest = sum(pd.to_numeric(t[c], errors="coerce").fillna(0).to_numpy(dtype=float) for c in ("add_to_cart", "favorites") if c in t)
    per_sku = pd.Series(interest, index=t["sku"].astype(str).to_numpy()).groupby(level=0).sum() / window
    return per_sku.reindex(skus.astype(str), fill_value=0.0).to_numpy(dtype=float)


# --------------------------------------------------------------------------- lead-time demand


def _lead_time_distribution(mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Gamma quantiles [sku, QUANTILES] with the given mean and std (0 where mean is 0)."""
    positive = mean > 0
    out = np.zeros((len(mean), len(QUANTILES)))
    if positive.any():
        m, s = mean[positive], std[positive]
        shape, scale = (m / s) ** 2, s**2 / m
        out[positive] = stats.gamma.ppf(np.asarray(QUANTILES)[None, :], a=shape[:, None], scale=scale[:, None])
    return np.maximum.accumulate(out, axis=1)  # guards monotonicity against float noise


# --------------------------------------------------------------------------- public API


def _prepare(daily, classes, products, params):
    """Panel, class per SKU, lead times, plan and the statsforecast input frames."""
    panel = _panel(daily, params)
    cls = classes.set_index(classes["sku"].astype(str))["demand_class"].reindex(panel.sku.astype(str))
    cls = cls.fillna("new").to_numpy(dtype=object)
    lead = _lead_times(panel.sku, products, params.default_lead_time_days)
    horizon = max(forecast_horizon(products, params), int(lead.max()) + params.review_days if len(lead) else 0)
    plan = _plan(panel, cls, lead, horizon, params)
    return panel, cls, lead, plan


def statsforecast_floor(
    daily: pd.DataFrame,
    params: ForecastParams | None = None,
    classes: pd.DataFrame | None = None,
    products: pd.DataFrame | None = None,
) -> float:
    """Seconds statsforecast alone takes for the calls :func:`run_forecast` makes.

    The same models on the same series: per group of classes, the rolling-origin
    cross-validation (same windows, step and horizon) and the final forecast, timed where
    :func:`run_forecast` times them; preparing their input and reading their output are not.
    The benchmark divides the forecasting stage's time by this.

    Args:
        daily: the daily demand table.
        params: forecast parameters, as given to :func:`run_forecast`.
        classes: the demand classes used; classified here (default parameters) when None.
        products: any table with ``sku`` and ``lead_time_days`` (products, or the
            lead_time_demand output), so the backtest horizon matches; defaults when None.
    """
    params = params or ForecastParams()
    if classes is None:
        from restock.demand import classify

        classes = classify(daily, daily["date"].max())
    panel, _, lead, plan = _prepare(daily, classes, products, params)
    return _run_library(panel, lead, plan, params)[1]


def _backtest(lead, plan, library_out, params):
    """Lead-time totals of every fitted model on the backtest windows.

    Returns (actual [series, window], fcst [series, window, model], cutoffs) over
    ``plan.backtested``, or None when nothing was backtested.
    """
    models = params.fitted_models
    n_bt, n_w = len(plan.backtested), params.backtest_windows
    if n_bt == 0:
        return None
    actual = np.full((n_bt, n_w), np.nan)
    fcst = np.full((n_bt, n_w, len(models)), np.nan)
    cutoffs, row = None, 0
    for group, (totals, _) in zip(plan.groups, library_out):
        n = len(group.backtested)
        if n:
            columns = [models.index(m) for m in group.models]
            actual[row : row + n], fcst[row : row + n][:, :, columns], cutoffs = totals
        row += n
    return actual, fcst, cutoffs


def _final_baseline(panel, plan, library_out, chosen, params) -> np.ndarray:
    """The chosen model's forecast [sku, day] for every fitted SKU (zeros elsewhere)."""
    models = params.fitted_models
    baseline = np.zeros((len(panel.sku), plan.horizon))
    for group, (_, values) in zip(plan.groups, library_out):
        to_local = np.full(len(models), -1)
        to_local[[models.index(m) for m in group.models]] = np.arange(len(group.models))
        local = to_local[chosen[group.modelled]]
        baseline[group.modelled] = np.take_along_axis(values, local[:, None, None], axis=2)[:, :, 0]
    return baseline


def run_forecast(
    daily: pd.DataFrame,
    classes: pd.DataFrame,
    products: pd.DataFrame | None,
    campaigns: pd.DataFrame | None,
    traffic: pd.DataFrame | None,
    as_of,
    params: ForecastParams | None = None,
) -> ForecastResult:
    """Forecast every SKU of ``daily`` over the horizon, with backtests and lead-time quantiles.

    Args:
        daily: :func:`restock.demand.build_daily_demand` output (sorted by sku, date).
        classes: :func:`restock.demand.classify` output.
        products: canonical products (lead times, SPU, category), or None.
        campaigns: canonical campaigns; past ones teach uplift, planned ones add to the
            forecast.
        traffic: canonical traffic (add-to-cart and favourites of new SKUs), or None.
        as_of: the run date; the forecast starts the day after.
        params: forecast parameters.

    Returns:
        A :class:`ForecastResult`.
    """
    params = params or ForecastParams()
    as_of = pd.Timestamp(as_of).normalize()
    panel, cls, lead, plan = _prepare(daily, classes, products, params)
    models = params.fitted_models
    library_out, library_seconds = _run_library(panel, lead, plan, params)

    allowed = np.array([[m in params.candidates[c] for m in models] for c in _MODELLED])
    chosen = np.full(len(panel.sku), -1)
    basis = np.where(cls == "inactive", "inactive", np.where(cls == "new", "peer", "class")).astype(object)
    rel_error: dict[str, float] = {}  # class -> RMSE of the chosen lead-time totals / mean actual
    sku_rmse = np.full(len(panel.sku), np.nan)
    class_winner = np.full(len(_MODELLED), -1)
    backtest = pd.DataFrame(columns=["sku", "demand_class", "cutoff", "model", "lead_time_days", "actual", "forecast", "scale"])
    accuracy = _accuracy_rows(np.zeros((0, 1)), np.zeros((0, 1, 0)), np.zeros((0, 1)), np.array([], dtype=object), ())

    bt = plan.backtested
    totals = _backtest(lead, plan, library_out, params)
    if totals is not None:
        actual, fcst, cutoffs = totals
        bt_cls = pd.Index(_MODELLED).get_indexer(cls[bt])
        full, loo, class_winner = _select(np.abs(fcst - actual[:, :, None]), actual, bt_cls, allowed, params.selection == "sku")
        chosen[bt] = full
        basis[bt] = np.where(full != class_winner[bt_cls], "sku", "class")
        scale = _mase_scale(panel, bt, cutoffs, lead[bt], params.season_length)
        chosen_fcst = np.take_along_axis(fcst, loo[:, :, None], axis=2)
        accuracy = _accuracy_rows(actual, np.concatenate([fcst, chosen_fcst], axis=2), scale, cls[bt], models + ("chosen",))
        own_err = np.take_along_axis(fcst, full[:, None, None], axis=2)[:, :, 0] - actual
        sku_rmse[bt] = np.sqrt((own_err**2).mean(axis=1))
        for name in [*set(cls[bt]), "all"]:
            m = np.ones(len(bt), bool) if name == "all" else cls[bt] == name
            mean_actual = actual[m].mean()
            rel_error[name] = float(np.sqrt((own_err[m] ** 2).mean()) / mean_actual) if mean_actual > 0 else 0.0
        n_w, n_m = params.backtest_windows, len(models)
        backtest = pd.DataFrame(
            {
                "sku": pd.array(np.repeat(panel.sku[bt], n_w * n_m), dtype="string"),
                "demand_class": pd.array(np.repeat(cls[bt], n_w * n_m), dtype="string"),
                "cutoff": np.tile(np.repeat(cutoffs.astype("datetime64[D]").astype("datetime64[ns]"), n_m), len(bt)),
                "model": pd.array(np.tile(np.array(models, dtype=object), len(bt) * n_w), dtype="string"),
                "lead_time_days": np.repeat(lead[bt], n_w * n_m),
                "actual": np.repeat(actual.ravel(), n_m),
                "forecast": fcst.ravel(),
                "scale": np.repeat(scale.ravel(), n_m),
            }
        )
        backtest = backtest[backtest["forecast"].notna().to_numpy()].reset_index(drop=True)
    # a class without backtested SKUs uses its first candidate
    for i, c in enumerate(_MODELLED):
        if class_winner[i] < 0:
            class_winner[i] = models.index(params.candidates[c][0])
    rest = np.setdiff1d(plan.modelled, bt)
    if len(rest):
        chosen[rest] = class_winner[pd.Index(_MODELLED).get_indexer(cls[rest])]

    horizon = plan.horizon
    baseline = _final_baseline(panel, plan, library_out, chosen, params)
    levels = _peer_levels(panel, cls, products, traffic, as_of, params)
    new = cls == "new"
    baseline[new] = levels[new][:, None]
    baseline = np.maximum(np.nan_to_num(baseline), 0.0)

    uplift = _learn_uplift(panel, campaigns, products, as_of, params)
    extra = _planned_campaign_units(campaigns, uplift, panel.sku, baseline, _categories(panel.sku, products), as_of, horizon)
    total = baseline + extra
    model_names = np.array(list(models) + ["peer_level", "inactive"], dtype=object)
    model_of = np.where(cls == "new", len(models), np.where(cls == "inactive", len(models) + 1, np.maximum(chosen, 0)))

    dates = pd.date_range(as_of + pd.Timedelta(days=1), periods=horizon, freq="D")
    forecast = pd.DataFrame(
        {
            "sku": pd.array(np.repeat(panel.sku, horizon), dtype="string"),
            "date": np.tile(dates.to_numpy(), len(panel.sku)),
            "forecast": total.ravel(),
            "baseline": baseline.ravel(),
            "campaign_units": extra.ravel(),
            "model": pd.array(np.repeat(model_names[model_of], horizon), dtype="string"),
        }
    )
    lead_time_demand = _lead_time_table(panel.sku, cls, lead, total, extra, sku_rmse, rel_error, params)
    chosen_table = pd.DataFrame(
        {
            "sku": pd.array(panel.sku, dtype="string"),
            "demand_class": pd.array(cls, dtype="string"),
            "model": pd.array(model_names[model_of], dtype="string"),
            "basis": pd.array(basis, dtype="string"),
        }
    )
    return ForecastResult(forecast, lead_time_demand, backtest, accuracy, uplift, chosen_table, horizon, library_seconds)


def _lead_time_table(skus, cls, lead, total, extra, sku_rmse, rel_error, params) -> pd.DataFrame:
    """Lead-time demand: mean = forecast total over the lead time; std from backtest errors.

    std² = (n·own² + k·(rel·μ_base)²) / (n + k): the SKU's own RMSE over its n backtest
    windows shrunk toward its class's relative RMSE (k = 4 windows of prior weight), at least
    the Poisson variance μ_base, plus (campaign_cv · campaign units)². Quantiles from a gamma
    with that mean and std.
    """
    lt_mean = _lead_time_totals(total[:, None, :], lead)[:, 0]
    lt_extra = _lead_time_totals(extra[:, None, :], lead)[:, 0]
    lt_base = lt_mean - lt_extra
    rel = pd.Series(cls).map(rel_error).fillna(rel_error.get("all", 0.5)).to_numpy(dtype=float)
    n_w = np.where(np.isnan(sku_rmse), 0.0, float(params.backtest_windows))
    own = np.nan_to_num(sku_rmse, nan=0.0)
    var = (n_w * own**2 + _ERROR_PRIOR_WINDOWS * (rel * lt_base) ** 2) / (n_w + _ERROR_PRIOR_WINDOWS)
    std = np.sqrt(np.maximum(var, lt_base) + (params.campaign_cv * lt_extra) ** 2)
    std = np.where(lt_mean > 0, np.maximum(std, 1e-9), 0.0)
    q = _lead_time_distribution(lt_mean, std)
    out = pd.DataFrame({"sku": pd.array(skus, dtype="string"), "lead_time_days": lead.astype(np.int64), "mean": lt_mean, "std": std})
    for j, col in enumerate(_QUANTILE_COLUMNS):
        out[col] = q[:, j]
    return out
