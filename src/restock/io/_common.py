"""What every adapter shares: reading a CSV/XLSX as text, parsing cells, quarantining rows.

The adapters follow one recipe, all vectorised (no Python loop per row); the cells stay in
Arrow, and the common case (plain numbers, ISO times) is parsed by Arrow casts in C++ while
only the remaining cells take the slower, more forgiving pandas path:

1. :func:`read_rows` reads every cell as text (pyarrow CSV reader, or calamine for
   XLSX), trying the encodings in :data:`ENCODINGS`.
2. :func:`parse_columns` turns the source columns into canonical columns with the
   canonical dtypes (two columns at a time, in threads); a cell that does not parse
   marks its row in :class:`RowFaults`.
3. The adapter applies its own rules (vocabularies, signs, fallbacks), marking more
   faults; a row keeps only its first fault.
4. :func:`assemble` sends every row to exactly one place: a canonical table or the
   quarantine, and returns the :class:`~restock.schema.AdapterResult`.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from restock.schema import QUARANTINE_COLUMNS, TABLES, AdapterResult

__all__ = [
    "ExportError",
    "ENCODINGS",
    "EXCEL_SERIAL",
    "RowFaults",
    "read_header",
    "read_rows",
    "require_columns",
    "text",
    "parse_int",
    "parse_number",
    "parse_datetime",
    "parse_bool",
    "map_words",
    "map_required_words",
    "parse_columns",
    "flag_missing",
    "constant",
    "assemble",
]

ENCODINGS = ("utf-8-sig", "gb18030")
"""Tried in order: UTF-8 (with or without BOM), then GB18030, a superset of GBK/GB2312."""

EXCEL_SERIAL = "excel_serial"
"""A pseudo date format: days since 1899-12-30, as Excel stores dates (e.g. ``45826.84``)."""

_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_HEADER_PROBE_BYTES = 1 << 16
_STRING = pd.StringDtype("pyarrow")  # pyarrow-backed: string ops run in C++ on 5M rows
_ARROW_STRING = pa.large_string()  # what pandas' pyarrow strings hold: reading it avoids a cast
_XLSX_ENGINE = "calamine"  # Rust reader, ~20× openpyxl on a 50k-row OrderSKUList

# Cells Arrow's casts parse exactly as the pandas fallback would (RE2 patterns, no '+' for ints).
_PLAIN_INT = r"^-?\d+$"
_PLAIN_DECIMAL = r"^[+-]?\d+(\.\d+)?$"
_DOT_DECIMAL_END = r"\.\d{1,2}$"
# strptime format -> (cells written with two-digit fields, their ISO-8601 rewrite). Arrow's
# ISO cast reads those as pandas would with the format; years 1700-2199 stay within
# datetime64[ns], and the cast rejects impossible days and times (those fall back to pandas).
_YEAR, _TIME = r"((?:1[7-9]|2[01])\d\d)", r"(\d\d:\d\d:\d\d)"
_ISO_FORMATS = {
    "%Y-%m-%d %H:%M:%S": (rf"^{_YEAR}-(\d\d)-(\d\d) {_TIME}$", None),
    "%Y-%m-%d": (rf"^{_YEAR}-(\d\d)-(\d\d)$", None),
    "%Y/%m/%d %H:%M:%S": (rf"^{_YEAR}/(\d\d)/(\d\d) {_TIME}$", r"\1-\2-\3 \4"),
    "%d/%m/%Y %H:%M:%S": (rf"^(\d\d)/(\d\d)/{_YEAR} {_TIME}$", r"\3-\2-\1 \4"),
    "%m/%d/%Y %H:%M:%S": (rf"^(\d\d)/(\d\d)/{_YEAR} {_TIME}$", r"\3-\1-\2 \4"),
}
_PARSE_THREADS = 2  # columns parsed at once (Arrow's kernels release the GIL); 2 cores is the target
_MAX_SLICES = 64  # kept rows in at most this many runs are sliced out of the strings, not copied
_PANDAS_BLOCK = 4096  # a batch Arrow refuses is halved down to this size, then left to pandas

# Reason codes for a cell that does not parse, by canonical column.
_QUANTITY_COLUMNS = frozenset(
    {"qty", "returned_qty", "on_hand", "reserved", "qty_ordered", "qty_received", "moq",
     "case_pack", "reservations", "expected_units"}
)
_MONEY_COLUMNS = frozenset({"unit_price", "paid_amount", "amount", "unit_cost", "price"})

_TRUE_WORDS = ("true", "yes", "y", "1", "是", "√")
_FALSE_WORDS = ("false", "no", "n", "0", "否")


class ExportError(ValueError):
    """A file that cannot be read as the export it should be.

    Wrong encoding, not an export of the expected kind, or required columns missing.
    The message names the file and what is wrong, e.g.
    ``"orders.csv: not a 抖店 order export; missing columns: 子订单编号, 商品数量"``.
    """


class RowFaults:
    """The first fault of each row: reason code, source column and detail.

    Adapters run their checks in a fixed order; :meth:`add` records a fault only for
    rows that have none yet, so each bad row is quarantined once, with the first
    reason found.
    """

    def __init__(self, n_rows: int) -> None:
        self.reason = np.full(n_rows, None, dtype=object)
        self.column = np.full(n_rows, None, dtype=object)
        self.detail = np.full(n_rows, None, dtype=object)
        self._faulted = np.zeros(n_rows, dtype=bool)  # kept beside reason: isna on objects is slow

    @property
    def ok(self) -> np.ndarray:
        """Boolean mask of the rows without a fault."""
        return ~self._faulted

    def add(
        self,
        mask: pd.Series | np.ndarray,
        reason: str,
        column: str | None,
        values: pd.Series | None = None,
        expected: str = "",
    ) -> None:
        """Mark the rows of ``mask`` that have no fault yet.

        Args:
            mask: rows at fault (boolean, NA counts as False).
            reason: stable short code, e.g. ``"unparseable_date"``.
            column: the source column at fault, or None for a whole-row reason.
            values: the offending cells, quoted into the detail.
            expected: what was expected, appended to the detail.
        """
        if not isinstance(mask, np.ndarray):
            mask = pd.Series(mask).to_numpy(dtype=bool, na_value=False)
        rows = np.flatnonzero(np.asarray(mask, dtype=bool) & ~self._faulted)
        if rows.size == 0:
            return
        self._faulted[rows] = True
        self.reason[rows] = reason
        self.column[rows] = column
        if values is None:
            self.detail[rows] = expected
            return
        quoted = "'" + pd.Series(values).iloc[rows].astype(object).astype(str) + "'"
        self.detail[rows] = (quoted + (f": {expected}" if expected else "")).to_numpy(dtype=object)


def _name(path: str | Path) -> str:
    return Path(path).name


def _is_excel(path: str | Path) -> bool:
    return Path(path).suffix.lower() in (".xlsx", ".xlsm")


def _open_bytes(path: str | Path):
    return gzip.open(path, "rb") if str(path).lower().endswith(".gz") else open(path, "rb")


def _decode_probe(data: bytes, path: str | Path) -> tuple[str, str]:
    """Decode the first bytes of a file with the first encoding that fits.

    The probe may cut a multi-byte character at its end, so only complete lines count.
    """
    complete = data[: data.rfind(b"\n") + 1] or data
    for encoding in ENCODINGS:
        try:
            return complete.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise ExportError(
        f"{_name(path)}: cannot decode the file as {' or '.join(ENCODINGS)}; "
        "save it as UTF-8 CSV or XLSX"
    )


def _clean_header(names: Iterable[object]) -> list[str]:
    return ["" if pd.isna(n) else str(n).strip().lstrip("\ufeff").strip() for n in names]


def read_header(path: str | Path) -> list[str]:
    """The column names of a CSV (maybe ``.gz``) or XLSX file, stripped.

    Raises:
        ExportError: the file is missing, empty or in an unknown encoding.
    """
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"{path.name}: file not found ({path})")
    if _is_excel(path):
        first = pd.read_excel(path, header=None, nrows=1, dtype=str, engine=_XLSX_ENGINE)
        if first.empty:
            raise ExportError(f"{path.name}: the sheet is empty")
        return _clean_header(first.iloc[0].tolist())
    with _open_bytes(path) as fh:
        probe = fh.read(_HEADER_PROBE_BYTES)
    if not probe.strip():
        raise ExportError(f"{path.name}: the file is empty")
    decoded, _ = _decode_probe(probe, path)
    return _clean_header(next(csv.reader(io.StringIO(decoded))))


def read_rows(path: str | Path, *, encoding: str = "auto", sheet: int | str = 0) -> pd.DataFrame:
    """Read every cell of a CSV (maybe ``.gz``) or XLSX file as text.

    Cells keep their text exactly (leading tabs included); empty cells are ``""`` in a
    CSV and NA in an XLSX. Columns are named by the stripped header of row 1 and use
    pyarrow-backed strings, so later string operations are vectorised in C++. Frame
    row ``i`` is file row ``i + 2``; blank lines are skipped (they would shift that).

    Args:
        path: the file.
        encoding: ``"auto"`` tries :data:`ENCODINGS` in order; or a Python codec name.
        sheet: the XLSX sheet, by position or name.

    Raises:
        ExportError: the file cannot be decoded or parsed as a table.
    """
    path = Path(path)
    header = read_header(path)
    if _is_excel(path):
        frame = pd.read_excel(path, sheet_name=sheet, header=None, skiprows=1, dtype=str, engine=_XLSX_ENGINE)
        frame = frame.reindex(columns=range(len(header)))
        frame.columns = header
        return frame.astype(_STRING)
    encodings = ENCODINGS if encoding == "auto" else (encoding,)
    last_error: Exception | None = None
    for enc in encodings:
        try:
            return _read_csv(path, header, enc)
        except (UnicodeDecodeError, pa.ArrowInvalid) as error:
            if "UTF8" not in str(error) and not isinstance(error, UnicodeDecodeError):
                raise ExportError(f"{path.name}: not a readable CSV table ({error})") from error
            last_error = error
    raise ExportError(
        f"{path.name}: cannot decode the file as {' or '.join(encodings)}; save it as UTF-8 CSV or XLSX"
    ) from last_error


def _read_csv(path: Path, header: list[str], encoding: str) -> pd.DataFrame:
    """One attempt at a CSV with one encoding; UTF-8 goes straight to pyarrow (skips a BOM)."""
    arrow_encoding = "utf8" if codecs.lookup(encoding).name in ("utf-8", "utf-8-sig") else encoding
    names = [f"column_{i}" for i in range(len(header))]  # header names may repeat or be empty
    table = pa_csv.read_csv(
        path,
        read_options=pa_csv.ReadOptions(encoding=arrow_encoding, skip_rows=1, column_names=names),
        convert_options=pa_csv.ConvertOptions(
            column_types={n: _ARROW_STRING for n in names}, strings_can_be_null=False
        ),
    )
    frame = table.to_pandas(types_mapper={_ARROW_STRING: _STRING}.get)
    frame.columns = header
    return frame


def require_columns(headers: Sequence[str], required: Iterable[str], path: str | Path, what: str) -> None:
    """Raise :class:`ExportError` naming the required columns absent from ``headers``.

    Args:
        headers: the file's column names.
        required: the names that must be present.
        path: the file, for the message.
        what: what the file should be, e.g. ``"抖店 order export"``.
    """
    missing = [c for c in required if c not in set(headers)]
    if missing:
        raise ExportError(f"{_name(path)}: not a {what}; missing columns: {', '.join(missing)}")


def text(cells: pd.Series, null_tokens: Iterable[str] = ("",)) -> pd.Series:
    """Cells as clean text: surrounding whitespace and Excel-guard tabs removed, null tokens → NA.

    抖店 exports prefix IDs with a tab (``"\\t6917926768823643751"``) so Excel keeps all
    digits, and write ``-`` for an empty cell.
    """
    stripped = pc.utf8_trim_whitespace(_arrow(cells))
    is_null = None
    for token in null_tokens:  # one equality per token: a few times faster than is_in
        equal = pc.equal(stripped, token)
        is_null = equal if is_null is None else pc.or_(is_null, equal)
    if is_null is None:
        return _series(stripped, cells.index)
    return _series(pc.if_else(is_null, pa.scalar(None, type=stripped.type), stripped), cells.index)


def _arrow(cells: pd.Series) -> pa.ChunkedArray:
    """The cells as a pyarrow string array (no copy when already pyarrow-backed)."""
    return pa.chunked_array(pa.array(cells.astype(_STRING).array))


def _series(strings: pa.ChunkedArray | pa.Array, index: pd.Index) -> pd.Series:
    """A pyarrow-backed string Series over Arrow strings, without a copy of large strings."""
    if strings.type != _ARROW_STRING:
        strings = pc.cast(strings, _ARROW_STRING)
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([strings]) if isinstance(strings, pa.Array)
                                                else strings), index=index)


def _matches(strings: pa.ChunkedArray, pattern: str) -> np.ndarray:
    """Boolean mask of the cells matching an RE2 ``pattern`` (nulls never match)."""
    return pc.fill_null(pc.match_substring_regex(strings, pattern), False).to_numpy(zero_copy_only=False)


def constant(value: object, index: pd.Index, dtype: str = "string[pyarrow]") -> pd.Series:
    """A column holding ``value`` (or NA when None) on every row of ``index``, with ``dtype``.

    Strings are built in Arrow: pandas would otherwise convert one Python object per row.
    """
    if isinstance(pd.api.types.pandas_dtype(dtype), pd.StringDtype):
        scalar = pa.scalar(None if value is None else str(value), type=_ARROW_STRING)
        return _series(pa.repeat(scalar, len(index)), index)
    if value is None:
        return pd.Series(pd.NA, index=index, dtype=dtype)
    return pd.Series(value, index=index).astype(dtype)


def _with_fallback(
    cells: pd.Series, fast: np.ndarray, arrow_type: pa.DataType, dtype: str, slow
) -> tuple[pd.Series, pd.Series] | None:
    """Cast the ``fast`` cells in Arrow and hand only the others to ``slow`` (a parser).

    Returns None when the Arrow cast fails (e.g. an integer beyond int64): then the
    caller parses every cell the slow way.
    """
    strings = _arrow(cells)
    try:
        values = pc.cast(pc.if_else(pa.array(fast), strings, pa.scalar(None, strings.type)), arrow_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    values = values.to_pandas(types_mapper={arrow_type: pd.api.types.pandas_dtype(dtype)}.get).set_axis(cells.index)
    bad = pd.Series(False, index=cells.index)
    rest = np.flatnonzero(cells.notna().to_numpy(dtype=bool) & ~fast)
    if rest.size:
        rest_values, rest_bad = slow(cells.iloc[rest])
        values.iloc[rest] = rest_values.to_numpy()
        bad.iloc[rest] = rest_bad.to_numpy()
    return values, bad


def parse_int(cells: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Whole numbers from text (``"3"``, ``"1,200"``, ``"2.0"``).

    Returns:
        ``(values, bad)``: Int64 values, and a mask of non-empty cells that are not a
        whole number.
    """
    values, rest = _cast_where_arrow_can(cells, pa.int64(), "Int64")
    bad = pd.Series(False, index=cells.index)
    if rest.size:  # Arrow reads exactly the plain whole numbers: the others take the paths below
        rest_values, rest_bad = _parse_int_cells(cells.iloc[rest])
        values.iloc[rest] = rest_values.array  # not via NumPy: NA would make it float, inexact beyond 2**53
        bad.iloc[rest] = rest_bad.to_numpy()
    return values, bad


def _parse_int_cells(cells: pd.Series) -> tuple[pd.Series, pd.Series]:
    """:func:`parse_int` cell by cell: plain cells cast by Arrow, the others parsed as text."""
    plain = _matches(_arrow(cells), _PLAIN_INT)
    parsed = _with_fallback(cells, plain, pa.int64(), "Int64", _parse_int_text)
    return parsed if parsed is not None else _parse_int_text(cells)


def _cast_where_arrow_can(cells: pd.Series, arrow_type: pa.DataType, dtype: str) -> tuple[pd.Series, np.ndarray]:
    """The cells Arrow casts (:func:`_cast_blocks`) as a ``dtype`` Series, and the positions of
    the other non-empty cells, NA in the Series, for the caller to parse."""
    values, cast = _cast_blocks(_arrow(cells), arrow_type)
    series = values.to_pandas(types_mapper={arrow_type: pd.api.types.pandas_dtype(dtype)}.get)
    return series.set_axis(cells.index), np.flatnonzero(cells.notna().to_numpy(dtype=bool) & ~cast)


def _parse_int_text(cells: pd.Series) -> tuple[pd.Series, pd.Series]:
    """:func:`parse_int` for any text: thousands groups, ``"2.0"``, signs."""
    clean = _cast(cells, pa.int64(), "Int64")
    if clean is not None:
        return clean, pd.Series(False, index=cells.index)
    grouped = cells.str.fullmatch(r"[+-]?\d{1,3}(,\d{3})+")
    numbers = _to_float(_choose(grouped, cells.str.replace(",", "", regex=False), cells))
    whole = numbers.isna() | (numbers % 1 == 0)
    bad = (cells.notna() & numbers.isna()) | ~whole.fillna(True).astype(bool)
    return numbers.mask(bad).round().astype("Int64"), bad.astype(bool)


def parse_number(cells: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Decimal numbers and money from text, in either decimal convention.

    Accepts ``"12.99"``, ``"1,299.00"``, ``"USD 12.99"``, ``"¥35"``, ``"BRL 35,91"``,
    ``"1.234,50"``. The decimal separator is decided once per column (a file uses one
    convention): comma when more cells end in ``,d`` / ``,dd`` than in ``.d`` / ``.dd``;
    then the other separator is accepted only as a thousands group (``1.234.567``).

    Returns:
        ``(values, bad)``: Float64 values and a mask of non-empty cells that did not parse.
    """
    every_cell = _cast(cells, pa.float64(), "Float64")
    if every_cell is not None:  # what every path below would give when Arrow reads every cell
        return every_cell, pd.Series(False, index=cells.index)
    # Not block by block as parse_int: grouped amounts ("1,299.00") are common, spread over
    # the file, and the decimal separator is decided on the whole column.
    strings = _arrow(cells)
    plain = _matches(strings, _PLAIN_DECIMAL)
    rest = cells[cells.notna().to_numpy(dtype=bool) & ~plain]
    if rest.empty:
        return _parse_number_text(cells, comma_decimal=False)
    amounts = _strip_currency(rest)
    commas = int(amounts.str.contains(r",\d{1,2}$").sum())
    # dots are counted only when there are commas to weigh them against (a pass over every cell)
    if commas and commas > int(amounts.str.contains(_DOT_DECIMAL_END).sum()) + int(
        (plain & _matches(strings, _DOT_DECIMAL_END)).sum()
    ):  # "12.345" means 12345 here: every cell takes the slow path
        return _parse_number_text(cells, comma_decimal=True)
    parsed = _with_fallback(cells, plain, pa.float64(), "Float64",  # the same rows as ``rest``
                            lambda text: _parse_number_text(text, comma_decimal=False, amounts=amounts))
    return parsed if parsed is not None else _parse_number_text(cells, comma_decimal=False)


def _strip_currency(cells: pd.Series) -> pd.Series:
    """Amounts without a currency code or sign before or after them."""
    amounts = cells.str.replace(r"^(?:[A-Z]{3}|R\$|US\$|[$¥￥€£])\s*", "", regex=True)
    return amounts.str.replace(r"\s*(?:[A-Z]{3}|元)$", "", regex=True)


def _parse_number_text(
    cells: pd.Series, comma_decimal: bool, amounts: pd.Series | None = None
) -> tuple[pd.Series, pd.Series]:
    """:func:`parse_number` with the column's decimal separator already decided.

    ``amounts``: the cells already stripped of currency (:func:`_strip_currency`), if at hand.
    """
    clean = _cast(cells, pa.float64(), "Float64")
    if clean is not None:
        return clean, pd.Series(False, index=cells.index)
    amounts = _strip_currency(cells) if amounts is None else amounts
    group, decimal = (".", ",") if comma_decimal else (",", ".")
    grouped = amounts.str.fullmatch(rf"[+-]?\d{{1,3}}(\{group}\d{{3}})+(\{decimal}\d+)?")
    amounts = _choose(grouped, amounts.str.replace(group, "", regex=False), amounts)
    if comma_decimal:
        amounts = amounts.str.replace(",", ".", regex=False)
    values = _to_float(amounts)
    return values, (cells.notna() & values.isna()).astype(bool)


def _cast(cells: pd.Series, arrow_type: pa.DataType, dtype: str) -> pd.Series | None:
    """All cells cast at C++ speed when every one is a plain number, else None."""
    try:
        values = pc.cast(_arrow(cells), arrow_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    values = values.to_pandas(types_mapper={arrow_type: pd.api.types.pandas_dtype(dtype)}.get)
    return values.set_axis(cells.index)


def _to_float(cells: pd.Series) -> pd.Series:
    """Float64 from number-like text; anything else becomes NA."""
    clean = _cast(cells, pa.float64(), "Float64")
    if clean is not None:
        return clean
    return pd.to_numeric(cells, errors="coerce").astype("Float64")


def _choose(condition: pd.Series, if_true: pd.Series, if_false: pd.Series) -> pd.Series:
    """Element-wise choice between two text columns (NA condition → ``if_false``), in C++."""
    chosen = pc.if_else(
        pa.array(condition.fillna(False).astype(bool).to_numpy()),
        _arrow(if_true),
        _arrow(if_false),
    )
    return pd.Series(pd.arrays.ArrowStringArray(chosen), index=if_false.index)


def parse_datetime(cells: pd.Series, formats: Sequence[str]) -> tuple[pd.Series, pd.Series]:
    """Timestamps from text, trying explicit formats in order (never guessing).

    Each format is applied with ``pd.to_datetime(format=..., errors="coerce")`` to the
    cells still unparsed. :data:`EXCEL_SERIAL` reads Excel serial day numbers
    (1900 date system, epoch 1899-12-30), rounded to the second. For the formats of
    ``_ISO_FORMATS`` (``%Y-%m-%d %H:%M:%S``, ``%Y/%m/%d …``, ``%d/%m/%Y …``, ``%m/%d/%Y …``,
    ``%Y-%m-%d``), cells written with two-digit fields are first rewritten as ISO 8601 and
    cast by Arrow, which gives the same timestamps ten times faster; the other cells, and
    any block of cells Arrow rejects (an impossible date), go to pandas as before.

    Returns:
        ``(values, bad)``: datetime64[ns] values and a mask of non-empty cells that
        matched no format.
    """
    values = np.full(len(cells), np.datetime64("NaT"), dtype="datetime64[ns]")  # NumPy until the end:
    todo = cells.notna().to_numpy(dtype=bool)  # assignments by position stay cheap on a million cells
    strings = _arrow(cells)
    for fmt in formats:
        if fmt in _ISO_FORMATS and todo.any():
            pattern, rewrite = _ISO_FORMATS[fmt]
            written = todo & _matches(strings, pattern)
            rows = np.flatnonzero(written)
            iso = pc.filter(strings, pa.array(written)).combine_chunks()
            if rewrite is not None:
                iso = pc.replace_substring_regex(iso, pattern, rewrite)
            parsed, cast = _iso_timestamps(iso)
            values[rows[cast]] = parsed[cast]
            todo[rows[cast]] = False
        if not todo.any():
            break
        pending = cells[todo]
        if fmt == EXCEL_SERIAL:
            serial = pending.str.fullmatch(r"\d{1,6}(\.\d+)?").fillna(False).astype(bool)
            days = pd.to_numeric(pending[serial], errors="coerce").reindex(pending.index)
            parsed = (_EXCEL_EPOCH + pd.to_timedelta(days.astype("float64"), unit="D")).dt.round("s")
        else:
            parsed = pd.to_datetime(pending, format=fmt, errors="coerce")
        values[todo] = parsed.to_numpy(dtype="datetime64[ns]")
        todo &= np.isnat(values)
    return pd.Series(values, index=cells.index), pd.Series(todo, index=cells.index)


def _iso_timestamps(cells: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """ISO-8601 text cast by Arrow (:func:`_cast_blocks`): datetime64[ns] values and the mask of cells cast."""
    values, cast = _cast_blocks(cells, pa.timestamp("ns"))
    return values.to_numpy().astype("datetime64[ns]", copy=False), cast


def _cast_blocks(cells: pa.Array | pa.ChunkedArray, arrow_type: pa.DataType) -> tuple[pa.ChunkedArray, np.ndarray]:
    """Text cast by Arrow where it can: the values (null where not cast) and the mask of cells cast.

    One cell Arrow cannot read (``2024-02-30``, ``abc``) makes it refuse a whole batch, so a
    refused batch is halved until the halves cast or hold at most ``_PANDAS_BLOCK`` cells,
    which are left to the caller's slower parser: a few bad cells cost a few extra casts
    (a refused cast stops at the first bad cell), not a slow path for every cell.
    """
    pieces: list[tuple[int, pa.ChunkedArray | pa.Array]] = []
    cast = np.zeros(len(cells), dtype=bool)
    pending = [(0, len(cells))] if len(cells) else []
    while pending:  # one step per halving, about log2(cells) per bad cell
        start, length = pending.pop()
        try:
            block = pc.cast(cells.slice(start, length), arrow_type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            if length > _PANDAS_BLOCK:
                half = length // 2
                pending += [(start, half), (start + half, length - half)]
            else:
                pieces.append((start, pa.nulls(length, arrow_type)))
            continue
        pieces.append((start, block))
        cast[start:start + length] = True
    chunks = [chunk for _, piece in sorted(pieces, key=lambda p: p[0])
              for chunk in (piece.chunks if isinstance(piece, pa.ChunkedArray) else [piece])]
    return pa.chunked_array(chunks, type=arrow_type), cast


def parse_bool(cells: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Booleans from ``true/false``, ``yes/no``, ``1/0``, ``是/否`` (any case)."""
    words = {w: True for w in _TRUE_WORDS} | {w: False for w in _FALSE_WORDS}
    return map_words(cells, words, case_insensitive=True, dtype="boolean")


def map_words(
    cells: pd.Series,
    words: Mapping[str, object],
    *,
    case_insensitive: bool = False,
    dtype: str = "string[pyarrow]",
) -> tuple[pd.Series, pd.Series]:
    """Translate a platform's words into canonical values.

    Returns:
        ``(values, unknown)``: the translated values, and a mask of non-empty cells
        whose word is not in ``words``.
    """
    if case_insensitive:
        words = {str(k).lower(): v for k, v in words.items()}
        cells = cells.str.lower()
    codes, uniques = pd.factorize(cells)  # translate each distinct word once
    translated = pd.array([words.get(w, pd.NA) for w in uniques] + [pd.NA], dtype=dtype)
    values = pd.Series(translated.take(codes), index=cells.index)  # code -1 (empty) takes the last NA
    return values, (cells.notna() & values.isna()).astype(bool)


def map_required_words(
    cells: pd.Series,
    words: Mapping[str, object],
    name: str,
    source: str,
    faults: RowFaults,
    *,
    case_insensitive: bool = False,
    listed: Iterable[str] | None = None,
) -> pd.Series:
    """:func:`map_words` for a required column: an empty cell is ``missing_<name>``, an
    unknown word ``unknown_<name>`` (its message lists ``listed``, by default ``words``)."""
    values, unknown = map_words(cells, words, case_insensitive=case_insensitive)
    faults.add(cells.isna(), f"missing_{name}", source)
    faults.add(unknown, f"unknown_{name}", source, cells, "expected one of " + ", ".join(listed or words))
    return values


def parse_columns(
    frame: pd.DataFrame,
    sources: Mapping[str, str],
    table: str,
    faults: RowFaults,
    *,
    date_formats: Sequence[str],
    null_tokens: Iterable[str] = ("",),
    as_text: Iterable[str] = (),
) -> pd.DataFrame:
    """Canonical columns parsed from source columns, by the table's dtypes.

    Cells that do not parse mark their row in ``faults`` with the source column and a
    reason: ``non_numeric_quantity`` / ``non_numeric_amount`` / ``non_numeric_value``
    (numbers), ``unparseable_date`` (dates), ``unparseable_bool``.

    Args:
        frame: the file's cells as text.
        sources: canonical column -> source header; headers absent from ``frame`` are skipped.
        table: the canonical table, whose dtypes decide the parsing.
        faults: where unparseable cells are recorded.
        date_formats: formats for every datetime column, tried in order.
        null_tokens: cell values meaning empty.
        as_text: canonical columns returned as clean text, for the adapter to translate.

    Returns:
        A frame aligned with ``frame`` holding the canonical columns found.
    """
    spec = TABLES[table].columns
    as_text = set(as_text)
    present = [(column, source, frame[source]) for column, source in sources.items() if source in frame.columns]

    def parse(item: tuple[str, str, pd.Series]) -> tuple[pd.Series, tuple | None]:
        column, source, raw = item
        cells = text(raw, null_tokens)
        dtype = pd.api.types.pandas_dtype(spec[column])
        if column in as_text or isinstance(dtype, pd.StringDtype):
            return cells, None
        if pd.api.types.is_integer_dtype(dtype):
            values, bad = parse_int(cells)
            reason = "non_numeric_quantity" if column in _QUANTITY_COLUMNS else "non_numeric_value"
            expected = "expected a whole number"
        elif pd.api.types.is_float_dtype(dtype):
            values, bad = parse_number(cells)
            reason = "non_numeric_amount" if column in _MONEY_COLUMNS else "non_numeric_value"
            expected = "expected a number"
        elif pd.api.types.is_datetime64_dtype(dtype):
            values, bad = parse_datetime(cells, date_formats)
            reason, expected = "unparseable_date", "expected " + " or ".join(date_formats)
        else:  # boolean
            values, bad = parse_bool(cells)
            reason, expected = "unparseable_bool", "expected true/false, yes/no, 1/0 or 是/否"
        return values, (bad, reason, source, cells, expected)

    # Columns parse independently and Arrow's kernels release the GIL: two threads use both
    # cores. Faults are recorded afterwards in column order, so a row keeps the same first one.
    with ThreadPoolExecutor(max_workers=_PARSE_THREADS) as pool:
        parsed = list(pool.map(parse, present))
    out = pd.DataFrame(index=frame.index)
    for (column, _, _), (values, fault) in zip(present, parsed):
        if fault is not None:
            faults.add(*fault)
        out[column] = values
    return out


def flag_missing(
    canonical: pd.DataFrame,
    columns: Iterable[str],
    faults: RowFaults,
    sources: Mapping[str, str],
) -> None:
    """Mark rows with an empty value in a required column as ``missing_<column>``."""
    for column in columns:
        if column in canonical.columns:
            source = sources.get(column, column)
            faults.add(canonical[column].isna(), f"missing_{column}", source, expected=f"{source} is empty")


def _raw_json(frame: pd.DataFrame) -> list[str]:
    """Each row as one JSON object keyed by the original headers (nulls as null)."""
    if frame.empty:
        return []
    unique = frame.loc[:, ~frame.columns.duplicated()]
    lines = unique.astype(object).to_json(orient="records", lines=True, force_ascii=False)
    return lines.rstrip("\n").split("\n")


def _runs(keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop (exclusive) of each run of True in ``keep``."""
    edges = np.flatnonzero(np.diff(keep.astype(np.int8), prepend=0, append=0))
    return edges[::2], edges[1::2]


def _conformed(canonical: pd.DataFrame, table: str, keep: np.ndarray) -> pd.DataFrame:
    """``conform(canonical.loc[keep], table)``, without copying what needs no change.

    Each column is cast only when its dtype differs, strings are filtered in Arrow and
    absent optional columns are built as typed nulls (pandas would fill strings one
    Python object per row). When the kept rows form a few runs (a big export with a few
    bad rows), strings are sliced around the dropped rows instead of copied.
    """
    spec = TABLES[table]
    missing = [c for c in spec.required if c not in canonical.columns]
    if missing:
        raise ValueError(f"{table}: required columns missing: {missing}")
    rows = int(keep.sum())
    every_row = rows == len(keep)
    mask = pa.array(keep)
    starts, stops = _runs(keep)
    sliced = 0 < len(starts) <= _MAX_SLICES
    columns: dict[str, pd.Series | pd.api.extensions.ExtensionArray] = {}
    for column, dtype in spec.columns.items():
        if column not in canonical.columns:
            columns[column] = constant(None, pd.RangeIndex(rows), dtype).array
            continue
        values = canonical[column]
        if values.dtype != pd.api.types.pandas_dtype(dtype):
            values = values.astype(dtype)
        if every_row:
            columns[column] = values.array
        elif isinstance(values.dtype, pd.StringDtype):
            strings = _arrow(values)
            if sliced:
                pieces = [chunk for a, b in zip(starts, stops) for chunk in strings.slice(a, b - a).chunks]
                strings = pa.chunked_array(pieces, type=strings.type)
            else:
                strings = pc.filter(strings, mask)
            columns[column] = _series(strings, pd.RangeIndex(rows)).array
        else:
            columns[column] = values.array[keep]
    return pd.DataFrame(columns, index=pd.RangeIndex(rows), copy=False)


def assemble(
    path: str | Path,
    platform: str,
    frame: pd.DataFrame,
    first_row: int,
    destinations: Mapping[str, tuple[pd.DataFrame, np.ndarray]],
    faults: RowFaults,
    fault_table: str | np.ndarray,
) -> AdapterResult:
    """Send each row to its canonical table or to the quarantine.

    Args:
        path: the file, stored as ``source_file`` (its name, as given).
        platform: the adapter's platform code.
        frame: the file's cells as read, for the quarantine's ``raw`` JSON.
        first_row: the file row number of ``frame``'s first row (2 below one header).
        destinations: table name -> (canonical columns aligned with ``frame``, mask of
            the rows meant for that table). Masks must not overlap.
        faults: rows at fault go to the quarantine instead.
        fault_table: the table a faulted row was meant for (one name, or one per row).

    Returns:
        The result; :meth:`AdapterResult.check` holds by construction.
    """
    ok = faults.ok
    source_rows = np.arange(first_row, first_row + len(frame))
    tables: dict[str, pd.DataFrame] = {}
    for name, (canonical, meant) in destinations.items():
        keep = np.asarray(meant, dtype=bool) & ok
        table = _conformed(canonical, name, keep)
        table["source_row"] = pd.array(source_rows[keep], dtype="Int64")
        tables[name] = table
    bad = np.flatnonzero(~ok)
    target = np.broadcast_to(np.asarray(fault_table, dtype=object), (len(frame),))
    quarantine = pd.DataFrame(
        {
            "source_file": str(path),
            "source_row": source_rows[bad],
            "table_name": target[bad],
            "column_name": faults.column[bad],
            "reason": faults.reason[bad],
            "detail": faults.detail[bad],
            "raw": _raw_json(frame.iloc[bad]),
        }
    ).astype(QUARANTINE_COLUMNS)
    result = AdapterResult(str(path), platform, len(frame), tables, quarantine)
    result.check()
    return result
