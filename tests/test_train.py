"""``dlnp train`` and the reference training loops (quick runs only; the real figures are in the report)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dlnp import trainer
from instructor import training
from instructor.cli import main
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


@pytest.mark.parametrize("in_place", [False, True])
def test_momentum_step_equals_momentum_update(in_place: bool) -> None:
    rng = np.random.default_rng(0)
    params = {"W": rng.normal(size=(3, 2)), "b": rng.normal(size=(1, 2))}
    expected = {k: v.copy() for k, v in params.items()}
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    optimizer = (training.InPlaceMomentumSGD(params, lr=0.1, mu=0.9) if in_place
                 else trainer.MomentumSGD(training.REFERENCE, params, lr=0.1, mu=0.9))
    W_object = params["W"]
    for _ in range(3):
        grads = {k: rng.normal(size=v.shape) for k, v in params.items()}
        optimizer.step(params, grads)
        for k in expected:
            velocity[k] = momentum_update(velocity[k], grads[k], 0.9, 0.1)
            expected[k] = expected[k] + velocity[k]
    assert params["W"] is W_object  # updated in place
    for k in expected:
        np.testing.assert_array_equal(params[k], expected[k])  # the same operations: bit for bit


@pytest.mark.parametrize("name", ["mlp", "mlp3", "cnn"])
def test_model_gradients_match_finite_differences(name: str) -> None:
    rng = np.random.default_rng(1)
    if name == "cnn":
        X = rng.normal(size=(3, 1, 6, 6))
        model: Any = training.FastCNN((1, 6, 6), 3, rng, filters=2)
    else:
        X = rng.normal(size=(4, 5))
        config = training.ReferenceConfig(model=name, hidden=4, hidden2=3)
        model = training.build_model(config, X, 3, rng)
    Y = training.smooth_labels(np.eye(3)[[0, 2, 1, 0][: len(X)]], 0.1)  # soft targets as in training
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
    X_train, X_test = trainer.standardize(split.X_train, split.X_test)
    config = training.ReferenceConfig(model="mlp", epochs=3, lr=0.01, hidden=64)
    _, history = training.fit(config, X_train, split.y_train, X_test, split.y_test)
    assert len(history.test_acc) == 3
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.test_acc[-1] > 0.9


def test_weight_decay_spares_the_biases() -> None:
    params = {"W": np.ones((2, 2)), "b": np.ones((1, 2)), "bK": np.ones(2)}
    for optimizer in (training.InPlaceMomentumSGD(params, lr=0.1, mu=0.9, l2=0.5),
                      trainer.MomentumSGD(training.REFERENCE, params, lr=0.1, mu=0.9, l2=0.5)):
        for v in params.values():
            v[...] = 1.0
        optimizer.step(params, {k: np.zeros_like(v) for k, v in params.items()})
        np.testing.assert_allclose(params["W"], 0.9)  # W - lr * 2 * 0.5 * W
        np.testing.assert_array_equal(params["b"], 1.0)
        np.testing.assert_array_equal(params["bK"], 1.0)


class _Recorder:
    """A stand-in model that records the rows of every batch it is given."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {"w": np.zeros(1)}
        self.seen: list[np.ndarray[Any, Any]] = []

    def loss_and_grads(self, X: Any, Y: Any) -> tuple[float, dict[str, Any]]:
        self.seen.append(X[:, 0].copy())
        return 1.0, {"w": np.zeros(1)}

    def predict_proba(self, X: Any) -> Any:
        return X


def test_train_epoch_visits_every_sample_once_in_a_new_order() -> None:
    X = np.arange(10, dtype=np.float64).reshape(10, 1) * np.ones((1, 3))
    Y = np.eye(2)[np.arange(10) % 2]
    model = _Recorder()
    optimizer = trainer.MomentumSGD(training.REFERENCE, model.params, lr=0.1)
    loss = trainer.train_epoch(model, optimizer, X, Y, 4, np.random.default_rng(0))
    assert loss == 1.0
    assert [len(b) for b in model.seen] == [4, 4, 2]
    order = np.concatenate(model.seen)
    assert sorted(order) == list(range(10)) and not np.array_equal(order, np.arange(10))


@pytest.mark.parametrize("name", ["mlp", "mlp3", "cnn"])
def test_float32_stays_float32(name: str) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 1, 8, 8) if name == "cnn" else (5, 6)).astype(np.float32)
    config = training.ReferenceConfig(model=name, hidden=4, hidden2=3, filters=2, dtype=np.float32)
    model = training.build_model(config, X, 3, rng)
    Y = np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1]]
    optimizer = training.InPlaceMomentumSGD(model.params, lr=0.1, l2=1e-3)
    _, grads = model.loss_and_grads(X, Y)
    optimizer.step(model.params, grads)
    assert model.predict_proba(X).dtype == np.float32
    for key, param in model.params.items():
        assert param.dtype == np.float32 and grads[key].dtype == np.float32, key


def test_keep_freed_memory_is_harmless() -> None:
    assert isinstance(training.keep_freed_memory(), bool)


def test_benchmark_runs_without_torch(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_training.py"
    out = tmp_path / "rows.json"
    args = ["--samples", "128", "--repeats", "1", "--threads", "1", "--no-torch", "--json", str(out)]
    result = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = json.loads(out.read_text())
    assert {(r["model"], r["dtype"]) for r in rows} == {
        (m, d) for m in ("mlp", "mlp3", "cnn") for d in ("float32", "float64")
    }
    assert all(r["numpy"] > 0 and "torch" not in r for r in rows)


def test_random_shift_pads_with_the_fill_value() -> None:
    images = np.ones((50, 1, 5, 5))
    shifted = training.random_shift(images, 2, np.random.default_rng(0), fill=-3.0)
    assert set(np.unique(shifted)) <= {1.0, -3.0}
    assert (shifted == -3.0).any() and (shifted == 1.0).sum(axis=(1, 2, 3)).min() >= 9  # at most 2 rows/cols lost


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_filter_gradients_equal_conv_backward(dtype: Any) -> None:
    from solutions.conv import conv_backward

    rng = np.random.default_rng(3)
    X = rng.normal(size=(4, 2, 9, 8)).astype(dtype)
    K = rng.normal(size=(3, 2, 3, 2)).astype(dtype)
    dout = rng.normal(size=(4, 3, 7, 7)).astype(dtype)
    _, dK, db = conv_backward(dout, X, K)
    got_dK, got_db = training.filter_gradients(dout, X, K)
    assert got_dK.dtype == dtype and got_db.dtype == dtype
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got_dK, dK, rtol=tol, atol=tol)
    np.testing.assert_allclose(got_db, db, rtol=tol, atol=tol)


def test_smooth_labels_keeps_rows_summing_to_one() -> None:
    Y = np.eye(4)[[0, 3, 1]]
    S = training.smooth_labels(Y, 0.1)
    np.testing.assert_allclose(S.sum(axis=1), 1.0)
    np.testing.assert_allclose(S[0], [0.925, 0.025, 0.025, 0.025])
    assert training.smooth_labels(Y, 0.0) is Y
    assert training.smooth_labels(Y.astype(np.float32), 0.1).dtype == np.float32


@pytest.mark.parametrize("name", ["mlp", "mlp3", "cnn"])
def test_reference_models_are_the_capstones_with_shortcuts(name: str) -> None:
    """The reference's shortcuts (activations for pre-activations, the fast CNN backward) change no gradient."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(6, 1, 8, 8)) if name == "cnn" else rng.normal(size=(6, 5))
    Y = np.eye(3)[[0, 1, 2, 0, 1, 2]]
    config = training.ReferenceConfig(model=name, hidden=7, hidden2=4, filters=3)
    fast = training.build_model(config, X, 3, np.random.default_rng(0))
    plain = trainer.build_model(training.REFERENCE, config, X, 3, np.random.default_rng(0))  # what the capstone builds
    assert isinstance(fast, training.FastCNN) if name == "cnn" else fast.reuse_activations
    for key in plain.params:
        np.testing.assert_array_equal(fast.params[key], plain.params[key])
    fast_loss, fast_grads = fast.loss_and_grads(X, Y)
    plain_loss, plain_grads = plain.loss_and_grads(X, Y)
    assert fast_loss == plain_loss
    for key in plain.params:
        np.testing.assert_allclose(fast_grads[key], plain_grads[key], rtol=1e-12, atol=1e-15, err_msg=key)


def test_a_gradient_of_the_wrong_shape_is_named() -> None:
    def flat_bias_backward(*args: Any) -> tuple[Any, ...]:
        dW1, db1, dW2, db2 = training.REFERENCE.backward_mlp(*args)
        return dW1, db1.ravel(), dW2, db2

    from dataclasses import replace

    fns = replace(training.REFERENCE, backward_mlp=flat_bias_backward)
    model = trainer.MLP2(fns, 5, 4, 3, np.random.default_rng(0))
    with pytest.raises(trainer.TrainingError, match=r"backward_mlp returned the gradient of b1 with shape \(4,\)"):
        model.loss_and_grads(np.ones((2, 5)), np.eye(3)[[0, 1]])
