"""Hidden graders, chapter 3.1: forward_perceptron.

Pinned by the docstring: A = sigmoid(X @ W + b) of shape (n, 1), X (n, d), W (d, 1),
b (1, 1); stable (no warning) for large |XW + b|; float32 works.

One mistake is scored once: the perceptron is built on the student's own ``sigmoid``
(chapter 1.3), so its result is accepted when it equals the reference composition OR
``sigmoid(X @ W + b)`` computed by the student's own sigmoid, evaluated in a fresh
worker that never saw the graded call (:class:`~autograder.harness.FreshWorker`).
A naive sigmoid that warns is charged in 1.3, not again here, and so is a sigmoid that
raises (``math.exp`` per entry overflows for large inputs): when the perceptron raises the
exception the student's own sigmoid raises on the same Z, this chapter accepts it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from autograder.harness import (
    FreshWorker,
    Student,
    StudentError,
    StudentRaised,
    check_not_silenced,
    fresh_worker,
    grade,
    raised_like_own_functions,
    reference,
)
from autograder.toolbox import Array
from dlnp.testing import Feedback, Mistake, check_array

CHAPTER = "3.1"


def _usable(value: Any, shape: tuple[int, ...]) -> bool:
    return isinstance(value, np.ndarray) and value.shape == shape and value.dtype.kind in "fiub"


def check_composed(student: Student, got: Any, want: Array, Z: Array, *, name: str,
                   mistakes: Sequence[Mistake] = (), inputs: Sequence[Any] = ()) -> None:
    """``check_array(got, want)``, but also accept ``got`` equal to the student's own sigmoid(Z).

    The student's sigmoid is evaluated only when ``got`` is not the reference value, and
    in a fresh worker that never saw the graded call.
    """
    try:
        check_array(got, want, name=name, mistakes=mistakes, inputs=inputs)
    except Feedback:
        with fresh_worker(student) as fresh:
            own = _own_sigmoid(fresh, Z)
        if _usable(own, want.shape):
            try:
                check_array(got, own, name=name, inputs=inputs)
            except Feedback:
                pass
            else:
                return
        raise


def _problem(rng: np.random.Generator, dtype: Any = np.float64) -> tuple[Array, Array, Array]:
    n, d = int(rng.integers(5, 25)), int(rng.integers(2, 7))
    b = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 2.0, size=(1, 1))
    X, W = np.zeros((n, d)), np.zeros((d, 1))
    for _ in range(1000):                          # Z = XW + b takes both signs (0/1 labels != ReLU)
        X = rng.normal(size=(n, d))
        W = rng.normal(size=(d, 1))
        Z = X @ W + b
        if np.min(Z) < -0.1 and np.max(Z) > 0.1:
            break
    return X.astype(dtype), W.astype(dtype), b.astype(dtype)


def _mistakes(X: Array, W: Array, b: Array) -> list[Mistake]:
    X, W, b = (a.astype(np.float64) for a in (X, W, b))
    Z = X @ W + b
    sig = reference("sigmoid", Z)
    return [
        Mistake("missing bias", reference("sigmoid", X @ W),
                "Your output ignores b: the perceptron computes sigmoid(X @ W + b)."),
        Mistake("returned Z", Z,
                "You returned the weighted sum Z = XW + b; the output is A = sigmoid(Z)."),
        Mistake("ReLU instead of sigmoid", np.maximum(Z, 0),
                "You applied ReLU; the perceptron of this chapter has a sigmoid output (probabilities in [0, 1])."),
        Mistake("thresholded output", (Z >= 0).astype(np.float64),
                "You returned 0/1 labels; forward_perceptron returns the probabilities sigmoid(Z) "
                "(thresholding at 0.5 is done when predicting, not here)."),
        Mistake("bias subtracted", reference("sigmoid", X @ W - b),
                "You subtracted the bias; it is added: Z = XW + b."),
        Mistake("1 - sigmoid", 1.0 - sig,
                "Your output is 1 - sigmoid(Z), the probability of class 0: check the sign inside exp."),
    ]


def _own_sigmoid(fresh: FreshWorker, Z: Array) -> Any:
    return fresh.try_call("sigmoid", Z, check_inputs=False)  # writing into Z is charged in 1.3


class _OwnSigmoidRaised(Exception):
    """The perceptron raised what the student's own sigmoid raises on the same Z (charged in 1.3)."""


def _call(student: Student, X: Array, W: Array, b: Array, **options: Any) -> Any:
    """The student's forward_perceptron(X, W, b); score once when it fails only because their sigmoid does."""
    try:
        return student.call("forward_perceptron", X, W, b, **options)
    except StudentRaised as exc:
        if not student.last_warnings and raised_like_own_functions(student, exc, "forward_perceptron", X, W, b,
                                                                   own=["sigmoid"]):
            raise _OwnSigmoidRaised from None
        raise


@grade("forward_perceptron", points=2)
def test_forward_perceptron_values(student: Student, rng: np.random.Generator) -> None:
    """forward_perceptron equals sigmoid(X @ W + b) on random data"""
    X, W, b = _problem(rng)
    try:
        got = _call(student, X, W, b)
    except _OwnSigmoidRaised:
        return
    check_composed(student, got, reference("forward_perceptron", X, W, b), X @ W + b,
                   name=f"forward_perceptron(X, W, b) with X {X.shape}, W {W.shape}, b {b.shape}",
                   mistakes=_mistakes(X, W, b))


@grade("forward_perceptron", points=1)
def test_forward_perceptron_float32(student: Student, rng: np.random.Generator) -> None:
    """forward_perceptron works on float32 inputs"""
    X, W, b = _problem(rng, np.float32)
    try:
        got = _call(student, X, W, b)
    except _OwnSigmoidRaised:
        return
    want = reference("forward_perceptron", X.astype(np.float64), W.astype(np.float64), b.astype(np.float64))
    check_composed(student, got, want, X @ W + b, name="forward_perceptron with float32 inputs",
                   mistakes=_mistakes(X, W, b), inputs=[X])


def _large_problem(rng: np.random.Generator) -> tuple[Array, Array, Array]:
    X, W, b = _problem(rng)
    i = int(np.argmax(np.abs(X @ W)))
    X[(i + 1) % X.shape[0]] = -X[i]                # both signs of the largest |XW| are present
    Z = X @ W
    W = W * (rng.uniform(900.0, 1000.0) / float(np.max(np.abs(Z))))
    # and always a few moderate rows (|XW| <= 2), where every formula's VALUES differ: the verdict
    # never depends on whether the draw happened to saturate every output
    moderate = rng.normal(size=(3, X.shape[1]))
    moderate *= rng.uniform(0.5, 2.0) / float(np.max(np.abs(moderate @ W)))
    return np.vstack([X, moderate]), W, b


@grade("forward_perceptron", points=2)
def test_forward_perceptron_large_logits(student: Student, rng: np.random.Generator) -> None:
    """forward_perceptron is finite and warning-free for |XW + b| up to 1000"""
    X, W, b = _large_problem(rng)
    Z = X @ W + b
    name = "forward_perceptron(X, W, b) with |XW + b| up to 1000"
    check_not_silenced(student, "forward_perceptron", name)
    try:
        got = _call(student, X, W, b, forbid_warnings=True)
    except _OwnSigmoidRaised:
        return
    except StudentRaised as exc:
        warnings = list(student.last_warnings)
        if not warnings:
            raise
        # Score once: if the student's own sigmoid warns on the same Z (charged in 1.3) and the
        # perceptron's value is exactly that composition, this chapter accepts it. The sigmoid is
        # asked in a fresh worker that never saw the graded call.
        with fresh_worker(student) as fresh:
            try:
                fresh.call("sigmoid", Z, forbid_warnings=True)
            except StudentError:
                if fresh.last_warnings:
                    got = student.call("forward_perceptron", X, W, b)
                    own = _own_sigmoid(fresh, Z)
                    if _usable(own, (X.shape[0], 1)) and _usable(got, (X.shape[0], 1)):
                        with np.errstate(all="ignore"):
                            if np.allclose(got, own, rtol=1e-6, atol=1e-9, equal_nan=True):
                                return
        raise Feedback(
            f"{exc.message}\nA stable sigmoid never calls np.exp on a large positive number: reuse your "
            "sigmoid from chapter 1.3 (the stable one) instead of writing 1 / (1 + np.exp(-Z)) again."
        ) from None
    check_composed(student, got, reference("forward_perceptron", X, W, b), Z, name=name,
                   mistakes=_mistakes(X, W, b))
