"""Public self-check for chapter 2.2: gradient_descent, full batch.

The chapter's worked example (y = 2x + 1), checked by hand. Tests that need the default
loss (your mse_loss from chapter 2.1) are skipped until mse_loss is implemented.
"""

import numpy as np
import pytest

from dlnp.testing import Mistake, check_array, check_scalar, read_only
from neural_network.losses import mse_loss
from neural_network.optimization import gradient_descent

pytestmark = pytest.mark.chapter("2.2")

X = np.array([[1.0], [2.0], [3.0], [4.0], [5.0]])
read_only(X)  # a function that writes into its inputs fails at once
Y = 2 * X + 1


def _squared_error_sum(pred: np.ndarray, y: np.ndarray) -> float:
    """A loss of this test's own (not the MSE), so these tests do not need chapter 2.1."""
    return float(np.sum((pred - y) ** 2))


def _require_mse_loss() -> None:
    try:
        mse_loss(np.zeros((1, 1)), np.zeros((1, 1)))
    except NotImplementedError:
        pytest.skip("needs mse_loss (chapter 2.1), the default loss_fn: implement it first")


def test_one_epoch_by_hand() -> None:
    # A = 0, A - y = -(3, 5, 7, 9, 11): grad_W = -125 / 5 = -25, grad_b = -7
    W, b, history = gradient_descent(X, Y, np.zeros((1, 1)), np.zeros((1, 1)), lr=0.1, num_epochs=1,
                                     loss_fn=_squared_error_sum)
    check_array(W, np.array([[2.5]]), name="W after one epoch", mistakes=[
        Mistake("factor 2", np.array([[5.0]]),
                "Use the error form grad_W = X.T @ (A - y) / n (no factor 2, see the docstring)."),
    ])
    check_array(b, np.array([[0.7]]), name="b after one epoch", mistakes=[
        Mistake("bias gradient summed", np.array([[3.5]]), "grad_b is the MEAN of A - y, not the sum."),
    ])
    # after the update: errors (0.2, 0.7, 1.2, 1.7, 2.2), sum of squares 9.7
    assert len(history) == 1, f"one loss per epoch: expected 1 entry, got {len(history)}"
    check_scalar(history[0], 9.7, name="loss_history[0] (loss AFTER the epoch's update)")


def test_three_epochs_with_the_default_loss() -> None:
    _require_mse_loss()
    W, b, history = gradient_descent(X, Y, np.zeros((1, 1)), np.zeros((1, 1)), lr=0.1, num_epochs=3)
    assert len(history) == 3, f"one loss per epoch: expected 3 entries, got {len(history)}"
    check_array(np.array(history[:2]), np.array([1.94, 0.0932]), name="loss_history[:2]")
    assert 0.0302 < history[2] < 0.0304, f"loss_history[2] should be about 0.0303, got {history[2]}"
    assert W.shape == (1, 1) and b.shape == (1, 1), f"W and b keep their shapes (1, 1): got {W.shape}, {b.shape}"


def test_converges_to_the_line() -> None:
    W, b, history = gradient_descent(X, Y, np.zeros((1, 1)), np.zeros((1, 1)), lr=0.05, num_epochs=2000,
                                     loss_fn=_squared_error_sum)
    check_array(W, np.array([[2.0]]), name="W after 2000 epochs", atol=1e-4, rtol=0)
    check_array(b, np.array([[1.0]]), name="b after 2000 epochs", atol=1e-4, rtol=0)
    assert history[-1] < history[0], "the loss should go down"


def test_pure_and_rng_untouched() -> None:
    W0, b0 = np.array([[0.5]]), np.array([[-0.5]])
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    gradient_descent(X, Y, W0, b0, lr=0.01, num_epochs=2, loss_fn=_squared_error_sum, rng=rng)
    assert W0[0, 0] == 0.5 and b0[0, 0] == -0.5, "gradient_descent modified the caller's W or b (W -= ...?)"
    assert rng.bit_generator.state == state, "full batch (batch_size=None) must not draw from rng"
