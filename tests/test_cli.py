import json
import subprocess
import sys

import pytest

from restock.__main__ import build_parser


def _restock(*args, cwd):
    return subprocess.run([sys.executable, "-m", "restock", *args], cwd=cwd, capture_output=True, text=True)


def test_unreadable_export_exits_2_naming_the_file(tmp_path):
    bad = tmp_path / "orders.csv"
    bad.write_text("foo,bar\n1,2\n", encoding="utf-8")
    done = _restock("intake", str(bad), "--store", str(tmp_path / "s.duckdb"), cwd=tmp_path)
    assert done.returncode == 2
    assert "orders.csv" in done.stderr


def test_run_without_a_store_exits_2_and_says_how_to_create_it(tmp_path):
    done = _restock("run", "--store", str(tmp_path / "none.duckdb"), "--out", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2
    assert "restock intake" in done.stderr


def test_intake_json_reports_counts_that_add_up(tmp_path):
    from restock.config import SAMPLE_DIR

    files = sorted(SAMPLE_DIR.glob("douyin_after_sales*.csv"))
    if not files:
        pytest.skip("sample shop not generated")
    done = _restock("intake", str(files[0]), "--store", str(tmp_path / "s.duckdb"), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert {"rows_in", "stored", "quarantined", "duplicates", "by_reason"} <= set(summary)
    assert summary["rows_in"] == summary["stored"] + summary["quarantined"] + summary["duplicates"] > 0


def test_parser_knows_every_documented_command():
    parser = build_parser()
    assert parser.parse_args(["po", "import", "x.xlsx"]).po_command == "import"
    args = parser.parse_args(["demo", "--out", "d", "--skus", "50", "--days", "90", "--seed", "3"])
    assert (args.skus, args.days, args.seed) == (50, 90, 3)
    with pytest.raises(SystemExit):
        parser.parse_args(["intake", "f.csv", "--platform", "shopee"])
