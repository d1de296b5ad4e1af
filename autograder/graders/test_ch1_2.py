"""Hidden graders, chapter 1.2: matrix_multiply (X @ W, ValueError naming both shapes)."""

import re

import numpy as np

from autograder.harness import Student, StudentRaised, grade, reference
from dlnp.testing import Feedback, Mistake, check_array

CHAPTER = "1.2"

_TRACEBACK = re.compile(r"\n  \S+\.py, line \d+, in ")


def _sizes(rng: np.random.Generator, count: int) -> list[int]:
    """``count`` different sizes >= 2 (so X * W cannot broadcast and every dimension is identifiable)."""
    return [int(s) for s in rng.choice(np.arange(2, 10), size=count, replace=False)]


def _product(student: Student, X: np.ndarray, W: np.ndarray) -> object:
    """The student's product of two compatible matrices, with named diagnoses for the usual errors."""
    try:
        return student.call("matrix_multiply", X, W)
    except StudentRaised as exc:
        if "broadcast" in exc.message:
            raise Feedback(
                f"{exc.message}\nLikely mistake (element-wise product) `X * W` is entry by entry; the matrix "
                "product is `X @ W`."
            ) from None
        if "raised ValueError" in exc.message:
            raise Feedback(
                f"matrix_multiply raised ValueError for X of shape {X.shape} and W of shape {W.shape}, whose "
                f"inner dimensions agree ({X.shape[1]} == {W.shape[0]}).\n{exc.message}\n"
                "Likely mistake (wrong dimensions compared) the product is defined when "
                "X.shape[1] == W.shape[0]: compare the columns of X with the rows of W."
            ) from None
        raise


def _mistakes(X: np.ndarray, W: np.ndarray) -> list[Mistake]:
    return [Mistake("transposed result", (X @ W).T,
                    "You computed W^T X^T = (XW)^T; return X @ W, shape (n, m).")]


@grade("matrix_multiply", points=2)
def test_matrix_multiply_random(student: Student, rng: np.random.Generator) -> None:
    """matrix_multiply(X, W) equals X @ W on random shapes"""
    n, d, m = _sizes(rng, 3)
    X, W = rng.normal(size=(n, d)), rng.normal(size=(d, m))
    got = _product(student, X, W)
    check_array(got, reference("matrix_multiply", X, W), name=f"matrix_multiply(X {X.shape}, W {W.shape})",
                mistakes=_mistakes(X, W))


@grade("matrix_multiply", points=2)
def test_matrix_multiply_mismatch_message(student: Student, rng: np.random.Generator) -> None:
    """incompatible shapes raise ValueError whose message contains str(X.shape) and str(W.shape)"""
    n, d, k, m = _sizes(rng, 4)
    cases = [(rng.normal(size=(n, d)), rng.normal(size=(k, m))),
             # same number of ROWS: comparing X.shape[0] with W.shape[0] would let this through
             (rng.normal(size=(n, d)), rng.normal(size=(n, m)))]
    for X, W in cases:
        shapes = f"X of shape {X.shape} and W of shape {W.shape}"
        try:
            got = student.call("matrix_multiply", X, W)
        except StudentRaised as exc:
            kind = re.search(r" raised (\w+): ", exc.message)
            message = _TRACEBACK.split(exc.message, maxsplit=1)[0]
            message = message.split(": ", 1)[1] if ": " in message else message
            if kind is None or kind.group(1) != "ValueError":
                raise Feedback(
                    f"matrix_multiply({shapes}) must raise ValueError.\n{exc.message}\n"
                    "Likely mistake (wrong exception type) raise ValueError(...) yourself (not assert, "
                    "TypeError or a bare Exception)."
                ) from None
            missing = [str(s.shape) for s in (X, W) if str(s.shape) not in message]
            if missing:
                numpy_own = "matmul" in message or "not aligned" in message or "broadcast" in message
                diagnosis = (
                    "(numpy's own error) this is NumPy's message, which does not name the shapes: check "
                    "X.shape[1] != W.shape[0] yourself and raise ValueError before multiplying."
                    if numpy_own else
                    "(both shapes) put both tuples in the message exactly as Python prints them, e.g. "
                    "f\"cannot multiply X with shape {X.shape} by W with shape {W.shape}\"."
                )
                raise Feedback(
                    f"matrix_multiply({shapes}) raised ValueError, but the message does not contain "
                    f"{' and '.join(missing)}.\n  message: {message[:300]!r}\nLikely mistake {diagnosis}"
                ) from None
            continue
        raise Feedback(
            f"matrix_multiply({shapes}) returned a value instead of raising ValueError.\n"
            f"  got: {type(got).__name__} {getattr(got, 'shape', '')}\n"
            "Likely mistake (no error) the inner dimensions differ: check X.shape[1] == W.shape[0] and raise "
            "ValueError naming both shapes."
        )


@grade("matrix_multiply", points=1)
def test_matrix_multiply_float32_and_vectors(student: Student, rng: np.random.Generator) -> None:
    """matrix_multiply works on float32 input and for one row / one column"""
    n, d, m = _sizes(rng, 3)
    X = rng.normal(size=(n, d)).astype(np.float32)
    W = rng.normal(size=(d, m)).astype(np.float32)
    check_array(_product(student, X, W), reference("matrix_multiply", X.astype(np.float64), W.astype(np.float64)),
                name=f"matrix_multiply(float32 X {X.shape}, W {W.shape})", mistakes=_mistakes(X, W), inputs=[X])
    row, col = rng.normal(size=(1, d)), rng.normal(size=(d, 1))
    check_array(_product(student, row, col), reference("matrix_multiply", row, col),
                name=f"matrix_multiply(X {row.shape}, W {col.shape})")
    check_array(_product(student, col, row), reference("matrix_multiply", col, row),
                name=f"matrix_multiply(X {col.shape}, W {row.shape})", mistakes=_mistakes(col, row))
