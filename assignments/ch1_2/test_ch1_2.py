"""Public self-check for chapter 1.2: matrix_multiply.

Small, hand-checkable cases. The hidden grader uses other, random shapes and values.
"""

import numpy as np
import pytest

from dlnp.testing import check_array, expect_raises
from neural_network.basics import matrix_multiply

pytestmark = pytest.mark.chapter("1.2")


def test_worked_example() -> None:
    X = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    W = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    check_array(matrix_multiply(X, W), np.array([[4.0, 5.0], [10.0, 11.0]]), name="matrix_multiply(X, W)")


def test_row_times_column_is_a_dot_product() -> None:
    u = np.array([[1.0, 2.0, 3.0]])       # (1, 3)
    v = np.array([[4.0], [5.0], [6.0]])   # (3, 1)
    check_array(matrix_multiply(u, v), np.array([[32.0]]), name="matrix_multiply(u, v)")
    check_array(matrix_multiply(v, u), np.array([[4.0, 8.0, 12.0], [5.0, 10.0, 15.0], [6.0, 12.0, 18.0]]),
                name="matrix_multiply(v, u)")


def test_mismatch_raises_value_error_naming_both_shapes() -> None:
    X = np.ones((2, 3))
    W = np.ones((4, 5))
    expect_raises(lambda: matrix_multiply(X, W), ValueError, name="matrix_multiply(X (2, 3), W (4, 5))",
                  why="the docstring's Raises: X.shape[1] != W.shape[0]")
    with pytest.raises(ValueError) as info:
        matrix_multiply(X, W)
    message = str(info.value)
    assert "(2, 3)" in message and "(4, 5)" in message, (
        f"the message must contain str(X.shape) and str(W.shape), got: {message!r}")


def test_does_not_modify_inputs() -> None:
    X, W = np.arange(6.0).reshape(3, 2), np.arange(8.0).reshape(2, 4)
    X0, W0 = X.copy(), W.copy()
    assert matrix_multiply(X, W).shape == (3, 4)
    assert np.array_equal(X, X0) and np.array_equal(W, W0), "matrix_multiply must not modify its inputs"
