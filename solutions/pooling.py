"""Max pooling (chapter 4.3).

Pooling keeps the largest value of every window of the last two axes. Its
backward pass sends each window's gradient to the one input that won, so a
tie has to be broken by a fixed rule: the first maximum in row-major order.
"""

from collections.abc import Iterable, Iterator

import numpy as np

from ._types import FloatArray


def _window_offsets(X: FloatArray, size: int, stride: int) -> Iterator[FloatArray]:
    """Yield one view per offset ``(m, n)`` of the pooling window, in row-major order.

    ``view[..., i, j]`` is ``X[..., i * stride + m, j * stride + n]``: the entry at
    offset ``(m, n)`` of window ``(i, j)``, for all windows at once (a strided
    view, no copy). Looping over the ``size * size`` offsets (not over pixels)
    keeps every step a whole-array operation.
    """
    if size < 1 or stride < 1:
        raise ValueError(f"size and stride must be positive, got {size} and {stride}")
    H, W = X.shape[-2], X.shape[-1]
    if size > H or size > W:
        raise ValueError(f"pooling window {size}x{size} is larger than {(H, W)}")
    Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1
    for m in range(size):
        for n in range(size):
            rows = slice(m, m + stride * (Ho - 1) + 1, stride)
            cols = slice(n, n + stride * (Wo - 1) + 1, stride)
            yield X[..., rows, cols]


def _window_max(offsets: Iterable[FloatArray]) -> FloatArray:
    """Maximum of every window: a running ``np.maximum`` over the window offsets."""
    views = iter(offsets)
    out = next(views).copy()
    for view in views:
        np.maximum(out, view, out=out)
    return out


def _window_stack(X: FloatArray, size: int, stride: int) -> FloatArray:
    """The views of :func:`_window_offsets`, copied into one C-contiguous array.

    Shape ``(size * size,) + X.shape[:-2] + (H', W')``: entry ``k`` holds offset
    ``k`` (row-major) of every window. One copy of each strided view, then every
    comparison runs over contiguous memory, several times faster.
    """
    views = list(_window_offsets(X, size, stride))
    stack = np.empty((len(views), *views[0].shape), dtype=views[0].dtype)
    for k, view in enumerate(views):
        stack[k] = view
    return stack


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
    return _window_max(_window_offsets(X, size, s))


def max_pool_backward(dout: FloatArray, X: FloatArray, size: int = 2, stride: int | None = None) -> FloatArray:
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
    stack = _window_stack(X, size, s)  # (size * size, ..., H', W')
    pooled = _window_max(stack)
    # Visit the window offsets in row-major order; the first offset holding the
    # window's maximum claims the whole gradient, later ties get nothing.
    unclaimed = np.ones(pooled.shape, dtype=bool)
    first = np.empty(pooled.shape, dtype=bool)
    # When the windows tile X exactly, the loop below writes every entry of dX.
    tiled = s == size and X.shape[-2] % size == 0 and X.shape[-1] % size == 0
    dX = (np.empty_like if tiled else np.zeros_like)(X, dtype=np.result_type(dout, X))  # X's layout
    zero = dX.dtype.type(0)
    for values, target in zip(stack, _window_offsets(dX, size, s), strict=True):
        np.equal(values, pooled, out=first)
        first &= unclaimed
        if s >= size:  # disjoint windows: write 0 + gradient, no need to read target
            np.add(dout * first, zero, out=target)
        else:  # overlapping windows (stride < size) add up: one offset at a time, +=
            target += dout * first
        unclaimed ^= first  # first is a subset of unclaimed: this removes it
    return dX
