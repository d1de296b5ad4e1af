"""Public self-check for chapter 2.4: numerical_gradient, linear_forward, relative_error.

Functions with gradients known in closed form, and the chapter's factor-2 example
(skipped until your mse_loss from chapter 2.1 is implemented).
"""

import numpy as np
import pytest

from dlnp.testing import Mistake, check_array, check_restored, check_scalar
from neural_network.gradcheck import linear_forward, numerical_gradient, relative_error
from neural_network.losses import mse_loss

pytestmark = pytest.mark.chapter("2.4")


def _params_only(X: np.ndarray, params: dict[str, np.ndarray]) -> np.ndarray:
    """A 'forward pass' that returns the parameter w itself (X is ignored)."""
    return params["w"]


def _sum_of_squares(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.sum(pred**2))


def _sum_of_cubes(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.sum(pred**3))


def test_quadratic_gradient_is_2w() -> None:
    w = np.array([[1.0, -2.0], [0.5, 3.0]])
    grads = numerical_gradient(np.zeros((1, 1)), np.zeros((1, 1)), {"w": w.copy()}, _sum_of_squares, _params_only)
    assert set(grads) == {"w"}, f"the result has the keys of params, got {sorted(grads)}"
    check_array(grads["w"], 2 * w, name="numerical gradient of sum(w**2)", rtol=1e-6, atol=1e-8)


def test_central_not_forward_difference() -> None:
    # d/dw sum(w**3) = 3 w**2. Central difference: 3 w**2 + h**2 exactly; forward: 3 w**2 + 3 w h + h**2.
    w = np.array([1.0, 2.0, -1.0])
    h = 1e-4
    grads = numerical_gradient(np.zeros((1, 1)), np.zeros((1, 1)), {"w": w.copy()}, _sum_of_cubes, _params_only,
                               h=h)
    check_array(grads["w"], 3 * w**2, name="numerical gradient of sum(w**3)", rtol=0, atol=1e-6, mistakes=[
        Mistake("forward difference", 3 * w**2 + 3 * w * h + h**2,
                "Use the central difference (L(w + h) - L(w - h)) / (2h), not (L(w + h) - L(w)) / h."),
    ])


def test_h_is_used() -> None:
    # with h = 0.1 the central difference of w**3 is 3 w**2 + h**2 = 3 w**2 + 0.01
    w = np.array([1.0, 2.0])
    grads = numerical_gradient(np.zeros((1, 1)), np.zeros((1, 1)), {"w": w.copy()}, _sum_of_cubes, _params_only,
                               h=0.1)
    check_array(grads["w"], 3 * w**2 + 0.01, name="numerical gradient of sum(w**3) with h=0.1", atol=1e-9)


def test_parameters_are_restored() -> None:
    params = {"w": np.array([[0.1, 0.2, 0.3]]), "v": np.array([[-1.0], [2.0]])}
    arrays = dict(params)
    saved = {k: v.copy() for k, v in params.items()}
    numerical_gradient(np.zeros((1, 1)), np.zeros((1, 1)), params, _sum_of_cubes, _params_only)
    assert set(params) == set(saved) and all(params[k] is arrays[k] for k in saved), (
        "numerical_gradient must perturb the arrays of params in place and leave the same arrays in the dict")
    for name, value in saved.items():
        check_restored(params[name], value, name=f"params[{name!r}]", hint=(
            "Likely mistake (parameter not restored) after perturbing an entry, assign the SAVED original "
            "back (old = theta[idx]; theta[idx] = old + h; ...; theta[idx] = old)."))


def test_linear_forward_example() -> None:
    X = np.array([[1.0], [2.0], [3.0], [4.0]])
    params = {"W": np.array([[1.0]]), "b": np.array([[0.5]])}
    check_array(linear_forward(X, params), np.array([[1.5], [2.5], [3.5], [4.5]]), name="linear_forward(X, params)")


def test_linear_forward_with_several_outputs() -> None:
    X = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, -1.0]])
    params = {"W": np.array([[1.0, 2.0], [0.0, 1.0], [1.0, -1.0]]), "b": np.array([[0.5, -0.5]])}
    check_array(linear_forward(X, {k: v.copy() for k, v in params.items()}), np.array([[3.5, -0.5], [-0.5, 1.5]]),
                name="linear_forward(X, params) with 2 outputs",
                hint="b has shape (1, m): add it as it is, it broadcasts over the rows (no .T).")


def test_relative_error_of_two_matrices() -> None:
    a = np.array([[1.0, -2.0], [3.0, 0.0]])
    b = np.array([[0.0, -2.0], [1.0, 4.0]])
    # norm(a - b) = sqrt(21), norm(a) = sqrt(14), norm(b) = sqrt(21): Frobenius norms of the flattened arrays
    expected = np.sqrt(21.0) / (np.sqrt(14.0) + np.sqrt(21.0))  # 0.5505
    check_scalar(relative_error(a.copy(), b.copy()), expected, name="relative_error(a, b)", mistakes=[
        Mistake("sums of absolute values", 7.0 / 13.0, "Use Euclidean norms (np.linalg.norm), not sums of |x|."),
        Mistake("no norms", -0.2, "Use norms: norm(a - b) / (norm(a) + norm(b)); plain sums cancel out."),
    ], hint="relative_error uses the norms of the flattened arrays (np.linalg.norm(a - b) without ord=2).")


def test_relative_error_values() -> None:
    g = np.array([[-8.75], [-3.0]])
    check_scalar(relative_error(2 * g, g), 1.0 / 3.0, name="relative_error(2g, g)", mistakes=[
        Mistake("no denominator", float(np.linalg.norm(g)), "Divide by norm(a) + norm(b)."),
    ])
    check_scalar(relative_error(g, g.copy()), 0.0, name="relative_error(g, g)")
    check_scalar(relative_error(np.zeros((2, 2)), np.zeros((2, 2))), 0.0, name="relative_error(zeros, zeros)")


def test_the_factor_2_of_the_mse() -> None:
    try:
        mse_loss(np.zeros((1, 1)), np.zeros((1, 1)))
    except NotImplementedError:
        pytest.skip("needs mse_loss (chapter 2.1)")
    X = np.array([[1.0], [2.0], [3.0], [4.0]])
    y = np.array([[3.0], [5.0], [7.0], [9.0]])
    params = {"W": np.array([[1.0]]), "b": np.array([[0.5]])}
    grads = numerical_gradient(X, y, params, mse_loss, linear_forward)
    halves = "That is half the gradient of the MSE: the gradient of mean((pred - y)**2) has a factor 2."
    check_array(grads["W"], np.array([[-17.5]]), name="d mse / dW", atol=1e-6, mistakes=[
        Mistake("divided by h", np.array([[-35.0]]), "Divide the difference by 2h, not by h."),
        Mistake("half the MSE", np.array([[-8.75]]), halves)])
    check_array(grads["b"], np.array([[-6.0]]), name="d mse / db", atol=1e-6, mistakes=[
        Mistake("divided by h", np.array([[-12.0]]), "Divide the difference by 2h, not by h."),
        Mistake("half the MSE", np.array([[-3.0]]), halves)])
