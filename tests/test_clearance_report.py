"""Tests for restock.clearance_report: the workbook read back with openpyxl."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from restock.clearance_report import ACTION_COLUMNS, ACTION_SHEETS, summary_tables, write_clearance
from restock.slow import SlowParams, SlowResult

AS_OF = pd.Timestamp("2024-06-30")
EVIL = '=HYPERLINK("http://evil.example","click")'


@pytest.fixture
def result() -> SlowResult:
    """Three flagged SKUs (markdown, other channels, write-off) and one healthy SKU."""
    sm = pd.DataFrame(
        {
            "sku": ["M1", "C1", "W1", "OK"],
            "name": [EVIL, "围巾", "=1+1", "T恤"],
            "variant": ["红/M", None, None, "L"],
            "category": ["tops", "tops", None, "tops"],
            "supplier": ["s1", "s1", "s2", "s1"],
            "on_hand": [100, 50, 20, 10],
            "age_days": [120.0, 200.0, 300.0, 10.0],
            "age_bucket": ["91–180", ">180", ">180", "0–30"],
            "sell_through": [0.05, 0.0, 0.0, 0.6],
            "days_since_last_sale": pd.array([3, 100, pd.NA, 1], dtype="Int64"),
            "days_of_cover": [100.0, np.inf, np.inf, 5.0],
            "capital": [1000.0, 500.0, 40.0, 100.0],
            "holding_cost_month": [30.0, 15.0, 1.2, 3.0],
            "return_rate": [0.1, 0.0, 0.0, 0.0],
            "flag": ["slow", "dead", "dead", None],
            "flags": ["slow", "dead;slow", "dead", None],
            "cause": ["returns_high", "unexplained", "unexplained", None],
            "action": ["markdown", "other_channels", "write_off", None],
            "discount": [0.3, np.nan, np.nan, np.nan],
            "suggested_price": [21.0, 9.0, np.nan, np.nan],
            "clear_days": [49.0, 30.0, np.nan, np.nan],
            "expected_recovery": [1995.0, 405.0, 0.0, np.nan],
            "bundle_partner": [None, None, None, None],
            "reason": ["slow: …", "dead: …", "write-off/donation: …", None],
        }
    ).astype({c: "string" for c in ("sku", "name", "variant", "category", "flag", "action", "reason")})
    buckets = pd.DataFrame(
        {
            "sku": ["M1", "M1", "C1", "W1", "OK"],
            "age_bucket": ["0–30", "91–180", ">180", ">180", "0–30"],
            "units": [40.0, 60.0, 50.0, 20.0, 10.0],
            "value": [400.0, 600.0, 500.0, 40.0, 100.0],
        }
    )
    return SlowResult(slow_movers=sm, age_buckets=buckets, bundle_partners=pd.DataFrame())


def test_summary_tables_add_up(result):
    tables = summary_tables(result, SlowParams())
    by_age = tables["by_age_bucket"].set_index("age_bucket")
    assert by_age.index.tolist() == ["0–30", "31–60", "61–90", "91–180", ">180"]  # empty buckets shown
    assert by_age.loc["0–30", "value"] == 500 and by_age.loc["31–60", "units"] == 0
    assert by_age.loc[">180", "value"] == 540
    assert by_age["share_of_value"].sum() == pytest.approx(1.0)
    by_cat = tables["by_category"].set_index("category")
    assert by_cat.loc["tops", "skus"] == 3 and by_cat.loc["tops", "flagged_skus"] == 2
    assert by_cat.loc["tops", "capital"] == 1600 and by_cat.loc["tops", "flagged_capital"] == 1500
    assert by_cat.loc["(none)", "flagged_capital"] == 40
    by_action = tables["by_action"].set_index("action")
    assert by_action.index.tolist() == ["bundle", "markdown", "live_driver", "other_channels", "write_off"]
    assert by_action.loc["markdown", "expected_recovery"] == 1995 and by_action.loc["bundle", "skus"] == 0
    assert by_action["units"].sum() == 170  # flagged units only


def test_workbook_sheets_and_demo_banner(result, tmp_path):
    path = write_clearance(tmp_path / "clearance.xlsx", result, SlowParams(), AS_OF, is_demo=True)
    wb = load_workbook(path)
    assert wb.sheetnames == ["Summary", *ACTION_SHEETS.values(), "Parameters"]
    assert wb["Summary"]["A1"].value.startswith("DEMO DATA")
    plain = load_workbook(write_clearance(tmp_path / "plain.xlsx", result, SlowParams(), AS_OF))
    assert not str(plain["Summary"]["A1"].value).startswith("DEMO")


def test_summary_sheet_headline_numbers(result, tmp_path):
    ws = load_workbook(write_clearance(tmp_path / "c.xlsx", result, SlowParams(), AS_OF))["Summary"]
    labels = {ws.cell(row=r, column=1).value: ws.cell(row=r, column=2).value for r in range(1, 15)}
    assert labels["As of 日期"] == "2024-06-30"
    assert labels["Flagged SKUs 滞销SKU"] == 3
    assert labels["Capital in flagged SKUs 滞销资金"] == 1540
    assert labels["Expected cash back 预计回款"] == 2400
    titles = [c.value for c in ws["A"] if c.value]
    assert {"Cash tied up by stock age 按库龄", "Cash tied up by category 按类目",
            "Flagged stock by action 按处理方式"} <= set(titles)


def test_action_sheet_rows_numbers_and_formats(result, tmp_path):
    wb = load_workbook(write_clearance(tmp_path / "c.xlsx", result, SlowParams(), AS_OF))
    ws = wb["Markdown 降价"]
    header = [c.value for c in ws[1]]
    assert header == ACTION_COLUMNS
    row = {h: c for h, c in zip(header, ws[2])}
    assert row["sku"].value == "M1" and row["on_hand"].value == 100
    assert row["suggested_price"].value == 21 and row["expected_recovery"].value == 1995
    assert row["discount"].value == 0.3 and row["discount"].number_format == "0%"
    assert row["capital"].number_format == "#,##0.00"
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:X2"
    assert ws.max_row == 2  # only the markdown SKU
    channels = {h: c.value for h, c in zip(header, wb["Other channels 清仓渠道"][2])}
    assert channels["sku"] == "C1" and channels["days_of_cover"] is None  # no demand: empty, not inf
    bundle = wb["Bundle 组合"]  # no bundle this run: the sheet is still there, header only
    assert bundle["A1"].value == "sku" and all(c.value is None for c in bundle[2])


def test_export_text_is_never_a_formula(result, tmp_path):
    wb = load_workbook(write_clearance(tmp_path / "c.xlsx", result, SlowParams(), AS_OF))
    markdown_name = wb["Markdown 降价"]["B2"]
    assert markdown_name.value == EVIL and markdown_name.data_type == "s"
    write_off_name = wb["Write-off 报废捐赠"]["B2"]
    assert write_off_name.value == "=1+1" and write_off_name.data_type == "s"
    for ws in wb.worksheets:
        assert not any(c.data_type == "f" for row in ws.iter_rows() for c in row)


def test_parameters_sheet_lists_every_parameter(result, tmp_path):
    params = SlowParams(discounts=(0.1, 0.25), channels=("唯品会",))
    ws = load_workbook(write_clearance(tmp_path / "c.xlsx", result, params, AS_OF))["Parameters"]
    values = {ws.cell(row=r, column=1).value: ws.cell(row=r, column=2).value for r in range(1, ws.max_row + 1)}
    assert values["as_of"] == "2024-06-30"
    assert values["discounts"] == "0.1, 0.25" and values["channels"] == "唯品会"
    assert values["holding_rate_month"] == 0.03
    assert len([k for k in values if k]) == len(params.as_rows()) + 2  # title + as_of
