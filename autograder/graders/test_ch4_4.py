"""Hidden graders, chapter 4.4: l2_regularization, l2_gradient, dropout.

Pinned by SPEC §5 and the docstrings: the penalty is lambda_ * sum(W**2) (NO 1/2), a
scalar; its gradient 2 * lambda_ * W; dropout(A, p, rng) with p the KEEP probability
returns (A * mask / p, mask), mask of 0/1 (float or bool), a kept fraction near p, the
same mask for the same seed. Dropout is graded by these properties only, never
against one particular random stream.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from autograder.harness import Student, check_raises, grade, reference, seed_from
from autograder.toolbox import Array
from dlnp.testing import Feedback, Mistake, check_all, check_array, check_scalar, check_tuple, describe

CHAPTER = "4.4"



def _weights(rng: np.random.Generator, dtype: Any = np.float64) -> tuple[Array, float]:
    shape = (int(rng.integers(3, 8)), int(rng.integers(2, 6)))
    return rng.normal(size=shape).astype(dtype), float(rng.choice([0.01, 0.05, 0.1, 0.3]))


# ----------------------------------------------------------------------------- L2


def _penalty_mistakes(W: Array, lam: float) -> list[Mistake]:
    W = W.astype(np.float64)
    return [
        Mistake("the 1/2 convention", 0.5 * lam * np.sum(W**2),
                "You used (lambda/2) * sum(W**2); this kit's penalty has no 1/2: lambda_ * sum(W**2)."),
        Mistake("missing lambda", float(np.sum(W**2)), "Multiply the sum of squares by lambda_."),
        Mistake("mean instead of sum", lam * float(np.mean(W**2)),
                "You averaged the squared weights; the penalty SUMS them: lambda_ * np.sum(W**2)."),
        Mistake("L1 penalty", lam * float(np.sum(np.abs(W))),
                "You summed |W| (the L1 penalty); L2 sums the SQUARES: lambda_ * np.sum(W**2)."),
        Mistake("norm instead of squared norm", lam * float(np.linalg.norm(W)),
                "You used the norm sqrt(sum(W**2)); the L2 penalty is the SQUARED norm, without the square root."),
    ]


@grade("l2_regularization", points=1)
def test_l2_regularization_values(student: Student, rng: np.random.Generator) -> None:
    """l2_regularization is lambda_ * sum(W**2), a scalar"""
    W, lam = _weights(rng)
    got = student.call("l2_regularization", W, lam)
    check_scalar(got, reference("l2_regularization", W, lam), name=f"l2_regularization(W {W.shape}, {lam})",
                 mistakes=_penalty_mistakes(W, lam))


@grade("l2_regularization", points=1)
def test_l2_regularization_float32(student: Student, rng: np.random.Generator) -> None:
    """l2_regularization works on float32 and on a 3-D weight array"""
    W, lam = _weights(rng, np.float32)
    check_scalar(student.call("l2_regularization", W, lam), reference("l2_regularization", W, lam),
                 name="l2_regularization(float32 W)", inputs=[W], mistakes=_penalty_mistakes(W, lam))
    K = rng.normal(size=(2, 3, 2, 2))
    check_scalar(student.call("l2_regularization", K, lam), reference("l2_regularization", K, lam),
                 name=f"l2_regularization(W of shape {K.shape})", mistakes=_penalty_mistakes(K, lam))


def _gradient_mistakes(W: Array, lam: float) -> list[Mistake]:
    W = W.astype(np.float64)
    return [
        Mistake("the 1/2 convention", lam * W,
                "lambda_ * W is the gradient of (lambda/2) * sum(W**2); the kit's penalty has no 1/2, so its "
                "gradient is 2 * lambda_ * W."),
        Mistake("missing lambda", 2 * W, "Multiply by lambda_: the gradient is 2 * lambda_ * W."),
        Mistake("sign", -2 * lam * W,
                "The gradient of a penalty points AWAY from zero: +2 * lambda_ * W (gradient descent then "
                "shrinks the weights)."),
    ]


@grade("l2_gradient", points=1)
def test_l2_gradient_values(student: Student, rng: np.random.Generator) -> None:
    """l2_gradient is 2 * lambda_ * W"""
    W, lam = _weights(rng)
    check_array(student.call("l2_gradient", W, lam), reference("l2_gradient", W, lam),
                name=f"l2_gradient(W {W.shape}, {lam})", mistakes=_gradient_mistakes(W, lam))


@grade("l2_gradient", points=1)
def test_l2_gradient_float32(student: Student, rng: np.random.Generator) -> None:
    """l2_gradient works on float32"""
    W, lam = _weights(rng, np.float32)
    check_array(student.call("l2_gradient", W, lam), reference("l2_gradient", W, lam),
                name="l2_gradient(float32 W)", inputs=[W], mistakes=_gradient_mistakes(W, lam))


# ----------------------------------------------------------------------------- dropout


def _dropout(student: Student, A: Array, p: float, rng: np.random.Generator) -> tuple[Array, Array]:
    got = check_tuple(student.call("dropout", A, p, seed_from(rng)), 2, name=f"dropout(A, p={p}, rng)",
                      parts="A_drop, mask")
    A_drop, mask = got
    for name, value in (("A_drop", A_drop), ("mask", mask)):
        if not isinstance(value, np.ndarray) or value.shape != A.shape:
            raise Feedback(f"{name} of dropout(A, p={p}) must be an array of A's shape {A.shape}.\n"
                           f"  got: {describe(value)}")
    m = mask.astype(np.float64)
    if not np.all((m == 0) | (m == 1)):
        scaled = np.all(np.isclose(m, 0) | np.isclose(m, 1 / p))
        raise Feedback(
            f"The mask of dropout(A, p={p}) must hold only 0 (dropped) and 1 (kept).\n  got: {describe(mask)}\n"
            + ("Likely mistake (scaled mask) you returned mask / p; return the 0/1 mask and use it in "
               "A_drop = A * mask / p." if scaled else "")
        )
    return A_drop, m


@grade("dropout", points=2)
def test_dropout_inverted_scaling(student: Student, rng: np.random.Generator) -> None:
    """dropout returns A * mask / p with a 0/1 mask (inverted dropout)"""
    A = rng.normal(size=(int(rng.integers(20, 40)), int(rng.integers(10, 20))))
    p = float(rng.choice([0.6, 0.75, 0.8, 0.9]))  # not 0.5, where dividing by 1 - p would pass
    A_drop, mask = _dropout(student, A, p, rng)
    check_array(A_drop, A * mask / p, name=f"A_drop of dropout(A, p={p}) (compared with A * mask / p for YOUR mask)",
                mistakes=[
                    Mistake("missing 1/p", A * mask,
                            "You returned A * mask: inverted dropout divides the kept activations by p so that "
                            "the expected value stays A."),
                    Mistake("times p instead of divided", A * mask * p,
                            "You multiplied by p; inverted dropout DIVIDES by p (the kept units are scaled up)."),
                    Mistake("drop-vs-keep confusion", A * (1 - mask) / p,
                            "A_drop keeps the entries where the mask is 0: mask is 1 where kept, "
                            "A_drop = A * mask / p."),
                    Mistake("divided by 1 - p", A * mask / (1 - p),
                            "You divided by 1 - p; p is the KEEP probability, divide by p."),
                    Mistake("p ignored", A * mask / 0.5,
                            f"You divided by 0.5 whatever p is: use the p given to dropout (here {p}), "
                            "A_drop = A * mask / p."),
                ])


@grade("dropout", points=2)
def test_dropout_keeps_a_fraction_p(student: Student, rng: np.random.Generator) -> None:
    """dropout keeps about a fraction p of the entries (p is the KEEP probability)"""
    for p in (0.8, 0.3):
        A = rng.normal(size=(200, 100)) + 3.0
        got = check_tuple(student.call("dropout", A, p, seed_from(rng)), 2, name=f"dropout(A, p={p}, rng)",
                          parts="A_drop, mask")
        check_all(partial(_check_shapes, got, A, p), partial(_check_kept_fraction, got[1], A.size, p))


def _check_shapes(got: tuple[Any, ...], A: Array, p: float) -> None:
    for name, value in zip(("A_drop", "mask"), got, strict=True):
        if not isinstance(value, np.ndarray) or value.shape != A.shape:
            raise Feedback(f"{name} of dropout(A, p={p}) must be an array of A's shape {A.shape}.\n"
                           f"  got: {describe(value)}")


def _check_kept_fraction(mask: Any, size: int, p: float) -> None:
    """The fraction of ones in the mask (judged even when the mask has the wrong shape)."""
    m = np.asarray(mask, dtype=np.float64) if isinstance(mask, np.ndarray) else None
    if m is None or m.size != size or not np.all((m == 0) | (m == 1)):
        return  # the shape and the 0/1 values are judged by their own checks
    kept = float(m.mean())
    tolerance = 5 * np.sqrt(p * (1 - p) / size)  # five standard deviations
    if abs(kept - p) > tolerance:
        flipped = abs(kept - (1 - p)) <= tolerance
        ignored = abs(kept - 0.5) <= tolerance
        raise Feedback(
            f"dropout(A, p={p}) kept {kept:.3f} of the {size} entries; expected about {p} "
            f"(within {tolerance:.3f}).\nLikely mistake "
            + ("(drop-vs-keep confusion) p is the probability to KEEP an entry: mask = rng.random(shape) < p."
               if flipped else
               "(p ignored) your mask keeps half of the entries whatever p is: draw it with the p given to "
               "dropout, mask = (rng.random(A.shape) < p)." if ignored else
               "(wrong probability) each entry is kept independently with probability p: "
               "mask = (rng.random(A.shape) < p).")
        )


@grade("dropout", points=1)
def test_dropout_reproducible(student: Student, rng: np.random.Generator) -> None:
    """dropout draws from the rng it is given: the same seed gives the same mask"""
    A = rng.normal(size=(30, 20))
    seed = seed_from(rng)
    first = check_tuple(student.call("dropout", A, 0.5, seed), 2, name="dropout(A, 0.5, rng)", parts="A_drop, mask")
    second = check_tuple(student.call("dropout", A, 0.5, seed), 2, name="dropout(A, 0.5, rng)", parts="A_drop, mask")
    if not np.array_equal(np.asarray(first[1]), np.asarray(second[1])):
        raise Feedback(
            "dropout(A, 0.5, rng) with two generators made from the same seed returned different masks.\n"
            "Likely mistake (rng ignored) draw the mask from the rng argument (rng.random(A.shape)), not from "
            "np.random.rand or a new default_rng(); use np.random.default_rng() only when rng is None."
        )
    other = check_tuple(student.call("dropout", A, 0.5, seed_from(rng)), 2, name="dropout(A, 0.5, rng)",
                        parts="A_drop, mask")
    if np.array_equal(np.asarray(first[1]), np.asarray(other[1])):
        raise Feedback("dropout(A, 0.5, rng) returned the same mask for two different seeds.\n"
                       "Likely mistake (fixed seed) do not seed inside dropout: use the rng you are given.")


@grade("dropout", points=1)
def test_dropout_keep_everything_float32_and_invalid_p(student: Student, rng: np.random.Generator) -> None:
    """dropout with p = 1 keeps everything unchanged; float32 input works; p outside (0, 1] raises ValueError"""
    A = rng.normal(size=(6, 5)).astype(np.float32)

    def keep_everything() -> None:
        A_drop, mask = _dropout(student, A, 1.0, rng)
        check_all(lambda: check_array(mask, np.ones(A.shape), name="mask of dropout(A, p=1.0)",
                                      hint="p = 1 keeps every entry: the mask is all ones."),
                  lambda: check_array(A_drop, A, name="A_drop of dropout(float32 A, p=1.0)", inputs=[A]))

    def float32() -> None:
        A_drop, mask = _dropout(student, A, 0.5, rng)
        check_array(A_drop, A.astype(np.float64) * mask / 0.5, name="A_drop of dropout(float32 A, p=0.5)",
                    inputs=[A])

    def invalid(p: float) -> Callable[[], None]:
        return lambda: check_raises(student, "dropout", A, p, seed_from(rng), call=f"dropout(A, p={p})",
                                    why="the docstring's Raises: p must be in (0, 1]")

    check_all(keep_everything, float32, invalid(0.0), invalid(1.5), invalid(-0.25))
