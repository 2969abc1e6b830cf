"""抖店 (Douyin shop) exports: the order export and the after-sales export.

Both are CSV, UTF-8 with a BOM or GBK/GB18030. Their quirks, all handled here:
ID and text cells carry a leading tab so Excel keeps every digit; ``-`` means empty;
amounts may hold thousands separators (``"1,299.00"``); times come as
``2025-06-18 20:15:33`` or ``2025/06/18 20:15:33``. Columns are found by name, never by
position, and optional columns may be absent.

Order export → ``order_lines``: one row per 子订单 (sub-order = order line);
``line_id`` = 子订单编号, ``sku`` = 商家编码 (the seller's SKU). When 商家编码 is blank
the platform's ids stand in: ``"<商品ID>:<商品规格>"`` (or 商品ID alone without a
规格), so the line is still counted; a row with neither is quarantined ``missing_sku``.

After-sales export → ``after_sales``: ``restockable`` follows the rule "goods came
back and can be sold again": kind is return or exchange, the status is a success and
the reason is not a quality problem or damage (质量问题, 破损).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from restock.io._common import (
    RowFaults,
    assemble,
    constant,
    flag_missing,
    map_required_words,
    map_words,
    parse_columns,
    read_rows,
    require_columns,
)
from restock.schema import AdapterResult

__all__ = [
    "ORDER_COLUMNS",
    "ORDER_REQUIRED",
    "AFTER_SALES_COLUMNS",
    "AFTER_SALES_REQUIRED",
    "ORDER_STATUSES",
    "CHANNELS",
    "AFTER_SALE_KINDS",
    "SUCCESS_STATUSES",
    "NOT_RESELLABLE_REASONS",
    "read_orders",
    "read_after_sales",
]

ORDER_COLUMNS: dict[str, str] = {
    "order_id": "主订单编号",
    "line_id": "子订单编号",
    "name": "选购商品",
    "variant": "商品规格",
    "qty": "商品数量",
    "product_id": "商品ID",
    "sku": "商家编码",
    "unit_price": "商品单价",
    "paid_amount": "订单应付金额",
    "created_at": "订单提交时间",
    "paid_at": "支付完成时间",
    "status": "订单状态",
    "after_sale_status": "售后状态",
    "cancel_reason": "取消原因",
    "creator_id": "达人ID",
    "creator_name": "达人昵称",
    "channel": "流量来源",
    "warehouse": "仓库名称",
    "is_presale": "订单类型",
}
"""Canonical ``order_lines`` column -> 抖店 order export header."""

ORDER_REQUIRED = ("主订单编号", "子订单编号", "商品数量", "订单提交时间", "订单状态")
"""Headers an order export must have (plus 商家编码 or 商品ID for the SKU)."""

AFTER_SALES_COLUMNS: dict[str, str] = {
    "after_sale_id": "售后单号",
    "order_id": "主订单编号",
    "line_id": "子订单编号",
    "sku": "商家编码",
    "kind": "售后类型",
    "requested_at": "售后申请时间",
    "reason": "售后原因",
    "status": "售后状态",
    "qty": "退货数量",
    "amount": "退款金额",
    "completed_at": "售后完结时间",
}
"""Canonical ``after_sales`` column -> 抖店 after-sales export header."""

AFTER_SALES_REQUIRED = ("售后单号", "子订单编号", "售后类型", "售后申请时间")
"""Headers an after-sales export must have (plus 退货数量 or 商品数量)."""

ORDER_STATUSES = {
    "待支付": "unpaid",
    "待发货": "to_ship",
    "已发货": "shipped",
    "已完成": "completed",
    "已关闭": "cancelled",
    "已取消": "cancelled",
}
"""订单状态 -> canonical status; any other word quarantines the row (``unknown_status``)."""

CHANNELS = {
    "直播": "live",
    "短视频": "video",
    "商品卡": "shelf",
    "搜索": "shelf",
    "橱窗": "shelf",
    "精选联盟": "affiliate",
}
"""流量来源 -> canonical channel; other or blank sources are ``unknown``."""

AFTER_SALE_KINDS = {"仅退款": "refund_only", "退货退款": "return", "换货": "exchange"}
"""售后类型 -> canonical kind; any other word quarantines the row (``unknown_kind``)."""

SUCCESS_STATUSES = ("退款成功", "退货退款成功", "换货成功", "售后成功", "售后完成")
"""售后状态 words meaning the after-sale went through."""

NOT_RESELLABLE_REASONS = ("质量问题", "破损")
"""售后原因 fragments meaning the goods cannot go back on the shelf."""

_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S")
_NULL_TOKENS = ("", "-")
_PRESALE = "预售订单"
_QTY_FALLBACK = "商品数量"


def read_orders(path: str | Path, shop: str | None = None) -> AdapterResult:
    """Read a 抖店 order export (CSV or XLSX) into ``order_lines``.

    Args:
        path: the export.
        shop: the shop name stored on every line (exports do not carry it); ``"default"`` when None.

    Raises:
        ExportError: unreadable file, or required columns missing (named in the message).
    """
    frame = read_rows(path)
    require_columns(frame.columns, ORDER_REQUIRED, path, "抖店 order export")
    if "商家编码" not in frame.columns and "商品ID" not in frame.columns:
        require_columns(frame.columns, ("商家编码",), path, "抖店 order export")
    return _orders_from_frame(frame, path, shop)


def read_after_sales(path: str | Path, shop: str | None = None) -> AdapterResult:
    """Read a 抖店 after-sales export (CSV or XLSX) into ``after_sales``.

    Args:
        path: the export.
        shop: the shop name stored on every row; ``"default"`` when None.

    Raises:
        ExportError: unreadable file, or required columns missing (named in the message).
    """
    frame = read_rows(path)
    require_columns(frame.columns, AFTER_SALES_REQUIRED, path, "抖店 after-sales export")
    if "退货数量" not in frame.columns:
        require_columns(frame.columns, (_QTY_FALLBACK,), path, "抖店 after-sales export")
    return _after_sales_from_frame(frame, path, shop)


def _orders_from_frame(frame: pd.DataFrame, source: str | Path, shop: str | None = None) -> AdapterResult:
    """Map the cells of a 抖店 order export (one header row) to ``order_lines``.

    Checks, in order (a row is quarantined with the first that fails): cells that do
    not parse (quantity, amounts, times), missing order/line id, missing SKU (after the
    商品ID fallback), unknown 订单状态 (``unknown_status``), quantity ≤ 0
    (``non_positive_quantity``).

    Args:
        frame: the cells as text, headers as in the file.
        source: the file, for ``source_file``.
        shop: the shop name; ``"default"`` when None.
    """
    faults = RowFaults(len(frame))
    lines = parse_columns(
        frame, ORDER_COLUMNS, "order_lines", faults,
        date_formats=_DATE_FORMATS, null_tokens=_NULL_TOKENS, as_text=("status", "channel", "is_presale"),
    )
    lines["sku"] = _sku_with_fallback(lines)
    flag_missing(lines, ("order_id", "line_id", "qty", "created_at"), faults, ORDER_COLUMNS)
    faults.add(lines["sku"].isna(), "missing_sku", ORDER_COLUMNS["sku"], expected="商家编码 and 商品ID are empty")

    lines["status"] = map_required_words(lines["status"], ORDER_STATUSES, "status", ORDER_COLUMNS["status"], faults)
    faults.add(lines["qty"] <= 0, "non_positive_quantity", ORDER_COLUMNS["qty"], lines["qty"],
               "expected a quantity above 0")

    channel = lines.get("channel", pd.Series(pd.NA, index=frame.index, dtype="string"))
    lines["channel"] = map_words(channel, CHANNELS)[0].fillna("unknown")
    if "is_presale" in lines:
        lines["is_presale"] = (lines["is_presale"] == _PRESALE).fillna(False).astype("boolean")
    lines["platform"] = constant("douyin", frame.index)
    lines["shop"] = constant(shop or "default", frame.index)
    every_row = np.ones(len(frame), dtype=bool)
    return assemble(source, "douyin", frame, 2, {"order_lines": (lines, every_row)}, faults, "order_lines")


def _after_sales_from_frame(frame: pd.DataFrame, source: str | Path, shop: str | None = None) -> AdapterResult:
    """Map the cells of a 抖店 after-sales export to ``after_sales``.

    The quantity is 退货数量; when that column is absent, or the cell is empty or 0 (a
    仅退款 often has no goods coming back), 商品数量 is used. ``restockable`` = kind is
    return/exchange AND 售后状态 in :data:`SUCCESS_STATUSES` AND 售后原因 names no
    :data:`NOT_RESELLABLE_REASONS`. ``sku`` stays empty when the export has no 商家编码
    column; the store can take it from the order line (order_id, line_id).

    Checks, in order: unparseable cells, missing ids/time/quantity, unknown 售后类型
    (``unknown_kind``), quantity ≤ 0 (``non_positive_quantity``).
    """
    faults = RowFaults(len(frame))
    sources = dict(AFTER_SALES_COLUMNS)
    if sources["qty"] not in frame.columns:
        sources["qty"] = _QTY_FALLBACK
    rows = parse_columns(
        frame, sources, "after_sales", faults,
        date_formats=_DATE_FORMATS, null_tokens=_NULL_TOKENS, as_text=("kind",),
    )
    if sources["qty"] != _QTY_FALLBACK and _QTY_FALLBACK in frame.columns:
        fallback = parse_columns(frame, {"qty": _QTY_FALLBACK}, "after_sales", RowFaults(len(frame)),
                                 date_formats=(), null_tokens=_NULL_TOKENS)["qty"]
        rows["qty"] = rows["qty"].where(rows["qty"].fillna(0) != 0, fallback)
    flag_missing(rows, ("after_sale_id", "line_id", "qty", "requested_at"), faults, sources)

    rows["kind"] = map_required_words(rows["kind"], AFTER_SALE_KINDS, "kind", sources["kind"], faults)
    faults.add(rows["qty"] <= 0, "non_positive_quantity", sources["qty"], rows["qty"],
               "expected a quantity above 0")

    rows["restockable"] = _restockable(rows)
    if "sku" not in rows:
        rows["sku"] = constant(None, frame.index)
    rows["platform"] = constant("douyin", frame.index)
    rows["shop"] = constant(shop or "default", frame.index)
    every_row = np.ones(len(frame), dtype=bool)
    return assemble(source, "douyin", frame, 2, {"after_sales": (rows, every_row)}, faults, "after_sales")


def _sku_with_fallback(lines: pd.DataFrame) -> pd.Series:
    """商家编码, else ``"<商品ID>:<商品规格>"`` (or 商品ID alone), else NA."""
    empty = pd.Series(pd.NA, index=lines.index, dtype="string")
    seller_sku = lines.get("sku", empty)
    blank = seller_sku.isna()
    if not blank.any():
        return seller_sku
    product_id = lines.get("product_id", empty)[blank]
    variant = lines.get("variant", empty)[blank]
    platform_sku = (product_id + ":" + variant).fillna(product_id)
    return seller_sku.fillna(platform_sku.reindex(lines.index))


def _restockable(rows: pd.DataFrame) -> pd.Series:
    """Goods came back (return/exchange), the after-sale succeeded, and not for a defect."""
    empty = pd.Series(pd.NA, index=rows.index, dtype="string")
    status = rows.get("status", empty)
    reason = rows.get("reason", empty)
    goods_back = rows["kind"].isin(["return", "exchange"])
    succeeded = status.isin(SUCCESS_STATUSES).fillna(False)
    defect = reason.str.contains("|".join(NOT_RESELLABLE_REASONS), regex=True).fillna(False)
    return (goods_back & succeeded & ~defect).astype("boolean")
