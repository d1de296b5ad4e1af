"""Public self-check for chapter 2.1: mse_loss and binary_cross_entropy.

Small, hand-checkable cases. The hidden grader uses other, random inputs.
"""

import warnings

import numpy as np
import pytest

from dlnp.testing import Mistake, check_not_silenced, check_scalar
from neural_network.losses import binary_cross_entropy, mse_loss

pytestmark = pytest.mark.chapter("2.1")


def test_mse_small_example() -> None:
    # errors are 0, 1 and -2: squares 0, 1, 4, mean 5/3
    y_pred = np.array([[1.0], [3.0], [2.0]])
    y = np.array([[1.0], [2.0], [4.0]])
    check_scalar(mse_loss(y_pred, y), 5.0 / 3.0, name="mse_loss(y_pred, y)", mistakes=[
        Mistake("sum instead of mean", 5.0, "You summed the squared errors; divide by the number of samples."),
        Mistake("half MSE", 5.0 / 6.0, "You returned half the MSE; mse_loss is the plain mean."),
    ])


def test_mse_perfect_prediction_is_zero() -> None:
    y = np.array([[0.5], [-1.5]])
    check_scalar(mse_loss(y, y.copy()), 0.0, name="mse_loss(y, y)")


def test_bce_small_example() -> None:
    # -(log 0.9 + log 0.8) / 2
    A = np.array([[0.9], [0.2]])
    y = np.array([[1.0], [0.0]])
    expected = -(np.log(0.9) + np.log(0.8)) / 2
    # any epsilon up to 1e-7 moves this loss by less than 2e-7: the tolerance accepts every one of them
    check_scalar(binary_cross_entropy(A, y), expected, name="binary_cross_entropy(A, y)", atol=2e-5, mistakes=[
        Mistake("missing minus sign", -expected, "Cross-entropy is MINUS the mean log-likelihood."),
    ])


def test_bce_handles_probabilities_zero_and_one() -> None:
    """Any epsilon up to 1e-7 (clipping, or added inside the log) is right: confident right answers then cost
    ~0 and confident wrong ones at least -log(1e-7) ~ 16, finite and without a RuntimeWarning."""
    y = np.array([[1.0], [0.0], [1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any RuntimeWarning fails the test
        right = binary_cross_entropy(y.copy(), y)
        wrong = binary_cross_entropy(1.0 - y, y)
    for label, loss in (("right", right), ("wrong", wrong)):
        assert np.ndim(loss) == 0 and np.isfinite(loss), (
            f"binary_cross_entropy with probabilities of exactly 0 and 1 ({label} answers) returned {loss!r}.\n"
            "Likely mistake (log(0)) np.log(0) is -inf: clip the probabilities to [eps, 1 - eps] or add a small "
            "eps (at most 1e-7) inside the log.")
    assert abs(float(right)) < 1e-5 and float(wrong) > 10.0, (
        f"confident right answers should cost ~0 (got {float(right):.3g}) and confident wrong ones a lot, at "
        f"least -log(1e-7) ~ 16 (got {float(wrong):.3g}).\nLikely mistake (epsilon too large) clip with an "
        "epsilon of at most 1e-7.")


def test_bce_does_not_silence_warnings() -> None:
    """The grader judges stability by the RuntimeWarnings a function raises: turning them off
    (np.errstate(over="ignore"), warnings.filterwarnings("ignore"), np.seterr) fails, here as there."""
    check_not_silenced(binary_cross_entropy, "binary_cross_entropy(probabilities 0 and 1)")
