"""Daily demand per SKU: gross demand, stock-out censoring, campaign days, returns, classes.

Everything here is a pure function of canonical tables (see :mod:`restock.schema`), already
cut at the run date by the caller. The daily table is dense: one row per SKU per day from
the SKU's first sale (or launch) to ``as_of``, sorted by ``sku`` then ``date``, and the
heavy work runs on flat numpy arrays over that layout (no loop per SKU or per row).

Rules, in one place:

* Gross demand is units on paid order lines (status ``to_ship``, ``shipped`` or
  ``completed``) on the day the order was created. Unpaid and cancelled lines (cancelled
  before shipping, closed, timed out) are not demand. Returns are NOT subtracted: they come
  back later as expected receipts (:func:`expected_returns`), never as negative demand.
* A day is censored (demand unknown, not zero) when the SKU sold nothing and had no stock:
  a stock count of 0 marks the days from the count until the next positive count or sale
  (counts may be weekly), and after a positive count the run of zero-sale days right after
  cumulative sales used up that count is censored too.
* A campaign day carries the kind of the campaign that ran (``live`` before ``promotion``
  before ``creator`` before ``ads`` when several overlap), so forecasting can keep those
  days out of the everyday baseline.
* Demand classes follow Syntetos, Boylan & Croston (2005): ADI 1.32 and CV² 0.49, on the
  SKU's clean days (not censored, no campaign), plus ``new`` and ``inactive``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from restock.schema import CAMPAIGN_KINDS

__all__ = [
    "DemandParams",
    "DEMAND_CLASSES",
    "PAID_STATUSES",
    "build_daily_demand",
    "campaign_days",
    "panel_bounds",
    "classify",
    "return_profile",
    "expected_returns",
]

PAID_STATUSES = ("to_ship", "shipped", "completed")
"""Order statuses that count as demand: paid and not cancelled."""

DEMAND_CLASSES = ("smooth", "erratic", "intermittent", "lumpy", "new", "inactive")

_SHIPPED_STATUSES = ("shipped", "completed")
_DAY = np.timedelta64(1, "D")


@dataclass(frozen=True)
class DemandParams:
    """Parameters of demand building, returns and classification.

    Attributes:
        adi_cutoff: average inter-demand interval above which demand is intermittent
            (Syntetos–Boylan 1.32).
        cv2_cutoff: squared coefficient of variation of non-zero demand sizes above which
            demand is erratic (Syntetos–Boylan 0.49).
        min_history_days: a SKU with fewer days since its first sale or launch is ``new``.
        inactive_days: a SKU with no sale in this many recent days (most of them in stock)
            is ``inactive``.
        class_window_days: classify on the most recent days only, so old behaviour fades.
        return_min_units: units sold (on matured orders) a SKU needs before its own return
            rate is used; below it the SPU's, then the category's, then the shop's is used.
        return_maturity_days: orders younger than this are left out of return rates, as
            most of their returns have not arrived yet.
        default_return_lag_days: order-to-return lag when no return has been seen.
        default_restock_share: share of returned units back in sellable stock when no
            return says whether it was restockable.
    """

    adi_cutoff: float = 1.32
    cv2_cutoff: float = 0.49
    min_history_days: int = 56
    inactive_days: int = 56
    class_window_days: int = 365
    return_min_units: int = 30
    return_maturity_days: int = 30
    default_return_lag_days: int = 10
    default_restock_share: float = 0.8

    def __post_init__(self) -> None:
        for name in ("adi_cutoff", "cv2_cutoff"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"{name} must be a number > 0; got {value!r}")
        for name in (
            "min_history_days",
            "inactive_days",
            "class_window_days",
            "return_maturity_days",
            "default_return_lag_days",
        ):
            value = getattr(self, name)
            if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
                raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
        if not (isinstance(self.return_min_units, int) and self.return_min_units >= 0):
            raise ValueError(f"return_min_units must be an integer >= 0; got {self.return_min_units!r}")
        if not (isinstance(self.default_restock_share, (int, float)) and 0 <= self.default_restock_share <= 1):
            raise ValueError(f"default_restock_share must be in [0, 1]; got {self.default_restock_share!r}")
        if self.class_window_days < self.inactive_days:
            raise ValueError(
                f"class_window_days must be >= inactive_days ({self.inactive_days}); got {self.class_window_days}"
            )


# --------------------------------------------------------------------------- panel layout


def _day_number(values) -> np.ndarray:
    """Days since the epoch (int64) of datetime-like values, truncated to the day."""
    return pd.to_datetime(values).to_numpy(dtype="datetime64[D]").astype(np.int64)


def panel_bounds(daily: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Start row and length of each SKU's block in a daily table sorted by sku, date.

    Raises:
        ValueError: the rows of one SKU are not contiguous.
    """
    sku = daily["sku"].to_numpy(dtype=object)
    if len(sku) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, sku[1:] != sku[:-1]])
    if len(starts) != len(pd.unique(sku[starts])):
        raise ValueError("daily: rows must be sorted by sku, date (one contiguous block per sku)")
    lengths = np.diff(np.r_[starts, len(sku)])
    return starts, lengths


def _ffill_index(mask: np.ndarray, row_group_start: np.ndarray) -> np.ndarray:
    """Index of the latest row at or before each row where ``mask`` holds, within the SKU; -1 if none."""
    idx = np.where(mask, np.arange(len(mask)), -1)
    idx = np.maximum.accumulate(idx) if len(idx) else idx
    return np.where(idx >= row_group_start, idx, -1)


# --------------------------------------------------------------------------- daily demand


def _paid_lines(order_lines: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Paid, not cancelled order lines created up to the end of ``as_of``: sku, day, qty."""
    created = pd.to_datetime(order_lines["created_at"])
    keep = order_lines["status"].isin(PAID_STATUSES).to_numpy(bool) & (created < as_of + pd.Timedelta(days=1)).to_numpy(bool)
    qty = pd.to_numeric(order_lines["qty"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    keep &= np.isfinite(qty) & (qty > 0) & order_lines["sku"].notna().to_numpy(bool)
    return pd.DataFrame(
        {
            "sku": order_lines["sku"].to_numpy(dtype=object)[keep],
            "day": _day_number(created[keep]),
            "qty": qty[keep],
        }
    )


def _sku_starts(sales: pd.DataFrame, products: pd.DataFrame, as_of_day: int) -> pd.Series:
    """First day (day number) of each SKU: its first sale or its launch, whichever is earlier."""
    first_sale = sales.groupby("sku", sort=False)["day"].min()
    launch = pd.Series(dtype="int64")
    if products is not None and len(products) and "launch_date" in products:
        launched = products[products["launch_date"].notna() & products["sku"].notna()]
        launch = pd.Series(_day_number(launched["launch_date"]), index=launched["sku"].to_numpy(dtype=object))
        launch = launch[launch <= as_of_day].groupby(level=0).min()
    starts = pd.concat([first_sale, launch]).groupby(level=0).min()
    return starts.sort_index()


def _censored(units: np.ndarray, count_on_hand: np.ndarray, row_group_start: np.ndarray) -> np.ndarray:
    """Censored days from stock counts (NaN where no count that day); see the module docstring.

    After a count of ``S`` units, let ``A`` be units sold after the count day up to today.
    A zero-sale day is censored when ``S == 0`` and nothing sold since the count, or when
    ``S > 0`` and the latest sale is the one that took ``A`` to ``S`` or beyond (sold out,
    no sale since).
    """
    has_count = ~np.isnan(count_on_hand)
    count_idx = _ffill_index(has_count, row_group_start)
    known = count_idx >= 0
    safe_idx = np.where(known, count_idx, 0)
    cum = np.cumsum(units)
    sold_since = cum - cum[safe_idx]
    stock = np.where(known, count_on_hand[safe_idx], np.nan)
    sale_idx = _ffill_index(units > 0, row_group_start)
    last_sale = np.where(sale_idx >= 0, units[np.maximum(sale_idx, 0)], 0.0)
    with np.errstate(invalid="ignore"):
        empty_count = (stock == 0) & (sold_since == 0)
        sold_out = (stock > 0) & (sold_since >= stock) & (sold_since - last_sale < stock)
    return known & (units == 0) & (empty_count | sold_out)


def campaign_days(campaigns: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp) -> pd.DataFrame:
    """One row per campaign row and day it runs between ``first`` and ``last`` (inclusive).

    A campaign without ``end`` lasts its start day. ``sku`` null means every SKU.

    Returns:
        campaign_id, kind, sku (null = all), date, n_days (the campaign's full length),
        expected_units, uplift, reservations.
    """
    cols = ["campaign_id", "kind", "sku", "date", "n_days", "expected_units", "uplift", "reservations"]
    if campaigns is None or len(campaigns) == 0:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in cols}).astype(
            {"campaign_id": "string", "kind": "string", "sku": "string", "date": "datetime64[ns]"}
        )
    start = _day_number(campaigns["start"])
    end_raw = campaigns["end"] if "end" in campaigns else pd.Series(pd.NaT, index=campaigns.index)
    end = np.where(end_raw.notna().to_numpy(bool), _day_number(end_raw.fillna(campaigns["start"])), start)
    end = np.maximum(end, start)
    n_days = end - start + 1
    lo, hi = _day_number([first])[0], _day_number([last])[0]
    row = np.repeat(np.arange(len(campaigns)), n_days)
    day = np.repeat(start, n_days) + (np.arange(len(row)) - np.repeat(np.cumsum(n_days) - n_days, n_days))
    inside = (day >= lo) & (day <= hi)
    row, day = row[inside], day[inside]
    out = pd.DataFrame(
        {
            "campaign_id": campaigns["campaign_id"].astype("string").to_numpy()[row],
            "kind": campaigns["kind"].astype("string").str.lower().to_numpy()[row],
            "sku": campaigns["sku"].astype("string").to_numpy()[row] if "sku" in campaigns else pd.NA,
            "date": day.astype("datetime64[D]").astype("datetime64[ns]"),
            "n_days": n_days[row],
        }
    )
    for col in ("expected_units", "uplift", "reservations"):
        values = campaigns[col] if col in campaigns else pd.Series(np.nan, index=campaigns.index)
        out[col] = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)[row]
    return out


def _campaign_kind_codes(
    camp: pd.DataFrame, sku_index: pd.Index, offsets: np.ndarray, start_day: np.ndarray, n_rows: int, row_day: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """Kind code per panel row (-1 = no campaign), earlier kinds in ``CAMPAIGN_KINDS`` winning overlaps."""
    kinds = list(CAMPAIGN_KINDS) + sorted(set(camp["kind"].dropna()) - set(CAMPAIGN_KINDS))
    if len(camp) == 0:
        return np.full(n_rows, -1), kinds
    code = np.full(n_rows, len(kinds), dtype=np.int64)
    kind_code = pd.Index(kinds).get_indexer(camp["kind"].fillna(kinds[0]))
    day = _day_number(camp["date"])
    specific = camp["sku"].notna().to_numpy(bool)
    pos = sku_index.get_indexer(camp["sku"].to_numpy(dtype=object)[specific])
    d, k = day[specific][pos >= 0], kind_code[specific][pos >= 0]
    pos = pos[pos >= 0]
    on_grid = d >= start_day[pos]
    np.minimum.at(code, offsets[pos[on_grid]] + d[on_grid] - start_day[pos[on_grid]], k[on_grid])
    if (~specific).any():
        base = row_day.min()
        by_day = np.full(row_day.max() - base + 1, len(kinds), dtype=np.int64)
        d, k = day[~specific], kind_code[~specific]
        ok = (d >= base) & (d - base < len(by_day))
        np.minimum.at(by_day, d[ok] - base, k[ok])
        code = np.minimum(code, by_day[row_day - base])
    return np.where(code == len(kinds), -1, code), kinds


def build_daily_demand(
    order_lines: pd.DataFrame,
    stock: pd.DataFrame | None,
    campaigns: pd.DataFrame | None,
    products: pd.DataFrame | None,
    as_of,
    params: DemandParams | None = None,
) -> pd.DataFrame:
    """Gross daily demand per SKU, with censored and campaign days marked.

    Args:
        order_lines: canonical order lines (cut at ``as_of`` by the caller).
        stock: canonical stock counts (any cadence; warehouses are summed per day), or None.
        campaigns: canonical campaign calendar, or None.
        products: canonical products (``launch_date`` starts a SKU's history), or None.
        as_of: the run date; the last day of the table.
        params: demand parameters (unused here today, accepted for a uniform call).

    Returns:
        sku (string), date, units (float, gross: returns not subtracted), censored (bool),
        campaign_kind (string or null); one row per SKU per day from its first sale or
        launch to ``as_of``, sorted by sku, date.
    """
    as_of = pd.Timestamp(as_of).normalize()
    as_of_day = _day_number([as_of])[0]
    sales = _paid_lines(order_lines, as_of)
    first_day = _sku_starts(sales, products, as_of_day)
    sku_index = pd.Index(first_day.index, dtype=object)
    start_day = first_day.to_numpy(dtype=np.int64)
    lengths = as_of_day - start_day + 1
    offsets = np.cumsum(lengths) - lengths
    n_rows = int(lengths.sum())
    row_sku = np.repeat(np.arange(len(sku_index)), lengths)
    row_day = np.repeat(start_day, lengths) + (np.arange(n_rows) - np.repeat(offsets, lengths))

    if n_rows == 0:
        return pd.DataFrame(
            {
                "sku": pd.Series(dtype="string"),
                "date": pd.Series(dtype="datetime64[ns]"),
                "units": pd.Series(dtype=float),
                "censored": pd.Series(dtype=bool),
                "campaign_kind": pd.Series(dtype="string"),
            }
        )
    pos = sku_index.get_indexer(sales["sku"].to_numpy(dtype=object))
    units = np.bincount(offsets[pos] + sales["day"].to_numpy() - start_day[pos], weights=sales["qty"], minlength=n_rows)

    count_on_hand = np.full(n_rows, np.nan)
    if stock is not None and len(stock):
        counts = pd.DataFrame(
            {
                "pos": sku_index.get_indexer(stock["sku"].to_numpy(dtype=object)),
                "day": _day_number(stock["as_of"]),
                "on_hand": pd.to_numeric(stock["on_hand"], errors="coerce").to_numpy(dtype=float, na_value=np.nan),
            }
        )
        counts = counts[(counts["pos"] >= 0) & (counts["day"] <= as_of_day) & counts["on_hand"].notna()]
        counts = counts[counts["day"].to_numpy() >= start_day[counts["pos"].to_numpy()]]
        counts = counts.groupby(["pos", "day"], sort=False)["on_hand"].sum().reset_index()
        p = counts["pos"].to_numpy()
        count_on_hand[offsets[p] + counts["day"].to_numpy() - start_day[p]] = counts["on_hand"].to_numpy()
    censored = _censored(units, count_on_hand, np.repeat(offsets, lengths))

    camp = campaign_days(campaigns, pd.Timestamp(start_day.min(), unit="D"), as_of)
    kind_code, kinds = _campaign_kind_codes(camp, sku_index, offsets, start_day, n_rows, row_day)

    return pd.DataFrame(
        {
            "sku": pd.Categorical.from_codes(row_sku, categories=pd.Index(sku_index, dtype="string")).astype("string"),
            "date": row_day.astype("datetime64[D]").astype("datetime64[ns]"),
            "units": units.astype(float),
            "censored": censored,
            "campaign_kind": pd.Categorical.from_codes(kind_code, categories=kinds).astype("string"),
        }
    )


# --------------------------------------------------------------------------- classes


def classify(daily: pd.DataFrame, as_of, params: DemandParams | None = None) -> pd.DataFrame:
    """Syntetos–Boylan demand class per SKU, plus ``new`` and ``inactive``.

    On the SKU's clean days (not censored, no campaign) within ``class_window_days``:
    ADI = clean days / days with demand, CV² = variance / mean² of the non-zero demand
    sizes (population variance). smooth: ADI < 1.32 and CV² < 0.49; erratic: ADI < 1.32,
    CV² >= 0.49; intermittent: ADI >= 1.32, CV² < 0.49; lumpy: both at or above.
    ``new``: fewer than ``min_history_days`` days of history. ``inactive``: no sale in the
    last ``inactive_days`` days although the SKU was in stock on most of them. A SKU that
    sold only on campaign or censored days has no ADI and counts as lumpy (pulses only).

    Returns:
        sku, n_days, adi, cv2, demand_class; one row per SKU of ``daily``.
    """
    params = params or DemandParams()
    as_of = pd.Timestamp(as_of).normalize()
    starts, lengths = panel_bounds(daily)
    n_sku = len(starts)
    if n_sku == 0:
        return pd.DataFrame({"sku": pd.Series(dtype="string"), "n_days": pd.Series(dtype="int64"),
                             "adi": pd.Series(dtype=float), "cv2": pd.Series(dtype=float),
                             "demand_class": pd.Series(dtype="string")})
    group = np.repeat(np.arange(n_sku), lengths)
    units = daily["units"].to_numpy(dtype=float)
    days_back = _day_number([as_of])[0] - daily["date"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    clean = ~daily["censored"].to_numpy(bool) & daily["campaign_kind"].isna().to_numpy(bool)
    in_window = clean & (days_back < params.class_window_days)

    def per_sku(weights) -> np.ndarray:
        return np.bincount(group, weights=weights, minlength=n_sku)

    nonzero = in_window & (units > 0)
    n_clean = per_sku(in_window.astype(float))
    n_demand = per_sku(nonzero.astype(float))
    size_sum = per_sku(np.where(nonzero, units, 0.0))
    size_sq = per_sku(np.where(nonzero, units**2, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        adi = np.where(n_demand > 0, n_clean / n_demand, np.nan)
        mean = size_sum / n_demand
        cv2 = np.where(n_demand > 0, np.maximum(size_sq / n_demand - mean**2, 0.0) / mean**2, np.nan)

    recent = days_back < params.inactive_days
    recent_units = per_sku(np.where(recent, units, 0.0))
    recent_in_stock = per_sku((recent & ~daily["censored"].to_numpy(bool)).astype(float))

    cls = np.select(
        [
            lengths < params.min_history_days,
            (recent_units == 0) & (recent_in_stock * 2 >= params.inactive_days),
            np.isnan(adi),
            (adi < params.adi_cutoff) & (cv2 < params.cv2_cutoff),
            adi < params.adi_cutoff,
            cv2 < params.cv2_cutoff,
        ],
        ["new", "inactive", "lumpy", "smooth", "erratic", "intermittent"],
        default="lumpy",
    )
    return pd.DataFrame(
        {
            "sku": daily["sku"].iloc[starts].astype("string").to_numpy(),
            "n_days": lengths.astype(np.int64),
            "adi": adi,
            "cv2": cv2,
            "demand_class": pd.array(cls, dtype="string"),
        }
    )


# --------------------------------------------------------------------------- returns


def _fill_after_sale_sku(after_sales: pd.DataFrame, order_lines: pd.DataFrame) -> pd.DataFrame:
    """after_sales with ``sku`` and the order's ``created_at`` taken from its order line.

    The line is found by (platform, shop, order_id, line_id), else by line_id alone.
    """
    lines = order_lines[["platform", "shop", "order_id", "line_id", "sku", "created_at"]]
    key = ["platform", "shop", "order_id", "line_id"]
    out = after_sales.reset_index(drop=True)
    full = out[key].merge(lines.drop_duplicates(key), on=key, how="left")
    by_line = out[["line_id"]].merge(lines.drop_duplicates("line_id")[["line_id", "sku", "created_at"]], on="line_id", how="left")
    out["sku"] = out["sku"].astype("string").fillna(full["sku"].astype("string")).fillna(by_line["sku"].astype("string"))
    out["order_created_at"] = pd.to_datetime(full["created_at"]).fillna(pd.to_datetime(by_line["created_at"]))
    return out


def return_profile(
    order_lines: pd.DataFrame,
    after_sales: pd.DataFrame | None,
    products: pd.DataFrame | None,
    as_of,
    params: DemandParams | None = None,
) -> pd.DataFrame:
    """Return rate, order-to-return lag and restockable share per SKU.

    Only orders at least ``return_maturity_days`` old count, so recent orders whose returns
    have not come yet do not pull the rate down. Only ``return`` after-sales are returns:
    ``refund_only`` brings no goods back and an ``exchange`` sends out what it takes back.
    A SKU with fewer than ``return_min_units`` matured units borrows the figures of its SPU,
    then its category, then the whole shop (``basis`` says which).

    Returns:
        sku, return_rate (0..1), return_lag_days, restock_share (0..1), basis
        (sku|spu|category|shop); one row per SKU seen in orders or products.
    """
    params = params or DemandParams()
    as_of = pd.Timestamp(as_of).normalize()
    matured_before = as_of - pd.Timedelta(days=params.return_maturity_days - 1)
    sales = _paid_lines(order_lines, as_of)
    matured_day = _day_number([matured_before])[0]
    sold = sales[sales["day"] < matured_day].groupby("sku")["qty"].sum()

    rets = pd.DataFrame(columns=["sku", "qty", "lag", "restockable"])
    if after_sales is not None and len(after_sales):
        a = _fill_after_sale_sku(after_sales, order_lines)
        a = a[(a["kind"].astype("string").str.lower() == "return").fillna(False) & a["sku"].notna()]
        back_at = pd.to_datetime(a["completed_at"]).fillna(pd.to_datetime(a["requested_at"]))
        order_at = a["order_created_at"].fillna(pd.to_datetime(a["requested_at"]))
        a = a[(order_at < matured_before).to_numpy(bool)]
        back_at, order_at = back_at[a.index], order_at[a.index]
        rets = pd.DataFrame(
            {
                "sku": a["sku"].to_numpy(dtype=object),
                "qty": pd.to_numeric(a["qty"], errors="coerce").to_numpy(dtype=float, na_value=0.0),
                "lag": (back_at.dt.normalize() - order_at.dt.normalize()).dt.days.clip(lower=0).to_numpy(dtype=float),
                "restockable": a["restockable"].astype("boolean").to_numpy(dtype=float, na_value=np.nan),
            }
        )

    skus = pd.Index(sorted(set(sold.index) | set(rets["sku"]) | set(_product_skus(products))), dtype=object)
    levels = _hierarchy(skus, products)
    def by_sku(values: pd.Series) -> np.ndarray:
        return values.groupby(rets["sku"]).sum().reindex(skus, fill_value=0.0).to_numpy()

    per_sku = pd.DataFrame(
        {
            "sold": sold.reindex(skus, fill_value=0.0).to_numpy(),
            "returned": by_sku(rets["qty"]),
            "lag_x_qty": by_sku(rets["lag"] * rets["qty"]),
            "known_qty": by_sku(rets["qty"].where(rets["restockable"].notna(), 0.0)),
            "restock_qty": by_sku(rets["qty"] * rets["restockable"].fillna(0.0)),
        },
        index=skus,
    )
    sums = ["sold", "returned", "lag_x_qty", "known_qty", "restock_qty"]
    chosen = pd.DataFrame(index=skus, columns=sums, dtype=float)
    basis = pd.Series(pd.NA, index=skus, dtype="string")
    for level in ("sku", "spu", "category", "shop"):
        agg = per_sku[sums].groupby(levels[level].to_numpy()).transform("sum") if level != "sku" else per_sku[sums]
        take = basis.isna().to_numpy() & (agg["sold"].to_numpy() >= max(params.return_min_units, 1))
        if level == "shop":
            take = basis.isna().to_numpy()
        chosen.loc[take] = agg.loc[take].to_numpy()
        basis[take] = level
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.clip(np.where(chosen["sold"] > 0, chosen["returned"] / chosen["sold"], 0.0), 0.0, 1.0)
        lag = np.where(chosen["returned"] > 0, chosen["lag_x_qty"] / chosen["returned"], params.default_return_lag_days)
        share = np.where(chosen["known_qty"] > 0, chosen["restock_qty"] / chosen["known_qty"], params.default_restock_share)
    return pd.DataFrame(
        {
            "sku": pd.array(skus, dtype="string"),
            "return_rate": rate.astype(float),
            "return_lag_days": np.maximum(np.round(lag), 1).astype(np.int64),
            "restock_share": np.clip(share, 0.0, 1.0).astype(float),
            "basis": basis.to_numpy(),
        }
    )


def _product_skus(products: pd.DataFrame | None) -> list:
    if products is None or len(products) == 0:
        return []
    return list(products["sku"].dropna().astype(str))


def _hierarchy(skus: pd.Index, products: pd.DataFrame | None) -> pd.DataFrame:
    """sku, spu, category and shop group labels; a missing SPU or category is the SKU itself."""
    out = pd.DataFrame({"sku": skus.to_numpy(dtype=object)}, index=skus)
    if products is not None and len(products):
        p = products.drop_duplicates("sku").set_index(products.drop_duplicates("sku")["sku"].astype(str))
        for col in ("spu", "category"):
            if col in p:
                out[col] = p[col].astype("string").reindex(skus).to_numpy(dtype=object)
    for col in ("spu", "category"):
        if col not in out:
            out[col] = None
        # a SKU without a group forms its own group, so it never borrows from strangers
        out[col] = (col + ":" + out[col].where(out[col].notna(), "sku:" + out["sku"]).astype(str)).to_numpy()
    out["shop"] = "shop"
    return out


def expected_returns(
    order_lines: pd.DataFrame,
    after_sales: pd.DataFrame | None,
    profile: pd.DataFrame,
    as_of,
    horizon_days: int,
    params: DemandParams | None = None,
) -> pd.DataFrame:
    """Restockable units expected back on each day of the horizon, from orders already shipped.

    A shipped line of ``q`` units ordered on day ``t`` brings back
    ``q * return_rate * restock_share`` units on day ``t + return_lag_days`` (the SKU's
    profile, :func:`return_profile`), when that day falls after ``as_of`` and within the
    horizon. Lines whose return has already been completed are left out (their units are
    back in the stock counts).

    Returns:
        sku, date, expected_units (> 0), one row per SKU and day with an expected return.
    """
    if not (isinstance(horizon_days, int) and horizon_days >= 1):
        raise ValueError(f"horizon_days must be an integer >= 1; got {horizon_days!r}")
    as_of = pd.Timestamp(as_of).normalize()
    lines = order_lines[order_lines["status"].isin(_SHIPPED_STATUSES).to_numpy(bool)]
    if after_sales is not None and len(after_sales):
        done = after_sales[pd.to_datetime(after_sales["completed_at"]).notna().to_numpy(bool)]
        done = done[(done["kind"].astype("string").str.lower() == "return").fillna(False).to_numpy(bool)]
        returned = pd.MultiIndex.from_frame(done[["order_id", "line_id"]].astype("string"))
        lines = lines[~pd.MultiIndex.from_frame(lines[["order_id", "line_id"]].astype("string")).isin(returned)]
    prof = profile.set_index(profile["sku"].astype(str))
    sku = lines["sku"].astype("string").to_numpy(dtype=object)
    known = prof.index.get_indexer(sku)
    ok = known >= 0
    p = prof.iloc[known[ok]]
    ordered = pd.to_datetime(lines["created_at"]).to_numpy(dtype="datetime64[D]")[ok]
    back = ordered + p["return_lag_days"].to_numpy().astype("timedelta64[D]")
    units = pd.to_numeric(lines["qty"], errors="coerce").to_numpy(dtype=float, na_value=0.0)[ok]
    units = units * p["return_rate"].to_numpy() * p["restock_share"].to_numpy()
    as_of_d = np.datetime64(as_of.date(), "D")
    inside = (back > as_of_d) & (back <= as_of_d + horizon_days) & (units > 0)
    out = pd.DataFrame({"sku": sku[ok][inside], "date": back[inside].astype("datetime64[ns]"), "expected_units": units[inside]})
    out = out.groupby(["sku", "date"], as_index=False)["expected_units"].sum()
    out["sku"] = out["sku"].astype("string")
    return out.sort_values(["sku", "date"], ignore_index=True)
