import pandas as pd
import pytest

from restock import notebook as nb
from restock.schema import conform
from restock.store import Store


@pytest.fixture
def store_path(tmp_path):
    path = tmp_path / "s.duckdb"
    lines = pd.DataFrame(
        {
            "platform": ["douyin"] * 2, "shop": ["s"] * 2, "order_id": ["o1", "o2"], "line_id": ["l1", "l2"],
            "sku": ["A", "A"], "qty": [1, 2], "status": ["completed"] * 2,
            "created_at": pd.to_datetime(["2026-03-01 09:00", "2026-03-09 23:59"]),
        }
    )
    with Store(path) as store:
        store.upsert("order_lines", conform(lines, "order_lines"))
    return path


def test_open_run_defaults_as_of_to_the_latest_order_day(store_path, tmp_path):
    ctx = nb.open_run(str(store_path), "", str(tmp_path / "run"))
    assert ctx.as_of == pd.Timestamp("2026-03-09")
    assert ctx.is_demo is False


def test_load_cuts_tables_at_as_of(store_path, tmp_path):
    ctx = nb.open_run(str(store_path), "2026-03-05", str(tmp_path / "run"))
    assert ctx.load("order_lines")["order_id"].tolist() == ["o1"]


def test_load_reads_only_the_columns_asked_for(store_path, tmp_path):
    ctx = nb.open_run(str(store_path), "2026-03-05", str(tmp_path / "run"))
    lines = ctx.load("order_lines", columns=["sku", "qty"])
    assert list(lines.columns) == ["sku", "qty"] and len(lines) == 1
    assert "order_id" in ctx.load("order_lines").columns  # a second call with all columns is not served the first


def test_load_keeps_the_last_days_asked_for(store_path, tmp_path):
    ctx = nb.open_run(str(store_path), "2026-03-09", str(tmp_path / "run"))
    assert ctx.load("order_lines", days=1)["order_id"].tolist() == ["o2"]  # as_of itself
    assert ctx.load("order_lines", days=9)["order_id"].tolist() == ["o1", "o2"]  # 1 to 9 March
    assert ctx.load("order_lines", days=8)["order_id"].tolist() == ["o2"]
    kept = ctx.load("order_lines", days=1, older_if={"sku": ["A"]}, latest_older_by="sku")
    assert kept["order_id"].tolist() == ["o1", "o2"]


def test_read_keeps_the_columns_and_recent_days_asked_for(store_path, tmp_path):
    ctx = nb.open_run(str(store_path), "2026-03-09", str(tmp_path / "run"))
    days = pd.date_range("2026-03-01", "2026-03-09")
    ctx.save("daily", pd.DataFrame({"sku": "A", "date": days, "units": range(len(days))}))
    recent = ctx.read("daily", columns=["date", "units"], days=3)
    assert list(recent.columns) == ["date", "units"]
    assert recent["date"].tolist() == list(pd.date_range("2026-03-07", "2026-03-09"))  # as_of and the 2 days before


def test_save_then_read_round_trips_through_the_run_folder(store_path, tmp_path):
    ctx = nb.open_run(str(store_path), "", str(tmp_path / "run"))
    ctx.save("t", pd.DataFrame({"sku": ["A"], "x": [1.5]}))
    assert (tmp_path / "run" / "data" / "t.parquet").exists()
    assert ctx.read("t")["x"].tolist() == [1.5]
    with pytest.raises(FileNotFoundError, match="run the notebook that writes 'other' first"):
        ctx.read("other")


def test_read_gives_categorical_text_back_as_strings(store_path, tmp_path):
    ctx = nb.open_run(str(store_path), "", str(tmp_path / "run"))
    ctx.save("daily", pd.DataFrame({"sku": pd.Categorical(["B", "A"]), "kind": pd.Categorical(["live", None])}))
    back = ctx.read("daily")
    assert (back.dtypes == pd.StringDtype("pyarrow")).all()
    assert back["sku"].tolist() == ["B", "A"] and back["kind"].isna().tolist() == [False, True]


def test_bad_parameters_are_named(store_path, tmp_path):
    with pytest.raises(ValueError, match=r"as_of must be YYYY-MM-DD or empty; got '5/3/2026'"):
        nb.open_run(str(store_path), "5/3/2026", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="store_path: .*missing.duckdb does not exist"):
        nb.open_run(str(tmp_path / "missing.duckdb"), "", str(tmp_path))


def test_relative_paths_resolve_against_the_project_root():
    from restock import config

    assert nb.resolve("data/x.duckdb") == config.PROJECT_ROOT / "data" / "x.duckdb"


def test_a_stage_timed_in_pieces_records_their_sum(store_path, tmp_path, monkeypatch):
    ctx = nb.open_run(str(store_path), "", str(tmp_path / "run"))
    recorded = []
    monkeypatch.setattr(ctx, "record", lambda name, value: recorded.append((name, value)))
    clock = iter([10.0, 10.5, 20.0, 20.25, 30.0, 31.0])
    monkeypatch.setattr(nb.time, "perf_counter", lambda: next(clock))
    for name in ("demand", "returns", "demand"):
        with ctx.stage(name):
            pass
    assert recorded == [("stage_seconds.demand", 0.5), ("stage_seconds.returns", 0.25), ("stage_seconds.demand", 1.5)]
