"""Public self-check for chapter 4.3: max_pool, max_pool_backward.

The chapter's worked example (with ties), strides different from the size, leading
axes, and an overlapping case. The hidden grader uses random inputs full of ties,
other strides and float32.
"""

import numpy as np
import pytest

from dlnp.testing import Mistake, check_array, read_only
from neural_network.pooling import max_pool, max_pool_backward

pytestmark = pytest.mark.chapter("4.3")

X = np.array([[1.0, 3.0, 2.0, 0.0], [4.0, 2.0, 1.0, 5.0], [0.0, 1.0, 3.0, 3.0], [2.0, 2.0, 1.0, 0.0]])
DOUT = np.array([[10.0, 20.0], [30.0, 40.0]])
read_only(X, DOUT)  # a function that writes into its inputs fails at once


def test_worked_example() -> None:
    check_array(max_pool(X), [[4.0, 5.0], [2.0, 3.0]], name="max_pool(X)")
    want = np.array([[0, 0, 0, 0], [10, 0, 0, 20], [0, 0, 40, 0], [30, 0, 0, 0]], dtype=float)
    all_ties = want.copy()
    all_ties[3, 1], all_ties[2, 3] = 30.0, 40.0
    check_array(max_pool_backward(DOUT, X), want, name="max_pool_backward(dout, X)", mistakes=[
        Mistake("gradient to all ties", all_ties, "Only the FIRST maximum (row-major) of a window gets the gradient."),
    ])


def test_any_leading_axes_and_odd_sizes() -> None:
    batch = np.stack([X, -X, X + 1])[:, None]           # (3, 1, 4, 4)
    got = max_pool(batch)
    assert np.shape(got) == (3, 1, 2, 2), f"expected (3, 1, 2, 2), got {np.shape(got)}"
    check_array(got[2, 0], [[5.0, 6.0], [3.0, 4.0]], name="max_pool of a batch, image 2")
    odd = np.arange(25.0).reshape(5, 5)
    check_array(max_pool(odd), [[6.0, 8.0], [16.0, 18.0]], name="max_pool of a 5x5 image (last row/column dropped)")


def test_stride_differs_from_size() -> None:
    A = np.arange(16.0).reshape(4, 4)
    check_array(max_pool(A, size=2, stride=1), [[5, 6, 7], [9, 10, 11], [13, 14, 15]], name="max_pool(A, 2, stride=1)")
    check_array(max_pool(A, size=3, stride=1), [[10, 11], [14, 15]], name="max_pool(A, 3, stride=1)")
    # overlapping windows: the single 1 at the centre of a 5x5 input is the maximum of all four 3x3 windows
    B = np.zeros((5, 5))
    B[2, 2] = 1.0
    dX = max_pool_backward(np.ones((2, 2)), B, size=3, stride=2)
    check_array(np.asarray(dX)[2, 2], 4.0, name="dX at the centre pixel shared by four windows",
                hint="An input that is the maximum of several overlapping windows receives the SUM (use +=).")


def test_purity() -> None:
    A = X.copy()
    max_pool(A)
    max_pool_backward(DOUT.copy(), A)
    assert np.array_equal(A, X), "max_pool / max_pool_backward modified X"
