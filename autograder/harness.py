"""What hidden graders import: the ``grade`` marker, the student proxy and reference calls.

A grader is a pytest test in ``autograder/graders/test_ch<id>.py`` (module constant
``CHAPTER``) decorated with :func:`grade`; it receives the ``student`` fixture (a
:class:`~autograder.sandbox.Student`) and an ``rng`` seeded per submission and per
test. See docs/DESIGN.md.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
import pytest

from dlnp.manifest import load_manifest

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
    "Fixture",
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
    "grade",
    "reference",
    "reference_args",
    "seed_from",
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
