"""Public self-check for chapter 4.4: l2_regularization, l2_gradient, dropout.

The chapter's worked example and dropout's properties (0/1 mask, inverted scaling,
keep probability, reproducible with a seed). The hidden grader uses other shapes,
keep probabilities and float32.
"""

import numpy as np
import pytest

from dlnp.testing import Mistake, check_all, check_array, check_scalar, check_tuple, expect_raises, read_only
from neural_network.regularization import dropout, l2_gradient, l2_regularization

pytestmark = pytest.mark.chapter("4.4")

W = np.array([[1.0, -2.0], [0.5, 0.0]])
read_only(W)  # a function that writes into its inputs fails at once


def test_l2_worked_example() -> None:
    check_scalar(l2_regularization(W, 0.01), 0.0525, name="l2_regularization(W, 0.01)", mistakes=[
        Mistake("the 1/2 convention", 0.02625, "This kit's penalty is lambda_ * sum(W**2), without 1/2."),
    ])
    check_array(l2_gradient(W, 0.01), [[0.02, -0.04], [0.01, 0.0]], name="l2_gradient(W, 0.01)")


def test_dropout_properties() -> None:
    A = np.random.default_rng(0).normal(size=(100, 50))
    A_drop, mask = check_tuple(dropout(A, 0.8, np.random.default_rng(1)), 2, name="dropout(A, 0.8, rng)",
                               parts="A_drop, mask")
    mask = np.asarray(mask, dtype=float)
    assert set(np.unique(mask)) <= {0.0, 1.0}, "the mask holds 1 (kept) and 0 (dropped) only"
    assert abs(mask.mean() - 0.8) < 0.03, (
        f"p = 0.8 is the KEEP probability: about 80% of the mask should be 1, got {mask.mean():.1%}")
    check_array(A_drop, A * mask / 0.8, name="A_drop", mistakes=[
        Mistake("missing 1/p", A * mask, "Inverted dropout divides the kept activations by p."),
    ])
    again = np.asarray(dropout(A, 0.8, np.random.default_rng(1))[1], dtype=float)
    assert np.array_equal(mask, again), "the same seed must give the same mask: draw from the rng you are given"


def test_dropout_keep_everything() -> None:
    A = np.arange(6.0).reshape(2, 3)
    A_drop, _ = dropout(A, 1.0, np.random.default_rng(0))
    check_array(A_drop, A, name="dropout(A, p=1.0)[0]", hint="p = 1 keeps everything")
    check_all(*(lambda p=p: expect_raises(lambda: dropout(A.copy(), p, np.random.default_rng(0)), ValueError,
                                          name=f"dropout(A, p={p})",
                                          why="the docstring's Raises: p is a keep probability in (0, 1]")
                for p in (0.0, -0.5, 1.5)))
