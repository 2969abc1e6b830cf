"""The weekly batch: run every notebook with papermill into a dated run folder.

``restock run`` reads one parameter file (config/weekly.yaml), checks every parameter
against the notebook's own ``parameters`` cell (papermill's ``inspect_notebook``; an
unknown name is refused before anything runs), then executes the notebooks with the
same ``store_path``, ``as_of`` and ``run_dir``: step by step as the file's ``steps`` says,
the notebooks of one step at the same time (each its own kernel, in its own process:
papermill is process-safe, not thread-safe), and in the file's order when it says nothing.
Each executed notebook is also exported as an HTML page with the code hidden, and an
index page links them.

The run is atomic: everything is written into ``<out>/.<as_of>.partial`` and renamed to
``<out>/<as_of>`` at the end. A failed run leaves the previous folder untouched, keeps
the partial one as ``<out>/.<as_of>.failed`` for inspection, and raises
:class:`RunError` naming the notebook and the cell that failed.
"""

from __future__ import annotations

import html
import json
import multiprocessing
import shutil
import sys
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import papermill
import yaml

from restock import config
from restock.notebook import read_records, resolve
from restock.store import Store

__all__ = ["RunConfig", "RunError", "load_run_config", "run"]

_POOL_CONTEXT = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")

RUN_PARAMETERS = ("store_path", "as_of", "run_dir")
"""Set by the runner for every notebook; not allowed in a notebook's section."""


class RunError(RuntimeError):
    """A batch run failed; the message names the notebook and cell."""


@dataclass(frozen=True)
class RunConfig:
    """The parameter file, validated."""

    path: Path
    store_path: str
    out_dir: str
    notebooks: dict[str, dict]
    steps: tuple[tuple[str, ...], ...]


def load_run_config(path: str | Path = config.DEFAULT_CONFIG) -> RunConfig:
    """Read and validate the batch parameter file.

    Every notebook section's keys must be parameters of that notebook.

    Raises:
        ValueError: naming the file, the notebook and the unknown or malformed entry.
    """
    path = resolve(path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    allowed = {"store_path", "out_dir", "notebooks", "steps"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ValueError(f"{path}: unknown top-level keys {unknown}; allowed: {sorted(allowed)}")
    notebooks = raw.get("notebooks") or {}
    if not isinstance(notebooks, dict) or not notebooks:
        raise ValueError(f"{path}: 'notebooks' must map notebook names to their parameters")
    for name, params in notebooks.items():
        params = params or {}
        notebooks[name] = params
        nb_path = config.NOTEBOOKS_DIR / f"{name}.ipynb"
        if not nb_path.exists():
            raise ValueError(f"{path}: notebook '{name}' not found at {nb_path}")
        declared = papermill.inspect_notebook(str(nb_path))
        reserved = sorted(set(params) & set(RUN_PARAMETERS))
        if reserved:
            raise ValueError(f"{path}: {name}: {reserved} are set by the runner, not per notebook")
        unknown = sorted(set(params) - set(declared))
        if unknown:
            raise ValueError(
                f"{path}: {name}: unknown parameters {unknown}; "
                f"the notebook declares {sorted(declared)}"
            )
    return RunConfig(
        path=path,
        store_path=str(raw.get("store_path", config.DEFAULT_STORE)),
        out_dir=str(raw.get("out_dir", config.REPORTS_DIR)),
        notebooks=notebooks,
        steps=_steps(path, raw.get("steps"), list(notebooks)),
    )


def _steps(path: Path, raw, notebooks: list[str]) -> tuple[tuple[str, ...], ...]:
    """The ``steps`` entry: a list of lists of notebook names naming each notebook once.

    Absent, every notebook is a step of its own, in the file's order.
    """
    if raw is None:
        return tuple((name,) for name in notebooks)
    if not isinstance(raw, list) or not all(isinstance(step, list) and step for step in raw):
        raise ValueError(f"{path}: 'steps' must be a list of non-empty lists of notebook names; got {raw!r}")
    named = [name for step in raw for name in step]
    unknown = sorted(set(named) - set(notebooks))
    if unknown:
        raise ValueError(f"{path}: steps name {unknown}, which are not under 'notebooks'")
    twice = sorted({name for name in named if named.count(name) > 1})
    missing = [name for name in notebooks if name not in named]
    if twice or missing:
        raise ValueError(f"{path}: steps must name every notebook once; twice: {twice}, missing: {missing}")
    return tuple(tuple(step) for step in raw)


def _source_cell_number(executed: Path, exec_count: int) -> int:
    """The 1-based number, in the source notebook, of the cell that ran as ``exec_count``.

    papermill adds an ``injected-parameters`` cell and error banners to the executed copy;
    the analyst's notebook has neither, so they are not counted.
    """
    added = {"injected-parameters", "papermill-error-cell-tag"}
    cells = [
        c for c in json.loads(executed.read_text(encoding="utf-8"))["cells"]
        if not added & set(c.get("metadata", {}).get("tags", []))
    ]
    return next(i for i, c in enumerate(cells, start=1) if c.get("execution_count") == exec_count)


def _export_html(executed: Path, target: Path, title: str) -> None:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    with warnings.catch_warnings():  # recorded figures have no HTML form, on purpose
        warnings.filterwarnings("ignore", message="Your element with mimetype")
        body, _ = exporter.from_filename(str(executed), resources={"metadata": {"name": title}})
    target.write_text(body, encoding="utf-8")


def _index_html(as_of: str, is_demo: bool, rows: list[dict], files: list[str], figures: dict) -> str:
    esc = html.escape
    demo = (
        '<p class="demo"><strong>DEMO DATA</strong> — generated by <code>restock demo</code>, '
        "not a real shop.</p>"
        if is_demo
        else ""
    )
    pages = "".join(
        f'<tr><td><a href="{esc(r["html"])}">{esc(r["notebook"])}</a></td>'
        f'<td>{r["seconds"]:.1f} s</td></tr>'
        for r in rows
    )
    downloads = "".join(f'<li><a href="{esc(f)}">{esc(f)}</a></li>' for f in files)
    figs = "".join(
        f"<tr><td>{esc(str(k))}</td><td>{esc(str(v))}</td></tr>" for k, v in sorted(figures.items())
    )
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>restock — {esc(as_of)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:60em}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left}}
.demo{{background:#ffe699;padding:.6em}}</style></head>
<body><h1>restock weekly run · as of {esc(as_of)}</h1>{demo}
<h2>Reports</h2><table><tr><th>notebook</th><th>time</th></tr>{pages}</table>
<h2>Files</h2><ul>{downloads}</ul>
<h2>Key figures</h2><table><tr><th>figure</th><th>value</th></tr>{figs}</table>
</body></html>
"""


def _execute(name: str, parameters: dict, run_dir: str, notebooks_dir: str) -> dict:
    """Execute one notebook into ``<run_dir>/notebooks`` and export its page (a process-pool task).

    Returns its timings, and ``error``: None, or the message naming the notebook and the
    cell as numbered in the source notebook.
    """
    executed = Path(run_dir) / "notebooks" / f"{name}.ipynb"
    t0 = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(Path(notebooks_dir) / f"{name}.ipynb"),
            str(executed),
            parameters=parameters,
            kernel_name="python3",
            cwd=notebooks_dir,
            progress_bar=False,
        )
    except Exception as exc:  # a cell's error, or the kernel itself dying (e.g. out of memory)
        if isinstance(exc, papermill.PapermillExecutionError):
            where = f"in cell {_source_cell_number(executed, exc.exec_count)}: {exc.ename}: {exc.evalue}"
        else:
            where = f"because its kernel stopped: {type(exc).__name__}: {exc} (out of memory?)"
        return {"notebook": name, "error": f"notebook {name}.ipynb failed {where}"}
    t1 = time.perf_counter()
    _export_html(executed, Path(run_dir) / f"{name}.html", name)
    seconds = time.perf_counter() - t0
    return {"notebook": name, "html": f"{name}.html", "seconds": seconds, "execute_seconds": t1 - t0,
            "html_seconds": seconds - (t1 - t0), "error": None}


def run(
    config_path: str | Path = config.DEFAULT_CONFIG,
    *,
    as_of: str | None = None,
    store_path: str | Path | None = None,
    out_dir: str | Path | None = None,
    echo: Callable[[str], None] = print,
) -> Path:
    """Run the weekly batch and return the finished run folder ``<out>/<as_of>``.

    Args:
        config_path: the parameter file.
        as_of: ``YYYY-MM-DD``; default the latest order date in the store.
        store_path: overrides the parameter file's store.
        out_dir: overrides the parameter file's output folder.
        echo: where progress lines go.

    Raises:
        ValueError: a bad parameter file or store.
        RunError: a notebook failed (the previous run folder is left as it was).
    """
    cfg = load_run_config(config_path)
    store_file = resolve(store_path or cfg.store_path)
    if not store_file.exists():
        raise ValueError(f"store {store_file} does not exist; run `restock intake` first")
    with Store(store_file, read_only=True) as store:
        latest = store.latest_date()
        is_demo = store.is_demo()
    if as_of is None:
        if latest is None:
            raise ValueError(f"store {store_file} holds no orders; nothing to run")
        as_of = f"{latest:%Y-%m-%d}"
    out = resolve(out_dir or cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    final, partial, failed = out / as_of, out / f".{as_of}.partial", out / f".{as_of}.failed"
    for stale in (partial, failed):
        shutil.rmtree(stale, ignore_errors=True)
    (partial / "notebooks").mkdir(parents=True)
    log_lines: list[str] = []

    def log(line: str) -> None:
        log_lines.append(line)
        (partial / "run.log").write_text("\n".join(log_lines) + "\n", encoding="utf-8")
        echo(line)

    log(f"restock run · as of {as_of} · store {store_file} · config {cfg.path}"
        + (" · DEMO DATA" if is_demo else ""))
    rows, figures, started = {}, {}, time.perf_counter()
    for step in cfg.steps:
        jobs = [
            (name, {**cfg.notebooks[name], "store_path": str(store_file), "as_of": as_of, "run_dir": str(partial)},
             str(partial), str(config.NOTEBOOKS_DIR))
            for name in step
        ]
        # one process per notebook (papermill's chdir into cwd is not thread-safe), forked so it
        # starts with papermill already imported (2 s per process when spawned); this process
        # itself never talks to a kernel, so no ZeroMQ context is forked
        with ProcessPoolExecutor(len(jobs), mp_context=_POOL_CONTEXT) as pool:
            results = list(pool.map(_execute, *zip(*jobs)))
        for row in results:
            name = row.pop("notebook")
            if row["error"]:
                log(row["error"])
                partial.rename(failed)
                raise RunError(f"{row['error']}\nexecuted notebook kept at {failed / 'notebooks' / f'{name}.ipynb'}")
            figures.update({f"{name}.{k}": v for k, v in read_records(partial / "notebooks" / f"{name}.ipynb").items()})
            rows[name] = {"notebook": name, **{k: v for k, v in row.items() if k != "error"}}
            log(f"[{len(rows)}/{len(cfg.notebooks)}] {name} · {row['seconds']:.1f} s")
    rows = [rows[name] for name in cfg.notebooks]
    files = sorted(p.relative_to(partial).as_posix() for p in partial.glob("*.xlsx"))
    files += sorted(p.relative_to(partial).as_posix() for p in (partial / "data").glob("*.parquet"))
    timings = {"as_of": as_of, "total_seconds": time.perf_counter() - started, "notebooks": rows}
    (partial / "timings.json").write_text(json.dumps(timings, indent=2), encoding="utf-8")
    (partial / "figures.json").write_text(json.dumps(figures, indent=2, ensure_ascii=False), encoding="utf-8")
    (partial / "index.html").write_text(_index_html(as_of, is_demo, rows, files, figures), encoding="utf-8")
    log(f"done in {time.perf_counter() - started:.1f} s → {final}")
    previous = out / f".{as_of}.previous"
    if final.exists():
        final.rename(previous)
    partial.rename(final)
    shutil.rmtree(previous, ignore_errors=True)
    return final
