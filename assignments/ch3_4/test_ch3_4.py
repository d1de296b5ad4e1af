"""Public self-check for chapter 3.4: backward_mlp.

The worked example of the chapter (by hand: a = sigma(-4), b = sigma(-2)), the mask
convention at Z1 == 0, and a gradient check with YOUR numerical_gradient from chapter
2.4 and your forward_mlp/cross_entropy from chapter 3.3. The hidden grader uses other,
random networks and batch sizes, and float32.
"""

import math

import numpy as np
import pytest

from dlnp.testing import Mistake, check_array, check_tuple, gradient_check_mistakes, read_only
from neural_network.mlp import backward_mlp

pytestmark = pytest.mark.chapter("3.4")

X = np.array([[1.0, 2.0], [0.0, -1.0]])
W1 = np.array([[1.0, -1.0, 0.5], [0.5, 1.0, -1.0]])
b1 = np.array([[0.0, 0.5, 0.0]])
W2 = np.array([[1.0, -1.0], [0.5, 0.5], [-1.0, 1.0]])
y = np.eye(2)
read_only(X, W1, b1, W2, y)  # a function that writes into its inputs fails at once
NAMES = ("grad_W1", "grad_b1", "grad_W2", "grad_b2")


def _sigma(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def _example() -> tuple[np.ndarray, ...]:
    Z1 = X @ W1 + b1                                        # [[2, 1.5, -1.5], [-0.5, -0.5, 1]]
    A1 = np.array([[2.0, 1.5, 0.0], [0.0, 0.0, 1.0]])
    A2 = np.array([[_sigma(4.0), _sigma(-4.0)], [_sigma(-2.0), _sigma(2.0)]])
    return X, A1, A2, y, W1, W2, Z1


def test_worked_example() -> None:
    a, b = _sigma(-4.0), _sigma(-2.0)                       # 0.0180 and 0.1192
    # A2 - y = [[-a, a], [b, -b]], dZ2 = (A2 - y) / 2, dZ1 = [[-a, 0, 0], [0, 0, -b]]
    expected = (
        np.array([[-a, 0.0, 0.0], [-2 * a, 0.0, b]]),
        np.array([[-a, 0.0, -b]]),
        np.array([[-a, a], [-0.75 * a, 0.75 * a], [b / 2, -b / 2]]),
        np.array([[(b - a) / 2, (a - b) / 2]]),
    )
    got = check_tuple(backward_mlp(*_example()), 4, name="backward_mlp(...)", parts=", ".join(NAMES))
    for name, g, e in zip(NAMES, got, expected, strict=True):
        check_array(g, e, name=name, mistakes=[
            Mistake("missing 1/n", 2 * e, "Your gradient is n = 2 times too large: dZ2 = (A2 - y) / n."),
            Mistake("1/n twice", e / 2, "Your gradient is n = 2 times too small: divide by n once."),
        ])


def test_shapes_and_purity() -> None:
    rng = np.random.default_rng(34)
    n, d, h, k = 6, 4, 5, 3
    args = (rng.normal(size=(n, d)), np.abs(rng.normal(size=(n, h))), np.full((n, k), 1 / k),
            np.eye(k)[rng.integers(0, k, n)], rng.normal(size=(d, h)), rng.normal(size=(h, k)),
            rng.normal(size=(n, h)))
    copies = [a.copy() for a in args]
    got = check_tuple(backward_mlp(*args), 4, name="backward_mlp(...)", parts=", ".join(NAMES))
    for name, g, shape in zip(NAMES, got, [(d, h), (1, h), (h, k), (1, k)], strict=True):
        assert np.shape(g) == shape, f"{name} must have shape {shape}, got {np.shape(g)}" + (
            " (use keepdims=True: bias gradients are rows (1, m))" if shape[0] == 1 else "")
    for before, after in zip(copies, args, strict=True):
        assert np.array_equal(before, after), "backward_mlp modified one of its inputs"


def test_mask_is_zero_at_z1_equal_zero() -> None:
    # hidden unit 2 has Z1 = (-0.5, 0.0): off for both samples, so its gradients are exactly 0
    W1_kink = np.array([[1.0, -1.0, 1.0], [0.5, 1.0, -0.5]])
    b1_kink = np.array([[0.0, 0.5, -0.5]])
    Z1 = X @ W1_kink + b1_kink
    assert Z1[1, 2] == 0.0
    A1 = np.maximum(Z1, 0.0)
    A2 = np.array([[0.6, 0.4], [0.3, 0.7]])                   # any probabilities will do here
    gW1, gb1, _, _ = backward_mlp(X, A1, A2, y, W1_kink, W2, Z1)
    check_array(np.asarray(gW1)[:, 2], np.zeros(2), name="grad_W1[:, 2] of a unit with Z1 <= 0",
                hint="The mask is Z1 > 0: 0 where Z1 == 0 exactly (not Z1 >= 0).")
    check_array(np.asarray(gb1).reshape(-1)[2], 0.0, name="grad_b1[2] of a unit with Z1 <= 0")


def test_gradient_check_with_your_numerical_gradient() -> None:
    from neural_network.gradcheck import numerical_gradient
    from neural_network.losses import cross_entropy
    from neural_network.mlp import forward_mlp

    rng = np.random.default_rng(3)
    n, d, h, k = 5, 3, 4, 3
    Xr = rng.normal(size=(n, d))
    params = {"W1": rng.normal(size=(d, h)), "b1": rng.normal(scale=0.5, size=(1, h)),
              "W2": rng.normal(size=(h, k)), "b2": rng.normal(scale=0.5, size=(1, k))}
    yr = np.eye(k)[rng.integers(0, k, n)]
    Z1 = Xr @ params["W1"] + params["b1"]
    assert np.min(np.abs(Z1)) > 1e-2                          # far from the ReLU kink

    def forward_fn(X_: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
        return forward_mlp(X_, p["W1"], p["b1"], p["W2"], p["b2"])[1]

    try:
        A1, A2 = forward_mlp(Xr.copy(), *(params[key].copy() for key in ("W1", "b1", "W2", "b2")))
        cross_entropy(A2, yr)
    except NotImplementedError:
        pytest.skip("finish chapter 3.3 first: this check runs your forward_mlp and cross_entropy")
    try:
        numeric = numerical_gradient(Xr, yr, {key: v.copy() for key, v in params.items()}, cross_entropy, forward_fn)
    except NotImplementedError:
        pytest.skip("finish chapter 2.4 first: this check uses your numerical_gradient")
    got = check_tuple(backward_mlp(*(a.copy() for a in (Xr, A1, A2, yr, params["W1"], params["W2"], Z1))), 4,
                      name="backward_mlp(...)", parts=", ".join(NAMES))
    for name, key, g in zip(NAMES, ("W1", "b1", "W2", "b2"), got, strict=True):
        check_array(g, numeric[key], name=f"{name} against numerical_gradient", rtol=1e-4, atol=1e-7,
                    mistakes=gradient_check_mistakes(numeric[key], n),
                    hint="If your numerical_gradient (2.4), forward_mlp or cross_entropy (3.3) is wrong, this "
                         "comparison is too: their own chapters' checks come first.")
