"""Public self-check for chapter 4.5: momentum_update, accuracy.

The chapter's worked examples. The hidden grader uses random velocities, gradients,
coefficients and predictions, and float32.
"""

import numpy as np
import pytest

from dlnp.testing import Mistake, check_all, check_array, check_scalar, expect_raises
from neural_network.metrics import accuracy
from neural_network.momentum import momentum_update

pytestmark = pytest.mark.chapter("4.5")


def test_momentum_worked_example() -> None:
    # minimize W**2 (gradient 2W) from W = 1 with lr = 0.1, mu = 0.9
    W, v = np.array([1.0]), np.zeros(1)
    expected_v = [-0.2, -0.34, -0.398]
    for step, want in enumerate(expected_v):
        v = momentum_update(v, 2 * W, 0.9, 0.1)
        check_array(v, [want], name=f"velocity after step {step + 1}", mistakes=[
            Mistake("sign conventions", [-want], "v = mu * v - lr * grad, then W += v."),
            Mistake("ignored mu", -0.1 * 2 * W, "The old velocity counts: mu * v - lr * grad."),
        ])
        W = W + v
    assert np.isclose(W[0], 0.062), f"after three steps W should be 0.062, got {W[0]}"


def test_momentum_does_not_modify_v() -> None:
    v = np.array([[0.5, -0.5]])
    momentum_update(v, np.ones((1, 2)), 0.9, 0.1)
    assert np.array_equal(v, [[0.5, -0.5]]), "momentum_update must return a new array, not change v"


def test_accuracy_examples() -> None:
    P = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    Y = np.eye(2)[[1, 1, 1]]
    check_scalar(accuracy(P, Y), 2 / 3, name="accuracy(probabilities, one-hot)", mistakes=[
        Mistake("count instead of fraction", 2.0, "Return the fraction correct / total."),
        Mistake("percentage", 200 / 3, "Return a fraction in [0, 1], not a percentage."),
    ])
    check_scalar(accuracy(P, np.array([1, 1, 1])), 2 / 3, name="accuracy(probabilities, labels)")
    check_scalar(accuracy(np.array([[0.5], [0.2]]), np.array([[1.0], [0.0]])), 1.0,
                 name="accuracy of (n, 1) probabilities", hint="0.5 counts as class 1 (>= 0.5)")
    check_scalar(accuracy(np.array([2, 0, 1, 1]), np.array([2, 0, 0, 1])), 0.75, name="accuracy(labels, labels)")



def test_accuracy_raises_for_mismatched_or_empty_inputs() -> None:
    """The docstring's Raises: both arguments describe the same number of samples n >= 1."""
    labels = np.array([2, 0, 1, 1, 0])
    P = np.eye(3)[[2, 0, 0, 1, 0]]
    why = "the docstring's Raises: both arguments must describe the same number of samples n >= 1"
    check_all(
        lambda: expect_raises(lambda: accuracy(labels, labels[:1]), ValueError,
                              name="accuracy(labels (5,), labels (1,))",
                              why=why + "; comparing them with == broadcasts the single label instead"),
        lambda: expect_raises(lambda: accuracy(P, labels[:-1]), ValueError,
                              name="accuracy(probabilities (5, 3), labels (4,))", why=why),
        lambda: expect_raises(lambda: accuracy(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)), ValueError,
                              name="accuracy(empty labels, empty labels)",
                              why=why + "; the mean of no comparison is not a number"),
    )
