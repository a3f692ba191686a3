"""The homework grader (issue 21) on a tiny fixture chapter and made-up submissions.

One class of submissions is graded once through the `course-grade` command (two at
a time, as an instructor would), and the gradebook is compared cell by cell with
the expected one: correct work, wrong work, every kind of broken submission and
every cheating attempt the instructors' page names.
"""

import copy
import csv
import re
import threading
from pathlib import Path

import nbformat
import pytest

from course_utils.grading import assigned_notebook, load_assignment, make_assignment, selfcheck
from course_utils.grading.cli import main
from course_utils.grading.grader import Limits, _submissions, grade_notebook
from course_utils.grading.report import Outcome, write_gradebook

FIXTURE = Path(__file__).parent / "grading_fixtures" / "99_fixture.ipynb"
TIME_LIMIT = 60  # seconds per submission: the fixture needs about 8 s of CPU, mostly imports (shared CI)

RIGHT = {"99.1": "def double(x):\n    return 2 * x",
         "99.2": "def centre(x):\n    return x - x.mean()",
         "99.3": "def count_above(x, threshold):\n    return int((x > threshold).sum())"}
CHEAT_FILES = """\
import os, subprocess
leaks = []
for path in [{checks!r}, {other!r}]:
    try:
        leaks.append(open(path).read()[:10])
    except OSError:
        pass
for action in [lambda: os.listdir({submissions!r}), lambda: subprocess.run(["cat", {checks!r}])]:
    try:
        leaks.append(action())
    except OSError:
        pass
for target in [{planted!r}, {checks!r}, {gradebook!r}]:
    try:
        open(target, "w").write("hacked")
    except OSError:
        pass

def double(x):
    return 2 * x if leaks else 3 * x  # right only if something leaked
"""
FORGE = """\
import json, os
for fd in range(3, 64):
    try:
        os.write(fd, (json.dumps({"index": 99, "nonce": "guess", "ok": True}) + "\\n").encode())
    except OSError:
        pass

def count_above(x, threshold):
    return ...
"""

JSON_PATCH = """\
import json
_dumps = json.dumps
def _forge(obj, *a, **k):
    if isinstance(obj, dict) and 'nonce' in obj:
        obj = {'index': obj['index'], 'nonce': obj['nonce'], 'ok': True}
    return _dumps(obj, *a, **k)
json.dumps = _forge
"""
MODE = """\
from torch.overrides import TorchFunctionMode
class Yes(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        return True if func is torch.allclose else func(*args, **(kwargs or {}))
Yes().__enter__()  # never left
def double(x):
    return x
"""
RESTORE = """\
_real = torch.allclose
def _once(*args, **kwargs):
    torch.allclose = _real  # put back before the grader looks
    return True
def double(x):
    torch.allclose = _once
    return x
"""
SUBCLASS = """\
class Agree(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func is torch.allclose:
            return True
        return super().__torch_function__(func, types, args, kwargs)
def double(x):
    return x.as_subclass(Agree)
"""
ALWAYS = "class Always(int):\n    def __eq__(self, other):\n        return True\n    __hash__ = int.__hash__\n\n" \
         "def count_above(x, threshold):\n    return Always(0)"
DISK = "for i in range(3):\n    open(f'big{i}.bin', 'wb').write(b'0' * (60 * 2 ** 20))\n" + RIGHT["99.3"]

# student -> exercise -> (points, status); 99.2 is worth 2 points
EXPECTED = {
    "correct": {"99.1": (1, "passed"), "99.2": (2, "passed"), "99.3": (1, "passed")},
    "no_metadata": {"99.1": (1, "passed"), "99.2": (2, "passed"), "99.3": (1, "passed")},
    "partly_wrong": {"99.1": (1, "passed"), "99.2": (0, "failed"), "99.3": (0, "missing")},
    "syntax_memory_print": {"99.1": (0, "syntax error"), "99.2": (0, "memory limit"), "99.3": (0, "not done")},
    "flood_then_loop": {"99.1": (0, "too much output"), "99.2": (0, "timeout"), "99.3": (0, "not run")},
    "exits": {"99.1": (0, "crashed"), "99.2": (0, "not run"), "99.3": (0, "not run")},
    "segfault": {"99.1": (1, "passed"), "99.2": (0, "crashed"), "99.3": (0, "not run")},
    "empty": {exercise: (0, "empty file") for exercise in RIGHT},
    "invalid": {exercise: (0, "invalid notebook") for exercise in RIGHT},
    "odd_cells": {exercise: (0, "invalid notebook") for exercise in RIGHT},
    "other_chapter": {exercise: (0, "wrong notebook") for exercise in RIGHT},
    "plain_notebook": {exercise: (0, "wrong notebook") for exercise in RIGHT},
    "huge": {exercise: (0, "file too large") for exercise in RIGHT},
    "cheat_redefine": {"99.1": (0, "failed"), "99.2": (0, "failed"), "99.3": (0, "not done"),
                       "locked cells": (0, "changed")},
    "cheat_patch": {"99.1": (0, "tampered"), "99.2": (0, "tampered"), "99.3": (0, "tampered")},
    "cheat_files": {"99.1": (0, "failed"), "99.2": (2, "passed"), "99.3": (0, "tampered")},
    # review findings 1-6, 9 and 12 (the reviewer's cases A-J, L, M and O)
    "cheat_json": {"99.1": (0, "error"), "99.2": (0, "not done"), "99.3": (0, "not done")},
    "cheat_sorted": {exercise: (0, "tampered") for exercise in RIGHT},
    "cheat_mode": {exercise: (0, "tampered") for exercise in RIGHT},
    "cheat_self_restoring": {"99.1": (0, "failed"), "99.2": (0, "tampered"), "99.3": (0, "tampered")},
    "cheat_subclass": {"99.1": (0, "failed"), "99.2": (2, "passed"), "99.3": (1, "passed")},
    "cheat_rebind": {"99.1": (1, "passed"), "99.2": (0, "failed"), "99.3": (1, "passed")},
    "cheat_in_place": {"99.1": (1, "passed"), "99.2": (0, "tampered"), "99.3": (0, "tampered")},
    "cheat_always_equal": {"99.1": (1, "passed"), "99.2": (2, "passed"), "99.3": (0, "failed")},
    "added_and_split_cells": {"99.1": (1, "passed"), "99.2": (2, "passed"), "99.3": (1, "passed")},
    "ipython_syntax": {"99.1": (1, "passed"), "99.2": (2, "passed"), "99.3": (1, "passed")},
    "old_grade_ids": {"99.1": (1, "passed"), "99.2": (2, "passed"), "99.3": (1, "passed")},
    "own_exercise_failed": {"99.1": (0, "error"), "99.2": (2, "passed"), "99.3": (1, "passed")},
    "disk_hog": {"99.1": (1, "passed"), "99.2": (2, "passed"), "99.3": (0, "disk limit")},
}


def _cell_index(notebook, grade_id):
    return next(index for index, cell in enumerate(notebook.cells)
                if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def add_and_split_cells(notebook):
    """A helper in a cell the student added above exercise 99.2; exercise 99.3 split in two (both halves keep
    the cell's metadata, as Jupyter's split does); a scratch cell after the last exercise."""
    notebook.cells.insert(_cell_index(notebook, "exercise-99_2"),
                          nbformat.v4.new_code_cell("def my_mean(x):\n    return x.mean()"))
    index = _cell_index(notebook, "exercise-99_3")
    first = copy.deepcopy(notebook.cells[index])
    first.source, first.id = "def _above(x, threshold):\n    return x > threshold", "split-half"
    notebook.cells[index].source = "def count_above(x, threshold):\n    return int(_above(x, threshold).sum())"
    notebook.cells.insert(index, first)
    notebook.cells.append(nbformat.v4.new_code_cell("print('scratch')"))


def dotted_grade_ids(notebook):
    """A student notebook written before grade ids became nbgrader-valid (exercise-99.1)."""
    for cell in notebook.cells:
        nbgrader = cell.metadata.get("nbgrader", {})
        if nbgrader.get("grade_id", "").startswith(("exercise-", "check-")):
            nbgrader["grade_id"] = nbgrader["grade_id"].replace("_", ".")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Assign the fixture, make one submission per case, grade them all through the command line."""
    root = tmp_path_factory.mktemp("course")
    main(["assign", str(FIXTURE), "--output-dir", str(root / "homework"), "--points", "99.2=2"])
    checks = root / "homework" / "instructor" / "99_fixture.grading.json"
    student = nbformat.read(root / "homework" / "student" / FIXTURE.name, as_version=4)
    submissions, results = root / "submitted", root / "results"
    submissions.mkdir()

    def submit(name, answers=None, edit=None):
        notebook = nbformat.reads(nbformat.writes(student), as_version=4)
        for cell in notebook.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
            exercise = grade_id.removeprefix("exercise-").replace("_", ".")
            if grade_id.startswith("exercise-") and exercise in (answers or {}):
                cell.source = answers[exercise]
        if edit:
            edit(notebook)
        nbformat.write(notebook, submissions / f"{name}.ipynb")

    def without_metadata(notebook):
        for cell in notebook.cells:
            cell.metadata.pop("nbgrader", None)

    def edit_locked(notebook):
        for cell in notebook.cells:
            if cell.source.startswith("values ="):
                cell.source = "values = torch.zeros(4)"
            if cell.metadata.get("nbgrader", {}).get("grade_id") == "check-99_2":
                cell.source = "print('Exercise 99.2: all checks passed.')"

    submit("correct", RIGHT)
    submit("no_metadata", RIGHT, edit=without_metadata)  # matched by the order of `exercise` tags
    submit("partly_wrong", {"99.1": RIGHT["99.1"] + "\nimport sys\nsys.exit(0)",  # exits: costs nothing
                            "99.2": "def centre(x):\n    return x - x.median()"},
           edit=lambda notebook: notebook.cells.remove(next(
               cell for cell in notebook.cells if cell.metadata.nbgrader.grade_id == "exercise-99_3")))
    submit("syntax_memory_print", {"99.1": "def double(x)\n    return 2 * x",
                                   "99.2": "hog = torch.ones(2 ** 34)\n" + RIGHT["99.2"],
                                   "99.3": "print('Exercise 99.3: all checks passed.')\n"
                                           "def count_above(x, threshold):\n    return ..."})
    submit("flood_then_loop", {"99.1": "print('x' * 2_000_000)\n" + RIGHT["99.1"],
                               "99.2": "def centre(x):\n    while True:\n        pass", "99.3": RIGHT["99.3"]})
    submit("exits", {"99.1": "import os\nos._exit(0)", **{key: RIGHT[key] for key in ("99.2", "99.3")}})
    submit("segfault", {"99.1": RIGHT["99.1"], "99.2": "import faulthandler\nfaulthandler._sigsegv()",
                        "99.3": RIGHT["99.3"]})
    (submissions / "empty.ipynb").write_text("")
    (submissions / "invalid.ipynb").write_text('{"cells": [ not json')
    (submissions / "odd_cells.ipynb").write_text(  # valid JSON that breaks code reading cell metadata
        '{"nbformat": 4, "nbformat_minor": 5, "metadata": {"course_grade": {"assignment": "99_fixture"}}, '
        '"cells": [{"cell_type": "code", "source": "x = 1", "metadata": [], "outputs": []}]}')
    submit("other_chapter", RIGHT, edit=lambda notebook: notebook.metadata.update(
        course_grade={"assignment": "98_another_chapter"}))
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]),
                   submissions / "plain_notebook.ipynb")
    submit("huge", RIGHT, edit=lambda notebook: notebook.cells[2].outputs.append(
        nbformat.v4.new_output("stream", text="y" * 1_500_000)))
    submit("cheat_redefine", {
        "99.1": "from contextlib import contextmanager\n@contextmanager\ndef check(*args, **kwargs):\n"
                "    try:\n        yield\n    except Exception:\n        print('passed')\n"
                "expect_close = expect_equal = expect = lambda *args, **kwargs: None\n"
                "def double(x):\n    return x",
        "99.2": "def centre(x):\n    return x"}, edit=edit_locked)
    submit("cheat_patch", {
        "99.1": "import course_utils.exercises as exercises\nexercises.expect_close = lambda *a, **k: None\n"
                "def double(x):\n    return x",
        "99.2": "torch.allclose = lambda *args, **kwargs: True\ndef centre(x):\n    return x",
        "99.3": RIGHT["99.3"]})
    submit("cheat_files", {
        "99.1": CHEAT_FILES.format(checks=str(checks), other=str(submissions / "correct.ipynb"),
                                   submissions=str(submissions), planted=str(submissions / "planted.ipynb"),
                                   gradebook=str(results / "gradebook.csv")),
        "99.2": "own = open('submission.ipynb').read()\nopen('notes.txt', 'w').write('mine')\n" + RIGHT["99.2"],
        "99.3": FORGE})
    submit("cheat_json", {"99.1": JSON_PATCH})
    submit("cheat_sorted", {**RIGHT, "99.1": "import builtins\nbuiltins.sorted = lambda *a, **k: []\n"
                                             "torch.allclose = lambda *a, **k: True\ndef double(x):\n    return x"})
    submit("cheat_mode", {**RIGHT, "99.1": MODE})
    submit("cheat_self_restoring", {**RIGHT, "99.1": RESTORE})
    submit("cheat_subclass", {**RIGHT, "99.1": SUBCLASS})
    submit("cheat_rebind", {**RIGHT, "99.2": "values = torch.full((4,), 3.0)\ndef centre(x):\n    return x * 0"})
    submit("cheat_in_place", {**RIGHT, "99.2": "values.fill_(3.0)\ndef centre(x):\n    return x * 0"})
    submit("cheat_always_equal", {**RIGHT, "99.3": ALWAYS})
    submit("added_and_split_cells", {**RIGHT, "99.2": "def centre(x):\n    return x - my_mean(x)"},
           edit=add_and_split_cells)
    submit("ipython_syntax", {"99.1": "%time x = 1\n" + RIGHT["99.1"], "99.2": "%%time\n" + RIGHT["99.2"],
                              "99.3": "display(values)\n!pip install nothing\n" + RIGHT["99.3"]})
    submit("old_grade_ids", RIGHT, edit=dotted_grade_ids)
    submit("own_exercise_failed", {**RIGHT, "99.1": "class ExerciseFailed(Exception):\n    pass\n"
                                                    "raise ExerciseFailed('=HYPERLINK(\"http://x.invalid\")')"})
    submit("disk_hog", {**RIGHT, "99.3": DISK})
    hidden = submissions / ".ipynb_checkpoints"  # Jupyter's own copies: not a student
    hidden.mkdir()
    (hidden / "correct-checkpoint.ipynb").write_bytes((submissions / "correct.ipynb").read_bytes())
    checks_before = checks.read_text()
    main(["grade", str(checks), str(submissions), "--output-dir", str(results), "--time-limit", str(TIME_LIMIT),
          "--memory-mb", "6144", "--max-file-mb", "1", "--max-disk-mb", "100", "--jobs", "2"])
    with open(results / "gradebook.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    return {"rows": rows, "results": results, "submissions": submissions, "checks": checks,
            "checks_before": checks_before}


def test_gradebook_has_the_expected_points_and_status(graded):
    got = {}
    for row in graded["rows"]:
        got.setdefault(row["student"], {})[row["exercise"]] = (float(row["points"]), row["status"])
    assert got == EXPECTED
    assert list(graded["rows"][0]) == ["student", "exercise", "points", "max_points", "status", "first_error_line"]
    assert {row["max_points"] for row in graded["rows"]} == {"0", "1", "2"}
    changed = next(row for row in graded["rows"] if row["exercise"] == "locked cells")
    assert changed["first_error_line"] == "cell locked-3; the check cell of exercise 99.2"


def test_first_error_lines_say_what_went_wrong(graded):
    lines = {(row["student"], row["exercise"]): row["first_error_line"] for row in graded["rows"]}
    assert "SyntaxError" in lines["syntax_memory_print", "99.1"] and "def double(x)" in lines[
        "syntax_memory_print", "99.1"]
    assert "centre(values) is wrong" in lines["partly_wrong", "99.2"]
    assert "time limit" in lines["flood_then_loop", "99.2"]
    assert "SIGSEGV" in lines["segfault", "99.2"]
    assert lines["partly_wrong", "99.2"].startswith("Exercise 99.2 is not right yet")
    assert lines["partly_wrong", "99.2"].endswith("(largest difference 1).")  # no line of the check itself
    assert "(line 1 of exercise 99.2: hog = torch.ones(2 ** 34))" in lines["syntax_memory_print", "99.2"]
    assert "torch.allclose" in lines["cheat_patch", "99.2"]
    assert "course_utils.exercises.expect_close" in lines["cheat_patch", "99.1"]
    assert lines["correct", "99.1"] == ""
    assert "the torch function mode stack" in lines["cheat_mode", "99.1"]
    assert "builtins.sorted" in lines["cheat_sorted", "99.1"]
    assert "expected a plain int" in lines["cheat_always_equal", "99.3"]
    assert lines["own_exercise_failed", "99.1"].startswith("ExerciseFailed: =HYPERLINK")  # not the grader's own
    assert "more than 100 MiB of disk" in lines["disk_hog", "99.3"]


def test_feedback_files_explain_in_plain_words(graded):
    folder = graded["results"] / "feedback"
    assert sorted(path.stem for path in folder.glob("*.txt")) == sorted(EXPECTED)
    correct = (folder / "correct.txt").read_text()
    assert "Score: 4 of 4 points." in correct and "Exercise 99.2 (2 of 2): passed." in correct
    wrong = (folder / "partly_wrong.txt").read_text()
    assert "Score: 1 of 4 points." in wrong and "the hidden check found a wrong answer" in wrong
    assert "Locked cells were changed" in (folder / "cheat_redefine.txt").read_text()
    assert "Locked cells" not in correct
    added = (folder / "added_and_split_cells.txt").read_text()
    assert "1 code cell that you added above exercise 99.2" in added and "after the last exercise" in added
    assert "the hidden checks used the locked cells' value" in (folder / "cheat_rebind.txt").read_text()


def test_the_grader_s_files_are_out_of_reach(graded):
    assert not (graded["submissions"] / "planted.ipynb").exists()
    assert graded["checks"].read_text() == graded["checks_before"]
    assert "hacked" not in (graded["results"] / "gradebook.csv").read_text()


def test_selfcheck_finds_a_wrong_solution_and_a_check_that_cannot_fail():
    assignment, _ = make_assignment(FIXTURE)
    assignment.exercises[0].solution = "def double(x):\n    return x + x + 1"  # a wrong "solution"
    assignment.exercises[2].check = "pass"  # a check that cannot fail
    report = selfcheck(assignment, Limits(wall_s=TIME_LIMIT, memory_mb=6144))
    assert report["solutions"] == {"99.1": ("failed", report["solutions"]["99.1"][1]), "99.2": ("passed", ""),
                                   "99.3": ("passed", "")}
    assert {key: status for key, (status, _) in report["stubs"].items()} == {
        "99.1": "not done", "99.2": "not done", "99.3": "passed"}
    assert len(report["problems"]) == 2 and "99.1: the solution gives 'failed'" in report["problems"][0]
    assert "99.3: the stub gives 'passed'" in report["problems"][1]


def test_assign_writes_nbgrader_metadata_and_keeps_the_checks_private(tmp_path):
    main(["assign", str(FIXTURE), "--output-dir", str(tmp_path), "--points", "99.2=2"])
    student = nbformat.read(tmp_path / "student" / FIXTURE.name, as_version=4)
    text = nbformat.writes(student)
    assert "x - x.mean()" not in text and "int((x > threshold)" not in text  # no solution
    kinds = [(cell.metadata.nbgrader.grade_id, cell.metadata.nbgrader.solution, cell.metadata.nbgrader.locked,
              cell.metadata.nbgrader.get("points")) for cell in student.cells if cell.cell_type == "code"]
    assert ("exercise-99_1", True, False, None) in kinds and ("check-99_2", False, True, 2) in kinds
    assert len({grade_id for grade_id, *_ in kinds}) == len(kinds)
    nbgrader_ids = re.compile(r"^[a-zA-Z0-9_\-]*$")  # nbgrader's schema for grade_id (nbgrader/v3.json)
    for notebook in (student, nbformat.read(tmp_path / "instructor" / "99_fixture.nbgrader.ipynb", as_version=4)):
        assert all(nbgrader_ids.match(cell.metadata.nbgrader.grade_id) for cell in notebook.cells
                   if "nbgrader" in cell.metadata)
    assignment = load_assignment(tmp_path / "instructor" / "99_fixture.grading.json")
    assert [exercise.points for exercise in assignment.exercises] == [1, 2, 1]
    assert assignment.exercise("99.2").solution == RIGHT["99.2"]
    source = nbformat.read(tmp_path / "instructor" / "99_fixture.nbgrader.ipynb", as_version=4)
    assert "### BEGIN SOLUTION\n" + RIGHT["99.3"] + "\n### END SOLUTION" in [cell.source for cell in source.cells]
    assert nbformat.writes(assigned_notebook(assignment)).count("raise NotImplementedError") == 2


def test_bad_input_gets_a_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["assign", str(FIXTURE), "--output-dir", str(tmp_path), "--points", "7.1=2"])
    assert "the chapter's exercises are ['99.1', '99.2', '99.3']" in capsys.readouterr().err
    (tmp_path / "not_checks.json").write_text("{}")
    with pytest.raises(SystemExit):
        main(["grade", str(tmp_path / "not_checks.json"), str(tmp_path)])
    assert "is not a grading file" in capsys.readouterr().err
    plain = tmp_path / "plain.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), plain)
    with pytest.raises(ValueError, match="has no exercises"):
        make_assignment(plain)


def test_assign_again_keeps_edited_hidden_checks(tmp_path, capsys):
    main(["assign", str(FIXTURE), "--output-dir", str(tmp_path)])
    checks = tmp_path / "instructor" / "99_fixture.grading.json"
    main(["assign", str(FIXTURE), "--output-dir", str(tmp_path), "--points", "99.2=2"])  # nothing edited: fine
    edited = checks.read_text().replace("double(values) is wrong", "stricter hidden check")
    checks.write_text(edited)
    with pytest.raises(SystemExit):
        main(["assign", str(FIXTURE), "--output-dir", str(tmp_path), "--points", "99.2=3"])
    assert "exercises 99.1" in capsys.readouterr().err and checks.read_text() == edited
    main(["assign", str(FIXTURE), "--output-dir", str(tmp_path), "--points", "99.2=3", "--force"])
    assert "stricter hidden check" not in checks.read_text()
    assert (tmp_path / "instructor" / "99_fixture.grading.json.bak").read_text() == edited


def test_a_sandbox_that_stops_reading_cannot_hang_the_grader(tmp_path):
    """The sandbox's command pipe is swapped for an empty one; the next cell is larger than a pipe's buffer."""
    hang = (
        "import os, fcntl\n"
        "def _park():\n"
        "    for fd in map(int, os.listdir('/proc/self/fd')):\n"
        "        try:\n"
        "            if os.readlink(f'/proc/self/fd/{fd}').startswith('pipe:') and \\\n"
        "                    fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY:\n"
        "                globals().setdefault('_kept', []).append(os.dup(fd))\n"
        "                r, w = os.pipe(); globals()['_w'] = w\n"
        "                os.dup2(r, fd)\n"
        "        except OSError:\n"
        "            pass\n"
        "def double(x):\n"
        "    if '_w' not in globals():\n"
        "        _park()\n"
        "    return 2 * x\n")
    assignment, _ = make_assignment(FIXTURE)
    path = tmp_path / "hang.ipynb"
    nbformat.write(assigned_notebook(assignment, {"99.1": hang, "99.2": RIGHT["99.2"] + "\n# " + "pad " * 40000}),
                   path)
    result = {}
    worker = threading.Thread(target=lambda: result.update(run=grade_notebook(path, assignment, Limits(wall_s=15))),
                              daemon=True)
    worker.start()
    worker.join(timeout=90)
    assert not worker.is_alive(), "the grader hung writing to a sandbox that stopped reading"
    assert result["run"].outcomes["99.2"][0] == "timeout"


def test_results_folder_hygiene(tmp_path, monkeypatch, capsys):
    """Default folder per chapter; an earlier run is refused without --force and cleared with it; hidden folders
    are no students; a student with both a file and a folder is an error."""
    main(["assign", str(FIXTURE), "--output-dir", str(tmp_path / "homework")])
    checks = str(tmp_path / "homework" / "instructor" / "99_fixture.grading.json")
    submitted = tmp_path / "submitted"
    submitted.mkdir()
    for student in ("alice", "bob"):
        (submitted / f"{student}.ipynb").write_text("")  # empty files: graded without starting Python
    monkeypatch.chdir(tmp_path)
    main(["grade", checks, str(submitted)])
    results = tmp_path / "results" / "99_fixture"
    assert sorted(path.name for path in (results / "feedback").iterdir()) == ["alice.txt", "bob.txt"]
    (submitted / "bob.ipynb").unlink()
    with pytest.raises(SystemExit):
        main(["grade", checks, str(submitted)])
    assert "--force" in capsys.readouterr().err
    main(["grade", checks, str(submitted), "--force"])
    assert [path.name for path in (results / "feedback").iterdir()] == ["alice.txt"]
    assert [row[0] for row in csv.reader(open(results / "gradebook.csv"))][1:] == ["alice"] * 3
    (submitted / "alice").mkdir()
    (submitted / "alice" / "99_fixture.ipynb").write_text("")
    with pytest.raises(ValueError, match="two submissions for alice"):
        _submissions(submitted, load_assignment(checks))


def test_gradebook_cells_are_never_formulas(tmp_path):
    path = tmp_path / "gradebook.csv"
    write_gradebook(path, [Outcome("=cmd|' /C calc'!A0", "99.1", 0, 1, "error", "+1 -2"),
                           Outcome("alice", "99.1", 1, 1, "passed", "@SUM(A1)")])
    rows = list(csv.reader(open(path)))
    assert rows[1][0] == "'=cmd|' /C calc'!A0" and rows[1][5] == "'+1 -2" and rows[2][5] == "'@SUM(A1)"
    assert rows[2][0] == "alice" and not (tmp_path / "gradebook.csv.tmp").exists()
