"""Public self-check for chapter 2.3: mini-batch gradient descent and activations.

The batching example of the chapter is checked with a "spy" activation that records
which samples each batch contains. Tests that need your sigmoid (chapter 1.3) or
binary_cross_entropy (chapter 2.1) are skipped until those are implemented.
"""

from typing import Any

import numpy as np
import pytest

from dlnp.testing import Mistake, check_array, check_scalar, read_only
from neural_network.activations import sigmoid
from neural_network.losses import binary_cross_entropy
from neural_network.optimization import gradient_descent

pytestmark = pytest.mark.chapter("2.3")

X = np.array([[1.0], [2.0], [3.0], [4.0], [5.0]])
read_only(X)  # a function that writes into its inputs fails at once
Y = 2 * X + 1


def _sum_of_squares(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.sum((pred - y) ** 2))


def test_batches_follow_the_permutation() -> None:
    # X holds the sample ids, W = 1, b = 0 and lr = 0: every call of the activation sees the ids of
    # the samples in the current batch. Chapter example: n = 5, batch_size = 2, default_rng(0)
    # draws [2, 4, 3, 0, 1] then [4, 1, 2, 0, 3].
    ids = np.arange(5.0).reshape(-1, 1)
    seen: list[list[int]] = []

    def spy(Z: np.ndarray) -> np.ndarray:
        batch = [int(v) for v in np.rint(Z.ravel())]
        if len(batch) < 5 and (not seen or seen[-1] != batch):
            seen.append(batch)
        return Z

    gradient_descent(ids, np.zeros((5, 1)), np.ones((1, 1)), np.zeros((1, 1)), lr=0.0, num_epochs=2,
                     batch_size=2, loss_fn=_sum_of_squares, activation_fn=spy, rng=np.random.default_rng(0))
    expected = [[2, 4], [3, 0], [1], [4, 1], [2, 0], [3]]
    assert seen == expected, (
        f"batches seen: {seen}, expected {expected}. Each epoch draws ONE perm = rng.permutation(n) and "
        "takes consecutive slices perm[0:2], perm[2:4], perm[4:5] (the last one smaller).")


def test_one_epoch_with_a_smaller_last_batch() -> None:
    # default_rng(0) draws perm = [2, 4, 3, 0, 1]: batches {x = 3, 5}, {x = 4, 1}, then {x = 2} alone.
    # By hand (lr = 0.1): W, b = (3.8, 0.9), then (2.295, 0.46), then the last batch of ONE sample
    # has error 0.05: grad_W = 2 * 0.05 / 1 = 0.1, so W = 2.285 and b = 0.455.
    W, b, _ = gradient_descent(X, Y, np.zeros((1, 1)), np.zeros((1, 1)), lr=0.1, num_epochs=1, batch_size=2,
                               loss_fn=_sum_of_squares, rng=np.random.default_rng(0))
    check_array(W, np.array([[2.285]]), name="W after one epoch of batches of 2", mistakes=[
        Mistake("divided by batch_size", np.array([[2.29]]),
                "The last batch has 1 sample, not batch_size = 2: divide by the size of the CURRENT batch."),
    ])
    check_array(b, np.array([[0.455]]), name="b after one epoch of batches of 2")


def test_same_seed_same_result() -> None:
    runs = [gradient_descent(X, Y, np.zeros((1, 1)), np.zeros((1, 1)), lr=0.01, num_epochs=5, batch_size=2,
                             loss_fn=_sum_of_squares, rng=np.random.default_rng(42)) for _ in range(2)]
    check_array(runs[1][0], runs[0][0], name="W of a second run with the same seed",
                hint="shuffle with rng.permutation(n), never with np.random.shuffle (the global generator)")
    assert len(runs[0][2]) == 5, f"one loss per epoch: expected 5 entries, got {len(runs[0][2])}"


def test_minibatch_converges_to_the_line() -> None:
    W, b, history = gradient_descent(X, Y, np.zeros((1, 1)), np.zeros((1, 1)), lr=0.02, num_epochs=1500,
                                     batch_size=2, loss_fn=_sum_of_squares, rng=np.random.default_rng(1))
    check_array(W, np.array([[2.0]]), name="W", atol=1e-3, rtol=0)
    check_array(b, np.array([[1.0]]), name="b", atol=1e-3, rtol=0)
    assert history[-1] < history[0]


def test_logistic_regression_one_step() -> None:
    try:
        sigmoid(np.zeros(1))
        binary_cross_entropy(np.full((1, 1), 0.5), np.ones((1, 1)))
    except NotImplementedError:
        pytest.skip("needs sigmoid (chapter 1.3) and binary_cross_entropy (chapter 2.1)")
    Xl = np.array([[0.0], [1.0], [2.0], [3.0]])
    yl = np.array([[0.0], [0.0], [1.0], [1.0]])
    kwargs: dict[str, Any] = {"loss_fn": binary_cross_entropy, "activation_fn": sigmoid}
    W, b, history = gradient_descent(Xl, yl, np.zeros((1, 1)), np.zeros((1, 1)), 1.0, 1, **kwargs)
    # A = 0.5 everywhere, A - y = (0.5, 0.5, -0.5, -0.5): grad_W = -0.5, grad_b = 0
    check_array(W, np.array([[0.5]]), name="W after one logistic-regression step")
    check_array(b, np.array([[0.0]]), name="b after one logistic-regression step")
    check_scalar(history[0], 0.5455, name="binary cross-entropy after the step", atol=1e-4)
