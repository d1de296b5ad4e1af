"""Deeper MLPs and vanishing gradients (chapter 4.1).

A 3-layer perceptron ``X -> ReLU -> ReLU -> softmax`` with its hand-derived
backward pass, and a measuring tool for the vanishing-gradient experiment: the
size of the weight gradient of every layer of a deep stack.
"""

from collections.abc import Sequence

import numpy as np

from ._types import FloatArray
from .activations import relu, relu_derivative, sigmoid, softmax


def forward_mlp_3layer(
    X: FloatArray,
    W1: FloatArray,
    b1: FloatArray,
    W2: FloatArray,
    b2: FloatArray,
    W3: FloatArray,
    b3: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    r"""Forward pass of a 3-layer MLP: ReLU, ReLU, softmax.

    .. math::

        Z_1 = X W_1 + b_1,\quad A_1 = \mathrm{ReLU}(Z_1),\qquad
        Z_2 = A_1 W_2 + b_2,\quad A_2 = \mathrm{ReLU}(Z_2),\qquad
        Z_3 = A_2 W_3 + b_3,\quad A_3 = \mathrm{softmax}(Z_3)

    Parameters
    ----------
    X : array, shape (n, d)
        Inputs, one sample per row.
    W1 : array, shape (d, h1)
    b1 : array, shape (1, h1)
    W2 : array, shape (h1, h2)
    b2 : array, shape (1, h2)
    W3 : array, shape (h2, k)
    b3 : array, shape (1, k)
        Weights and row-vector biases of the three layers.

    Returns
    -------
    A1 : array, shape (n, h1)
        First hidden activations, ``relu(Z1)``.
    A2 : array, shape (n, h2)
        Second hidden activations, ``relu(Z2)``.
    A3 : array, shape (n, k)
        Class probabilities, ``softmax(Z3)`` row by row (every row sums to 1).

    Notes
    -----
    The pre-activations ``Z1`` and ``Z2`` are not returned; the caller recomputes
    them (``Z1 = X @ W1 + b1``) for :func:`backward_mlp_3layer`. Softmax must be
    stable for large logits (no RuntimeWarning, none silenced). No input is modified.
    """
    A1 = relu(X @ W1 + b1)
    A2 = relu(A1 @ W2 + b2)
    A3 = softmax(A2 @ W3 + b3)
    return A1, A2, A3


def backward_mlp_3layer(
    X: FloatArray,
    A1: FloatArray,
    A2: FloatArray,
    A3: FloatArray,
    y: FloatArray,
    W1: FloatArray,
    W2: FloatArray,
    W3: FloatArray,
    Z1: FloatArray,
    Z2: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    r"""Backpropagation through the 3-layer MLP of :func:`forward_mlp_3layer`.

    The loss is the batch-mean categorical cross-entropy
    $L = -\frac{1}{n}\sum_i \sum_j y_{ij} \log A_{3,ij}$. With softmax at the
    output the error terms are

    .. math::

        \delta_3 = A_3 - y,\qquad
        \delta_2 = (\delta_3 W_3^T) \odot \mathrm{ReLU}'(Z_2),\qquad
        \delta_1 = (\delta_2 W_2^T) \odot \mathrm{ReLU}'(Z_1)

    and the gradients are $\nabla W_3 = A_2^T \delta_3 / n$,
    $\nabla W_2 = A_1^T \delta_2 / n$, $\nabla W_1 = X^T \delta_1 / n$,
    $\nabla b_l = $ the mean of $\delta_l$ over the rows.

    Parameters
    ----------
    X : array, shape (n, d)
        Inputs.
    A1 : array, shape (n, h1)
    A2 : array, shape (n, h2)
    A3 : array, shape (n, k)
        Outputs of :func:`forward_mlp_3layer` for ``X``.
    y : array, shape (n, k)
        One-hot targets.
    W1 : array, shape (d, h1)
    W2 : array, shape (h1, h2)
    W3 : array, shape (h2, k)
        Weights used in the forward pass (``W1`` is only needed for its shape).
    Z1 : array, shape (n, h1)
        First pre-activations ``X @ W1 + b1``; the ReLU mask is ``Z1 > 0``.
    Z2 : array, shape (n, h2)
        Second pre-activations ``A1 @ W2 + b2``; the ReLU mask is ``Z2 > 0``.

    Returns
    -------
    gW1 : array, shape (d, h1)
    gb1 : array, shape (1, h1)
    gW2 : array, shape (h1, h2)
    gb2 : array, shape (1, h2)
    gW3 : array, shape (h2, k)
    gb3 : array, shape (1, k)
        Gradients of the batch-MEAN cross-entropy (divided by ``n``), each with
        the shape of its parameter; bias gradients are row vectors ``(1, m)``.

    Notes
    -----
    The ReLU derivative is 1 where ``Z > 0`` and 0 elsewhere (also at exactly 0).
    The gradients agree with central finite differences of the loss
    ``cross_entropy(forward_mlp_3layer(...)[2], y)``. No input is modified.
    """
    n = X.shape[0]
    delta3 = (A3 - y) / n
    gW3 = A2.T @ delta3
    gb3 = np.sum(delta3, axis=0, keepdims=True)
    delta2 = (delta3 @ W3.T) * relu_derivative(Z2)
    gW2 = A1.T @ delta2
    gb2 = np.sum(delta2, axis=0, keepdims=True)
    delta1 = (delta2 @ W2.T) * relu_derivative(Z1)
    gW1 = X.T @ delta1
    gb1 = np.sum(delta1, axis=0, keepdims=True)
    return gW1, gb1, gW2, gb2, gW3, gb3


def gradient_norms_per_layer(
    X: FloatArray,
    y: FloatArray,
    weights: Sequence[FloatArray],
    biases: Sequence[FloatArray],
    activation: str = "sigmoid",
) -> FloatArray:
    r"""Size of the weight gradient of every layer of a deep MLP.

    The network has $L$ = ``len(weights)`` layers: every hidden layer is
    $A_l = g(A_{l-1} W_l + b_l)$ with $A_0 = X$ and $g$ the chosen
    ``activation``; the last layer is softmax, and the loss is the batch-mean
    categorical cross-entropy. Going backwards,

    .. math::

        \delta_L = A_L - y,\qquad
        \delta_l = (\delta_{l+1} W_{l+1}^T) \odot g'(Z_l),\qquad
        \nabla W_l = A_{l-1}^T \delta_l / n,

    and the function returns $\lVert \nabla W_l \rVert_F$ (the Frobenius
    norm: square root of the sum of squared entries) for $l = 1, \dots, L$.
    With sigmoid, $g' = \sigma(1 - \sigma) \le 1/4$ shrinks $\delta$ at every
    layer, so the first layers get much smaller gradients than the last ones.

    Parameters
    ----------
    X : array, shape (n, d)
        Inputs.
    y : array, shape (n, k)
        One-hot targets.
    weights : list of L arrays
        ``weights[l]`` has shape ``(m_l, m_{l+1})`` with ``m_0 = d`` and
        ``m_L = k``.
    biases : list of L arrays
        ``biases[l]`` has shape ``(1, m_{l+1})``.
    activation : {"sigmoid", "relu"}
        Hidden activation $g$. ReLU's derivative is 1 where ``Z > 0``, else 0;
        sigmoid's is ``sigmoid(Z) * (1 - sigmoid(Z))``.

    Returns
    -------
    array, shape (L,)
        Frobenius norms of the weight gradients, ordered from the FIRST layer
        (``weights[0]``, next to the input) to the output layer. Bias gradients
        are not included.

    Raises
    ------
    ValueError
        If ``activation`` is not ``"sigmoid"`` or ``"relu"``, or if ``weights``
        and ``biases`` have different lengths or are empty.
    """
    if activation not in ("sigmoid", "relu"):
        raise ValueError(f"activation must be 'sigmoid' or 'relu', got {activation!r}")
    if len(weights) != len(biases) or len(weights) == 0:
        raise ValueError("weights and biases must be non-empty lists of equal length")
    n = X.shape[0]
    # Forward pass, keeping every layer's input A_{l-1} and pre-activation Z_l.
    inputs: list[FloatArray] = [X]
    pre_activations: list[FloatArray] = []
    for W, b in zip(weights[:-1], biases[:-1], strict=True):
        Z = inputs[-1] @ W + b
        pre_activations.append(Z)
        inputs.append(sigmoid(Z) if activation == "sigmoid" else relu(Z))
    probs = softmax(inputs[-1] @ weights[-1] + biases[-1])

    # Backward pass, from the output layer down to the first one.
    norms = np.zeros(len(weights))
    delta = (probs - y) / n
    for layer in range(len(weights) - 1, -1, -1):
        norms[layer] = np.linalg.norm(inputs[layer].T @ delta)
        if layer > 0:
            Z_prev = pre_activations[layer - 1]
            if activation == "sigmoid":
                slope = sigmoid(Z_prev) * (1.0 - sigmoid(Z_prev))
            else:
                slope = relu_derivative(Z_prev)
            delta = (delta @ weights[layer].T) * slope
    return norms
