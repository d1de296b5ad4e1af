"""Values a grader passes to student code that are not plain data.

They are encoded by the trusted side (:mod:`.codec`) into tags the worker turns into
the real thing: a seeded generator, one of the student's own functions, a kit test
helper, or an object living in the worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Seed:
    """Becomes ``np.random.default_rng(value)`` in the worker (and in the reference).

    With ``untouched=True`` the call fails when the student's code draws from that
    generator (full-batch gradient descent must never touch ``rng``).
    """

    value: int
    untouched: bool = False


@dataclass(frozen=True)
class RngState:
    """The state of a generator after a call, as reported by the worker (JSON text)."""

    state: str


@dataclass(frozen=True)
class StudentFunction:
    """The student's own function ``name`` (its module comes from the manifest)."""

    name: str


@dataclass(frozen=True)
class Fixture:
    """A kit test helper from :data:`autograder.worker_runtime.FIXTURES`."""

    name: str


class Requester(Protocol):
    """What a :class:`Remote` needs from its owner (a :class:`~.student.Student`)."""

    def request(self, op: str, name: str, args: Any, kwargs: dict[str, Any], *,
                handle: Remote | None = None) -> Any: ...


@dataclass
class Remote:
    """A student object living in the worker (Module 5 classes)."""

    student: Requester
    handle: int
    type_name: str
    generation: int = field(default=0)

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.student.request("method", method, args, kwargs, handle=self)

    def get(self, attr: str) -> Any:
        return self.student.request("getattr", attr, (), {}, handle=self)

    def set(self, attr: str, value: Any) -> None:
        self.student.request("setattr", attr, (value,), {}, handle=self)

    def __repr__(self) -> str:
        return f"<student {self.type_name} object>"
