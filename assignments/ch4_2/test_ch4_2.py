"""Public self-check for chapter 4.2: conv2d, conv_forward, conv_backward.

The chapter's worked example, output sizes with strides, the kernel-flip trap, and
conv_backward against finite differences computed here. The hidden grader uses other
shapes (overlapping and non-dividing strides) and float32.
"""

import numpy as np
import pytest

from dlnp.testing import Mistake, check_array, check_tuple, expect_raises, read_only
from neural_network.conv import conv2d, conv_backward, conv_forward

pytestmark = pytest.mark.chapter("4.2")

IMAGE = np.array([[1.0, 2.0, 0.0, 1.0], [0.0, 1.0, 3.0, 1.0], [2.0, 0.0, 1.0, 2.0], [1.0, 1.0, 0.0, 0.0]])
KERNEL = np.array([[1.0, 0.0], [0.0, -1.0]])
read_only(IMAGE, KERNEL)  # a function that writes into its inputs fails at once


def test_worked_example() -> None:
    want = np.array([[0.0, -1.0, -1.0], [0.0, 0.0, 1.0], [1.0, 0.0, 1.0]])
    check_array(conv2d(IMAGE, KERNEL), want, name="conv2d(image, kernel)", mistakes=[
        Mistake("kernel flipped", -want, "You flipped the kernel (true convolution, scipy.signal.convolve2d); "
                "the chapter's formula is cross-correlation: no flip."),
    ])
    check_array(conv2d(IMAGE, KERNEL, stride=2), [[0.0, -1.0], [1.0, 1.0]], name="conv2d(image, kernel, stride=2)",
                mistakes=[Mistake("stride ignored", want, "With stride 2 the windows start at 0 and 2.")])


@pytest.mark.parametrize(("H", "W", "k", "s", "out"), [(28, 28, 3, 1, (26, 26)), (28, 28, 3, 2, (13, 13)),
                                                        (7, 9, 2, 3, (2, 3)), (5, 5, 5, 1, (1, 1))])
def test_output_sizes(H: int, W: int, k: int, s: int, out: tuple[int, int]) -> None:
    got = conv2d(np.zeros((H, W)), np.ones((k, k)), stride=s)
    assert np.shape(got) == out, f"conv2d of a {H}x{W} image, {k}x{k} kernel, stride {s}: expected {out}, got " \
                                 f"{np.shape(got)}; the size is (H - k) // stride + 1"


def test_conv_forward_is_conv2d_summed_over_channels_plus_bias() -> None:
    rng = np.random.default_rng(42)
    X, K, b = rng.normal(size=(2, 3, 6, 5)), rng.normal(size=(4, 3, 3, 2)), rng.normal(size=4)
    out = conv_forward(X, K, b)
    assert np.shape(out) == (2, 4, 4, 4), f"expected (n, F, H', W') = (2, 4, 4, 4), got {np.shape(out)}"
    want = np.array([[sum(conv2d(X[i, c], K[f, c]) for c in range(3)) + b[f] for f in range(4)] for i in range(2)])
    check_array(out, want, name="conv_forward(X, K, b)",
                hint="out[i, f] = sum over channels c of conv2d(X[i, c], K[f, c]) + b[f]")
    assert np.shape(conv_forward(X, K, b, stride=2)) == (2, 4, 2, 2)


def test_conv_backward_against_finite_differences() -> None:
    rng = np.random.default_rng(5)
    X, K, b = rng.normal(size=(2, 2, 5, 5)), rng.normal(size=(3, 2, 3, 3)), rng.normal(size=3)
    dout = rng.normal(size=(2, 3, 2, 2))
    stride = 2  # overlapping windows: row/column 2 belongs to two windows

    def loss() -> float:
        return float(np.sum(dout * conv_forward(X, K, b, stride)))

    dX, dK, db = check_tuple(conv_backward(dout, X, K, stride), 3, name="conv_backward(...)", parts="dX, dK, db")
    for name, p, g in (("dX", X, dX), ("dK", K, dK), ("db", b, db)):
        numeric = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + 1e-6
            plus = loss()
            p[idx] = old - 1e-6
            minus = loss()
            p[idx] = old
            numeric[idx] = (plus - minus) / 2e-6
        check_array(g, numeric, name=f"{name} of conv_backward", rtol=1e-5, atol=1e-7,
                    hint="dK and db are SUMMED over the batch; db has shape (F,); overlapping windows add up in dX.")


@pytest.mark.parametrize(("kernel", "stride", "what"), [
    (np.ones((5, 2)), 1, "a kernel taller than the image"),
    (KERNEL, 0, "stride=0"),
])
def test_conv2d_raises_value_error(kernel: np.ndarray, stride: int, what: str) -> None:
    expect_raises(lambda: conv2d(IMAGE.copy(), kernel.copy(), stride), ValueError, name=f"conv2d with {what}",
                  why="the docstring's Raises: the kernel must fit in the image, stride >= 1")
