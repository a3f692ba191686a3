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


# Review findings 2 and 4: the checking functions cannot be fooled by an answer's own methods.

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.overrides import TorchFunctionMode  # noqa: E402

from course_utils.exercises import ExerciseFailed, check, expect, expect_close, expect_equal  # noqa: E402


class Always(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


class Agree(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.allclose, torch.Tensor.__eq__, torch.eq, torch.Tensor.all, torch.all):
            return True
        return super().__torch_function__(func, types, args, kwargs)


class Yes(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in (torch.allclose, torch.eq, torch.all):
            return True
        return func(*args, **(kwargs or {}))


def test_an_answer_whose_eq_always_says_true_is_refused():
    with pytest.raises(ExerciseFailed, match="expected a plain int such as 2, got an object of type Always"):
        expect_equal(Always(0), 2, "the count")
    with pytest.raises(ExerciseFailed):
        expect_equal([Always(0)], [2], "the counts")  # inside a list too
    expect_equal(2, 2.0, "a number")  # int against float, numpy scalars, shapes and dtypes stay fine
    expect_equal(np.int64(3), 3, "a NumPy count")
    expect_equal(torch.zeros(2, 3).shape, (2, 3), "a shape")
    expect_equal(torch.zeros(1).dtype, torch.float32, "a dtype")
    with pytest.raises(ExerciseFailed, match="expected True or False, got Always"):
        expect(Always(1), "a condition")
    expect(torch.tensor(True), "a one-element bool tensor")
    expect(np.bool_(True), "a NumPy bool")


def test_a_tensor_subclass_or_mode_cannot_make_a_wrong_answer_pass():
    wrong = torch.tensor([1.0, 2.0]).as_subclass(Agree)
    with pytest.raises(ExerciseFailed, match="largest difference"):
        expect_close(wrong, torch.tensor([2.0, 4.0]), "double")
    with pytest.raises(ExerciseFailed):
        expect_equal(wrong, torch.tensor([2.0, 4.0]), "double")
    with Yes():
        with pytest.raises(ExerciseFailed):
            expect_close(torch.tensor([1.0]), torch.tensor([2.0]), "under a mode")
        with pytest.raises(ExerciseFailed):
            expect_equal(torch.tensor([1.0]), torch.tensor([2.0]), "under a mode")


def test_chapter_4_quiz_refuses_answers_that_equal_everything():
    notebook = nbformat.read(CHAPTERS[0].parent / "04_tensors_autograd.ipynb", as_version=4)
    quiz = next(cell.source for cell in notebook.cells if 'check("4.Q"' in cell.source)
    namespace = {"torch": torch, "math": __import__("math"), "check": check, "expect": expect,
                 "quiz_answers": {question: Always() for question in range(1, 9)}}
    with pytest.raises(ExerciseFailed, match=r"questions \[1, 2, 3, 4, 5, 6, 7, 8\] are not right yet"):
        exec(quiz, namespace)
