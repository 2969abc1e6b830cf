"""The weekly batch on the committed DEMO shop, end to end, as `make reports` runs it."""

import json
import subprocess
import sys

import openpyxl
import pandas as pd
import pytest

from restock import batch, config, policy, slow
from restock import notebook as nb
from restock.bundles import explode_bundles


def _restock(*args, cwd=config.PROJECT_ROOT):
    return subprocess.run([sys.executable, "-m", "restock", *args], cwd=cwd, capture_output=True, text=True)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("e2e") / "restock.duckdb"
    done = _restock("intake", str(config.SAMPLE_DIR), "--store", str(path), "--json")
    assert done.returncode == 0, done.stderr
    return path, json.loads(done.stdout)


@pytest.fixture(scope="module")
def run_dir(store, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    return batch.run(config.DEFAULT_CONFIG, store_path=store[0], out_dir=out, echo=lambda _: None)


def test_sample_intake_detects_both_platforms_and_adds_up(store):
    summary = store[1]
    assert summary["rows_in"] == summary["stored"] + summary["quarantined"] + summary["duplicates"]
    platforms = {f["platform"] for f in summary["files"]}
    assert {"douyin", "douyin_after_sales", "tiktok", "template"} <= platforms
    manifest = json.loads((config.SAMPLE_DIR / "restock-demo.json").read_text())
    assert summary["quarantined"] >= len(manifest["injected_bad_rows"])


def test_reimporting_the_sample_stores_nothing_new(store):
    done = _restock("intake", str(config.SAMPLE_DIR), "--store", str(store[0]), "--json")
    again = json.loads(done.stdout)
    assert again["inserted"] == 0 and again["updated"] == 0
    assert again["duplicates"] == again["rows_in"] - again["quarantined"]


def test_run_folder_holds_every_report(run_dir):
    for name in ("index.html", "run.log", "replenishment.xlsx", "clearance.xlsx",
                 "01_intake.html", "02_forecast.html", "03_replenishment.html", "04_slow_movers.html"):
        assert (run_dir / name).is_file(), name
    for table in ("forecast", "lead_time_demand", "policy", "slow_movers", "intake_overview"):
        assert (run_dir / "data" / f"{table}.parquet").is_file(), table
    assert "DEMO DATA" in (run_dir / "index.html").read_text()
    figures = json.loads((run_dir / "figures.json").read_text())
    assert figures["01_intake.all_files_add_up"] is True


def test_forecast_covers_every_active_sku_over_the_horizon(run_dir):
    fc = pd.read_parquet(run_dir / "data" / "forecast.parquet")
    assert {"sku", "date", "forecast", "model"} <= set(fc.columns)
    days = fc.groupby("sku")["date"].nunique()
    assert days.nunique() == 1 and days.iloc[0] >= 28
    ltd = pd.read_parquet(run_dir / "data" / "lead_time_demand.parquet")
    assert {"sku", "lead_time_days", "mean", "q50", "q80", "q90", "q95", "q99"} <= set(ltd.columns)
    assert (ltd["q99"] >= ltd["q50"]).all()


def test_policy_and_slow_movers_tables_have_their_columns(run_dir):
    policy = pd.read_parquet(run_dir / "data" / "policy.parquet")
    assert {"sku", "abc", "xyz", "service_level", "safety_stock", "reorder_point", "order_up_to",
            "position", "suggested_qty", "alert"} <= set(policy.columns)
    slow = pd.read_parquet(run_dir / "data" / "slow_movers.parquet")
    assert {"sku", "on_hand", "age_days", "sell_through", "days_of_cover", "capital", "flag", "cause",
            "action"} <= set(slow.columns)


def test_replenishment_workbook_is_labelled_demo_and_explains_orders(run_dir):
    wb = openpyxl.load_workbook(run_dir / "replenishment.xlsx")
    assert wb.sheetnames[0] == "Summary"
    summary_text = " ".join(str(c.value) for row in wb["Summary"].iter_rows() for c in row if c.value)
    assert "DEMO" in summary_text
    policy = pd.read_parquet(run_dir / "data" / "policy.parquet")
    ordered = policy[policy["suggested_qty"] > 0]
    assert len(ordered) > 0 and ordered["reason"].str.len().gt(20).all()


def test_notebooks_run_without_warnings_or_missing_glyphs(run_dir):
    for executed in sorted((run_dir / "notebooks").glob("*.ipynb")):
        cells = json.loads(executed.read_text(encoding="utf-8"))["cells"]
        stderr = ["".join(o.get("text", "")) for c in cells for o in c.get("outputs", []) if o.get("name") == "stderr"]
        assert stderr == [], f"{executed.name}: {stderr[:2]}"


@pytest.mark.parametrize("step", ["policy", "slow"])
def test_the_windowed_loads_give_what_whole_tables_give(store, run_dir, step):
    """The notebooks load only input_windows' days; the result must not change for it."""
    module, compute, inputs = {
        "policy": (policy, policy.compute_policy,
                   ("products", "stock", "purchase_orders", "order_lines", "campaigns", "traffic")),
        "slow": (slow, slow.find_slow_movers,
                 ("products", "stock", "purchase_orders", "order_lines", "after_sales", "traffic", "campaigns")),
    }[step]
    params = module.PolicyParams() if step == "policy" else module.SlowParams()
    ctx = nb.open_run(str(store[0]), "", str(run_dir))
    windows = module.input_windows(params)
    saved = ("forecast", "lead_time_demand", "expected_returns") if step == "policy" else ("forecast", "returns_profile")
    tables = {name: ctx.read(name, columns=module.INPUT_COLUMNS[name]) for name in saved}
    tables["daily_demand"] = ctx.read("daily_demand", columns=module.INPUT_COLUMNS["daily_demand"])

    def run(windowed: bool):
        loaded = {name: ctx.load(name, columns=module.INPUT_COLUMNS[name], **(windows.get(name, {}) if windowed else {}))
                  for name in inputs}
        if step == "policy":  # as the notebook does: bundles draw on their components
            loaded["order_lines"] = explode_bundles(loaded["order_lines"], loaded["products"])
        return compute(**loaded, **tables, as_of=ctx.as_of, params=params)

    whole, windowed = run(False), run(True)
    assert len(ctx.load("order_lines", **windows["order_lines"])) < len(ctx.load("order_lines"))  # the window cuts
    main = "policy" if step == "policy" else "slow_movers"
    pd.testing.assert_frame_equal(getattr(windowed, main), getattr(whole, main))
