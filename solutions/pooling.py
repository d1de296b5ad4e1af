"""Max pooling (chapter 4.3).

Pooling keeps the largest value of every window of the last two axes. Its
backward pass sends each window's gradient to the one input that won, so a
tie has to be broken by a fixed rule: the first maximum in row-major order.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from ._types import FloatArray


def _pool_windows(X: FloatArray, size: int, stride: int) -> FloatArray:
    """Read-only view ``X.shape[:-2] + (H', W', size, size)`` of the pooling windows."""
    if size < 1 or stride < 1:
        raise ValueError(f"size and stride must be positive, got {size} and {stride}")
    if size > X.shape[-2] or size > X.shape[-1]:
        raise ValueError(f"pooling window {size}x{size} is larger than {X.shape[-2:]}")
    view = sliding_window_view(X, (size, size), axis=(-2, -1))
    return view[..., ::stride, ::stride, :, :]


def max_pool(X: FloatArray, size: int = 2, stride: int | None = None) -> FloatArray:
    r"""Max pooling over the last two axes.

    .. math::

        \mathrm{out}[\dots, i, j] = \max_{0 \le m, n < \mathrm{size}}
            X[\dots, i s + m,\; j s + n]

    Parameters
    ----------
    X : array, shape (..., H, W)
        Any number of leading axes (e.g. ``(H, W)``, ``(n, C, H, W)``); each
        ``(H, W)`` slice is pooled on its own.
    size : int, default 2
        The windows are ``size x size``.
    stride : int or None, default None
        Step between windows; ``None`` means ``stride = size`` (non-overlapping
        windows). It may differ from ``size``.

    Returns
    -------
    array, shape (..., H', W')
        ``H' = (H - size) // stride + 1``, ``W' = (W - size) // stride + 1``
        ("valid": rows/columns left over at the bottom/right edge are dropped).

    Notes
    -----
    No input is modified.
    """
    s = size if stride is None else stride
    return _pool_windows(X, size, s).max(axis=(-2, -1))


def max_pool_backward(
    dout: FloatArray, X: FloatArray, size: int = 2, stride: int | None = None
) -> FloatArray:
    r"""Gradient of :func:`max_pool` with respect to its input.

    Each output entry ``out[..., i, j]`` came from one window of ``X``. Its
    gradient ``dout[..., i, j]`` goes entirely to the position of the window's
    maximum and nothing goes to the other entries of that window.

    Parameters
    ----------
    dout : array, shape (..., H', W')
        Upstream gradient, shaped like ``max_pool(X, size, stride)``.
    X : array, shape (..., H, W)
        The input of the forward pass.
    size : int, default 2
        Window size used in the forward pass.
    stride : int or None, default None
        Stride used in the forward pass (``None`` means ``size``).

    Returns
    -------
    array, shape (..., H, W)
        ``dX``. Ties: when a window's maximum appears more than once, the whole
        gradient goes to the FIRST maximum in row-major order (scanning the
        window row by row, left to right, as ``np.argmax`` on the flattened
        window does); the other tied entries get 0. With overlapping windows
        (``stride < size``) an input that wins several windows receives the SUM
        of their gradients. Inputs covered by no window get 0.

    Notes
    -----
    No input is modified.
    """
    s = size if stride is None else stride
    windows = _pool_windows(X, size, s)  # (..., H', W', size, size)
    Ho, Wo = int(windows.shape[-4]), int(windows.shape[-3])
    H, W = int(X.shape[-2]), int(X.shape[-1])
    flat = windows.reshape(windows.shape[:-2] + (size * size,))
    winner: NDArray[np.intp] = np.argmax(flat, axis=-1)  # first maximum, row-major, ties included
    # Position of every winner inside its (H, W) slice ...
    rows: NDArray[np.intp] = np.arange(Ho).reshape(Ho, 1) * s + winner // size
    cols: NDArray[np.intp] = np.arange(Wo).reshape(1, Wo) * s + winner % size
    # ... and inside the whole array, so one bincount adds everything up.
    leading = int(np.prod(X.shape[:-2], dtype=np.int64))
    offset = (np.arange(leading) * (H * W)).reshape(X.shape[:-2] + (1, 1))
    index: NDArray[np.intp] = (offset + rows * W + cols).ravel()
    dX = np.bincount(index, weights=dout.ravel(), minlength=X.size)
    return dX.reshape(X.shape).astype(np.result_type(dout, X), copy=False)
