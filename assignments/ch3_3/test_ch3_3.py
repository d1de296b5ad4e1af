"""Public self-check for chapter 3.3: forward_mlp and cross_entropy.

The worked examples of the chapter (a 2 -> 3 -> 2 network, the XOR network) and
properties. The hidden grader uses other, random networks, float32 and extreme values.
"""

import math
import warnings

import numpy as np
import pytest

from dlnp.testing import Mistake, check_array, check_not_silenced, check_scalar, check_tuple, read_only
from neural_network.losses import cross_entropy
from neural_network.mlp import forward_mlp

pytestmark = pytest.mark.chapter("3.3")

X = np.array([[1.0, 2.0], [0.0, -1.0]])
W1 = np.array([[1.0, -1.0, 0.5], [0.5, 1.0, -1.0]])
b1 = np.array([[0.0, 0.5, 0.0]])
W2 = np.array([[1.0, -1.0], [0.5, 0.5], [-1.0, 1.0]])
b2 = np.array([[0.0, 0.0]])
read_only(X, W1, b1, W2, b2)  # a function that writes into its inputs fails at once


def _sigma(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def _softmax_over_columns(Z: np.ndarray) -> np.ndarray:
    """The known wrong answer: softmax along axis 0 (each COLUMN sums to 1)."""
    E = np.exp(Z - Z.max(axis=0, keepdims=True))
    return E / E.sum(axis=0, keepdims=True)


WRONG_AXIS = ("Each COLUMN of your A2 sums to 1, not each row: softmax goes along the last axis "
              "(axis=1, keepdims=True), one distribution per sample.")


def test_forward_example() -> None:
    A1, A2 = check_tuple(forward_mlp(X, W1, b1, W2, b2), 2, name="forward_mlp(X, W1, b1, W2, b2)",
                         parts="A1, A2")
    # Z1 = [[2, 1.5, -1.5], [-0.5, -0.5, 1]]; Z2 = [[2.75, -1.25], [-1, 1]]
    check_array(A1, np.array([[2.0, 1.5, 0.0], [0.0, 0.0, 1.0]]), name="A1", mistakes=[
        Mistake("returned Z1", np.array([[2.0, 1.5, -1.5], [-0.5, -0.5, 1.0]]), "A1 is relu(Z1), not Z1."),
    ])
    # a 2-class softmax of (u, v) is (sigma(u - v), sigma(v - u))
    expected = np.array([[_sigma(4.0), _sigma(-4.0)], [_sigma(-2.0), _sigma(2.0)]])  # 0.9820 0.0180 / 0.1192 0.8808
    check_array(A2, expected, name="A2", mistakes=[
        Mistake("returned Z2", np.array([[2.75, -1.25], [-1.0, 1.0]]), "A2 is softmax(Z2), not Z2."),
        Mistake("wrong softmax axis", _softmax_over_columns(np.array([[2.75, -1.25], [-1.0, 1.0]])), WRONG_AXIS),
    ], hint="softmax row-wise: each row of A2 sums to 1.")


def test_forward_solves_xor() -> None:
    X_xor = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    A1, A2 = check_tuple(forward_mlp(X_xor, np.ones((2, 2)), np.array([[0.0, -1.0]]),
                                     np.array([[-4.0, 4.0], [8.0, -8.0]]), np.array([[2.0, -2.0]])),
                         2, name="forward_mlp on XOR", parts="A1, A2")
    check_array(A1, np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 0.0], [2.0, 1.0]]), name="A1 for XOR")
    labels = np.array([0, 1, 1, 0])
    Z2 = np.array([[2.0, -2.0], [-2.0, 2.0], [-2.0, 2.0], [2.0, -2.0]])  # A1 @ W2 + b2, by hand
    check_array(A2, np.eye(2)[labels] * (_sigma(4.0) - _sigma(-4.0)) + _sigma(-4.0), name="A2 for XOR", mistakes=[
        Mistake("wrong softmax axis", _softmax_over_columns(Z2), WRONG_AXIS),
    ])
    check_array(A2[np.arange(4), labels], np.full(4, _sigma(4.0)), name="probability of the correct class")


def test_forward_large_logits_and_purity() -> None:
    args = [X.copy(), W1.copy(), b1.copy(), 1000.0 * W2, b2.copy()]
    copies = [a.copy() for a in args]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, A2 = forward_mlp(*args)
    assert np.all(np.isfinite(A2)), "A2 has NaN/inf for large logits: reuse your stable softmax"
    check_array(A2.sum(axis=1), np.ones(2), name="row sums of A2")
    for before, after in zip(copies, args, strict=True):
        assert np.array_equal(before, after), "forward_mlp modified one of its inputs"


def test_cross_entropy_example() -> None:
    A = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])
    y = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    expected = -(math.log(0.7) + math.log(0.8)) / 2  # 0.2899
    check_scalar(cross_entropy(A, y), expected, name="cross_entropy(A, y)", atol=1e-6, mistakes=[
        Mistake("mean over classes too", expected / 3,
                "You divided by n * k: sum over the classes, average over the samples only."),
        Mistake("sum instead of mean", 2 * expected, "Average over the n samples, do not sum."),
        Mistake("missing minus sign", -expected, "Cross-entropy is MINUS the mean log-probability."),
    ])


def test_cross_entropy_of_the_forward_example() -> None:
    A2 = np.array([[_sigma(4.0), _sigma(-4.0)], [_sigma(-2.0), _sigma(2.0)]])  # the A2 of test_forward_example
    expected = -(math.log(_sigma(4.0)) + math.log(_sigma(2.0))) / 2  # 0.0725
    check_scalar(cross_entropy(A2, np.eye(2)), expected, name="cross_entropy(A2, y)", atol=1e-6)


def test_cross_entropy_with_probabilities_zero_and_one() -> None:
    y = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # log(0) warnings fail the test
        right = cross_entropy(y.copy(), y)
        wrong = cross_entropy(np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]), y)
    assert np.ndim(right) == 0 and np.ndim(wrong) == 0, "cross_entropy must return a scalar"
    assert abs(float(right)) < 1e-5, f"confident right answers should cost ~0, got {right!r}"
    assert np.isfinite(wrong) and float(wrong) > 10.0, (
        f"a true class with probability exactly 0 should cost a lot but stay finite, got {wrong!r}: "
        "clip with an epsilon of at most 1e-7"
    )


def test_warnings_are_not_silenced() -> None:
    """The grader judges stability by the RuntimeWarnings a function raises: turning them off
    (np.errstate(over="ignore"), warnings.filterwarnings("ignore"), np.seterr) fails, here as there."""
    check_not_silenced(forward_mlp, "forward_mlp with output logits of magnitude up to 1000")
    check_not_silenced(cross_entropy, "cross_entropy(A, y) with probabilities of exactly 0 and 1")
