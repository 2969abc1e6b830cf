"""restock.store: the upsert rules, the quarantine, as_of cuts and dtype round trips."""

import json

import duckdb
import pandas as pd
import pytest

from restock.schema import QUARANTINE_COLUMNS, TABLES, conform
from restock.store import Store, UpsertCounts


def _lines(*rows: dict) -> pd.DataFrame:
    """Order lines conformed to the schema; each row gives what differs from a default line."""
    base = {"platform": "douyin", "shop": "s1", "sku": "A", "qty": 1, "status": "to_ship",
            "created_at": pd.Timestamp("2024-03-01 10:00")}
    return conform(pd.DataFrame([{**base, **r} for r in rows]), "order_lines")


def _quarantine(*source_rows: int) -> pd.DataFrame:
    return pd.DataFrame({"source_file": "orders.csv", "source_row": list(source_rows), "table_name": "order_lines",
                         "column_name": "created_at", "reason": "unparseable_date", "detail": "'32/13/2024'",
                         "raw": '{"a": 1}'}).astype(QUARANTINE_COLUMNS)


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "restock.duckdb") as s:
        yield s


@pytest.fixture
def three_lines():
    return _lines({"order_id": "o1", "line_id": "1"}, {"order_id": "o1", "line_id": "2", "sku": "B"},
                  {"order_id": "o2", "line_id": "1", "qty": 3})


def _status(store, order_id="o1", line_id="1"):
    df = store.load("order_lines")
    return df.loc[(df["order_id"] == order_id) & (df["line_id"] == line_id), "status"].item()


def test_same_frame_twice_changes_nothing(store, three_lines):
    assert store.upsert("order_lines", three_lines, 1) == UpsertCounts(inserted=3, updated=0, unchanged=0)
    before = store.load("order_lines")
    assert store.upsert("order_lines", three_lines, 2) == UpsertCounts(inserted=0, updated=0, unchanged=3)
    pd.testing.assert_frame_equal(store.load("order_lines"), before)


def test_overlapping_export_inserts_only_the_new_lines(store, three_lines):
    store.upsert("order_lines", three_lines, 1)
    newer = pd.concat([three_lines.iloc[1:], _lines({"order_id": "o3", "line_id": "1"})], ignore_index=True)
    assert store.upsert("order_lines", newer, 2) == UpsertCounts(inserted=1, updated=0, unchanged=2)
    assert sorted(store.load("order_lines")["order_id"]) == ["o1", "o1", "o2", "o3"]


def test_newer_export_updates_the_status(store, three_lines):
    store.upsert("order_lines", three_lines, 1)
    newer = three_lines.copy()
    newer.loc[0, "status"] = "shipped"
    assert store.upsert("order_lines", newer, 2) == UpsertCounts(inserted=0, updated=1, unchanged=2)
    assert _status(store) == "shipped"


@pytest.mark.parametrize("final", ["completed", "cancelled"])
def test_a_final_status_never_moves_back(store, final):
    store.upsert("order_lines", _lines({"order_id": "o1", "line_id": "1", "status": final}), 1)
    older = _lines({"order_id": "o1", "line_id": "1", "status": "shipped", "qty": 9})
    assert store.upsert("order_lines", older, 2) == UpsertCounts(inserted=0, updated=0, unchanged=1)
    assert _status(store) == final
    assert store.load("order_lines")["qty"].tolist() == [1]  # the whole stale row is skipped


def test_status_moves_forward_and_between_final_statuses(store):
    store.upsert("order_lines", _lines({"order_id": "o1", "line_id": "1", "status": "shipped"}), 1)
    assert store.upsert("order_lines", _lines({"order_id": "o1", "line_id": "1", "status": "to_ship"}), 2).updated == 0
    assert store.upsert("order_lines", _lines({"order_id": "o1", "line_id": "1", "status": "completed"}), 3).updated == 1
    assert store.upsert("order_lines", _lines({"order_id": "o1", "line_id": "1", "status": "cancelled"}), 4).updated == 1
    assert _status(store) == "cancelled"


def _import(store, path, content):
    path.write_text(content, encoding="utf-8")
    return store.begin_import(path, "douyin", False)


def test_a_file_imported_again_does_not_undo_a_later_import(store, tmp_path):
    older, newer = tmp_path / "orders_1.csv", tmp_path / "orders_2.csv"
    before = _lines({"order_id": "o1", "line_id": "1", "status": "shipped"})
    after = before.assign(after_sale_status="退货退款成功")  # same status, one more fact
    store.upsert("order_lines", before, _import(store, older, "1"))
    assert store.upsert("order_lines", after, _import(store, newer, "2")).updated == 1
    assert store.upsert("order_lines", before, _import(store, older, "1")) == UpsertCounts(0, 0, 1)
    assert store.upsert("order_lines", after, _import(store, newer, "2")) == UpsertCounts(0, 0, 1)
    assert store.load("order_lines")["after_sale_status"].tolist() == ["退货退款成功"]


def test_a_file_imported_again_still_updates_the_rows_it_wrote(store, tmp_path):
    export = tmp_path / "orders.csv"
    store.upsert("order_lines", _lines({"order_id": "o1", "line_id": "1", "qty": 1}), _import(store, export, "x"))
    corrected = _lines({"order_id": "o1", "line_id": "1", "qty": 2})  # e.g. read with a fixed mapping
    assert store.upsert("order_lines", corrected, _import(store, export, "x")).updated == 1
    assert store.load("order_lines")["qty"].tolist() == [2]


def test_duplicate_keys_in_the_frame_last_wins(store):
    frame = _lines({"order_id": "o1", "line_id": "1", "qty": 1}, {"order_id": "o2", "line_id": "1"},
                   {"order_id": "o1", "line_id": "1", "qty": 5})
    assert store.upsert("order_lines", frame, 1) == UpsertCounts(inserted=2, updated=0, unchanged=1)
    assert store.load("order_lines").set_index("order_id")["qty"].to_dict() == {"o1": 5, "o2": 1}
    again = _lines({"order_id": "o1", "line_id": "1", "qty": 7}, {"order_id": "o1", "line_id": "1", "qty": 5})
    assert store.upsert("order_lines", again, 2) == UpsertCounts(inserted=0, updated=0, unchanged=2)


def test_duplicate_keys_with_null_parts_in_the_frame_last_wins(store):
    frame = _lines({"order_id": "o1", "line_id": "1", "shop": None, "qty": 1},
                   {"order_id": "o1", "line_id": "1", "shop": "s", "qty": 2},
                   {"order_id": "o1", "line_id": "1", "shop": None, "qty": 3})
    assert store.upsert("order_lines", frame, 1) == UpsertCounts(inserted=2, updated=0, unchanged=1)
    stored = store.load("order_lines")
    assert dict(zip(stored["shop"].fillna("-"), stored["qty"])) == {"-": 3, "s": 2}


def test_null_key_parts_match_each_other(store):
    frame = _lines({"order_id": "o1", "line_id": "1", "shop": None})
    store.upsert("order_lines", frame, 1)
    assert store.upsert("order_lines", frame, 2) == UpsertCounts(inserted=0, updated=0, unchanged=1)
    campaigns = conform(pd.DataFrame({"campaign_id": ["c1"], "kind": ["live"], "start": [pd.Timestamp("2024-06-18")],
                                      "sku": [None], "uplift": [2.0]}), "campaigns")
    store.upsert("campaigns", campaigns, 1)
    changed = campaigns.assign(uplift=3.0)
    assert store.upsert("campaigns", changed, 2) == UpsertCounts(inserted=0, updated=1, unchanged=0)
    assert store.load("campaigns")["uplift"].tolist() == [3.0]


def test_every_dtype_round_trips(store):
    products = conform(pd.DataFrame({
        "sku": ["A", "B"], "name": ["杯子 =1+1", None], "unit_cost": [1.25, None], "lead_time_days": [7, None],
        "launch_date": [pd.Timestamp("2024-01-02 03:04:05"), pd.NaT]}), "products")
    lines = _lines({"order_id": "o1", "line_id": "1", "is_presale": True, "unit_price": 9.9},
                   {"order_id": "o2", "line_id": "1", "is_presale": None, "returned_qty": 2})
    store.upsert("products", products, 1)
    store.upsert("order_lines", lines, 1)
    pd.testing.assert_frame_equal(store.load("products"), products)
    pd.testing.assert_frame_equal(store.load("order_lines"), lines)


def test_frames_with_plain_dtypes_are_conformed(store):
    plain = pd.DataFrame({"po_id": ["p1"], "sku": ["A"], "qty_ordered": [10],  # int64, object, datetime64[us]
                          "ordered_at": pd.Series([pd.Timestamp("2024-05-01")]).astype("datetime64[us]"),
                          "source_row": [2]})
    assert store.upsert("purchase_orders", plain, 1).inserted == 1
    loaded = store.load("purchase_orders")
    pd.testing.assert_series_equal(loaded.dtypes, conform(plain, "purchase_orders").dtypes)
    assert loaded.loc[0, "qty_ordered"] == 10 and loaded.loc[0, "ordered_at"] == pd.Timestamp("2024-05-01")


def test_table_columns_have_the_mapped_sql_types(tmp_path):
    path = tmp_path / "s.duckdb"
    Store(path).close()
    with duckdb.connect(str(path), read_only=True) as con:
        types = dict(con.execute("SELECT column_name, data_type FROM duckdb_columns() "
                                 "WHERE table_name = 'order_lines'").fetchall())
    assert (types["order_id"], types["qty"], types["unit_price"], types["created_at"], types["is_presale"]) == (
        "VARCHAR", "BIGINT", "DOUBLE", "TIMESTAMP", "BOOLEAN")
    assert types["import_id"] == "BIGINT"


@pytest.mark.parametrize(("table", "row"), [
    ("order_lines", {"platform": "douyin", "order_id": "o", "line_id": "1", "sku": "A", "qty": 1, "status": "to_ship"}),
    ("after_sales", {"platform": "douyin", "after_sale_id": "a", "sku": "A", "qty": 1, "kind": "return"}),
    ("stock", {"sku": "A", "warehouse": "w", "on_hand": 5}),
    ("purchase_orders", {"po_id": "p", "sku": "A", "qty_ordered": 5}),
    ("traffic", {"sku": "A", "views": 10}),
])
def test_as_of_keeps_rows_up_to_the_end_of_that_day(store, table, row):
    date_column = {"order_lines": "created_at", "after_sales": "requested_at", "stock": "as_of",
                   "purchase_orders": "ordered_at", "traffic": "date"}[table]
    days = ["2024-03-01 00:00", "2024-03-01 23:59", "2024-03-02 00:00"]
    key = next(c for c in TABLES[table].key if c != date_column)
    frame = pd.DataFrame([{**row, key: f"k{i}", date_column: pd.Timestamp(d)} for i, d in enumerate(days)])
    store.upsert(table, conform(frame, table), 1)
    assert len(store.load(table, as_of="2024-03-01")) == 2
    assert len(store.load(table, as_of=pd.Timestamp("2024-03-01 08:00"))) == 2  # a time means its whole day
    assert len(store.load(table, as_of="2024-02-29")) == 0
    assert len(store.load(table)) == 3


@pytest.fixture
def month_of_lines(store):
    """Lines of SKUs A and B on 1, 10 and 20 March; B's 10 March line is still to ship."""
    rows = [{"order_id": f"o{day}{sku}", "line_id": "1", "sku": sku, "status": "completed",
             "created_at": pd.Timestamp(f"2024-03-{day:02d} 12:00")} for day in (1, 10, 20) for sku in "AB"]
    rows[3]["status"] = "to_ship"
    store.upsert("order_lines", _lines(*rows), 1)
    return store


def test_since_keeps_rows_from_the_start_of_that_day(month_of_lines):
    recent = month_of_lines.load("order_lines", as_of="2024-03-31", since=pd.Timestamp("2024-03-10 18:00"))
    assert recent["order_id"].tolist() == ["o10A", "o10B", "o20A", "o20B"]
    assert month_of_lines.load("order_lines", as_of="2024-03-15", since="2024-03-10")["order_id"].tolist() == [
        "o10A", "o10B"]


def test_older_rows_are_kept_when_they_match_and_the_latest_per_key_when_asked(month_of_lines):
    unshipped = month_of_lines.load("order_lines", since="2024-03-20", older_if={"status": ["to_ship"]})
    assert unshipped["order_id"].tolist() == ["o10B", "o20A", "o20B"]  # still ordered by date
    last_sales = month_of_lines.load("order_lines", columns=["sku", "created_at"], since="2024-03-20",
                                     older_if={"status": ["completed"]}, latest_older_by="sku")
    assert last_sales.values.tolist() == [  # A's last sale before the window is 10 March; B's 1 March
        ["B", pd.Timestamp("2024-03-01 12:00")], ["A", pd.Timestamp("2024-03-10 12:00")],
        ["A", pd.Timestamp("2024-03-20 12:00")], ["B", pd.Timestamp("2024-03-20 12:00")]]


def test_windows_need_a_dated_table_and_a_since(month_of_lines):
    with pytest.raises(ValueError, match="products has no date column"):
        month_of_lines.load("products", since="2024-03-01")
    with pytest.raises(ValueError, match="give since too"):
        month_of_lines.load("order_lines", older_if={"status": ["to_ship"]})
    with pytest.raises(ValueError, match="since must be a date"):
        month_of_lines.load("order_lines", since="soon")
    with pytest.raises(ValueError, match=r"got unknown \['state'\]"):
        month_of_lines.load("order_lines", since="2024-03-01", older_if={"state": ["to_ship"]})


def test_products_and_campaigns_are_never_cut(store):
    store.upsert("campaigns", conform(pd.DataFrame({"campaign_id": ["618"], "kind": ["promotion"],
                                                     "start": [pd.Timestamp("2024-06-18")]}), "campaigns"), 1)
    store.upsert("products", conform(pd.DataFrame({"sku": ["A"], "launch_date": [pd.Timestamp("2025-01-01")]}),
                                     "products"), 1)
    assert len(store.load("campaigns", as_of="2024-01-01")) == 1
    assert len(store.load("products", as_of="2024-01-01")) == 1


def test_quarantine_is_kept_once_per_file_content(store, tmp_path):
    export = tmp_path / "orders.csv"
    export.write_text("a,b\n1,2\n", encoding="utf-8")
    first = store.begin_import(export, "douyin", False)
    assert store.add_quarantine(_quarantine(5, 9), first) == 2
    again = store.begin_import(export, "douyin", False)
    assert store.add_quarantine(_quarantine(5, 9), again) == 0
    assert store.add_quarantine(_quarantine(5, 9, 12), again) == 1  # a new row of the same file
    export.write_text("a,b\n1,3\n", encoding="utf-8")  # a different export under the same name
    other = store.begin_import(export, "douyin", False)
    assert store.add_quarantine(_quarantine(5), other) == 1
    kept = store.quarantine()
    assert kept["import_id"].tolist() == [first, first, again, other]
    assert kept["source_row"].tolist() == [5, 9, 12, 5]
    assert list(kept.columns) == [*QUARANTINE_COLUMNS, "import_id"]


def test_imports_record_the_counts(store, tmp_path):
    export = tmp_path / "orders.csv"
    export.write_bytes(b"x")
    import_id = store.begin_import(export, "tiktok", False)
    store.finish_import(import_id, {"file": str(export), "rows_in": 6, "stored": 3, "inserted": 2, "updated": 1,
                                    "quarantined": 2, "duplicates": 1, "by_reason": {"missing_sku": 2}})
    row = store.imports().iloc[0]
    assert row["source_file"] == str(export) and row["platform"] == "tiktok"
    assert row["sha256"] == "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"  # sha256(b"x")
    assert [row[k] for k in ("rows_in", "stored", "inserted", "updated", "quarantined", "duplicates")] == [6, 3, 2, 1, 2, 1]
    assert json.loads(row["by_reason"]) == {"missing_sku": 2}


def test_latest_date_is_the_day_of_the_last_order(store, three_lines):
    assert store.latest_date() is None
    lines = three_lines.assign(created_at=pd.to_datetime(["2024-03-01 10:00", "2024-03-05 23:30", "2024-03-04 08:00"]))
    store.upsert("order_lines", lines, 1)
    assert store.latest_date() == pd.Timestamp("2024-03-05")
    assert store.load("order_lines")["order_id"].tolist() == ["o1", "o2", "o1"]  # by date, then key


def test_is_demo_when_any_import_is_demo(store, tmp_path):
    assert store.is_demo() is False
    store.begin_import(tmp_path / "real.csv", "douyin", False)
    assert store.is_demo() is False
    store.begin_import(tmp_path / "demo.csv", "douyin", True)
    assert store.is_demo() is True


def test_a_failed_upsert_leaves_the_table_as_it_was(store, three_lines):
    store.upsert("order_lines", three_lines, 1)
    bad = _lines({"order_id": "o9", "line_id": "1"}, {"order_id": "o1", "line_id": "1", "sku": None},
                 {"order_id": "o2", "line_id": "1", "sku": None})
    with pytest.raises(ValueError, match=r"order_lines: nulls in required columns .*'sku': 2"):
        store.upsert("order_lines", bad, 2)
    assert sorted(store.load("order_lines")["order_id"]) == ["o1", "o1", "o2"]


def test_errors_name_the_parameter_and_value(store, tmp_path):
    with pytest.raises(ValueError, match="table must be one of .*; got 'orders'"):
        store.load("orders")
    with pytest.raises(ValueError, match="required columns missing: \\['sku'\\]"):
        store.upsert("stock", pd.DataFrame({"as_of": [pd.Timestamp("2024-01-01")], "warehouse": ["w"],
                                            "on_hand": [1]}), 1)
    with pytest.raises(ValueError, match="as_of must be a date.*got 'soon'"):
        store.load("order_lines", as_of="soon")
    with pytest.raises(ValueError, match="import_id 99 is not a recorded import"):
        store.add_quarantine(_quarantine(1), 99)
    with pytest.raises(FileNotFoundError, match="store not found"):
        Store(tmp_path / "missing.duckdb", read_only=True)


def test_data_persists_and_reads_read_only(tmp_path, three_lines):
    path = tmp_path / "restock.duckdb"
    with Store(path) as store:
        store.upsert("order_lines", three_lines, 1)
    with Store(path, read_only=True) as store:
        assert len(store.load("order_lines")) == 3


def test_an_empty_table_loads_as_frames_pandas_can_join(tmp_path):
    # pandas 2.3 fails to join Arrow strings that have no chunks, as DuckDB returns for no rows
    with Store(tmp_path / "e.duckdb") as store:
        products = store.load("products")
    assert products.empty and list(products.columns) == list(TABLES["products"].columns)
    prices = products.groupby("category")["price"].median()
    assert products.join(prices.rename("category_price"), on="category").empty


def test_load_reads_only_the_columns_asked_for(store, three_lines):
    store.upsert("order_lines", three_lines, 1)
    df = store.load("order_lines", columns=["sku", "qty", "order_id"])
    assert list(df.columns) == ["sku", "qty", "order_id"]  # in the order asked
    assert df.dtypes.astype(str).tolist() == ["string", "Int64", "string"]
    assert df.values.tolist() == [["A", 1, "o1"], ["B", 1, "o1"], ["A", 3, "o2"]]  # still ordered by date and key
    cut = store.load("order_lines", as_of="2024-02-29", columns=["qty"])  # the cut needs no date column selected
    assert cut.empty and list(cut.columns) == ["qty"] and str(cut["qty"].dtype) == "Int64"


def test_load_refuses_columns_the_table_lacks(store):
    with pytest.raises(ValueError, match=r"columns must be columns of stock; got unknown \['qty'\]"):
        store.load("stock", columns=["sku", "qty"])
    with pytest.raises(ValueError, match="not one string; got 'sku'"):
        store.load("stock", columns="sku")
    with pytest.raises(ValueError, match=r"each once; got \['sku', 'sku'\]"):
        store.load("stock", columns=["sku", "sku"])
    with pytest.raises(ValueError, match=r"at least once.*got \[\]"):
        store.load("stock", columns=[])
