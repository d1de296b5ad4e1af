"""Hidden graders, chapter 0: layer_output (= X @ W)."""

import numpy as np

from autograder.harness import Student, StudentRaised, grade, reference
from dlnp.testing import Feedback, Mistake, check_array

CHAPTER = "0"


def _distinct_sizes(rng: np.random.Generator, count: int) -> list[int]:
    """``count`` different sizes >= 2, so that X * W cannot broadcast and transposes show."""
    return [int(s) for s in rng.choice(np.arange(2, 10), size=count, replace=False)]


def _call(student: Student, X: np.ndarray, W: np.ndarray) -> object:
    try:
        return student.call("layer_output", X, W)
    except StudentRaised as exc:
        if "broadcast" in exc.message:
            raise Feedback(
                f"{exc.message}\nLikely mistake (element-wise product) `X * W` multiplies entry by entry "
                "(and needs broadcastable shapes); the layer output is the matrix product `X @ W`."
            ) from None
        if "matmul" in exc.message or "not aligned" in exc.message:
            raise Feedback(
                f"{exc.message}\nLikely mistake (order of the product) X is {X.shape} and W is {W.shape}: "
                "the data comes first, `X @ W` gives (n, m)."
            ) from None
        raise


def _mistakes(X: np.ndarray, W: np.ndarray) -> list[Mistake]:
    return [
        Mistake("transposed result", (X @ W).T,
                "You computed (XW)^T = W^T X^T; the layer output is X @ W, one row per sample."),
    ]


@grade("layer_output", points=1)
def test_layer_output_random(student: Student, rng: np.random.Generator) -> None:
    """layer_output(X, W) equals X @ W on random shapes"""
    n, d, m = _distinct_sizes(rng, 3)
    X, W = rng.normal(size=(n, d)), rng.normal(size=(d, m))
    got = _call(student, X, W)
    check_array(got, reference("layer_output", X, W), name=f"layer_output(X {X.shape}, W {W.shape})",
                mistakes=_mistakes(X, W))


@grade("layer_output", points=1)
def test_layer_output_float32_and_one_sample(student: Student, rng: np.random.Generator) -> None:
    """layer_output works on float32 input and on a single sample (n = 1)"""
    n, d, m = _distinct_sizes(rng, 3)
    X = rng.uniform(-3, 3, size=(n, d)).astype(np.float32)
    W = rng.normal(size=(d, m)).astype(np.float32)
    got = _call(student, X, W)
    want = reference("layer_output", X.astype(np.float64), W.astype(np.float64))  # exact product of the float32 values
    check_array(got, want, name=f"layer_output(float32 X {X.shape}, W {W.shape})",
                mistakes=_mistakes(X, W), inputs=[X])
    x1 = rng.normal(size=(1, d))
    got1 = _call(student, x1, W.astype(np.float64))
    check_array(got1, reference("layer_output", x1, W.astype(np.float64)),
                name=f"layer_output(X {x1.shape}, W {W.shape})")
