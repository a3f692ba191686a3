"""Self-checks for the exercises at the end of every chapter.

An exercise in a chapter has four cells: the task (markdown); a cell tagged
`exercise` where the student writes code (it starts as a stub that raises
`NotImplementedError`); a solution cell tagged `solution` and `hide-cell`
(hidden on the website, removed from the student version); and a check cell:

    with check("4.1"):
        expect_close(my_transpose(x), x.T, "my_transpose(x) should equal x.T")

`check` prints one line saying the exercise passed, or raises an error that
says plainly what is wrong (or that the exercise is not done yet).
"""

from __future__ import annotations

from contextlib import contextmanager

import torch

__all__ = ["ExerciseFailed", "check", "expect", "expect_close", "expect_equal", "expect_shape"]


class ExerciseFailed(AssertionError):
    """A self-check found a wrong answer; the message says what is wrong."""


@contextmanager
def check(exercise: str, hint: str = ""):
    """Run an exercise's checks; print a pass line, or raise a clear error.

    Args:
        exercise: the exercise's number, e.g. "4.1".
        hint: shown when a check fails.
    """
    hint_text = f" Hint: {hint}" if hint else ""
    try:
        yield
    except NotImplementedError:
        raise ExerciseFailed(f"Exercise {exercise} is not done yet: replace `raise NotImplementedError` in the "
                             f"exercise cell with your code, run that cell, then run this check again.") from None
    except ExerciseFailed as failure:
        raise ExerciseFailed(f"Exercise {exercise} is not right yet: {failure}.{hint_text}") from None
    except Exception as error:
        raise ExerciseFailed(f"Exercise {exercise}: your code raised {type(error).__name__}: {error}.{hint_text}") \
            from error
    print(f"Exercise {exercise}: all checks passed.")


def expect(condition: bool, message: str) -> None:
    """Fail with `message` unless `condition` holds."""
    if not condition:
        raise ExerciseFailed(message)


def _tensor(value) -> torch.Tensor:
    return value.detach().cpu() if isinstance(value, torch.Tensor) else torch.as_tensor(value)


def expect_shape(value, shape, name: str = "the result") -> None:
    """Fail unless `value` is a tensor of the given shape."""
    expect(isinstance(value, torch.Tensor), f"{name} should be a torch.Tensor, got {type(value).__name__}")
    expect(tuple(value.shape) == tuple(shape), f"{name} should have shape {tuple(shape)}, got {tuple(value.shape)}")


def expect_close(actual, expected, message: str, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """Fail with `message` (and the largest difference) unless the values agree numerically."""
    if actual is None or actual is Ellipsis:
        raise NotImplementedError
    actual, expected = _tensor(actual), _tensor(expected)
    expect(actual.shape == expected.shape,
           f"{message} (shape {tuple(actual.shape)} where {tuple(expected.shape)} was expected)")
    if not torch.allclose(actual.double(), expected.double(), rtol=rtol, atol=atol):
        difference = (actual.double() - expected.double()).abs().max().item()
        raise ExerciseFailed(f"{message} (largest difference {difference:.3g})")


def expect_equal(actual, expected, message: str) -> None:
    """Fail with `message` unless `actual == expected` (tensors: same shape and values)."""
    if actual is Ellipsis:
        raise NotImplementedError
    if isinstance(actual, torch.Tensor) or isinstance(expected, torch.Tensor):
        actual, expected = _tensor(actual), _tensor(expected)
        same = actual.shape == expected.shape and bool((actual == expected).all())
    else:
        same = actual == expected
    expect(same, f"{message} (got {actual!r}, expected {expected!r})")
