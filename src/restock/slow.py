"""Slow movers and clearance: what ties up cash, why, and what to do about it.

One public entry point, :func:`find_slow_movers`, runs five pure steps on the canonical
tables (already cut at ``as_of`` by the caller) and the forecasting step's tables:

1. **Stock age (FIFO).** Receipts are purchase-order receipts plus stock-count increases
   that the receipts do not explain. The units on hand are the newest receipts (first in,
   first out: the oldest units were sold first), so each SKU's stock splits into dated
   layers, from which come its weighted average age and its age buckets.
2. **Measures.** Sell-through (动销率), days since the last sale, days of cover at the
   forecast rate net of restocked returns, capital at cost, holding cost per month, return
   rate.
3. **Flags.** Dead > slow > overstock > season end (most severe first).
4. **Cause.** The first cause the data supports, with its evidence in words.
5. **Action.** Bundle, markdown, live traffic driver (引流款), other channels or write-off,
   with the suggested price and the expected cash back.

Every rule and threshold is a field of :class:`SlowParams`; the docstrings of the private
functions say which rule each one applies. Stock is pooled over warehouses (``on_hand``,
reserved units included: they are still capital); a sale is a paid line that is not
cancelled (``to_ship``, ``shipped``, ``completed``), dated by ``created_at``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from types import MappingProxyType

import numpy as np
import pandas as pd

from restock.schema import keep_rows, positions

__all__ = [
    "FLAGS",
    "CAUSES",
    "ACTIONS",
    "INPUT_COLUMNS",
    "SlowParams",
    "SlowResult",
    "bucket_labels",
    "find_slow_movers",
    "input_windows",
]

INPUT_COLUMNS = MappingProxyType({
    "products": None,  # all
    "stock": ("as_of", "sku", "warehouse", "on_hand"),
    "purchase_orders": ("sku", "qty_received", "received_at"),
    "order_lines": ("platform", "shop", "order_id", "sku", "qty", "unit_price", "created_at", "status", "channel"),
    "after_sales": ("sku", "qty", "kind", "requested_at", "reason", "restockable"),
    "traffic": ("sku", "date", "views", "clicks", "orders"),
    "campaigns": ("campaign_id", "name", "start", "end", "sku", "expected_units"),
    "daily_demand": ("sku", "date", "units", "censored"),
    "forecast": ("sku", "date", "forecast"),
    "returns_profile": ("sku", "return_rate", "restock_share"),
})
"""The columns :func:`find_slow_movers` reads per input (None: all of them); :func:`input_windows`
gives the days. A notebook loads no more."""

FLAGS = ("dead", "slow", "overstock", "season_end")
"""Slow-mover flags, most severe first; ``flag`` is the first that applies."""

CAUSES = (
    "returns_high",
    "traffic_no_conversion",
    "price_above_category",
    "falling_trend",
    "campaign_shortfall",
    "unexplained",
)
"""Likely causes in the order they are checked; ``unexplained`` when the data shows none."""

ACTIONS = ("bundle", "markdown", "live_driver", "other_channels", "write_off")
"""Proposed actions in the order they are tried; ``write_off`` when none pays its holding cost."""

_SOLD_STATUSES = ("to_ship", "shipped", "completed")  # paid and not cancelled
_RETURN_KINDS = ("return",)  # as restock.demand: refund_only brings nothing back, an exchange swaps


# --------------------------------------------------------------------------- parameters


def _check_int(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")


def _check_number(name: str, value, low: float, high: float, *, low_open=False, high_open=False) -> None:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok:
        ok = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be in {interval}; got {value!r}")


@dataclass(frozen=True)
class SlowParams:
    """Parameters of the slow-mover step.

    Attributes:
        age_buckets: upper bounds (days) of the stock-age buckets; ``(30, 60, 90, 180)``
            gives 0–30, 31–60, 61–90, 91–180, >180.
        window_days: the sell-through window ending at ``as_of``.
        slow_age_days: a SKU is slow when its average stock age exceeds this …
        sell_through_threshold: … and its sell-through over the window is below this.
        dead_days: dead stock: no sale for at least this many days.
        overstock_days: overstock: days of cover above this.
        holding_rate_month: holding cost per month as a share of the capital at cost.
        lookback_days: history used for baskets, return rates, live sales and campaigns.
        high_return_rate: returns are the cause from this return rate (share of units) …
        return_excess: … when the rate is also this share above the median of its peers
            (SKUs in stock of its category, else of the shop, when there are at least 3).
        traffic_days: the window of the traffic cause, ending at ``as_of``.
        min_views: traffic without conversion needs at least this many views in it …
        conversion_ratio: … and orders/views below this multiple of the shop's conversion.
        price_premium: price above the category median by more than this share.
        trend_days: falling trend compares the mean daily demand of the last ``trend_days``
            with the ``trend_days`` before (stock-out days left out).
        trend_drop: the drop (share) that counts as falling.
        trend_min_units: units needed in the earlier period for a trend to count.
        campaign_shortfall: a past campaign under-delivered when it sold below this share of
            its expected units.
        fast_sell_through: bundle partners are unflagged SKUs in stock with at least this
            sell-through.
        bundle_min_orders: a partner must share at least this many orders (support count) …
        bundle_min_lift: … with a lift of at least this.
        bundle_attach_rate: share of the partner's buyers expected to take the bundle.
        bundle_discount: price cut on the slow SKU inside the bundle.
        max_partners: partners kept per SKU in ``bundle_partners``.
        discounts: markdown steps, smallest first (shares of the price).
        price_elasticity: constant elasticity ``e``: a discount ``d`` multiplies demand by
            ``(1 - d) ** -e``.
        clear_target_days: a bundle, markdown or live push must clear the stock within this.
        live_driver_units_per_week: units a live-room traffic-driver slot sells per week.
        live_driver_cost_multiple: traffic-driver price as a multiple of unit cost (capped
            at the deepest markdown price).
        shop_fee_rate: platform fees on own-shop sales (bundle, markdown, live).
        channels: names of the clearance channels (特卖 / 清仓渠道); empty disables them.
        channel_price_share: share of the list price the channels pay.
        channel_fee_rate: channel fees as a share of what they pay.
        channel_days: days for a channel to take the stock.
    """

    age_buckets: tuple[int, ...] = (30, 60, 90, 180)
    window_days: int = 30
    slow_age_days: int = 60
    sell_through_threshold: float = 0.2
    dead_days: int = 90
    overstock_days: int = 180
    holding_rate_month: float = 0.03
    lookback_days: int = 180
    high_return_rate: float = 0.3
    return_excess: float = 0.25
    traffic_days: int = 90
    min_views: int = 500
    conversion_ratio: float = 0.5
    price_premium: float = 0.2
    trend_days: int = 28
    trend_drop: float = 0.3
    trend_min_units: float = 5.0
    campaign_shortfall: float = 0.5
    fast_sell_through: float = 0.5
    bundle_min_orders: int = 3
    bundle_min_lift: float = 1.5
    bundle_attach_rate: float = 0.2
    bundle_discount: float = 0.1
    max_partners: int = 3
    discounts: tuple[float, ...] = (0.1, 0.2, 0.3, 0.5)
    price_elasticity: float = 2.0
    clear_target_days: int = 60
    live_driver_units_per_week: float = 50.0
    live_driver_cost_multiple: float = 1.0
    shop_fee_rate: float = 0.05
    channels: tuple[str, ...] = ("特卖渠道", "尾货批发")
    channel_price_share: float = 0.3
    channel_fee_rate: float = 0.1
    channel_days: int = 30

    def __post_init__(self) -> None:
        # papermill and YAML hand lists; store tuples so the params stay hashable
        for name in ("age_buckets", "discounts", "channels"):
            value = getattr(self, name)
            if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
                raise ValueError(f"{name} must be a list; got {value!r}")
            object.__setattr__(self, name, tuple(value))
        if not self.age_buckets:
            raise ValueError(f"age_buckets must not be empty; got {self.age_buckets!r}")
        for edge in self.age_buckets:
            _check_int("age_buckets", edge, 1)
        if any(b <= a for a, b in zip(self.age_buckets, self.age_buckets[1:])):
            raise ValueError(f"age_buckets must be strictly increasing; got {self.age_buckets!r}")
        if not self.discounts:
            raise ValueError(f"discounts must not be empty; got {self.discounts!r}")
        for d in self.discounts:
            _check_number("discounts", d, 0, 1, low_open=True, high_open=True)
        if any(b <= a for a, b in zip(self.discounts, self.discounts[1:])):
            raise ValueError(f"discounts must be strictly increasing; got {self.discounts!r}")
        for c in self.channels:
            if not isinstance(c, str) or not c.strip():
                raise ValueError(f"channels must be non-empty names; got {self.channels!r}")
        for name, minimum in (
            ("window_days", 1),
            ("slow_age_days", 0),
            ("dead_days", 1),
            ("overstock_days", 1),
            ("lookback_days", 1),
            ("min_views", 0),
            ("traffic_days", 1),
            ("trend_days", 1),
            ("bundle_min_orders", 1),
            ("max_partners", 1),
            ("clear_target_days", 1),
            ("channel_days", 1),
        ):
            _check_int(name, getattr(self, name), minimum)
        inf = float("inf")
        for name, low, high, low_open, high_open in (
            ("sell_through_threshold", 0, 1, False, False),
            ("holding_rate_month", 0, 1, False, False),
            ("high_return_rate", 0, 1, True, False),
            ("return_excess", 0, inf, False, True),
            ("conversion_ratio", 0, inf, False, True),
            ("price_premium", 0, inf, False, True),
            ("trend_drop", 0, 1, True, True),
            ("trend_min_units", 0, inf, False, True),
            ("campaign_shortfall", 0, 1, True, False),
            ("fast_sell_through", 0, 1, False, False),
            ("bundle_min_lift", 0, inf, False, True),
            ("bundle_attach_rate", 0, 1, True, False),
            ("bundle_discount", 0, 1, False, True),
            ("price_elasticity", 0, inf, False, True),
            ("live_driver_units_per_week", 0, inf, False, True),
            ("live_driver_cost_multiple", 0, inf, True, True),
            ("shop_fee_rate", 0, 1, False, True),
            ("channel_price_share", 0, 1, True, False),
            ("channel_fee_rate", 0, 1, False, True),
        ):
            _check_number(name, getattr(self, name), low, high, low_open=low_open, high_open=high_open)
        if self.lookback_days < self.window_days:
            raise ValueError(
                f"lookback_days must be >= window_days ({self.window_days}); got {self.lookback_days}"
            )

    def as_rows(self) -> list[tuple[str, object]]:
        """(name, value) pairs for a Parameters sheet; lists shown as comma-separated text."""
        rows = []
        for f in fields(self):
            value = getattr(self, f.name)
            rows.append((f.name, ", ".join(map(str, value)) if isinstance(value, tuple) else value))
        return rows


@dataclass(frozen=True)
class SlowResult:
    """What :func:`find_slow_movers` returns.

    Attributes:
        slow_movers: one row per SKU with stock on hand at ``as_of`` (flagged first, then by
            capital): identity, measures, ``flag``/``flags``, ``cause``/``causes``,
            ``action``, ``discount``, ``suggested_price``, ``clear_days``,
            ``expected_recovery``, ``bundle_partner`` and ``reason`` (the evidence in words).
            ``flag``, ``cause`` and ``action`` are null for SKUs that are not flagged.
        age_buckets: sku × age bucket: ``units`` and ``value`` (units × unit cost).
        bundle_partners: for flagged SKUs, the fast movers bought in the same orders:
            sku, partner_sku, partner_name, together_orders, support, confidence, lift,
            partner_rate, rank (1 = the one used for a bundle).
    """

    slow_movers: pd.DataFrame
    age_buckets: pd.DataFrame
    bundle_partners: pd.DataFrame


def bucket_labels(edges: tuple[int, ...]) -> list[str]:
    """Labels of the age buckets for upper bounds ``edges``: ``(30, 60)`` -> 0–30, 31–60, >60."""
    lows = (0,) + tuple(e + 1 for e in edges[:-1])
    return [f"{lo}–{hi}" for lo, hi in zip(lows, edges)] + [f">{edges[-1]}"]


def _age_bucket(age_days: pd.Series, edges: tuple[int, ...]) -> pd.Categorical:
    """Ordered bucket of each age: an age of exactly 30 d falls in 0–30."""
    bins = [-np.inf, *edges, np.inf]
    return pd.cut(age_days, bins=bins, labels=bucket_labels(edges), right=True, ordered=True)


# --------------------------------------------------------------------------- helpers
#
# The hot paths work on integer SKU codes (positions in the index of SKUs in stock, -1 for
# others) and day numbers (days since 1970-01-01, NaN for missing dates), aggregated with
# ``np.bincount``: hashing millions of strings or timestamps once per table, not per step.


def _frame(df: pd.DataFrame | None, columns: list[str]) -> pd.DataFrame:
    """``df`` with at least ``columns`` (missing ones null); ``None`` becomes an empty frame."""
    if df is None:
        df = pd.DataFrame(columns=columns)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        df = df.assign(**{c: pd.NA for c in missing})
    return df


def _num(s: pd.Series) -> np.ndarray:
    """A float array with nulls as NaN (nullable Int64/Float64 included)."""
    if not pd.api.types.is_numeric_dtype(s):  # to_numeric on a numeric column still costs a scan
        s = pd.to_numeric(s, errors="coerce")
    return s.to_numpy(dtype="float64", na_value=np.nan)


def _days(s: pd.Series) -> np.ndarray:
    """Day numbers (days since 1970-01-01, time of day dropped) as floats; NaN for missing."""
    if not pd.api.types.is_datetime64_dtype(s):  # converting a datetime column again costs a scan
        s = pd.to_datetime(s, errors="coerce", cache=False)
    d = s.to_numpy().astype("datetime64[D]")
    out = d.astype("int64").astype("float64")
    out[np.isnat(d)] = np.nan
    return out


def _timestamps(days: np.ndarray) -> np.ndarray:
    """Day numbers back to midnight timestamps (NaT for NaN)."""
    out = np.full(len(days), np.datetime64("NaT"), dtype="datetime64[ns]")
    ok = ~np.isnan(days)
    out[ok] = days[ok].astype("int64").astype("datetime64[D]")
    return out


def _sum_by(codes: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    """Per-code sums of ``weights`` over codes >= 0."""
    ok = codes >= 0
    return np.bincount(codes[ok], weights=weights[ok], minlength=n)


def _fmt(values, spec: str) -> np.ndarray:
    """Format numbers for evidence text (empty for nulls); positional, so it mixes with any index."""
    numbers = np.asarray(values, dtype="float64")
    finite = np.isfinite(numbers)
    text = np.full(len(numbers), "", dtype=object)
    text[finite] = [format(v, spec) for v in numbers[finite].tolist()]
    return text


def _join(parts: list[pd.Series], sep: str) -> pd.Series:
    """Join text parts element-wise, skipping empty ones."""
    out = parts[0].fillna("").astype(str)
    for p in parts[1:]:
        p = p.fillna("").astype(str)
        out = out + np.where((out != "") & (p != ""), sep, "") + p
    return out


def _group_starts(codes: np.ndarray) -> np.ndarray:
    """For rows sorted by code, the row index where each row's code group starts."""
    first = np.r_[True, codes[1:] != codes[:-1]]
    return np.maximum.accumulate(np.where(first, np.arange(len(codes)), 0))


# --------------------------------------------------------------------------- stock ages


def _stock_levels(stock: pd.DataFrame | None, as_of_day: float) -> tuple[pd.Index, pd.DataFrame]:
    """SKU stock level over all warehouses at each count date, for SKUs with stock at ``as_of``.

    A warehouse keeps its last count until it is counted again, so the SKU level at a date
    is the sum over warehouses of their latest counts, computed as the running sum of each
    warehouse's change between consecutive counts (works for daily or weekly counts).

    Returns:
        The index of SKUs with a level > 0 at ``as_of`` (their codes are positions in it),
        and their levels: code, day, level — sorted by code then day, one row per count day.
    """
    s = _frame(stock, ["as_of", "sku", "warehouse", "on_hand"])
    day = _days(s["as_of"])
    sku_code, sku_names = pd.factorize(s["sku"].array)
    wh_code, wh_names = pd.factorize(s["warehouse"].array, use_na_sentinel=False)
    qty = np.nan_to_num(_num(s["on_hand"]))
    keep = (day <= as_of_day) & (sku_code >= 0)
    if not keep.all():
        sku_code, wh_code, day, qty = sku_code[keep], wh_code[keep], day[keep], qty[keep]
    if not len(day):
        empty = pd.DataFrame({"code": np.zeros(0, np.int64), "day": np.zeros(0), "level": np.zeros(0)})
        return pd.Index(pd.array([], dtype="string"), name="sku"), empty
    day = day.astype(np.int64)
    base, span = (day.min(), day.max() - day.min() + 1) if len(day) else (0, 1)
    series = sku_code.astype(np.int64) * max(len(wh_names), 1) + wh_code
    key = series * span + (day - base)
    if np.any(key[1:] < key[:-1]):  # exports from the store usually come sorted already
        order = np.argsort(key, kind="stable")
        sku_code, series, day, qty, key = sku_code[order], series[order], day[order], qty[order], key[order]
    same_series = np.r_[False, series[1:] == series[:-1]]
    delta = qty - np.where(same_series, np.r_[0.0, qty[:-1]], 0.0)
    last_of_series = np.r_[~same_series[1:], True]
    final = np.bincount(sku_code[last_of_series], weights=qty[last_of_series], minlength=len(sku_names))
    stocked = final > 0
    new_code = np.cumsum(stocked) - 1
    keep = stocked[sku_code]
    code, day, delta = new_code[sku_code[keep]], day[keep], delta[keep]
    if len(wh_names) > 1:  # events of several warehouses interleave by day
        order = np.argsort(code * span + (day - base), kind="stable")
        code, day, delta = code[order], day[order], delta[order]
    running = np.cumsum(delta)
    level = running - np.r_[0.0, running][_group_starts(code)]
    day_end = np.r_[(code[1:] != code[:-1]) | (day[1:] != day[:-1]), True]
    skus = pd.Index(pd.array(np.asarray(sku_names, dtype=object)[stocked], dtype="string"), name="sku")
    levels = pd.DataFrame({"code": code[day_end], "day": day[day_end].astype("float64"), "level": level[day_end]})
    return skus, levels


def _receipts(
    purchase_orders: pd.DataFrame | None, skus: pd.Index, levels: pd.DataFrame, as_of_day: float
) -> pd.DataFrame:
    """Dated receipts per SKU: PO receipts plus count increases that receipts do not explain.

    Rule: a PO receipt (``qty_received`` at ``received_at``) belongs to the first count on or
    after its day. Between two consecutive counts, the rise of the level that the receipts in
    between do not explain, ``max(0, level_k - level_k-1 - receipts)``, is treated as a receipt
    on the count date (returns put back, transfers, count corrections).

    Returns:
        code, day, qty (> 0).
    """
    po = _frame(purchase_orders, ["sku", "qty_received", "received_at"])
    po_day, po_qty, po_code = _days(po["received_at"]), _num(po["qty_received"]), positions(po["sku"], skus)
    keep = (po_day <= as_of_day) & (po_qty > 0) & (po_code >= 0)
    po_day, po_qty, po_code = po_day[keep], po_qty[keep], po_code[keep]

    code, day, level = (levels[c].to_numpy() for c in ("code", "day", "level"))
    base = np.nanmin(np.r_[day, po_day, 0.0])
    span = np.nanmax(np.r_[day, po_day, 0.0]) - base + 1
    count_key = code * span + (day - base)
    at = np.searchsorted(count_key, po_code * span + (po_day - base), side="left")
    matched = at < len(code)
    matched[matched] &= code[at[matched]] == po_code[matched]
    explained = np.bincount(at[matched], weights=po_qty[matched], minlength=len(code))
    is_next = np.r_[False, code[1:] == code[:-1]]
    rise = level - np.r_[0.0, level[:-1]] - explained
    rises = is_next & (rise > 0)
    return pd.DataFrame(
        {
            "code": np.r_[po_code, code[rises]],
            "day": np.r_[po_day, day[rises]],
            "qty": np.r_[po_qty, rise[rises]],
        }
    )


def _fifo_layers(receipts: pd.DataFrame, on_hand: np.ndarray, start_day: np.ndarray, as_of_day: float) -> pd.DataFrame:
    """Split each SKU's units on hand into dated layers, first in first out.

    The units on hand are the newest receipts: walking receipts from newest to oldest, each
    gives ``clip(on_hand - newer receipts, 0, qty)`` units. Units not covered by any receipt
    are older than all of them and are dated ``start_day`` (the SKU's first count, launch
    date or first receipt, whichever is earliest).

    Returns:
        code, day, units, age_days.
    """
    r = receipts.sort_values(["code", "day"], ascending=[True, False], kind="stable")
    code, day, qty = (r[c].to_numpy() for c in ("code", "day", "qty"))
    running = np.cumsum(qty)
    newer = running - qty - np.r_[0.0, running][_group_starts(code)]
    units = np.clip(on_hand[code] - newer, 0, qty)
    taken = units > 0
    rest = on_hand - np.bincount(code[taken], weights=units[taken], minlength=len(on_hand))
    older = np.flatnonzero(rest > 0)
    layers = pd.DataFrame(
        {
            "code": np.r_[code[taken], older],
            "day": np.r_[day[taken], start_day[older]],
            "units": np.r_[units[taken], rest[older]],
        }
    )
    layers["age_days"] = np.maximum(as_of_day - layers["day"], 0)
    return layers


# --------------------------------------------------------------------------- measures


def _sold_lines(order_lines: pd.DataFrame | None, skus: pd.Index, as_of_day: float, params: SlowParams) -> pd.DataFrame:
    """Paid, not cancelled order lines up to the end of ``as_of``, as numbers.

    Returns:
        code (-1 for SKUs without stock), day, qty, unit_price, live (channel is live), and
        basket: an order number (platform, shop, order_id) for lines within the lookback,
        -1 for older lines.
    """
    ol = _frame(
        order_lines,
        ["platform", "shop", "order_id", "sku", "qty", "unit_price", "created_at", "status", "channel"],
    )
    day = _days(ol["created_at"])
    rows = np.flatnonzero(ol["status"].isin(_SOLD_STATUSES).to_numpy(dtype=bool) & (day <= as_of_day))
    day = day[rows]
    recent = (as_of_day - day) < params.lookback_days
    basket = np.full(len(rows), -1, dtype=np.int64)
    if recent.any():
        parts = [pd.factorize(ol[c].array[rows[recent]], use_na_sentinel=False)[0].astype(np.int64)
                 for c in ("platform", "shop", "order_id")]
        combined = (parts[0] * (parts[1].max() + 1) + parts[1]) * (parts[2].max() + 1) + parts[2]
        basket[recent] = pd.factorize(combined)[0]
    # whole columns looked up, then the sold rows picked from the arrays: picking Arrow
    # strings first copies them (4 M lines at 100,000 SKUs)
    return pd.DataFrame(
        {
            "code": positions(ol["sku"], skus)[rows],
            "day": day,
            "qty": np.nan_to_num(_num(ol["qty"])[rows]),
            "unit_price": _num(ol["unit_price"])[rows],
            "live": ol["channel"].eq("live").fillna(False).to_numpy(dtype=bool)[rows],
            "basket": basket,
        }
    )


def _sales_summary(sold: pd.DataFrame, n: int, as_of_day: float, params: SlowParams) -> pd.DataFrame:
    """Per SKU code: last sale day, units in the window and the lookback, live units, median price."""
    code, day, qty = sold["code"].to_numpy(), sold["day"].to_numpy(), sold["qty"].to_numpy()
    age = as_of_day - day
    in_window = age < params.window_days  # the window_days days ending at as_of
    in_lookback = age < params.lookback_days
    last_sale = np.full(n, np.nan)
    ok = code >= 0
    if ok.any():
        last_sale = pd.Series(day[ok]).groupby(code[ok]).max().reindex(range(n)).to_numpy()
    priced = ok & in_lookback & (sold["unit_price"].to_numpy() > 0)
    median_price = pd.Series(sold["unit_price"].to_numpy()[priced]).groupby(code[priced]).median()
    return pd.DataFrame(
        {
            "last_sale_day": last_sale,
            "sold_window": _sum_by(code, np.where(in_window, qty, 0.0), n),
            "sold_lookback": _sum_by(code, np.where(in_lookback, qty, 0.0), n),
            "live_units": _sum_by(code, np.where(in_lookback & sold["live"].to_numpy(), qty, 0.0), n),
            "median_price": median_price.reindex(range(n)).to_numpy(),
        }
    )


def _returns_summary(
    after_sales: pd.DataFrame | None,
    returns_profile: pd.DataFrame | None,
    skus: pd.Index,
    sold_lookback: np.ndarray,
    as_of_day: float,
    params: SlowParams,
) -> pd.DataFrame:
    """Per SKU: return rate, share of returns restocked, main after-sales reason.

    The rate and restock share come from the forecasting step's ``returns_profile`` when it
    has the SKU; otherwise from ``after_sales`` over the lookback: returned units (kind
    ``return``) / units sold, and the qty-weighted share marked restockable
    (1 when unknown). The main reason is the reason with the most returned units.
    """
    n = len(skus)
    a = _frame(after_sales, ["sku", "qty", "kind", "requested_at", "reason", "restockable"])
    age = as_of_day - _days(a["requested_at"])
    keep = a["kind"].isin(_RETURN_KINDS).to_numpy(dtype=bool) & (age >= 0) & (age < params.lookback_days)
    a = a.loc[keep]
    code = positions(a["sku"], skus)
    qty = np.nan_to_num(_num(a["qty"]))
    restockable = a["restockable"].astype("boolean")
    returned = _sum_by(code, qty, n)
    known = _sum_by(code, np.where(restockable.notna(), qty, 0.0), n)
    restocked = _sum_by(code, np.where(restockable.fillna(False), qty, 0.0), n)
    reasons = pd.DataFrame({"code": code, "reason": a["reason"].astype("string").to_numpy(), "qty": qty})
    main_reason = (
        reasons[(reasons["code"] >= 0) & reasons["reason"].notna()]
        .groupby(["code", "reason"])["qty"]
        .sum()
        .reset_index()
        .sort_values(["code", "qty"], ascending=[True, False])
        .drop_duplicates("code")
        .set_index("code")["reason"]
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        out = pd.DataFrame(
            {
                "return_rate": np.clip(np.where(sold_lookback > 0, returned / sold_lookback, np.nan), 0, 1),
                "restock_share": np.where(known > 0, restocked / known, np.nan),
            },
            index=skus,
        )
    profile = _frame(returns_profile, ["sku", "return_rate", "restock_share"])
    profile = profile.dropna(subset=["sku"]).drop_duplicates("sku", keep="last")
    profile_code = positions(profile["sku"], skus)
    for col in ("return_rate", "restock_share"):
        from_profile = np.full(n, np.nan)
        found = profile_code >= 0
        from_profile[profile_code[found]] = _num(profile[col])[found]
        out[col] = np.where(np.isnan(from_profile), out[col], from_profile)
    out["return_rate"] = out["return_rate"].fillna(0.0)
    out["restock_share"] = out["restock_share"].fillna(1.0).clip(0, 1)
    out["main_return_reason"] = pd.array(main_reason.reindex(range(n)).to_numpy(), dtype="string")
    return out


def _forecast_rate(forecast: pd.DataFrame | None, skus: pd.Index, as_of_day: float) -> np.ndarray:
    """Mean daily forecast per SKU over the horizon (days after ``as_of``); NaN without one."""
    f = _frame(forecast, ["sku", "date", "forecast"])
    ahead = _days(f["date"]) > as_of_day
    code = positions(f["sku"][ahead], skus)
    value = _num(f["forecast"])[ahead]
    ok = ~np.isnan(value)
    n = len(skus)
    with np.errstate(invalid="ignore"):
        return _sum_by(code[ok], value[ok], n) / _sum_by(code[ok], np.ones(ok.sum()), n)


def _trend(daily_demand: pd.DataFrame | None, skus: pd.Index, as_of_day: float, params: SlowParams) -> pd.DataFrame:
    """Mean daily demand in the last ``trend_days`` and the ``trend_days`` before, per SKU.

    Stock-out days (``censored``) are left out: a SKU that stopped selling because it ran
    out is not falling.
    """
    d = _frame(daily_demand, ["sku", "date", "units", "censored"])
    date = pd.to_datetime(d["date"], errors="coerce", cache=False)
    as_of = pd.Timestamp("1970-01-01") + pd.Timedelta(days=as_of_day)
    in_span = (date >= as_of - pd.Timedelta(days=2 * params.trend_days - 1)) & (date < as_of + pd.Timedelta(days=1))
    d = d.loc[in_span.to_numpy(dtype=bool), ["sku", "date", "units", "censored"]]  # the two periods only
    age = as_of_day - _days(d["date"])
    keep = ~d["censored"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    code, units = positions(d["sku"][keep], skus), np.nan_to_num(_num(d["units"])[keep])
    recent = age[keep] < params.trend_days
    n = len(skus)
    t = pd.DataFrame(
        {
            "recent_units": _sum_by(code, np.where(recent, units, 0.0), n),
            "prior_units": _sum_by(code, np.where(recent, 0.0, units), n),
            "recent_days": _sum_by(code, recent.astype(float), n),
            "prior_days": _sum_by(code, (~recent).astype(float), n),
        },
        index=skus,
    )
    t["recent_rate"] = t["recent_units"] / t["recent_days"].where(t["recent_days"] > 0)
    t["prior_rate"] = t["prior_units"] / t["prior_days"].where(t["prior_days"] > 0)
    return t


def _traffic(
    traffic: pd.DataFrame | None, skus: pd.Index, as_of_day: float, params: SlowParams
) -> tuple[pd.DataFrame, float]:
    """Views, clicks and orders per SKU over the last ``traffic_days``, and the shop's orders per view."""
    t = _frame(traffic, ["sku", "date", "views", "clicks", "orders"])
    age = as_of_day - _days(t["date"])
    keep = (age >= 0) & (age < params.traffic_days)
    t = keep_rows(t, keep)  # Arrow's filter: pandas copies the strings row by row
    code = positions(t["sku"], skus)
    counts = {c: np.nan_to_num(_num(t[c])) for c in ("views", "clicks", "orders")}
    total_views = counts["views"].sum()
    shop_conversion = counts["orders"].sum() / total_views if total_views > 0 else np.nan
    sums = pd.DataFrame({c: _sum_by(code, v, len(skus)) for c, v in counts.items()}, index=skus)
    return sums, shop_conversion


def _peer_median(values: pd.Series, category: pd.Series, min_peers: int = 3) -> pd.Series:
    """Median of ``values`` over the SKU's category when it has ``min_peers`` SKUs, else over
    all SKUs when there are that many, else null (nothing to compare with)."""
    by_category = values.groupby(category.fillna("")).transform("median")
    peers = values.groupby(category.fillna("")).transform("size")
    shop = values.median() if len(values) >= min_peers else np.nan
    return by_category.where(peers >= min_peers, shop)


def _category_prices(products: pd.DataFrame) -> pd.DataFrame:
    """Median list price per category, for categories with at least 3 priced SKUs."""
    priced = products.loc[products["price"] > 0, ["category", "price"]].dropna()
    g = priced.groupby("category")["price"]
    stats = pd.DataFrame({"category_median": g.median(), "category_skus": g.size()})
    return stats[stats["category_skus"] >= 3]


def _campaign_shortfall(
    campaigns: pd.DataFrame | None, sold: pd.DataFrame, skus: pd.Index, as_of_day: float, params: SlowParams
) -> pd.DataFrame:
    """The worst under-delivered past campaign per SKU.

    A campaign is past when it ended on or before ``as_of`` within the lookback (a missing
    end means a one-day event). A SKU campaign compares the SKU's units sold from start to
    end with its ``expected_units``; a campaign for all SKUs (``sku`` null) compares the
    shop's units and, when short, counts for every SKU without a shortfall of its own.
    Short means actual < ``campaign_shortfall`` × expected.

    Returns:
        Indexed like ``skus``: campaign, campaign_expected, campaign_actual, campaign_ratio
        (nulls where no campaign fell short).
    """
    c = _frame(campaigns, ["campaign_id", "name", "start", "end", "sku", "expected_units"])
    start = _days(c["start"])
    end = np.where(np.isnan(_days(c["end"])), start, _days(c["end"]))
    expected = _num(c["expected_units"])
    keep = (expected > 0) & (end <= as_of_day) & (as_of_day - end < params.lookback_days)
    c = pd.DataFrame(
        {
            "campaign": c["name"].astype("string").fillna(c["campaign_id"].astype("string")).to_numpy()[keep],
            "shop_wide": c["sku"].isna().to_numpy()[keep],
            "code": positions(c["sku"], skus)[keep],
            "start": start[keep],
            "end": end[keep],
            "expected": expected[keep],
        }
    )
    c = c[c["shop_wide"] | (c["code"] >= 0)].reset_index(drop=True)
    # units sold per day since the earliest campaign start: a range sum is a difference of cumsums
    first = c["start"].min() if len(c) else as_of_day
    day, qty, code = sold["day"].to_numpy(), sold["qty"].to_numpy(), sold["code"].to_numpy()
    in_span = day >= first
    offset = (day[in_span] - first).astype(np.int64)
    shop_cum = np.r_[0.0, np.cumsum(np.bincount(offset, weights=qty[in_span], minlength=int(as_of_day - first) + 1))]
    lo = (c["start"] - first).astype(np.int64).to_numpy()
    hi = (c["end"] - first).astype(np.int64).to_numpy() + 1
    actual = shop_cum[hi] - shop_cum[lo]
    # a SKU's units in a campaign: the same difference, over sold lines sorted by (SKU, day)
    span = int(as_of_day - first) + 1
    own = in_span & (code >= 0)
    key = code[own] * span + (day[own] - first).astype(np.int64)
    order = np.argsort(key, kind="stable")
    key, sku_cum = key[order], np.r_[0.0, np.cumsum(qty[own][order])]
    campaign_key = c["code"].to_numpy() * span
    sku_actual = (sku_cum[np.searchsorted(key, campaign_key + hi, side="left")]
                  - sku_cum[np.searchsorted(key, campaign_key + lo, side="left")])
    c["actual"] = np.where(c["shop_wide"], actual, sku_actual)
    c["ratio"] = c["actual"] / c["expected"]
    short = c[c["ratio"] < params.campaign_shortfall].sort_values("ratio", kind="stable")
    columns = {"campaign": "campaign", "expected": "campaign_expected", "actual": "campaign_actual",
               "ratio": "campaign_ratio"}
    out = pd.DataFrame({name: pd.Series(np.nan, index=range(len(skus)), dtype=object if col == "campaign" else float)
                        for col, name in columns.items()})
    own = short[~short["shop_wide"]].drop_duplicates("code")
    out.loc[own["code"].to_numpy(), list(columns.values())] = own[list(columns)].to_numpy()
    shop_short = short[short["shop_wide"]]
    if len(shop_short):
        worst = shop_short.iloc[0]
        none_yet = out["campaign"].isna()
        for col, name in columns.items():
            out.loc[none_yet, name] = worst[col]
    out.index = skus
    out["campaign"] = out["campaign"].astype("string")
    return out.astype({n: "float64" for n in list(columns.values())[1:]})


# --------------------------------------------------------------------------- flags, causes


def _flags(m: pd.DataFrame, params: SlowParams) -> pd.DataFrame:
    """Boolean flag columns and the evidence of each, in words.

    Rules: dead = no sale for ``dead_days`` (a SKU never sold counts from its first stock);
    slow = average age > ``slow_age_days`` and sell-through < ``sell_through_threshold``;
    overstock = days of cover > ``overstock_days``; season_end = the units that will not sell
    at the forecast rate before the product's ``end_date``.
    """
    f = pd.DataFrame(index=m.index)
    f["dead"] = m["days_without_sale"] >= params.dead_days
    f["slow"] = (m["age_days"] > params.slow_age_days) & (m["sell_through"] < params.sell_through_threshold)
    f["overstock"] = m["days_of_cover"] > params.overstock_days
    f["season_end"] = m["units_after_end"] > 0
    never = m["days_since_last_sale"].isna()
    text = {
        "dead": pd.Series(
            np.where(
                never,
                "dead: never sold, stock held " + _fmt(m["days_without_sale"], ".0f") + " d",
                "dead: no sale in " + _fmt(m["days_without_sale"], ".0f") + " d",
            ),
            index=m.index,
        ),
        "slow": "slow: age " + _fmt(m["age_days"], ".0f") + f" d > {params.slow_age_days}, sell-through "
        + _fmt(m["sell_through"], ".0%") + f" < {params.sell_through_threshold:.0%} over {params.window_days} d",
        "overstock": pd.Series(
            np.where(
                np.isinf(m["days_of_cover"]),
                f"overstock: no demand expected (cover > {params.overstock_days} d)",
                "overstock: " + _fmt(m["days_of_cover"], ".0f") + f" d of cover > {params.overstock_days}",
            ),
            index=m.index,
        ),
        "season_end": "season ends " + m["end_date"].dt.strftime("%Y-%m-%d").fillna("")
        + ": " + _fmt(m["units_after_end"], ".0f") + " of " + _fmt(m["on_hand"], ".0f")
        + " units will not sell before",
    }
    parts = [pd.Series(np.where(f[name], text[name], ""), index=m.index) for name in FLAGS]
    codes = [pd.Series(np.where(f[name], name, ""), index=m.index) for name in FLAGS]
    first = np.select([f[name] for name in FLAGS], list(FLAGS), default="")
    f["flag"] = pd.array(np.where(first == "", None, first), dtype="string")
    f["flags"] = _join(codes, ";").replace("", pd.NA).astype("string")
    f["flag_evidence"] = _join(parts, "; ")
    return f


def _causes(m: pd.DataFrame, shop_conversion: float, params: SlowParams) -> pd.DataFrame:
    """Likely causes in :data:`CAUSES` order; the first that holds is ``cause``.

    Rules: returns high = return rate >= ``high_return_rate`` and >= (1 + ``return_excess``) ×
    the peers' median (``peer_return_rate``; live commerce returns a lot, so only a rate above
    its peers explains a slow SKU); traffic without conversion = views >= ``min_views`` in the
    last ``traffic_days`` and orders/views < ``conversion_ratio`` × the shop's; price above
    category = price > (1 + ``price_premium``) × category median; falling trend = recent mean
    daily demand <= (1 - ``trend_drop``) × the earlier one, with >= ``trend_min_units`` units
    earlier; campaign shortfall = see :func:`_campaign_shortfall`.
    """
    conversion = m["orders"] / m["views"].where(m["views"] > 0)
    premium = m["price"] / m["category_median"] - 1
    change = m["recent_rate"] / m["prior_rate"] - 1
    checks = {
        "returns_high": (m["return_rate"] >= params.high_return_rate)
        & ~(m["return_rate"] < (1 + params.return_excess) * m["peer_return_rate"]),
        "traffic_no_conversion": (m["views"] >= params.min_views)
        & (conversion < params.conversion_ratio * shop_conversion),
        "price_above_category": premium > params.price_premium,
        "falling_trend": (m["prior_units"] >= params.trend_min_units) & (change <= -params.trend_drop),
        "campaign_shortfall": m["campaign"].notna(),
    }
    evidence = {
        "returns_high": "returns high: " + _fmt(m["return_rate"], ".0%") + " of units"
        + np.where(m["peer_return_rate"].notna(), " vs " + _fmt(m["peer_return_rate"], ".0%") + " for its peers", "")
        + ", main reason " + m["main_return_reason"].fillna("unknown").astype(str),
        "traffic_no_conversion": "traffic without conversion: " + _fmt(m["views"], ",.0f") + " views, "
        + _fmt(m["clicks"], ",.0f") + " clicks, " + _fmt(m["orders"], ",.0f") + " orders ("
        + _fmt(conversion, ".2%") + f" of views vs shop {shop_conversion:.2%})",
        "price_above_category": "price " + _fmt(m["price"], ".2f") + " is " + _fmt(premium, ".0%") + " above the "
        + m["category"].fillna("").astype(str) + " median " + _fmt(m["category_median"], ".2f"),
        "falling_trend": "falling trend: " + _fmt(m["recent_rate"], ".1f") + f"/d in the last {params.trend_days} d vs "
        + _fmt(m["prior_rate"], ".1f") + "/d before (" + _fmt(change, "+.0%") + ")",
        "campaign_shortfall": "campaign " + m["campaign"].fillna("").astype(str) + " sold "
        + _fmt(m["campaign_actual"], ".0f") + " of " + _fmt(m["campaign_expected"], ".0f") + " planned units ("
        + _fmt(m["campaign_ratio"], ".0%") + ")",
    }
    conditions = [checks[c].fillna(False).to_numpy(dtype=bool) for c in CAUSES[:-1]]
    out = pd.DataFrame(index=m.index)
    out["cause"] = np.select(conditions, list(CAUSES[:-1]), default="unexplained")
    out["cause_evidence"] = np.select(
        conditions, [np.asarray(evidence[c], dtype=object) for c in CAUSES[:-1]], default="no cause found in the data"
    )
    codes = [pd.Series(np.where(cond, c, ""), index=m.index) for c, cond in zip(CAUSES, conditions)]
    out["causes"] = _join(codes, ";").replace("", "unexplained")
    return out


# --------------------------------------------------------------------------- bundles, actions


def _bundle_partners(
    sold: pd.DataFrame,
    skus: pd.Index,
    flagged: np.ndarray,
    fast: np.ndarray,
    partner_rate: np.ndarray,
    names: pd.Series,
    params: SlowParams,
) -> pd.DataFrame:
    """Fast movers bought in the same orders as each flagged SKU (market-basket rules).

    Baskets are the orders (platform, shop, order_id) of the lookback. For a flagged SKU A and
    a fast mover B: together = orders with both, support = together / orders, confidence =
    together / orders with A, lift = support / (share of orders with A × share with B). Kept
    when together >= ``bundle_min_orders`` and lift >= ``bundle_min_lift``; ranked by lift,
    then together, at most ``max_partners`` per SKU.
    """
    n = len(skus)
    basket, code = sold["basket"].to_numpy(), sold["code"].to_numpy()
    recent = basket >= 0
    n_orders = basket.max() + 1 if recent.any() else 0  # baskets are numbered 0..k-1
    stocked = recent & (code >= 0)
    pairs = pd.DataFrame({"basket": basket[stocked], "code": code[stocked]}).drop_duplicates()
    orders_with = np.bincount(pairs["code"].to_numpy(), minlength=n).astype(float)
    left = pairs[flagged[pairs["code"].to_numpy()]]
    right = pairs[fast[pairs["code"].to_numpy()]].rename(columns={"code": "partner"})
    both = left.merge(right, on="basket")
    both = both[both["code"] != both["partner"]]
    p = both.groupby(["code", "partner"]).size().rename("together_orders").reset_index()
    n_a, n_b = orders_with[p["code"].to_numpy()], orders_with[p["partner"].to_numpy()]
    p["support"] = p["together_orders"] / max(n_orders, 1)
    p["confidence"] = p["together_orders"] / n_a
    p["lift"] = p["together_orders"] * n_orders / (n_a * n_b)
    p = p[(p["together_orders"] >= params.bundle_min_orders) & (p["lift"] >= params.bundle_min_lift)]
    p = p.sort_values(["code", "lift", "together_orders"], ascending=[True, False, False], kind="stable")
    p["rank"] = p.groupby("code").cumcount() + 1
    p = p[p["rank"] <= params.max_partners].reset_index(drop=True)
    partner = p["partner"].to_numpy()
    return pd.DataFrame(
        {
            "sku": pd.array(skus.to_numpy()[p["code"].to_numpy()], dtype="string"),
            "partner_sku": pd.array(skus.to_numpy()[partner], dtype="string"),
            "partner_name": pd.array(names.to_numpy()[partner], dtype="string"),
            "together_orders": p["together_orders"].to_numpy(dtype="int64"),
            "support": p["support"].to_numpy(dtype="float64"),
            "confidence": p["confidence"].to_numpy(dtype="float64"),
            "lift": p["lift"].to_numpy(dtype="float64"),
            "partner_rate": partner_rate[partner],
            "rank": p["rank"].to_numpy(dtype="int64"),
        }
    )


def _actions(m: pd.DataFrame, params: SlowParams) -> pd.DataFrame:
    """The proposed action per SKU, its suggested price, clearing days and cash back.

    Actions are tried in :data:`ACTIONS` order; the first whose rule holds *and* whose
    recovery exceeds the holding cost of the stock over its clearing time is taken
    (holding = capital × ``holding_rate_month`` × days / 30); when none does, ``write_off``.

    - bundle: a basket partner exists and (own rate + ``bundle_attach_rate`` × partner rate)
      clears the stock within ``clear_target_days``; price × (1 − ``bundle_discount``).
    - markdown: the smallest step of ``discounts`` that clears within the target, the rate
      lifted by constant elasticity ``(1 - d) ** -price_elasticity``.
    - live_driver (引流款): sold in the live room in the lookback, returns below
      ``high_return_rate``, and ``live_driver_units_per_week`` clears within the target;
      price = min(unit cost × ``live_driver_cost_multiple``, price at the deepest discount).
    - other_channels: channels configured; they take all units in ``channel_days`` at
      ``channel_price_share`` of the price, less ``channel_fee_rate``.

    Expected recovery = units on hand (all cleared) × suggested price × (1 − fee rate).
    """
    q = m["on_hand"].to_numpy(dtype=float)
    rate = m["daily_rate"].to_numpy(dtype=float)
    price = m["price"].to_numpy(dtype=float)
    cost = m["unit_cost"].to_numpy(dtype=float)
    capital_month = np.nan_to_num(q * cost * params.holding_rate_month)
    target = params.clear_target_days
    with np.errstate(divide="ignore", invalid="ignore"):
        bundle_rate = rate + params.bundle_attach_rate * np.nan_to_num(m["partner_rate"].to_numpy(dtype=float))
        bundle_days = np.where(m["bundle_partner"].notna(), q / bundle_rate, np.inf)

        steps = np.asarray(params.discounts)
        lifted = rate[:, None] * (1 - steps[None, :]) ** -params.price_elasticity
        step_days = q[:, None] / lifted
        clears = step_days <= target
        first_step = clears.argmax(axis=1)
        markdown_ok = clears.any(axis=1)
        discount = np.where(markdown_ok, steps[first_step], np.nan)
        markdown_days = np.where(markdown_ok, step_days[np.arange(len(q)), first_step], np.inf)

        deepest_price = price * (1 - steps[-1])
        driver_price = np.fmin(cost * params.live_driver_cost_multiple, deepest_price)
        driver_days = q / (params.live_driver_units_per_week / 7)
        driver_rule = (m["live_units"].to_numpy() > 0) & (m["return_rate"].to_numpy() < params.high_return_rate)

    options = {
        "bundle": (bundle_days <= target, price * (1 - params.bundle_discount), bundle_days, params.shop_fee_rate),
        "markdown": (markdown_ok, price * (1 - discount), markdown_days, params.shop_fee_rate),
        "live_driver": (driver_rule & (driver_days <= target), driver_price, driver_days, params.shop_fee_rate),
        "other_channels": (
            np.full(len(q), bool(params.channels)),
            price * params.channel_price_share,
            np.full(len(q), float(params.channel_days)),
            params.channel_fee_rate,
        ),
    }
    feasible, prices, days, recoveries = [], [], [], []
    for rule, opt_price, opt_days, fee in options.values():
        recovery = np.nan_to_num(q * opt_price * (1 - fee))
        holding = capital_month * np.where(np.isfinite(opt_days), opt_days, 0) / 30
        feasible.append(rule & (recovery > holding))
        prices.append(opt_price)
        days.append(opt_days)
        recoveries.append(recovery)
    names = list(options)
    out = pd.DataFrame(index=m.index)
    out["action"] = np.select(feasible, names, default="write_off")
    out["discount"] = np.where(out["action"] == "markdown", discount, np.nan)
    out["suggested_price"] = np.select(feasible, prices, default=np.nan)
    out["clear_days"] = np.select(feasible, days, default=np.nan)
    out["expected_recovery"] = np.select(feasible, recoveries, default=0.0)

    channel_recovery, channel_holding = recoveries[3], capital_month * params.channel_days / 30
    channel_names = " / ".join(params.channels)
    evidence = {
        "bundle": "bundle with " + m["bundle_partner"].fillna("").astype(str) + " ("
        + m["partner_name"].fillna("").astype(str) + "): bought together in " + _fmt(m["together_orders"], ".0f")
        + " orders, lift " + _fmt(m["lift"], ".1f") + "; clears in " + _fmt(bundle_days, ".0f")
        + " d at " + _fmt(prices[0], ".2f"),
        "markdown": "markdown " + _fmt(discount, ".0%") + " to " + _fmt(prices[1], ".2f") + ": clears "
        + _fmt(q, ".0f") + " units in " + _fmt(markdown_days, ".0f") + f" d (elasticity {params.price_elasticity:g})",
        "live_driver": "live traffic driver (引流款) at " + _fmt(driver_price, ".2f") + ": sold "
        + _fmt(m["live_units"], ".0f") + " units in live sessions, clears in "
        + _fmt(driver_days, ".0f") + " d",
        "other_channels": f"other channels ({channel_names}) at {params.channel_price_share:.0%} of price, "
        f"{params.channel_fee_rate:.0%} fees: " + _fmt(prices[3], ".2f") + " a unit, takes all in "
        f"{params.channel_days} d",
        "write_off": pd.Series(
            np.where(
                bool(params.channels),
                f"write-off/donation: nothing clears within {target} d; other channels would bring "
                + _fmt(channel_recovery, ",.0f") + " against " + _fmt(channel_holding, ",.0f")
                + f" holding cost over {params.channel_days} d",
                f"write-off/donation: nothing clears within {target} d and no clearance channel is set",
            )
        ),
    }
    out["action_evidence"] = np.select(
        [out["action"].to_numpy() == a for a in ACTIONS],
        [np.asarray(evidence[a], dtype=object) for a in ACTIONS],
        default="",
    )
    return out


# --------------------------------------------------------------------------- entry point

_OUTPUT_COLUMNS = [
    "sku", "name", "variant", "category", "supplier", "on_hand", "unit_cost", "price",
    "age_days", "oldest_age_days", "age_bucket", "sold_window", "sell_through", "last_sale",
    "days_since_last_sale", "daily_rate", "days_of_cover", "capital", "holding_cost_month",
    "return_rate", "main_return_reason", "flag", "flags", "cause", "causes", "action",
    "discount", "suggested_price", "clear_days", "expected_recovery", "bundle_partner", "reason",
]


def input_windows(params: SlowParams) -> dict[str, dict]:
    """The rows :func:`find_slow_movers` reads of each dated input, as keyword arguments of
    :meth:`restock.notebook.RunContext.load` (``read`` for daily_demand); the others it reads whole.

    Lines and after-sales of the last ``lookback_days``, plus each SKU's last sale before
    them (days since the last sale has no limit); ``traffic_days`` of traffic;
    ``2 * trend_days`` of demand.
    """
    return {
        "order_lines": {"days": params.lookback_days, "older_if": {"status": list(_SOLD_STATUSES)},
                        "latest_older_by": "sku"},
        "after_sales": {"days": params.lookback_days},
        "traffic": {"days": params.traffic_days},
        "daily_demand": {"days": 2 * params.trend_days},
    }


def find_slow_movers(
    products: pd.DataFrame,
    stock: pd.DataFrame,
    purchase_orders: pd.DataFrame | None,
    order_lines: pd.DataFrame | None,
    after_sales: pd.DataFrame | None = None,
    traffic: pd.DataFrame | None = None,
    campaigns: pd.DataFrame | None = None,
    daily_demand: pd.DataFrame | None = None,
    forecast: pd.DataFrame | None = None,
    returns_profile: pd.DataFrame | None = None,
    as_of: str | pd.Timestamp | None = None,
    params: SlowParams | None = None,
) -> SlowResult:
    """Find the SKUs that tie up cash, say why, and propose what to do with each.

    Args:
        products, stock, purchase_orders, order_lines, after_sales, traffic, campaigns: the
            canonical tables (``restock.schema``), cut at ``as_of`` by the caller; optional
            ones may be ``None`` or empty.
        daily_demand, forecast, returns_profile: the forecasting step's tables (``None`` or
            empty: sales rate over the window and return rates from ``after_sales``).
        as_of: the day of the analysis (inclusive).
        params: thresholds and action rules; defaults when ``None``.

    Returns:
        :class:`SlowResult`. The measures: ``age_days`` = FIFO unit-weighted average age of
        the units on hand (``age_bucket`` is its bucket); ``sell_through`` = units sold in the
        window / (units sold + units on hand at ``as_of``); ``daily_rate`` = mean daily
        forecast (else window sales / window days) net of returns put back to stock
        (× (1 − return_rate × restock_share)); ``days_of_cover`` = on_hand / daily_rate
        (inf at zero rate); ``capital`` = on_hand × unit_cost; ``holding_cost_month`` =
        capital × ``holding_rate_month``.

    What is read (a caller may load only this; ``L`` = ``lookback_days``):

    * products: sku, name, variant, category, supplier, unit_cost, price, launch_date,
      end_date.
    * stock: as_of, sku, warehouse, on_hand — every count on or before ``as_of`` (stock
      ages go back to the oldest unit on hand).
    * purchase_orders: sku, qty_received, received_at — every receipt (FIFO layers).
    * order_lines: platform, shop, order_id, sku, qty, unit_price, created_at, status,
      channel — every paid line (days since the last sale has no limit); baskets, live
      sales and prices use the last ``L`` days only.
    * after_sales: sku, qty, kind, requested_at, reason, restockable — the last ``L`` days.
    * traffic: sku, date, views, clicks, orders — the last ``traffic_days`` days.
    * campaigns: campaign_id, name, start, end, sku, expected_units — campaigns ended
      within the last ``L`` days.
    * daily_demand: sku, date, units, censored — **only the last 2 × trend_days days**.
    * forecast: sku, date, forecast — dates after ``as_of``.
    * returns_profile: sku, return_rate, restock_share.

    Raises:
        ValueError: ``as_of`` is missing or not a date.
    """
    params = params or SlowParams()
    if as_of is None or pd.isna(pd.to_datetime(as_of, errors="coerce")):
        raise ValueError(f"as_of must be a date; got {as_of!r}")
    as_of = pd.Timestamp(as_of).normalize()
    as_of_day = float((as_of - pd.Timestamp("1970-01-01")).days)

    skus, levels = _stock_levels(stock, as_of_day)
    n = len(skus)
    last_row = np.r_[levels["code"].to_numpy()[1:] != levels["code"].to_numpy()[:-1], True] if n else []
    on_hand = levels["level"].to_numpy()[last_row] if n else np.zeros(0)
    first_count = levels.groupby("code")["day"].min().reindex(range(n)).to_numpy()

    prod = _frame(products, ["sku", "name", "variant", "category", "supplier", "unit_cost", "price", "launch_date",
                             "end_date"])
    prod = prod.dropna(subset=["sku"]).drop_duplicates("sku", keep="last")
    prod = prod.set_index(pd.Index(prod["sku"].astype("string"), name="sku")).drop(columns="sku")
    prod["unit_cost"] = _num(prod["unit_cost"])
    prod["price"] = _num(prod["price"])
    m = prod.reindex(skus)

    receipts = _receipts(purchase_orders, skus, levels, as_of_day)
    first_receipt = receipts.groupby("code")["day"].min().reindex(range(n)).to_numpy()
    start_day = np.fmin(np.fmin(first_count, _days(m["launch_date"])), first_receipt)
    layers = _fifo_layers(receipts, on_hand, start_day, as_of_day)

    sold = _sold_lines(order_lines, skus, as_of_day, params)
    sales = _sales_summary(sold, n, as_of_day, params)
    m["price"] = m["price"].fillna(pd.Series(sales["median_price"].to_numpy(), index=skus))
    m["end_date"] = pd.to_datetime(m["end_date"], errors="coerce", cache=False).dt.normalize()
    m["on_hand"] = on_hand
    m["age_days"] = _sum_by(layers["code"].to_numpy(), (layers["units"] * layers["age_days"]).to_numpy(), n) / on_hand
    oldest = pd.Series(layers["age_days"].to_numpy()).groupby(layers["code"].to_numpy()).max()
    m["oldest_age_days"] = oldest.reindex(range(n)).to_numpy()
    m["age_bucket"] = _age_bucket(m["age_days"], params.age_buckets)
    for col in ("sold_window", "sold_lookback", "live_units"):
        m[col] = sales[col].to_numpy()
    m["last_sale"] = _timestamps(sales["last_sale_day"].to_numpy())
    m["sell_through"] = m["sold_window"] / (m["sold_window"] + m["on_hand"])
    m["days_since_last_sale"] = as_of_day - sales["last_sale_day"].to_numpy()
    m["days_without_sale"] = m["days_since_last_sale"].fillna(pd.Series(as_of_day - start_day, index=skus))

    m = m.join(_returns_summary(after_sales, returns_profile, skus, m["sold_lookback"].to_numpy(), as_of_day, params))
    m["peer_return_rate"] = _peer_median(m["return_rate"], m["category"])
    forecast_rate = _forecast_rate(forecast, skus, as_of_day)
    gross_rate = np.where(np.isnan(forecast_rate), m["sold_window"] / params.window_days, forecast_rate)
    m["daily_rate"] = gross_rate * (1 - m["return_rate"] * m["restock_share"])
    with np.errstate(divide="ignore", invalid="ignore"):
        m["days_of_cover"] = np.where(m["daily_rate"] > 0, m["on_hand"] / m["daily_rate"], np.inf)
    m["capital"] = m["on_hand"] * m["unit_cost"]
    m["holding_cost_month"] = m["capital"] * params.holding_rate_month
    days_left = (m["end_date"] - as_of).dt.days.clip(lower=0)
    m["units_after_end"] = (m["on_hand"] - m["daily_rate"] * days_left).clip(lower=0).where(days_left.notna(), 0.0)

    flags = _flags(m, params)
    is_flagged = flags["flag"].notna().to_numpy()

    traffic_sums, shop_conversion = _traffic(traffic, skus, as_of_day, params)
    trend = _trend(daily_demand, skus, as_of_day, params)
    m = m.join(traffic_sums).join(trend[["recent_rate", "prior_rate", "prior_units"]])
    m = m.join(_category_prices(prod), on="category")
    m = m.join(_campaign_shortfall(campaigns, sold, skus, as_of_day, params))
    causes = _causes(m, shop_conversion, params)

    fast = ~is_flagged & (m["sell_through"] >= params.fast_sell_through).to_numpy()
    partners = _bundle_partners(sold, skus, is_flagged, fast, m["daily_rate"].to_numpy(), m["name"], params)
    best = partners[partners["rank"] == 1].set_index("sku")
    for col, src in (("bundle_partner", "partner_sku"), ("partner_name", "partner_name"),
                     ("partner_rate", "partner_rate"), ("together_orders", "together_orders"), ("lift", "lift")):
        m[col] = best[src].reindex(skus)
    actions = _actions(m, params)

    out = m.assign(
        flag=flags["flag"],
        flags=flags["flags"],
        cause=causes["cause"].where(is_flagged),
        causes=causes["causes"].where(is_flagged),
        reason=_join([flags["flag_evidence"], causes["cause_evidence"], actions["action_evidence"]], " · "),
        **{c: actions[c] for c in ("action", "discount", "suggested_price", "clear_days", "expected_recovery")},
    )
    out.loc[~is_flagged, ["action", "reason", "bundle_partner"]] = pd.NA
    out.loc[~is_flagged, ["discount", "suggested_price", "clear_days", "expected_recovery"]] = np.nan
    out = out.reset_index()
    out["severity"] = out["flag"].map({f: i for i, f in enumerate(FLAGS)}).fillna(len(FLAGS))
    out = out.sort_values(["severity", "capital", "sku"], ascending=[True, False, True], na_position="last")
    out = out[_OUTPUT_COLUMNS].reset_index(drop=True)
    for col in ("sku", "name", "variant", "category", "supplier", "main_return_reason", "flag", "flags", "cause",
                "causes", "action", "bundle_partner", "reason"):
        out[col] = out[col].astype("string")
    out["on_hand"] = out["on_hand"].round().astype("int64")
    for col in ("oldest_age_days", "days_since_last_sale"):
        out[col] = out[col].round().astype("Int64")

    layer_code = layers["code"].to_numpy()
    buckets = (
        pd.DataFrame(
            {
                "sku": pd.array(skus.to_numpy()[layer_code], dtype="string"),
                "age_bucket": _age_bucket(layers["age_days"], params.age_buckets),
                "units": layers["units"].to_numpy(),
                "value": layers["units"].to_numpy() * m["unit_cost"].to_numpy()[layer_code],
            }
        )
        .groupby(["sku", "age_bucket"], observed=True)[["units", "value"]]
        .sum(min_count=1)
        .reset_index()
    )
    buckets["units"] = buckets["units"].fillna(0.0)
    return SlowResult(slow_movers=out, age_buckets=buckets, bundle_partners=partners)
