"""Hidden graders, chapter 4.3: max_pool, max_pool_backward.

Pinned by SPEC §5 and the docstrings: max over size x size windows of the LAST two
axes, stride defaulting to size (and free to differ), valid output sizes
(H - size) // stride + 1; the backward pass sends each window's gradient to its FIRST
maximum in row-major order (ties included), overlapping windows add up.

Inputs are small integers (many ties, like ReLU outputs full of zeros) so that the tie
rule is exercised; known mistakes are modelled here and named when a result matches:
gradient to all ties, ties split, last maximum, stride 1 / stride ignored, wrong window,
``=`` instead of ``+=`` for overlapping windows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from autograder.harness import Student, StudentRaised, grade, reference
from autograder.toolbox import Array
from dlnp.testing import Feedback, Mistake, check_array

CHAPTER = "4.3"



# ----------------------------------------------------------------------------- trusted models


def _windows(X: Array, size: int, stride: int) -> Array:
    return sliding_window_view(X, (size, size), axis=(-2, -1))[..., ::stride, ::stride, :, :]


def _pool(X: Array, size: int, stride: int, how: str = "max") -> Array:
    w = _windows(X.astype(np.float64), size, stride)
    return w.mean(axis=(-2, -1)) if how == "mean" else w.max(axis=(-2, -1))


def _backward(dout: Array, X: Array, size: int, stride: int, rule: str = "first") -> Array:
    """Route every window's gradient by ``rule`` (the trusted model of correct and buggy versions)."""
    X = X.astype(np.float64)
    dout = dout.astype(np.float64)
    dX = np.zeros(X.shape)
    Ho, Wo = dout.shape[-2], dout.shape[-1]
    for i in range(Ho):
        for j in range(Wo):
            win = X[..., i * stride : i * stride + size, j * stride : j * stride + size]
            flat = win.reshape(*win.shape[:-2], size * size)
            g = dout[..., i, j][..., None]
            if rule == "first":
                share = (np.arange(size * size) == np.argmax(flat, axis=-1)[..., None]) * 1.0
            elif rule == "last":
                last = size * size - 1 - np.argmax(flat[..., ::-1], axis=-1)
                share = (np.arange(size * size) == last[..., None]) * 1.0
            elif rule == "all ties":
                share = (flat == flat.max(axis=-1, keepdims=True)) * 1.0
            elif rule == "split ties":
                ties = (flat == flat.max(axis=-1, keepdims=True)) * 1.0
                share = ties / ties.sum(axis=-1, keepdims=True)
            else:  # "whole window": every entry of the window gets the gradient
                share = np.ones_like(flat)
            dX[..., i * stride : i * stride + size, j * stride : j * stride + size] += (g * share).reshape(win.shape)
    return dX


def _backward_overwrite(dout: Array, X: Array, size: int, stride: int, whole_window: bool) -> Array:
    """Correct routing, but assigned with ``=``: a later window overwrites what an earlier one wrote."""
    X = X.astype(np.float64)
    dX = np.zeros(X.shape)
    Ho, Wo = dout.shape[-2], dout.shape[-1]
    for idx in np.ndindex(dout.shape[:-2]):
        for i in range(Ho):
            for j in range(Wo):
                win = X[idx][i * stride : i * stride + size, j * stride : j * stride + size]
                m, n = divmod(int(np.argmax(win)), size)
                if whole_window:
                    block = np.zeros((size, size))
                    block[m, n] = dout[idx][i, j]
                    dX[idx][i * stride : i * stride + size, j * stride : j * stride + size] = block
                else:
                    dX[idx][i * stride + m, j * stride + n] = dout[idx][i, j]
    return dX


def _ties(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any = np.float64) -> Array:
    """Small integers with many exact ties, a third of them 0 (like ReLU outputs)."""
    X = rng.integers(0, 4, size=shape).astype(np.float64)
    X[rng.random(shape) < 0.3] = 0.0
    return X.astype(dtype)


def _hw(rng: np.random.Generator) -> tuple[int, int]:
    H = int(rng.integers(5, 10))
    W = int(rng.integers(5, 10))
    return H, W if W != H else W + 1


# ----------------------------------------------------------------------------- max_pool


def _pool_mistakes(X: Array, size: int, stride: int) -> list[Mistake]:
    out = [
        Mistake("average pooling", _pool(X, size, stride, "mean"),
                "You averaged each window; max pooling keeps its LARGEST value."),
    ]
    if stride != 1:
        out.append(Mistake("stride 1", _pool(X, size, 1),
                           f"Your windows move one pixel at a time; the stride is {stride} "
                           "(stride=None means stride = size)."))
        Ho, Wo = _pool(X, size, stride).shape[-2:]
        out.append(Mistake("wrong window", _pool(X, size, 1)[..., :Ho, :Wo],
                           "You have the right number of outputs, but window (i, j) must start at "
                           "(i*stride, j*stride), not at (i, j)."))
    if stride != size:
        out.append(Mistake("stride ignored", _pool(X, size, size),
                           f"You used stride = size = {size}; this call asked for stride {stride}."))
    if size != 2 and min(X.shape[-2:]) >= 2:
        for used in dict.fromkeys((stride, 2)):
            out.append(Mistake("size ignored", _pool(X, 2, used),
                               f"Your windows are 2 x 2 whatever size is: this call asked for size {size} "
                               f"(windows of {size} x {size}); use the size argument."))
    return out


def _call_pool(student: Student, X: Array, *args: Any) -> Any:
    try:
        return student.call("max_pool", X, *args)
    except StudentRaised as exc:
        if any(s in exc.message for s in ("broadcast", "shape", "index", "reshape")):
            raise Feedback(
                f"{exc.message}\nLikely mistake (wrong window) for X of shape {X.shape}, the windows cover the "
                "LAST two axes: X[..., i*s:i*s + size, j*s:j*s + size], with (H - size) // s + 1 rows of windows "
                "(any leftover rows/columns are dropped)."
            ) from None
        raise


@grade("max_pool", points=2)
def test_max_pool_default(student: Student, rng: np.random.Generator) -> None:
    """max_pool of a (n, C, H, W) batch with the defaults (2x2, stride 2), odd sizes"""
    H, W = _hw(rng)
    X = _ties(rng, (int(rng.integers(2, 4)), int(rng.integers(2, 4)), H | 1, W | 1))
    got = _call_pool(student, X)
    check_array(got, reference("max_pool", X), name=f"max_pool(X of shape {X.shape})",
                mistakes=_pool_mistakes(X, 2, 2))


@grade("max_pool", points=2)
def test_max_pool_stride_differs(student: Student, rng: np.random.Generator) -> None:
    """max_pool with size 3 / stride 2 (overlap) on 2-D input and size 2 / stride 3 (gaps) on 3-D input"""
    for shape, size, stride in (((*_hw(rng),), 3, 2), ((2, *_hw(rng)), 2, 3)):
        X = rng.normal(size=shape)
        got = _call_pool(student, X, size, stride)
        check_array(got, reference("max_pool", X, size, stride),
                    name=f"max_pool(X of shape {X.shape}, size={size}, stride={stride})",
                    mistakes=_pool_mistakes(X, size, stride))


@grade("max_pool", points=1)
def test_max_pool_float32(student: Student, rng: np.random.Generator) -> None:
    """max_pool works on float32 input"""
    X = rng.normal(size=(2, *_hw(rng))).astype(np.float32)
    got = _call_pool(student, X)
    check_array(got, reference("max_pool", X), name="max_pool(float32 X)", inputs=[X],
                mistakes=_pool_mistakes(X, 2, 2))


# ----------------------------------------------------------------------------- max_pool_backward


def _backward_mistakes(dout: Array, X: Array, size: int, stride: int) -> list[Mistake]:
    out = [
        Mistake("gradient to all ties", _backward(dout, X, size, stride, "all ties"),
                "Every tied maximum received the full gradient (a mask X == max): the gradient is counted "
                "twice. Only the FIRST maximum in row-major order (np.argmax of the flattened window) gets it."),
        Mistake("ties split", _backward(dout, X, size, stride, "split ties"),
                "You split the gradient among tied maxima; the whole gradient goes to the FIRST maximum in "
                "row-major order."),
        Mistake("last maximum", _backward(dout, X, size, stride, "last"),
                "On ties your gradient goes to the LAST maximum; the convention is the first one in row-major "
                "order (what np.argmax returns)."),
        Mistake("gradient to the whole window", _backward(dout, X, size, stride, "whole window"),
                "Every entry of a window received the gradient; only the window's maximum influenced the "
                "output, so only it gets the gradient."),
    ]
    if size != 2:
        Ho, Wo = dout.shape[-2:]
        small = _backward(dout, X[..., : (Ho - 1) * stride + 2, : (Wo - 1) * stride + 2], 2, stride)
        ignored = np.zeros(X.shape)
        ignored[..., : small.shape[-2], : small.shape[-1]] = small
        out.append(Mistake("size ignored", ignored,
                           f"Your windows are 2 x 2 whatever size is: this call asked for size {size}; use the "
                           "size argument for the windows (X[..., i*s:i*s + size, j*s:j*s + size])."))
    if stride < size:
        for whole in (False, True):
            out.append(Mistake("= instead of +=", _backward_overwrite(dout, X, size, stride, whole),
                               "With overlapping windows (stride < size) an input that wins several windows "
                               "must receive the SUM of their gradients: use +=, not =."))
    return out


def _call_backward(student: Student, dout: Array, X: Array, *args: Any) -> Any:
    try:
        return student.call("max_pool_backward", dout, X, *args)
    except StudentRaised as exc:
        if any(s in exc.message for s in ("broadcast", "shape", "index", "reshape")):
            raise Feedback(
                f"{exc.message}\nLikely mistake (wrong window) dout {dout.shape} has one entry per window of "
                f"X {X.shape}; window (i, j) is X[..., i*s:i*s + size, j*s:j*s + size] and dX has X's shape."
            ) from None
        raise


@grade("max_pool_backward", points=3)
def test_max_pool_backward_ties(student: Student, rng: np.random.Generator) -> None:
    """max_pool_backward on inputs with many ties: the first maximum (row-major) takes the gradient"""
    H, W = _hw(rng)
    X = _ties(rng, (int(rng.integers(2, 4)), 2, H, W))
    X[0, 0, :2, :2] = 1.0  # at least one window that is one big tie
    dout = rng.normal(size=reference("max_pool", X).shape)
    got = _call_backward(student, dout, X)
    check_array(got, reference("max_pool_backward", dout, X), name=f"max_pool_backward(dout, X of shape {X.shape})",
                mistakes=_backward_mistakes(dout, X, 2, 2))


@grade("max_pool_backward", points=3)
def test_max_pool_backward_stride(student: Student, rng: np.random.Generator) -> None:
    """max_pool_backward with overlapping windows (size 3, stride 2; size 2, stride 1) and 2-D input"""
    for size, stride in ((3, 2), (2, 1)):
        X = _ties(rng, _hw(rng))
        dout = rng.normal(size=reference("max_pool", X, size, stride).shape)
        got = _call_backward(student, dout, X, size, stride)
        check_array(got, reference("max_pool_backward", dout, X, size, stride),
                    name=f"max_pool_backward(dout, X of shape {X.shape}, size={size}, stride={stride})",
                    mistakes=_backward_mistakes(dout, X, size, stride))


@grade("max_pool_backward", points=1)
def test_max_pool_backward_float32(student: Student, rng: np.random.Generator) -> None:
    """max_pool_backward works on float32 input"""
    X = _ties(rng, (2, *_hw(rng)), np.float32)
    dout = rng.normal(size=reference("max_pool", X).shape).astype(np.float32)
    got = _call_backward(student, dout, X)
    check_array(got, reference("max_pool_backward", dout, X), name="max_pool_backward(float32 dout, X)",
                inputs=[X], mistakes=_backward_mistakes(dout, X, 2, 2))
