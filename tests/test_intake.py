"""restock.intake: files and folders into the store, every row counted once."""

import json
from pathlib import Path

import pandas as pd
import pytest

from restock import intake
from restock.intake import IntakeSummary, export_files, import_files
from restock.io import ExportError
from restock.schema import QUARANTINE_COLUMNS, AdapterResult, conform
from restock.store import Store


def _result(path, platform="douyin", lines=(), bad_rows=()) -> AdapterResult:
    """An adapter result: ``lines`` as (order_id, status) pairs, ``bad_rows`` as quarantined file rows."""
    orders = pd.DataFrame({"platform": platform, "shop": "s1", "order_id": [o for o, _ in lines], "line_id": "1",
                           "sku": "A", "qty": 1, "created_at": pd.Timestamp("2024-03-01 10:00"),
                           "status": [s for _, s in lines]})
    table = conform(orders, "order_lines").assign(source_row=range(2, 2 + len(lines)))
    quarantine = pd.DataFrame({"source_file": str(path), "source_row": list(bad_rows), "table_name": "order_lines",
                               "column_name": "qty", "reason": "non_positive_qty", "detail": "-1",
                               "raw": "{}"}).astype(QUARANTINE_COLUMNS)
    return AdapterResult(str(path), platform, len(lines) + len(bad_rows), {"order_lines": table}, quarantine)


@pytest.fixture
def exports(tmp_path, monkeypatch):
    """Two exports in a folder, read by a fake adapter; the second overlaps the first and has bad rows."""
    folder = tmp_path / "raw"
    folder.mkdir()
    contents = {
        "orders_1.csv": [("o1", "to_ship"), ("o2", "to_ship"), ("o2", "to_ship")],  # o2 twice in the file
        "orders_2.csv": [("o2", "shipped"), ("o3", "completed")],
    }
    bad = {"orders_1.csv": (), "orders_2.csv": (4, 5)}
    for name in contents:
        (folder / name).write_text(name, encoding="utf-8")  # distinct bytes: distinct sha256
    monkeypatch.setattr(intake, "detect_platform", lambda path: "douyin")
    monkeypatch.setattr(intake, "read_export", lambda path, platform, mapping, shop=None: _result(
        path, platform, lines=contents[path.name], bad_rows=bad[path.name]))
    return folder


def test_counts_add_up_per_file_and_in_total(exports, tmp_path):
    summary = import_files(exports, store_path=tmp_path / "s.duckdb").to_dict()
    first, second = summary["files"]
    assert (first["rows_in"], first["inserted"], first["updated"], first["quarantined"], first["duplicates"]) == (
        3, 2, 0, 0, 1)
    assert (second["rows_in"], second["inserted"], second["updated"], second["quarantined"], second["duplicates"]) == (
        4, 1, 1, 2, 0)
    assert second["by_reason"] == {"non_positive_qty": 2}
    assert (summary["rows_in"], summary["stored"], summary["quarantined"], summary["duplicates"]) == (7, 4, 2, 1)
    assert summary["by_reason"] == {"non_positive_qty": 2}
    json.dumps(summary)  # the CLI prints it as JSON


def test_reimport_changes_nothing_and_keeps_one_quarantine(exports, tmp_path):
    store_path = tmp_path / "s.duckdb"
    import_files(exports, store_path=store_path)
    again = import_files(exports, store_path=store_path)
    assert (again.inserted, again.updated, again.quarantined, again.duplicates) == (0, 0, 2, 5)
    with Store(store_path, read_only=True) as store:
        assert len(store.quarantine()) == 2
        assert store.load("order_lines").set_index("order_id")["status"].to_dict() == {
            "o1": "to_ship", "o2": "shipped", "o3": "completed"}
        imports = store.imports()
    assert imports["rows_in"].tolist() == [3, 4, 3, 4]
    assert (imports["rows_in"] == imports["stored"] + imports["quarantined"] + imports["duplicates"]).all()


def test_text_states_the_equation_per_file_and_in_total(exports, tmp_path):
    text = import_files(exports, store_path=tmp_path / "s.duckdb").text()
    lines = text.splitlines()
    assert lines[0].endswith("orders_1.csv [douyin]: rows in = stored + quarantined + duplicates: "
                             "3 = 2 + 0 + 1 (inserted 2, updated 0)")
    assert "orders_2.csv [douyin]: rows in = stored + quarantined + duplicates: 4 = 2 + 2 + 0" in lines[1]
    assert lines[2].startswith("total, 2 file(s): rows in = stored + quarantined + duplicates: 7 = 4 + 2 + 1")
    assert lines[3] == "quarantined by reason: non_positive_qty 2"


def test_folder_holds_the_exports_sorted_and_skips_other_files(tmp_path):
    for name in ("b.xlsx", "a.CSV", "c.csv.gz", "restock-demo.json", "notes.txt"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    (tmp_path / "sub.csv").mkdir()
    assert [p.name for p in export_files(tmp_path)] == ["a.CSV", "b.xlsx", "c.csv.gz"]
    assert export_files([tmp_path / "notes.txt"]) == [tmp_path / "notes.txt"]  # a file given by name is read
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        export_files(tmp_path / "missing.csv")


def test_demo_marker_marks_the_import_as_demo(exports, tmp_path):
    store_path = tmp_path / "s.duckdb"
    import_files(exports / "orders_1.csv", store_path=store_path)
    with Store(store_path, read_only=True) as store:
        assert store.is_demo() is False
    (exports / "restock-demo.json").write_text("{}", encoding="utf-8")
    summary = import_files(exports / "orders_2.csv", store_path=store_path)
    assert summary.files[0].is_demo and " DEMO: " in summary.text()
    with Store(store_path, read_only=True) as store:
        assert store.is_demo() is True
        assert store.imports()["is_demo"].tolist() == [False, True]


def test_export_error_propagates_with_its_message(tmp_path, monkeypatch):
    bad = tmp_path / "orders.csv"
    bad.write_text("foo\n", encoding="utf-8")

    def unreadable(path, platform, mapping, shop=None):
        raise ExportError(f"{path.name}: headers fit no known export")

    monkeypatch.setattr(intake, "read_export", unreadable)
    with pytest.raises(ExportError, match="orders.csv: headers fit no known export"):
        import_files(bad, store_path=tmp_path / "s.duckdb", platform="douyin")


def test_an_unreadable_file_stops_the_import_after_the_files_before_it(exports, tmp_path, monkeypatch):
    (exports / "orders_3.csv").write_text("orders_3.csv", encoding="utf-8")  # read ahead maybe, never stored

    def adapter(path, platform, mapping, shop=None):
        if path.name == "orders_2.csv":
            raise ExportError("orders_2.csv: not a 抖店 order export; missing columns: 子订单编号")
        return _result(path, platform, lines=[(path.stem, "to_ship")])

    monkeypatch.setattr(intake, "read_export", adapter)
    with pytest.raises(ExportError, match="orders_2.csv: not a 抖店 order export"):
        import_files(exports, store_path=tmp_path / "s.duckdb")
    with Store(tmp_path / "s.duckdb", read_only=True) as store:
        assert [Path(f).name for f in store.imports()["source_file"]] == ["orders_1.csv"]
        assert store.load("order_lines")["order_id"].tolist() == ["orders_1"]


def test_rows_that_do_not_add_up_are_refused(tmp_path, monkeypatch):
    export = tmp_path / "orders.csv"
    export.write_text("x", encoding="utf-8")
    lost = _result(export, lines=[("o1", "to_ship")])
    lost.rows_in = 2  # an adapter that dropped a row silently
    monkeypatch.setattr(intake, "read_export", lambda path, platform, mapping, shop=None: lost)
    with pytest.raises(AssertionError, match="2 rows in but 1 accounted for"):
        import_files(export, store_path=tmp_path / "s.duckdb", platform="douyin")


def test_no_files_is_an_empty_summary(tmp_path):
    summary = import_files(tmp_path, store_path=tmp_path / "s.duckdb")
    assert summary == IntakeSummary(()) and summary.rows_in == 0
    assert summary.text() == "total, 0 file(s): rows in = stored + quarantined + duplicates: 0 = 0 + 0 + 0 " \
                             "(inserted 0, updated 0)"


def test_a_real_douyin_csv_through_restock_io(tmp_path):
    export = tmp_path / "douyin_orders.csv"
    export.write_text(
        "主订单编号,子订单编号,选购商品,商品数量,商家编码,商品单价,订单应付金额,订单提交时间,订单状态,流量来源\n"
        "1001,1001-1,杯子,2,CUP-1,19.90,39.80,2024-06-01 10:00:00,已发货,直播\n"
        "1002,1002-1,杯子,1,CUP-1,19.90,19.90,2024-06-02 11:00:00,已完成,短视频\n"
        "1003,1003-1,杯子,1,CUP-1,19.90,19.90,not a date,已完成,直播\n",
        encoding="utf-8",
    )
    summary = import_files(export, store_path=tmp_path / "s.duckdb")
    assert summary.files[0].platform == "douyin"
    assert (summary.rows_in, summary.inserted, summary.quarantined, summary.duplicates) == (3, 2, 1, 0)
    again = import_files(export, store_path=tmp_path / "s.duckdb")
    assert (again.inserted, again.updated, again.duplicates, again.quarantined) == (0, 0, 2, 1)
    with Store(tmp_path / "s.duckdb", read_only=True) as store:
        lines = store.load("order_lines")
        assert len(store.quarantine()) == 1
    assert lines["sku"].tolist() == ["CUP-1", "CUP-1"] and lines["status"].tolist() == ["shipped", "completed"]


def test_an_unknown_file_raises_export_error_naming_it(tmp_path):
    stray = tmp_path / "stray.csv"
    stray.write_text("foo,bar\n1,2\n", encoding="utf-8")
    with pytest.raises(ExportError, match="stray.csv"):
        import_files(stray, store_path=tmp_path / "s.duckdb")


def test_a_demo_folder_names_its_shop_from_the_manifest(tmp_path):
    import shutil

    from restock.store import Store

    fixture = Path(__file__).parent / "fixtures" / "io" / "douyin_orders.csv"
    folder = tmp_path / "demo"
    folder.mkdir()
    shutil.copy(fixture, folder / "orders.csv")
    (folder / "restock-demo.json").write_text(json.dumps({"demo": True, "shop": "DEMO 演示小店"}))
    import_files([folder], store_path=tmp_path / "s.duckdb")
    with Store(tmp_path / "s.duckdb", read_only=True) as store:
        assert set(store.load("order_lines")["shop"]) == {"DEMO 演示小店"}
        assert store.is_demo()
