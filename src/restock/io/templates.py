"""The restock templates: products, stock, purchase orders, campaigns, traffic.

A template is a CSV or XLSX whose headers are canonical column names (English) or
their Chinese aliases (:data:`TEMPLATES`); the kind is recognised from the headers.
Blank templates with one example row live in ``data/templates/`` and are written by
:func:`template_frame`, so the files and this module cannot drift apart.

Rows are checked, in order (first failure wins): cells that do not parse
(``non_numeric_quantity``, ``non_numeric_amount``, ``non_numeric_value``,
``unparseable_date``), required values missing (``missing_<column>``), negative
numbers (``negative_value``), a purchase order of 0 units (``non_positive_quantity``),
an unknown campaign kind (``unknown_kind``), a campaign ending before it starts
(``end_before_start``), a malformed bundle (``invalid_bundle``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from restock.io._common import (
    ExportError,
    RowFaults,
    assemble,
    flag_missing,
    map_words,
    parse_columns,
    read_rows,
)
from restock.schema import CAMPAIGN_KINDS, TABLES, AdapterResult

__all__ = [
    "TEMPLATES",
    "EXAMPLES",
    "CAMPAIGN_KIND_WORDS",
    "template_kind",
    "template_hits",
    "template_frame",
    "read_template",
]

TEMPLATES: dict[str, dict[str, str]] = {
    "products": {
        "sku": "商家编码", "spu": "款号", "name": "商品名称", "category": "类目", "variant": "规格",
        "unit_cost": "成本价", "price": "售价", "supplier": "供应商", "lead_time_days": "采购周期天数",
        "lead_time_max_days": "最长采购周期天数", "express_lead_time_days": "加急周期天数",
        "moq": "起订量", "case_pack": "箱规", "launch_date": "上架日期", "end_date": "下架日期",
        "bundle_components": "组合明细",
    },
    "stock": {"as_of": "盘点日期", "sku": "商家编码", "warehouse": "仓库", "on_hand": "库存数量", "reserved": "锁定数量"},
    "purchase_orders": {
        "po_id": "采购单号", "sku": "商家编码", "supplier": "供应商", "qty_ordered": "采购数量",
        "qty_received": "已入库数量", "ordered_at": "下单日期", "eta": "预计到货日期", "received_at": "入库日期",
    },
    "campaigns": {
        "campaign_id": "活动编号", "name": "活动名称", "kind": "活动类型", "start": "开始时间", "end": "结束时间",
        "sku": "商家编码", "expected_units": "预计销量", "uplift": "预计倍数", "reservations": "预约人数",
        "creator_id": "达人ID",
    },
    "traffic": {
        "date": "日期", "sku": "商家编码", "views": "浏览量", "clicks": "点击量", "add_to_cart": "加购数",
        "favorites": "收藏数", "orders": "订单数",
    },
}
"""Template kind -> {canonical column (English header): Chinese header}."""

EXAMPLES: dict[str, dict[str, str]] = {
    "products": {
        "sku": "TEE-BLK-M", "spu": "TEE-2025", "name": "纯棉短袖T恤 黑色 M", "category": "T恤", "variant": "黑色/M",
        "unit_cost": "28.50", "price": "79.00", "supplier": "杭州织造", "lead_time_days": "12",
        "lead_time_max_days": "20", "express_lead_time_days": "5", "moq": "100", "case_pack": "50",
        "launch_date": "2025-03-01", "end_date": "", "bundle_components": "",
    },
    "stock": {"as_of": "2025-06-30", "sku": "TEE-BLK-M", "warehouse": "杭州仓", "on_hand": "320", "reserved": "40"},
    "purchase_orders": {
        "po_id": "PO-20250620-01", "sku": "TEE-BLK-M", "supplier": "杭州织造", "qty_ordered": "500",
        "qty_received": "0", "ordered_at": "2025-06-20", "eta": "2025-07-02", "received_at": "",
    },
    "campaigns": {
        "campaign_id": "LIVE-0705", "name": "周六晚场直播", "kind": "live", "start": "2025-07-05 19:00:00",
        "end": "2025-07-05 23:00:00", "sku": "TEE-BLK-M", "expected_units": "300", "uplift": "",
        "reservations": "1200", "creator_id": "",
    },
    "traffic": {
        "date": "2025-06-30", "sku": "TEE-BLK-M", "views": "5400", "clicks": "610", "add_to_cart": "95",
        "favorites": "40", "orders": "38",
    },
}
"""One example row per template kind, as text (what the shipped CSV holds)."""

CAMPAIGN_KIND_WORDS = {
    **{k: k for k in CAMPAIGN_KINDS},
    "直播": "live", "大促": "promotion", "达人合作": "creator", "投流": "ads",
}
"""活动类型 words (English or Chinese) -> canonical campaign kind."""

_DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y/%m/%d %H:%M:%S")
_BUNDLE = r"[^*;]+\*\d+(;[^*;]+\*\d+)*"


def _aliases(kind: str) -> dict[str, str]:
    """Header (lower-case English or Chinese) -> canonical column, for one kind."""
    return {alias.lower(): column for column, zh in TEMPLATES[kind].items() for alias in (column, zh)}


def template_kind(headers: Sequence[str]) -> str | None:
    """The template kind whose headers these are, or None.

    A kind qualifies when every header is one of its columns (English or Chinese) and
    its required columns are all present; among those, the kind matching the most
    headers wins (``sku`` alone fits every kind).
    """
    names = [str(h).strip().lower() for h in headers if str(h).strip()]
    best, best_hits = None, 0
    for kind in TEMPLATES:
        aliases = _aliases(kind)
        columns = {aliases[n] for n in names if n in aliases}
        fits = all(n in aliases for n in names) and set(TABLES[kind].required) <= columns
        if fits and len(columns) > best_hits:
            best, best_hits = kind, len(columns)
    return best


def template_hits(headers: Sequence[str]) -> int:
    """How many headers name a column of the closest template (to tell a near miss)."""
    names = [str(h).strip().lower() for h in headers if str(h).strip()]
    return max(sum(n in _aliases(kind) for n in names) for kind in TEMPLATES)


def template_frame(kind: str, language: str = "en") -> pd.DataFrame:
    """A template's header and example row, as text.

    Args:
        kind: one of :data:`TEMPLATES`.
        language: ``"en"`` (canonical names) or ``"zh"`` (Chinese aliases).

    Raises:
        ValueError: unknown kind or language.
    """
    if kind not in TEMPLATES:
        raise ValueError(f"kind must be one of {sorted(TEMPLATES)}; got {kind!r}")
    if language not in ("en", "zh"):
        raise ValueError(f"language must be 'en' or 'zh'; got {language!r}")
    headers = TEMPLATES[kind] if language == "zh" else {c: c for c in TEMPLATES[kind]}
    return pd.DataFrame([{headers[c]: EXAMPLES[kind][c] for c in TEMPLATES[kind]}], dtype="string")


def read_template(path: str | Path) -> AdapterResult:
    """Read a filled-in template (CSV or XLSX, English or Chinese headers).

    Raises:
        ExportError: unreadable file, or headers that fit no template (naming the
            unknown headers).
    """
    frame = read_rows(path)
    kind = template_kind(frame.columns)
    if kind is None:
        raise ExportError(f"{Path(path).name}: {_no_template_message(frame.columns)}")
    return _template_to_result(frame, path, kind)


def _no_template_message(headers: Sequence[str]) -> str:
    """Say which headers matched no template column, or which required ones are missing."""
    names = [str(h).strip().lower() for h in headers if str(h).strip()]
    closest = max(TEMPLATES, key=lambda k: sum(n in _aliases(k) for n in names))  # first on ties
    aliases = _aliases(closest)
    unknown = [h for h in headers if str(h).strip().lower() not in aliases]
    if unknown:
        return f"not a restock template; unknown columns for {closest}: {', '.join(map(str, unknown))}"
    present = {aliases[n] for n in names}
    missing = [c for c in TABLES[closest].required if c not in present]
    return f"not a {closest} template; missing columns: {', '.join(missing)}"


def _template_to_result(frame: pd.DataFrame, source: str | Path, kind: str) -> AdapterResult:
    """Parse and check one template's rows."""
    aliases = _aliases(kind)
    sources = {aliases[str(h).strip().lower()]: h for h in frame.columns if str(h).strip()}
    faults = RowFaults(len(frame))
    rows = parse_columns(frame, sources, kind, faults, date_formats=_DATE_FORMATS, as_text=("kind",))
    flag_missing(rows, TABLES[kind].required, faults, sources)
    for column in rows.columns:
        if pd.api.types.is_numeric_dtype(pd.api.types.pandas_dtype(TABLES[kind].columns[column])):
            faults.add(rows[column] < 0, "negative_value", sources[column], rows[column], "expected 0 or more")
    if kind == "purchase_orders":
        faults.add(rows["qty_ordered"] == 0, "non_positive_quantity", sources["qty_ordered"],
                   rows["qty_ordered"], "expected a quantity above 0")
        rows["source"] = "template"
    if kind == "campaigns":
        words = rows["kind"]
        rows["kind"], unknown = map_words(words, CAMPAIGN_KIND_WORDS, case_insensitive=True)
        faults.add(unknown, "unknown_kind", sources["kind"], words,
                   "expected one of " + ", ".join(CAMPAIGN_KIND_WORDS))
        if "end" in rows:
            faults.add(rows["end"] < rows["start"], "end_before_start", sources["end"], rows["end"],
                       "expected an end at or after the start")
    if kind == "products" and "bundle_components" in rows:
        written = rows["bundle_components"]
        bundle = written.str.replace(" ", "", regex=False)
        rows["bundle_components"] = bundle
        faults.add(~bundle.str.fullmatch(_BUNDLE).fillna(True).astype(bool), "invalid_bundle",
                   sources["bundle_components"], written, 'expected "SKU-A*1;SKU-B*2"')
    every_row = np.ones(len(frame), dtype=bool)
    return assemble(source, "template", frame, 2, {kind: (rows, every_row)}, faults, kind)
