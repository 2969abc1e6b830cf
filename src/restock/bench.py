"""The benchmark behind ``make bench`` / ``python -m restock bench``.

For each size it generates a DEMO shop (fixed seed, 730 days), imports it into a fresh
store, runs the real weekly batch (the same notebooks as ``restock run``) and reports the
wall time of every stage, the peak memory of the whole process tree (this process plus
the notebook kernels), and rows per second. Next to our times it measures two floors:

- intake: a plain DuckDB read of the same raw CSV files (what any reader must pay);
- forecasting: statsforecast called directly with the same models on the same series.

The figures go to ``<out>/bench.json`` and a table is printed per size.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import duckdb
import pandas as pd
import psutil

from restock.config import DEFAULT_CONFIG

__all__ = ["PeakMemory", "bench_size", "main"]

BENCH_DAYS = 730
BENCH_SEED = 2026


class PeakMemory:
    """Sample the resident memory of this process and all its children (the kernels)."""

    def __init__(self, interval: float = 0.1):
        self.interval = interval
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        me = psutil.Process()
        total = 0
        for proc in [me, *me.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except psutil.Error:  # a kernel that just exited
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, self._sample())
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, self._sample())


def _duckdb_read_floor(files: list[Path]) -> float:
    """Seconds for DuckDB to read every raw CSV into memory as text (the I/O floor)."""
    con = duckdb.connect()
    started = time.perf_counter()
    for i, f in enumerate(files):
        con.execute(
            f"CREATE TABLE t{i} AS SELECT * FROM read_csv(?, all_varchar = true, header = true)", [str(f)]
        )
    seconds = time.perf_counter() - started
    con.close()
    return seconds


def _forecast_floor(run_dir: Path, config_path: str | Path) -> float:
    """Seconds for statsforecast alone on the run's series, with the run's models and windows."""
    import dataclasses

    from restock.batch import load_run_config
    from restock.forecast import ForecastParams, statsforecast_floor

    section = load_run_config(config_path).notebooks.get("02_forecast", {})
    fields = {f.name for f in dataclasses.fields(ForecastParams)}
    params = ForecastParams(**{k: v for k, v in section.items() if k in fields})
    data = run_dir / "data"
    return statsforecast_floor(
        pd.read_parquet(data / "daily_demand.parquet"),
        params,
        classes=pd.read_parquet(data / "demand_classes.parquet"),
        products=pd.read_parquet(data / "lead_time_demand.parquet"),
    )


def bench_size(skus: int, out_dir: Path, config_path: str | Path = DEFAULT_CONFIG) -> dict:
    """Generate, import and run one shop of ``skus`` SKUs; return its figures."""
    from restock import batch
    from restock.demo import generate
    from restock.intake import import_files

    shop = out_dir / f"shop_{skus}"
    store = out_dir / f"store_{skus}.duckdb"
    store.unlink(missing_ok=True)
    figures: dict = {"skus": skus, "days": BENCH_DAYS}
    with PeakMemory() as mem:
        t0 = time.perf_counter()
        generate(shop, skus=skus, days=BENCH_DAYS, seed=BENCH_SEED)
        figures["generate_seconds"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        summary = import_files([shop], store_path=store)
        figures["stage_seconds"] = {"intake": time.perf_counter() - t0}
        figures["rows_in"] = summary.to_dict()["rows_in"]

        final = batch.run(config_path, store_path=store,
                          out_dir=out_dir / f"reports_{skus}", echo=lambda _: None)
    figures["peak_memory_mb"] = mem.peak_bytes / 2**20
    timings = json.loads((final / "timings.json").read_text())
    recorded = json.loads((final / "figures.json").read_text())
    for key, value in recorded.items():
        if ".stage_seconds." in key:
            figures["stage_seconds"][key.split(".stage_seconds.", 1)[1]] = value
    figures["stage_seconds"]["html"] = sum(n["html_seconds"] for n in timings["notebooks"])
    figures["notebook_seconds"] = {n["notebook"]: n["execute_seconds"] for n in timings["notebooks"]}
    figures["batch_seconds"] = timings["total_seconds"] + figures["stage_seconds"]["intake"]
    figures["rows_per_second_intake"] = figures["rows_in"] / figures["stage_seconds"]["intake"]
    raw_csv = sorted(shop.glob("*.csv"))
    figures["floor_intake_seconds"] = _duckdb_read_floor(raw_csv)
    figures["floor_forecast_seconds"] = _forecast_floor(final, config_path)
    stages = figures["stage_seconds"]
    figures["ratio_intake_to_floor"] = stages["intake"] / figures["floor_intake_seconds"]
    if "forecast" in stages:
        figures["ratio_forecast_to_floor"] = stages["forecast"] / figures["floor_forecast_seconds"]
    return figures


def _table(fig: dict) -> str:
    lines = [f"== {fig['skus']:,} SKUs × {fig['days']} days · {fig['rows_in']:,} rows in · "
             f"peak memory {fig['peak_memory_mb']:,.0f} MB · batch {fig['batch_seconds']:.1f} s"]
    lines.append(f"  {'stage':<22}{'seconds':>10}")
    for stage, seconds in fig["stage_seconds"].items():
        lines.append(f"  {stage:<22}{seconds:>10.2f}")
    lines.append(f"  intake rows/s          {fig['rows_per_second_intake']:>10,.0f}")
    lines.append(f"  floor: DuckDB read     {fig['floor_intake_seconds']:>10.2f}   ours/floor "
                 f"{fig['ratio_intake_to_floor']:.2f}")
    ratio = fig.get("ratio_forecast_to_floor")
    lines.append(f"  floor: statsforecast   {fig['floor_forecast_seconds']:>10.2f}   ours/floor "
                 + (f"{ratio:.2f}" if ratio is not None else "n/a"))
    return "\n".join(lines)


def main(sizes: str = "1000,10000", out_dir: str | Path = "bench", keep: bool = False) -> int:
    """Run the benchmark for each size in ``sizes`` (comma-separated SKU counts)."""
    from restock.notebook import resolve

    out = resolve(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for skus in (int(s) for s in str(sizes).split(",") if s.strip()):
        fig = bench_size(skus, out)
        results.append(fig)
        print(_table(fig), flush=True)
        if not keep:
            import shutil

            shutil.rmtree(out / f"shop_{skus}", ignore_errors=True)
    machine = {"cpus": psutil.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1)}
    (out / "bench.json").write_text(json.dumps({"machine": machine, "results": results}, indent=2))
    print(f"figures written to {out / 'bench.json'}")
    return 0
