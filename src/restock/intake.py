"""Intake: read export files through the adapters and store them, counting every row.

One call imports files and folders into the store::

    from restock.intake import import_files
    summary = import_files(["data/raw"], store_path="data/restock.duckdb")
    print(summary.text())

For each file, :func:`restock.io.read_export` turns it into canonical tables and a
quarantine; the tables are upserted into the store and the quarantine is kept there for
review. The counts obey the intake invariant, checked per file::

    rows in = stored (inserted + updated) + quarantined + duplicates

where duplicates are rows the store already held unchanged, duplicates inside the file
included. A folder holding ``restock-demo.json`` is a generated DEMO shop: its imports are
marked demo, and every report made from the store says so.

Files are stored one at a time, in order, each in its own import record. While one file is
being written to the store, the next ones are read and parsed in a background thread (the
adapters' Arrow kernels and DuckDB both release the GIL), so the two stages overlap on two
cores; at most three files are held in memory. When a file cannot be read,
:class:`restock.io.ExportError` propagates with its message; the files before it stay
imported, and importing them again changes nothing.
"""

from __future__ import annotations

import json
from collections import Counter, deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from restock.io import detect_platform, read_export
from restock.memory import release_memory
from restock.schema import AdapterResult
from restock.store import Store, file_sha256

__all__ = ["import_files", "export_files", "IntakeSummary", "FileIntake", "DEMO_MARKER", "EXPORT_SUFFIXES"]

DEMO_MARKER = "restock-demo.json"
"""A file of this name in an export's folder marks the folder as a generated DEMO shop."""

EXPORT_SUFFIXES = (".csv", ".csv.gz", ".xlsx")
"""File endings a folder is searched for (case-insensitive)."""

_READ_AHEAD = 2
"""Files read ahead of the one being stored: the reader never waits for the store, and at
most three files (about a million rows each in a big export) are held in memory."""

_COUNTS = ("rows_in", "stored", "inserted", "updated", "quarantined", "duplicates")


@dataclass(frozen=True)
class FileIntake:
    """What importing one file did.

    Attributes:
        file: the path as it was imported.
        platform: the adapter that read it (``douyin``, ``douyin_after_sales``, ``tiktok``,
            ``generic``, ``template``), detected from the headers unless given.
        rows_in: data rows in the file.
        inserted: rows new to the store.
        updated: rows that replaced a stored row with the same key (a newer export).
        quarantined: rows kept aside with a reason instead of stored.
        duplicates: rows the store already held unchanged (in-file duplicates included).
        by_reason: quarantined rows per reason code.
        is_demo: the file's folder is a generated DEMO shop.
    """

    file: str
    platform: str
    rows_in: int
    inserted: int
    updated: int
    quarantined: int
    duplicates: int
    by_reason: dict[str, int] = field(default_factory=dict)
    is_demo: bool = False

    @property
    def stored(self) -> int:
        """Rows that changed the store: inserted plus updated."""
        return self.inserted + self.updated

    def to_dict(self) -> dict:
        """The counts with ``file`` and ``platform``, as in :meth:`IntakeSummary.to_dict`."""
        return {"file": self.file, "platform": self.platform, **_counts_dict(self)}


@dataclass(frozen=True)
class IntakeSummary:
    """The files of one :func:`import_files` call and their totals.

    Each total (``rows_in``, ``stored``, ``inserted``, ``updated``, ``quarantined``,
    ``duplicates``) is the sum over :attr:`files`; ``by_reason`` adds up the reasons.
    """

    files: tuple[FileIntake, ...] = ()

    @property
    def rows_in(self) -> int:
        return sum(f.rows_in for f in self.files)

    @property
    def stored(self) -> int:
        return sum(f.stored for f in self.files)

    @property
    def inserted(self) -> int:
        return sum(f.inserted for f in self.files)

    @property
    def updated(self) -> int:
        return sum(f.updated for f in self.files)

    @property
    def quarantined(self) -> int:
        return sum(f.quarantined for f in self.files)

    @property
    def duplicates(self) -> int:
        return sum(f.duplicates for f in self.files)

    @property
    def by_reason(self) -> dict[str, int]:
        """Quarantined rows per reason over every file, most frequent first."""
        total: Counter[str] = Counter()
        for f in self.files:
            total.update(f.by_reason)
        return dict(total.most_common())

    def to_dict(self) -> dict:
        """Totals, ``by_reason`` and one dict per file (same counts plus file and platform)."""
        return {**_counts_dict(self), "files": [f.to_dict() for f in self.files]}

    def text(self) -> str:
        """One line per file and a total line, each stating rows in = stored + quarantined + duplicates."""
        lines = [f"{f.file} [{f.platform}]{' DEMO' if f.is_demo else ''}: {_equation(f)}" for f in self.files]
        lines.append(f"total, {len(self.files)} file(s): {_equation(self)}")
        if self.by_reason:
            lines.append("quarantined by reason: " + ", ".join(f"{r} {n:,}" for r, n in self.by_reason.items()))
        return "\n".join(lines)


def _counts_dict(counts: FileIntake | IntakeSummary) -> dict:
    return {**{k: getattr(counts, k) for k in _COUNTS}, "by_reason": dict(counts.by_reason)}


def _equation(c: FileIntake | IntakeSummary) -> str:
    """``rows in = stored + quarantined + duplicates: 10 = 7 + 2 + 1 (inserted 6, updated 1)``."""
    return (
        f"rows in = stored + quarantined + duplicates: {c.rows_in:,} = {c.stored:,} + {c.quarantined:,}"
        f" + {c.duplicates:,} (inserted {c.inserted:,}, updated {c.updated:,})"
    )


def export_files(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    """The files to import: files as given, folders expanded to their exports.

    A folder contributes every ``.csv``, ``.csv.gz`` and ``.xlsx`` directly in it, sorted by
    name (so dated exports import oldest first); ``restock-demo.json`` is the demo marker, not
    an export.

    Raises:
        FileNotFoundError: a path that does not exist.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    files: list[Path] = []
    for given in map(Path, paths):
        if given.is_dir():
            files.extend(
                p for p in sorted(given.iterdir()) if p.is_file() and p.name.lower().endswith(EXPORT_SUFFIXES)
            )
        elif given.is_file():
            files.append(given)
        else:
            raise FileNotFoundError(f"no such export file or folder: {given}")
    return files


def import_files(
    paths: str | Path | Iterable[str | Path],
    store_path: str | Path | None = None,
    platform: str = "auto",
    mapping: str | Path | None = None,
    shop: str | None = None,
) -> IntakeSummary:
    """Import export files and folders into the store.

    Args:
        paths: files or folders (see :func:`export_files`).
        store_path: the DuckDB store; ``None`` means :data:`restock.config.DEFAULT_STORE`.
        platform: ``"auto"`` (from the headers) or an adapter name, passed to
            :func:`restock.io.read_export`.
        mapping: YAML column mapping for a generic export.
        shop: the shop the platform exports belong to (their files do not say); default:
            the DEMO shop's name for a demo folder, else the adapter's ``"default"``.

    Returns:
        The per-file counts and their totals.

    Raises:
        restock.io.ExportError: a file that cannot be read as an export (the message
            names the file and what is wrong).
        FileNotFoundError: a path that does not exist.
        AssertionError: a file's rows do not add up (a bug in an adapter or the store).
    """
    files = export_files(paths)
    done: list[FileIntake] = []
    with Store(store_path) as store, ThreadPoolExecutor(max_workers=1, thread_name_prefix="intake-read") as reader:
        ahead: deque[Future[_ReadFile]] = deque(
            reader.submit(_read_one, path, platform, mapping, shop) for path in files[:_READ_AHEAD]
        )
        following = iter(files[_READ_AHEAD:])
        try:
            for _ in files:
                current = ahead.popleft().result()  # an unreadable file raises here, after those before it
                if (path := next(following, None)) is not None:
                    ahead.append(reader.submit(_read_one, path, platform, mapping, shop))
                done.append(_store_one(store, current))
        finally:
            for pending in ahead:  # after an error: files not read yet are not read
                pending.cancel()
    release_memory()  # a caller that goes on (JupyterLab, the benchmark) gets the files' memory back
    return IntakeSummary(tuple(done))


@dataclass(frozen=True)
class _ReadFile:
    """One file read by its adapter, ready to be stored."""

    path: Path
    platform: str
    is_demo: bool
    result: AdapterResult
    sha256: str | None


def _read_one(path: Path, platform: str, mapping: str | Path | None, shop: str | None) -> _ReadFile:
    """Detect the adapter, read the file through it, check that its rows add up and hash it.

    The hash is taken here, not when the file is stored: it overlaps the storing of the
    previous file (a 220 MB export takes 0.1–0.2 s).
    """
    if platform == "auto":  # name the adapter (douyin_after_sales, template …), not only the platform
        platform = "generic" if mapping is not None else detect_platform(path)
    marker = path.parent / DEMO_MARKER
    is_demo = marker.is_file()
    if shop is None and is_demo:
        shop = json.loads(marker.read_text(encoding="utf-8")).get("shop")
    result = read_export(path, platform, mapping, shop=shop)
    result.check()
    return _ReadFile(path, platform, is_demo, result, file_sha256(path))


def _store_one(store: Store, read: _ReadFile) -> FileIntake:
    """Store one read file's tables and quarantine, record and return its counts."""
    result = read.result
    import_id = store.begin_import(str(read.path), read.platform, read.is_demo, read.sha256)
    counts = [store.upsert(table, frame, import_id) for table, frame in result.tables.items()]
    store.add_quarantine(result.quarantine, import_id)
    by_reason = result.quarantine["reason"].value_counts()
    summary = FileIntake(
        file=str(read.path),
        platform=read.platform,
        rows_in=int(result.rows_in),
        inserted=sum(c.inserted for c in counts),
        updated=sum(c.updated for c in counts),
        quarantined=len(result.quarantine),
        duplicates=sum(c.unchanged for c in counts),
        by_reason={str(reason): int(n) for reason, n in by_reason.items()},
        is_demo=read.is_demo,
    )
    if summary.rows_in != summary.stored + summary.quarantined + summary.duplicates:
        raise AssertionError(f"{read.path}: the rows do not add up: {_equation(summary)}")
    store.finish_import(import_id, _counts_dict(summary))
    return summary
