"""Public self-check for chapter 4.5: momentum_update, accuracy.

The chapter's worked examples. The hidden grader uses random velocities, gradients,
coefficients and predictions, and float32.
"""

import numpy as np
import pytest

from dlnp.testing import Mistake, check_array, check_scalar
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

