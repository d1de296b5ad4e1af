"""Convolutional layers (chapter 4.2).

Deep-learning "convolution" is cross-correlation: the kernel slides over the
image WITHOUT being flipped. Every output pixel is the dot product of the kernel
with the window under it, so the whole layer is one matrix product of the
windows ("im2col") with the kernels.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._types import FloatArray


def _windows(X: FloatArray, kh: int, kw: int, stride: int) -> FloatArray:
    """Read-only view of every (kh, kw) window of the last two axes, stride applied.

    Shape ``X.shape[:-2] + (H', W', kh, kw)`` with ``H' = (H - kh) // stride + 1``.
    """
    view = sliding_window_view(X, (kh, kw), axis=(-2, -1))
    return view[..., ::stride, ::stride, :, :]


def _im2col(X: FloatArray, kh: int, kw: int, stride: int, c_order: bool = False) -> FloatArray:
    """All windows of ``X (n, C, H, W)`` as the rows of one matrix.

    Shape ``(n * H' * W', C * kh * kw)``; row ``(i, y, x)`` (row-major) holds the
    window of image ``i`` at output position ``(y, x)``, flattened channel-major.

    The matrix is built as its transpose, ``(C * kh * kw, n * H' * W')``
    C-contiguous, and returned as a (Fortran-ordered) view: every kernel offset
    then copies whole rows of ``X`` instead of ``kw`` numbers at a time. A matrix
    product takes either memory order with the same BLAS call and the same
    rounding; ``c_order=True`` returns a C-contiguous copy for the products that
    NumPy hands to gemv (one dimension of size 1), whose rounding does depend on
    the order.
    """
    windows = _windows(X, kh, kw, stride)  # (n, C, H', W', kh, kw), a view
    n, C, Ho, Wo = windows.shape[:4]
    cols_t = np.empty((C, kh, kw, n, Ho, Wo), dtype=windows.dtype)
    cols_t[...] = windows.transpose(1, 4, 5, 0, 2, 3)
    cols = cols_t.reshape(C * kh * kw, n * Ho * Wo).T
    return np.ascontiguousarray(cols) if c_order else cols


def _is_degenerate(*dims: int) -> bool:
    """True when a matrix product of these dimensions is not a plain gemm for NumPy."""
    return min(dims) <= 1


def _check_stride(stride: int) -> None:
    if stride < 1:
        raise ValueError(f"stride must be a positive integer, got {stride}")


def conv2d(image: FloatArray, kernel: FloatArray, stride: int = 1) -> FloatArray:
    r"""Valid 2-D cross-correlation of one image with one kernel.

    .. math::

        \mathrm{out}[i, j] = \sum_{m=0}^{k_h-1} \sum_{n=0}^{k_w-1}
            \mathrm{image}[i s + m,\; j s + n]\; \mathrm{kernel}[m, n]

    with $s$ = ``stride``. The kernel is NOT flipped (``scipy.signal.convolve2d``
    flips it; ``scipy.signal.correlate2d(image, kernel, mode="valid")`` equals
    this function for ``stride=1``).

    Parameters
    ----------
    image : array, shape (H, W)
        One single-channel image.
    kernel : array, shape (kh, kw)
        The filter, with ``kh <= H`` and ``kw <= W``.
    stride : int, default 1
        Step between two neighbouring windows, the same along rows and columns.

    Returns
    -------
    array, shape (H', W')
        ``H' = (H - kh) // stride + 1`` and ``W' = (W - kw) // stride + 1``
        ("valid": only windows that lie fully inside the image; rows or columns
        left over at the bottom/right edge are ignored).

    Raises
    ------
    ValueError
        If the kernel is larger than the image or ``stride < 1``.

    Notes
    -----
    No input is modified.
    """
    _check_stride(stride)
    kh, kw = kernel.shape
    if kh > image.shape[0] or kw > image.shape[1]:
        raise ValueError(f"kernel {kernel.shape} is larger than image {image.shape}")
    return np.einsum("ijmn,mn->ij", _windows(image, kh, kw, stride), kernel)


def conv_forward(X: FloatArray, K: FloatArray, b: FloatArray, stride: int = 1) -> FloatArray:
    r"""Convolutional layer: F filters over a batch of multi-channel images.

    .. math::

        \mathrm{out}[i, f, y, x] = b[f] + \sum_{c} \sum_{m} \sum_{n}
            X[i, c, y s + m, x s + n]\; K[f, c, m, n]

    i.e. for every image $i$ and filter $f$, the sum over the channels $c$ of
    :func:`conv2d` of channel $c$ with ``K[f, c]``, plus the bias ``b[f]``.

    Parameters
    ----------
    X : array, shape (n, C, H, W)
        Batch of ``n`` images with ``C`` channels.
    K : array, shape (F, C, kh, kw)
        ``F`` filters, each covering all ``C`` channels.
    b : array, shape (F,)
        One bias per filter.
    stride : int, default 1
        Step between windows along rows and columns.

    Returns
    -------
    array, shape (n, F, H', W')
        ``H' = (H - kh) // stride + 1``, ``W' = (W - kw) // stride + 1``
        (valid cross-correlation, no padding, kernel not flipped).

    Notes
    -----
    No input is modified.
    """
    _check_stride(stride)
    F, _, kh, kw = K.shape
    n, _, H, W = X.shape
    Ho, Wo = (H - kh) // stride + 1, (W - kw) // stride + 1
    rows, depth = n * Ho * Wo, K[0].size
    # One matrix product: every window (row) times every filter (column).
    cols = _im2col(X, kh, kw, stride, c_order=_is_degenerate(rows, depth, F))
    out = cols @ K.reshape(F, -1).T  # (n * H' * W', F), C-contiguous
    bias = np.asarray(b)
    if bias.shape == (F,):  # the same additions, over rows of W' * F numbers instead of F
        out.reshape(n * Ho, Wo * F)[...] += np.tile(bias, Wo)
    else:
        out += b
    return out.reshape(n, Ho, Wo, F).transpose(0, 3, 1, 2)


def conv_backward(
    dout: FloatArray, X: FloatArray, K: FloatArray, stride: int = 1
) -> tuple[FloatArray, FloatArray, FloatArray]:
    r"""Gradients of a convolutional layer (:func:`conv_forward`).

    Given ``dout`` $= \partial L / \partial\,\mathrm{out}$, with
    $\mathrm{out}$ = ``conv_forward(X, K, b, stride)``:

    .. math::

        dK[f, c, m, n] = \sum_{i, y, x} \mathrm{dout}[i, f, y, x]\;
                         X[i, c, y s + m, x s + n],\qquad
        db[f] = \sum_{i, y, x} \mathrm{dout}[i, f, y, x],

    .. math::

        dX[i, c, y s + m, x s + n] \mathrel{+}= \sum_f
            \mathrm{dout}[i, f, y, x]\; K[f, c, m, n]

    where the last line ACCUMULATES: with overlapping windows (stride smaller
    than the kernel) one input pixel receives contributions from several
    windows, and all of them add up.

    Parameters
    ----------
    dout : array, shape (n, F, H', W')
        Upstream gradient, shaped like the layer's output.
    X : array, shape (n, C, H, W)
        The layer's input.
    K : array, shape (F, C, kh, kw)
        The layer's filters.
    stride : int, default 1
        The stride used in the forward pass.

    Returns
    -------
    dX : array, shape (n, C, H, W)
        Gradient with respect to ``X``; pixels that no window covers (left over
        at the bottom/right edge by the stride) get 0.
    dK : array, shape (F, C, kh, kw)
        Gradient with respect to ``K``, SUMMED over the batch (not averaged).
    db : array, shape (F,)
        Gradient with respect to ``b``, summed over the batch and all output
        positions.

    Notes
    -----
    These are the exact gradients of ``np.sum(dout * conv_forward(X, K, b, stride))``
    (any averaging over the batch belongs to the loss, which is already in
    ``dout``). No input is modified.
    """
    _check_stride(stride)
    F, C, kh, kw = K.shape
    n, _, Ho, Wo = dout.shape
    rows = n * Ho * Wo
    degenerate = _is_degenerate(rows, C * kh * kw, F)
    cols = _im2col(X, kh, kw, stride, c_order=degenerate)  # (n * H' * W', C * kh * kw)
    d = dout.transpose(0, 2, 3, 1)  # (n, H', W', F): rows match cols
    if degenerate or d.flags.c_contiguous:
        d = d.reshape(rows, F)
    else:  # copy whole rows of dout (fast) into a Fortran-ordered (rows, F) matrix
        d = np.ascontiguousarray(dout.transpose(1, 0, 2, 3)).reshape(F, rows).T
    dK = (d.T @ cols).reshape(F, C, kh, kw)  # sums over images and positions
    db = dout.sum(axis=(0, 2, 3))
    # Gradient of every window entry, then scatter the windows back onto dX.
    dcols = (d @ K.reshape(F, -1)).reshape(n, Ho, Wo, C, kh, kw)
    dX = np.zeros(X.shape, dtype=np.result_type(dout, K))
    for m in range(kh):  # loop over the kh * kw kernel offsets, not over pixels
        for q in range(kw):
            rows = slice(m, m + stride * (Ho - 1) + 1, stride)
            columns = slice(q, q + stride * (Wo - 1) + 1, stride)
            # Within one offset the windows never overlap, so += is exact here;
            # different offsets that hit the same pixel add up across the loop.
            dX[:, :, rows, columns] += dcols[:, :, :, :, m, q].transpose(0, 3, 1, 2)
    return dX, dK, db
