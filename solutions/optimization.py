"""Gradient descent, full batch (chapter 2.2) and mini-batch (chapter 2.3)."""

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from ._types import FloatArray
from .losses import mse_loss

LossFn = Callable[[FloatArray, FloatArray], float]
ActivationFn = Callable[[FloatArray], FloatArray]


def gradient_descent(
    X: FloatArray,
    y: FloatArray,
    W: FloatArray,
    b: FloatArray,
    lr: float,
    num_epochs: int,
    batch_size: int | None = None,
    loss_fn: LossFn = mse_loss,
    activation_fn: ActivationFn | None = None,
    rng: np.random.Generator | None = None,
) -> tuple[FloatArray, FloatArray, list[float]]:
    r"""Train a one-layer model $A = f(XW + b)$ by (mini-batch) gradient descent.

    Parameters
    ----------
    X : array of shape (n, d)
        Inputs, one sample per row.
    y : array of shape (n, 1)
        Targets.
    W : array of shape (d, 1)
        Initial weights (not modified: updated copies are returned).
    b : array of shape (1, 1)
        Initial bias (not modified).
    lr : float
        Learning rate $\eta$.
    num_epochs : int
        Number of passes over the data.
    batch_size : int or None
        ``None`` means full batch: one update per epoch on all n samples, and
        ``rng`` is never touched. Otherwise each epoch draws
        ``perm = rng.permutation(n)`` and updates on the consecutive slices
        ``perm[0:batch_size]``, ``perm[batch_size:2*batch_size]``, ... (the last
        batch may be smaller).
    loss_fn : callable ``loss_fn(A, y) -> float``
        Loss recorded in the history (default: mean squared error).
    activation_fn : callable or None
        ``f`` above; ``None`` is the identity (linear regression). With
        ``sigmoid`` and ``binary_cross_entropy`` this is logistic regression.
    rng : numpy Generator or None
        Source of the shuffles; defaults to ``np.random.default_rng()``.

    Returns
    -------
    W : array of shape (d, 1)
        Trained weights.
    b : array of shape (1, 1)
        Trained bias (same shape as the input ``b``).
    loss_history : list of float
        One entry per epoch: ``loss_fn`` on the FULL data after that epoch.

    Notes
    -----
    On a batch ``(Xb, yb)`` of m samples with $A = f(X_b W + b)$ the update uses
    the error-form gradients

    $$\nabla_W = \frac{1}{m} X_b^\top (A - y_b), \qquad
      \nabla_b = \mathrm{mean}(A - y_b, \text{axis}=0),$$

    then $W \leftarrow W - \eta \nabla_W$, $b \leftarrow b - \eta \nabla_b$.
    This is the exact gradient of binary cross-entropy for a sigmoid output, and
    the gradient of HALF the mean squared error for a linear output: the true
    gradient of ``mse_loss`` is twice as large (chapter 2.4 makes you check this).
    """

    def predict(Xs: FloatArray, Ws: FloatArray, bs: FloatArray) -> FloatArray:
        Z = Xs @ Ws + bs
        return Z if activation_fn is None else activation_fn(Z)

    W = np.array(W, copy=True)
    b = np.array(b, copy=True)
    n = X.shape[0]
    if batch_size is not None and rng is None:
        rng = np.random.default_rng()
    loss_history: list[float] = []
    for _ in range(num_epochs):
        batches: list[NDArray[np.intp]]
        if batch_size is None or rng is None:
            batches = [np.arange(n)]
        else:
            perm = rng.permutation(n)
            batches = [perm[i : i + batch_size] for i in range(0, n, batch_size)]
        for idx in batches:
            Xb, yb = X[idx], y[idx]
            error = predict(Xb, W, b) - yb
            W -= lr * (Xb.T @ error) / Xb.shape[0]
            b -= lr * np.mean(error, axis=0, keepdims=True).reshape(b.shape)
        loss_history.append(float(loss_fn(predict(X, W, b), y)))
    return W, b, loss_history
