"""Any order-line (or other canonical) CSV/XLSX, described by a YAML mapping.

A mapping file says which canonical table the rows go to, which source column feeds
each canonical column, the date formats, constants, and rules that quarantine rows.
``config/mappings/online_retail.yaml`` is the documented example. Its keys::

    table: order_lines          # canonical table the rows go to (see restock.schema.TABLES)
    platform: generic           # stored in the platform column (order_lines, after_sales)
    shop: My shop               # stored in the shop column; read_export(shop=...) overrides
    encoding: auto              # auto = utf-8-sig then gb18030; or a codec name
    sheet: 0                    # XLSX sheet (position or name)
    null_values: [""]           # cell values meaning empty
    date_formats: ["%Y-%m-%d %H:%M:%S"]   # strptime formats, tried in order ("excel_serial" too)
    columns:                    # canonical column: source header
      order_id: InvoiceNo
    constants:                  # canonical column: value for every row
      status: completed
    quarantine:                 # rules, checked in order; a matching row is quarantined
      - reason: non_merchandise # stable reason code
        column: sku             # canonical column tested
        equals: [POST, DOT]     # exact values ...
        starts_with: [gift_]    # ... or prefixes
        ignore_case: true
    returns:                    # order_lines only: negative lines that are returns
      order_id_starts_with: C   # e.g. credit-note invoices "C536379"
      kind: return              # after_sales kind
      restockable: true
      status: credit_note       # stored in after_sales.status
    negative_qty_reason: stock_adjustment   # other negative lines are quarantined so

Rules for ``order_lines`` (applied in this order, first failure wins): cells that do
not parse; required values missing; ``quarantine`` rules; quantity 0
(``non_positive_quantity``); a negative quantity is an ``after_sales`` row when
``returns`` matches its order id (quantity made positive, ``requested_at`` =
``completed_at`` = the line's time, ``amount`` = quantity × unit price), else it is
quarantined with ``negative_qty_reason``; a positive quantity on a return order id is
quarantined ``positive_qty_on_return``; a sale with unit price ≤ 0 is quarantined
``non_positive_price``. ``paid_amount`` defaults to quantity × unit price.

Stable keys: when the mapping gives no ``line_id`` (order_lines) or ``after_sale_id``
(after_sales), it is the hash of the row's cells (pandas' fixed-key SipHash of every
column, as 16 hex digits). Re-importing the same file gives the same keys, and exact
duplicate rows get the SAME key, so the store keeps one and counts the others as
duplicates skipped. That is deliberate: an export that repeats a line word for word
(Online Retail has about 5,000 such lines) has listed it twice, not sold it twice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from restock.io._common import (
    RowFaults,
    assemble,
    constant,
    flag_missing,
    parse_columns,
    read_rows,
    require_columns,
)
from restock.schema import AFTER_SALE_KINDS, TABLES, AdapterResult

__all__ = ["MappingParams", "load_mapping", "read_generic"]

_REASON_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
_DERIVED_KEYS = {"order_lines": "line_id", "after_sales": "after_sale_id"}


@dataclass(frozen=True)
class QuarantineRule:
    """Rows whose ``column`` equals one of ``equals`` or starts with one of ``starts_with``."""

    reason: str
    column: str
    equals: tuple[str, ...] = ()
    starts_with: tuple[str, ...] = ()
    ignore_case: bool = False

    def __post_init__(self) -> None:
        if not _REASON_CODE.match(self.reason):
            raise ValueError(f"quarantine.reason must be a lower_snake_case code; got {self.reason!r}")
        if not (self.equals or self.starts_with):
            raise ValueError(f"quarantine rule {self.reason!r} needs equals or starts_with; got neither")


@dataclass(frozen=True)
class ReturnsRule:
    """Negative order lines whose order id starts with ``order_id_starts_with`` are returns."""

    order_id_starts_with: str
    kind: str = "return"
    restockable: bool = True
    status: str | None = None

    def __post_init__(self) -> None:
        if not self.order_id_starts_with:
            raise ValueError("returns.order_id_starts_with must be a non-empty prefix; got ''")
        if self.kind not in AFTER_SALE_KINDS:
            raise ValueError(f"returns.kind must be one of {AFTER_SALE_KINDS}; got {self.kind!r}")


@dataclass(frozen=True)
class MappingParams:
    """A validated generic mapping (see the module docstring for the YAML keys)."""

    columns: Mapping[str, str]
    table: str = "order_lines"
    platform: str = "generic"
    shop: str | None = None
    encoding: str = "auto"
    sheet: int | str = 0
    null_values: tuple[str, ...] = ("",)
    date_formats: tuple[str, ...] = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d")
    constants: Mapping[str, object] = field(default_factory=dict)
    quarantine: tuple[QuarantineRule, ...] = ()
    returns: ReturnsRule | None = None
    negative_qty_reason: str = "stock_adjustment"

    def __post_init__(self) -> None:
        if self.table not in TABLES:
            raise ValueError(f"table must be one of {sorted(TABLES)}; got {self.table!r}")
        known = TABLES[self.table].columns
        for name, group in (("columns", self.columns), ("constants", self.constants)):
            unknown = [c for c in group if c not in known]
            if unknown:
                raise ValueError(f"{name} must name {self.table} columns; got unknown {unknown}")
        for rule in self.quarantine:
            if rule.column not in self.columns:
                raise ValueError(f"quarantine.column must be a mapped column; got {rule.column!r}")
        provided = set(self.columns) | set(self.constants) | {"platform", "shop", _DERIVED_KEYS.get(self.table)}
        missing = [c for c in TABLES[self.table].required if c not in provided]
        if missing:
            raise ValueError(f"columns or constants must provide {self.table}.{missing}; got none for them")
        if self.returns is not None and self.table != "order_lines":
            raise ValueError(f"returns applies to table order_lines only; got table {self.table!r}")
        if not _REASON_CODE.match(self.negative_qty_reason):
            raise ValueError(f"negative_qty_reason must be a lower_snake_case code; got {self.negative_qty_reason!r}")
        if not self.date_formats:
            raise ValueError("date_formats must hold at least one format; got []")


def load_mapping(path: str | Path) -> MappingParams:
    """Read and validate a YAML mapping.

    Raises:
        ValueError: a key is unknown or a value is invalid, naming the key and the value.
    """
    spec = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(spec, dict):
        raise ValueError(f"{Path(path).name}: a mapping must be a YAML mapping; got {type(spec).__name__}")
    allowed = set(MappingParams.__dataclass_fields__)
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ValueError(f"{Path(path).name}: unknown keys {unknown}; expected some of {sorted(allowed)}")
    spec["quarantine"] = tuple(_rule(r) for r in spec.get("quarantine") or ())
    if spec.get("returns") is not None:
        _check_keys("returns", spec["returns"], ReturnsRule)
        spec["returns"] = ReturnsRule(**spec["returns"])
    for key in ("null_values", "date_formats"):
        if key in spec:
            value = spec[key]
            spec[key] = (value,) if isinstance(value, str) else tuple(str(v) for v in value)
    if "columns" not in spec:
        raise ValueError(f"{Path(path).name}: columns is required; got no columns key")
    return MappingParams(**spec)


def _check_keys(name: str, given: object, rule_class: type) -> None:
    allowed = set(rule_class.__dataclass_fields__)
    if not isinstance(given, dict) or set(given) - allowed:
        raise ValueError(f"{name} must be a mapping with keys among {sorted(allowed)}; got {given!r}")


def _rule(given: object) -> QuarantineRule:
    """One ``quarantine`` entry of the YAML as a :class:`QuarantineRule`."""
    _check_keys("quarantine rule", given, QuarantineRule)
    return QuarantineRule(
        reason=str(given.get("reason", "")),
        column=str(given.get("column", "")),
        equals=tuple(str(v) for v in given.get("equals") or ()),
        starts_with=tuple(str(v) for v in given.get("starts_with") or ()),
        ignore_case=bool(given.get("ignore_case", False)),
    )


def read_generic(path: str | Path, mapping: str | Path | MappingParams, shop: str | None = None) -> AdapterResult:
    """Read a CSV (maybe ``.gz``) or XLSX file with a mapping into its canonical table.

    Args:
        path: the file.
        mapping: a YAML mapping path, or a loaded :class:`MappingParams`.
        shop: overrides the mapping's ``shop``.

    Raises:
        ExportError: unreadable file, or mapped source columns missing (named).
        ValueError: the mapping is invalid.
    """
    params = mapping if isinstance(mapping, MappingParams) else load_mapping(mapping)
    frame = read_rows(path, encoding=params.encoding, sheet=params.sheet)
    require_columns(frame.columns, params.columns.values(), path, f"file for this mapping ({params.table})")
    return _rows_to_result(frame, path, params, shop)


def _rows_to_result(frame: pd.DataFrame, source: str | Path, params: MappingParams, shop: str | None) -> AdapterResult:
    """Parse, check and route the rows of ``frame`` as the mapping says."""
    faults = RowFaults(len(frame))
    rows = parse_columns(
        frame, params.columns, params.table, faults,
        date_formats=params.date_formats, null_tokens=params.null_values,
    )
    for column, value in params.constants.items():
        rows[column] = constant(value, frame.index, TABLES[params.table].columns[column])
    key = _DERIVED_KEYS.get(params.table)
    if key is not None and key not in params.columns:
        rows[key] = _content_key(frame)
    if params.table in ("order_lines", "after_sales"):
        rows["platform"] = constant(params.platform, frame.index)
        rows["shop"] = constant(shop or params.shop or "default", frame.index)
    required = [c for c in TABLES[params.table].required if c in params.columns]
    flag_missing(rows, required, faults, params.columns)
    for rule in params.quarantine:
        faults.add(_matches(rows[rule.column], rule), rule.reason, params.columns[rule.column],
                   rows[rule.column], "listed in the mapping's quarantine rules")
    every_row = np.ones(len(frame), dtype=bool)
    if params.table != "order_lines":
        return assemble(source, "generic", frame, 2, {params.table: (rows, every_row)}, faults, params.table)
    return _route_order_lines(frame, source, rows, faults, params)


def _route_order_lines(
    frame: pd.DataFrame, source: str | Path, rows: pd.DataFrame, faults: RowFaults, params: MappingParams
) -> AdapterResult:
    """Sales stay order lines; returns become after_sales; other negatives are quarantined."""
    qty_header = params.columns.get("qty", "qty")
    qty = rows["qty"]
    is_return_order = (
        rows["order_id"].str.startswith(params.returns.order_id_starts_with).fillna(False).astype(bool)
        if params.returns
        else pd.Series(False, index=rows.index)
    )
    faults.add(qty == 0, "non_positive_quantity", qty_header, qty, "expected a quantity other than 0")
    returned = (qty < 0).fillna(False).astype(bool) & is_return_order
    faults.add((qty < 0) & ~is_return_order, params.negative_qty_reason, qty_header, qty,
               "a negative quantity outside a return order")
    faults.add((qty > 0) & is_return_order, "positive_qty_on_return", qty_header, qty,
               "a return order should hold negative quantities")
    if "unit_price" in rows:
        price_header = params.columns.get("unit_price", "unit_price")
        faults.add(~returned & (rows["unit_price"] <= 0), "non_positive_price", price_header,
                   rows["unit_price"], "expected a unit price above 0 on a sale")
        if "paid_amount" not in rows:
            rows["paid_amount"] = rows["qty"].astype("Float64") * rows["unit_price"]
    destinations = {"order_lines": (rows, ~returned.to_numpy())}
    if params.returns is not None:
        destinations["after_sales"] = (_returns_frame(rows, params.returns), returned.to_numpy())
    return assemble(source, "generic", frame, 2, destinations, faults, "order_lines")


def _returns_frame(rows: pd.DataFrame, rule: ReturnsRule) -> pd.DataFrame:
    """after_sales columns for negative lines of return orders (quantity made positive)."""
    qty = -rows["qty"]
    returns = pd.DataFrame(
        {
            "platform": rows["platform"],
            "shop": rows["shop"],
            "after_sale_id": rows["line_id"],
            "order_id": rows["order_id"],
            "sku": rows["sku"],
            "qty": qty,
            "kind": rule.kind,
            "requested_at": rows["created_at"],
            "completed_at": rows["created_at"],
            "status": rule.status,
            "restockable": rule.restockable,
        },
        index=rows.index,
    )
    if "unit_price" in rows:
        returns["amount"] = qty.astype("Float64") * rows["unit_price"]
    return returns


def _matches(values: pd.Series, rule: QuarantineRule) -> pd.Series:
    """Rows whose value equals a listed value or starts with a listed prefix."""
    if rule.ignore_case:
        values = values.str.lower()
        equals = [v.lower() for v in rule.equals]
        prefixes = tuple(p.lower() for p in rule.starts_with)
    else:
        equals, prefixes = list(rule.equals), tuple(rule.starts_with)
    hit = values.isin(equals).fillna(False).astype(bool)
    for prefix in prefixes:
        hit |= values.str.startswith(prefix).fillna(False).astype(bool)
    return hit


def _content_key(frame: pd.DataFrame) -> pd.Series:
    """A key per row from all its cells: equal rows, equal keys; stable across imports."""
    hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return pd.Series(np.char.mod("%016x", hashes), index=frame.index, dtype="string")
