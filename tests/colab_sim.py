"""A simulated Colab: run chapters alone in a fresh environment with another torch.

The environment is a new virtual environment with a DIFFERENT preinstalled torch
(PyPI's CUDA build of torch 2.13.0, as Colab has a CUDA build; torchvision 0.28.0;
numpy 2.2.6) and the usual scientific packages, but without `course_utils` and its lighter requirements,
like a Colab runtime. Each chapter is copied alone into an empty folder and
executed there; its install cell must install `course_utils` (from
`COURSE_UTILS_SOURCE`, here a `git+file://` clone of this repository, since the
test has no GitHub) without changing torch, torchvision or numpy. Between two
chapters everything that the previous one installed is removed again.

    python tests/colab_sim.py [--venv DIR] [--fast] [--report FILE] [CHAPTER.ipynb ...]

Prints one line per chapter and exits 1 if a chapter failed or a pinned
version changed. The environment is kept in --venv (built once, minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PREINSTALLED = ["torch==2.13.0", "torchvision==0.28.0", "numpy==2.2.6", "pandas", "matplotlib",
                "scikit-learn", "scipy", "ipykernel", "nbclient", "nbformat"]
KEPT = ("torch", "torchvision", "numpy")
DEFAULT_VENV = ROOT / "build" / "colab-sim" / "venv"

_RUN_NOTEBOOK = """
import sys, time, nbformat
from nbclient import NotebookClient
path = sys.argv[1]
notebook = nbformat.read(path, as_version=4)
client = NotebookClient(notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": "."}})
start = time.perf_counter()
try:
    client.execute()
finally:
    nbformat.write(notebook, path)
    print(f"executed in {time.perf_counter() - start:.1f} s")
"""


def _python(venv: Path) -> Path:
    return venv / "bin" / "python"


def build_venv(venv: Path) -> None:
    """Create the Colab-like environment once (a marker file records what was installed)."""
    marker = venv / "colab-sim.json"
    if marker.exists() and json.loads(marker.read_text()) == PREINSTALLED:
        return
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    # --isolated: straight from the package index, ignoring local wheel folders that hold other builds
    subprocess.run([str(_python(venv)), "-m", "pip", "install", "--isolated", "--quiet", *PREINSTALLED], check=True)
    marker.write_text(json.dumps(PREINSTALLED))


def freeze(venv: Path) -> dict[str, str]:
    out = subprocess.run([str(_python(venv)), "-m", "pip", "list", "--format=json"], check=True,
                         capture_output=True, text=True).stdout
    return {entry["name"].lower(): entry["version"] for entry in json.loads(out)}


def restore(venv: Path, base: dict[str, str]) -> list[str]:
    """Uninstall what was added since `base` (course_utils and the packages it brought)."""
    added = sorted(set(freeze(venv)) - set(base))
    if added:
        subprocess.run([str(_python(venv)), "-m", "pip", "uninstall", "--quiet", "-y", *added], check=True)
    return added


def run_chapter(venv: Path, notebook: Path, source: str, fast: bool, workdir: Path) -> dict:
    """Copy `notebook` alone into an empty folder and execute it there with the venv's kernel."""
    folder = workdir / notebook.stem
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "home").mkdir(parents=True)
    import nbformat  # the test's own environment prepares and reads the copy

    from course_utils.bookhome import _with_install_cell, load_home
    copy = nbformat.read(notebook, as_version=4)
    added = _with_install_cell(copy, load_home(ROOT))  # a chapter not yet synced gets the current cell
    nbformat.write(copy, folder / notebook.name)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("COURSE_", "PYTHON", "VIRTUAL_ENV", "JUPYTER"))}
    env.update(HOME=str(folder / "home"), COURSE_UTILS_SOURCE=source, COURSE_OFFLINE="1",
               PIP_CACHE_DIR=os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip")),
               PATH=f"{venv / 'bin'}:{env.get('PATH', '')}", MPLBACKEND="Agg")
    if fast:
        env["COURSE_FAST"] = "1"
    start = time.perf_counter()
    proc = subprocess.run([str(_python(venv)), "-c", _RUN_NOTEBOOK, notebook.name], cwd=folder, env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    executed = nbformat.read(folder / notebook.name, as_version=4)
    install = next((cell for cell in executed.cells if "install" in cell.metadata.get("tags", [])), None)
    install_text = "".join(out.get("text", "") for out in (install.outputs if install else []))
    timing = install.metadata.get("execution", {}) if install else {}
    seconds = None
    if "iopub.execute_input" in timing and "shell.execute_reply" in timing:  # recorded by nbclient
        start_cell, end_cell = (datetime.fromisoformat(timing[key].replace("Z", "+00:00"))
                                for key in ("iopub.execute_input", "shell.execute_reply"))
        seconds = round((end_cell - start_cell).total_seconds(), 1)
    return {"chapter": notebook.name, "ok": proc.returncode == 0, "wall_s": round(wall, 1),
            "install_cell_added": added, "installed": "Installed." in install_text,
            "install_s": seconds,
            "data_folder": next(iter(re.findall(r"Data folder: (\S+)", install_text)), None),
            "error": proc.stderr[-3000:] if proc.returncode else ""}


def simulate(notebooks: list[Path], venv: Path = DEFAULT_VENV, fast: bool = True,
             repo: Path = ROOT) -> tuple[list[dict], dict[str, str], dict[str, str]]:
    """Run each notebook alone; return (results, versions before, versions after) of the kept packages."""
    build_venv(venv)
    # a run that was killed may have left course_utils behind: the chapters must install it themselves
    subprocess.run([str(_python(venv)), "-m", "pip", "uninstall", "--quiet", "-y", "course-utils"],
                   capture_output=True)
    base = freeze(venv)
    before = {name: base[name] for name in KEPT}
    results = []
    with tempfile.TemporaryDirectory(prefix="colab_sim_") as workdir:
        clone = Path(workdir) / "book"  # committed state only, as GitHub would serve it
        subprocess.run(["git", "clone", "--quiet", str(repo), str(clone)], check=True)
        source = f"course-utils @ git+file://localhost{clone}"  # old pips need a host
        for notebook in notebooks:
            result = run_chapter(venv, notebook, source, fast, Path(workdir))
            after_chapter = freeze(venv)
            result["kept"] = all(after_chapter.get(name) == before[name] for name in KEPT)
            result["added"] = restore(venv, base)
            results.append(result)
            print(f"{'ok    ' if result['ok'] and result['kept'] else 'FAILED'} {notebook.name}: "
                  f"{result['wall_s']} s, install cell {result['install_s']} s, torch kept: {result['kept']}"
                  + (f"\n{result['error']}" if result["error"] else ""), flush=True)
    after = {name: freeze(venv).get(name) for name in KEPT}
    return results, before, after


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--fast", action="store_true", help="COURSE_FAST=1")
    parser.add_argument("--report", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    notebooks = args.notebooks or sorted((ROOT / "chapters").glob("*.ipynb"))
    results, before, after = simulate(notebooks, args.venv, args.fast)
    if args.report:
        args.report.write_text(json.dumps({"before": before, "after": after, "results": results}, indent=1))
    print(f"versions before {before}, after {after}")
    return 0 if before == after and all(r["ok"] and r["kept"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
