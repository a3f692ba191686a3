"""Grade a folder of submitted notebooks: one sandboxed process each, points decided here.

For each submission the grader builds the cells to run from the ASSIGNED
notebook: the locked cells as assigned, the student's exercise cells, and the
instructor's hidden checks. It starts `course_utils.grading.sandbox` in a new
process (fresh interpreter, COURSE_FAST=1, its own scratch folder as working
folder, memory, CPU-time and file-size limits) and sends it one cell at a time:
a hidden check is never on disk and never in that process before the student's
code above it has run. An exercise earns its points only when its hidden check
ran to the end without an error and answered with that cell's random nonce.
Edits to locked cells are reported and ignored.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course_utils.grading.assignment import Assignment
from course_utils.grading.report import Outcome, write_feedback, write_gradebook

__all__ = ["Limits", "grade_folder", "grade_notebook"]


@dataclass
class Limits:
    """Per-submission limits: wall time (s), memory (MiB of address space), printed characters per cell,
    file size (MiB), and how many submissions run at once."""

    wall_s: float = 300
    memory_mb: int = 8192
    output_chars: int = 1_000_000
    file_mb: int = 50
    jobs: int = 2


@dataclass
class _Run:
    outcomes: dict = field(default_factory=dict)  # exercise id -> (status, first error line)
    notes: list = field(default_factory=list)  # for the feedback file: tampering, setup errors
    pending: dict = field(default_factory=dict)  # exercise id -> its exercise cell's error, if any
    changed: list = field(default_factory=list)  # locked cells that differ from the assigned ones


def _whole(status: str, message: str, assignment: Assignment, run: _Run) -> _Run:
    for exercise in assignment.exercises:
        run.outcomes.setdefault(exercise.id, (status, message))
    return run


def _read(path: Path, assignment: Assignment, limits: Limits, run: _Run):
    """The submission as a notebook, or None (with every exercise's status set) when it cannot be graded."""
    size = path.stat().st_size
    if size > limits.file_mb * 2 ** 20:
        _whole("file too large", f"{size / 2 ** 20:.1f} MiB; the limit is {limits.file_mb} MiB "
               "(clear the outputs: Kernel > Restart & Clear Output, then save)", assignment, run)
        return None
    if size == 0:
        _whole("empty file", f"{path.name} has 0 bytes", assignment, run)
        return None
    try:
        notebook = nbformat.reads(path.read_bytes().decode("utf-8", errors="replace"), as_version=4)
        cells = [cell for cell in notebook.cells if isinstance(cell, dict) and "source" in cell]
    except Exception as error:  # nbformat raises many kinds for broken JSON
        _whole("invalid notebook", f"{type(error).__name__}: {str(error).splitlines()[0][:200]}", assignment, run)
        return None
    name = notebook.get("metadata", {}).get("course_grade", {}).get("assignment")
    ids = {cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") for cell in cells}
    if (name and name != assignment.name) or not (name or ids & {cell["grade_id"] for cell in assignment.cells}):
        _whole("wrong notebook", f"this is {'the notebook of ' + name if name else 'another notebook'}; "
               f"submit {assignment.notebook}", assignment, run)
        return None
    return cells


def _plan(cells: list, assignment: Assignment, run: _Run) -> list[dict]:
    """The cells to run: locked cells as assigned, the student's exercise cells, the hidden checks."""
    by_id = {cell.get("metadata", {}).get("nbgrader", {}).get("grade_id"): cell for cell in cells}
    tagged = [cell for cell in cells if "exercise" in cell.get("metadata", {}).get("tags", [])]
    assigned_exercises = [cell for cell in assignment.cells if cell["kind"] == "exercise"]
    sources = {cell["source"].rstrip() for cell in cells}  # for cells whose metadata was lost
    changed, plan = [], []
    for cell in assignment.cells:
        submitted = by_id.get(cell["grade_id"])
        if cell["kind"] == "exercise" and submitted is None and len(tagged) == len(assigned_exercises):
            submitted = tagged[assigned_exercises.index(cell)]  # metadata lost: match by order
        assigned = cell["source"].rstrip()
        if cell["kind"] != "exercise" and (submitted["source"].rstrip() != assigned if submitted
                                           else assigned not in sources):
            changed.append(cell["exercise"] and f"the check cell of exercise {cell['exercise']}"
                           or f"cell {cell['grade_id']}")
        if cell["cell_type"] != "code":
            continue
        if cell["kind"] == "exercise":
            if submitted is None:
                run.outcomes[cell["exercise"]] = ("missing", f"no cell with grade_id {cell['grade_id']}")
                continue
            plan.append({"kind": "exercise", "source": submitted["source"], "exercise": cell["exercise"],
                         "filename": f"<exercise {cell['exercise']}>"})
        elif cell["kind"] == "check":
            plan.append({"kind": "check", "source": assignment.exercise(cell["exercise"]).check,
                         "exercise": cell["exercise"], "filename": f"<check {cell['exercise']}>"})
        else:
            plan.append({"kind": "locked", "source": cell["source"], "exercise": None,
                         "filename": f"<{cell['grade_id']}>"})
    run.changed = changed
    if changed:
        run.notes.append(f"Locked cells were changed or deleted ({', '.join(changed[:8])}"
                         f"{', ...' if len(changed) > 8 else ''}): the grader ran the assigned version instead.")
    return plan


def _start(scratch: Path, limits: Limits, forbidden: list[Path]):
    read_end, write_end = os.pipe()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(scratch), "TMPDIR": str(scratch),
           "COURSE_FAST": "1", "MPLBACKEND": "Agg", "MPLCONFIGDIR": str(scratch / ".matplotlib"),
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "LANG": "C.UTF-8",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}  # finds course_utils, installed or not
    env.update({key: os.environ[key] for key in ("COURSE_DATA_DIR", "COURSE_DATA_MIRROR") if key in os.environ})
    process = subprocess.Popen([sys.executable, "-m", "course_utils.grading.sandbox"], cwd=scratch, env=env,
                               stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               pass_fds=(write_end,), start_new_session=True)
    os.close(write_end)
    config = {"answer_fd": write_end, "scratch": str(scratch), "forbidden": [str(path) for path in forbidden],
              "memory_mb": limits.memory_mb, "cpu_s": int(limits.wall_s) + 5, "file_mb": 100,
              "output_chars": limits.output_chars}
    process.stdin.write((json.dumps(config) + "\n").encode())
    process.stdin.flush()
    return process, read_end


def _answer(fd: int, buffer: bytearray, deadline: float):
    """The next JSON line from the sandbox; None at end of file; 'timeout' past the deadline."""
    while b"\n" not in buffer:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return "timeout"
        chunk = os.read(fd, 65536)
        if not chunk:
            return None
        buffer += chunk
        if len(buffer) > 2 ** 20:
            return None
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return {}


def _error_text(answer: dict) -> str:
    where = f" ({answer['where']}: {answer['line_text']})" if answer.get("where") and answer.get("line_text") else ""
    kind = "" if answer.get("error_type") == "ExerciseFailed" else f"{answer.get('error_type', 'Error')}: "
    return f"{kind}{answer.get('message', '')}{where}"


def _record(item: dict, answer: dict, run: _Run) -> None:
    """Turn the sandbox's answer for one cell into the exercise's status.

    An error in an exercise cell waits for the check: if the check passes, the point is earned (a
    failing test line at the end of the cell costs nothing); if not, the cell's error is the reason.
    Hitting the memory or output limit costs the point either way."""
    exercise, kind = item["exercise"], item["kind"]
    text = _error_text(answer)
    if kind == "locked":
        if not answer.get("ok"):
            run.notes.append(f"A locked cell ({item['filename']}) raised {text}.")
        return
    if kind == "exercise":
        if answer.get("memory") or answer.get("output_limit"):
            run.outcomes[exercise] = ("memory limit" if answer.get("memory") else "too much output", text)
        elif not answer.get("ok"):
            syntax = answer.get("error_type") in ("SyntaxError", "IndentationError", "TabError")
            run.pending[exercise] = ("syntax error" if syntax else "error", text)
        return
    if exercise in run.outcomes:
        return
    if answer.get("ok"):
        run.outcomes[exercise] = ("passed", "")
    elif answer.get("tampered"):
        run.outcomes[exercise] = ("tampered", "changed: " + ", ".join(answer["tampered"]))
    elif answer.get("memory") or answer.get("output_limit"):
        run.outcomes[exercise] = ("memory limit" if answer.get("memory") else "too much output", text)
    elif exercise in run.pending:
        run.outcomes[exercise] = run.pending[exercise]
    elif "is not done yet" in answer.get("message", ""):
        run.outcomes[exercise] = ("not done", text)
    else:
        run.outcomes[exercise] = ("error" if "your code raised" in answer.get("message", "") else "failed", text)


def grade_notebook(path: str | Path, assignment: Assignment, limits: Limits = Limits(),
                   forbidden: tuple = (), scratch_root: str | Path | None = None) -> _Run:
    """Grade one submitted notebook; return each exercise's (status, first error line) and notes."""
    path, run = Path(path), _Run()
    cells = _read(path, assignment, limits, run)
    if cells is None:
        return run
    plan = _plan(cells, assignment, run)
    scratch = Path(tempfile.mkdtemp(prefix="grade-", dir=scratch_root))
    shutil.copyfile(path, scratch / "submission.ipynb")  # the student's own notebook, nothing else
    process, fd = _start(scratch, limits, [*forbidden, *([scratch_root] if scratch_root else [])])
    deadline, buffer = time.monotonic() + limits.wall_s, bytearray()
    try:
        for index, item in enumerate(plan):
            nonce = secrets.token_hex(16)
            command = {**item, "index": index, "nonce": nonce}
            try:
                process.stdin.write((json.dumps(command) + "\n").encode())
                process.stdin.flush()
            except (BrokenPipeError, OSError):
                pass  # it died; the read below says so
            answer = _answer(fd, buffer, deadline)
            if answer == "timeout" or answer is None:
                stopped = ("timeout", f"the time limit of {limits.wall_s:.0f} s was reached in {item['filename']}") \
                    if answer == "timeout" else ("crashed", _crash_text(process, item))
                if item["exercise"]:
                    run.outcomes.setdefault(item["exercise"], stopped)
                _whole("not run", f"stopped earlier: {stopped[1]}", assignment, run)
                break
            if answer.get("nonce") != nonce or answer.get("index") != index:
                run.notes.append("Your code wrote to the grader's answer channel; that answer was ignored.")
                run.outcomes[item["exercise"] or "?"] = ("tampered", "a forged answer to the grader")
                _whole("not run", "stopped after a forged answer to the grader", assignment, run)
                break
            _record(item, answer, run)
        _whole("not run", "the check did not run", assignment, run)
    finally:
        _stop(process)
        os.close(fd)
        shutil.rmtree(scratch, ignore_errors=True)
    return run


def _crash_text(process, item: dict) -> str:
    try:
        code = process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        code = None
    how = f"killed by signal {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
    return f"the Python process stopped ({how}) while running {item['filename']}"


def _stop(process) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)  # the sandbox and anything it started
    except ProcessLookupError:
        pass
    process.wait()


def _grade_safely(path: Path, assignment: Assignment, *args) -> _Run:
    """`grade_notebook`, but a notebook that breaks the grader itself gets a status, not a lost gradebook."""
    try:
        return grade_notebook(path, assignment, *args)
    except Exception as error:  # e.g. cells whose metadata is a list: JSON that nbformat accepts
        return _whole("invalid notebook", f"the grader could not read it ({type(error).__name__}: {error})"[:300],
                      assignment, _Run())


def _submissions(folder: Path, assignment: Assignment) -> dict:
    """student -> notebook path: `<student>.ipynb` files, or `<student>/<anything>.ipynb` folders."""
    found = {}
    for entry in sorted(folder.iterdir()):
        if entry.is_file() and entry.suffix == ".ipynb":
            found[entry.stem] = entry
        elif entry.is_dir():
            notebooks = sorted(entry.glob("*.ipynb"))
            named = [path for path in notebooks if path.name == assignment.notebook]
            if named or notebooks:
                found[entry.name] = (named or notebooks)[0]
    return found


def grade_folder(assignment: Assignment, submissions: str | Path, output_dir: str | Path,
                 limits: Limits = Limits(), instructor_files: tuple = ()) -> list[Outcome]:
    """Grade every submission in a folder, `limits.jobs` at a time; write gradebook.csv and feedback/.

    Returns:
        The gradebook's rows.
    """
    submissions, output_dir = Path(submissions), Path(output_dir)
    found = _submissions(submissions, assignment)
    if not found:
        raise ValueError(f"no notebooks (.ipynb) in {submissions}: put one file per student there, "
                         "named after the student (alice.ipynb), or one folder per student")
    output_dir.mkdir(parents=True, exist_ok=True)
    scratch_root = Path(tempfile.mkdtemp(prefix="course-grade-"))
    forbidden = (submissions, output_dir, *instructor_files)
    try:
        with ThreadPoolExecutor(max_workers=limits.jobs) as pool:
            runs = dict(zip(found, pool.map(lambda path: _grade_safely(path, assignment, limits, forbidden,
                                                                       scratch_root), found.values())))
    finally:
        shutil.rmtree(scratch_root, ignore_errors=True)
    rows = []
    for student, run in runs.items():
        for exercise in assignment.exercises:
            status, line = run.outcomes[exercise.id]
            rows.append(Outcome(student, exercise.id, exercise.points if status == "passed" else 0,
                                exercise.points, status, line))
        if run.changed:
            rows.append(Outcome(student, "locked cells", 0, 0, "changed", "; ".join(run.changed)))
        write_feedback(output_dir / "feedback" / f"{student}.txt", student, assignment,
                       [row for row in rows if row.student == student and row.exercise != "locked cells"], run.notes)
    write_gradebook(output_dir / "gradebook.csv", rows)
    return rows
