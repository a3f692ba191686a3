"""Check an assignment itself: every solution passes its hidden check, every unanswered stub fails it."""

from __future__ import annotations

import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

from course_utils.grading.assignment import FORMAT, Assignment
from course_utils.grading.grader import Limits, grade_notebook

__all__ = ["assigned_notebook", "selfcheck"]


def assigned_notebook(assignment: Assignment, answers: dict | None = None) -> nbformat.NotebookNode:
    """The student notebook as assigned, with exercise number -> source put in its exercise cells
    (the others keep their stubs). Tests and `selfcheck` make submissions with it."""
    answers = answers or {}
    cells = []
    for cell in assignment.cells:
        make = nbformat.v4.new_code_cell if cell["cell_type"] == "code" else nbformat.v4.new_markdown_cell
        source = answers.get(cell["exercise"], cell["source"]) if cell["kind"] == "exercise" else cell["source"]
        tags = ["exercise"] if cell["kind"] == "exercise" else []
        cells.append(make(source, metadata={"tags": tags, "nbgrader": {"grade_id": cell["grade_id"]}}))
    return nbformat.v4.new_notebook(cells=cells, metadata={"course_grade": {"assignment": assignment.name,
                                                                            "format": FORMAT}})


def selfcheck(assignment: Assignment, limits: Limits = Limits(), sides=("solutions", "stubs")) -> dict:
    """Grade the solutions and the bare stubs; return side -> exercise -> (status, first error line),
    plus "problems": a list of sentences, empty when every solution passes and every stub fails."""
    answers = {"solutions": {exercise.id: exercise.solution for exercise in assignment.exercises}, "stubs": {}}
    report, problems = {}, []
    with tempfile.TemporaryDirectory(prefix="course-grade-selfcheck-") as folder:
        paths = [Path(folder) / f"{side}.ipynb" for side in sides]
        for side, path in zip(sides, paths):
            nbformat.write(assigned_notebook(assignment, answers[side]), path)
        with ThreadPoolExecutor(max_workers=limits.jobs) as pool:
            runs = list(pool.map(lambda path: grade_notebook(path, assignment, limits), paths))
    for side, run in zip(sides, runs):
        report[side] = run.outcomes
        problems += [f"{side}: {note}" for note in run.notes]
        for exercise_id, (status, line) in run.outcomes.items():
            if (status == "passed") != (side == "solutions"):
                problems.append(f"exercise {exercise_id}: the {side[:-1]} gives '{status}' {line}".strip())
    report["problems"] = problems
    return report
