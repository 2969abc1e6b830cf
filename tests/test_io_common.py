"""restock.io._common: the fast Arrow paths give what the pandas paths give, cell by cell."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from restock.io import _common
from restock.io._common import (
    RowFaults,
    assemble,
    constant,
    map_required_words,
    parse_columns,
    parse_datetime,
    parse_int,
    parse_number,
)


def _text(*cells) -> pd.Series:
    return pd.Series(list(cells), dtype="string[pyarrow]")


def test_int_plain_cells_cast_and_the_others_parse_the_slow_way():
    values, bad = parse_int(_text("3", "-2", "1,200", "+5", "2.0", "2.5", "x", None, "9007199254740993"))
    assert values.tolist() == [3, -2, 1200, 5, 2, pd.NA, pd.NA, pd.NA, 9007199254740993]  # exact beyond 2**53
    assert bad.tolist() == [False, False, False, False, False, True, True, False, False]


def test_int_beyond_int64_falls_back_to_the_slow_path():
    values, bad = parse_int(_text("1", "99999999999999999999", "x"))
    assert values.tolist()[0] == 1 and pd.isna(values.iloc[2])
    assert bad.tolist() == [False, False, True]


def test_columns_arrow_reads_whole_give_what_the_cell_by_cell_paths_give():
    # every cell casts, so the column is cast at once; the values are those of the paths above
    values, bad = parse_int(_text("3", "-2", None, "+5", "007"))
    assert values.tolist() == [3, -2, pd.NA, 5, 7] and not bad.any()
    values, bad = parse_number(_text("12.99", "-1", "1e3", None))
    assert values.tolist() == [12.99, -1.0, 1000.0, pd.NA] and not bad.any()


@pytest.mark.parametrize("block", [2, 4096])
def test_numbers_cast_block_by_block_around_the_cells_arrow_refuses(monkeypatch, block):
    monkeypatch.setattr(_common, "_PANDAS_BLOCK", block)  # 2: the bad cells are found by halving
    values, bad = parse_int(_text("1", "2", "3", "x", "5", "6", "1,200", "8", None, "9007199254740993"))
    assert values.tolist() == [1, 2, 3, pd.NA, 5, 6, 1200, 8, pd.NA, 9007199254740993]
    assert bad.tolist() == [False, False, False, True, False, False, False, False, False, False]
    values, bad = parse_number(_text("1.5", "2", "USD 3.25", "abc", "5", "6", "1,299.00", "8.1", None, "10"))
    assert values.tolist() == [1.5, 2.0, 3.25, pd.NA, 5.0, 6.0, 1299.0, 8.1, pd.NA, 10.0]
    assert bad.tolist() == [False, False, False, True, False, False, False, False, False, False]
    # a ",dd" cell makes the whole column comma-decimal, plain "1.234" included (Arrow would read 1.234)
    values, bad = parse_number(_text("1.234", "2", "3", "4", "BRL 35,91", "7,00"))
    assert values.tolist() == [1234.0, 2.0, 3.0, 4.0, 35.91, 7.0] and not bad.any()


def test_number_mixes_plain_grouped_and_currency_cells():
    values, bad = parse_number(_text("12.99", "1,299.00", "USD 7.50", "¥35", "abc", None))
    assert values.tolist() == [12.99, 1299.0, 7.5, 35.0, pd.NA, pd.NA]
    assert bad.tolist() == [False, False, False, False, True, False]


def test_number_comma_decimal_column_reads_plain_dots_as_thousands():
    # three cells end in ",dd", one in ".dd": the column is comma-decimal, so the plain
    # "1.234" is a thousands group (1234); "2.50" is no group and stays 2.5
    values, bad = parse_number(_text("BRL 35,91", "1.234,50", "7,00", "1.234", "2.50"))
    assert values.tolist() == [35.91, 1234.5, 7.0, 1234.0, 2.5]
    assert not bad.any()


@pytest.mark.parametrize("block", [2, 4096])
def test_datetime_fast_path_matches_pandas_cell_by_cell(monkeypatch, block):
    monkeypatch.setattr(_common, "_PANDAS_BLOCK", block)  # 2: impossible dates found by halving
    cells = _text("2024-02-29 10:00:00", "2024-02-30 10:00:00", "2024-1-5 1:2:3", None, "2024-01-01 23:59:60",
                  "31/12/2024 10:00:00", "2024/12/31 10:00:00", "12/31/2024 10:00:00", "x", "1650-01-01 00:00:00")
    formats = ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%d/%m/%Y %H:%M:%S", "%m/%d/%Y %H:%M:%S")
    values, bad = parse_datetime(cells, formats)
    assert values.tolist()[:8] == [
        pd.Timestamp("2024-02-29 10:00:00"), pd.NaT, pd.Timestamp("2024-01-05 01:02:03"), pd.NaT,
        pd.Timestamp("2024-01-02 00:00:00"),  # pandas rolls second 60 over; Arrow refuses it
        pd.Timestamp("2024-12-31 10:00:00"), pd.Timestamp("2024-12-31 10:00:00"), pd.Timestamp("2024-12-31 10:00:00"),
    ]
    assert bad.tolist() == [False, True, False, False, False, False, False, False, True, True]


def test_constant_builds_typed_columns():
    index = pd.RangeIndex(3)
    assert constant("douyin", index).tolist() == ["douyin"] * 3
    assert constant("douyin", index).dtype == pd.StringDtype("pyarrow")
    assert constant(None, index).isna().all()
    assert constant("2", index, "Int64").tolist() == [2, 2, 2]
    assert constant(None, index, "datetime64[ns]").dtype == "datetime64[ns]"


def test_row_faults_keep_each_row_s_first_fault_whatever_the_mask_type():
    faults = RowFaults(4)
    faults.add(pd.array([True, None, False, False], dtype="boolean"), "first", "a")  # NA counts as no fault
    faults.add(np.array([True, True, False, False]), "second", "b", _text("x", "y", "z", "w"), "expected y")
    faults.add(pd.Series([False, False, True, True]), "third", None)
    assert faults.reason.tolist() == ["first", "second", "third", "third"]
    assert faults.column.tolist() == ["a", "b", None, None]
    assert faults.detail[1] == "'y': expected y"
    assert not faults.ok.any()


def test_required_words_are_translated_and_empty_or_unknown_cells_are_faults():
    faults = RowFaults(3)
    values = map_required_words(_text("已发货", None, "挂起"), {"已发货": "shipped"}, "status", "订单状态", faults)
    assert values.tolist() == ["shipped", pd.NA, pd.NA]
    assert faults.reason.tolist() == [None, "missing_status", "unknown_status"]
    assert faults.column.tolist() == [None, "订单状态", "订单状态"]
    assert faults.detail[2] == "'挂起': expected one of 已发货"


def test_parse_columns_records_the_first_fault_in_column_order():
    frame = pd.DataFrame({"数量": ["x", "1", "y"], "时间": ["bad", "bad", "2024-01-01 00:00:00"]}, dtype="string[pyarrow]")
    faults = RowFaults(3)
    out = parse_columns(frame, {"qty": "数量", "created_at": "时间"}, "order_lines", faults,
                        date_formats=("%Y-%m-%d %H:%M:%S",))
    assert faults.reason.tolist() == ["non_numeric_quantity", "unparseable_date", "non_numeric_quantity"]
    assert faults.column.tolist() == ["数量", "时间", "数量"]
    assert list(out.columns) == ["qty", "created_at"] and out["qty"].tolist() == [pd.NA, 1, pd.NA]


@pytest.mark.parametrize("bad_rows", [[0, 7, 8, 19], list(range(0, 200, 2))])  # 3 runs kept: sliced; 100: filtered
def test_assemble_keeps_the_good_rows_in_file_order(bad_rows):
    n = 200
    frame = pd.DataFrame({"sku": [f"S{i}" for i in range(n)]}, dtype="string[pyarrow]")
    lines = pd.DataFrame({"platform": constant("douyin", frame.index), "order_id": frame["sku"],
                          "line_id": frame["sku"], "sku": frame["sku"], "qty": pd.array(range(n), dtype="Int64"),
                          "created_at": pd.Timestamp("2024-01-01"), "status": constant("to_ship", frame.index)})
    faults = RowFaults(n)
    faults.add(np.isin(np.arange(n), bad_rows), "missing_sku", "sku")
    result = assemble("f.csv", "douyin", frame, 2, {"order_lines": (lines, np.ones(n, dtype=bool))}, faults,
                      "order_lines")
    kept = [i for i in range(n) if i not in bad_rows]
    table = result.tables["order_lines"]
    assert table["sku"].tolist() == [f"S{i}" for i in kept] and table["line_id"].tolist() == table["sku"].tolist()
    assert table["qty"].tolist() == kept and table["source_row"].tolist() == [i + 2 for i in kept]
    assert table["sku"].dtype == pd.StringDtype("pyarrow") and table.index.equals(pd.RangeIndex(len(kept)))
    assert result.quarantine["source_row"].tolist() == [i + 2 for i in bad_rows]
    assert result.quarantine["raw"].iloc[0] == '{"sku":"S0"}'
