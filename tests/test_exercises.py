"""Every chapter's exercises can be graded: each unanswered stub fails its check, and nothing else fails.

Each chapter runs once, as the grader runs a submission (course_utils.grading: a fresh
process, FAST mode, the locked cells as assigned, the grader's own checking functions),
with every exercise left as its stub. The other half of the self-check, that every
solution passes, is what the notebook tests (nbval) already show on the full chapters;
`course-grade selfcheck` runs both halves for one chapter.
"""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from course_utils.grading import Limits, assigned_notebook, grade_notebook, make_assignment

CHAPTERS = sorted((Path(__file__).parents[1] / "chapters").glob("[0-9][0-9]_*.ipynb"))
LIMITS = Limits(wall_s=600, memory_mb=16384)  # a whole chapter; some map large libraries


@pytest.fixture(scope="module")
def stub_runs(tmp_path_factory, request):
    """chapter name -> (assignment, run of its student version with every stub unanswered), two at a time
    (only the chapters whose tests were selected, e.g. with -k 02_frameworks)."""
    folder = tmp_path_factory.mktemp("stubs")
    selected = {item.callspec.params["chapter"] for item in request.session.items
                if item.module is request.module and hasattr(item, "callspec")}
    chapters = [chapter for chapter in CHAPTERS if chapter.stem in selected]

    def run(chapter):
        assignment, _ = make_assignment(chapter)
        path = folder / chapter.name
        nbformat.write(assigned_notebook(assignment), path)
        return assignment, grade_notebook(path, assignment, LIMITS)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip((chapter.stem for chapter in chapters), pool.map(run, chapters)))


@pytest.mark.parametrize("chapter", [chapter.stem for chapter in CHAPTERS])
def test_every_stub_fails_its_check_and_nothing_else_fails(chapter, stub_runs):
    assignment, run = stub_runs[chapter]
    assert run.notes == [], f"cells other than the checks failed with the stubs in place: {run.notes}"
    statuses = {exercise: status for exercise, (status, _) in run.outcomes.items()}
    assert set(statuses) == {exercise.id for exercise in assignment.exercises}
    wrong = {exercise: run.outcomes[exercise] for exercise, status in statuses.items()
             if status not in ("not done", "failed", "error")}
    assert not wrong, f"these checks did not fail cleanly on the unanswered stub: {wrong}"
