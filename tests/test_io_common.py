"""restock.io._common: the fast Arrow paths give what the pandas paths give, cell by cell."""

from __future__ import annotations

import pandas as pd
import pytest

from restock.io import _common
from restock.io._common import constant, parse_datetime, parse_int, parse_number


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
