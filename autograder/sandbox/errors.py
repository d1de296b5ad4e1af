"""What can go wrong when the grader runs student code, as exceptions.

:class:`StudentError` and its subclasses are the student's doing: each carries the
``status`` that ends in the results (``not_implemented``, ``error``, ``timeout``,
``crash``, ``failed``) and a message written for the student. :class:`SandboxError`
is the grading machine's problem: such results are not final.
"""

from __future__ import annotations


class StudentError(Exception):
    """The student's code did not produce a value; ``status`` says why."""

    status = "error"

    def __init__(self, message: str, function: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.function = function


class StudentNotImplemented(StudentError):
    status = "not_implemented"


class StudentRaised(StudentError):
    status = "error"


class StudentTimeout(StudentError):
    status = "timeout"


class StudentCrashed(StudentError):
    status = "crash"


class InputMutated(StudentError):
    status = "failed"


class SandboxError(RuntimeError):
    """The grader could not start a worker (a problem of the grading machine, not the student)."""


class RngDrawn(Exception):
    """A generator passed as ``Seed(n, untouched=True)`` was drawn from."""
