"""Perceptron (chapter 3.1), two-layer MLP forward (3.3) and backward (3.4)."""

import numpy as np

from ._types import FloatArray
from .activations import relu, sigmoid, softmax


def forward_perceptron(X: FloatArray, W: FloatArray, b: FloatArray) -> FloatArray:
    r"""Single-layer perceptron with a sigmoid output: $A = \sigma(XW + b)$.

    Parameters
    ----------
    X : array of shape (n, d)
    W : array of shape (d, 1)
    b : array of shape (1, 1)

    Returns
    -------
    array of shape (n, 1) of probabilities in [0, 1]. Stable for large $|XW + b|$
    (no RuntimeWarning, none silenced).
    """
    return sigmoid(X @ W + b)


def forward_mlp(
    X: FloatArray, W1: FloatArray, b1: FloatArray, W2: FloatArray, b2: FloatArray
) -> tuple[FloatArray, FloatArray]:
    r"""Forward pass of a two-layer MLP: ReLU hidden layer, softmax output.

    $$Z_1 = XW_1 + b_1,\quad A_1 = \mathrm{ReLU}(Z_1),\quad
      Z_2 = A_1W_2 + b_2,\quad A_2 = \mathrm{softmax}(Z_2)$$

    Parameters
    ----------
    X : array of shape (n, d)
    W1 : array of shape (d, h); b1 : array of shape (1, h)
    W2 : array of shape (h, k); b2 : array of shape (1, k)

    Returns
    -------
    A1 : array of shape (n, h), hidden activations
    A2 : array of shape (n, k), class probabilities (softmax row-wise)
    """
    A1 = relu(X @ W1 + b1)
    A2 = softmax(A1 @ W2 + b2)
    return A1, A2


def backward_mlp(
    X: FloatArray,
    A1: FloatArray,
    A2: FloatArray,
    y: FloatArray,
    W1: FloatArray,
    W2: FloatArray,
    Z1: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    r"""Gradients of the mean cross-entropy of ``forward_mlp`` by backpropagation.

    With softmax outputs and cross-entropy loss averaged over the n samples:

    $$dZ_2 = \frac{A_2 - y}{n},\quad \nabla W_2 = A_1^\top dZ_2,\quad
      \nabla b_2 = \textstyle\sum_i dZ_2,$$
    $$dZ_1 = (dZ_2 W_2^\top) \odot \mathbb{1}[Z_1 > 0],\quad
      \nabla W_1 = X^\top dZ_1,\quad \nabla b_1 = \textstyle\sum_i dZ_1.$$

    Parameters
    ----------
    X : array of shape (n, d)
    A1 : array of shape (n, h), hidden activations from ``forward_mlp``
    A2 : array of shape (n, k), softmax outputs from ``forward_mlp``
    y : array of shape (n, k), one-hot targets
    W1 : array of shape (d, h)
    W2 : array of shape (h, k)
    Z1 : array of shape (n, h), hidden pre-activations $XW_1 + b_1$; the ReLU
        mask is ``Z1 > 0``

    Returns
    -------
    grad_W1 : (d, h), grad_b1 : (1, h), grad_W2 : (h, k), grad_b2 : (1, k)
        Batch-MEAN gradients (the 1/n appears once); bias gradients are row
        vectors of shape (1, m), not (m,).
    """
    n = X.shape[0]
    dZ2 = (A2 - y) / n
    grad_W2 = A1.T @ dZ2
    grad_b2 = np.sum(dZ2, axis=0, keepdims=True)
    dZ1 = (dZ2 @ W2.T) * (Z1 > 0)
    grad_W1 = X.T @ dZ1
    grad_b1 = np.sum(dZ1, axis=0, keepdims=True)
    return grad_W1, grad_b1, grad_W2, grad_b2
