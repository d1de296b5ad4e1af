"""Public self-check for chapter 0: layer_output.

Small, hand-checkable cases and properties. The hidden grader uses other, random inputs.
"""

import numpy as np
import pytest

from dlnp.testing import Mistake, check_array
from neural_network.basics import layer_output

pytestmark = pytest.mark.chapter("0")


def test_worked_example() -> None:
    # the chapter's example: 4 samples, 3 features, 2 outputs
    X = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0], [10.0, 11.0, 12.0]])
    W = np.array([[0.5, -1.0], [0.0, 1.0], [1.0, 0.5]])
    expected = np.array([[3.5, 2.5], [8.0, 4.0], [12.5, 5.5], [17.0, 7.0]])
    check_array(layer_output(X, W), expected, name="layer_output(X, W)", mistakes=[
        Mistake("transposed result", expected.T, "You computed (XW)^T; the data comes first: X @ W."),
    ])


def test_shape_and_identity() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 3))
    assert layer_output(X, rng.normal(size=(3, 2))).shape == (5, 2), "X (5, 3) times W (3, 2) is (5, 2)"
    # multiplying by the identity matrix changes nothing
    check_array(layer_output(X, np.eye(3)), X, name="layer_output(X, identity)")


def test_one_weight_column_is_a_weighted_sum() -> None:
    X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    W = np.array([[10.0], [1.0]])  # output = 10 * feature 0 + 1 * feature 1
    check_array(layer_output(X, W), np.array([[12.0], [34.0], [56.0]]), name="layer_output(X, W)")


def test_does_not_modify_inputs() -> None:
    X, W = np.arange(6.0).reshape(2, 3), np.ones((3, 4))
    X0, W0 = X.copy(), W.copy()
    layer_output(X, W)
    assert np.array_equal(X, X0) and np.array_equal(W, W0), "layer_output must not modify X or W"
