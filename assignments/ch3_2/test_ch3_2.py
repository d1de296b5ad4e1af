"""Public self-check for chapter 3.2: relu, relu_derivative and softmax.

The worked examples of the chapter and properties (rows of softmax sum to 1, adding a
constant to a row changes nothing). The hidden grader uses other, random inputs,
extreme scores, other shapes and float32.
"""

import math
import warnings

import numpy as np
import pytest

from dlnp.testing import Mistake, check_array, check_not_silenced, read_only
from neural_network.activations import relu, relu_derivative, softmax

pytestmark = pytest.mark.chapter("3.2")

Z_EXAMPLE = np.array([[-1.0, 2.0], [0.0, -3.0], [4.0, -0.5]])
read_only(Z_EXAMPLE)  # a function that writes into its inputs fails at once


def test_relu_example() -> None:
    Z = Z_EXAMPLE.copy()
    check_array(relu(Z), np.array([[0.0, 2.0], [0.0, 0.0], [4.0, 0.0]]), name="relu(Z)")
    assert np.array_equal(Z, Z_EXAMPLE), "relu modified its input Z: build a new array (np.maximum(Z, 0))"


def test_relu_derivative_example() -> None:
    expected = np.array([[0.0, 1.0], [0.0, 0.0], [1.0, 0.0]])
    check_array(relu_derivative(Z_EXAMPLE), expected, name="relu_derivative(Z)", mistakes=[
        Mistake("ReLU derivative at 0", np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]]),
                "At z = 0 the derivative is 0 by convention: use Z > 0, not Z >= 0."),
    ])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_relu_derivative_is_float_of_the_same_dtype(dtype: type) -> None:
    Z = Z_EXAMPLE.astype(dtype)
    D = relu_derivative(Z)
    assert isinstance(D, np.ndarray) and D.dtype == Z.dtype, (
        f"relu_derivative must return Z's dtype ({Z.dtype}), got {getattr(D, 'dtype', type(D))}: "
        "convert the boolean mask with .astype(Z.dtype)"
    )


def test_softmax_example() -> None:
    Z = np.array([[1.0, 2.0, 3.0], [1000.0, 1001.0, 1002.0], [0.0, 0.0, 0.0]])
    s = math.exp(-2) + math.exp(-1) + 1.0
    row = [math.exp(-2) / s, math.exp(-1) / s, 1.0 / s]  # 0.0900, 0.2447, 0.6652
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # overflow in exp fails the test
        S = softmax(Z)
    check_array(S, np.array([row, row, [1 / 3, 1 / 3, 1 / 3]]), name="softmax(Z)",
                hint="Subtract each row's max (keepdims=True) before np.exp, and normalize along axis=-1.")


def test_softmax_rows_sum_to_one_and_shift_invariance() -> None:
    rng = np.random.default_rng(32)
    Z = rng.normal(scale=3.0, size=(5, 4))
    S = softmax(Z)
    assert S.shape == Z.shape, f"softmax must keep the shape {Z.shape}, got {np.shape(S)}"
    check_array(S.sum(axis=1), np.ones(5), name="row sums of softmax(Z)",
                hint="Each ROW must sum to 1: normalize along the last axis (axis=-1), not axis=0.")
    shift = rng.normal(scale=100.0, size=(5, 1))
    check_array(softmax(Z + shift), S, name="softmax(Z + c) with a different constant c per row")


def test_softmax_of_a_vector() -> None:
    z = np.array([0.0, math.log(3.0)])
    check_array(softmax(z), np.array([0.25, 0.75]), name="softmax([0, log 3])",
                hint="axis=-1 works for a 1-D vector too; axis=1 does not exist there.")


def test_float32_and_purity() -> None:
    Z = np.array([[1.0, -2.0, 0.5], [3.0, 3.0, -1.0]], dtype=np.float32)
    Z0 = Z.copy()
    check_array(softmax(Z).sum(axis=-1), np.ones(2), name="row sums of softmax(float32 Z)", inputs=[Z])
    relu(Z)
    relu_derivative(Z)
    assert np.array_equal(Z, Z0), "an activation modified its input Z"


def test_warnings_are_not_silenced() -> None:
    """The grader judges stability by the RuntimeWarnings a function raises: turning them off
    (np.errstate(over="ignore"), warnings.filterwarnings("ignore"), np.seterr) fails, here as there."""
    check_not_silenced(softmax, "softmax(Z) with logits of magnitude up to 1000")
