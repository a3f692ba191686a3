"""Turn a chapter into an assignment: the student notebook and the instructor's hidden checks.

An exercise in a chapter is an `exercise` cell (the stub), its `solution` cell(s)
and the next code cell that calls `check("N.k")`. `make_assignment` reads those,
and `write_assignment` writes three files:

* `student/<chapter>.ipynb`: the student version (solutions removed), every cell
  marked in nbgrader's metadata (`nbgrader: {grade_id, points, locked, solution,
  grade}`): exercise cells are `solution` cells, check cells `grade` cells with
  points, every other cell `locked`.
* `instructor/<chapter>.grading.json`: what the grader needs and the students
  never see: each exercise's points, solution and hidden check, and the assigned
  source of every cell (to run the locked cells as assigned and spot edits).
* `instructor/<chapter>.nbgrader.ipynb`: the same assignment as an nbgrader
  source notebook (solutions between `### BEGIN SOLUTION` and `### END SOLUTION`),
  for instructors who carry on with nbgrader or otter-grader.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from course_utils.student import _is_solution, _tags, student_notebook

__all__ = ["Assignment", "Exercise", "load_assignment", "make_assignment", "write_assignment"]

FORMAT = "course-grade/1"
GRADED_NOTE = (" When this notebook is graded, each exercise runs its *Exercise* cell together with the code "
               "cells you added above it (since the previous exercise); code cells after the last exercise are "
               "not run.")
CHECK_ID = re.compile(r"""\bcheck\(\s*["']([^"']+)["']""")


@dataclass
class Exercise:
    """One exercise: its number ("4.1"), points, stub, solution and hidden check."""

    id: str
    points: float
    stub: str
    solution: str
    check: str  # the hidden check; the instructor may make it stricter than the student's self-check


@dataclass
class Assignment:
    """A chapter as homework. `cells` lists the student notebook's cells in order, each a dict
    with `grade_id`, `kind` ("locked", "exercise" or "check"), `cell_type`, `source`, `exercise`."""

    name: str
    notebook: str
    exercises: list[Exercise]
    cells: list[dict] = field(default_factory=list)

    def exercise(self, exercise_id: str) -> Exercise:
        return next(exercise for exercise in self.exercises if exercise.id == exercise_id)

    @property
    def max_points(self) -> float:
        return sum(exercise.points for exercise in self.exercises)


def _parse_points(points: dict | None, ids: list[str]) -> dict:
    points = dict(points or {})
    unknown = sorted(set(points) - set(ids))
    if unknown:
        raise ValueError(f"points were given for {unknown}, but the chapter's exercises are {ids}")
    if any(not isinstance(value, (int, float)) or value < 0 for value in points.values()):
        raise ValueError(f"points must be numbers >= 0, got {points}")
    return {exercise_id: points.get(exercise_id, 1) for exercise_id in ids}


def make_assignment(chapter: str | Path, points: dict | None = None) -> tuple[Assignment, nbformat.NotebookNode]:
    """Read a chapter; return its assignment and its student notebook (with nbgrader metadata).

    Args:
        chapter: the chapter notebook, with solutions.
        points: exercise number -> points (default: 1 point each).

    Raises:
        ValueError: an exercise without a check cell, two checks with one number, no exercises at all.
    """
    chapter = Path(chapter)
    source = nbformat.read(chapter, as_version=4)
    found, current = [], None  # [stub cell, solution sources, check cell]
    for cell in source.cells:
        if cell.cell_type != "code":
            continue
        if "exercise" in _tags(cell):
            if current is not None:
                raise ValueError(f"{chapter}: the exercise cell {current[0].source[:40]!r} has no check cell")
            current = [cell, [], None]
        elif current is not None and _is_solution(cell):
            current[1].append(cell.source)
        elif current is not None and CHECK_ID.search(cell.source):
            current[2] = cell
            found.append(current)
            current = None
    if current is not None:
        raise ValueError(f"{chapter}: the exercise cell {current[0].source[:40]!r} has no check cell after it")
    if not found:
        raise ValueError(f"{chapter} has no exercises (code cells tagged 'exercise' followed by a check cell)")
    ids = [CHECK_ID.search(check.source).group(1) for _, _, check in found]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{chapter}: two check cells share a number: {ids}")
    points = _parse_points(points, ids)
    by_cell = {id(stub): exercise_id for (stub, _, _), exercise_id in zip(found, ids)}
    by_check = {id(check): exercise_id for (_, _, check), exercise_id in zip(found, ids)}
    exercises = [Exercise(exercise_id, points[exercise_id], stub.source, "\n\n".join(solutions), check.source)
                 for (stub, solutions, check), exercise_id in zip(found, ids)]

    # The student version keeps every non-solution cell in order, after one note cell.
    kept = [cell for cell in source.cells if not _is_solution(cell)]
    student = student_notebook(chapter)
    student.cells[0].source += GRADED_NOTE
    assert len(student.cells) == len(kept) + 1
    cells, locked = [], 0
    for cell, original in zip(student.cells, [None] + kept):
        exercise_id = by_cell.get(id(original)) or by_check.get(id(original))
        if original is not None and id(original) in by_cell:
            kind, grade_id = "exercise", f"exercise-{_id_part(exercise_id)}"
        elif original is not None and id(original) in by_check:
            kind, grade_id = "check", f"check-{_id_part(exercise_id)}"
        else:
            kind, grade_id, locked = "locked", f"locked-{locked}", locked + 1
        cell.metadata["nbgrader"] = _nbgrader(kind, grade_id, points.get(exercise_id, 0))
        if kind != "exercise":
            cell.metadata.update(editable=False, deletable=False)
        cells.append({"grade_id": grade_id, "kind": kind, "cell_type": cell.cell_type, "source": cell.source,
                      "exercise": exercise_id})
    student.metadata["course_grade"] = {"assignment": chapter.stem, "format": FORMAT}
    return Assignment(chapter.stem, chapter.name, exercises, cells), student


def _id_part(exercise_id: str) -> str:
    """The exercise number as nbgrader allows it in a grade id (letters, digits, _ and -): 4.1 -> 4_1."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", exercise_id)


def _nbgrader(kind: str, grade_id: str, points: float) -> dict:
    """nbgrader's cell metadata (schema 3) for a cell of this kind."""
    metadata = {"grade": kind == "check", "grade_id": grade_id, "locked": kind != "exercise",
                "schema_version": 3, "solution": kind == "exercise", "task": False}
    if kind == "check":
        metadata["points"] = points
    return metadata


def nbgrader_source(assignment: Assignment, student: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The assignment as an nbgrader source notebook: each exercise cell holds its solution
    between nbgrader's markers; each check cell is an autograded test cell with points."""
    notebook = copy.deepcopy(student)
    exercises = {cell["grade_id"]: cell["exercise"] for cell in assignment.cells if cell["kind"] == "exercise"}
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if grade_id in exercises:
            exercise = assignment.exercise(exercises[grade_id])
            cell.source = f"### BEGIN SOLUTION\n{exercise.solution}\n### END SOLUTION"
    notebook.cells = notebook.cells[1:]  # without the student-version note
    return notebook


def _edited_checks(path: Path, assignment: Assignment) -> list[str]:
    """The exercises whose hidden check in the existing file `path` differs from the chapter's self-check."""
    try:
        old = json.loads(path.read_text())
        checks = {exercise["id"]: exercise["check"] for exercise in old["exercises"]}
    except (OSError, ValueError, KeyError, TypeError):
        return ["(the whole file: it is not a grading file this command wrote)"]
    return [exercise.id for exercise in assignment.exercises if checks.get(exercise.id, exercise.check) != exercise.check]


def write_assignment(chapter: str | Path, output_dir: str | Path, points: dict | None = None,
                     force: bool = False) -> dict:
    """Write the student notebook and the instructor's files; return name -> path.

    Args:
        force: overwrite a `.grading.json` whose hidden checks were edited (the old file is kept as `.bak`).

    Raises:
        ValueError: as `make_assignment`; if `output_dir` is the chapter's own folder; or if the existing
            `.grading.json` has edited hidden checks and `force` is not given (nothing is written then).
    """
    chapter, output_dir = Path(chapter), Path(output_dir)
    if output_dir.resolve() == chapter.resolve().parent:
        raise ValueError(f"choose an output folder other than the chapter's own ({chapter.parent})")
    assignment, student = make_assignment(chapter, points)
    paths = {"student": output_dir / "student" / chapter.name,
             "checks": output_dir / "instructor" / f"{chapter.stem}.grading.json",
             "nbgrader": output_dir / "instructor" / f"{chapter.stem}.nbgrader.ipynb"}
    edited = _edited_checks(paths["checks"], assignment) if paths["checks"].exists() else []
    if edited and not force:
        raise ValueError(f"{paths['checks']} has hidden checks that differ from the chapter's self-checks "
                         f"(exercises {', '.join(edited)}): writing the assignment again would lose those edits. "
                         "To change only the points, edit their \"points\" in that file; to overwrite it anyway, "
                         "add --force (the old file is kept as .grading.json.bak). Nothing was written.")
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    if edited:
        shutil.copyfile(paths["checks"], paths["checks"].with_name(paths["checks"].name + ".bak"))
    nbformat.write(student, paths["student"])
    paths["checks"].write_text(json.dumps({"format": FORMAT, **asdict(assignment)}, indent=1, ensure_ascii=False))
    nbformat.write(nbgrader_source(assignment, student), paths["nbgrader"])
    return paths


def load_assignment(path: str | Path) -> Assignment:
    """Read an instructor's `.grading.json` file written by `write_assignment`.

    Raises:
        ValueError: if the file is not such a file.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read the hidden checks {path}: {error}. Give the .grading.json file "
                         "that `course-grade assign` wrote into instructor/.") from None
    if not isinstance(data, dict) or data.pop("format", None) != FORMAT:
        raise ValueError(f"{path} is not a grading file of format {FORMAT}: write it with `course-grade assign`")
    data["exercises"] = [Exercise(**exercise) for exercise in data["exercises"]]
    return Assignment(**data)
