"""``dlnp train`` and the reference training loops (quick runs only; the real figures are in the report)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dlnp import training
from dlnp.cli import main
from solutions.momentum import momentum_update


@pytest.mark.parametrize("model", ["mlp", "mlp3", "cnn"])
def test_train_command_writes_the_plots(model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / model
    code = main(["train", model, "--epochs", "2", "--limit", "300", "--out", str(out), "--no-progress"])
    assert code == 0
    expected = {"loss.png", "accuracy.png", "confusion_matrix.png", "metrics.json"}
    if model == "cnn":
        expected.add("filters.png")
    assert expected <= {p.name for p in out.iterdir()}
    for name in expected - {"metrics.json"}:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and 0.0 <= metrics["test_accuracy"] <= 1.0
    assert "test accuracy" in capsys.readouterr().out


def test_train_command_reports_missing_mnist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sklearn.datasets

    def offline(name: str, **kwargs: Any) -> Any:
        raise OSError("network is unreachable")

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", offline)
    code = main(["train", "mlp", "--dataset", "mnist", "--cache-dir", str(tmp_path), "--out", str(tmp_path / "o")])
    assert code == 1
    assert "--dataset digits" in capsys.readouterr().out


def test_in_place_momentum_equals_momentum_update() -> None:
    rng = np.random.default_rng(0)
    params = {"W": rng.normal(size=(3, 2)), "b": rng.normal(size=(1, 2))}
    expected = {k: v.copy() for k, v in params.items()}
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    optimizer = training.MomentumSGD(params, lr=0.1, mu=0.9)
    W_object = params["W"]
    for _ in range(3):
        grads = {k: rng.normal(size=v.shape) for k, v in params.items()}
        optimizer.step(params, grads)
        for k in expected:
            velocity[k] = momentum_update(velocity[k], grads[k], 0.9, 0.1)
            expected[k] = expected[k] + velocity[k]
    assert params["W"] is W_object  # updated in place
    for k in expected:
        np.testing.assert_allclose(params[k], expected[k])


@pytest.mark.parametrize("name", ["mlp", "mlp3", "cnn"])
def test_model_gradients_match_finite_differences(name: str) -> None:
    rng = np.random.default_rng(1)
    if name == "cnn":
        X = rng.normal(size=(3, 1, 6, 6))
        model: Any = training.CNN((1, 6, 6), 3, rng, filters=2)
    else:
        X = rng.normal(size=(4, 5))
        config = training.TrainConfig(model=name, hidden=4, hidden2=3)
        model = training.build_model(config, X, 3, rng)
    Y = np.eye(3)[[0, 2, 1, 0][: len(X)]]
    _, grads = model.loss_and_grads(X, Y)
    for key, param in model.params.items():
        numeric = np.zeros_like(param)
        for idx in np.ndindex(param.shape):
            old = param[idx]
            param[idx] = old + 1e-6
            plus = model.loss_and_grads(X, Y)[0]
            param[idx] = old - 1e-6
            minus = model.loss_and_grads(X, Y)[0]
            param[idx] = old
            numeric[idx] = (plus - minus) / 2e-6
        np.testing.assert_allclose(grads[key], numeric, rtol=1e-5, atol=1e-8, err_msg=key)


def test_random_shift_moves_images_with_zero_padding() -> None:
    images = np.arange(2 * 1 * 4 * 4, dtype=np.float64).reshape(2, 1, 4, 4) + 1
    shifted = training.random_shift(images, 1, np.random.default_rng(0))
    assert shifted.shape == images.shape
    for original, moved in zip(images[:, 0], shifted[:, 0], strict=True):
        found = False
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                padded = np.pad(original, 1)
                if np.array_equal(padded[1 - dy : 5 - dy, 1 - dx : 5 - dx], moved):
                    found = True
        assert found
    assert training.random_shift(images, 0, np.random.default_rng(0)) is images


def test_fit_learns_digits_quickly() -> None:
    from dlnp import datasets

    X, y = datasets.load_digits()
    split = datasets.train_test_split(X, y)
    X_train, X_test = training.standardize(split.X_train, split.X_test)
    config = training.TrainConfig(model="mlp", epochs=3, lr=0.01, hidden=64)
    _, history = training.fit(config, X_train, split.y_train, X_test, split.y_test)
    assert len(history.test_acc) == 3
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.test_acc[-1] > 0.9
