"""The benchmark command runs at the smallest size and produces every figure (not how fast)."""

import json

import pytest

from restock import bench


def test_bench_produces_every_figure_at_a_small_size(tmp_path, capsys):
    assert bench.main(sizes="300", out_dir=tmp_path) == 0
    result = json.loads((tmp_path / "bench.json").read_text())["results"][0]
    stages = result["stage_seconds"]
    for stage in ("intake", "demand", "forecast", "policy", "replenishment_workbook", "slow_movers",
                  "clearance_workbook", "html"):
        assert stages[stage] > 0, stage
    for key in ("peak_memory_mb", "peak_memory_intake_mb", "peak_memory_batch_mb", "rows_per_second_intake", "floor_intake_seconds", "floor_forecast_seconds",
                "ratio_intake_to_floor", "ratio_forecast_to_floor", "ratio_demand_forecast_to_floor", "batch_seconds",
                "statsforecast_in_run_seconds", "ratio_forecast_to_in_run", "ratio_demand_forecast_to_in_run"):
        assert result[key] > 0, key
    assert result["ratio_demand_forecast_to_floor"] == pytest.approx(
        (stages["demand"] + stages["forecast"]) / result["floor_forecast_seconds"]
    )
    # the statsforecast calls are part of the forecast stage they are timed in
    assert result["statsforecast_in_run_seconds"] < stages["forecast"]
    assert result["ratio_forecast_to_in_run"] == pytest.approx(stages["forecast"] / result["statsforecast_in_run_seconds"])
    assert result["peak_memory_mb"] == max(result["peak_memory_intake_mb"], result["peak_memory_batch_mb"])
    assert result["skus"] == 300
    printed = capsys.readouterr().out
    assert "300 SKUs" in printed and "ours/floor" in printed and "(demand + forecast)" in printed and "inside the run" in printed
    assert not (tmp_path / "shop_300").exists()  # generated shop removed unless --keep


def test_peak_memory_sees_the_process():
    with bench.PeakMemory(interval=0.01) as mem:
        blob = bytearray(50 * 2**20)
    assert mem.peak_bytes > 50 * 2**20
    del blob


class _Imported(Exception):
    """Stops bench_size after the import: the batch after it is not what the test is about."""


def test_reuse_imports_a_kept_shop_without_generating_it_again(tmp_path, monkeypatch):

    (tmp_path / "shop_300").mkdir()
    monkeypatch.setattr("restock.demo.generate", lambda *a, **k: pytest.fail("the kept shop was generated again"))
    imported = []

    def stop_after_import(paths, **kwargs):
        imported.extend(paths)
        raise _Imported

    monkeypatch.setattr("restock.intake.import_files", stop_after_import)
    with pytest.raises(_Imported):
        bench.bench_size(300, tmp_path, reuse=True)
    assert imported == [tmp_path / "shop_300"]
