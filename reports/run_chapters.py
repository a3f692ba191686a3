"""Execute every chapter the way CI does (pytest + nbval) and write a timing/results report.

Each chapter runs in its own pytest process with COURSE_METRICS_DIR set, so
the key results it records (course_utils.record_results) land in the report
next to its wall time, device and versions. The book's status page reads the
reports in this folder.

    python reports/run_chapters.py --fast      # FAST mode: writes cpu-fast.json (gpu-fast.json on a GPU)
    python reports/run_chapters.py             # the real lesson: cpu-default.json or gpu-default.json

The report's name follows from the device and the mode, so a GPU run can never
overwrite a CPU report. On a machine shared with other programs, OMP_WAIT_POLICY=PASSIVE
keeps waiting OpenMP threads from spinning, which otherwise inflates both wall and CPU
time; each chapter's entry records the policy it ran with. Each entry also lists the
chapter's slowest cells (pytest's --durations), so a report shows where the time goes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from course_utils import describe_device

ROOT = Path(__file__).resolve().parents[1]
SLOWEST_CELLS = 8  # listed per chapter, if they took at least a second
# a line of pytest's durations: "12.34s call     chapters/x.ipynb::Cell 7" (the 8th code cell)
DURATION = re.compile(r"^\s*([\d.]+)s call\s+\S+::Cell (\d+)\s*$")
FAILED = re.compile(r"^FAILED \S+::Cell (\d+)", re.MULTILINE)  # pytest's short summary
SECTION = re.compile(r"^_{3,} \S+::Cell (\d+) _{3,}$", re.MULTILINE)
ERROR = re.compile(r"^\w*(Error|Exception|Interrupt|Exit)\b")  # "AssertionError: ..." ends a traceback
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # nbval colours its tracebacks


def _code_cell_names(path: Path) -> list[str]:
    """"code cell 7: <its first line>" for every code cell (pytest's "Cell 7" is the 8th code cell)."""
    names = []
    for index, cell in enumerate(c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"):
        source = "".join(cell["source"]).strip()
        names.append(f"code cell {index}: {source.splitlines()[0][:60] if source else ''}")
    return names


def slowest_cells(pytest_output: str, path: Path) -> list[list]:
    """[[seconds, first line of the code cell], ...] from pytest's --durations lines."""
    names = _code_cell_names(path)
    return [[float(match.group(1)), names[int(match.group(2))]]
            for match in map(DURATION.match, pytest_output.splitlines())
            if match and int(match.group(2)) < len(names)]


def failed_cells(pytest_output: str, path: Path) -> list[str]:
    """The failed code cells, each with why it failed (the error's last line, or nbval's reason
    such as a timeout), from pytest's report of a chapter run."""
    names, text = _code_cell_names(path), ANSI.sub("", pytest_output)
    # the report of each failure starts with a line "____ chapter.ipynb::Cell 7 ____"
    parts = SECTION.split(text)
    sections = {int(index): body for index, body in zip(parts[1::2], parts[2::2])}
    failed = []
    for match in FAILED.finditer(text):
        index = int(match.group(1))
        body = sections.get(index, "").split("\n=====")[0]  # the summary follows the last section
        reason = re.search(rf"^Cell {index}: (.*)$", body, re.MULTILINE)
        errors = [line.strip() for line in body.splitlines() if ERROR.match(line)]
        if reason and reason.group(1) != "Cell execution caused an exception":
            why = reason.group(1)  # e.g. "Timeout of 200 seconds exceeded executing cell"
        else:
            why = errors[-1] if errors else ""
        name = names[index] if index < len(names) else f"code cell {index}"
        failed.append(f"{name} -> {why[:200]}" if why else name)
    return failed


def source_commit() -> str | None:
    """The commit the chapters run at: the COMMIT file of an exported tree (`git archive`, which
    may sit inside another checkout), else git's HEAD ("+changes" when the chapters or the package
    differ from it), else None."""
    exported = ROOT / "COMMIT"
    if exported.exists():
        return exported.read_text().strip()
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--", "chapters", "course_utils"],
                                 cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        return head + ("+changes" if changed else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def host_python_seconds() -> float:
    """Seconds this machine takes for a fixed piece of pure Python (best of three runs).

    A gauge of the host, not of the chapter: a chapter that launches many small GPU operations
    waits on Python, so a slow or busy host slows it down on any GPU. Time spent outside Python,
    such as reading libraries from a slow disk, does not show in it."""
    def work() -> float:
        total = 0.0
        for i in range(1_000_000):
            total += i * 0.5
        return total

    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return round(best, 3)


def bytecode_note() -> str | None:
    """A warning when this run's Python must compile every module it imports, every time.

    With PYTHONPYCACHEPREFIX set, Python ignores the bytecode files installed beside the
    libraries and looks in that folder; with PYTHONDONTWRITEBYTECODE also set, it never writes
    there either. Every import in every chapter then compiles from source: on the book's CPU
    that added 7 s to chapter 0 and 8 s to chapter 8. Such times are not a reader's times."""
    if os.environ.get("PYTHONPYCACHEPREFIX") and os.environ.get("PYTHONDONTWRITEBYTECODE"):
        return ("PYTHONPYCACHEPREFIX and PYTHONDONTWRITEBYTECODE were both set: Python compiled "
                "every imported module from source, every time, so these times include that cost; "
                "unset PYTHONPYCACHEPREFIX to measure what a reader sees.")
    return None


def host_import_seconds() -> float:
    """Seconds a fresh Python process takes to start and import torch (best of two runs).

    The gauge's other half: every chapter starts a kernel that imports torch and more, so a host
    that reads its libraries slowly (a network or layered file system) adds seconds to every
    chapter, which host_python_seconds does not show. Measured once per run."""
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch"], cwd=ROOT, check=True)
        best = min(best, time.perf_counter() - start)
    return round(best, 2)


def run_chapter(path: Path, fast: bool, timeout: int) -> dict:
    with tempfile.TemporaryDirectory() as metrics_dir:
        env = dict(os.environ, COURSE_METRICS_DIR=metrics_dir)
        env.setdefault("COURSE_PROGRESS", "0")  # no progress bars, as under `make report`
        env.pop("COURSE_FAST", None)
        if fast:
            env["COURSE_FAST"] = "1"
        command = [sys.executable, "-m", "pytest", "--nbval-lax", "-q", "-p", "no:cacheprovider",
                   f"--nbval-cell-timeout={timeout}", f"--durations={SLOWEST_CELLS}", "--durations-min=1.0",
                   str(path)]
        load = os.getloadavg()[0]  # other programs running: wall time is then inflated
        host = host_python_seconds()
        start, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
        # CPU time of pytest and the notebook's kernel: unlike wall time, it hardly grows when
        # other programs share the machine, so it bounds the wall time of a quiet machine.
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        recorded = {}
        for result_file in Path(metrics_dir).glob("*.json"):
            recorded.update(json.loads(result_file.read_text())["results"])
    summary = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
    return {"passed": done.returncode == 0, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "load": round(load, 1),
            "host_python_s": host, "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
            "pytest": summary, "slowest_cells": slowest_cells(done.stdout, path),
            "failed_cells": failed_cells(done.stdout, path), "results": recorded}


def write_report(report: dict, target: Path) -> None:
    """Write the report with its chapters in order, replacing the file in one step."""
    report = {**report, "chapters": dict(sorted(report["chapters"].items()))}
    fd, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(report, indent=2, sort_keys=True) + "\n")
        os.replace(partial, target)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fast", action="store_true", help="run with COURSE_FAST=1")
    parser.add_argument("--timeout", type=int, default=900, help="seconds allowed per cell")
    parser.add_argument("--merge", action="store_true",
                        help="keep the other chapters of an existing report of this label (a run in parts); "
                             "without it the report holds only the chapters of this run, once the run ends")
    parser.add_argument("chapters", nargs="*", type=Path, help="notebooks (default: chapters/*.ipynb)")
    args = parser.parse_args()
    notebooks = args.chapters or sorted((ROOT / "chapters").glob("*.ipynb"))
    label = f"{'gpu' if torch.cuda.is_available() else 'cpu'}-{'fast' if args.fast else 'default'}"
    report = {
        "label": label, "fast": args.fast, "date": time.strftime("%Y-%m-%d"),
        "device": describe_device(),
        "python": platform.python_version(), "torch": torch.__version__, "chapters": {},
        "load_average_at_start": round(os.getloadavg()[0], 1),
    }
    note = bytecode_note()
    if note:
        report["note"] = note
        print(f"warning: {note}", file=sys.stderr)
    target = ROOT / "reports" / f"{label}.json"
    earlier = {}  # the chapters of an existing report, each with its own date
    if target.exists():
        previous = json.loads(target.read_text())
        earlier = {name: {**outcome, "date": outcome.get("date", previous["date"])}
                   for name, outcome in previous["chapters"].items()}
    commit, measured = source_commit(), {}
    import_s = host_import_seconds()
    for path in notebooks:
        outcome = run_chapter(path.resolve(), args.fast, args.timeout)
        outcome["date"], outcome["host_import_s"] = report["date"], import_s
        if commit:
            outcome["commit"] = commit
        measured[path.stem] = outcome
        print(f"{path.stem:<40} {'ok ' if outcome['passed'] else 'FAIL'} {outcome['wall_s']:>7.1f} s wall "
              f"{outcome['cpu_s']:>7.1f} s CPU  {outcome['pytest']}", flush=True)
        # after every chapter, so that a run stopped midway keeps what it measured; until the run
        # ends, the chapters it has not reached keep their earlier entries
        write_report({**report, "chapters": {**earlier, **measured}}, target)
    report["chapters"] = {**earlier, **measured} if args.merge else measured
    write_report(report, target)
    print(f"wrote {target}")
    if not all(chapter["passed"] for chapter in report["chapters"].values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
