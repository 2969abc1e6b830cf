"""What a notebook needs around its step: the store, the as-of date, the run folder.

Every notebook opens its run with :func:`open_run` right after its ``parameters`` cell.
Paths in parameters are relative to the project root (``restock.config.PROJECT_ROOT``),
so a notebook runs the same from JupyterLab (cwd ``notebooks/``) and from the batch.

Figures that tests and the batch assert on are recorded with :meth:`RunContext.record`:
a display output of the ``application/vnd.restock.record+json`` type, which the executed
notebook keeps and :func:`read_records` reads back (the scrapbook idea, without the
extra dependency). HTML export ignores that type, so records do not clutter the pages.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from restock import config
from restock.memory import release_memory
from restock.store import Store

__all__ = ["RECORD_MIME", "RunContext", "open_run", "read_records", "release_memory", "resolve"]

RECORD_MIME = "application/vnd.restock.record+json"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def resolve(path: str | Path) -> Path:
    """``path`` as given when absolute, else relative to the project root."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else config.PROJECT_ROOT / p


@dataclass
class RunContext:
    """The store, the as-of date and the run folder of one notebook run."""

    store_path: Path
    as_of: pd.Timestamp
    run_dir: Path
    is_demo: bool
    _stage_seconds: dict[str, float] = field(default_factory=dict, repr=False)

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "data"

    def load(
        self,
        table: str,
        columns: Sequence[str] | None = None,
        days: int | None = None,
        older_if: Mapping[str, Sequence[str]] | None = None,
        latest_older_by: str | None = None,
    ) -> pd.DataFrame:
        """A canonical table from the store, cut at ``as_of``.

        Not cached: a big shop's order lines are gigabytes, and a notebook that drops its
        frame should get the memory back.

        Args:
            table: the table's name.
            columns: only these columns (all when None): a big shop's order lines are
                millions of rows, and a step needs few of their columns.
            days: only the rows dated in the last ``days`` days up to ``as_of`` (all when
                None), on the table's date column (:meth:`restock.store.Store.load`).
            older_if: with ``days``, older rows are kept too when they match, e.g.
                ``{"status": ["to_ship"]}``.
            latest_older_by: with ``older_if``, only the older rows at the latest date per
                value of this column (e.g. each SKU's last sale).
        """
        since = None if days is None else self.as_of - pd.Timedelta(days=days - 1)
        with Store(self.store_path, read_only=True) as store:
            frame = store.load(table, as_of=self.as_of, columns=columns, since=since,
                               older_if=older_if, latest_older_by=latest_older_by)
        release_memory()  # DuckDB's Arrow result, now copied into the frame
        return frame

    def day_totals(self) -> pd.DataFrame:
        """Rows and units per table, source and day up to ``as_of`` (:meth:`restock.store.Store.day_totals`)."""
        with Store(self.store_path, read_only=True) as store:
            return store.day_totals(as_of=self.as_of)

    def sku_totals(self, unlisted_only: bool = False) -> pd.DataFrame:
        """Units, orders and first and last sale per SKU up to ``as_of`` (:meth:`restock.store.Store.sku_totals`)."""
        with Store(self.store_path, read_only=True) as store:
            return store.sku_totals(as_of=self.as_of, unlisted_only=unlisted_only)

    def imports(self) -> pd.DataFrame:
        """One row per import into the store, with its counts."""
        with Store(self.store_path, read_only=True) as store:
            return store.imports()

    def quarantine(self) -> pd.DataFrame:
        """Every quarantined row in the store, with file, row, column and reason."""
        with Store(self.store_path, read_only=True) as store:
            return store.quarantine()

    def save(self, name: str, df: pd.DataFrame) -> Path:
        """Write ``<run_dir>/data/<name>.parquet`` and return its path."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / f"{name}.parquet"
        df.to_parquet(path, index=False)
        return path

    def read(self, name: str, columns: Sequence[str] | None = None, days: int | None = None) -> pd.DataFrame:
        """Read a table an earlier notebook of this run saved.

        Args:
            name: the table's name.
            columns: only these columns (all when None).
            days: only the rows whose ``date`` falls in the last ``days`` days up to
                ``as_of`` (all when None): a big shop's daily demand is tens of millions of
                rows, and most steps look at a recent window.

        Returns:
            The table. Categorical columns (the daily table's ``sku`` and ``campaign_kind``)
            come back as ``string[pyarrow]``, like the text of every other table.

        Raises:
            FileNotFoundError: naming the notebook to run first.
        """
        path = self.data_dir / f"{name}.parquet"
        if not path.exists():
            raise FileNotFoundError(
                f"{path} not found: run the notebook that writes '{name}' first (same run_dir)"
            )
        filters = None if days is None else [("date", ">", self.as_of - pd.Timedelta(days=days))]
        with pd.option_context("mode.string_storage", "pyarrow"):  # ~3× faster than Python strings
            frame = pd.read_parquet(path, columns=None if columns is None else list(columns), filters=filters)
        for column in frame.columns[[isinstance(t, pd.CategoricalDtype) for t in frame.dtypes]]:
            frame[column] = frame[column].astype("string[pyarrow]")
        release_memory()  # the Arrow table the frame was copied from
        return frame

    def path(self, filename: str) -> Path:
        """A file in the run folder, e.g. the workbook ``replenishment.xlsx``."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        return self.run_dir / filename

    def record(self, name: str, value) -> None:
        """Record a scalar figure in the executed notebook (see :func:`read_records`)."""
        from IPython.display import display

        if hasattr(value, "item"):
            value = value.item()
        display({RECORD_MIME: {"name": name, "value": value}}, raw=True)

    @contextmanager
    def stage(self, name: str):
        """Time a step of the notebook; recorded as ``stage_seconds.<name>`` for the benchmark.

        A stage timed in several pieces (a step whose first part other steps reuse) records
        the running total; :func:`read_records` keeps the last, the whole.
        """
        started = time.perf_counter()
        yield
        total = self._stage_seconds.get(name, 0.0) + time.perf_counter() - started
        self._stage_seconds[name] = total
        self.record(f"stage_seconds.{name}", round(total, 3))

    def banner(self) -> None:
        """Show the as-of date, the store, and a DEMO label when the data is generated."""
        from IPython.display import Markdown, display

        lines = [f"**As of {self.as_of:%Y-%m-%d}** · store `{self.store_path.name}`"]
        if self.is_demo:
            lines.insert(0, "> **DEMO DATA** — generated by `restock demo`, not a real shop.")
        display(Markdown("\n\n".join(lines)))


def open_run(store_path: str, as_of: str, run_dir: str) -> RunContext:
    """Open a notebook run.

    Args:
        store_path: the DuckDB store, relative to the project root or absolute.
        as_of: ``YYYY-MM-DD``, or empty for the latest order date in the store.
        run_dir: the run folder; tables go to ``<run_dir>/data``.

    Raises:
        FileNotFoundError: the store does not exist (says how to create it).
        ValueError: ``as_of`` is not a date, or the store holds no orders.
    """
    store_file = resolve(store_path)
    if not store_file.exists():
        raise FileNotFoundError(
            f"store_path: {store_file} does not exist; import exports first with "
            f"`python -m restock intake FILE... --store {store_path}`"
        )
    if as_of and not _DATE.match(as_of):
        raise ValueError(f"as_of must be YYYY-MM-DD or empty; got {as_of!r}")
    with Store(store_file, read_only=True) as store:
        latest = store.latest_date()
        is_demo = store.is_demo()
    if as_of:
        day = pd.Timestamp(as_of)
    elif latest is None:
        raise ValueError(f"store_path: {store_file} holds no orders; import an order export first")
    else:
        day = latest
    return RunContext(store_path=store_file, as_of=day, run_dir=resolve(run_dir), is_demo=is_demo)


def read_records(notebook: str | Path) -> dict[str, object]:
    """The figures recorded with :meth:`RunContext.record` in an executed notebook."""
    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    records: dict[str, object] = {}
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []):
            payload = output.get("data", {}).get(RECORD_MIME)
            if payload:
                records[payload["name"]] = payload["value"]
    return records
