"""Public self-check for chapter 4.1: forward_mlp_3layer, backward_mlp_3layer, gradient_norms_per_layer.

A tiny hand-checkable network, shapes and purity, a gradient check with YOUR
numerical_gradient (chapter 2.4) and cross_entropy (chapter 3.3), and the vanishing
pattern of a deep sigmoid stack. The hidden grader uses other random networks,
exact zeros in Z1/Z2, and float32.
"""

import itertools

import numpy as np
import pytest

from dlnp.testing import Mistake, check_array, check_not_silenced, check_tuple, gradient_check_mistakes
from neural_network.deep import backward_mlp_3layer, forward_mlp_3layer, gradient_norms_per_layer

pytestmark = pytest.mark.chapter("4.1")

NAMES = ("gW1", "gb1", "gW2", "gb2", "gW3", "gb3")


def _network(seed: int, n: int = 5, d: int = 3, h1: int = 4, h2: int = 3, k: int = 2) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(n, d)), rng.normal(size=(d, h1)), rng.normal(scale=0.5, size=(1, h1)),
            rng.normal(size=(h1, h2)), rng.normal(scale=0.5, size=(1, h2)), rng.normal(size=(h2, k)),
            rng.normal(scale=0.5, size=(1, k))]


def test_forward_small_example() -> None:
    # identity-like weights: A1 = relu(X), A2 = relu(A1) = A1, A3 = softmax(A2) row by row
    X = np.array([[1.0, -2.0], [0.0, 3.0]])
    eye, zero = np.eye(2), np.zeros((1, 2))
    A1, A2, A3 = check_tuple(forward_mlp_3layer(X, eye, zero, eye, zero, eye, zero), 3,
                             name="forward_mlp_3layer(...)", parts="A1, A2, A3")
    check_array(A1, [[1.0, 0.0], [0.0, 3.0]], name="A1", hint="A1 = relu(X @ W1 + b1)")
    check_array(A2, [[1.0, 0.0], [0.0, 3.0]], name="A2", hint="A2 = relu(A1 @ W2 + b2)")
    e = np.exp(1.0)
    check_array(A3, [[e / (e + 1), 1 / (e + 1)], [1 / (1 + np.exp(3.0)), np.exp(3.0) / (1 + np.exp(3.0))]],
                name="A3", mistakes=[Mistake("softmax over the wrong axis", [[1.0, 0.0], [0.0, 1.0]],
                                             "Each ROW of A3 must sum to 1: softmax along the last axis.")])


def test_shapes_and_purity() -> None:
    X, W1, b1, W2, b2, W3, b3 = _network(0)
    copies = [a.copy() for a in (X, W1, b1, W2, b2, W3, b3)]
    A1, A2, A3 = forward_mlp_3layer(X, W1, b1, W2, b2, W3, b3)
    assert (np.shape(A1), np.shape(A2), np.shape(A3)) == ((5, 4), (5, 3), (5, 2))
    np.testing.assert_allclose(np.sum(A3, axis=1), 1.0, err_msg="rows of A3 must sum to 1")
    y = np.eye(2)[[0, 1, 1, 0, 1]]
    Z1 = X @ W1 + b1
    Z2 = A1 @ W2 + b2
    grads = check_tuple(backward_mlp_3layer(X, A1, A2, A3, y, W1, W2, W3, Z1, Z2), 6,
                        name="backward_mlp_3layer(...)", parts=", ".join(NAMES))
    for name, g, p in zip(NAMES, grads, (W1, b1, W2, b2, W3, b3), strict=True):
        assert np.shape(g) == p.shape, f"{name} must have the shape of its parameter {p.shape}, got {np.shape(g)}"
    for before, after in zip(copies, (X, W1, b1, W2, b2, W3, b3), strict=True):
        assert np.array_equal(before, after), "an input was modified"


def test_gradient_check_with_your_numerical_gradient() -> None:
    from neural_network.gradcheck import numerical_gradient
    from neural_network.losses import cross_entropy

    X, W1, b1, W2, b2, W3, b3 = _network(3)
    y = np.eye(2)[[1, 0, 0, 1, 1]]
    params = {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}
    Z1 = X @ W1 + b1
    A1, A2, A3 = forward_mlp_3layer(*(a.copy() for a in (X, W1, b1, W2, b2, W3, b3)))
    Z2 = A1 @ W2 + b2
    assert min(np.min(np.abs(Z1)), np.min(np.abs(Z2))) > 1e-3  # away from the ReLU kink

    def forward_fn(X_: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
        return forward_mlp_3layer(X_, p["W1"], p["b1"], p["W2"], p["b2"], p["W3"], p["b3"])[2]

    try:
        numeric = numerical_gradient(X, y, {k: v.copy() for k, v in params.items()}, cross_entropy, forward_fn)
    except NotImplementedError:
        pytest.skip("finish chapters 2.4 and 3.3 first: this check uses your numerical_gradient and cross_entropy")
    grads = backward_mlp_3layer(*(a.copy() for a in (X, A1, A2, A3, y, W1, W2, W3, Z1, Z2)))
    for name, key, g in zip(NAMES, params, grads, strict=True):
        check_array(g, numeric[key], name=f"{name} against numerical_gradient", rtol=1e-4, atol=1e-7,
                    mistakes=[Mistake("missing 1/n", 5 * numeric[key], "Your gradient is n = 5 times too large: "
                                      "delta3 = (A3 - y) / n."),
                              *gradient_check_mistakes(numeric[key], 5)],
                    hint="If your numerical_gradient (2.4) or cross_entropy (3.3) is wrong, this comparison "
                         "is too: their own chapters' checks come first.")


def test_gradient_norms_vanish_with_sigmoid() -> None:
    rng = np.random.default_rng(7)
    sizes = [6] + [8] * 7 + [3]
    weights = [rng.normal(size=(a, b)) / np.sqrt(a) for a, b in itertools.pairwise(sizes)]
    biases = [np.zeros((1, b)) for b in sizes[1:]]
    X, y = rng.normal(size=(20, 6)), np.eye(3)[rng.integers(0, 3, 20)]
    norms = np.asarray(gradient_norms_per_layer(X, y, weights, biases, activation="sigmoid"))
    assert norms.shape == (8,), f"one norm per layer: expected shape (8,), got {norms.shape}"
    assert norms[0] < 1e-2 * norms[-1], (
        f"with 8 sigmoid layers the FIRST layer's gradient should be far smaller than the last one's; got "
        f"{norms[0]:.3g} vs {norms[-1]:.3g}. Are the norms ordered first layer first, and is each delta "
        "multiplied by sigmoid(Z) * (1 - sigmoid(Z))?")
    relu = np.asarray(gradient_norms_per_layer(X, y, [w * np.sqrt(2) for w in weights], biases, activation="relu"))
    assert relu[0] > 1e-2 * relu[-1], "with ReLU and He-scaled weights the gradient should not vanish"
    try:
        gradient_norms_per_layer(X, y, weights, biases, activation="tanh")
    except ValueError:
        return
    raise AssertionError("gradient_norms_per_layer with activation='tanh' must raise ValueError (the docstring's "
                         "Raises section).")


def test_masks_are_zero_where_z_equals_zero() -> None:
    # hidden unit 2 of layer 1 has Z1 = (-0.5, 0.0): off for both samples, so its gradients are exactly 0
    X = np.array([[1.0, 2.0], [0.0, -1.0]])
    W1 = np.array([[1.0, -1.0, 1.0], [0.5, 1.0, -0.5]])
    b1 = np.array([[0.0, 0.5, -0.5]])
    W2 = np.array([[1.0, -1.0], [0.5, 0.5], [-1.0, 1.0]])
    b2 = np.array([[0.1, -0.2]])
    W3 = np.array([[1.0, -1.0], [0.5, 0.5]])
    Z1 = X @ W1 + b1
    assert Z1[1, 2] == 0.0
    A1 = np.maximum(Z1, 0.0)
    Z2 = A1 @ W2 + b2
    A2 = np.maximum(Z2, 0.0)
    A3 = np.array([[0.6, 0.4], [0.3, 0.7]])                  # any probabilities will do here
    grads = check_tuple(backward_mlp_3layer(X, A1, A2, A3, np.eye(2), W1, W2, W3, Z1, Z2), 6,
                        name="backward_mlp_3layer(...)", parts=", ".join(NAMES))
    check_array(np.asarray(grads[0])[:, 2], np.zeros(2), name="grad_W1[:, 2] of a unit with Z1 <= 0",
                hint="The ReLU masks are Z1 > 0 and Z2 > 0: 0 where Z == 0 exactly (not Z >= 0).")
    check_array(np.asarray(grads[1]).reshape(-1)[2], 0.0, name="grad_b1[2] of a unit with Z1 <= 0",
                hint="The ReLU masks are Z1 > 0 and Z2 > 0: 0 where Z == 0 exactly (not Z >= 0).")


def test_warnings_are_not_silenced() -> None:
    """The grader judges stability by the RuntimeWarnings a function raises: turning them off
    (np.errstate(over="ignore"), warnings.filterwarnings("ignore"), np.seterr) fails, here as there."""
    check_not_silenced(forward_mlp_3layer, "forward_mlp_3layer with logits of several hundred")
