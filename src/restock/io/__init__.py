"""Intake adapters: platform exports and templates → canonical tables.

One call reads one file::

    from restock.io import read_export, detect_platform, ExportError
    result = read_export("data/raw/orders_0618.csv", shop="我的小店")
    result.tables["order_lines"], result.quarantine

Every data row lands in exactly one canonical table row or one quarantine row
(``result.check()``). The format is recognised from the headers (:func:`detect_platform`),
never from the file name.

=====================  ==========================================  =====================
platform               file                                        tables
=====================  ==========================================  =====================
``douyin``             抖店 order export (CSV/XLSX)                 order_lines
``douyin_after_sales`` 抖店 after-sales export                     after_sales
``tiktok``             TikTok Shop OrderSKUList (XLSX/CSV)          order_lines
``template``           a restock template (data/templates/)        its kind
``generic``            any CSV/XLSX + a YAML mapping                as the mapping says
=====================  ==========================================  =====================
"""

from __future__ import annotations

from pathlib import Path

from restock.io import douyin, generic, templates, tiktok
from restock.io._common import ExportError, read_header
from restock.schema import AdapterResult

__all__ = ["read_export", "detect_platform", "ExportError", "PLATFORMS"]

PLATFORMS = ("douyin", "douyin_after_sales", "tiktok", "generic", "template")
"""Values accepted by :func:`read_export` besides ``"auto"``."""

_MIN_SIGNATURE_HITS = 2  # two known headers tell a (maybe incomplete) export apart from a stray CSV
_SIGNATURES = {
    "douyin_after_sales": {"售后单号", "售后类型", "售后申请时间", "退货数量", "退款金额", "售后完结时间"},
    "douyin": set(douyin.ORDER_COLUMNS.values()) - {"商家编码", "商品ID", "售后状态"},
    "tiktok": {h.lower() for h in tiktok.ORDER_COLUMNS.values()},
}


def detect_platform(path: str | Path) -> str:
    """The kind of export a file is, from its headers.

    Order of tests: a restock template (every header a template column); a 抖店
    after-sales export (售后单号, 售后类型 …); a 抖店 order export (子订单编号,
    订单提交时间 …); a TikTok OrderSKUList (Order ID, SKU ID …, any case); a near
    template (two or more template headers). A format qualifies with at least two of
    its own headers, so a file missing some columns or holding a misspelt one is
    still recognised, and then rejected with the missing or unknown columns named.

    Returns:
        ``"template"``, ``"douyin_after_sales"``, ``"douyin"`` or ``"tiktok"``.

    Raises:
        ExportError: the headers fit none of them (a generic file needs
            ``platform="generic"`` and a mapping).
    """
    headers = read_header(path)
    if templates.template_kind(headers) is not None:
        return "template"
    names = {h.strip() for h in headers} | {h.strip().lower() for h in headers}
    for platform, signature in _SIGNATURES.items():
        if len(signature & names) >= _MIN_SIGNATURE_HITS:
            return platform
    if templates.template_hits(headers) >= _MIN_SIGNATURE_HITS:
        return "template"  # a template with a typo: read_template names the bad headers
    shown = ", ".join(headers[:8]) + (" …" if len(headers) > 8 else "")
    raise ExportError(
        f"{Path(path).name}: headers fit no known export (抖店 orders or after-sales, TikTok "
        f"OrderSKUList, restock template): {shown}; for another format pass platform='generic' "
        "and a mapping"
    )


def read_export(
    path: str | Path,
    platform: str = "auto",
    mapping: str | Path | None = None,
    shop: str | None = None,
) -> AdapterResult:
    """Read one export or template into canonical tables.

    Args:
        path: a CSV (``.csv``, ``.csv.gz``) or XLSX file.
        platform: ``"auto"`` (from the headers; ``"generic"`` when a mapping is given)
            or one of :data:`PLATFORMS`.
        mapping: YAML mapping for ``generic`` (see :mod:`restock.io.generic`).
        shop: shop name stored on order lines and after-sales rows (exports do not
            carry it); for generic files it overrides the mapping's ``shop``.

    Returns:
        The :class:`~restock.schema.AdapterResult`: tables with a ``source_row`` column,
        and the quarantine.

    Raises:
        ValueError: unknown platform, or generic without a mapping.
        ExportError: the file cannot be read as that export (names the missing columns).
    """
    if platform not in ("auto", *PLATFORMS):
        raise ValueError(f"platform must be 'auto' or one of {PLATFORMS}; got {platform!r}")
    if platform == "auto":
        platform = "generic" if mapping is not None else detect_platform(path)
    if platform == "generic":
        if mapping is None:
            raise ValueError("mapping must be a YAML mapping path for platform 'generic'; got None")
        return generic.read_generic(path, mapping, shop)
    if platform == "douyin":
        return douyin.read_orders(path, shop)
    if platform == "douyin_after_sales":
        return douyin.read_after_sales(path, shop)
    if platform == "tiktok":
        return tiktok.read_orders(path, shop)
    return templates.read_template(path)
