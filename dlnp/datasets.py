"""Datasets for the exercises: handwritten digits (offline), MNIST, synthetic sets.

* :func:`load_digits` is the embedded default and always works offline: the
  1,797 scikit-learn digits (8x8 pixels, 10 classes), optionally upsampled to
  28x28 so that they look like MNIST to a CNN.
* :func:`load_mnist` downloads the real MNIST (70,000 images of 28x28) once
  through ``sklearn.datasets.fetch_openml`` and keeps a local copy.
* :func:`make_line`, :func:`make_gate` and :func:`make_blobs` build small
  synthetic problems. (Spirals are an exercise of chapter 5.2, ``make_spirals``:
  this module, which ships to students, has no answer to it.)

Images are float64 in ``[0, 1]``, shaped ``(n, 784)`` (flat, for MLPs) or
``(n, 1, 28, 28)`` (for CNNs); labels are integer vectors ``(n,)``; use
:func:`one_hot` for the ``(n, k)`` targets of the cross-entropy.
"""

from __future__ import annotations

import os
from importlib import import_module
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

__all__ = [
    "MNIST_TRAIN_SIZE",
    "DatasetUnavailableError",
    "Split",
    "default_cache_dir",
    "load_digits",
    "load_mnist",
    "make_blobs",
    "make_gate",
    "make_line",
    "mnist_split",
    "one_hot",
    "train_test_split",
    "upsample",
]

#: MNIST's official split: the first 60,000 images are the training set.
MNIST_TRAIN_SIZE = 60_000


class DatasetUnavailableError(RuntimeError):
    """A dataset could not be loaded (for MNIST: no network and no local copy)."""


class Split(NamedTuple):
    """A train/test split: images or features and integer labels."""

    X_train: FloatArray
    y_train: IntArray
    X_test: FloatArray
    y_test: IntArray


# --------------------------------------------------------------------------- helpers


def one_hot(labels: NDArray[Any], num_classes: int | None = None) -> FloatArray:
    """One-hot encode integer labels: ``(n,)`` -> ``(n, num_classes)`` of 0.0/1.0.

    ``num_classes`` defaults to ``labels.max() + 1``.
    """
    labels = np.asarray(labels, dtype=np.int64).ravel()
    k = int(labels.max()) + 1 if num_classes is None else num_classes
    out = np.zeros((labels.size, k))
    out[np.arange(labels.size), labels] = 1.0
    return out


def _interpolation_matrix(n_out: int, n_in: int) -> FloatArray:
    """Linear-interpolation weights ``(n_out, n_in)`` (pixel centres aligned)."""
    centres = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
    centres = np.clip(centres, 0.0, n_in - 1.0)
    left = np.floor(centres).astype(np.int64)
    right = np.minimum(left + 1, n_in - 1)
    frac = centres - left
    R = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    np.add.at(R, (rows, left), 1.0 - frac)
    np.add.at(R, (rows, right), frac)
    return R


def upsample(images: NDArray[Any], size: int = 28) -> FloatArray:
    """Bilinear resize of square images ``(n, h, w)`` to ``(n, size, size)``.

    Separable linear interpolation: ``R @ image @ C.T`` with fixed weight
    matrices, so the whole batch is two matrix products.
    """
    images = np.asarray(images, dtype=np.float64)
    R = _interpolation_matrix(size, images.shape[-2])
    C = _interpolation_matrix(size, images.shape[-1])
    return np.einsum("ih,nhw,jw->nij", R, images, C)


def _shape_images(X: FloatArray, side: int, flatten: bool) -> FloatArray:
    if flatten:
        return X.reshape(X.shape[0], side * side)
    return X.reshape(X.shape[0], 1, side, side)


def train_test_split(
    X: NDArray[Any],
    y: NDArray[Any],
    test_fraction: float = 0.2,
    seed: int = 0,
) -> Split:
    """Stratified random split: every class keeps its share in both parts."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    test_index: list[NDArray[np.intp]] = []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        test_index.append(members[: round(test_fraction * members.size)])
    is_test = np.zeros(y.shape[0], dtype=bool)
    is_test[np.concatenate(test_index)] = True
    train = rng.permutation(np.flatnonzero(~is_test))
    test = np.flatnonzero(is_test)
    return Split(X[train], y[train].astype(np.int64), X[test], y[test].astype(np.int64))


# --------------------------------------------------------------------------- digits


def load_digits(image_size: int = 8, flatten: bool = True) -> tuple[FloatArray, IntArray]:
    """The 1,797 handwritten digits bundled with scikit-learn (works offline).

    Parameters
    ----------
    image_size : int, default 8
        8 keeps the original 8x8 images; any other size (28 for the CNN
        chapters) upsamples them bilinearly.
    flatten : bool, default True
        ``True``: ``X`` is ``(n, image_size**2)``; ``False``: ``(n, 1, s, s)``
        (one channel, for ``conv_forward``).

    Returns
    -------
    X : float64 array, values in [0, 1]
    y : int64 array, shape (n,), labels 0..9
    """
    sklearn_datasets: Any = import_module("sklearn.datasets")
    bunch: Any = sklearn_datasets.load_digits()
    images = np.asarray(bunch.images, dtype=np.float64) / 16.0  # pixels are 0..16
    if image_size != 8:
        images = np.clip(upsample(images, image_size), 0.0, 1.0)
    labels = np.asarray(bunch.target, dtype=np.int64)
    return _shape_images(images, image_size, flatten), labels


# --------------------------------------------------------------------------- MNIST


def default_cache_dir() -> Path:
    """Where MNIST is kept: ``$DLNP_DATA`` if set, else ``~/.cache/dlnp``."""
    env = os.environ.get("DLNP_DATA")
    return Path(env) if env else Path.home() / ".cache" / "dlnp"


def load_mnist(cache_dir: str | os.PathLike[str] | None = None, flatten: bool = True) -> tuple[FloatArray, IntArray]:
    """The real MNIST: 70,000 images of 28x28, downloaded once and then cached.

    The first call fetches ``mnist_784`` from OpenML (about 15 MB, needs the
    network) with ``sklearn.datasets.fetch_openml`` and saves a compressed
    copy ``mnist_784.npz`` in ``cache_dir``; later calls read that file.
    The first 60,000 images are the official training set, the last 10,000
    the official test set (see :func:`mnist_split`).

    Parameters
    ----------
    cache_dir : path, optional
        Folder of the local copy; default :func:`default_cache_dir`.
    flatten : bool, default True
        ``(n, 784)`` if True, else ``(n, 1, 28, 28)``.

    Returns
    -------
    X : float64 array, values in [0, 1]
    y : int64 array, shape (n,), labels 0..9

    Raises
    ------
    DatasetUnavailableError
        When there is neither a local copy nor a network connection.
    """
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cached = folder / "mnist_784.npz"
    if cached.is_file():
        with np.load(cached, allow_pickle=False) as data:
            pixels, labels = data["X"], data["y"]
    else:
        sklearn_datasets: Any = import_module("sklearn.datasets")
        try:
            bunch: Any = sklearn_datasets.fetch_openml(
                "mnist_784",
                version=1,
                as_frame=False,
                data_home=str(folder / "openml"),
            )
        except OSError as exc:  # URLError, HTTPError, timeouts, DNS: all OSError
            raise DatasetUnavailableError(
                "Could not download MNIST (no network connection?), so use the "
                "embedded digits instead: dlnp.datasets.load_digits(image_size=28) "
                "in Python or --dataset digits on the command line."
            ) from exc
        pixels = np.asarray(bunch.data).astype(np.uint8)
        labels = np.asarray(bunch.target).astype(np.int64)
        folder.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cached, X=pixels, y=labels)
    X = np.asarray(pixels, dtype=np.float64) / 255.0
    return _shape_images(X, 28, flatten), np.asarray(labels, dtype=np.int64)


def mnist_split(X: NDArray[Any], y: NDArray[Any]) -> Split:
    """MNIST's official split (first 60,000 train, rest test) when ``X`` is complete.

    A smaller array (a subset) gets a stratified 1/7 test split instead.
    """
    if X.shape[0] == 70_000:
        n = MNIST_TRAIN_SIZE
        return Split(X[:n], np.asarray(y[:n], np.int64), X[n:], np.asarray(y[n:], np.int64))
    return train_test_split(X, y, test_fraction=1 / 7)


# --------------------------------------------------------------------------- synthetic


def _generator(rng: np.random.Generator | None) -> np.random.Generator:
    return np.random.default_rng() if rng is None else rng


def make_line(
    n: int = 100, noise: float = 0.1, rng: np.random.Generator | None = None
) -> tuple[FloatArray, FloatArray]:
    """Regression data on the line ``y = 2x + 1`` plus Gaussian noise.

    Returns ``X`` of shape ``(n, 1)`` with x uniform in [0, 1) and ``y`` of
    shape ``(n, 1)``.
    """
    gen = _generator(rng)
    X = gen.random((n, 1))
    y = 2.0 * X + 1.0 + noise * gen.standard_normal((n, 1))
    return X, y


_GATES = {
    "and": (0, 0, 0, 1),
    "or": (0, 1, 1, 1),
    "nand": (1, 1, 1, 0),
    "nor": (1, 0, 0, 0),
    "xor": (0, 1, 1, 0),
}


def make_gate(gate: str = "xor") -> tuple[FloatArray, FloatArray]:
    """Truth table of a logic gate: ``X`` ``(4, 2)`` of 0/1 inputs, ``y`` ``(4, 1)``.

    ``gate`` is one of ``"and"``, ``"or"``, ``"nand"``, ``"nor"``, ``"xor"``
    (XOR is the classic problem no single-layer perceptron can solve).
    """
    key = gate.lower()
    if key not in _GATES:
        raise ValueError(f"unknown gate {gate!r}; choose one of {sorted(_GATES)}")
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array(_GATES[key], dtype=np.float64).reshape(4, 1)
    return X, y


def make_blobs(
    n_per_class: int = 100,
    n_classes: int = 3,
    std: float = 0.5,
    n_features: int = 2,
    rng: np.random.Generator | None = None,
) -> tuple[FloatArray, IntArray]:
    """Gaussian clusters, one per class, with centres drawn in ``[-5, 5]``.

    Returns ``X`` ``(n_per_class * n_classes, n_features)`` and labels ``(n,)``.
    """
    gen = _generator(rng)
    centres = gen.uniform(-5.0, 5.0, size=(n_classes, n_features))
    labels = np.repeat(np.arange(n_classes), n_per_class)
    X = centres[labels] + std * gen.standard_normal((labels.size, n_features))
    return X, labels.astype(np.int64)
