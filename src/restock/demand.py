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

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from restock.schema import CAMPAIGN_KINDS, _large_strings, positions

__all__ = [
    "DemandParams",
    "DEMAND_CLASSES",
    "PAID_STATUSES",
    "paid_lines",
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
    """Days since the epoch (int64) of datetime-like values, truncated to the day.

    ``cache=False`` (here, and on the columns demand, forecast and slow movers convert):
    pandas' cache check turns values into Timestamps one by one, about 25 ms per large column.
    """
    return pd.to_datetime(values, cache=False).to_numpy(dtype="datetime64[D]").astype(np.int64)


def panel_bounds(daily: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Start row and length of each SKU's block in a daily table sorted by sku, date.

    Neighbouring rows are compared as category codes (the daily table's ``sku`` is
    categorical) or in Arrow: no Python string is made per row.

    Raises:
        ValueError: the rows of one SKU are not contiguous.
    """
    if len(daily) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if isinstance(daily["sku"].dtype, pd.CategoricalDtype):
        codes = daily["sku"].cat.codes.to_numpy()
        starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        distinct = len(np.unique(codes[starts]))
    else:
        sku = _large_strings(daily["sku"])
        changed = pc.fill_null(pc.not_equal(sku.slice(1), sku.slice(0, len(sku) - 1)), True)
        starts = np.flatnonzero(np.r_[True, changed.to_numpy(zero_copy_only=False)])
        distinct = len(pc.unique(sku.take(starts)))
    if len(starts) != distinct:
        raise ValueError("daily: rows must be sorted by sku, date (one contiguous block per sku)")
    lengths = np.diff(np.r_[starts, len(daily)])
    return starts, lengths


def _ffill_index(mask: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Index of the latest row at or before each row where ``mask`` holds, within the SKU; -1 if none.

    One running maximum over the flat panel: a ``mask`` row carries 2·row + 1 and each SKU's
    first row at least 2·row, so the maximum never reaches back into the previous SKU; an
    odd maximum is a found row.
    """
    if len(mask) == 0:
        return np.zeros(0, np.int64)
    code = np.where(mask, 2 * np.arange(len(mask)) + 1, -1)
    code[starts] = np.maximum(code[starts], 2 * starts)
    np.maximum.accumulate(code, out=code)
    return np.where(code & 1, code >> 1, -1)


def _categorical(codes: np.ndarray, labels) -> pd.Categorical:
    """``labels[codes]`` as a categorical (null where the code is -1): an integer per row, no string.

    At 100,000 SKUs the daily table's ``sku`` and ``campaign_kind`` as Arrow strings were
    2 GiB of its 3.4; as codes they are 0.4 GiB.
    """
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(pd.Index(labels, dtype="string[pyarrow]")))


def _first_match(left: pd.DataFrame, right: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """For each row of ``left``, the first row of ``right`` with equal ``keys`` (nulls equal), -1 if none.

    What ``left.merge(right.drop_duplicates(keys), on=keys, how="left")`` finds, as a hash
    join in an in-memory DuckDB: both cores, and Arrow-backed columns are read in place. At
    100,000 SKUs (5 M after-sales rows against 15 M order lines) Arrow hash lookups key by
    key took 30 s; the join takes a few.
    """
    def table(frame: pd.DataFrame) -> pa.Table:
        columns = {k: pa.array(frame[k].astype("string[pyarrow]").array) for k in keys}
        return pa.table({**columns, "_row": np.arange(len(frame), dtype=np.int64)})

    on = " AND ".join(f'l."{k}" IS NOT DISTINCT FROM r."{k}"' for k in keys)
    with duckdb.connect() as con:
        con.register("l", table(left))
        con.register("r", table(right))
        found = con.execute(f"SELECT l._row, min(r._row) AS first FROM l JOIN r ON {on} GROUP BY l._row").fetchnumpy()
    out = np.full(len(left), -1, np.int64)
    out[found["_row"]] = found["first"]
    return out


# --------------------------------------------------------------------------- daily demand


def paid_lines(order_lines: pd.DataFrame, as_of) -> pd.DataFrame:
    """Gross demand: the paid, not cancelled order lines created up to the end of ``as_of``.

    :func:`build_daily_demand` and :func:`return_profile` both start from it; a caller that
    runs both computes it once and passes it as their ``paid`` (at 100,000 SKUs it is a
    pass over 15 M order lines).

    Returns:
        sku, day (days since the epoch), qty (float, > 0). ``sku`` is categorical (codes
        from one hash pass over the column; categories may include SKUs without a paid
        line), so later steps group and look up integers, not strings.
    """
    as_of = pd.Timestamp(as_of).normalize()
    created = pd.to_datetime(order_lines["created_at"], cache=False)
    keep = order_lines["status"].isin(PAID_STATUSES).to_numpy(bool) & (created < as_of + pd.Timedelta(days=1)).to_numpy(bool)
    qty = pd.to_numeric(order_lines["qty"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    sku_code, sku_labels = pd.factorize(order_lines["sku"])
    keep &= np.isfinite(qty) & (qty > 0) & (sku_code >= 0)
    return pd.DataFrame(
        {
            "sku": pd.Categorical.from_codes(sku_code[keep], categories=pd.Index(sku_labels, dtype=object)),
            "day": _day_number(created[keep]),
            "qty": qty[keep],
        }
    )


def _sku_starts(sales: pd.DataFrame, products: pd.DataFrame, as_of_day: int) -> pd.Series:
    """First day (day number) of each SKU: its first sale or its launch, whichever is earlier."""
    first_sale = sales.groupby("sku", observed=True)["day"].min()
    first_sale.index = first_sale.index.astype(object)
    launch = pd.Series(dtype="int64")
    if products is not None and len(products) and "launch_date" in products:
        launched = products[products["launch_date"].notna() & products["sku"].notna()]
        launch = pd.Series(_day_number(launched["launch_date"]), index=launched["sku"].to_numpy(dtype=object))
        launch = launch[launch <= as_of_day].groupby(level=0).min()
    starts = pd.concat([first_sale, launch]).groupby(level=0).min()
    return starts.sort_index()


def _censored(units: np.ndarray, count_rows: np.ndarray, on_hand: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Censored days from stock counts (``on_hand`` units counted at panel ``count_rows``); see the module docstring.

    After a count of ``S`` units, let ``A`` be units sold after the count day up to today.
    A zero-sale day is censored when ``S == 0`` and nothing sold since the count, or when
    ``S > 0`` and the latest sale is the one that took ``A`` to ``S`` or beyond (sold out,
    no sale since). Between two events of a SKU (a sale or a count) nothing changes, so the
    test runs once per event, and its verdict holds for the zero-sale days up to the SKU's
    next event: a few passes over the events, one over the panel.
    """
    if len(count_rows) == 0:
        return np.zeros(len(units), bool)
    is_event = units > 0
    is_event[count_rows] = True
    rows = np.flatnonzero(is_event)
    sku = np.searchsorted(starts, rows, side="right") - 1
    first_event = np.flatnonzero(np.r_[True, sku[1:] != sku[:-1]])
    sold = units[rows]
    stock = np.full(len(rows), np.nan)
    stock[np.searchsorted(rows, count_rows)] = on_hand
    counted = _ffill_index(~np.isnan(stock), first_event)
    last = _ffill_index(sold > 0, first_event)
    cum = np.cumsum(sold)
    at_count = np.maximum(counted, 0)
    sold_since = cum - cum[at_count]
    stock = stock[at_count]
    last_sale = np.where(last >= 0, sold[np.maximum(last, 0)], 0.0)
    empty_count = (stock == 0) & (sold_since == 0)
    sold_out = (stock > 0) & (sold_since >= stock) & (sold_since - last_sale < stock)
    verdict = (counted >= 0) & (empty_count | sold_out)
    # each SKU's rows before its first event are not censored; a SKU start that is an event
    # sorts after it (stable), so the event's verdict covers the row
    seg_rows = np.concatenate([starts, rows])
    seg_verdict = np.concatenate([np.zeros(len(starts), bool), verdict])
    order = np.argsort(seg_rows, kind="stable")
    seg_rows, seg_verdict = seg_rows[order], seg_verdict[order]
    censored = np.repeat(seg_verdict, np.diff(np.r_[seg_rows, len(units)]))
    censored &= units == 0
    return censored


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
        return np.full(n_rows, -1, dtype=np.int16), kinds
    code = np.full(n_rows, len(kinds), dtype=np.int16)  # small codes: millions of rows
    kind_code = pd.Index(kinds).get_indexer(camp["kind"].fillna(kinds[0]))
    day = _day_number(camp["date"])
    specific = camp["sku"].notna().to_numpy(bool)
    pos = positions(camp["sku"][specific], sku_index)
    d, k = day[specific][pos >= 0], kind_code[specific][pos >= 0]
    pos = pos[pos >= 0]
    on_grid = d >= start_day[pos]
    np.minimum.at(code, offsets[pos[on_grid]] + d[on_grid] - start_day[pos[on_grid]], k[on_grid])
    if (~specific).any():
        base = row_day.min()
        by_day = np.full(row_day.max() - base + 1, len(kinds), dtype=np.int16)
        d, k = day[~specific], kind_code[~specific]
        ok = (d >= base) & (d - base < len(by_day))
        np.minimum.at(by_day, d[ok] - base, k[ok])
        np.minimum(code, by_day[row_day - base], out=code)
    code[code == len(kinds)] = -1
    return code, kinds


def build_daily_demand(
    order_lines: pd.DataFrame,
    stock: pd.DataFrame | None,
    campaigns: pd.DataFrame | None,
    products: pd.DataFrame | None,
    as_of,
    params: DemandParams | None = None,
    paid: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Gross daily demand per SKU, with censored and campaign days marked.

    Args:
        order_lines: canonical order lines (cut at ``as_of`` by the caller); not read
            when ``paid`` is given (may be None then).
        stock: canonical stock counts (any cadence; warehouses are summed per day), or None.
        campaigns: canonical campaign calendar, or None.
        products: canonical products (``launch_date`` starts a SKU's history), or None.
        as_of: the run date; the last day of the table.
        params: demand parameters (unused here today, accepted for a uniform call).
        paid: ``paid_lines(order_lines, as_of)``, when the caller already has it.

    Returns:
        sku, date, units (float, gross: returns not subtracted), censored (bool),
        campaign_kind (null on other days); one row per SKU per day from its first sale or
        launch to ``as_of``, sorted by sku, date. ``sku`` and ``campaign_kind`` are
        categoricals (string categories): tens of millions of rows as small integer codes.
    """
    as_of = pd.Timestamp(as_of).normalize()
    as_of_day = _day_number([as_of])[0]
    sales = paid_lines(order_lines, as_of) if paid is None else paid
    first_day = _sku_starts(sales, products, as_of_day)
    sku_index = pd.Index(first_day.index, dtype=object)
    start_day = first_day.to_numpy(dtype=np.int64)
    lengths = as_of_day - start_day + 1
    offsets = np.cumsum(lengths) - lengths
    n_rows = int(lengths.sum())
    # int32 and in place: each fresh array of millions of rows costs page faults
    row_sku = np.repeat(np.arange(len(sku_index), dtype=np.int32), lengths)
    row_day = np.repeat((start_day - offsets).astype(np.int32), lengths)
    row_day += np.arange(n_rows, dtype=np.int32)

    if n_rows == 0:
        return pd.DataFrame(
            {
                "sku": _categorical(np.zeros(0, np.int32), sku_index),
                "date": pd.Series(dtype="datetime64[ns]"),
                "units": pd.Series(dtype=float),
                "censored": pd.Series(dtype=bool),
                "campaign_kind": _categorical(np.zeros(0, np.int8), list(CAMPAIGN_KINDS)),
            }
        )
    pos = sku_index.get_indexer(sales["sku"].cat.categories)[sales["sku"].cat.codes.to_numpy()]
    units = np.bincount(offsets[pos] + sales["day"].to_numpy() - start_day[pos], weights=sales["qty"], minlength=n_rows)

    count_rows, on_hand = np.zeros(0, np.int64), np.zeros(0)
    if stock is not None and len(stock):
        counts = pd.DataFrame(
            {
                "pos": positions(stock["sku"], sku_index),  # Arrow hash lookup: no Python string per row
                "day": _day_number(stock["as_of"]),
                "on_hand": pd.to_numeric(stock["on_hand"], errors="coerce").to_numpy(dtype=float, na_value=np.nan),
            }
        )
        counts = counts[(counts["pos"] >= 0) & (counts["day"] <= as_of_day) & counts["on_hand"].notna()]
        counts = counts[counts["day"].to_numpy() >= start_day[counts["pos"].to_numpy()]]
        counts = counts.groupby(["pos", "day"], sort=True)["on_hand"].sum().reset_index()  # sorted: panel order
        p = counts["pos"].to_numpy()
        count_rows = offsets[p] + counts["day"].to_numpy() - start_day[p]
        on_hand = counts["on_hand"].to_numpy()
    censored = _censored(units, count_rows, on_hand, offsets)

    camp = campaign_days(campaigns, pd.Timestamp(start_day.min(), unit="D"), as_of)
    kind_code, kinds = _campaign_kind_codes(camp, sku_index, offsets, start_day, n_rows, row_day)

    # each working array is dropped once its column exists: at 100,000 SKUs they are gigabytes
    sku = _categorical(row_sku, sku_index)
    del row_sku
    campaign_kind = _categorical(kind_code, kinds)
    del kind_code
    date = row_day.astype(np.int64)
    del row_day
    date *= 86_400 * 10**9
    return pd.DataFrame(
        {
            "sku": sku,
            "date": date.view("datetime64[ns]"),
            "units": units.astype(float, copy=False),
            "censored": censored,
            "campaign_kind": campaign_kind,
        },
        copy=False,  # the arrays are this function's own: no second copy of millions of rows
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
        sku, n_days, adi, cv2, demand_class, units (all days) and censored_days; one row
        per SKU of ``daily``.
    """
    params = params or DemandParams()
    as_of = pd.Timestamp(as_of).normalize()
    starts, lengths = panel_bounds(daily)
    n_sku = len(starts)
    if n_sku == 0:
        return pd.DataFrame({"sku": pd.Series(dtype="string"), "n_days": pd.Series(dtype="int64"),
                             "adi": pd.Series(dtype=float), "cv2": pd.Series(dtype=float),
                             "demand_class": pd.Series(dtype="string"), "units": pd.Series(dtype=float),
                             "censored_days": pd.Series(dtype="int64")})
    units = daily["units"].to_numpy(dtype=float)
    date = daily["date"].to_numpy(dtype="datetime64[ns]")

    def within(days: int) -> np.ndarray:  # the last ``days`` days up to as_of
        return date > np.datetime64(as_of - pd.Timedelta(days=days), "ns")

    censored = daily["censored"].to_numpy(bool)
    clean = ~censored & daily["campaign_kind"].isna().to_numpy(bool)
    in_window = clean & within(params.class_window_days)

    def per_sku(values: np.ndarray) -> np.ndarray:  # sums over each SKU's contiguous block
        return np.add.reduceat(values, starts, dtype=np.int64 if values.dtype == bool else float)

    nonzero = in_window & (units > 0)
    n_clean = per_sku(in_window)
    n_demand = per_sku(nonzero)
    sizes = np.where(nonzero, units, 0.0)  # one working array, reused in place below
    size_sum = per_sku(sizes)
    size_sq = per_sku(np.multiply(sizes, sizes, out=sizes))
    with np.errstate(invalid="ignore", divide="ignore"):
        adi = np.where(n_demand > 0, n_clean / n_demand, np.nan)
        mean = size_sum / n_demand
        cv2 = np.where(n_demand > 0, np.maximum(size_sq / n_demand - mean**2, 0.0) / mean**2, np.nan)

    recent = within(params.inactive_days)
    recent_units = per_sku(np.multiply(units, recent, out=sizes))
    recent_in_stock = per_sku(recent & ~censored)

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
            "units": per_sku(units),
            "censored_days": per_sku(censored),
        }
    )


# --------------------------------------------------------------------------- returns


def _fill_after_sale_sku(after_sales: pd.DataFrame, order_lines: pd.DataFrame) -> pd.DataFrame:
    """after_sales with ``sku`` and the order's ``created_at`` taken from its order line.

    The line is found by (platform, shop, order_id, line_id), else by line_id alone; the
    first such order line either way.
    """
    out = after_sales.reset_index(drop=True)
    line_sku = order_lines["sku"].astype("string[pyarrow]").array
    line_created = pd.to_datetime(order_lines["created_at"], cache=False).array
    # line_id first: the most selective key, so the other keys are looked up on few lines
    full = _first_match(out, order_lines, ["line_id", "order_id", "shop", "platform"])
    sku = out["sku"].astype("string[pyarrow]").fillna(pd.Series(line_sku.take(full, allow_fill=True)))
    created = pd.Series(line_created.take(full, allow_fill=True))
    unresolved = np.flatnonzero((sku.isna() | created.isna()).to_numpy(bool))
    if len(unresolved):
        by_line = _first_match(out.iloc[unresolved], order_lines, ["line_id"])
        sku.iloc[unresolved] = sku.iloc[unresolved].fillna(pd.Series(line_sku.take(by_line, allow_fill=True), index=sku.index[unresolved]))
        created.iloc[unresolved] = created.iloc[unresolved].fillna(
            pd.Series(line_created.take(by_line, allow_fill=True), index=created.index[unresolved])
        )
    out["sku"] = sku
    out["order_created_at"] = created
    return out


def return_profile(
    order_lines: pd.DataFrame,
    after_sales: pd.DataFrame | None,
    products: pd.DataFrame | None,
    as_of,
    params: DemandParams | None = None,
    paid: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Return rate, order-to-return lag and restockable share per SKU.

    Only orders at least ``return_maturity_days`` old count, so recent orders whose returns
    have not come yet do not pull the rate down. Only ``return`` after-sales are returns:
    ``refund_only`` brings no goods back and an ``exchange`` sends out what it takes back.
    A SKU with fewer than ``return_min_units`` matured units borrows the figures of its SPU,
    then its category, then the whole shop (``basis`` says which).

    ``paid`` is ``paid_lines(order_lines, as_of)`` when the caller already has it; the
    order lines are still read, to find the order line of each return.

    Returns:
        sku, return_rate (0..1), return_lag_days, restock_share (0..1), basis
        (sku|spu|category|shop); one row per SKU seen in orders or products.
    """
    params = params or DemandParams()
    as_of = pd.Timestamp(as_of).normalize()
    matured_before = as_of - pd.Timedelta(days=params.return_maturity_days - 1)
    sales = paid_lines(order_lines, as_of) if paid is None else paid
    matured_day = _day_number([matured_before])[0]
    sold = sales[sales["day"] < matured_day].groupby("sku", observed=True)["qty"].sum()
    sold.index = sold.index.astype(object)

    rets = pd.DataFrame({"sku": pd.Series(dtype="string[pyarrow]"), "qty": 0.0, "lag": 0.0, "restockable": 0.0})
    if after_sales is not None and len(after_sales):
        is_return = after_sales["kind"].astype("string[pyarrow]").str.lower().eq("return").fillna(False).to_numpy(bool)
        needed = ["platform", "shop", "order_id", "line_id", "sku", "qty", "requested_at", "completed_at", "restockable"]
        a = _fill_after_sale_sku(after_sales.loc[is_return, needed], order_lines)
        a = a[a["sku"].notna().to_numpy(bool)]
        back_at = pd.to_datetime(a["completed_at"], cache=False).fillna(pd.to_datetime(a["requested_at"], cache=False))
        order_at = a["order_created_at"].fillna(pd.to_datetime(a["requested_at"], cache=False))
        matured = (order_at < matured_before).to_numpy(bool)
        a, back_at, order_at = a[matured], back_at[matured], order_at[matured]
        rets = pd.DataFrame(
            {
                "sku": a["sku"].to_numpy(),
                "qty": pd.to_numeric(a["qty"], errors="coerce").to_numpy(dtype=float, na_value=0.0),
                "lag": (back_at.dt.normalize() - order_at.dt.normalize()).dt.days.clip(lower=0).to_numpy(dtype=float),
                "restockable": a["restockable"].astype("boolean").to_numpy(dtype=float, na_value=np.nan),
            }
        )

    returned_skus = pc.unique(_large_strings(rets["sku"])).to_numpy(zero_copy_only=False)
    skus = pd.Index(sorted(set(sold.index) | set(returned_skus) | set(_product_skus(products))), dtype=object)
    levels = _hierarchy(skus, products)
    ret_pos = positions(rets["sku"], skus)

    def by_sku(values: pd.Series) -> np.ndarray:
        return np.bincount(ret_pos, weights=values.to_numpy(dtype=float), minlength=len(skus))

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
    as_of_d = np.datetime64(pd.Timestamp(as_of).normalize().date(), "D")
    # only lines whose return can land inside the horizon: the date test runs on every
    # line, the SKU lookup and the key match on those few
    ordered = pd.to_datetime(order_lines["created_at"], cache=False).to_numpy(dtype="datetime64[D]")
    longest_lag = int(profile["return_lag_days"].max()) if len(profile) else 0
    shipped = order_lines["status"].isin(_SHIPPED_STATUSES).to_numpy(bool)
    rows = np.flatnonzero(shipped & (ordered + longest_lag > as_of_d) & (ordered < as_of_d + 1 + horizon_days))
    lines = order_lines[["order_id", "line_id", "sku", "qty"]].iloc[rows]
    ordered = ordered[rows]
    pos = positions(lines["sku"], profile["sku"])
    known = pos >= 0
    p = profile.iloc[np.maximum(pos, 0)]
    back = ordered + np.where(known, p["return_lag_days"].to_numpy(dtype=np.int64), 0).astype("timedelta64[D]")
    units = pd.to_numeric(lines["qty"], errors="coerce").to_numpy(dtype=float, na_value=0.0)
    units = units * p["return_rate"].to_numpy(dtype=float) * p["restock_share"].to_numpy(dtype=float)
    inside = known & (back > as_of_d) & (back <= as_of_d + horizon_days) & (units > 0)
    if after_sales is not None and len(after_sales) and inside.any():
        done = after_sales[pd.to_datetime(after_sales["completed_at"], cache=False).notna().to_numpy(bool)]
        done = done[done["kind"].astype("string[pyarrow]").str.lower().eq("return").fillna(False).to_numpy(bool)]
        candidates = np.flatnonzero(inside)
        inside[candidates[_first_match(lines.iloc[candidates], done, ["line_id", "order_id"]) >= 0]] = False
    out = pd.DataFrame(
        {"sku": lines["sku"].to_numpy(dtype=object)[inside], "date": back[inside].astype("datetime64[ns]"), "expected_units": units[inside]}
    )
    out = out.groupby(["sku", "date"], as_index=False)["expected_units"].sum()
    out["sku"] = out["sku"].astype("string")
    return out.sort_values(["sku", "date"], ignore_index=True)
