"""Homework: assign a chapter, grade a class's submissions, check the assignment itself.

The command `course-grade` (`python -m course_utils.grading`) has three sub-commands:

    course-grade assign chapters/04_tensors_autograd.ipynb --output-dir homework
    course-grade grade homework/instructor/04_tensors_autograd.grading.json submissions/ --output-dir results
    course-grade selfcheck homework/instructor/04_tensors_autograd.grading.json

Modules: `assignment` (chapter -> student notebook, hidden checks, nbgrader
metadata), `grader` (runs each submission in its own limited process and
decides the points), `sandbox` (the process that runs a submission), `report`
(gradebook and feedback files), `selfcheck`, `cli`. The instructors' page of
the book (pages/instructors.md) walks through them.
"""

from course_utils.grading.assignment import Assignment, Exercise, load_assignment, make_assignment, write_assignment
from course_utils.grading.grader import Limits, grade_folder, grade_notebook
from course_utils.grading.report import Outcome
from course_utils.grading.selfcheck import assigned_notebook, selfcheck

__all__ = ["Assignment", "Exercise", "Limits", "Outcome", "assigned_notebook", "grade_folder", "grade_notebook",
           "load_assignment", "make_assignment", "selfcheck", "write_assignment"]
