"""A student who made the classic mistakes (loaded as patches by `dlnp demo`)."""

from typing import Any

import numpy as np

from neural_network._types import FloatArray  # pyright: ignore[reportMissingImports]


def normalize(X: FloatArray) -> FloatArray:
    return (X - X.mean(axis=0)) / X.std(axis=0, ddof=1)


def softmax(Z: FloatArray) -> FloatArray:
    E = np.exp(Z)
    return E / E.sum(axis=0, keepdims=True)


def mse_loss(y_pred: FloatArray, y: FloatArray) -> float:
    return float(np.sum((y_pred - y) ** 2))


def numerical_gradient(X: FloatArray, y: FloatArray, params: dict[str, Any], loss_fn: Any, forward_fn: Any,
                       h: float = 1e-4) -> dict[str, FloatArray]:
    grads: dict[str, FloatArray] = {}
    base = loss_fn(forward_fn(X, params), y)
    for name, theta in params.items():
        grad = np.zeros_like(theta)
        for idx in np.ndindex(theta.shape):
            theta[idx] += h
            grad[idx] = (loss_fn(forward_fn(X, params), y) - base) / h
        grads[name] = grad
    return grads


def backward_mlp(X: FloatArray, A1: FloatArray, A2: FloatArray, y: FloatArray, W1: FloatArray,
                 W2: FloatArray, Z1: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    dZ2 = A2 - y
    dZ1 = (dZ2 @ W2.T) * (Z1 > 0)
    return X.T @ dZ1, np.sum(dZ1, axis=0), A1.T @ dZ2, np.sum(dZ2, axis=0)
