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

import ast
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
from IPython.core.inputtransformer2 import TransformerManager

from course_utils.grading.assignment import Assignment
from course_utils.grading.report import Outcome, write_feedback, write_gradebook

__all__ = ["Limits", "grade_folder", "grade_notebook"]


@dataclass
class Limits:
    """Per-submission limits: wall time (s), memory (MiB of address space), printed characters per cell,
    submitted file size (MiB), how many submissions run at once, and the disk its files may take (MiB)."""

    wall_s: float = 300
    memory_mb: int = 8192
    output_chars: int = 1_000_000
    file_mb: int = 50
    jobs: int = 2
    disk_mb: int = 1024


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


def _key(grade_id) -> str | None:
    """A grade id as matched: `exercise-4.1` (written before nbgrader-valid ids) and `exercise-4_1` are one."""
    return grade_id.replace(".", "_") if isinstance(grade_id, str) else None


def _grade_id(cell) -> str | None:
    return _key(cell.get("metadata", {}).get("nbgrader", {}).get("grade_id"))


def _names(*sources: str, bound: bool) -> list[str]:
    """The names these sources bind (`bound`) or mention at all: an exercise's own names."""
    names = set()
    for source in sources:
        try:
            tree = ast.parse(_ipython_free(source))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and (not bound or isinstance(node.ctx, (ast.Store, ast.Del))):
                names.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.alias):
                names.add((node.asname or node.name).split(".")[0])
    return sorted(names)


def _ipython_free(source: str) -> str:
    """The cell as plain Python: IPython's syntax (`%time`, `%%time`, `!pip`) becomes `get_ipython()` calls,
    as Jupyter runs it; the sandbox's stand-in for `get_ipython()` runs the timed code and skips the rest."""
    if not any(mark in source for mark in "%!?"):
        return source
    return TransformerManager().transform_cell(source)


def _exercise_item(cell: dict, exercise: str, filename: str) -> dict:
    shown = cell.get("source", "")
    return {"kind": "exercise", "source": _ipython_free(shown), "shown": shown, "exercise": exercise,
            "filename": filename}


def _plan(cells: list, assignment: Assignment, run: _Run) -> list[dict]:
    """The cells to run: locked cells as assigned, the student's exercise cells, the hidden checks.

    An exercise runs, in notebook order, the code cells the student added or copied since the previous
    exercise cell (as in Jupyter, where they ran before it), then its own cell or cells (a cell split in
    two keeps its grade id in both halves)."""
    assigned = {_key(cell["grade_id"]): cell for cell in assignment.cells}
    exercises = [key for key, cell in assigned.items() if cell["kind"] == "exercise"]
    tagged = [cell for cell in cells if "exercise" in cell.get("metadata", {}).get("tags", [])]
    found = {_grade_id(cell) for cell in cells}
    by_order = {}  # cells whose metadata was lost: matched by the order of their `exercise` tags
    if len(tagged) == len(exercises):
        by_order = {id(cell): key for cell, key in zip(tagged, exercises) if key not in found}
    sources = {cell["source"].rstrip() for cell in assignment.cells}  # the notebook's own cells
    submitted_sources = {cell["source"].rstrip() for cell in cells}  # for locked cells whose metadata was lost
    student = {key: [] for key in exercises}  # exercise -> [(cell, added?)] to run, in order
    first, waiting = {}, []  # grade id -> the submission's first cell with it; cells added since the last exercise
    for cell in cells:
        key = by_order.get(id(cell), _grade_id(cell))
        if key in student:
            student[key] += [(added, True) for added in waiting] + [(cell, False)]
            waiting = []
        elif key in assigned and key not in first:
            first[key] = cell
        elif cell.get("cell_type") == "code" and cell["source"].strip() and cell["source"].rstrip() not in sources:
            waiting.append(cell)
    changed, plan = [], []
    for cell in assignment.cells:
        key = _key(cell["grade_id"])
        assigned_source = cell["source"].rstrip()
        if cell["kind"] != "exercise" and (first[key]["source"].rstrip() != assigned_source if key in first
                                           else assigned_source not in submitted_sources):
            changed.append(cell["exercise"] and f"the check cell of exercise {cell['exercise']}"
                           or f"cell {cell['grade_id']}")
        if cell["cell_type"] != "code":
            continue
        exercise = cell["exercise"]
        if cell["kind"] == "exercise":
            if not any(not added for _, added in student[key]):
                run.outcomes[exercise] = ("missing", f"no cell with grade_id {cell['grade_id']}")
                continue
            added = sum(added for _, added in student[key])
            if added:
                run.notes.append(f"{added} code cell{'s' if added > 1 else ''} that you added above exercise "
                                 f"{exercise} (or split or copied from another cell) ran as part of it.")
            parts, extras = 0, 0
            for submitted, is_added in student[key]:
                if is_added:
                    extras += 1
                    filename = f"<exercise {exercise}, added cell {extras}>"
                else:
                    parts += 1
                    filename = f"<exercise {exercise}>" if parts == 1 else f"<exercise {exercise}, part {parts}>"
                plan.append(_exercise_item(submitted, exercise, filename))
        elif cell["kind"] == "check":
            own = assignment.exercise(exercise)
            plan.append({"kind": "check", "source": own.check, "exercise": exercise,
                         "filename": f"<check {exercise}>",
                         "student_names": _names(own.stub, own.solution, bound=True),
                         "student_uses": _names(own.stub, own.solution, bound=False),
                         "check_reads": _names(own.check, bound=False)})
        else:
            plan.append({"kind": "locked", "source": cell["source"], "exercise": None,
                         "filename": f"<{cell['grade_id']}>"})
    if waiting:
        run.notes.append(f"{len(waiting)} code cell{'s' if len(waiting) > 1 else ''} after the last exercise "
                         "did not run: the grader runs only the cells up to each exercise.")
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
    os.set_blocking(process.stdin.fileno(), False)  # from now on `_send` writes with a deadline
    return process, read_end


def _send(fd: int, data: bytes, deadline: float) -> str:
    """Write a command to the sandbox: "sent", "timeout" past the deadline (a sandbox that stopped
    reading while a large cell waits in the pipe), or "closed" when it has exited."""
    view = memoryview(data)
    while view:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([], [fd], [], left)[1]:
            return "timeout"
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            continue
        except OSError:  # BrokenPipeError: it died; the read that follows says how
            return "closed"
    return "sent"


def _disk_use(folder: Path) -> int:
    """Bytes of disk that the files under `folder` take (links are not followed)."""
    total = 0
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                pass
    return total


def _answer(fd: int, buffer: bytearray, deadline: float, scratch: Path | None = None, disk_bytes: float = 0):
    """The next JSON line from the sandbox; None at end of file; 'timeout' past the deadline; 'disk' as soon
    as the files in `scratch` take more than `disk_bytes` (checked every second)."""
    while b"\n" not in buffer:
        left = deadline - time.monotonic()
        if left <= 0:
            return "timeout"
        if not select.select([fd], [], [], min(left, 1.0))[0]:
            if scratch is not None and _disk_use(scratch) > disk_bytes:
                return "disk"
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            return None
        buffer += chunk
        if len(buffer) > 2 ** 20:
            return None
    if scratch is not None and _disk_use(scratch) > disk_bytes:
        return "disk"
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return {}


def _error_text(answer: dict) -> str:
    where = f" ({answer['where']}: {answer['line_text']})" if answer.get("where") and answer.get("line_text") else ""
    # only the grader's own ExerciseFailed speaks in its own words: a student's error always shows its type
    kind = "" if answer.get("trusted") else f"{answer.get('error_type', 'Error')}: "
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
            run.pending.setdefault(exercise, ("syntax error" if syntax else "error", text))  # the first error
        return
    if answer.get("restored"):
        names = ", ".join(f"`{name}`" for name in answer["restored"][:5])
        note = (f"Your code gave {names}, set by the notebook's locked cells, another value; the hidden checks "
                "used the locked cells' value.")
        if note not in run.notes:
            run.notes.append(note)
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
            sent = _send(process.stdin.fileno(), (json.dumps(command) + "\n").encode(), deadline)
            answer = "timeout" if sent == "timeout" else _answer(fd, buffer, deadline, scratch,
                                                                 limits.disk_mb * 2 ** 20)
            if answer in ("timeout", "disk", None):
                if answer == "timeout":
                    stopped = ("timeout", f"the time limit of {limits.wall_s:.0f} s was reached in {item['filename']}")
                elif answer == "disk":
                    stopped = ("disk limit", f"the files written took more than {limits.disk_mb} MiB of disk "
                                             f"(in {item['filename']})")
                else:
                    stopped = ("crashed", _crash_text(process, item))
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
    """student -> notebook path: `<student>.ipynb` files, or `<student>/<anything>.ipynb` folders.
    Hidden entries (`.ipynb_checkpoints`, which Jupyter makes) are skipped.

    Raises:
        ValueError: if one student has both a file and a folder.
    """
    found = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file() and entry.suffix == ".ipynb":
            student, path = entry.stem, entry
        elif entry.is_dir():
            notebooks = sorted(path for path in entry.glob("*.ipynb") if not path.name.startswith("."))
            named = [path for path in notebooks if path.name == assignment.notebook]
            if not notebooks:
                continue
            student, path = entry.name, (named or notebooks)[0]
        else:
            continue
        if student in found:
            raise ValueError(f"two submissions for {student}: {found[student]} and {path}; keep one of them")
        found[student] = path
    return found


def grade_folder(assignment: Assignment, submissions: str | Path, output_dir: str | Path,
                 limits: Limits = Limits(), instructor_files: tuple = (), force: bool = False) -> list[Outcome]:
    """Grade every submission in a folder, `limits.jobs` at a time; write gradebook.csv and feedback/.

    Args:
        force: replace the gradebook and feedback files of an earlier run in `output_dir` (without it, such
            a folder is refused).

    Returns:
        The gradebook's rows.

    Raises:
        ValueError: no notebooks, two submissions for one student, or an earlier run's results in `output_dir`.
    """
    submissions, output_dir = Path(submissions), Path(output_dir)
    found = _submissions(submissions, assignment)
    if not found:
        raise ValueError(f"no notebooks (.ipynb) in {submissions}: put one file per student there, "
                         "named after the student (alice.ipynb), or one folder per student")
    feedback, gradebook = output_dir / "feedback", output_dir / "gradebook.csv"
    if not force and (gradebook.exists() or (feedback.is_dir() and any(feedback.iterdir()))):
        raise ValueError(f"{output_dir} already holds the results of an earlier run: choose another --output-dir, "
                         "or pass --force to replace them (the old feedback files are deleted)")
    if feedback.is_dir():
        for old in feedback.glob("*.txt"):  # no student keeps an earlier run's feedback
            old.unlink()
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
        write_feedback(feedback / f"{student}.txt", student, assignment,
                       [row for row in rows if row.student == student and row.exercise != "locked cells"], run.notes)
    write_gradebook(gradebook, rows)
    return rows
