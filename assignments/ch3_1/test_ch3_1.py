"""Public self-check for chapter 3.1: forward_perceptron.

Hand-checkable values (the AND gate of the chapter, XOR at W = 0) and properties. The
hidden grader uses other, random inputs, including large |XW + b| and float32.
"""

import math
import warnings

import numpy as np
import pytest

from dlnp.testing import Mistake, check_array, check_not_silenced, read_only
from neural_network.mlp import forward_perceptron

pytestmark = pytest.mark.chapter("3.1")

GATE_INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
read_only(GATE_INPUTS)  # a function that writes into its inputs fails at once


def _sigma(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def test_and_gate_example() -> None:
    # Z = 20 x1 + 20 x2 - 30 = (-30, -10, -10, 10)
    W = np.array([[20.0], [20.0]])
    b = np.array([[-30.0]])
    expected = np.array([[_sigma(-30)], [_sigma(-10)], [_sigma(-10)], [_sigma(10)]])
    check_array(forward_perceptron(GATE_INPUTS, W, b), expected, name="forward_perceptron(AND inputs, W, b)",
                atol=1e-12, mistakes=[
                    Mistake("returned Z", np.array([[-30.0], [-10.0], [-10.0], [10.0]]),
                            "You returned Z = XW + b; the output is sigmoid(Z)."),
                    Mistake("thresholded output", np.array([[0.0], [0.0], [0.0], [1.0]]),
                            "You returned 0/1 labels; return the probabilities sigmoid(Z)."),
                    Mistake("missing bias", np.array([[0.5], [_sigma(20)], [_sigma(20)], [_sigma(40)]]),
                            "The bias b is missing: Z = XW + b."),
                ])


def test_zero_weights_answer_one_half() -> None:
    # XOR at the start of training: every output is sigmoid(0) = 0.5
    A = forward_perceptron(GATE_INPUTS, np.zeros((2, 1)), np.zeros((1, 1)))
    check_array(A, np.full((4, 1), 0.5), name="forward_perceptron with W = 0, b = 0")


def test_shape_range_and_purity() -> None:
    rng = np.random.default_rng(31)
    X, W, b = rng.normal(size=(7, 3)), rng.normal(size=(3, 1)), rng.normal(size=(1, 1))
    copies = [X.copy(), W.copy(), b.copy()]
    A = forward_perceptron(X, W, b)
    assert isinstance(A, np.ndarray) and A.shape == (7, 1), f"expected shape (7, 1), got {np.shape(A)}"
    assert np.all((A > 0) & (A < 1)), "outputs are probabilities strictly between 0 and 1 here"
    for before, after, name in zip(copies, (X, W, b), ("X", "W", "b"), strict=True):
        assert np.array_equal(before, after), f"forward_perceptron modified its input {name}"


def test_large_logits_without_warnings() -> None:
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    W = np.array([[1000.0], [-1000.0]])
    b = np.array([[0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any RuntimeWarning (overflow in exp) fails the test
        A = forward_perceptron(X, W, b)
    check_array(A, np.array([[1.0], [0.0], [0.5]]), name="forward_perceptron with |XW + b| = 1000",
                hint="Reuse your stable sigmoid from chapter 1.3.")


def test_warnings_are_not_silenced() -> None:
    """The grader judges stability by the RuntimeWarnings a function raises: turning them off
    (np.errstate(over="ignore"), warnings.filterwarnings("ignore"), np.seterr) fails, here as there."""
    check_not_silenced(forward_perceptron, "forward_perceptron with large logits")
