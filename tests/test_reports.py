"""reports/run_chapters.py: the parts that do not need a chapter run."""

import importlib.util
import json
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


def test_a_run_stopped_midway_keeps_the_chapters_it_measured(tmp_path, monkeypatch):
    (tmp_path / "reports").mkdir()
    chapters = [tmp_path / f"{name}.ipynb" for name in ("01_first", "02_second", "03_third")]

    def run_chapter(path, fast, timeout):
        if path.stem == "03_third":
            raise KeyboardInterrupt  # the machine's time ran out during the third chapter
        return {"passed": True, "wall_s": 1.0, "cpu_s": 1.0, "pytest": "1 passed"}

    monkeypatch.setattr(run_chapters, "ROOT", tmp_path)
    monkeypatch.setattr(run_chapters, "run_chapter", run_chapter)
    monkeypatch.setattr("sys.argv", ["run_chapters.py", *map(str, chapters)])
    try:
        run_chapters.main()
    except KeyboardInterrupt:
        pass
    report = json.loads(next((tmp_path / "reports").glob("*-default.json")).read_text())
    assert list(report["chapters"]) == ["01_first", "02_second"]
    assert [p.name for p in (tmp_path / "reports").iterdir()] == [f"{report['label']}.json"]


def test_failed_cells_name_the_cell_and_its_error(tmp_path):
    failing = tmp_path / "chapter.ipynb"  # its second code cell fails; nbval goes on to the third
    cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_markdown_cell("text"),
             nbformat.v4.new_code_cell("import math\nassert x == 2, 'the second cell fails on purpose'"),
             nbformat.v4.new_code_cell("y = 3")]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), failing)
    output = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "-q", "-p", "no:cacheprovider",
                             str(failing)], capture_output=True, text=True, cwd=tmp_path).stdout
    assert "1 failed, 2 passed" in output
    assert run_chapters.failed_cells(output, failing) == [
        "code cell 1: import math -> AssertionError: the second cell fails on purpose"]
    assert run_chapters.failed_cells("3 passed in 1.0s\n", failing) == []
