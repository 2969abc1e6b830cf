"""``restock po import``: the buyer's edited workbook back into the store as open POs.

The buyer edits the buyer quantities of ``replenishment.xlsx`` and hands it back; this
module records each supplier sheet as one purchase order (``po_id`` = run id + supplier,
one line per SKU), ordered on the plan's as-of date and expected after the line's lead
time, so next week's position counts it as on order.

Importing is idempotent: the same workbook twice records nothing twice (same keys, same
values → unchanged). A re-edited workbook updates its lines; a quantity set back to 0 on
a line imported before is stored as 0, which closes it. Lines never imported with 0 are
not stored at all.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import load_workbook

from restock import config
from restock.replenishment_report import META_SHEET, SUPPLIER_COLUMNS, WORKBOOK_FORMAT
from restock.schema import conform
from restock.store import Store

__all__ = ["import_buyer_workbook", "read_buyer_workbook"]

_SOURCE = "buyer_workbook"
_NEEDED = ("sku", "buyer_qty", "supplier", "lead_time_days")


def _meta(workbook, path: Path) -> dict[str, str]:
    if META_SHEET not in workbook.sheetnames:
        raise ValueError(f"{path}: no '{META_SHEET}' sheet; not a replenishment.xlsx written by restock")
    meta = {str(k): v for k, v, *_ in workbook[META_SHEET].iter_rows(min_col=1, max_col=2, values_only=True) if k}
    if meta.get("format") != WORKBOOK_FORMAT:
        raise ValueError(f"{path}: workbook format {meta.get('format')!r}; expected {WORKBOOK_FORMAT!r}")
    for key in ("run_id", "as_of"):
        if not meta.get(key):
            raise ValueError(f"{path}: '{META_SHEET}' sheet lacks {key}")
    return meta


def _sheet_lines(rows: list[tuple], sheet: str) -> pd.DataFrame | None:
    """The needed columns of one supplier sheet (found by header), or None for other sheets."""
    if not rows:
        return None
    header = [str(h) if h is not None else "" for h in rows[0]]
    wanted = {SUPPLIER_COLUMNS[c]: c for c in _NEEDED}
    if not set(wanted) <= set(header):
        return None
    frame = pd.DataFrame(rows[1:], columns=header, dtype=object)[list(wanted)].rename(columns=wanted)
    frame["sheet"] = sheet
    frame["row"] = np.arange(2, len(frame) + 2)
    return frame


def _buyer_qty(values: pd.Series, lines: pd.DataFrame) -> pd.Series:
    """Whole numbers ≥ 0 (blank = 0); anything else raises naming the sheet and row.

    The sheet's data validation stops typed mistakes, not pasted ones.
    """
    qty = pd.to_numeric(values, errors="coerce")
    text = values.notna() & (values.astype(str).str.strip() != "")
    bad = (text & qty.isna()) | (qty < 0) | (qty.fillna(0) % 1 != 0)
    if bad.any():
        first = lines.loc[bad].iloc[0]
        raise ValueError(f"buyer_qty must be a whole number >= 0; got {first['buyer_qty']!r} "
                         f"on sheet '{first['sheet']}' row {first['row']} (SKU {first['sku']})")
    return qty.fillna(0).astype("int64")


def read_buyer_workbook(path: str | Path) -> tuple[dict[str, str], pd.DataFrame]:
    """Read the plan's identifiers and every supplier-sheet line.

    Returns:
        (meta, lines): ``meta`` has run_id, as_of (and format, run_date, is_demo);
        ``lines`` has sku, supplier, buyer_qty (int), lead_time_days, sheet, row.

    Raises:
        ValueError: not a restock replenishment workbook, or a bad buyer quantity.
    """
    path = Path(path)
    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        meta = _meta(workbook, path)
        frames = [f for ws in workbook.worksheets
                  if ws.title != META_SHEET and (f := _sheet_lines(list(ws.iter_rows(values_only=True)), ws.title))
                  is not None]
    finally:
        workbook.close()
    if not frames:
        return meta, pd.DataFrame(columns=[*_NEEDED, "sheet", "row"])
    lines = pd.concat(frames, ignore_index=True)
    lines = lines.loc[lines["sku"].notna() & (lines["sku"].astype(str).str.strip() != "")].reset_index(drop=True)
    lines["sku"] = lines["sku"].astype(str).str.strip()
    # a line the buyer added by hand has no supplier key: it belongs to its sheet's supplier
    sheet_supplier = lines.dropna(subset=["supplier"]).groupby("sheet")["supplier"].first()
    lines["supplier"] = lines["supplier"].fillna(lines["sheet"].map(sheet_supplier))
    lines["buyer_qty"] = _buyer_qty(lines["buyer_qty"], lines)
    lines["lead_time_days"] = pd.to_numeric(lines["lead_time_days"], errors="coerce")
    return meta, lines


def _purchase_orders(lines: pd.DataFrame, meta: dict[str, str], default_lead_time: int) -> pd.DataFrame:
    """PO lines: po_id = run id + supplier, ordered on the as-of date, eta after the lead time."""
    ordered_at = pd.Timestamp(meta["as_of"])
    lead = lines["lead_time_days"].fillna(default_lead_time).astype("float64")
    frame = pd.DataFrame({
        "po_id": meta["run_id"] + "-" + lines["supplier"].astype(str),
        "sku": lines["sku"],
        "supplier": lines["supplier"].astype(str),
        "qty_ordered": lines["buyer_qty"],
        "ordered_at": ordered_at,
        "eta": ordered_at + pd.to_timedelta(lead, unit="D"),
        "source": _SOURCE,
    })
    return conform(frame, "purchase_orders")


def import_buyer_workbook(path: str | Path, store_path: str | Path | None = None,
                          default_lead_time_days: int = 14) -> dict[str, object]:
    """Record the buyer quantities of an edited ``replenishment.xlsx`` as open POs.

    Lines with a buyer quantity > 0 are stored; a 0 is stored only over a line an
    earlier import of the same plan stored (it closes that line). The import is logged
    in the store's imports (platform ``buyer_workbook``).

    Args:
        path: the edited workbook.
        store_path: the DuckDB store; default :data:`restock.config.DEFAULT_STORE`.
        default_lead_time_days: lead time for a line whose lead-time cell is empty.

    Returns:
        run_id, as_of, lines_read, purchase_orders (suppliers with units ordered),
        units, inserted, updated, unchanged.

    Raises:
        ValueError: not a restock replenishment workbook, or a bad buyer quantity.
    """
    path = Path(path)
    meta, lines = read_buyer_workbook(path)
    orders = _purchase_orders(lines, meta, default_lead_time_days)
    with Store(store_path or config.DEFAULT_STORE) as store:
        stored = store.load("purchase_orders")
        earlier = pd.MultiIndex.from_frame(stored[["po_id", "sku"]].astype(str))
        known = pd.MultiIndex.from_frame(orders[["po_id", "sku"]].astype(str)).isin(earlier)
        orders = orders.loc[(orders["qty_ordered"] > 0).to_numpy() | known].reset_index(drop=True)
        import_id = store.begin_import(path, _SOURCE, str(meta.get("is_demo", "")).lower() == "true")
        counts = store.upsert("purchase_orders", orders, import_id)
        store.finish_import(import_id, {"rows_in": len(orders), "stored": counts.stored,
                                        "inserted": counts.inserted, "updated": counts.updated,
                                        "quarantined": 0, "duplicates": counts.unchanged})
    placed = orders.loc[orders["qty_ordered"] > 0]
    return {
        "run_id": meta["run_id"],
        "as_of": meta["as_of"],
        "lines_read": len(lines),
        "purchase_orders": int(placed["po_id"].nunique()),
        "units": int(placed["qty_ordered"].sum()),
        "inserted": counts.inserted,
        "updated": counts.updated,
        "unchanged": counts.unchanged,
    }
