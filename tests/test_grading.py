"""The homework grader (issue 21) on a tiny fixture chapter and made-up submissions.

One class of submissions is graded once through the `course-grade` command (two at
a time, as an instructor would), and the gradebook is compared cell by cell with
the expected one: correct work, wrong work, every kind of broken submission and
every cheating attempt the instructors' page names.
"""

import csv
from pathlib import Path

import nbformat
import pytest

from course_utils.grading import assigned_notebook, load_assignment, make_assignment, selfcheck
from course_utils.grading.cli import main
from course_utils.grading.grader import Limits

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
}


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
            if grade_id.removeprefix("exercise-") in (answers or {}):
                cell.source = answers[grade_id.removeprefix("exercise-")]
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
            if cell.metadata.get("nbgrader", {}).get("grade_id") == "check-99.2":
                cell.source = "print('Exercise 99.2: all checks passed.')"

    submit("correct", RIGHT)
    submit("no_metadata", RIGHT, edit=without_metadata)  # matched by the order of `exercise` tags
    submit("partly_wrong", {"99.1": RIGHT["99.1"] + "\nimport sys\nsys.exit(0)",  # exits: costs nothing
                            "99.2": "def centre(x):\n    return x - x.median()"},
           edit=lambda notebook: notebook.cells.remove(next(
               cell for cell in notebook.cells if cell.metadata.nbgrader.grade_id == "exercise-99.3")))
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
    checks_before = checks.read_text()
    main(["grade", str(checks), str(submissions), "--output-dir", str(results), "--time-limit", str(TIME_LIMIT),
          "--memory-mb", "6144", "--max-file-mb", "1"])
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


def test_feedback_files_explain_in_plain_words(graded):
    folder = graded["results"] / "feedback"
    assert sorted(path.stem for path in folder.glob("*.txt")) == sorted(EXPECTED)
    correct = (folder / "correct.txt").read_text()
    assert "Score: 4 of 4 points." in correct and "Exercise 99.2 (2 of 2): passed." in correct
    wrong = (folder / "partly_wrong.txt").read_text()
    assert "Score: 1 of 4 points." in wrong and "the hidden check found a wrong answer" in wrong
    assert "Locked cells were changed" in (folder / "cheat_redefine.txt").read_text()
    assert "Locked cells" not in correct


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
    assert ("exercise-99.1", True, False, None) in kinds and ("check-99.2", False, True, 2) in kinds
    assert len({grade_id for grade_id, *_ in kinds}) == len(kinds)
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
