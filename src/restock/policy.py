"""Replenishment policy: ABC/XYZ, safety stock, reorder point, order quantity, alerts.

One call, :func:`compute_policy`, turns the canonical tables (cut at ``as_of`` by the
caller) and the forecasting step's tables into one row per SKU: its class, the safety
stock by each of five methods side by side, the inventory position, the reorder point
and order-up-to level, the quantity to order (rounded to case pack and MOQ), days of
cover, an alert level, the live-commerce expedite flag and the reason in words.

The rules, in the order they are applied:

* **ABC** (Pareto): SKUs ranked by a measure over the last ``history_days`` (revenue,
  units or gross margin from paid order lines); a SKU is A while the cumulative share
  *before* it is under ``abc_cutoffs[0]``, B under ``abc_cutoffs[1]``, else C.
* **XYZ**: coefficient of variation of weekly demand (weeks counted back from
  ``as_of``, each week's total = mean of its uncensored days × 7); X ≤ ``xyz_cutoffs[0]``
  < Y ≤ ``xyz_cutoffs[1]`` < Z. Fewer than two observed weeks or no demand → Z.
* **Safety stock** (all five computed, ``safety_stock_method`` picks one):
  ``max_minus_avg`` = (max daily − average daily) × L; ``days_cover`` = average daily ×
  N; ``max_lead_time`` = average daily × L_max + buffer; ``live_volatility`` = average
  daily × N + peak daily × ``live_days_n``; ``service_level`` = the class's quantile of
  lead-time demand minus its mean, widened for lead-time variability (σ² = L·σ_d² +
  d²·σ_L², σ_L = (L_max − L) / 2). Averages and peaks use uncensored days only.
* **Position** (pooled stock, 一盘货) = on hand + open POs + restockable returns due
  within the lead time − reserved − unshipped (paid, not shipped, pre-sale included).
* **Reorder point** = lead-time demand + review-period demand + safety stock;
  **order-up-to** = reorder point + ``cycle_days`` of demand. Below the reorder point
  the suggestion is order-up-to − position, rounded up to the case pack, at least MOQ.
* **Alerts**: ``urgent`` (days of cover < lead time), else ``order`` (below the reorder
  point, nothing on order), else ``watch`` (below the reorder point, something on order).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from statistics import NormalDist
from types import MappingProxyType

import numpy as np
import pandas as pd

from restock.bundles import bundle_components
from restock.schema import positions

__all__ = [
    "ABC_MEASURES",
    "ALERT_LEVELS",
    "INPUT_COLUMNS",
    "SAFETY_STOCK_METHODS",
    "PolicyParams",
    "PolicyResult",
    "compute_policy",
    "input_windows",
]

INPUT_COLUMNS = MappingProxyType({
    "products": None,  # all: the workbook shows more of the product than the policy reads
    "stock": ("as_of", "sku", "warehouse", "on_hand", "reserved"),
    "purchase_orders": ("sku", "supplier", "qty_ordered", "qty_received", "ordered_at", "eta", "received_at"),
    # order and line ids too: bundle lines are split into their components before the policy
    "order_lines": ("order_id", "line_id", "sku", "status", "created_at", "qty", "paid_amount", "unit_price"),
    "campaigns": ("campaign_id", "name", "kind", "start", "end", "sku", "expected_units"),
    "traffic": ("date", "sku", "views", "clicks", "orders"),
    "daily_demand": ("sku", "date", "units", "censored"),
    "forecast": ("sku", "date", "forecast"),
    "lead_time_demand": None,
    "expected_returns": ("sku", "date", "expected_units"),
})
"""The columns :func:`compute_policy` reads per input (None: all of them); :func:`input_windows`
gives the days. A notebook loads no more (a big shop's tables are gigabytes)."""

ABC_MEASURES = ("revenue", "units", "margin")
SAFETY_STOCK_METHODS = ("max_minus_avg", "days_cover", "max_lead_time", "live_volatility", "service_level")
ALERT_LEVELS = ("urgent", "order", "watch")
"""Most severe first."""

_QUANTILE_LEVELS = np.array([0.50, 0.80, 0.90, 0.95, 0.98, 0.99])
_QUANTILE_COLUMNS = ["q50", "q80", "q90", "q95", "q98", "q99"]
_PAID_STATUSES = ("to_ship", "shipped", "completed")
_NO_SUPPLIER = "(no supplier)"


@dataclass(frozen=True)
class PolicyParams:
    """Parameters of the replenishment policy.

    Attributes:
        abc_measure: ``revenue`` (paid amount), ``units`` or ``margin`` (revenue − units ×
            unit cost; unknown cost counts as no margin).
        abc_cutoffs: cumulative shares closing A and B, e.g. (0.70, 0.90) = A 70 %, B 20 %.
        xyz_cutoffs: weekly-demand CV limits of X and Y.
        history_days: days of history for ABC, XYZ, averages and the peak day.
        service_level_a: target cycle service level of class A (0.5–0.99, the
            quantiles the forecast step provides).
        service_level_b: same for class B.
        service_level_c: same for class C.
        safety_stock_method: one of :data:`SAFETY_STOCK_METHODS`.
        days_cover_n: N days of average demand (``days_cover``, base of ``live_volatility``).
        buffer: units added by ``max_lead_time``.
        live_days_n: days of peak demand held for the next live session (``live_volatility``).
        review_days: days between two plans (the review period).
        cycle_days: days of demand an order adds above the reorder point.
        horizon_days: days ahead checked for planned campaigns.
        default_lead_time_days: lead time when neither the product nor the forecast has one.
        default_express_lead_time_days: express lead time when the product has none.
        split_express: split each order into a main part and an express reserve.
        split_main_share: share of the order sent by the normal route when splitting.
        expedite_recent_days: days of the recent traffic window.
        expedite_baseline_days: days of the baseline window just before it.
        expedite_ratio: recent CTR or conversion above this multiple of the baseline fires.
        expedite_cover_days: ... when days of cover are under this.
        expedite_min_views: views needed in the recent window (small samples are noise).
    """

    abc_measure: str = "revenue"
    abc_cutoffs: tuple[float, float] = (0.70, 0.90)
    xyz_cutoffs: tuple[float, float] = (0.5, 1.0)
    history_days: int = 90
    service_level_a: float = 0.98
    service_level_b: float = 0.95
    service_level_c: float = 0.90
    safety_stock_method: str = "service_level"
    days_cover_n: float = 7.0
    buffer: float = 0.0
    live_days_n: float = 1.0
    review_days: int = 7
    cycle_days: int = 7
    horizon_days: int = 28
    default_lead_time_days: int = 14
    default_express_lead_time_days: int = 3
    split_express: bool = False
    split_main_share: float = 0.8
    expedite_recent_days: int = 3
    expedite_baseline_days: int = 28
    expedite_ratio: float = 1.5
    expedite_cover_days: float = 10.0
    expedite_min_views: int = 100

    def __post_init__(self) -> None:
        if self.abc_measure not in ABC_MEASURES:
            raise ValueError(f"abc_measure must be one of {ABC_MEASURES}; got {self.abc_measure!r}")
        if self.safety_stock_method not in SAFETY_STOCK_METHODS:
            raise ValueError(
                f"safety_stock_method must be one of {SAFETY_STOCK_METHODS}; got {self.safety_stock_method!r}"
            )
        for name in ("abc_cutoffs", "xyz_cutoffs"):
            value = getattr(self, name)
            if not isinstance(value, (tuple, list)) or len(value) != 2:
                raise ValueError(f"{name} must be two increasing numbers; got {value!r}")
            object.__setattr__(self, name, (float(value[0]), float(value[1])))
        a, b = self.abc_cutoffs
        if not 0 < a < b <= 1:
            raise ValueError(f"abc_cutoffs must satisfy 0 < A < B <= 1; got {self.abc_cutoffs}")
        x, y = self.xyz_cutoffs
        if not 0 < x < y:
            raise ValueError(f"xyz_cutoffs must satisfy 0 < X < Y; got {self.xyz_cutoffs}")
        for name in ("service_level_a", "service_level_b", "service_level_c"):
            value = getattr(self, name)
            if not 0.5 <= value <= 0.99:
                raise ValueError(f"{name} must be in [0.5, 0.99] (the forecast's quantiles); got {value}")
        if not 0 < self.split_main_share <= 1:
            raise ValueError(f"split_main_share must be in (0, 1]; got {self.split_main_share}")
        if self.expedite_ratio <= 0:
            raise ValueError(f"expedite_ratio must be > 0; got {self.expedite_ratio}")
        for name in ("days_cover_n", "buffer", "live_days_n", "review_days", "cycle_days",
                     "expedite_cover_days", "expedite_min_views"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0; got {getattr(self, name)}")
        for name in ("history_days", "horizon_days", "default_lead_time_days",
                     "default_express_lead_time_days", "expedite_recent_days", "expedite_baseline_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1; got {value!r}")
        if not isinstance(self.split_express, (bool, np.bool_)):
            raise ValueError(f"split_express must be true or false; got {self.split_express!r}")

    def service_levels(self) -> dict[str, float]:
        """Target service level per ABC class."""
        return {"A": self.service_level_a, "B": self.service_level_b, "C": self.service_level_c}

    def as_dict(self) -> dict[str, object]:
        """Field name -> value, in declaration order (for the Parameters sheet)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class PolicyResult:
    """What :func:`compute_policy` returns.

    Attributes:
        policy: one row per SKU (see :func:`compute_policy`).
        warehouse_split: sku × warehouse: count_date, on_hand, reserved (latest count).
        alerts: the policy rows with an alert or an expedite flag, most severe first.
        campaign_check: one row per planned campaign × SKU within the horizon.
        abc_xyz: SKU counts, ABC classes as rows and XYZ classes as columns.
    """

    policy: pd.DataFrame
    warehouse_split: pd.DataFrame
    alerts: pd.DataFrame
    campaign_check: pd.DataFrame
    abc_xyz: pd.DataFrame


def _num(values, fill: float = 0.0) -> np.ndarray:
    """A float array from a (nullable) Series, nulls replaced by ``fill``."""
    return pd.to_numeric(pd.Series(values), errors="coerce").astype("float64").fillna(fill).to_numpy()


def _rows(frame: pd.DataFrame, mask: pd.Series, columns: list[str]) -> pd.DataFrame:
    """The rows of ``frame`` where ``mask`` holds, only ``columns`` (one column at a time:
    long tables carry many columns a step does not need)."""
    keep = mask.to_numpy(dtype=bool)
    return pd.DataFrame({column: frame[column][keep] for column in columns})


def _latest_stock(stock: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The latest count per sku × warehouse on or before ``as_of``.

    A warehouse counted last week and not since still holds its last count: stock is
    pooled across warehouses (一盘货), so dropping it would understate the pool.
    """
    columns = ["as_of", "sku", "warehouse", "on_hand", "reserved"]
    counted = stock.loc[stock["as_of"] < as_of + pd.Timedelta(days=1), columns]
    latest = counted.sort_values("as_of").drop_duplicates(["sku", "warehouse"], keep="last")
    return pd.DataFrame({
        "sku": latest["sku"].astype("string"),
        "warehouse": latest["warehouse"].astype("string"),
        "count_date": latest["as_of"],
        "on_hand": _num(latest["on_hand"]),
        "reserved": _num(latest["reserved"]),
    }).sort_values(["sku", "warehouse"], ignore_index=True)


def _open_purchase_orders(purchase_orders: pd.DataFrame, lead_time: pd.Series,
                          as_of: pd.Timestamp) -> pd.DataFrame:
    """Open PO lines: sku, supplier, qty_open, eta.

    ``qty_open`` = ordered − received. A line with ``received_at`` but no
    ``qty_received`` counts as fully received; partial receipts stay open for the rest.
    A missing ``eta`` is ``ordered_at`` + the SKU's lead time.
    """
    po = purchase_orders.loc[purchase_orders["ordered_at"] < as_of + pd.Timedelta(days=1)]
    ordered = _num(po["qty_ordered"])
    received = pd.to_numeric(po["qty_received"], errors="coerce").astype("float64")
    received = received.fillna(pd.Series(np.where(po["received_at"].notna(), ordered, 0.0), index=po.index))
    days = po["sku"].map(lead_time).astype("float64").fillna(0).to_numpy()
    eta = po["eta"].fillna(po["ordered_at"] + pd.to_timedelta(days, unit="D"))
    out = pd.DataFrame({
        "sku": po["sku"].astype("string").to_numpy(),
        "supplier": po["supplier"].astype("string").to_numpy(),
        "qty_open": np.clip(ordered - received.to_numpy(), 0, None),
        "eta": eta.dt.normalize().to_numpy(),
    })
    return out.loc[out["qty_open"] > 0].reset_index(drop=True)


def _position(skus: pd.Index, warehouse_split: pd.DataFrame, open_po: pd.DataFrame,
              expected_returns: pd.DataFrame, order_lines: pd.DataFrame,
              lead_time: pd.Series, as_of: pd.Timestamp) -> pd.DataFrame:
    """Inventory position per SKU (pooled over warehouses and shops).

    position = on_hand + on_order + returns_due − reserved − unshipped, where
    ``returns_due`` are restockable returns expected within the SKU's lead time and
    ``unshipped`` the units of ``to_ship`` lines (paid, not shipped; pre-sale included).
    """
    pooled = warehouse_split.groupby("sku")[["on_hand", "reserved"]].sum()
    on_order = open_po.groupby("sku")["qty_open"].sum()
    returns = expected_returns.assign(lead=expected_returns["sku"].map(lead_time).astype("float64"))
    due = (returns["date"] > as_of) & (returns["date"] <= as_of + pd.to_timedelta(returns["lead"].fillna(0), unit="D"))
    returns_due = returns.loc[due].groupby("sku")["expected_units"].sum()
    paid_not_shipped = order_lines["status"] == "to_ship"
    to_ship = _rows(order_lines, paid_not_shipped & (order_lines["created_at"] < as_of + pd.Timedelta(days=1)),
                    ["sku", "qty"])
    unshipped = to_ship.groupby("sku")["qty"].sum()
    out = pd.DataFrame(index=skus)
    out["on_hand"] = _num(pooled["on_hand"].reindex(skus))
    out["reserved"] = _num(pooled["reserved"].reindex(skus))
    out["on_order"] = _num(on_order.reindex(skus))
    out["returns_due"] = _num(returns_due.reindex(skus))
    out["unshipped"] = _num(unshipped.reindex(skus))
    out["position"] = out["on_hand"] + out["on_order"] + out["returns_due"] - out["reserved"] - out["unshipped"]
    return out


def _demand_stats(daily_demand: pd.DataFrame, skus: pd.Index, as_of: pd.Timestamp,
                  params: PolicyParams) -> pd.DataFrame:
    """Average, maximum and weekly CV of observed daily demand over ``history_days``.

    Censored days (no stock, demand unknown) are left out of every figure. The weekly
    CV (sample std / mean of weekly totals) feeds XYZ.
    """
    start = as_of - pd.Timedelta(days=params.history_days - 1)
    date = daily_demand["date"]
    keep = ((date >= start) & (date <= as_of) & ~daily_demand["censored"].fillna(False).astype(bool)).to_numpy()
    row = positions(daily_demand["sku"][keep], skus)
    known = row >= 0
    row, units = row[known], _num(daily_demand["units"][keep])[known]
    week = ((as_of - date[keep]).dt.days.to_numpy() // 7)[known]
    n, n_weeks = len(skus), -(-params.history_days // 7)
    days = np.bincount(row, minlength=n)
    peak = np.full(n, np.nan)
    np.fmax.at(peak, row, units)
    cell = row * n_weeks + week  # sku × week, counted back from as_of
    week_days = np.bincount(cell, minlength=n * n_weeks).reshape(n, n_weeks)
    week_units = np.bincount(cell, weights=units, minlength=n * n_weeks).reshape(n, n_weeks)
    weeks = (week_days > 0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        weekly = np.where(week_days > 0, week_units / week_days * 7, np.nan)  # a week's mean day × 7
        weekly_mean = np.nansum(weekly, axis=1) / weeks
        weekly_std = np.sqrt(np.nansum((weekly - weekly_mean[:, None]) ** 2, axis=1) / (weeks - 1))
        cv = np.where(weeks >= 2, weekly_std / weekly_mean, np.nan)
        avg = np.bincount(row, weights=units, minlength=n) / days
    return pd.DataFrame({
        "avg_daily": np.nan_to_num(avg, nan=0.0),
        "max_daily": np.nan_to_num(peak, nan=0.0),
        "weekly_cv": np.where(np.isfinite(cv), cv, np.nan),
    }, index=skus)


def _abc(order_lines: pd.DataFrame, unit_cost: pd.Series, skus: pd.Index, as_of: pd.Timestamp,
         params: PolicyParams) -> pd.DataFrame:
    """ABC class by Pareto share of the measure over ``history_days`` of paid lines.

    The SKU that crosses a cut-off stays in the higher class, so the top SKU is always A.
    Negative margins count as zero.
    """
    start = as_of - pd.Timedelta(days=params.history_days - 1)
    created = order_lines["created_at"]
    paid = order_lines["status"].isin(_PAID_STATUSES) & (created >= start) & (created < as_of + pd.Timedelta(days=1))
    lines = _rows(order_lines, paid, ["sku", "qty", "paid_amount", "unit_price"])
    qty = _num(lines["qty"])
    revenue = pd.to_numeric(lines["paid_amount"], errors="coerce").astype("float64")
    revenue = revenue.fillna(pd.Series(qty * _num(lines["unit_price"]), index=lines.index)).to_numpy()
    if params.abc_measure == "revenue":
        measure = revenue
    elif params.abc_measure == "units":
        measure = qty
    else:
        cost = lines["sku"].map(unit_cost).astype("float64").to_numpy()
        measure = np.nan_to_num(revenue - qty * cost, nan=0.0)
    per_sku = pd.Series(measure, index=lines.index).groupby(lines["sku"]).sum()
    value = per_sku.reindex(skus).fillna(0).clip(lower=0).astype("float64")
    ranked = value.sort_values(ascending=False, kind="stable")
    total = ranked.sum()
    share_before = (ranked.cumsum() - ranked) / total if total > 0 else pd.Series(1.0, index=ranked.index)
    a_cut, b_cut = params.abc_cutoffs
    cls = np.where((share_before < a_cut) & (ranked > 0), "A",
                   np.where((share_before < b_cut) & (ranked > 0), "B", "C"))
    return pd.DataFrame({"abc_measure": value, "abc": pd.Series(cls, index=ranked.index).reindex(skus)})


def _xyz(weekly_cv: pd.Series, params: PolicyParams) -> np.ndarray:
    """X / Y / Z from the weekly-demand CV; unknown variability counts as Z."""
    x_cut, y_cut = params.xyz_cutoffs
    cv = weekly_cv.to_numpy(dtype="float64")
    return np.where(cv <= x_cut, "X", np.where(cv <= y_cut, "Y", "Z"))


def _service_level_quantile(quantiles: np.ndarray, service_level: np.ndarray) -> np.ndarray:
    """Linear interpolation between the forecast's q-columns at each row's service level."""
    idx = np.clip(np.searchsorted(_QUANTILE_LEVELS, service_level, side="right") - 1, 0, len(_QUANTILE_LEVELS) - 2)
    lo, hi = _QUANTILE_LEVELS[idx], _QUANTILE_LEVELS[idx + 1]
    rows = np.arange(len(service_level))
    q_lo, q_hi = quantiles[rows, idx], quantiles[rows, idx + 1]
    return q_lo + (service_level - lo) / (hi - lo) * (q_hi - q_lo)


def _safety_stocks(frame: pd.DataFrame, params: PolicyParams) -> pd.DataFrame:
    """The five safety stocks side by side (units, ≥ 0).

    ``frame`` needs: avg_daily, max_daily, lead_time_days, lead_time_max_days,
    service_level, ltd_mean, ltd_std and the q-columns of lead-time demand.

    * ``ss_max_minus_avg`` = (max daily − average daily) × L.
    * ``ss_days_cover`` = average daily × ``days_cover_n``.
    * ``ss_max_lead_time`` = average daily × L_max + ``buffer``.
    * ``ss_live_volatility`` = average daily × ``days_cover_n`` + peak daily ×
      ``live_days_n`` (peak = max uncensored day of the history window).
    * ``ss_service_level``: k = (q(SL) − mean) / σ from the lead-time demand quantiles
      (fixed lead time), then k × √(σ² + d²·σ_L²) — the classic lead-time-variability
      term (Silver, Pyke & Thomas, *Inventory and Production Management*, ch. 6) with
      σ² = L·σ_d² from the forecast, d = mean / L and σ_L = (L_max − L) / 2 (a range
      read as ±2σ). With σ = 0, k is the normal z of the service level.
    """
    avg, peak = frame["avg_daily"].to_numpy(), frame["max_daily"].to_numpy()
    lead, lead_max = frame["lead_time_days"].to_numpy(), frame["lead_time_max_days"].to_numpy()
    service_level = frame["service_level"].to_numpy(dtype="float64")
    mean, std = frame["ltd_mean"].to_numpy(), frame["ltd_std"].to_numpy()
    quantile = _service_level_quantile(frame[_QUANTILE_COLUMNS].to_numpy(dtype="float64"), service_level)
    levels, level_of_row = np.unique(service_level, return_inverse=True)  # one z per class, not per row
    z = np.array([NormalDist().inv_cdf(p) for p in levels], dtype="float64")[level_of_row]
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(std > 0, np.clip(quantile - mean, 0, None) / std, z)
        daily = np.where(lead > 0, mean / lead, 0.0)
    sigma_lead = np.clip(lead_max - lead, 0, None) / 2
    sigma = np.sqrt(std**2 + (daily * sigma_lead) ** 2)
    return pd.DataFrame({
        "ss_max_minus_avg": np.clip(peak - avg, 0, None) * lead,
        "ss_days_cover": avg * params.days_cover_n,
        "ss_max_lead_time": avg * lead_max + params.buffer,
        "ss_live_volatility": avg * params.days_cover_n + peak * params.live_days_n,
        "ss_service_level": k * sigma,
    }, index=frame.index)


def _round_order_qty(need: np.ndarray, moq: np.ndarray, case_pack: np.ndarray) -> np.ndarray:
    """Units to order: zero when ``need`` ≤ 0, else max(need, MOQ) rounded up to the case pack.

    A missing or zero case pack counts as 1, a missing MOQ as 0.
    """
    pack = np.where(case_pack >= 1, case_pack, 1.0)
    units = np.ceil(np.maximum(need, moq) / pack - 1e-9) * pack
    return np.where(need > 0, units, 0.0).astype("int64")


def _split(qty: np.ndarray, case_pack: np.ndarray, main_share: float) -> tuple[np.ndarray, np.ndarray]:
    """Main part (normal route): ``main_share`` of the order in whole case packs (nearest);
    the rest is the reserve kept for an express top-up."""
    pack = np.where(case_pack >= 1, case_pack, 1.0)
    main = np.minimum(np.floor(qty * main_share / pack + 0.5) * pack, qty).astype("int64")
    return main, qty - main


def _alerts(position: np.ndarray, reorder_point: np.ndarray, on_order: np.ndarray,
            days_of_cover: np.ndarray, lead_time: np.ndarray) -> np.ndarray:
    """Alert level per SKU, most severe first; None when nothing fires.

    ``urgent``: days of cover under the lead time — an order placed today arrives after
    the stock-out, so it needs the express route. ``order``: below the reorder point
    with nothing on order. ``watch``: below the reorder point with an order on the way.
    """
    below = position < reorder_point
    urgent = np.nan_to_num(days_of_cover, nan=np.inf) < lead_time
    return np.select([urgent, below & (on_order <= 0), below], ["urgent", "order", "watch"], default=None)


def _expedite(traffic: pd.DataFrame, skus: pd.Index, days_of_cover: pd.Series,
              as_of: pd.Timestamp, params: PolicyParams) -> pd.DataFrame:
    """Live-commerce expedite trigger from traffic.

    CTR = clicks / views and conversion = orders / clicks, each as a ratio of sums over
    the last ``expedite_recent_days`` and over the ``expedite_baseline_days`` just before
    them (so a spike does not lift its own baseline). Fires when either ratio is above
    ``expedite_ratio`` × baseline, the recent window has ``expedite_min_views`` views and
    days of cover are under ``expedite_cover_days``.
    """
    recent_start = as_of - pd.Timedelta(days=params.expedite_recent_days - 1)
    base_start = recent_start - pd.Timedelta(days=params.expedite_baseline_days)
    t = _rows(traffic, (traffic["date"] >= base_start) & (traffic["date"] <= as_of),
              ["sku", "date", "views", "clicks", "orders"])
    counts = pd.DataFrame({c: _num(t[c]) for c in ("views", "clicks", "orders")}, index=t.index)
    counts["recent"] = (t["date"] >= recent_start).to_numpy()
    sums = counts.groupby([t["sku"], "recent"]).sum().unstack("recent", fill_value=0.0)

    def window(column: str, recent: bool) -> np.ndarray:
        key = (column, recent)
        return _num(sums[key].reindex(skus)) if key in sums.columns else np.zeros(len(skus))

    with np.errstate(divide="ignore", invalid="ignore"):
        ctr_recent = window("clicks", True) / window("views", True)
        ctr_base = window("clicks", False) / window("views", False)
        conv_recent = window("orders", True) / window("clicks", True)
        conv_base = window("orders", False) / window("clicks", False)
        ctr_ratio = np.where(ctr_base > 0, ctr_recent / ctr_base, np.nan)
        conv_ratio = np.where(conv_base > 0, conv_recent / conv_base, np.nan)
    hot_ctr = np.nan_to_num(ctr_ratio) > params.expedite_ratio
    hot_conv = np.nan_to_num(conv_ratio) > params.expedite_ratio
    cover = days_of_cover.to_numpy(dtype="float64")
    short = np.nan_to_num(cover, nan=np.inf) < params.expedite_cover_days
    enough = window("views", True) >= params.expedite_min_views
    flag = (hot_ctr | hot_conv) & short & enough
    n_recent, n_base = params.expedite_recent_days, params.expedite_baseline_days
    ctr_text = ("CTR " + _fmt(ctr_recent * 100, 1) + "% over " + str(n_recent) + " d = " + _fmt(ctr_ratio * 100, 0)
                + f"% of {n_base}-d average " + _fmt(ctr_base * 100, 1) + "%")
    conv_text = ("conversion " + _fmt(conv_recent * 100, 1) + "% over " + str(n_recent) + " d = "
                 + _fmt(conv_ratio * 100, 0) + f"% of {n_base}-d average " + _fmt(conv_base * 100, 1) + "%")
    trigger = np.where(hot_ctr & hot_conv, ctr_text + " and " + conv_text, np.where(hot_ctr, ctr_text, conv_text))
    reason = ("expedite: " + trigger + "; " + _fmt(cover, 1) + " days of cover < "
              + f"{params.expedite_cover_days:g}")
    return pd.DataFrame({
        "ctr_ratio": ctr_ratio,
        "conversion_ratio": conv_ratio,
        "expedite": flag,
        "expedite_reason": np.where(flag, reason, None),
    }, index=skus)


def _fmt(values, decimals: int) -> np.ndarray:
    """Numbers as text with ``decimals`` places, vectorised (NaN prints as ``n/a``)."""
    arr = np.asarray(values, dtype="float64")
    text = np.char.mod(f"%.{decimals}f", np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0)).astype(object)
    return np.where(np.isfinite(arr), text, "n/a").astype(object)


def _reasons(frame: pd.DataFrame, params: PolicyParams) -> np.ndarray:
    """The rule that fired and its numbers, in words, per SKU."""
    method = params.safety_stock_method
    pack = frame["case_pack"].to_numpy()
    moq = frame["moq"].to_numpy()
    need = frame["need"].to_numpy()
    qty = frame["suggested_qty"].to_numpy()
    basis = ("position " + _fmt(frame["position"], 0) + " < reorder point " + _fmt(frame["reorder_point"], 0)
             + " (lead-time demand " + _fmt(frame["lead_time_demand"], 0) + " over " + _fmt(frame["lead_time_days"], 0)
             + f" d + review {params.review_days} d " + _fmt(frame["review_demand"], 0)
             + " + safety stock " + _fmt(frame["safety_stock"], 0) + f" [{method}], service level "
             + _fmt(frame["service_level"] * 100, 0) + "%, class " + frame["abc"].astype(str).to_numpy() + ")")
    sizing = ("; order-up-to " + _fmt(frame["order_up_to"], 0) + " − " + _fmt(frame["position"], 0)
              + " = " + _fmt(np.ceil(need - 1e-9), 0))
    moq_text = np.where(moq > np.ceil(need - 1e-9), ", raised to MOQ " + _fmt(moq, 0), "")
    pack_text = np.where(pack > 1, ", rounded to case pack " + _fmt(pack, 0), "")
    rounding = np.where(qty != np.ceil(need - 1e-9), moq_text + pack_text + " → " + _fmt(qty, 0), "")
    ordered = "order " + _fmt(qty, 0) + ": " + basis + sizing + rounding
    on_order = frame["on_order"].to_numpy()
    ordered = np.where(on_order > 0, ordered + "; " + _fmt(on_order, 0) + " already on order", ordered)
    no_order = ("no order: position " + _fmt(frame["position"], 0) + " ≥ reorder point "
                + _fmt(frame["reorder_point"], 0))
    text = np.where(qty > 0, ordered, no_order)
    urgent = ("URGENT: " + _fmt(frame["days_of_cover"], 1) + " days of cover < lead time "
              + _fmt(frame["lead_time_days"], 0) + " d, top up by the express route ("
              + _fmt(frame["express_lead_time_days"], 0) + " d); ")
    return np.where(frame["alert"].to_numpy() == "urgent", urgent + text, text).astype(object)


def _daily_matrix(frame: pd.DataFrame, value: str, date: str, skus: pd.Index, as_of: pd.Timestamp,
                  horizon: int, overdue_to_today: bool) -> np.ndarray:
    """Units per SKU per day offset 0..horizon from ``as_of`` (rows follow ``skus``).

    Offset 0 holds what is due on or before ``as_of`` when ``overdue_to_today``
    (late POs count as arriving now); later dates beyond the horizon are dropped.
    """
    matrix = np.zeros((len(skus), horizon + 1))
    if frame.empty:
        return matrix
    offset = (frame[date].dt.normalize() - as_of).dt.days.to_numpy()
    if overdue_to_today:
        offset = np.maximum(offset, 0)
    row = skus.get_indexer(frame["sku"])
    keep = (row >= 0) & (offset >= 0) & (offset <= horizon)
    np.add.at(matrix, (row[keep], offset[keep]), _num(frame[value])[keep])
    return matrix


def _campaign_check(campaigns: pd.DataFrame, policy: pd.DataFrame, forecast: pd.DataFrame,
                    open_po: pd.DataFrame, expected_returns: pd.DataFrame, as_of: pd.Timestamp,
                    params: PolicyParams) -> pd.DataFrame:
    """Stock at the start of each planned campaign against what it needs.

    For every campaign starting within ``horizon_days`` (a campaign without a SKU applies
    to every SKU): stock at start = on hand − reserved − unshipped + PO arrivals (eta
    before the start; late POs count as arriving now) + restockable returns before the
    start − forecast demand before the start, floored at zero (demand lost in a stock-out
    is not made up). It must cover the safety stock plus the
    campaign's units: the campaign's ``expected_units`` when it names the SKU, else the
    forecast over its days (which includes the planned uplift). A shortfall is rounded
    up to the case pack as the quantity to expedite, due the day before the start; it
    is feasible when today + express lead time ≤ that day. ``scope`` says whether the
    campaign names the SKU (``sku``) or applies to the whole shop (``shop``).
    """
    columns = ["campaign_id", "name", "kind", "scope", "start", "end", "sku", "stock_at_start", "safety_stock",
               "campaign_units", "required", "shortfall", "expedite_qty", "arrive_by", "express_in_time", "status"]
    horizon = params.horizon_days
    last_day = as_of + pd.Timedelta(days=horizon)
    start_day = campaigns["start"].dt.normalize()
    planned = campaigns.loc[(start_day > as_of) & (start_day <= last_day)]
    if planned.empty or policy.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    skus = pd.Index(policy["sku"])
    named = planned.loc[planned["sku"].notna() & planned["sku"].isin(skus)].assign(scope="sku")
    everyone = (planned.loc[planned["sku"].isna()].drop(columns="sku")
                .merge(pd.DataFrame({"sku": skus}), how="cross").assign(scope="shop"))
    everyone["expected_units"] = np.nan  # a shop-wide figure says nothing about one SKU
    rows = pd.concat([named, everyone], ignore_index=True)
    row = skus.get_indexer(rows["sku"])
    start_off = (rows["start"].dt.normalize() - as_of).dt.days.to_numpy()
    end = rows["end"].fillna(rows["start"]).dt.normalize()
    end_off = np.clip((end - as_of).dt.days.to_numpy(), start_off, horizon)

    demand = np.cumsum(_daily_matrix(forecast, "forecast", "date", skus, as_of, horizon, False), axis=1)
    po_arrivals = _daily_matrix(open_po, "qty_open", "eta", skus, as_of, horizon, True)
    returns = _daily_matrix(expected_returns, "expected_units", "date", skus, as_of, horizon, False)
    arrivals = np.cumsum(po_arrivals + returns, axis=1)
    available = (policy["on_hand"] - policy["reserved"] - policy["unshipped"]).to_numpy()
    before = start_off - 1
    # stock cannot go below zero: demand lost before the start is not made up
    stock_at_start = np.clip(available[row] + arrivals[row, before] - demand[row, before], 0, None)
    forecast_units = demand[row, end_off] - demand[row, before]
    campaign_units = np.where(rows["expected_units"].notna(), _num(rows["expected_units"]), forecast_units)
    safety = policy["safety_stock"].to_numpy()[row]
    required = safety + campaign_units
    shortfall = np.clip(required - stock_at_start, 0, None)
    pack = policy["case_pack"].to_numpy()[row]
    pack = np.where(pack >= 1, pack, 1.0)
    expedite_qty = (np.ceil(shortfall / pack - 1e-9) * pack).astype("int64")
    arrive_by = rows["start"].dt.normalize() - pd.Timedelta(days=1)
    express = policy["express_lead_time_days"].to_numpy()[row]
    in_time = (as_of + pd.to_timedelta(express, unit="D")) <= arrive_by
    out = pd.DataFrame({
        "campaign_id": rows["campaign_id"].astype("string"),
        "name": rows["name"].astype("string"),
        "kind": rows["kind"].astype("string"),
        "scope": rows["scope"],
        "start": rows["start"],
        "end": rows["end"],
        "sku": rows["sku"].astype("string"),
        "stock_at_start": stock_at_start,
        "safety_stock": safety,
        "campaign_units": campaign_units,
        "required": required,
        "shortfall": shortfall,
        "expedite_qty": expedite_qty,
        "arrive_by": arrive_by,
        "express_in_time": np.where(shortfall > 0, np.asarray(in_time), True),
        "status": np.where(shortfall > 0, "short", "ok"),
    })
    return out.sort_values(["start", "campaign_id", "shortfall", "sku"], ascending=[True, True, False, True],
                           ignore_index=True)


def input_windows(params: PolicyParams) -> dict[str, dict]:
    """The rows :func:`compute_policy` reads of each dated input, as keyword arguments of
    :meth:`restock.notebook.RunContext.load` (``read`` for daily_demand); the others it reads whole.

    Paid lines of the last ``history_days`` (ABC) and ``to_ship`` lines of any age
    (unshipped units); the traffic of both expedite windows; ``history_days`` of demand.
    """
    return {
        "order_lines": {"days": params.history_days, "older_if": {"status": ["to_ship"]}},
        "traffic": {"days": params.expedite_recent_days + params.expedite_baseline_days},
        "daily_demand": {"days": params.history_days},
    }


def compute_policy(products: pd.DataFrame, stock: pd.DataFrame, purchase_orders: pd.DataFrame,
                   order_lines: pd.DataFrame, campaigns: pd.DataFrame, traffic: pd.DataFrame,
                   daily_demand: pd.DataFrame, forecast: pd.DataFrame, lead_time_demand: pd.DataFrame,
                   expected_returns: pd.DataFrame, as_of, params: PolicyParams | None = None) -> PolicyResult:
    """Compute the replenishment plan for every SKU.

    Args:
        products, stock, purchase_orders, order_lines, campaigns, traffic: canonical
            tables (``restock.schema``), cut at ``as_of`` by the caller (campaigns are not:
            planned ones matter).
        daily_demand, forecast, lead_time_demand, expected_returns: the forecasting
            step's tables (sku, date, units, censored … see the notebook 02 contract).
        as_of: the plan date; demand after it is forecast.
        params: :class:`PolicyParams`; defaults when None.

    Returns:
        :class:`PolicyResult`. ``policy`` has one row per SKU known to the products,
        the stock counts or the forecast, with: sku, name, variant, supplier, abc, xyz,
        abc_measure, service_level, avg_daily, max_daily, daily_forecast, lead_time_days,
        lead_time_max_days, express_lead_time_days, lead_time_demand, review_demand, the
        five ``ss_*`` columns, safety_stock (the chosen method), reorder_point,
        order_up_to, on_hand, reserved, on_order, returns_due, unshipped, position,
        need, moq, case_pack, suggested_qty, main_qty, reserve_qty, unit_cost,
        order_value, days_of_cover, alert, ctr_ratio, conversion_ratio, expedite,
        expedite_reason, reason (plus the inputs ltd_mean, ltd_std and q50…q99).

    Lead time: the forecast step's (its lead-time demand is over that lead time), else
    the product's, else ``default_lead_time_days``. Days of cover = max(position, 0) /
    mean daily forecast over the horizon (NaN when no demand is forecast). Review-period
    demand = mean daily forecast × review_days; the safety stock covers the lead time,
    whose demand distribution the forecast step gives.

    What is read (a caller may load only this; ``H`` = ``history_days``, ``D`` =
    ``horizon_days``):

    * products: sku, name, variant, supplier, unit_cost, lead_time_days,
      lead_time_max_days, express_lead_time_days, moq, case_pack, bundle_components.
    * stock: as_of, sku, warehouse, on_hand, reserved — only the latest count per
      sku × warehouse on or before ``as_of`` matters.
    * purchase_orders: sku, supplier, qty_ordered, qty_received, ordered_at, eta,
      received_at — only lines still open matter, whatever their age.
    * order_lines: sku, status, created_at, qty, paid_amount, unit_price — paid lines of
      the last ``H`` days (ABC) plus ``to_ship`` lines of any date (unshipped units).
    * campaigns: campaign_id, name, kind, start, end, sku, expected_units — campaigns
      starting after ``as_of`` within ``D`` days.
    * traffic: date, sku, views, clicks, orders — the last ``expedite_recent_days`` +
      ``expedite_baseline_days`` days.
    * daily_demand: sku, date, units, censored — **only the last H days**.
    * forecast: sku, date, forecast — dates after ``as_of`` within ``D`` days.
    * lead_time_demand: sku, lead_time_days, mean, std, q50…q99.
    * expected_returns: sku, date, expected_units — dates after ``as_of`` within the
      longest of ``D`` and the lead times.
    """
    params = params or PolicyParams()
    as_of = pd.Timestamp(as_of).normalize()
    # the forecast step's tables come from parquet; an empty one may lack its dtypes
    daily_demand, forecast, expected_returns = (
        frame if pd.api.types.is_datetime64_dtype(frame["date"]) else frame.assign(date=pd.to_datetime(frame["date"]))
        for frame in (daily_demand, forecast, expected_returns)
    )
    horizon_end = as_of + pd.Timedelta(days=params.horizon_days)

    products = products.drop_duplicates("sku", keep="last").set_index("sku")
    warehouse_split = _latest_stock(stock, as_of)
    ltd = lead_time_demand.drop_duplicates("sku", keep="last").set_index("sku")
    bundles = set(bundle_components(products.reset_index())["bundle"])
    skus = pd.Index(  # a bundle holds no stock: its components are planned instead
        sorted((set(products.index.dropna()) | set(warehouse_split["sku"]) | set(ltd.index.dropna())) - bundles),
        name="sku", dtype="string",
    )

    frame = pd.DataFrame(index=skus)
    for column in ("name", "variant", "supplier"):
        frame[column] = products[column].reindex(skus).astype("string")
    frame["supplier"] = frame["supplier"].fillna(_NO_SUPPLIER)
    lead = pd.to_numeric(ltd["lead_time_days"], errors="coerce").reindex(skus).astype("float64")
    lead = lead.fillna(pd.to_numeric(products["lead_time_days"], errors="coerce").reindex(skus).astype("float64"))
    frame["lead_time_days"] = lead.fillna(params.default_lead_time_days)
    # a missing (or inconsistent) maximum lead time is the lead time itself
    frame["lead_time_max_days"] = np.fmax(_num(products["lead_time_max_days"].reindex(skus), np.nan),
                                          frame["lead_time_days"].to_numpy())
    frame["express_lead_time_days"] = _num(products["express_lead_time_days"].reindex(skus),
                                           params.default_express_lead_time_days)
    frame["moq"] = _num(products["moq"].reindex(skus))
    frame["case_pack"] = _num(products["case_pack"].reindex(skus), 1.0)
    frame["unit_cost"] = _num(products["unit_cost"].reindex(skus), np.nan)

    frame = frame.join(_abc(order_lines, products["unit_cost"], skus, as_of, params))
    stats = _demand_stats(daily_demand, skus, as_of, params)
    frame = frame.join(stats[["avg_daily", "max_daily"]])
    frame["xyz"] = _xyz(stats["weekly_cv"], params)
    frame["service_level"] = frame["abc"].map(params.service_levels()).astype("float64")

    upcoming = forecast.loc[(forecast["date"] > as_of) & (forecast["date"] <= horizon_end)]
    frame["daily_forecast"] = _num(pd.Series(_num(upcoming["forecast"]), index=upcoming.index)
                                   .groupby(upcoming["sku"]).mean().reindex(skus))
    frame["ltd_mean"] = _num(ltd["mean"].reindex(skus))
    frame["ltd_std"] = _num(ltd["std"].reindex(skus))
    for column in _QUANTILE_COLUMNS:
        frame[column] = _num(ltd[column].reindex(skus))
    frame = frame.join(_safety_stocks(frame, params))
    frame["safety_stock"] = frame[f"ss_{params.safety_stock_method}"]
    frame["lead_time_demand"] = frame["ltd_mean"]
    frame["review_demand"] = frame["daily_forecast"] * params.review_days
    frame["reorder_point"] = frame["lead_time_demand"] + frame["review_demand"] + frame["safety_stock"]
    frame["order_up_to"] = frame["reorder_point"] + frame["daily_forecast"] * params.cycle_days

    open_po = _open_purchase_orders(purchase_orders, frame["lead_time_days"], as_of)
    frame = frame.join(_position(skus, warehouse_split, open_po, expected_returns, order_lines,
                                 frame["lead_time_days"], as_of))
    below = frame["position"] < frame["reorder_point"]
    frame["need"] = np.where(below, frame["order_up_to"] - frame["position"], 0.0)
    frame["suggested_qty"] = _round_order_qty(frame["need"].to_numpy(), frame["moq"].to_numpy(),
                                              frame["case_pack"].to_numpy())
    if params.split_express:
        main, reserve = _split(frame["suggested_qty"].to_numpy(), frame["case_pack"].to_numpy(),
                               params.split_main_share)
    else:
        main, reserve = frame["suggested_qty"].to_numpy(), np.zeros(len(frame), dtype="int64")
    frame["main_qty"], frame["reserve_qty"] = main, reserve
    frame["order_value"] = frame["suggested_qty"] * frame["unit_cost"]
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["days_of_cover"] = np.where(frame["daily_forecast"] > 0,
                                          frame["position"].clip(lower=0) / frame["daily_forecast"], np.nan)
    frame["alert"] = _alerts(frame["position"].to_numpy(), frame["reorder_point"].to_numpy(),
                             frame["on_order"].to_numpy(), frame["days_of_cover"].to_numpy(),
                             frame["lead_time_days"].to_numpy())
    frame = frame.join(_expedite(traffic, skus, frame["days_of_cover"], as_of, params))
    frame["reason"] = _reasons(frame, params)
    policy = frame.reset_index()
    for column in ("abc", "xyz", "alert"):
        policy[column] = policy[column].astype("string")
    policy["reason"] = policy["reason"].astype("string")
    policy["expedite_reason"] = policy["expedite_reason"].astype("string")

    severity = policy["alert"].map({level: i for i, level in enumerate(ALERT_LEVELS)}).fillna(len(ALERT_LEVELS))
    flagged = policy.loc[policy["alert"].notna() | policy["expedite"]].assign(_severity=severity)
    alerts = flagged.sort_values(["_severity", "days_of_cover", "sku"], na_position="last")[
        ["sku", "name", "supplier", "alert", "expedite", "days_of_cover", "lead_time_days", "position",
         "reorder_point", "on_order", "suggested_qty", "reason", "expedite_reason"]
    ].reset_index(drop=True)
    campaign_check = _campaign_check(campaigns, policy, forecast, open_po, expected_returns, as_of, params)
    abc_xyz = (pd.crosstab(policy["abc"], policy["xyz"])
               .reindex(index=["A", "B", "C"], columns=["X", "Y", "Z"], fill_value=0))
    return PolicyResult(policy=policy, warehouse_split=warehouse_split, alerts=alerts,
                        campaign_check=campaign_check, abc_xyz=abc_xyz)
