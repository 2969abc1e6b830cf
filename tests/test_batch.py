"""The papermill runner: parameter checks, atomic run folders, failure reporting.

These tests use two tiny notebooks in a temporary notebooks folder and a one-order store,
so they exercise the runner itself; tests/test_end_to_end.py runs the real notebooks.
"""

import json

import nbformat
import pandas as pd
import pytest
import yaml

from restock import batch, config
from restock.schema import conform
from restock.store import Store


def _notebook(path, body):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(
        'store_path: str = ""  # the store\n'
        'as_of: str = ""  # the day\n'
        'run_dir: str = ""  # the run folder\n'
        "fail: bool = False  # raise in the second cell"
    )
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture
def project(tmp_path, monkeypatch):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    _notebook(
        notebooks / "a_first.ipynb",
        "from restock import notebook as nb\n"
        "ctx = nb.open_run(store_path, as_of, run_dir)\n"
        "if fail:\n    raise ValueError('horizon_days must be > 0; got -1')\n"
        "import pandas as pd\n"
        "ctx.save('first', pd.DataFrame({'x': [1]}))\n"
        "ctx.record('as_of_seen', str(ctx.as_of.date()))",
    )
    _notebook(
        notebooks / "b_second.ipynb",
        "import pandas as pd\n"
        "print('<script>alert(1)</script>')\n"
        "pd.DataFrame({'name': ['<script>alert(2)</script>', '=HYPERLINK(\"http://x\",\"y\")']})",
    )
    monkeypatch.setattr(config, "NOTEBOOKS_DIR", notebooks)
    store_path = tmp_path / "store.duckdb"
    line = pd.DataFrame(
        {
            "platform": ["douyin"], "shop": ["s"], "order_id": ["o1"], "line_id": ["l1"], "sku": ["A"],
            "qty": [1], "created_at": [pd.Timestamp("2026-03-05 10:00")], "status": ["completed"],
        }
    )
    with Store(store_path) as store:
        store.upsert("order_lines", conform(line, "order_lines"))
    cfg = tmp_path / "weekly.yaml"
    cfg.write_text(yaml.safe_dump({"store_path": str(store_path), "out_dir": str(tmp_path / "out"),
                                   "notebooks": {"a_first": {}, "b_second": {}}}))
    return tmp_path, cfg


def test_unknown_parameter_is_refused_with_the_notebook_named(project):
    tmp_path, cfg = project
    raw = yaml.safe_load(cfg.read_text())
    raw["notebooks"]["b_second"] = {"horizon": 3}
    cfg.write_text(yaml.safe_dump(raw))
    with pytest.raises(ValueError, match=r"b_second: unknown parameters \['horizon'\]"):
        batch.load_run_config(cfg)


def test_runner_parameters_cannot_be_set_per_notebook(project):
    tmp_path, cfg = project
    raw = yaml.safe_load(cfg.read_text())
    raw["notebooks"]["a_first"] = {"as_of": "2026-01-01"}
    cfg.write_text(yaml.safe_dump(raw))
    with pytest.raises(ValueError, match="set by the runner"):
        batch.load_run_config(cfg)


def test_run_writes_dated_folder_with_pages_index_log_and_figures(project):
    tmp_path, cfg = project
    lines = []
    final = batch.run(cfg, echo=lines.append)
    assert final == tmp_path / "out" / "2026-03-05"  # as_of defaults to the latest order day
    names = {p.name for p in final.iterdir()}
    assert {"a_first.html", "b_second.html", "index.html", "run.log", "figures.json", "notebooks", "data"} <= names
    assert json.loads((final / "figures.json").read_text())["a_first.as_of_seen"] == "2026-03-05"
    page = (final / "b_second.html").read_text()
    assert "print(" not in page  # code hidden
    assert "<script>alert(1)</script>" not in page  # printed text escaped
    assert "<script>alert(2)</script>" not in page and "&lt;script&gt;alert(2)" in page  # table cells too
    assert any("[2/2] b_second" in line for line in lines)
    assert not list((tmp_path / "out").glob(".*"))  # no partial folder left behind


def test_failed_run_keeps_previous_folder_and_names_notebook_and_cell(project):
    tmp_path, cfg = project
    final = batch.run(cfg, echo=lambda _: None)
    before = sorted(p.relative_to(final).as_posix() for p in final.rglob("*"))
    stamp = (final / "index.html").stat().st_mtime_ns
    raw = yaml.safe_load(cfg.read_text())
    raw["notebooks"]["a_first"] = {"fail": True}
    cfg.write_text(yaml.safe_dump(raw))
    with pytest.raises(batch.RunError, match=r"a_first\.ipynb failed in cell 2: ValueError: horizon_days must be > 0"):
        batch.run(cfg, echo=lambda _: None)
    assert sorted(p.relative_to(final).as_posix() for p in final.rglob("*")) == before
    assert (final / "index.html").stat().st_mtime_ns == stamp
    assert (tmp_path / "out" / ".2026-03-05.failed" / "run.log").exists()


def test_a_dying_kernel_fails_the_run_cleanly(project):
    tmp_path, cfg = project
    _notebook(config.NOTEBOOKS_DIR / "c_dies.ipynb", "import os\nos._exit(1)  # as the OOM killer would")
    raw = yaml.safe_load(cfg.read_text())
    raw["notebooks"]["c_dies"] = {}
    cfg.write_text(yaml.safe_dump(raw))
    with pytest.raises(batch.RunError, match=r"c_dies\.ipynb failed because its kernel stopped: DeadKernelError"):
        batch.run(cfg, echo=lambda _: None)
    assert not (tmp_path / "out" / "2026-03-05").exists()
    assert (tmp_path / "out" / ".2026-03-05.failed" / "a_first.html").exists()


def test_notebooks_of_one_step_run_together_and_pages_keep_the_file_order(project):
    tmp_path, cfg = project
    _notebook(config.NOTEBOOKS_DIR / "c_third.ipynb",
              "from restock import notebook as nb\nctx = nb.open_run(store_path, as_of, run_dir)\nctx.record('third', 3)")
    raw = yaml.safe_load(cfg.read_text())
    raw["notebooks"]["c_third"] = {}
    raw["steps"] = [["a_first"], ["c_third", "b_second"]]
    cfg.write_text(yaml.safe_dump(raw))
    lines = []
    final = batch.run(cfg, echo=lines.append)
    timings = json.loads((final / "timings.json").read_text())
    assert [n["notebook"] for n in timings["notebooks"]] == ["a_first", "b_second", "c_third"]
    assert json.loads((final / "figures.json").read_text())["c_third.third"] == 3
    assert lines[1].startswith("[1/3] a_first")
    index = (final / "index.html").read_text()
    assert index.index("b_second.html") < index.index("c_third.html")


def test_a_failing_notebook_in_a_parallel_step_fails_the_run(project):
    tmp_path, cfg = project
    raw = yaml.safe_load(cfg.read_text())
    raw["notebooks"]["a_first"] = {"fail": True}
    raw["steps"] = [["a_first", "b_second"]]
    cfg.write_text(yaml.safe_dump(raw))
    with pytest.raises(batch.RunError, match=r"a_first\.ipynb failed in cell 2: ValueError"):
        batch.run(cfg, echo=lambda _: None)
    assert not (tmp_path / "out" / "2026-03-05").exists()


@pytest.mark.parametrize(
    "steps, message",
    [
        ([["a_first"]], r"missing: \['b_second'\]"),
        ([["a_first", "b_second"], ["a_first"]], r"twice: \['a_first'\]"),
        ([["a_first", "b_second", "zz"]], r"steps name \['zz'\]"),
        (["a_first"], "must be a list of non-empty lists"),
    ],
)
def test_steps_must_name_every_notebook_once(project, steps, message):
    _, cfg = project
    raw = yaml.safe_load(cfg.read_text())
    raw["steps"] = steps
    cfg.write_text(yaml.safe_dump(raw))
    with pytest.raises(ValueError, match=message):
        batch.load_run_config(cfg)
