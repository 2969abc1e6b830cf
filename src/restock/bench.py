"""The benchmark behind ``make bench`` / ``python -m restock bench``.

For each size it generates a DEMO shop (fixed seed, 730 days), imports it into a fresh
store, runs the real weekly batch (the same notebooks as ``restock run``) and reports the
wall time of every stage, the peak memory of the whole process tree (this process plus
the notebook kernels), and rows per second. Next to our times it measures two floors:

- intake: a plain DuckDB read of the same raw CSV files (what any reader must pay);
- forecasting: statsforecast called directly with the same models on the same series,
  divided into the forecast stage alone and into demand building plus forecast. The same
  two ratios are also taken against the statsforecast calls timed inside the run, which
  the VM's changing speed does not move apart from the stage they are part of.

The figures go to ``<out>/bench.json`` and a table is printed per size.
"""

from __future__ import annotations

import json
import shutil
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
    """Sample the memory of this process and all its children (the kernels, their workers).

    Each process counts its proportional set size (PSS): pages shared after a fork, as
    statsforecast's worker processes share their parent's, are split between the sharers
    instead of counted once per process. Where PSS is not available, RSS is used.

    Reading PSS walks a process's page tables (``/proc/<pid>/smaps_rollup``), which costs CPU
    and holds up the process's own memory calls: at 0.2 s it took a third of a core from a
    15 GB kernel, so the default samples once a second.
    """

    def __init__(self, interval: float = 1.0):
        self.interval = interval
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        me = psutil.Process()
        total = 0
        for proc in [me, *me.children(recursive=True)]:
            try:
                info = proc.memory_full_info()
                total += getattr(info, "pss", info.rss)
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


def bench_size(skus: int, out_dir: Path, config_path: str | Path = DEFAULT_CONFIG, reuse: bool = False) -> dict:
    """Generate, import and run one shop of ``skus`` SKUs; return its figures.

    Peak memory covers the intake and the run of the notebooks (each also on its own), not
    the generation of the shop. With ``reuse``, a shop a previous ``--keep`` run left in
    ``out_dir`` is used as it is.
    """
    from restock import batch
    from restock.demo import generate
    from restock.intake import import_files

    shop = out_dir / f"shop_{skus}"
    store = out_dir / f"store_{skus}.duckdb"
    store.unlink(missing_ok=True)
    figures: dict = {"skus": skus, "days": BENCH_DAYS}
    t0 = time.perf_counter()
    if not (reuse and shop.is_dir()):
        generate(shop, skus=skus, days=BENCH_DAYS, seed=BENCH_SEED)
    figures["generate_seconds"] = time.perf_counter() - t0
    with PeakMemory() as intake_mem:
        t0 = time.perf_counter()
        summary = import_files([shop], store_path=store)
        figures["stage_seconds"] = {"intake": time.perf_counter() - t0}
        figures["rows_in"] = summary.to_dict()["rows_in"]
    with PeakMemory() as batch_mem:
        final = batch.run(config_path, store_path=store,
                          out_dir=out_dir / f"reports_{skus}", echo=lambda _: None)
    figures["peak_memory_intake_mb"] = intake_mem.peak_bytes / 2**20
    figures["peak_memory_batch_mb"] = batch_mem.peak_bytes / 2**20
    figures["peak_memory_mb"] = max(figures["peak_memory_intake_mb"], figures["peak_memory_batch_mb"])
    timings = json.loads((final / "timings.json").read_text())
    recorded = json.loads((final / "figures.json").read_text())
    for key, value in recorded.items():
        if ".stage_seconds." in key:
            figures["stage_seconds"][key.split(".stage_seconds.", 1)[1]] = value
        elif key.endswith(".statsforecast_seconds"):
            figures["statsforecast_in_run_seconds"] = value
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
        # issue 3 counts demand building and classification too
        figures["ratio_demand_forecast_to_floor"] = (stages["demand"] + stages["forecast"]) / figures["floor_forecast_seconds"]
        # the same ratios against the statsforecast calls inside the run: same moment, same
        # process, so the VM's changing speed (±15 % between runs) cancels out
        in_run = figures["statsforecast_in_run_seconds"]
        figures["ratio_forecast_to_in_run"] = stages["forecast"] / in_run
        figures["ratio_demand_forecast_to_in_run"] = (stages["demand"] + stages["forecast"]) / in_run
    return figures


def bench_intake(lines: int, out_dir: Path) -> dict:
    """Import about ``lines`` generated 抖店 order lines twice; time, memory and counts of both.

    The shop is sized from the demo's lines per SKU-day so its 抖店 exports hold at least
    ``lines`` rows; only those exports are imported (the order-line path is what scales).
    """
    from restock.demo import generate
    from restock.intake import import_files

    shop, store = out_dir / "intake_shop", out_dir / "intake.duckdb"
    store.unlink(missing_ok=True)
    skus = max(200, int(lines / (0.19 * BENCH_DAYS)))  # the demo writes ~0.2 lines per SKU-day
    generate(shop, skus=skus, days=BENCH_DAYS, seed=BENCH_SEED)
    files = sorted(shop.glob("douyin_orders_*.csv"))
    figures: dict = {"skus": skus, "files": len(files)}
    for run in ("first", "again"):
        with PeakMemory() as mem:
            started = time.perf_counter()
            summary = import_files(files, store_path=store).to_dict()
            seconds = time.perf_counter() - started
        figures[run] = {
            "seconds": seconds,
            "peak_memory_mb": mem.peak_bytes / 2**20,
            "rows_in": summary["rows_in"],
            "rows_per_second": summary["rows_in"] / seconds,
            **{k: summary[k] for k in ("stored", "quarantined", "duplicates")},
        }
    figures["floor_seconds"] = _duckdb_read_floor(files)
    return figures


def _table(fig: dict) -> str:
    lines = [f"== {fig['skus']:,} SKUs × {fig['days']} days · {fig['rows_in']:,} rows in · "
             f"peak memory {fig['peak_memory_mb']:,.0f} MB (intake {fig['peak_memory_intake_mb']:,.0f}, "
             f"run {fig['peak_memory_batch_mb']:,.0f}) · batch {fig['batch_seconds']:.1f} s"]
    lines.append(f"  {'stage':<22}{'seconds':>10}")
    for stage, seconds in fig["stage_seconds"].items():
        lines.append(f"  {stage:<22}{seconds:>10.2f}")
    lines.append(f"  intake rows/s          {fig['rows_per_second_intake']:>10,.0f}")
    lines.append(f"  floor: DuckDB read     {fig['floor_intake_seconds']:>10.2f}   ours/floor "
                 f"{fig['ratio_intake_to_floor']:.2f}")
    ratio = fig.get("ratio_forecast_to_floor")
    lines.append(f"  floor: statsforecast   {fig['floor_forecast_seconds']:>10.2f}   ours/floor "
                 + (f"{ratio:.2f}" if ratio is not None else "n/a"))
    with_demand = fig.get("ratio_demand_forecast_to_floor")
    lines.append("  (demand + forecast) / statsforecast floor  "
                 + (f"{with_demand:.2f}" if with_demand is not None else "n/a"))
    if "ratio_forecast_to_in_run" in fig:
        lines.append(f"  statsforecast inside the run {fig['statsforecast_in_run_seconds']:>8.2f}   forecast / it "
                     f"{fig['ratio_forecast_to_in_run']:.2f}, (demand + forecast) / it "
                     f"{fig['ratio_demand_forecast_to_in_run']:.2f}")
    return "\n".join(lines)


def _growth(results: list[dict]) -> list[str]:
    """Per stage, how its time grew against the growth in SKUs between consecutive sizes."""
    lines = []
    for small, big in zip(results, results[1:]):
        factor = big["skus"] / small["skus"]
        parts = []
        for stage, seconds in big["stage_seconds"].items():
            before = small["stage_seconds"].get(stage)
            if before:
                parts.append(f"{stage} ×{seconds / before:.1f}")
        lines.append(f"growth {small['skus']:,} → {big['skus']:,} SKUs (×{factor:g}): " + ", ".join(parts))
    return lines


def main(sizes: str = "1000,10000", out_dir: str | Path = "bench", keep: bool = False,
         intake_lines: int = 0, reuse: bool = False) -> int:
    """Run the benchmark for each size in ``sizes`` (comma-separated SKU counts).

    With ``intake_lines`` > 0, first the intake benchmark on that many 抖店 order lines;
    with ``reuse``, shops kept by an earlier ``keep`` run are not generated again.
    """
    from restock.notebook import resolve

    out = resolve(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {}
    if intake_lines:
        report["intake"] = fig = bench_intake(intake_lines, out)
        for run in ("first", "again"):
            r = fig[run]
            print(f"== intake {run}: {r['rows_in']:,} 抖店 lines in {r['seconds']:.1f} s "
                  f"({r['rows_per_second']:,.0f} rows/s), peak memory {r['peak_memory_mb']:,.0f} MB; "
                  f"stored {r['stored']:,}, quarantined {r['quarantined']:,}, duplicates {r['duplicates']:,}")
        print(f"   floor: DuckDB read of the same files {fig['floor_seconds']:.1f} s")
        if not keep:
            shutil.rmtree(out / "intake_shop", ignore_errors=True)
    results = []
    for skus in (int(s) for s in str(sizes).split(",") if s.strip()):
        fig = bench_size(skus, out, reuse=reuse)
        results.append(fig)
        print(_table(fig), flush=True)
        if not keep:
            shutil.rmtree(out / f"shop_{skus}", ignore_errors=True)
    growth = _growth(results)
    for line in growth:
        print(line)
    machine = {"cpus": psutil.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1)}
    report.update({"machine": machine, "results": results, "growth": growth})
    (out / "bench.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"figures written to {out / 'bench.json'}")
    return 0
