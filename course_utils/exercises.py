"""Self-checks for the exercises at the end of every chapter.

An exercise in a chapter has four cells: the task (markdown); a cell tagged
`exercise` where the student writes code (it starts as a stub that raises
`NotImplementedError`); a solution cell tagged `solution` and `hide-cell`
(hidden on the website, removed from the student version); and a check cell:

    with check("4.1"):
        expect_close(my_transpose(x), x.T, "my_transpose(x) should equal x.T")

`check` prints one line saying the exercise passed, or raises an error that
says plainly what is wrong (or that the exercise is not done yet). The
`expect_*` checks name the mistakes beginners make most: a function that
returns None (a forgotten `return`), an answer of the wrong type, complex
numbers where real ones are due.
"""

from __future__ import annotations

import reprlib
from contextlib import contextmanager

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

__all__ = ["CountTorchCalls", "ExerciseFailed", "check", "expect", "expect_close", "expect_equal", "expect_shape",
           "is_plain_value"]

# Bound once, when this module is loaded. The grader loads its private copy of this file before any
# student code runs, so a later patch of torch (even one that puts the original back before anyone
# looks) cannot change what the checks compute. `_no_dispatch` switches off `__torch_function__`
# overrides (tensor subclasses and modes such as CountTorchCalls) while a check compares values.
_allclose, _as_tensor, _eq, _all = torch.allclose, torch.as_tensor, torch.eq, torch.all
_detach, _cpu, _clone, _to, _as_subclass = (torch.Tensor.detach, torch.Tensor.cpu, torch.Tensor.clone,
                                            torch.Tensor.to, torch.Tensor.as_subclass)
_no_dispatch = torch._C.DisableTorchFunction
_Tensor, _ndarray = torch.Tensor, np.ndarray
# Types whose == can be trusted: an answer of any other type (say, a class whose __eq__ always says
# True) is refused by `expect_equal` before it is compared.
_PLAIN_TYPES = (frozenset({bool, int, float, complex, str, bytes, type(None), torch.dtype, torch.device})
                | frozenset(np.sctypeDict.values()))
_PLAIN_CONTAINERS = frozenset({tuple, list, set, frozenset, dict, torch.Size})


class ExerciseFailed(AssertionError):
    """A self-check found a wrong answer; the message says what is wrong."""


FORGOT_RETURN = "your function returned None: did you forget `return`?"


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
    except NotImplementedError as error:
        if str(error):  # raised by a library (e.g. an operation PyTorch lacks for this dtype), not by a stub
            raise _raised(exercise, error, hint_text) from error
        raise ExerciseFailed(f"Exercise {exercise} is not done yet: replace `raise NotImplementedError` in the "
                             f"exercise cell with your code, run that cell, then run this check again.") from None
    except ExerciseFailed as failure:
        stop = "" if str(failure).endswith(("?", ".")) else "."
        raise ExerciseFailed(f"Exercise {exercise} is not right yet: {failure}{stop}{hint_text}") from None
    except Exception as error:
        raise _raised(exercise, error, hint_text) from error
    print(f"Exercise {exercise}: all checks passed.")


def _raised(exercise: str, error: Exception, hint_text: str) -> ExerciseFailed:
    """The failure for an error that the student's code raised, with the error's own message."""
    # e.g. "'NoneType' object has no attribute 'shape'" or "cannot unpack non-iterable NoneType object"
    none_text = (" Something is None where a value was expected: did a function of yours forget `return`?"
                 if "NoneType" in str(error) else "")
    stop = "" if str(error).endswith((".", "?", "!")) else "."
    return ExerciseFailed(f"Exercise {exercise}: your code raised {type(error).__name__}: {error}{stop}"
                          f"{none_text}{hint_text}")


class CountTorchCalls(TorchFunctionMode):
    """Counts the PyTorch operations run inside `with CountTorchCalls() as counter:` (`counter.calls`).

    A check uses it to tell one batched computation (a handful of operations, whatever the batch
    size) from a Python loop over the rows (a few operations per row), without timing anything.
    """

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.calls += 1
        return func(*args, **(kwargs or {}))


def is_plain_value(value) -> bool:
    """True for a value of a built-in type whose `==` can be trusted: numbers, strings, None, dtypes,
    devices, NumPy scalars, and tuples, lists, sets and dicts of those. False for anything else, such
    as an object of a class of one's own, whose `__eq__` may say True to everything."""
    kind = type(value)
    if kind in _PLAIN_TYPES:
        return True
    if kind not in _PLAIN_CONTAINERS:
        return False
    items = [*value.keys(), *value.values()] if kind is dict else value
    return all(is_plain_value(item) for item in items)


def expect(condition: bool, message: str) -> None:
    """Fail with `message` unless `condition` is True (a bool, a NumPy bool, or a one-element bool tensor)."""
    if isinstance(condition, _Tensor):
        with _no_dispatch():
            plain = _as_subclass(condition, _Tensor)
            if plain.numel() == 1 and plain.dtype == torch.bool:
                condition = bool(plain.item())
    if type(condition) not in (bool, np.bool_):
        raise ExerciseFailed(f"{message} (the check expected True or False, got {type(condition).__name__}: "
                             f"{reprlib.repr(condition)})")
    if not condition:
        raise ExerciseFailed(message)


def _answer(value, message: str, expected=None) -> None:
    """Say "not done yet" for a stub's `...`, and name a forgotten `return` (None where an answer is due)."""
    if value is Ellipsis:
        raise NotImplementedError
    if value is None and expected is not None:
        raise ExerciseFailed(f"{message}: {FORGOT_RETURN}")


def _tensor(value, message: str, expected: torch.Tensor | None = None) -> torch.Tensor:
    """`value` as a CPU tensor, or a clear failure: a wrong type, or complex numbers where real ones are due."""
    try:
        with _no_dispatch():  # a tensor subclass becomes a plain tensor; its __torch_function__ is not run
            tensor = (_clone(_cpu(_detach(_as_subclass(value, _Tensor)))) if isinstance(value, _Tensor)
                      else _as_tensor(value))
    except (TypeError, ValueError, RuntimeError):
        raise ExerciseFailed(f"{message} (expected a tensor or numbers, got {type(value).__name__}: "
                             f"{reprlib.repr(value)})") from None
    if tensor.is_complex() and expected is not None and not expected.is_complex():
        raise ExerciseFailed(f"{message} (expected real numbers, got complex ones: {reprlib.repr(value)}; "
                             "a square root or logarithm of a negative number?)")
    return tensor


def expect_shape(value, shape, name: str = "the result") -> None:
    """Fail unless `value` is a tensor of the given shape."""
    _answer(value, name, expected=shape)
    expect(isinstance(value, torch.Tensor), f"{name} should be a torch.Tensor, got {type(value).__name__}")
    expect(tuple(value.shape) == tuple(shape), f"{name} should have shape {tuple(shape)}, got {tuple(value.shape)}")


def expect_close(actual, expected, message: str, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """Fail with `message` (and the largest difference) unless the values agree numerically."""
    _answer(actual, message, expected)
    expected = _tensor(expected, "the expected value")
    actual = _tensor(actual, message, expected)
    expect(actual.shape == expected.shape,
           f"{message} (shape {tuple(actual.shape)} where {tuple(expected.shape)} was expected)")
    dtype = torch.complex128 if expected.is_complex() else torch.float64
    with _no_dispatch():
        actual, expected = _to(actual, dtype), _to(expected, dtype)
        close = _allclose(actual, expected, rtol=rtol, atol=atol)
    if not close:
        difference = (actual - expected).abs().max().item()
        raise ExerciseFailed(f"{message} (largest difference {difference:.3g})")


def expect_equal(actual, expected, message: str) -> None:
    """Fail with `message` unless `actual == expected` (tensors and arrays: same shape and values)."""
    _answer(actual, message, expected)
    if any(isinstance(value, (_Tensor, _ndarray)) for value in (actual, expected)):
        expected = _tensor(expected, "the expected value")
        actual = _tensor(actual, message, expected)
        with _no_dispatch():
            same = actual.shape == expected.shape and bool(_all(_eq(actual, expected)))
    else:
        if isinstance(actual, complex) and not isinstance(expected, complex):
            raise ExerciseFailed(f"{message} (expected a real number, got the complex {actual!r})")
        for value in (actual, expected):
            if not is_plain_value(value):
                raise ExerciseFailed(f"{message} (expected a plain {type(expected).__name__} such as "
                                     f"{reprlib.repr(expected)}, got an object of type {type(value).__name__}; "
                                     "return a built-in value: a number, a string, or a tuple, list, set or "
                                     "dict of those, e.g. int(...) of your result)")
        try:
            same = bool(actual == expected)
        except (TypeError, ValueError, RuntimeError):  # e.g. a list of tensors: == has no single answer
            raise ExerciseFailed(f"{message} (cannot compare {type(actual).__name__} with "
                                 f"{type(expected).__name__}; expected {expected!r})") from None
    expect(same, f"{message} (got {actual!r}, expected {expected!r})")
