"""What hidden graders import: the ``grade`` marker, the student proxy and reference calls.

A grader is a pytest test in ``autograder/graders/test_ch<id>.py`` (module constant
``CHAPTER``) decorated with :func:`grade`; it receives the ``student`` fixture (a
:class:`~autograder.sandbox.Student`) and an ``rng`` seeded per submission and per
test. See docs/DESIGN.md.

Score once, without trusting a worker's memory (issue 11, item 6): a grader that accepts
a result equal to the composition of the student's own earlier functions evaluates those
functions in a :class:`FreshWorker`, a second worker process for the same submission
with its own scratch folder, started only when the graded result differs from the
reference and closed at the end of the test. That worker never receives the graded
call, so nothing it answers can depend on what the graded function returned.
:func:`own_composition` runs the reference implementation with the student's own
earlier functions (called in such a worker) in place of the reference ones.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import stat
import sys
from collections.abc import Callable, Generator, Sequence
from typing import Any, TypeVar, cast

import numpy as np
import pytest

from dlnp.manifest import load_manifest
from dlnp.testing import Feedback, describe, silenced_message, silencing_call

from .sandbox import (
    Fixture,
    InputMutated,
    Remote,
    Seed,
    Student,
    StudentCrashed,
    StudentError,
    StudentFunction,
    StudentNotImplemented,
    StudentRaised,
    StudentTimeout,
)
from .worker_runtime import FIXTURES

__all__ = [
    "CompositionUnavailable",
    "Fixture",
    "FreshWorker",
    "InputMutated",
    "Remote",
    "Seed",
    "Student",
    "StudentCrashed",
    "StudentError",
    "StudentFunction",
    "StudentNotImplemented",
    "StudentRaised",
    "StudentTimeout",
    "check_not_silenced",
    "check_raises",
    "fresh_worker",
    "grade",
    "own_composition",
    "own_functions",
    "raised_like_own_composition",
    "raised_like_own_functions",
    "reference",
    "reference_args",
    "seed_from",
    "silenced_warnings",
]

F = TypeVar("F", bound=Callable[..., Any])


def grade(function: str, points: float) -> Callable[[F], F]:
    """Mark a hidden grader: it grades ``function`` and is worth ``points``."""
    mark = pytest.mark.grade(function=function, points=points)

    def decorate(test: F) -> F:
        return mark(test)

    return decorate


def reference_function(name: str) -> Callable[..., Any]:
    """The reference implementation of manifest function/class ``name``."""
    module = load_manifest().modules[name]
    return getattr(importlib.import_module(f"solutions.{module}"), name)  # pyright: ignore[reportAny]


def reference_args(value: Any) -> Any:
    """Replace Seed / StudentFunction / Fixture by their trusted equivalents (recursively)."""
    if isinstance(value, Seed):
        return np.random.default_rng(value.value)
    if isinstance(value, StudentFunction):
        return reference_function(value.name)
    if isinstance(value, Fixture):
        return FIXTURES[value.name]
    if isinstance(value, tuple):
        return tuple(reference_args(v) for v in value)  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, list):
        return [reference_args(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, dict):
        return {k: reference_args(v) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, np.ndarray):
        return cast("np.ndarray[Any, Any]", value).copy()
    return value


def reference(name: str, *args: Any, **kwargs: Any) -> Any:
    """Call the reference ``name`` with the same (student-style) arguments as ``student.call``."""
    return reference_function(name)(*reference_args(args), **reference_args(kwargs))


def seed_from(rng: np.random.Generator) -> Seed:
    """A fresh :class:`Seed` drawn from the per-test generator."""
    return Seed(int(rng.integers(0, 2**31 - 1)))


# ----------------------------------------------------------------------------- score once


class FreshWorker:
    """A second, independent worker for the submission of ``student``, started on first use.

    It has its own process, its own scratch folder and uid, gets its own per-test budget,
    and is only ever asked for the student's EARLIER functions: it never sees the graded
    call, so a submission cannot make its answers agree with a wrong graded result.
    During a grading it is the main worker's :meth:`~autograder.sandbox.Student.oracle`,
    shared by the tests of the graded function (it never runs that function); outside
    one, a worker of its own. Close it with :meth:`close` (or use :func:`fresh_worker`).
    """

    def __init__(self, student: Student) -> None:
        self._main = student
        self._worker: Student | None = None
        self._owned = False

    @property
    def started(self) -> bool:
        return self._worker is not None

    def _student(self) -> Student:
        if self._worker is None:
            main = self._main
            shared = main.oracle()
            worker = shared or main.twin()
            self._owned = shared is None
            worker.begin_test(main.test_deadline)  # shares the graded test's deadline (and so the budget)
            self._worker = worker
        return self._worker

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """The student's ``name(*args, **kwargs)``, evaluated in the fresh worker."""
        return self._student().call(name, *args, **kwargs)

    def try_call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Like :meth:`call` but ``None`` when the student's code fails in any way."""
        try:
            return self.call(name, *args, **kwargs)
        except StudentError:
            return None

    def new(self, name: str, *args: Any, **kwargs: Any) -> Remote:
        """Construct the student's class ``name`` in the fresh worker; returns a handle."""
        return self._student().new(name, *args, **kwargs)

    def unguarded(self, obj: Remote, method: str, *args: Any) -> Any:
        """``obj.method(*args)`` without the input guard: for using the student's own objects as an
        oracle (a layer that writes into its input is charged in its own chapter, not here)."""
        return self._student().request("method", method, args, {}, handle=obj, check_inputs=False)

    @property
    def last_warnings(self) -> list[str]:
        return [] if self._worker is None else list(self._worker.last_warnings)

    def close(self) -> None:
        if self._worker is not None:
            if self._owned:
                self._worker.close()
            self._worker = None


@contextlib.contextmanager
def fresh_worker(student: Student) -> Generator[FreshWorker]:
    """A :class:`FreshWorker` for the duration of a ``with`` block (started lazily, always closed)."""
    fresh = FreshWorker(student)
    try:
        yield fresh
    finally:
        fresh.close()


class CompositionUnavailable(Exception):
    """The student's own earlier function failed: no composition with it exists."""


def _usable_like(value: Any, like: Any) -> bool:
    """Can the composition go on with the student's ``value`` where the reference gave ``like``?

    Any numeric array will do, whatever its shape: the student's own function may reduce
    too far or broadcast, and their later function built on it does the same.
    """
    if not isinstance(like, np.ndarray):
        return isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_))
    return isinstance(value, np.ndarray) and cast("np.ndarray[Any, Any]", value).dtype.kind in "fiub"


@contextlib.contextmanager
def own_functions(fresh: FreshWorker, owner: str, names: Sequence[str]) -> Generator[None]:
    """Inside the block, the reference module of ``owner`` calls the student's own ``names``.

    Each replaced function is evaluated in the fresh worker; when it fails or returns
    something that is not a numeric array (or number), :class:`CompositionUnavailable` is
    raised (caught by :func:`own_composition`). The reference module is restored on exit.
    """
    module = sys.modules[reference_function(owner).__module__]
    saved = {name: getattr(module, name) for name in names}

    def proxy(name: str) -> Callable[..., Any]:
        trusted = saved[name]

        def call(*args: Any, **kwargs: Any) -> Any:
            value = fresh.try_call(name, *args, **kwargs)
            with np.errstate(all="ignore"):
                like = trusted(*args, **kwargs)
            if not _usable_like(value, like):
                raise CompositionUnavailable(name)
            return value

        return call

    try:
        for name in names:
            setattr(module, name, proxy(name))
        yield
    finally:
        for name, function in saved.items():
            setattr(module, name, function)


def own_composition(fresh: FreshWorker, name: str, *args: Any, own: Sequence[str], **kwargs: Any) -> Any:
    """The reference ``name(*args, **kwargs)`` built on the student's own ``own`` functions.

    ``own`` names earlier functions that the reference of ``name`` calls (``relu``,
    ``softmax``...); they are evaluated in ``fresh``. Returns ``None`` when one of them
    fails or the composition cannot be computed from what they return.
    """
    try:
        with own_functions(fresh, name, own), np.errstate(all="ignore"):
            return reference(name, *args, **kwargs)
    except (CompositionUnavailable, ArithmeticError, ValueError, TypeError, IndexError):
        return None


# ----------------------------------------------------------------------------- warnings


MAX_SOURCE_BYTES = 1024**2
def _module_source(student: Student, function: str) -> str | None:
    """The source of the module that defines ``function`` in the submission (bounded, no symlink)."""
    path = student.submission / "neural_network" / f"{student.modules[function]}.py"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_SOURCE_BYTES:
            return None
        return os.read(fd, MAX_SOURCE_BYTES).decode("utf-8", errors="replace")
    finally:
        os.close(fd)


def silenced_warnings(student: Student, function: str) -> str | None:
    """The warnings-silencing call that ``function`` makes (e.g. ``"errstate"``), or None.

    The numerical-stability checks judge the RuntimeWarnings a function raises in the
    worker; a function that turns them off while it runs (``warnings.filterwarnings(
    "ignore")``, ``np.seterr``, ``np.errstate(over="ignore")``, ``warnings.catch_warnings``)
    would pass them by hiding an overflow rather than avoiding it, so those checks fail
    it (the docstrings say so). The definition of ``function`` and the module's helper
    functions it refers to are read; ``np.errstate(under="ignore")`` is allowed (underflow
    to 0 is the right answer). Module-level settings do not matter: the worker restores
    its own warning settings around every call. Returns None when the source cannot be read.
    """
    source = _module_source(student, function)
    return None if source is None else silencing_call(source, function)


def check_not_silenced(student: Student, function: str, call: str) -> None:
    """Fail a numerical-stability check when ``function`` silences the warnings it is judged by."""
    found = silenced_warnings(student, function)
    if found is not None:
        raise Feedback(silenced_message(function, found, call))


def check_raises(student: Student, function: str, *args: Any, call: str, expected: str = "ValueError",
                 why: str = "", **kwargs: Any) -> None:
    """Check that the student's ``function(*args, **kwargs)`` raises ``expected`` (a docstring's Raises).

    ``call`` names the call for the message; ``why`` says what the docstring pins. A
    subclass is not recognised by name, so the exact class (or its name) must be raised.
    """
    try:
        got = student.call(function, *args, **kwargs)
    except StudentRaised as exc:
        kind = re.search(r" raised (\w+): ", exc.message)
        if kind is not None and kind.group(1) == expected:
            return
        raise Feedback(
            f"{call} must raise {expected} ({why}).\n{exc.message}\nLikely mistake (wrong exception type) check the "
            f"argument first and raise {expected}(...) yourself, with a message that says what is wrong."
        ) from None
    raise Feedback(
        f"{call} returned a value instead of raising {expected} ({why}).\n  got: {describe(got)}\n"
        f"Likely mistake (no validation) check the argument at the start of {function} and raise "
        f"{expected}(...) when it is invalid; do not compute a result from it."
    )


def raised_like_own_composition(student: Student, error: StudentRaised, name: str, *args: Any,
                                own: Sequence[str], **kwargs: Any) -> bool:
    """Score once for a crash: did the reference ``name`` built on the student's own ``own``
    functions (asked in a fresh worker) raise the same exception type as the student's ``name``?

    Then the student's function fails only because an earlier function of theirs is wrong
    (e.g. a ``relu`` that reduces to a vector makes every later matrix product fail),
    which that function's own chapter charges.
    """
    kind = re.search(r" raised (\w+): ", error.message)
    if kind is None:
        return False
    with fresh_worker(student) as fresh:
        try:
            with own_functions(fresh, name, own), np.errstate(all="ignore"):
                reference(name, *args, **kwargs)
        except CompositionUnavailable:
            return False
        except Exception as exc:  # the composition itself fails: compare the kind of failure
            return type(exc).__name__ == kind.group(1)
    return False


class _OwnFunctionRaised(Exception):
    """One of the student's own earlier functions raised ``kind`` (an exception type name)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


_RAISED = re.compile(r" raised (\w+): ")


def raised_like_own_functions(student: Student, error: StudentRaised, name: str, *args: Any,
                              own: Sequence[str], **kwargs: Any) -> bool:
    """Score once for a crash that starts in an earlier function: like
    :func:`raised_like_own_composition`, but the student's own earlier function may raise too.

    The reference ``name`` is run with the student's own ``own`` functions (asked in a
    fresh worker, without the input guard: a function that writes into its input is
    charged in its own chapter). True when that composition fails with the exception
    type the student's ``name`` raised, whether the failure is raised by one of their own
    functions (a softmax without keepdims raises the ValueError that every network built
    on it raises; a ``math.exp`` sigmoid raises OverflowError for large inputs) or by the
    reference code fed with their values.
    """
    kind = _RAISED.search(error.message)
    if kind is None:
        return False
    module = sys.modules[reference_function(name).__module__]
    saved = {own_name: getattr(module, own_name) for own_name in own}

    def proxy(fresh: FreshWorker, own_name: str) -> Callable[..., Any]:
        trusted = saved[own_name]

        def call(*call_args: Any, **call_kwargs: Any) -> Any:
            try:
                value = fresh.call(own_name, *call_args, check_inputs=False, **call_kwargs)
            except StudentRaised as exc:
                found = _RAISED.search(exc.message)
                raise _OwnFunctionRaised(found.group(1) if found else "") from None
            except StudentError:
                raise CompositionUnavailable(own_name) from None
            with np.errstate(all="ignore"):
                like = trusted(*call_args, **call_kwargs)
            if not _usable_like(value, like):
                raise CompositionUnavailable(own_name)
            return value

        return call

    with fresh_worker(student) as fresh:
        try:
            for own_name in own:
                setattr(module, own_name, proxy(fresh, own_name))
            with np.errstate(all="ignore"):
                reference(name, *args, **kwargs)
        except _OwnFunctionRaised as exc:
            return exc.kind == kind.group(1)
        except CompositionUnavailable:
            return False
        except Exception as exc:  # the composition itself fails: compare the kind of failure
            return type(exc).__name__ == kind.group(1)
        finally:
            for own_name, function in saved.items():
                setattr(module, own_name, function)
    return False
