"""The DuckDB store: one file holding every canonical table, the quarantine and the imports.

Tables are created from :data:`restock.schema.TABLES` (a column added there is added to an
existing store when it is next opened for writing), so the schema module stays the one place
to change a column. Each canonical table carries one extra column, ``import_id``, naming the
import that last wrote the row.

Writes are set-based upserts on the table's key, never a statement per row: the DataFrame
is handed to DuckDB as an Arrow table (scanned in place, never copied into a staging table);
a ``GROUP BY`` on the key finds in-frame duplicates (the last wins); a join on the key
columns alone finds the rows whose key is stored, and only those are compared column by
column with the stored row (a file of new keys skips the comparison); then one
``UPDATE … FROM`` and one ``INSERT … SELECT``. So re-importing the same or an overlapping
export changes nothing, and a newer export of an order line updates it. The key is enforced by the upsert rather than
by a ``PRIMARY KEY``: key columns may be null (``order_lines.shop``, ``campaigns.sku``
meaning "every SKU"), which a primary key refuses, and nulls compare as equal here
(``IS NOT DISTINCT FROM``).

Two rules keep an older export from undoing a newer one (exports carry no export time):

* An order line follows its life cycle ``unpaid → to_ship → shipped → completed |
  cancelled`` and never moves back: an incoming row whose status is earlier than the stored
  one is an older export of that line and is skipped (counted as unchanged).
* A file imported again (same sha256) does not overwrite a row that a later import
  changed: re-importing a folder of overlapping exports, oldest first, changes nothing even
  where a newer export changed a field other than the status (``after_sale_status``).

Reads (:meth:`Store.load`) return frames conformed to the schema, cut at ``as_of`` on the
table's date column so a report for a past day sees only what was known by then.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from restock import config
from restock.schema import QUARANTINE_COLUMNS, TABLES, Table, conform

__all__ = ["Store", "UpsertCounts", "file_sha256"]

_STRING = QUARANTINE_COLUMNS["source_file"]  # the schema's string dtype, for the store's own tables


def _sql_type(dtype: str) -> str:
    """The DuckDB type of a schema dtype (string → VARCHAR, Int64 → BIGINT, Float64 → DOUBLE,
    datetime64 → TIMESTAMP, boolean → BOOLEAN), whatever storage the string dtype uses."""
    resolved = pd.api.types.pandas_dtype(dtype)
    if isinstance(resolved, pd.StringDtype):
        return "VARCHAR"
    if isinstance(resolved, pd.Int64Dtype):
        return "BIGINT"
    if isinstance(resolved, pd.Float64Dtype):
        return "DOUBLE"
    if isinstance(resolved, pd.BooleanDtype):
        return "BOOLEAN"
    if pd.api.types.is_datetime64_dtype(resolved):
        return "TIMESTAMP"
    raise ValueError(f"dtype must be one of string, Int64, Float64, datetime64, boolean; got {dtype!r}")


_DATE_COLUMNS = {
    "order_lines": "created_at",
    "after_sales": "requested_at",
    "stock": "as_of",
    "purchase_orders": "ordered_at",
    "traffic": "date",
}
"""The column ``load(as_of=…)`` cuts on; products and campaigns are never cut (a campaign
planned after ``as_of`` is exactly what the forecast needs to know)."""

_STATUS_RANK = {"unpaid": 0, "to_ship": 1, "shipped": 2, "completed": 3, "cancelled": 3}
"""Order line life cycle; both final statuses share the last rank so either may follow the other."""

_DAY_TOTALS = {"table": _STRING, "source": _STRING, "date": "datetime64[ns]", "rows": "int64",
               "units": "float64", "first": "datetime64[ns]", "last": "datetime64[ns]"}
_SKU_TOTALS = {"sku": _STRING, "name": _STRING, "units": "int64", "orders": "int64",
               "first_sold": "datetime64[ns]", "last_sold": "datetime64[ns]"}

_IMPORT_COLUMNS = {
    "import_id": "Int64",
    "source_file": _STRING,
    "sha256": _STRING,
    "platform": _STRING,
    "is_demo": "boolean",
    "imported_at": "datetime64[ns]",
    "rows_in": "Int64",
    "stored": "Int64",
    "inserted": "Int64",
    "updated": "Int64",
    "quarantined": "Int64",
    "duplicates": "Int64",
    "by_reason": _STRING,  # JSON object {reason: rows}
}
_IMPORT_COUNTS = ("rows_in", "stored", "inserted", "updated", "quarantined", "duplicates")
_QUARANTINE_STORED = {**QUARANTINE_COLUMNS, "import_id": "Int64"}

_INCOMING = "_restock_incoming"  # name the frame being written is registered under
_POS = "_pos"  # row number of the frame being written, added to its Arrow table
_ARROW_TO_PANDAS = {
    pa.string(): pd.StringDtype("pyarrow"),  # no copy out of Arrow
    pa.large_string(): pd.StringDtype("pyarrow"),
    pa.int64(): pd.Int64Dtype(),
    pa.float64(): pd.Float64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}


@dataclass(frozen=True)
class UpsertCounts:
    """What one :meth:`Store.upsert` did with the rows it was given.

    ``inserted + updated + unchanged`` is the number of rows given, duplicates inside the
    frame included (they count as unchanged).
    """

    inserted: int
    updated: int
    unchanged: int

    @property
    def stored(self) -> int:
        """Rows that changed the store: inserted plus updated."""
        return self.inserted + self.updated


def _q(name: str) -> str:
    """A quoted SQL identifier (columns such as ``start``, ``end`` and ``date`` are keywords)."""
    return '"' + name.replace('"', '""') + '"'


def _create_table_sql(name: str, columns: Mapping[str, str]) -> str:
    """``CREATE TABLE IF NOT EXISTS`` with the pandas dtypes mapped by :func:`_sql_type`."""
    body = ", ".join(f"{_q(c)} {_sql_type(t)}" for c, t in columns.items())
    return f"CREATE TABLE IF NOT EXISTS {_q(name)} ({body})"


def _null_safe_match(left: str, right: str, columns: tuple[str, ...] | list[str]) -> str:
    """SQL condition true when every column is equal or null on both sides."""
    return " AND ".join(f"{left}.{_q(c)} IS NOT DISTINCT FROM {right}.{_q(c)}" for c in columns)


def _status_rank_sql(alias: str) -> str:
    """SQL expression ranking ``alias.status`` in the order life cycle; null when unknown."""
    cases = " ".join(f"WHEN '{s}' THEN {r}" for s, r in _STATUS_RANK.items())
    return f"CASE {alias}.status {cases} END"


def _update_condition(table: Table, previous_import: int | None) -> str:
    """When a stored row (``t``) with the incoming row's (``i``) key is replaced by it.

    A row is replaced when any non-key value differs, except that an order line is not
    replaced by a row whose status is earlier in the life cycle, and that a file imported
    again (its content's previous import being ``previous_import``) does not replace a row
    that a later import wrote.
    """
    values = [c for c in table.columns if c not in table.key]
    condition = f"NOT ({_null_safe_match('i', 't', values)})"
    if table.name == "order_lines":
        condition += f" AND coalesce({_status_rank_sql('i')} >= {_status_rank_sql('t')}, TRUE)"
    if previous_import is not None:
        condition += f" AND coalesce(t.import_id <= {int(previous_import)}, TRUE)"
    return condition


def _registrable(df: pd.DataFrame, table: Table) -> tuple[pa.Table, list[str]]:
    """The rows as an Arrow table for DuckDB to scan in place, and the table columns it holds.

    Columns already of the schema dtype convert without copying their strings; others are
    conformed first. A ``_pos`` column numbers the rows (0 …), which decides which of two
    duplicate keys is the last.

    Raises:
        ValueError: a required column is missing.
    """
    missing = [c for c in table.required if c not in df.columns]
    if missing:
        raise ValueError(f"{table.name}: required columns missing: {missing}")
    present = [c for c in table.columns if c in df.columns]
    if not all(df[c].dtype == pd.api.types.pandas_dtype(table.columns[c]) for c in present):
        df, present = conform(df, table.name), list(table.columns)
    arrow = pa.Table.from_pandas(df[present], preserve_index=False)
    return arrow.append_column(_POS, pa.array(np.arange(len(df), dtype=np.int64))), present


def _incoming_sql(table: Table, present: list[str]) -> str:
    """The registered rows with the store's column types (missing optional columns as nulls).

    A subquery, not a copy: DuckDB scans the Arrow buffers where they are.
    """
    items = [
        f"CAST({_q(c) if c in present else 'NULL'} AS {_sql_type(t)}) AS {_q(c)}" for c, t in table.columns.items()
    ]
    return f"(SELECT {', '.join(items)}, {_POS} FROM {_INCOMING})"


def _null_count_sql(table: Table) -> str:
    """Nulls per required column of the registered rows, in ``table.required`` order."""
    counts = ", ".join(f"count(*) FILTER ({_q(c)} IS NULL)" for c in table.required)
    return f"SELECT {counts} FROM {_INCOMING}"


def _superseded_sql(table: Table) -> str:
    """``_superseded``: rows whose key appears again later in the frame (the last one wins)."""
    key = ", ".join(_q(c) for c in table.key)
    # Equal keys (nulls included) hash alike, so grouping the keys' hashes first leaves the
    # grouping of the key strings to the few rows that may repeat: half the time on a
    # million order lines.
    return (
        f"CREATE OR REPLACE TEMP TABLE _superseded AS WITH maybe AS (SELECT {key}, {_POS} FROM {_INCOMING} "
        f"WHERE hash({key}) IN (SELECT hash({key}) AS h FROM {_INCOMING} GROUP BY h HAVING count(*) > 1)) "
        f"SELECT i.{_POS} FROM maybe i "
        f"JOIN (SELECT {key}, max({_POS}) AS _keep FROM maybe GROUP BY {key} HAVING count(*) > 1) d "
        f"ON {_null_safe_match('i', 'd', table.key)} WHERE i.{_POS} <> d._keep"
    )


def _stored_sql(table: Table, incoming: str) -> str:
    """``_stored``: incoming rows (``_pos``) whose key the table holds, with that row's ``rowid``.

    Only the key columns are read, so a file of new keys costs a key lookup, not a
    comparison of every column.
    """
    return (
        f"CREATE OR REPLACE TEMP TABLE _stored AS SELECT i.{_POS}, t.rowid AS _rowid "
        f"FROM {incoming} i JOIN {_q(table.name)} t ON {_null_safe_match('i', 't', table.key)}"
    )


def _changed_sql(table: Table, incoming: str, previous_import: int | None, superseded: bool) -> str:
    """``_changed``: the ``_stored`` rows that their incoming row replaces (:func:`_update_condition`)."""
    sql = (
        f"CREATE OR REPLACE TEMP TABLE _changed AS SELECT s.{_POS}, s._rowid FROM _stored s "
        f"JOIN {incoming} i ON i.{_POS} = s.{_POS} JOIN {_q(table.name)} t ON t.rowid = s._rowid "
        f"WHERE {_update_condition(table, previous_import)}"
    )
    if superseded:
        sql += f" AND s.{_POS} NOT IN (SELECT {_POS} FROM _superseded)"
    return sql


def _update_sql(table: Table, incoming: str) -> str:
    """Replace the stored rows named in ``_changed`` by their incoming values."""
    target = _q(table.name)
    assignments = ", ".join(f"{_q(c)} = c.{_q(c)}" for c in table.columns if c not in table.key)
    return (
        f"UPDATE {target} SET {assignments}, import_id = ? "
        f"FROM (SELECT c._rowid, i.* FROM _changed c JOIN {incoming} i ON i.{_POS} = c.{_POS}) c "
        f"WHERE {target}.rowid = c._rowid"
    )


def _insert_sql(table: Table, incoming: str, every_row: bool) -> str:
    """Insert the incoming rows with a new key, the last of each (all of them: no lookup)."""
    columns = ", ".join(_q(c) for c in table.columns)
    selected = ", ".join(f"i.{_q(c)}" for c in table.columns)
    sql = f"INSERT INTO {_q(table.name)} ({columns}, import_id) SELECT {selected}, ? FROM {incoming} i"
    if not every_row:
        sql += (f" WHERE i.{_POS} NOT IN (SELECT {_POS} FROM _stored)"
                f" AND i.{_POS} NOT IN (SELECT {_POS} FROM _superseded)")
    return sql


def _day_end(as_of: object, name: str = "as_of") -> pd.Timestamp:
    """The first instant after the day ``as_of`` (data of that whole day is included)."""
    message = f"{name} must be a date, a timestamp or a YYYY-MM-DD string; got {as_of!r}"
    if not isinstance(as_of, (str, date, datetime, np.datetime64)):
        raise ValueError(message)
    try:
        day = pd.Timestamp(as_of)
    except ValueError as error:
        raise ValueError(message) from error
    if pd.isna(day):
        raise ValueError(message)
    return day.tz_localize(None).normalize() + pd.Timedelta(days=1)


def _to_frame(arrow_table: pa.Table, dtypes: Mapping[str, str]) -> pd.DataFrame:
    """An Arrow result as pandas with the dtypes of ``dtypes`` (only differing columns are cast)."""
    if arrow_table.num_rows == 0:
        # An empty Arrow result has no chunks, and pandas 2.3 cannot merge or join on such
        # string columns ("cannot construct ChunkedArray from empty vector"); build it anew.
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in dtypes.items()})
    frame = arrow_table.to_pandas(types_mapper=_ARROW_TO_PANDAS.get)
    casts = {c: t for c, t in dtypes.items() if frame[c].dtype != pd.api.types.pandas_dtype(t)}
    return frame.astype(casts) if casts else frame


def file_sha256(path: str | Path) -> str | None:
    """Hex sha256 of a file's bytes (what identifies an import's content); None when the path is not a file."""
    path = Path(path)
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Store:
    """The DuckDB store (see the module docstring for the rules it keeps).

    Use it as a context manager; it creates the file and its tables when missing::

        with Store(path) as store:
            counts = store.upsert("order_lines", frame, import_id)

    Args:
        path: the DuckDB file; ``None`` means :data:`restock.config.DEFAULT_STORE`.
        read_only: open without writing (several readers may share the file). The file
            must exist.

    Raises:
        FileNotFoundError: ``read_only`` and the file does not exist.
    """

    def __init__(self, path: str | Path | None = None, read_only: bool = False) -> None:
        self.path = Path(path) if path is not None else config.DEFAULT_STORE
        self.read_only = read_only
        if read_only and not self.path.is_file():
            raise FileNotFoundError(f"store not found: {self.path} (import exports first: restock intake)")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con = duckdb.connect(str(self.path), read_only=read_only)
        if not read_only:
            # Appends need not keep the frame's row order (every read says ORDER BY): about a
            # fifth less work for DuckDB on a million-row insert.
            self._con.execute("SET preserve_insertion_order = false")
            self._create_schema()

    # -- life cycle -------------------------------------------------------------------

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection; the store cannot be used afterwards."""
        self._con.close()

    def _create_schema(self) -> None:
        tables = {t.name: {**t.columns, "import_id": "Int64"} for t in TABLES.values()}
        tables |= {"quarantine": _QUARANTINE_STORED, "imports": _IMPORT_COLUMNS}
        for name, columns in tables.items():
            self._con.execute(_create_table_sql(name, columns))
            for column, dtype in columns.items():  # columns the schema gained since the file was made
                self._con.execute(f"ALTER TABLE {_q(name)} ADD COLUMN IF NOT EXISTS {_q(column)} {_sql_type(dtype)}")
        self._con.execute("CREATE SEQUENCE IF NOT EXISTS import_id_seq START 1")

    def _scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        return self._con.execute(sql, params or []).fetchall()[0][0]

    def _frame(self, sql: str, dtypes: Mapping[str, str], params: list[Any] | None = None) -> pd.DataFrame:
        return _to_frame(self._con.sql(sql, params=params or None).to_arrow_table(), dtypes)

    # -- writing ----------------------------------------------------------------------

    def upsert(self, table: str, df: pd.DataFrame, import_id: int | None = None) -> UpsertCounts:
        """Insert new rows and update changed ones of a canonical table, by its key.

        Rules (all set-based SQL over the registered frame):

        * a row identical to the stored row with its key is ``unchanged`` (a duplicate);
        * a row with a stored key but other values replaces that row (``updated``), except
          an order line whose status is earlier in the life cycle than the stored one, and
          a row of a file imported again (same sha256 as an earlier import) where a later
          import wrote the stored row;
        * duplicate keys inside ``df``: the last row wins, the earlier ones are unchanged.

        The whole upsert is one transaction: on error the table is as it was.

        Args:
            table: a name in :data:`restock.schema.TABLES`.
            df: rows with the table's columns (extra columns such as ``source_row`` are
                dropped, missing optional ones are null); conformed with
                :func:`restock.schema.conform`.
            import_id: the import writing the rows (from :meth:`begin_import`), kept on
                each inserted or updated row.

        Returns:
            The counts; ``inserted + updated + unchanged == len(df)``.

        Raises:
            ValueError: unknown table, a required column missing, or nulls in one.
        """
        spec = _table(table)
        rows, present = _registrable(df, spec)
        if rows.num_rows == 0:
            return UpsertCounts(0, 0, 0)
        previous_import = None if import_id is None else self._previous_import(import_id)
        incoming = _incoming_sql(spec, present)
        self._con.register(_INCOMING, rows)
        self._con.begin()
        try:
            null_counts = self._con.execute(_null_count_sql(spec)).fetchall()[0]
            nulls = {c: n for c, n in zip(spec.required, null_counts) if n}
            if nulls:
                raise ValueError(f"{table}: nulls in required columns (rows per column): {nulls}")
            self._con.execute(_superseded_sql(spec))
            superseded = self._scalar("SELECT count(*) FROM _superseded")
            self._con.execute(_stored_sql(spec, incoming))
            stored = self._scalar("SELECT count(*) FROM _stored")
            updated = 0
            if stored:  # only keys already in the table need their values compared
                self._con.execute(_changed_sql(spec, incoming, previous_import, superseded > 0))
                updated = self._scalar("SELECT count(*) FROM _changed")
                if updated:
                    self._con.execute(_update_sql(spec, incoming), [import_id])
                self._con.execute("DROP TABLE _changed")
            every_row = not stored and not superseded
            inserted = self._scalar(_insert_sql(spec, incoming, every_row), [import_id])
            for temporary in ("_superseded", "_stored"):
                self._con.execute(f"DROP TABLE {temporary}")
            self._con.commit()
        except BaseException:
            self._con.rollback()
            raise
        finally:
            self._con.unregister(_INCOMING)
        total = rows.num_rows
        return UpsertCounts(int(inserted), int(updated), total - int(inserted) - int(updated))

    def add_quarantine(self, qdf: pd.DataFrame, import_id: int) -> int:
        """Keep quarantined rows for review, once per file content.

        A row whose file (same sha256), table and ``source_row`` is already quarantined is
        skipped, so re-importing a file does not repeat its quarantine.

        Args:
            qdf: rows with :data:`restock.schema.QUARANTINE_COLUMNS`.
            import_id: the import they came from (:meth:`begin_import`).

        Returns:
            The number of rows added.

        Raises:
            ValueError: a quarantine column is missing, or ``import_id`` is unknown.
        """
        missing = [c for c in QUARANTINE_COLUMNS if c not in qdf.columns]
        if missing:
            raise ValueError(f"quarantine frame lacks columns {missing}")
        self._import_row(import_id)
        if qdf.empty:
            return 0
        frame = qdf[list(QUARANTINE_COLUMNS)].astype(QUARANTINE_COLUMNS).reset_index(drop=True)
        columns = ", ".join(_q(c) for c in QUARANTINE_COLUMNS)
        self._con.register(_INCOMING, frame)
        try:
            return int(
                self._scalar(
                    f"INSERT INTO quarantine ({columns}, import_id) "
                    f"SELECT {', '.join('n.' + _q(c) for c in QUARANTINE_COLUMNS)}, ? FROM {_INCOMING} n "
                    "WHERE NOT EXISTS (SELECT 1 FROM quarantine q JOIN imports i USING (import_id) "
                    "WHERE i.sha256 = (SELECT sha256 FROM imports WHERE import_id = ?) "
                    "AND q.source_row IS NOT DISTINCT FROM n.source_row "
                    "AND q.table_name IS NOT DISTINCT FROM n.table_name)",
                    [import_id, import_id],
                )
            )
        finally:
            self._con.unregister(_INCOMING)

    def begin_import(self, source_file: str | Path, platform: str, is_demo: bool, sha256: str | None = None) -> int:
        """Record the start of an import and return its ``import_id``.

        The file's sha256 identifies its content (for quarantine de-duplication); it is
        null when ``source_file`` is not a readable file. A caller that already hashed the
        file (intake does, while the previous file is being stored) passes ``sha256``.
        """
        import_id = int(self._scalar("SELECT nextval('import_id_seq')"))
        self._con.execute(
            "INSERT INTO imports (import_id, source_file, sha256, platform, is_demo, imported_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [import_id, str(source_file), sha256 or file_sha256(source_file), platform, bool(is_demo), datetime.now()],
        )
        return import_id

    def finish_import(self, import_id: int, summary: Mapping[str, Any]) -> None:
        """Store an import's counts.

        Args:
            import_id: from :meth:`begin_import`.
            summary: ``rows_in``, ``stored``, ``inserted``, ``updated``, ``quarantined``,
                ``duplicates`` and optionally ``by_reason`` ({reason: rows}); other keys
                (``file``, ``platform``) are ignored.

        Raises:
            ValueError: a count is missing, or ``import_id`` is unknown.
        """
        missing = [k for k in _IMPORT_COUNTS if k not in summary]
        if missing:
            raise ValueError(f"summary lacks counts {missing}; got keys {sorted(summary)}")
        self._import_row(import_id)
        assignments = ", ".join(f"{k} = ?" for k in _IMPORT_COUNTS)
        by_reason = json.dumps({str(k): int(v) for k, v in dict(summary.get("by_reason") or {}).items()})
        self._con.execute(
            f"UPDATE imports SET {assignments}, by_reason = ? WHERE import_id = ?",
            [int(summary[k]) for k in _IMPORT_COUNTS] + [by_reason, import_id],
        )

    def _previous_import(self, import_id: int) -> int | None:
        """The latest earlier import of the same file content as ``import_id``, if any."""
        return self._scalar(
            "SELECT max(p.import_id) FROM imports p JOIN imports c ON p.sha256 = c.sha256 "
            "WHERE c.import_id = ? AND p.import_id < c.import_id",
            [import_id],
        )

    def _import_row(self, import_id: int) -> None:
        if not self._scalar("SELECT count(*) FROM imports WHERE import_id = ?", [import_id]):
            raise ValueError(f"import_id {import_id!r} is not a recorded import; call begin_import first")

    # -- reading ----------------------------------------------------------------------

    def load(
        self,
        table: str,
        as_of: object = None,
        columns: Sequence[str] | None = None,
        since: object = None,
        older_if: Mapping[str, Sequence[str]] | None = None,
        latest_older_by: str | None = None,
    ) -> pd.DataFrame:
        """A canonical table, conformed to the schema, ordered by its date and key.

        Args:
            table: a name in :data:`restock.schema.TABLES`.
            as_of: keep rows dated on or before this day (the whole day), on the table's
                date column: ``order_lines.created_at``, ``after_sales.requested_at``,
                ``stock.as_of``, ``purchase_orders.ordered_at``, ``traffic.date``.
                ``products`` and ``campaigns`` are never cut. ``None`` keeps every row.
            columns: read only these columns, in this order (DuckDB reads a column store,
                so the others cost nothing); ``None`` reads every column of the table. The
                cut on ``as_of`` and the order by date and key apply either way.
            since: keep rows dated on or after this day, on the same date column (a step
                that looks at the last weeks need not hold two years); ``None`` keeps them all.
            older_if: rows dated before ``since`` are kept too when each named column holds
                one of its values, e.g. ``{"status": ["to_ship"]}`` keeps unshipped lines of
                any age.
            latest_older_by: of those older rows, keep only those at the latest date per
                value of this column (e.g. each SKU's last sale before ``since``; rows tied
                on that date are all kept).

        Raises:
            ValueError: unknown table, an ``as_of`` or ``since`` that is not a date, a column
                the table does not have (named, with the table), or a window on a table
                without a date column.
        """
        spec = _table(table)
        selected = list(spec.columns) if columns is None else _known_columns(spec, columns)
        date_column = _DATE_COLUMNS.get(table)
        order = ([date_column] if date_column else []) + [c for c in spec.key if c != date_column]
        if (since is not None or older_if or latest_older_by) and not date_column:
            raise ValueError(f"since, older_if and latest_older_by need a dated table; {table} has no date column")
        if (older_if or latest_older_by) and since is None:
            raise ValueError("older_if and latest_older_by select rows older than since; give since too")
        older_if = dict(older_if or {})
        if older_if or latest_older_by:
            _known_columns(spec, list(dict.fromkeys([*older_if, *([latest_older_by] if latest_older_by else [])])))
        params: list[Any] = []
        cut = []
        if as_of is not None and date_column:
            cut.append(f"{_q(date_column)} < ?")
            params.append(_day_end(as_of).to_pydatetime())
        if since is None:
            where = f" WHERE {cut[0]}" if cut else ""
            sql = f"SELECT {', '.join(map(_q, selected))} FROM {_q(table)}{where} ORDER BY {', '.join(map(_q, order))}"
            return self._frame(sql, {c: spec.columns[c] for c in selected}, params)

        start = (_day_end(since, "since") - pd.Timedelta(days=1)).to_pydatetime()
        inner = ", ".join(map(_q, dict.fromkeys([*selected, *order])))
        recent = f"SELECT {inner} FROM {_q(table)} WHERE {' AND '.join([*cut, f'{_q(date_column)} >= ?'])}"
        params.append(start)
        sql = recent
        if older_if or latest_older_by:
            tests = [*cut, f"{_q(date_column)} < ?"]
            older_params = [*params[:-1], start]
            for column, values in older_if.items():
                values = list(values)
                tests.append(f"{_q(column)} IN ({', '.join(['?'] * len(values))})" if values else "FALSE")
                older_params.extend(values)
            older = f"SELECT {inner} FROM {_q(table)} WHERE {' AND '.join(tests)}"
            if latest_older_by:  # a grouped max and a semi-join: a window over millions of rows costs gigabytes
                by, at = _q(latest_older_by), _q(date_column)
                older = (f"SELECT {inner} FROM ({older}) WHERE ({by}, {at}) IN "
                         f"(SELECT ({by}, max({at})) FROM ({older}) GROUP BY {by})")
                older_params = older_params * 2
            sql = f"{recent} UNION ALL {older}"
            params.extend(older_params)
        sql = f"SELECT {', '.join(map(_q, selected))} FROM ({sql}) ORDER BY {', '.join(map(_q, order))}"
        return self._frame(sql, {c: spec.columns[c] for c in selected}, params)

    def day_totals(self, as_of: object = None) -> pd.DataFrame:
        """Rows per table, source and day, summed in DuckDB (the intake notebook's coverage).

        Dated tables are cut at ``as_of`` like :meth:`load`; campaigns count by ``start``
        and are never cut. ``source`` is the platform for order lines and after-sales (``?``
        when unknown), else the table's name. ``units``: quantities of order lines not
        cancelled and of after-sales; null for the other tables. A row whose date is
        missing counts under a null ``date``.

        Returns:
            table, source, date (the day), rows, units, first and last (timestamps); tables
            in the order order lines, after-sales, stock, purchase orders, traffic, campaigns.
        """
        parts, params = [], []
        for position, (table, column) in enumerate({**_DATE_COLUMNS, "campaigns": "start"}.items()):
            source = "coalesce(platform, '?')" if table in ("order_lines", "after_sales") else f"'{table}'"
            units = {"order_lines": "sum(qty) FILTER (WHERE status IS DISTINCT FROM 'cancelled')",
                     "after_sales": "sum(qty)"}.get(table, "NULL")
            where = ""
            if as_of is not None and table in _DATE_COLUMNS:
                where = f" WHERE {_q(column)} < ?"
                params.append(_day_end(as_of).to_pydatetime())
            parts.append(
                f"SELECT {position} AS position, '{table}' AS \"table\", {source} AS source, CAST({_q(column)} AS DATE) AS date, "
                f"count(*) AS rows, CAST({units} AS DOUBLE) AS units, min({_q(column)}) AS first, "
                f"max({_q(column)}) AS last FROM {_q(table)}{where} GROUP BY ALL"
            )
        columns = ", ".join(map(_q, _DAY_TOTALS))
        sql = f"SELECT {columns} FROM ({' UNION ALL '.join(parts)}) ORDER BY position, source, date"
        return self._frame(sql, _DAY_TOTALS, params)

    def sku_totals(self, as_of: object = None, unlisted_only: bool = False) -> pd.DataFrame:
        """Per SKU of the order lines (cut at ``as_of``): the name on its first line, units
        of lines not cancelled, distinct orders, first and last sale. Summed in DuckDB.

        Args:
            as_of: keep lines created on or before this day; None keeps all.
            unlisted_only: only SKUs no product row names (the lines are cut before they are
                summed: counting the distinct orders of every SKU takes gigabytes).

        Returns:
            sku, name, units, orders, first_sold, last_sold; by sku.
        """
        tests, params = [], []
        if as_of is not None:
            tests.append("created_at < ?")
            params.append(_day_end(as_of).to_pydatetime())
        if unlisted_only:
            tests.append("sku NOT IN (SELECT sku FROM products WHERE sku IS NOT NULL)")
        where = f" WHERE {' AND '.join(tests)}" if tests else ""
        sql = (
            "SELECT sku, arg_min(name, created_at) FILTER (WHERE name IS NOT NULL) AS name, "
            "CAST(coalesce(sum(qty) FILTER (WHERE status IS DISTINCT FROM 'cancelled'), 0) AS BIGINT) AS units, "
            "count(DISTINCT (platform, shop, order_id)) AS orders, min(created_at) AS first_sold, "
            f"max(created_at) AS last_sold FROM order_lines{where} GROUP BY sku ORDER BY sku"
        )
        return self._frame(sql, _SKU_TOTALS, params)

    def latest_date(self) -> pd.Timestamp | None:
        """The day of the latest ``order_lines.created_at``; None when there are no orders."""
        latest = self._scalar("SELECT max(created_at) FROM order_lines")
        return None if latest is None else pd.Timestamp(latest).normalize()

    def is_demo(self) -> bool:
        """Whether any import was marked as demo data."""
        return bool(self._scalar("SELECT coalesce(bool_or(is_demo), FALSE) FROM imports"))

    def quarantine(self) -> pd.DataFrame:
        """Every quarantined row with its ``import_id``, in import and file-row order."""
        sql = (
            f"SELECT {', '.join(map(_q, _QUARANTINE_STORED))} FROM quarantine "
            "ORDER BY import_id, source_file, table_name, source_row"
        )
        return self._frame(sql, _QUARANTINE_STORED)

    def imports(self) -> pd.DataFrame:
        """One row per import with its counts; ``by_reason`` is a JSON object {reason: rows}."""
        sql = f"SELECT {', '.join(map(_q, _IMPORT_COLUMNS))} FROM imports ORDER BY import_id"
        return self._frame(sql, _IMPORT_COLUMNS)


def _known_columns(table: Table, columns: Sequence[str]) -> list[str]:
    """``columns`` as a list, or a ValueError naming the ones ``table`` lacks."""
    if isinstance(columns, str):
        raise ValueError(f"columns must be a sequence of column names, not one string; got {columns!r}")
    columns = list(columns)
    unknown = [c for c in columns if c not in table.columns]
    if unknown:
        raise ValueError(f"columns must be columns of {table.name}; got unknown {unknown} "
                         f"(known: {', '.join(table.columns)})")
    if not columns or len(set(columns)) < len(columns):
        raise ValueError(f"columns must name columns of {table.name} at least once and each once; got {columns}")
    return columns


def _table(name: str) -> Table:
    """The schema of a canonical table, or a ValueError listing the known ones."""
    if name not in TABLES:
        raise ValueError(f"table must be one of {sorted(TABLES)}; got {name!r}")
    return TABLES[name]
