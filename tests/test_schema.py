"""Tests for restock.schema helpers."""

import numpy as np
import pandas as pd

from restock.schema import keep_rows, positions


def test_keep_rows_is_a_boolean_filter_that_keeps_every_dtype():
    frame = pd.DataFrame(
        {
            "sku": pd.array(["A", None, "C", "D"], dtype="string[pyarrow]"),
            "qty": pd.array([1, 2, None, 4], dtype="Int64"),
            "price": [1.5, 2.5, 3.5, 4.5],
            "at": pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"]),
            "kind": pd.Categorical(["x", "y", "x", "y"]),
        },
        index=[10, 11, 12, 13],
    )
    keep = np.array([False, True, True, False])
    pd.testing.assert_frame_equal(keep_rows(frame, keep), frame[keep].reset_index(drop=True))
    assert keep_rows(frame, np.zeros(4, bool)).dtypes.equals(frame.dtypes)


def test_positions_find_each_value_among_the_labels():
    labels = pd.Index(["B", "A", "C"], dtype=object)
    for values in (pd.Series(["A", "C", None, "Z", "A"], dtype="string[pyarrow]"),
                   pd.Series(["A", "C", None, "Z", "A"], dtype=object),
                   pd.Series(pd.Categorical(["A", "C", None, "Z", "A"]))):
        assert positions(values, labels).tolist() == [1, 2, -1, -1, 1]
