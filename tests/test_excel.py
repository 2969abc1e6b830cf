import openpyxl
import pandas as pd
import pytest

from restock.excel import new_workbook, sheet_title, write_frame, write_key_values


@pytest.fixture
def written(tmp_path):
    wb = new_workbook()
    ws = wb.create_sheet("Plan")
    frame = pd.DataFrame(
        {"name": ['=HYPERLINK("http://evil","click")', "<script>x</script>"], "qty": [2, 3],
         "cost": [1.5, pd.NA], "value": [None, None]}
    )
    write_frame(ws, frame, number_formats={"cost": "#,##0.00"}, formulas={"value": "={qty}{row}*{cost}{row}"})
    write_key_values(wb.create_sheet("Summary"), [("as of", "2026-11-22"), ("note", "=1+1")], demo_label="DEMO DATA")
    path = tmp_path / "t.xlsx"
    wb.save(path)
    return openpyxl.load_workbook(path)


def test_export_text_is_stored_as_text_and_only_our_formulas_are_formulas(written):
    ws = written["Plan"]
    assert ws["A2"].value.startswith("=HYPERLINK") and ws["A2"].data_type == "s"
    assert ws["A3"].value == "<script>x</script>"
    assert ws["D2"].value == "=B2*C2" and ws["D2"].data_type == "f"
    assert written["Summary"]["B4"].value == "=1+1" and written["Summary"]["B4"].data_type == "s"


def test_header_is_frozen_filtered_and_formatted(written):
    ws = written["Plan"]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:D3"
    assert ws["C2"].number_format == "#,##0.00" and ws["C3"].value is None  # NA is an empty cell


def test_an_empty_frame_writes_only_its_header(tmp_path):
    wb = new_workbook()
    ws = wb.create_sheet("Empty")
    write_frame(ws, pd.DataFrame({"a": pd.Series(dtype="float64")}), number_formats={"a": "0.00"})
    assert ws.max_row == 1


def test_sheet_titles_are_valid_and_unique():
    assert sheet_title("A/B: [x]*?") == "A_B_ _x___"
    long = "供应商" * 20
    first = sheet_title(long)
    assert len(first) <= 31 and sheet_title(long, taken=[first]) != first
    assert sheet_title("summary", taken=["Summary"]) == "summary (2)"
