"""reports/run_chapters.py: the parts that do not need a chapter run."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("run_chapters", ROOT / "reports" / "run_chapters.py")
run_chapters = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_chapters)


def test_slowest_cells_name_the_code_cells_pytest_timed(tmp_path):
    notebook = tmp_path / "chapter.ipynb"
    cells = [{"cell_type": "markdown", "source": ["# Title"]},
             {"cell_type": "code", "source": ["import torch\n", "x = 1"]},
             {"cell_type": "markdown", "source": ["text"]},
             {"cell_type": "code", "source": ["\n", "train(model)  # long\n"]}]
    notebook.write_text(json.dumps({"cells": cells}))
    output = ("....\n============ slowest 8 durations ============\n"
              f"12.51s call     {notebook}::Cell 1\n"
              f"1.20s call     {notebook}::Cell 0\n"
              f"1.05s setup    {notebook}::Cell 0\n"
              "2 passed in 14.02s\n")
    assert run_chapters.slowest_cells(output, notebook) == [
        [12.51, "code cell 1: train(model)  # long"], [1.2, "code cell 0: import torch"]]
    assert run_chapters.slowest_cells("2 passed in 0.5s\n", notebook) == []


def test_source_commit_comes_from_git_or_from_an_exported_tree(tmp_path, monkeypatch):
    commit = run_chapters.source_commit()  # this checkout
    assert commit and all(c in "0123456789abcdef" for c in commit.removesuffix("+changes"))
    monkeypatch.setattr(run_chapters, "ROOT", tmp_path)  # no git here
    assert run_chapters.source_commit() is None
    (tmp_path / "COMMIT").write_text("6169542\n")
    assert run_chapters.source_commit() == "6169542"
    # an exported tree inside another checkout (the GPU machine): its COMMIT wins over git's HEAD
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    assert run_chapters.source_commit() == "6169542"


def _run_with_fake_chapters(tmp_path, monkeypatch, chapters, stop_at=None, merge=False):
    def run_chapter(path, fast, timeout):
        if path.stem == stop_at:
            raise KeyboardInterrupt  # e.g. the machine's time ran out during this chapter
        return {"passed": True, "wall_s": 1.0, "cpu_s": 1.0, "pytest": "1 passed"}

    monkeypatch.setattr(run_chapters, "ROOT", tmp_path)
    monkeypatch.setattr(run_chapters, "run_chapter", run_chapter)
    monkeypatch.setattr(run_chapters, "host_import_seconds", lambda: 0.5)
    notebooks = [str(tmp_path / f"{name}.ipynb") for name in chapters]
    monkeypatch.setattr("sys.argv", ["run_chapters.py", *(["--merge"] if merge else []), *notebooks])
    try:
        run_chapters.main()
    except KeyboardInterrupt:
        pass
    (report,) = (tmp_path / "reports").iterdir()  # and no temporary file left beside it
    return json.loads(report.read_text())


def test_a_run_stopped_midway_keeps_what_it_measured_and_loses_nothing(tmp_path, monkeypatch):
    (tmp_path / "reports").mkdir()
    old = {"passed": True, "wall_s": 9.0, "cpu_s": 9.0, "pytest": "1 passed", "date": "2026-01-01"}
    label = f"{'gpu' if run_chapters.torch.cuda.is_available() else 'cpu'}-default"
    (tmp_path / "reports" / f"{label}.json").write_text(json.dumps(
        {"date": "2026-01-01", "chapters": {name: old for name in ("01_a", "02_b", "03_c", "04_d")}}))
    report = _run_with_fake_chapters(tmp_path, monkeypatch, ["01_a", "02_b", "03_c"], stop_at="03_c")
    walls = {name: entry["wall_s"] for name, entry in report["chapters"].items()}
    assert walls == {"01_a": 1.0, "02_b": 1.0, "03_c": 9.0, "04_d": 9.0}  # new, new, kept, kept
    # each measured chapter carries the host's import gauge of its own run
    assert [entry.get("host_import_s") for entry in report["chapters"].values()] == [0.5, 0.5, None, None]
    # a run that ends holds only its own chapters, unless it merges
    report = _run_with_fake_chapters(tmp_path, monkeypatch, ["01_a", "02_b"])
    assert list(report["chapters"]) == ["01_a", "02_b"]
    report = _run_with_fake_chapters(tmp_path, monkeypatch, ["03_c"], merge=True)
    assert list(report["chapters"]) == ["01_a", "02_b", "03_c"]


def test_failed_cells_name_each_cell_and_why_it_failed(tmp_path):
    failing = tmp_path / "chapter.ipynb"
    cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_markdown_cell("text"),
             nbformat.v4.new_code_cell("import math\nassert x == 2, 'the second cell fails on purpose'"),
             nbformat.v4.new_code_cell("print(undefined_name)"),
             nbformat.v4.new_code_cell("import time\ntime.sleep(5)"),
             nbformat.v4.new_code_cell("y = 3")]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), failing)
    output = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "-q", "-p", "no:cacheprovider",
                             "--nbval-cell-timeout=2", str(failing)],
                            capture_output=True, text=True, cwd=tmp_path).stdout
    assert "3 failed" in output
    assert run_chapters.failed_cells(output, failing) == [
        "code cell 1: import math -> AssertionError: the second cell fails on purpose",
        "code cell 2: print(undefined_name) -> NameError: name 'undefined_name' is not defined",
        "code cell 3: import time -> Timeout of 2 seconds exceeded executing cell"]
    assert run_chapters.failed_cells("3 passed in 1.0s\n", failing) == []


def test_a_report_write_that_fails_midway_leaves_the_old_report_whole(tmp_path):
    target = tmp_path / "cpu-default.json"
    old = {"date": "2026-01-01", "chapters": {"01_a": {"wall_s": 9.0}}}
    run_chapters.write_report(old, target)
    before = target.read_text()
    # json cannot write a set: the failure comes after the file was opened
    broken = {"date": "2026-01-02", "chapters": {"01_a": {"wall_s": {1.0}}}}
    try:
        run_chapters.write_report(broken, target)
    except TypeError:
        pass
    else:
        raise AssertionError("write_report should have raised")
    assert target.read_text() == before
    assert json.loads(before)["chapters"]["01_a"]["wall_s"] == 9.0
    assert sorted(path.name for path in tmp_path.iterdir()) == [target.name]


def test_a_run_whose_python_compiles_every_import_says_so_in_its_report(tmp_path, monkeypatch):
    # The premise: with both variables set, Python writes no bytecode anywhere, so every
    # import compiles again (the prefix folder is never created).
    (tmp_path / "tiny_module.py").write_text("X = 1\n")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": str(tmp_path / "pyc"),
           "PYTHONPATH": str(tmp_path)}
    subprocess.run([sys.executable, "-c", "import tiny_module"], env=env, check=True)
    assert not (tmp_path / "pyc").exists() and not (tmp_path / "__pycache__").exists()

    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.setenv("PYTHONPYCACHEPREFIX", str(tmp_path / "pyc"))
    (tmp_path / "reports").mkdir()
    report = _run_with_fake_chapters(tmp_path, monkeypatch, ["a"])
    assert "compiled every imported module" in report["note"]
    monkeypatch.delenv("PYTHONPYCACHEPREFIX")
    assert "note" not in _run_with_fake_chapters(tmp_path, monkeypatch, ["a"])
