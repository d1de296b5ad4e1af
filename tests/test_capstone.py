"""``dlnp capstone``: training with the student's own functions, in the kit and in a release."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dlnp.capstone import CapstoneConfig, run_capstone, save_report
from dlnp.manifest import load_manifest
from instructor.submissions import make_submission


def dlnp_in(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``dlnp`` as a student would, inside ``folder`` (a release or a submission)."""
    env = dict(os.environ, PYTHONPATH=str(folder))
    return subprocess.run([sys.executable, "-m", "dlnp", *args], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def test_reference_mlp_learns_the_digits(tmp_path: Path) -> None:
    report = run_capstone(CapstoneConfig(model="mlp", epochs=3, hidden=64), package="solutions", limit=600)
    assert len(report.train_loss) == 3 and report.train_loss[-1] < report.train_loss[0]
    assert report.final_accuracy > 0.85
    files = save_report(report, tmp_path / "out")
    assert [p.name for p in files] == ["report.json", "curves.png"]
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert data["final_test_accuracy"] == report.final_accuracy and data["config"]["model"] == "mlp"
    assert (tmp_path / "out" / "curves.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("model", ["mlp3", "cnn"])
def test_reference_deeper_models_run(model: str) -> None:
    config = CapstoneConfig(model=model, epochs=2, hidden=32, hidden2=16, filters=2, l2=1e-3)
    report = run_capstone(config, package="solutions", limit=150)
    assert all(np.isfinite(report.train_loss)) and report.train_loss[-1] < report.train_loss[0]
    assert 0.0 <= report.final_accuracy <= 1.0


def test_a_filled_release_trains_and_reports(release: Path, tmp_path: Path) -> None:
    done = make_submission(release, tmp_path / "done")
    proc = dlnp_in(done, "capstone", "mlp", "--epochs", "3", "--limit", "600")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "neural_network" in proc.stdout and "final test accuracy" in proc.stdout
    report = json.loads((done / "capstone" / "report.json").read_text())
    assert report["package"] == "neural_network" and report["final_test_accuracy"] > 0.85


def test_stubs_are_named_with_their_chapter(release: Path, tmp_path: Path) -> None:
    proc = dlnp_in(release, "capstone", "--epochs", "1", "--out", str(tmp_path / "o"))
    assert proc.returncode == 1
    assert "needs forward_mlp from chapter 3.3" in proc.stdout and "dlnp check 3.3" in proc.stdout
    # forward_mlp written, but the relu it calls is still a stub: name relu, not forward_mlp.
    names = [n for n in load_manifest().function_names if n != "relu"]
    partial = make_submission(release, tmp_path / "partial", implement=names)
    proc = dlnp_in(partial, "capstone", "--epochs", "1", "--out", str(tmp_path / "o"))
    assert proc.returncode == 1
    assert "needs relu from chapter 3.2 (called by forward_mlp)" in proc.stdout


def test_gradient_of_the_wrong_shape_stops_the_run(release: Path, tmp_path: Path) -> None:
    patch = ("def backward_mlp(X, A1, A2, y, W1, W2, Z1):\n"
             "    dZ2 = (A2 - y) / X.shape[0]\n"
             "    dZ1 = (dZ2 @ W2.T) * (Z1 > 0)\n"
             "    return X.T @ dZ1, dZ1.sum(axis=0), A1.T @ dZ2, dZ2.sum(axis=0, keepdims=True)\n")
    sub = make_submission(release, tmp_path / "shape", patches={"backward_mlp": patch})
    proc = dlnp_in(sub, "capstone", "--epochs", "1", "--limit", "200")
    assert proc.returncode == 1
    assert "backward_mlp returned the gradient of b1 with shape (256,)" in proc.stdout
    assert "(1, 256)" in proc.stdout


def test_a_nan_loss_stops_the_run(release: Path, tmp_path: Path) -> None:
    patch = "def cross_entropy(A, y):\n    return float(np.sum(y * np.log(A - A)))\n"  # log(0) * 0 = nan
    sub = make_submission(release, tmp_path / "nan", patches={"cross_entropy": patch})
    proc = dlnp_in(sub, "capstone", "--epochs", "1", "--limit", "200")
    assert proc.returncode == 1
    assert "training loss became nan in epoch 1" in proc.stdout and "softmax" in proc.stdout


def test_the_package_is_loaded_from_the_release_folder_without_sys_path(release: Path, tmp_path: Path) -> None:
    done = make_submission(release, tmp_path / "done")
    path_before, modules_before = list(sys.path), dict(sys.modules)
    assert not any(name == "neural_network" or name.startswith("neural_network.") for name in sys.modules)
    try:
        config = CapstoneConfig(model="mlp", epochs=3, hidden=64)
        report = run_capstone(config, "neural_network", limit=600, folder=done)
        assert sys.path == path_before
        loaded = sys.modules["neural_network.mlp"].__file__
        assert loaded is not None and Path(loaded).is_relative_to(done)
        assert report.final_accuracy > 0.85  # the student's functions, trained
    finally:
        for name in set(sys.modules) - set(modules_before):
            if name == "neural_network" or name.startswith("neural_network."):
                del sys.modules[name]


def test_the_command_finds_the_release_given_by_path(release: Path, tmp_path: Path) -> None:
    done = make_submission(release, tmp_path / "done")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # neural_network is importable from nowhere

    def capstone(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "dlnp", "capstone", "--epochs", "1", "--limit", "200", *args],
                              cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300, check=False)

    proc = capstone("--release", str(done), "--out", str(tmp_path / "o"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "final test accuracy" in proc.stdout
    proc = capstone("--out", str(tmp_path / "o"))
    assert proc.returncode == 1
    assert "no package 'neural_network' here" in proc.stdout
