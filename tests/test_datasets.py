"""The kit's data module: embedded digits, the MNIST loader (never over the network), synthetic sets."""

from __future__ import annotations

import urllib.error
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sklearn.datasets
from sklearn.utils import Bunch

from dlnp import datasets


def test_load_digits_flat_and_upsampled() -> None:
    X, y = datasets.load_digits()
    assert X.shape == (1797, 64) and y.shape == (1797,)
    assert X.dtype == np.float64 and X.min() == 0.0 and X.max() == 1.0
    assert set(np.unique(y)) == set(range(10))
    images, labels = datasets.load_digits(image_size=28, flatten=False)
    assert images.shape == (1797, 1, 28, 28)
    np.testing.assert_array_equal(labels, y)
    assert 0.0 <= images.min() and images.max() <= 1.0
    # Upsampling keeps the picture: shrinking it back by block means is close to the original.
    small = images[:, 0].reshape(1797, 4, 7, 4, 7).mean(axis=(2, 4))
    coarse = X.reshape(1797, 8, 8).reshape(1797, 4, 2, 4, 2).mean(axis=(2, 4))
    assert np.abs(small - coarse).mean() < 0.05


def test_upsample_is_exact_on_constant_and_linear_images() -> None:
    constant = np.full((2, 8, 8), 0.25)
    np.testing.assert_allclose(datasets.upsample(constant, 28), 0.25)
    ramp = np.tile(np.arange(8.0), (1, 8, 1))  # value = column index
    up = datasets.upsample(ramp, 16)
    assert np.all(np.diff(up[0], axis=1) >= 0)  # still increasing to the right
    assert up.shape == (1, 16, 16)


def test_one_hot_and_stratified_split() -> None:
    np.testing.assert_array_equal(datasets.one_hot(np.array([2, 0, 1]), 4), np.eye(4)[[2, 0, 1]])
    X = np.arange(100.0).reshape(50, 2)
    y = np.repeat(np.arange(5), 10)
    split = datasets.train_test_split(X, y, test_fraction=0.2, seed=3)
    assert len(split.X_test) == 10 and len(split.X_train) == 40
    assert np.bincount(split.y_test).tolist() == [2] * 5  # every class keeps its share
    assert not set(split.X_train[:, 0]) & set(split.X_test[:, 0])  # disjoint
    again = datasets.train_test_split(X, y, test_fraction=0.2, seed=3)
    np.testing.assert_array_equal(split.X_test, again.X_test)
    with pytest.raises(ValueError):
        datasets.train_test_split(X, y, test_fraction=1.0)


def fake_mnist(n: int = 30) -> Any:
    """A tiny stand-in for OpenML's answer: uint8-valued pixels and string labels."""
    rng = np.random.default_rng(0)
    return Bunch(
        data=rng.integers(0, 256, size=(n, 784)).astype(np.float64),
        target=np.array([str(i % 10) for i in range(n)], dtype=object),
    )


def test_load_mnist_downloads_once_then_uses_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    bunch = fake_mnist()

    def fetch(name: str, **kwargs: Any) -> Any:
        calls.append({"name": name, **kwargs})
        return bunch

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", fetch)
    X, y = datasets.load_mnist(cache_dir=tmp_path)
    assert calls and calls[0]["name"] == "mnist_784" and calls[0]["as_frame"] is False
    assert X.shape == (30, 784) and X.dtype == np.float64
    np.testing.assert_allclose(X, bunch.data / 255.0)
    np.testing.assert_array_equal(y, np.arange(30) % 10)
    assert (tmp_path / "mnist_784.npz").is_file()

    def offline(name: str, **kwargs: Any) -> Any:
        raise AssertionError("the cache must be used, not the network")

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", offline)
    images, labels = datasets.load_mnist(cache_dir=tmp_path, flatten=False)
    assert images.shape == (30, 1, 28, 28)
    np.testing.assert_allclose(images.reshape(30, 784), X)
    np.testing.assert_array_equal(labels, y)
    split = datasets.mnist_split(X, y)  # a subset: stratified 1/7 test split
    assert len(split.X_train) + len(split.X_test) == 30


def test_load_mnist_offline_says_so_in_one_sentence_and_names_the_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(name: str, **kwargs: Any) -> Any:
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", no_network)
    with pytest.raises(datasets.DatasetUnavailableError) as info:
        datasets.load_mnist(cache_dir=tmp_path)
    message = str(info.value)
    assert "load_digits" in message and "--dataset digits" in message
    assert message.count(". ") == 0 and message.endswith(".")  # one sentence
    assert not (tmp_path / "mnist_784.npz").exists()


def test_synthetic_sets() -> None:
    X, y = datasets.make_line(200, noise=0.05, rng=np.random.default_rng(0))
    assert X.shape == y.shape == (200, 1)
    slope, intercept = np.polyfit(X[:, 0], y[:, 0], 1)
    assert slope == pytest.approx(2.0, abs=0.05) and intercept == pytest.approx(1.0, abs=0.05)

    X, y = datasets.make_gate("xor")
    assert X.shape == (4, 2) and y[:, 0].tolist() == [0, 1, 1, 0]
    for gate, rule in {"and": np.logical_and, "or": np.logical_or}.items():
        Xg, yg = datasets.make_gate(gate)
        np.testing.assert_array_equal(yg[:, 0], rule(Xg[:, 0], Xg[:, 1]))
    with pytest.raises(ValueError):
        datasets.make_gate("maybe")

    X, y = datasets.make_blobs(40, 4, std=0.1, n_features=3, rng=np.random.default_rng(2))
    assert X.shape == (160, 3) and np.bincount(y).tolist() == [40] * 4
    centres = np.array([X[y == c].mean(axis=0) for c in range(4)])
    nearest = np.argmin(((X[:, None, :] - centres[None]) ** 2).sum(axis=2), axis=1)
    assert np.mean(nearest == y) > 0.95


def test_no_answer_to_a_graded_function_ships() -> None:
    """dlnp/ ships whole to students: none of its modules may define a function the chapters grade."""
    import ast

    from dlnp.manifest import load_manifest

    graded = set(load_manifest().function_names)
    root = Path(datasets.__file__).resolve().parent
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text())
        defined = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        assert not defined & graded, f"{path.relative_to(root.parent)} defines graded {sorted(defined & graded)}"
