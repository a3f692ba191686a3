"""The grader's results: the CSV gradebook and one plain-words feedback file per student."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from course_utils.checkpoint import replacing

__all__ = ["STATUS_TEXT", "Outcome", "write_feedback", "write_gradebook"]

# status -> what it means, in the words the feedback file uses
STATUS_TEXT = {
    "passed": "passed",
    "failed": "the hidden check found a wrong answer",
    "not done": "not done yet (the stub still raises NotImplementedError or returns ...)",
    "error": "your code raised an error",
    "syntax error": "your code has a syntax error, so it could not run",
    "missing": "the exercise cell was not found in your notebook (was it deleted?)",
    "tampered": "your code interfered with the grader (it changed functions the checks rely on, or wrote to "
                "the grader's answer channel), so no point could be given",
    "timeout": "the time limit was reached before this exercise was checked (an endless loop?)",
    "memory limit": "your code used more memory than allowed",
    "crashed": "the Python process stopped before this exercise was checked",
    "too much output": "your code printed far too much",
    "disk limit": "your code wrote files that took more disk space than allowed",
    "not run": "not checked, because an earlier problem stopped the run",
    "invalid notebook": "the file is not a notebook that Jupyter can open",
    "empty file": "the file is empty",
    "file too large": "the file is too large to grade",
    "wrong notebook": "this is not the notebook of this assignment",
}


@dataclass
class Outcome:
    """One exercise of one submission, as a row of the gradebook."""

    student: str
    exercise: str
    points: float
    max_points: float
    status: str
    first_error_line: str = ""


def _cell(text: str) -> str:
    """A CSV field that a spreadsheet shows as text: one starting with = + - @ (a formula) gets a leading '."""
    return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text


def write_gradebook(path: Path, rows: list[Outcome]) -> None:
    """Write the gradebook at once (a temporary file, then renamed): a stopped run leaves the old one whole."""
    with replacing(path) as temporary, open(temporary, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["student", "exercise", "points", "max_points", "status", "first_error_line"])
        writer.writerows([_cell(row.student), row.exercise, f"{row.points:g}", f"{row.max_points:g}", row.status,
                          _cell(row.first_error_line)] for row in rows)


def write_feedback(path: Path, student: str, assignment, rows: list[Outcome], notes: list) -> None:
    """A short, plain feedback file for one student."""
    total = sum(row.points for row in rows)
    lines = [f"Feedback for {student} on {assignment.notebook}",
             f"Score: {total:g} of {assignment.max_points:g} points.", ""]
    for row in rows:
        lines.append(f"Exercise {row.exercise} ({row.points:g} of {row.max_points:g}): {STATUS_TEXT[row.status]}.")
        if row.first_error_line:
            lines.append(f"    {row.first_error_line}")
    if notes:
        lines += ["", "Also:"] + [f"- {note}" for note in notes]
    lines += ["", "Each exercise was checked by running your exercise cells with the notebook's other cells as "
              "they were assigned, in FAST mode, in a fresh Python process."]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
