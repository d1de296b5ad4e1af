"""Hidden graders, chapter 4.2: conv2d, conv_forward, conv_backward.

Pinned by SPEC §5 and the docstrings: "valid" cross-correlation exactly as
out[i, j] = sum_mn image[i*s + m, j*s + n] * kernel[m, n] (NO kernel flip), output
sizes (H - k) // s + 1, the same stride along both axes; conv_forward over
(n, C, H, W) with K (F, C, kh, kw) and b (F,); conv_backward returns the exact
gradients of sum(dout * conv_forward(X, K, b, stride)): dK summed over the batch,
db of shape (F,). Inputs are small so that loop implementations finish in time.

Known mistakes are computed here, on the trusted side, and named when a result
matches one: kernel flipped (scipy.signal.convolve2d), stride ignored, wrong output
size, dK averaged / from one image, db over the wrong axes, overlapping windows
accumulated with a fancy-indexed ``+=`` (or ``=``) instead of np.add.at.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from autograder.harness import Student, StudentRaised, check_raises, grade, reference
from autograder.toolbox import Array, central_differences
from dlnp.testing import Feedback, Mistake, check_all, check_array, check_tuple

CHAPTER = "4.2"



# ----------------------------------------------------------------------------- trusted models


def _corr(image: Array, kernel: Array, stride: int = 1) -> Array:
    """Valid cross-correlation (the chapter's formula)."""
    windows = sliding_window_view(image, kernel.shape)[::stride, ::stride]
    return np.einsum("ijpq,pq->ij", windows, kernel)


def _forward(X: Array, K: Array, b: Array, stride: int = 1, *, flip: bool = False, bias: str = "once",
             channels: str = "all") -> Array:
    """conv_forward with optional known mistakes (the trusted model of a student's variant)."""
    Kx = K[:, :, ::-1, ::-1] if flip else K
    cols = sliding_window_view(X, K.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]
    if channels == "first":
        cols, Kx = cols[:, :1], Kx[:, :1]
    out = np.einsum("icyxpq,fcpq->ifyx", cols, Kx)
    if bias == "once":
        out = out + b.reshape(1, -1, 1, 1)
    elif bias == "per channel":
        out = out + X.shape[1] * b.reshape(1, -1, 1, 1)
    return out


def _out_size(H: int, k: int, s: int) -> int:
    return (H - k) // s + 1


def _scatter(dcols: Array, X_shape: tuple[int, ...], stride: int, how: str) -> Array:
    """Put window gradients dcols (n, C, H', W', kh, kw) back onto dX: the right way and two wrong ones."""
    _, _, Ho, Wo, kh, kw = dcols.shape
    dX = np.zeros(X_shape)
    if how == "slices +=":  # correct
        for y in range(Ho):
            for x in range(Wo):
                dX[:, :, y * stride : y * stride + kh, x * stride : x * stride + kw] += dcols[:, :, y, x]
    elif how == "slices =":  # later windows overwrite earlier ones
        for y in range(Ho):
            for x in range(Wo):
                dX[:, :, y * stride : y * stride + kh, x * stride : x * stride + kw] = dcols[:, :, y, x]
    else:  # one fancy-indexed +=: repeated positions keep only one contribution
        rows = (np.arange(Ho)[:, None, None, None] * stride + np.arange(kh)[None, None, :, None])
        cols = (np.arange(Wo)[None, :, None, None] * stride + np.arange(kw)[None, None, None, :])
        rows, cols = np.broadcast_arrays(rows, cols)
        if how == "fancy += (offset-major)":
            order = (2, 3, 0, 1)
            rows, cols = rows.transpose(order), cols.transpose(order)
            values = dcols.transpose(0, 1, 4, 5, 2, 3)
        else:
            values = dcols
        dX[:, :, rows, cols] += values
    return dX


def _backward(dout: Array, X: Array, K: Array, stride: int, *, flip: bool = False,
              scatter: str = "slices +=") -> tuple[Array, Array, Array]:
    Kx = K[:, :, ::-1, ::-1] if flip else K
    cols = sliding_window_view(X, K.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]
    dK = np.einsum("ifyx,icyxpq->fcpq", dout, cols)
    if flip:
        dK = dK[:, :, ::-1, ::-1]
    db = dout.sum(axis=(0, 2, 3))
    dcols = np.einsum("ifyx,fcpq->icyxpq", dout, Kx)
    return _scatter(dcols, X.shape, stride, scatter), dK, db


def _finite_differences(dout: Array, X: Array, K: Array, b: Array, stride: int, h: float = 1e-6
                        ) -> tuple[Array, Array, Array]:
    """Central differences of sum(dout * conv_forward(X, K, b)) with respect to X, K and b."""
    X, K, b = X.copy(), K.copy(), b.copy()
    g = central_differences(lambda: float(np.sum(dout * _forward(X, K, b, stride))), [X, K, b], h)
    return g[0], g[1], g[2]


# ----------------------------------------------------------------------------- conv2d


def _image(rng: np.random.Generator, dtype: Any = np.float64) -> tuple[Array, Array]:
    H, W = int(rng.integers(6, 11)), int(rng.integers(6, 11))
    kh, kw = int(rng.integers(2, 5)), int(rng.integers(2, 5))
    if kh == kw:
        kw = kh + 1 if kh < 4 else kh - 1  # a non-square kernel: swapped axes show
    return rng.normal(size=(H, W)).astype(dtype), rng.normal(size=(kh, kw)).astype(dtype)


def _conv2d_mistakes(image: Array, kernel: Array, stride: int) -> list[Mistake]:
    image, kernel = image.astype(np.float64), kernel.astype(np.float64)
    full = _corr(image, kernel)
    Ho, Wo = _out_size(image.shape[0], kernel.shape[0], stride), _out_size(image.shape[1], kernel.shape[1], stride)
    out: list[Mistake] = [
        Mistake("kernel flipped", _corr(image, kernel[::-1, ::-1], stride),
                "Your result is the TRUE convolution (kernel flipped, as scipy.signal.convolve2d does); the "
                "chapter's formula is cross-correlation: image[i*s + m, j*s + n] * kernel[m, n], no flip."),
    ]
    if stride > 1:
        out += [
            Mistake("stride ignored", full,
                    f"Your output is the stride-1 result: with stride {stride} the windows start at rows and "
                    f"columns 0, {stride}, {2 * stride}, ... (image[i*s + m, j*s + n])."),
            Mistake("wrong window", full[:Ho, :Wo],
                    "You computed the right number of outputs, but window (i, j) must start at "
                    "(i*stride, j*stride), not at (i, j)."),
        ]
    out.append(Mistake("wrong output size", _corr(image, kernel, stride)[:-1, :-1],
                       "Your output lacks the last row and column: the size is (H - kh) // stride + 1 (do not "
                       "forget the + 1)."))
    if kernel.shape[0] <= image.shape[1] and kernel.shape[1] <= image.shape[0]:
        out.append(Mistake("kernel transposed", _corr(image, kernel.T, stride),
                           "You used kernel[n, m] instead of kernel[m, n]: rows of the kernel go with rows of "
                           "the image."))
    return out


def _no_scipy(exc: StudentRaised) -> None:
    if "No module named" in exc.message:
        raise Feedback(
            f"{exc.message}\nLikely mistake (only NumPy) the grader runs your package with NumPy alone: "
            "scipy.signal is for checking your work by hand, not for the solution (and convolve2d flips the "
            "kernel anyway). Compute the windows with slicing or sliding_window_view."
        ) from None


def _call_conv2d(student: Student, image: Array, kernel: Array, stride: int | None) -> Any:
    args: tuple[Any, ...] = (image, kernel) if stride is None else (image, kernel, stride)
    try:
        return student.call("conv2d", *args)
    except StudentRaised as exc:
        _no_scipy(exc)
        if "shape" in exc.message or "broadcast" in exc.message:
            raise Feedback(
                f"{exc.message}\nLikely mistake (wrong output size) for an image {image.shape} and a kernel "
                f"{kernel.shape} with stride {stride or 1}, there are (H - kh) // stride + 1 = "
                f"{_out_size(image.shape[0], kernel.shape[0], stride or 1)} rows of windows and "
                f"{_out_size(image.shape[1], kernel.shape[1], stride or 1)} columns; each window is "
                "image[i*s:i*s + kh, j*s:j*s + kw]."
            ) from None
        raise


@grade("conv2d", points=2)
def test_conv2d_values(student: Student, rng: np.random.Generator) -> None:
    """conv2d with stride 1 is the valid cross-correlation (no kernel flip)"""
    image, kernel = _image(rng)
    got = _call_conv2d(student, image, kernel, None)
    check_array(got, reference("conv2d", image, kernel), name=f"conv2d(image {image.shape}, kernel {kernel.shape})",
                mistakes=_conv2d_mistakes(image, kernel, 1))


@grade("conv2d", points=2)
def test_conv2d_stride(student: Student, rng: np.random.Generator) -> None:
    """conv2d with strides 2 and 3, sizes that do not divide evenly"""
    for stride in (2, 3):
        image, kernel = _image(rng)
        if (image.shape[0] - kernel.shape[0]) % stride == 0:  # leave a row over at the bottom
            image = np.vstack([image, rng.normal(size=(1, image.shape[1]))])
        got = _call_conv2d(student, image, kernel, stride)
        check_array(got, reference("conv2d", image, kernel, stride),
                    name=f"conv2d(image {image.shape}, kernel {kernel.shape}, stride={stride})",
                    mistakes=_conv2d_mistakes(image, kernel, stride))


@grade("conv2d", points=1)
def test_conv2d_float32_and_invalid_sizes(student: Student, rng: np.random.Generator) -> None:
    """conv2d works on float32 input; a kernel larger than the image or a stride < 1 raises ValueError"""
    image, kernel = _image(rng, np.float32)

    def float32() -> None:
        got = _call_conv2d(student, image, kernel, None)
        check_array(got, reference("conv2d", image, kernel), name="conv2d(float32 image, float32 kernel)",
                    inputs=[image], mistakes=_conv2d_mistakes(image, kernel, 1))

    big = rng.normal(size=(image.shape[0] + 1, 2))
    tall = (f"conv2d(image {image.shape}, kernel {big.shape})", (image.astype(np.float64), big), {})
    zero = (f"conv2d(image {image.shape}, kernel {kernel.shape}, stride=0)",
            (image.astype(np.float64), kernel.astype(np.float64)), {"stride": 0})

    def invalid(call: str, args: tuple[Array, Array], kwargs: dict[str, Any]) -> Callable[[], None]:
        return lambda: check_raises(student, "conv2d", *args, call=call, **kwargs,
                                    why="the docstring's Raises: the kernel must fit in the image, stride >= 1")

    check_all(float32, invalid(*tall), invalid(*zero))


# ----------------------------------------------------------------------------- conv_forward


def _layer(rng: np.random.Generator, stride: int = 1, dtype: Any = np.float64) -> tuple[Array, Array, Array]:
    n, C, F = int(rng.integers(2, 4)), int(rng.integers(2, 4)), int(rng.integers(2, 5))
    if F == n:
        F += 1  # n and F differ: swapped axes show
    kh, kw = int(rng.integers(2, 4)), int(rng.integers(2, 4))
    H, W = int(rng.integers(5, 9)), int(rng.integers(5, 9))
    X = rng.normal(size=(n, C, H, W)).astype(dtype)
    K = rng.normal(size=(F, C, kh, kw)).astype(dtype)
    b = rng.normal(size=F).astype(dtype)
    return X, K, b


def _forward_mistakes(X: Array, K: Array, b: Array, stride: int) -> list[Mistake]:
    X, K, b = X.astype(np.float64), K.astype(np.float64), b.astype(np.float64)
    right = _forward(X, K, b, stride)
    out = [
        Mistake("kernel flipped", _forward(X, K, b, stride, flip=True),
                "Your result uses flipped kernels (true convolution, as scipy.signal.convolve2d computes); the "
                "layer is cross-correlation: X[i, c, y*s + m, x*s + n] * K[f, c, m, n]."),
        Mistake("missing bias", _forward(X, K, b, stride, bias="none"),
                "Your outputs lack the bias: add b[f] to every position of feature map f."),
        Mistake("bias added per channel", _forward(X, K, b, stride, bias="per channel"),
                "You added the bias once per input channel (C times): add b[f] once per output value."),
        Mistake("channel sum missing", _forward(X, K, b, stride, channels="first"),
                "Only the first input channel contributes: each filter sums over ALL C channels "
                "(sum over c of conv2d(X[i, c], K[f, c]))."),
        Mistake("axes swapped", right.transpose(1, 0, 2, 3),
                "Your output is (F, n, H', W'); the layer returns (n, F, H', W'): images first, then filters."),
        Mistake("channels last", right.transpose(0, 2, 3, 1),
                "Your output is (n, H', W', F); the layer returns (n, F, H', W') (channels first)."),
    ]
    if stride > 1:
        out.append(Mistake("stride ignored", _forward(X, K, b, 1),
                           f"Your output is the stride-1 result: with stride {stride} window (y, x) starts at "
                           "(y*stride, x*stride)."))
    return out


def _call_forward(student: Student, X: Array, K: Array, b: Array, stride: int | None) -> Any:
    args: tuple[Any, ...] = (X, K, b) if stride is None else (X, K, b, stride)
    try:
        return student.call("conv_forward", *args)
    except StudentRaised as exc:
        _no_scipy(exc)
        if any(s in exc.message for s in ("broadcast", "shape", "aligned", "mismatch")):
            raise Feedback(
                f"{exc.message}\nLikely mistake (shape mismatch) X is (n, C, H, W) = {X.shape}, K is "
                f"(F, C, kh, kw) = {K.shape}, b is (F,) = {b.shape}; the output is (n, F, H', W') with "
                "H' = (H - kh) // stride + 1."
            ) from None
        raise


@grade("conv_forward", points=2)
def test_conv_forward_values(student: Student, rng: np.random.Generator) -> None:
    """conv_forward: several images, channels and filters, stride 1"""
    X, K, b = _layer(rng)
    got = _call_forward(student, X, K, b, None)
    check_array(got, reference("conv_forward", X, K, b), name=f"conv_forward(X {X.shape}, K {K.shape}, b)",
                mistakes=_forward_mistakes(X, K, b, 1))


@grade("conv_forward", points=2)
def test_conv_forward_stride(student: Student, rng: np.random.Generator) -> None:
    """conv_forward with stride 2 (sizes that do not divide evenly)"""
    X, K, b = _layer(rng)
    if (X.shape[2] - K.shape[2]) % 2 == 0:
        X = np.concatenate([X, rng.normal(size=(*X.shape[:2], 1, X.shape[3]))], axis=2)
    got = _call_forward(student, X, K, b, 2)
    check_array(got, reference("conv_forward", X, K, b, 2),
                name=f"conv_forward(X {X.shape}, K {K.shape}, b, stride=2)", mistakes=_forward_mistakes(X, K, b, 2))


@grade("conv_forward", points=1)
def test_conv_forward_float32(student: Student, rng: np.random.Generator) -> None:
    """conv_forward works on float32 input"""
    X, K, b = _layer(rng, dtype=np.float32)
    got = _call_forward(student, X, K, b, None)
    check_array(got, reference("conv_forward", X, K, b), name="conv_forward(float32 X, K, b)", inputs=[X],
                mistakes=_forward_mistakes(X, K, b, 1))


# ----------------------------------------------------------------------------- conv_backward


NAMES = ("dX", "dK", "db")


def _backward_mistakes(dout: Array, X: Array, K: Array, stride: int) -> list[list[Mistake]]:
    dout, X, K = dout.astype(np.float64), X.astype(np.float64), K.astype(np.float64)
    n = X.shape[0]
    _, dK, db = _backward(dout, X, K, stride)
    _, dK0, db0 = _backward(dout[:1], X[:1], K, stride)
    flipped = _backward(dout, X, K, stride, flip=True)
    mistakes_dX = [
        Mistake("kernel flipped", flipped[0],
                "dX was computed with flipped kernels: every window entry (m, n) of image i gets "
                "dout[i, f, y, x] * K[f, c, m, n], the same (unflipped) K as in the forward pass."),
    ]
    dcols = np.einsum("ifyx,fcpq->icyxpq", dout, K)
    overwritten = _scatter(dcols, X.shape, stride, "slices =")
    for how in ("fancy += (window-major)", "fancy += (offset-major)"):
        lost = _scatter(dcols, X.shape, stride, how)
        if np.allclose(lost, overwritten):  # the last window wins either way: one diagnosis names both causes
            mistakes_dX.append(Mistake(
                "= instead of +=, or a[idx] += v instead of np.add.at", lost,
                "Overlapping windows lost contributions: a pixel in several windows must get the SUM of their "
                "gradients. Assigning each window with = keeps only the last one, and so does one fancy-indexed "
                "dX[idx] += v (it adds only ONE of the values aimed at a repeated position). Add one window at a "
                "time with +=, or accumulate with np.add.at(dX, idx, v)."))
        else:
            mistakes_dX.append(Mistake(
                "a[idx] += v instead of np.add.at", lost,
                "Overlapping windows lost contributions: with fancy indexing, dX[idx] += v adds only ONE of "
                "the values aimed at a repeated position. Accumulate with np.add.at(dX, idx, v), or add one "
                "window (or one kernel offset) at a time with slices."))
    mistakes_dX.append(Mistake("= instead of +=", overwritten,
                               "Overlapping windows overwrite each other: accumulate with += "
                               "(dX[..., rows, cols] += ...), a pixel in several windows gets the sum."))
    mistakes_dK = [
        Mistake("dK averaged over the batch", dK / n,
                f"Your dK is n = {n} times too small: the filters are shared by all images, so their gradient "
                "is the SUM over the batch (any mean is already inside dout)."),
        Mistake("dK not summed over the batch", dK0,
                "Your dK only contains the first image's contribution: sum over all n images."),
        Mistake("kernel flipped", flipped[1],
                "Your dK is flipped: dK[f, c, m, n] = sum dout[i, f, y, x] * X[i, c, y*s + m, x*s + n]."),
    ]
    mistakes_db = [
        Mistake("db on the wrong axes", dout.sum(axis=(1, 2, 3)),
                "Your db has one entry per IMAGE; it has one per filter: sum dout over axes (0, 2, 3)."),
        Mistake("db on the wrong axes", dout.sum(axis=0),
                "Your db still has the spatial axes: sum dout over the images AND all positions, axes (0, 2, 3)."),
        Mistake("db on the wrong axes", dout.sum(axis=(0, 2)),
                "Your db kept one spatial axis: sum dout over axes (0, 2, 3)."),
        Mistake("db averaged", db / n,
                f"Your db is n = {n} times too small: sum over the batch, do not average."),
        Mistake("db not summed over the batch", db0,
                "Your db only contains the first image: sum over all n images and positions."),
    ]
    mistakes_db.append(Mistake("db on the wrong axes", dout.sum(),
                               "Your db is a single number: it has one entry per filter, shape (F,)."))
    return [mistakes_dX, mistakes_dK, mistakes_db]


def _call_backward(student: Student, dout: Array, X: Array, K: Array, stride: int | None) -> tuple[Any, ...]:
    args: tuple[Any, ...] = (dout, X, K) if stride is None else (dout, X, K, stride)
    try:
        got = student.call("conv_backward", *args)
    except StudentRaised as exc:
        _no_scipy(exc)
        if any(s in exc.message for s in ("broadcast", "shape", "aligned", "mismatch", "index")):
            raise Feedback(
                f"{exc.message}\nLikely mistake (shape mismatch) dout is (n, F, H', W') = {dout.shape}, X is "
                f"(n, C, H, W) = {X.shape}, K is (F, C, kh, kw) = {K.shape}; window (y, x) covers "
                "X[:, :, y*s:y*s + kh, x*s:x*s + kw]."
            ) from None
        raise
    return check_tuple(got, 3, name="conv_backward(dout, X, K)", parts="dX, dK, db")


def _check_backward(got: tuple[Any, ...], want: tuple[Array, Array, Array], mistakes: list[list[Mistake]],
                    what: str, inputs: list[Any] | None = None, rtol: float | None = None,
                    atol: float | None = None) -> None:
    for p in (2, 1, 0):  # db, dK, then dX
        check_array(got[p], want[p], name=f"{NAMES[p]} of conv_backward ({what})", mistakes=mistakes[p],
                    inputs=inputs or [], rtol=rtol, atol=atol)


def _backward_case(rng: np.random.Generator, stride: int, dtype: Any = np.float64
                   ) -> tuple[Array, Array, Array, Array]:
    n, C, F = int(rng.integers(2, 4)), int(rng.integers(1, 3)), int(rng.integers(2, 4))
    k = 3 if stride < 3 else 2
    H = int(rng.integers(5, 8))
    W = H + 1
    if stride > 1 and (H - k) % stride == 0:
        H += 1  # a row no window covers
    X = rng.normal(size=(n, C, H, W))
    K = rng.normal(size=(F, C, k, k))
    b = rng.normal(size=F)
    dout = rng.normal(size=(n, F, _out_size(H, k, stride), _out_size(W, k, stride)))
    return dout.astype(dtype), X.astype(dtype), K.astype(dtype), b.astype(dtype)


@grade("conv_backward", points=4)
def test_conv_backward_finite_differences(student: Student, rng: np.random.Generator) -> None:
    """conv_backward agrees with finite differences (stride 1: overlapping windows)"""
    dout, X, K, b = _backward_case(rng, 1)
    got = _call_backward(student, dout, X, K, None)
    want = _finite_differences(dout, X, K, b, 1)
    _check_backward(got, want, _backward_mistakes(dout, X, K, 1),
                    f"X {X.shape}, K {K.shape}, stride 1; compared with finite differences", rtol=1e-5, atol=1e-7)


@grade("conv_backward", points=3)
def test_conv_backward_stride(student: Student, rng: np.random.Generator) -> None:
    """conv_backward with strides 2 (overlap) and 3 (gaps, uncovered pixels get 0)"""
    for stride in (2, 3):
        dout, X, K, b = _backward_case(rng, stride)
        got = _call_backward(student, dout, X, K, stride)
        want = _finite_differences(dout, X, K, b, stride)
        _check_backward(got, want, _backward_mistakes(dout, X, K, stride),
                        f"X {X.shape}, K {K.shape}, stride {stride}; compared with finite differences",
                        rtol=1e-5, atol=1e-7)


@grade("conv_backward", points=2)
def test_conv_backward_shapes_and_batch_sum(student: Student, rng: np.random.Generator) -> None:
    """conv_backward: dK summed over a larger batch, db of shape (F,)"""
    dout, X, K, _ = _backward_case(rng, 1)
    X = np.concatenate([X, rng.normal(size=X.shape)])
    dout = np.concatenate([dout, rng.normal(size=dout.shape)])
    got = _call_backward(student, dout, X, K, 1)
    _check_backward(got, reference("conv_backward", dout, X, K, 1), _backward_mistakes(dout, X, K, 1),
                    f"a batch of {X.shape[0]} images")


@grade("conv_backward", points=1)
def test_conv_backward_float32(student: Student, rng: np.random.Generator) -> None:
    """conv_backward works on float32 input"""
    dout, X, K, _ = _backward_case(rng, 1, np.float32)
    got = _call_backward(student, dout, X, K, None)
    want = reference("conv_backward", *(a.astype(np.float64) for a in (dout, X, K)))
    _check_backward(got, want, _backward_mistakes(dout, X, K, 1), "float32 inputs", inputs=[X])

