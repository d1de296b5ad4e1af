"""`dlnp check` is a faithful front end of pytest: a matrix of broken submissions, each run
through pytest itself (outcomes read from its JUnit XML) and through `dlnp check`.

For every case: each test pytest fails is listed by `dlnp check` with its message (or as
not started / waiting when a stub stopped it), each file pytest cannot collect is shown
with the file, line and error, each skip says what it waits for, the pass counts agree,
and the exit status is non-zero exactly when pytest found a real failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dlnp.manifest import load_manifest
from instructor.submissions import make_submission

MANIFEST = load_manifest()


@dataclass
class PytestOutcome:
    """What pytest itself says, per test name, for one test file."""

    passed: set[str] = field(default_factory=lambda: set[str]())
    failed: dict[str, str] = field(default_factory=lambda: dict[str, str]())  # name -> pytest's message
    skipped: dict[str, str] = field(default_factory=lambda: dict[str, str]())
    collection_errors: list[str] = field(default_factory=lambda: list[str]())
    returncode: int = 0


def _env(root: Path) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(root), PYTHONDONTWRITEBYTECODE="1")


def run_pytest(submission: Path, chapter: str, tmp: Path) -> PytestOutcome:
    slug = MANIFEST.chapter(chapter).slug
    xml = tmp / f"junit-{slug}.xml"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={xml}",
                           f"tests/test_{slug}.py"], cwd=submission, env=_env(submission), capture_output=True,
                          text=True, timeout=600, check=False)
    out = PytestOutcome(returncode=proc.returncode)
    for case in ET.parse(xml).getroot().iter("testcase"):
        name = case.get("name", "")
        failure = case.find("failure")
        error = case.find("error")
        skipped = case.find("skipped")
        if error is not None and not case.get("classname"):
            out.collection_errors.append(name)
        elif failure is not None or error is not None:
            node = failure if failure is not None else error
            assert node is not None
            out.failed[name] = node.get("message", "")
        elif skipped is not None:
            out.skipped[name] = skipped.get("message", "")
        else:
            out.passed.add(name)
    return out


def dlnp_check(submission: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dlnp", "check", *args], cwd=submission, env=_env(submission),
                          capture_output=True, text=True, timeout=600, check=False)


def _line(output: str, chapter: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(f"{chapter} "))


def assert_faithful(submission: Path, chapter: str, tmp: Path) -> tuple[PytestOutcome, str, int]:
    """Run both; check that `dlnp check CHAPTER` reports everything pytest reports."""
    truth = run_pytest(submission, chapter, tmp)
    proc = dlnp_check(submission, chapter)
    out = proc.stdout
    assert "Traceback" not in out + proc.stderr, out + proc.stderr
    row = _line(out, chapter)
    total = len(truth.passed) + len(truth.failed) + len(truth.skipped)
    if not truth.collection_errors:
        assert f"{len(truth.passed)}/{total} passed" in row, (row, truth)
    for name in truth.failed:
        shown = (f"FAILED {name}\n" in out or f"waiting {name}:" in out or "not started" in row
                 or ("not started: " in out and name in out))
        assert shown, f"pytest failed {name} but dlnp check does not show it:\n{out}"
    for name, reason in truth.skipped.items():
        assert f"waiting {name}: {reason}" in out, f"skip of {name} ({reason}) not shown:\n{out}"
    for module in truth.collection_errors:
        assert f"ERROR loading {module.rsplit('.', 1)[-1]}.py" in out, out
    real_failure = bool(truth.collection_errors) or "FAILED " in out
    assert (proc.returncode != 0) == real_failure, (proc.returncode, out)
    if real_failure:
        assert truth.returncode != 0
    return truth, out, proc.returncode


# --------------------------------------------------------------------------- the matrix

FACTOR_2 = {
    "2.2": ("gradient_descent", '''
def gradient_descent(X, y, W, b, lr, num_epochs, batch_size=None, loss_fn=mse_loss, activation_fn=None, rng=None):
    W, b = W.copy(), b.copy()
    history = []
    for _ in range(num_epochs):
        A = X @ W + b if activation_fn is None else activation_fn(X @ W + b)
        W = W - lr * 2 * X.T @ (A - y) / X.shape[0]
        b = b - lr * 2 * np.mean(A - y, axis=0, keepdims=True)
        P = X @ W + b if activation_fn is None else activation_fn(X @ W + b)
        history.append(float(loss_fn(P, y)))
    return W, b, history
''', "(factor 2)"),
    "2.4": ("numerical_gradient", '''
def numerical_gradient(X, y, params, loss_fn, forward_fn, h=1e-4):
    grads = {}
    for name, theta in params.items():
        grad = np.zeros(theta.shape)
        for idx in np.ndindex(theta.shape):
            old = theta[idx]
            theta[idx] = old + h
            up = loss_fn(forward_fn(X, params), y)
            theta[idx] = old - h
            down = loss_fn(forward_fn(X, params), y)
            theta[idx] = old
            grad[idx] = (up - down) / h
        grads[name] = grad
    return grads
''', "factor 2"),
    "3.4": ("backward_mlp", '''
def backward_mlp(X, A1, A2, y, W1, W2, Z1):
    n = X.shape[0]
    dZ2 = 2 * (A2 - y) / n
    dZ1 = (dZ2 @ W2.T) * (Z1 > 0)
    return X.T @ dZ1, dZ1.sum(axis=0, keepdims=True), A1.T @ dZ2, dZ2.sum(axis=0, keepdims=True)
''', "factor 2"),
    "4.1": ("backward_mlp_3layer", '''
def backward_mlp_3layer(X, A1, A2, A3, y, W1, W2, W3, Z1, Z2):
    n = X.shape[0]
    d3 = 2 * (A3 - y) / n
    d2 = (d3 @ W3.T) * (Z2 > 0)
    d1 = (d2 @ W2.T) * (Z1 > 0)
    return (X.T @ d1, d1.sum(axis=0, keepdims=True), A1.T @ d2, d2.sum(axis=0, keepdims=True),
            A2.T @ d3, d3.sum(axis=0, keepdims=True))
''', "factor 2"),
}


@pytest.fixture(scope="module")
def fresh(release: Path) -> Path:
    return release


def _submission(release: Path, tmp: Path, patches: dict[str, str] | None = None,
                implement: list[str] | None = None) -> Path:
    return make_submission(release, tmp / "sub", implement, patches)


def test_not_started_is_not_a_failure(release: Path, tmp_path: Path) -> None:
    sub = _submission(release, tmp_path, implement=[])
    truth, out, code = assert_faithful(sub, "2.4", tmp_path)
    assert truth.failed and code == 0
    assert "not started" in _line(out, "2.4")
    assert "waiting test_the_factor_2_of_the_mse: needs mse_loss (chapter 2.1)" in out


@pytest.mark.parametrize("chapter", sorted(FACTOR_2))
def test_factor_2_in_gradients_is_shown_with_its_message(release: Path, tmp_path: Path, chapter: str) -> None:
    function, source, diagnosis = FACTOR_2[chapter]
    sub = _submission(release, tmp_path, {function: source})
    truth, out, code = assert_faithful(sub, chapter, tmp_path)
    assert truth.failed and code == 1
    assert diagnosis in out, out


def test_minibatch_factor_2_in_chapter_2_3(release: Path, tmp_path: Path) -> None:
    function, source, _ = FACTOR_2["2.2"]
    sub = _submission(release, tmp_path, {function: source})
    truth, _, code = assert_faithful(sub, "2.3", tmp_path)
    assert truth.failed and code == 1


def test_cross_entropy_summing_is_named_in_backprop(release: Path, tmp_path: Path) -> None:
    sub = _submission(release, tmp_path, {"cross_entropy": (
        "def cross_entropy(A, y):\n    return float(-np.sum(y * np.log(np.clip(A, 1e-7, 1.0))))\n")})
    truth, out, code = assert_faithful(sub, "3.4", tmp_path)
    assert "test_gradient_check_with_your_numerical_gradient" in truth.failed and code == 1
    assert "(loss summed over the samples)" in out, out
    _, out33, _ = assert_faithful(sub, "3.3", tmp_path)
    assert "(sum instead of mean)" in out33


def test_wrong_values_show_the_diagnosis(release: Path, tmp_path: Path) -> None:
    sub = _submission(release, tmp_path, {"mse_loss": (
        "def mse_loss(y_pred, y):\n    return float(np.sum((y_pred - y) ** 2))\n")})
    truth, out, code = assert_faithful(sub, "2.1", tmp_path)
    assert truth.failed and code == 1 and "sum instead of mean" in out


def test_syntax_error_is_reported_with_file_and_line(release: Path, tmp_path: Path) -> None:
    sub = _submission(release, tmp_path)
    losses = sub / "neural_network" / "losses.py"
    lines = losses.read_text().splitlines()
    lines.insert(9, "def broken(:")
    losses.write_text("\n".join(lines) + "\n")
    truth, out, code = assert_faithful(sub, "2.1", tmp_path)
    assert truth.collection_errors and code == 1
    assert "neural_network/losses.py, line 10: SyntaxError" in out, out
    # a chapter that does not import losses.py still reports the file that does not compile
    proc = dlnp_check(sub, "1.3")
    assert proc.returncode == 1 and "neural_network/losses.py, line 10: SyntaxError" in proc.stdout
    whole = dlnp_check(sub)
    assert whole.returncode == 1 and "ERROR" in whole.stdout and "no tests" not in whole.stdout


def test_import_error_is_reported_as_such(release: Path, tmp_path: Path) -> None:
    sub = _submission(release, tmp_path)
    activations = sub / "neural_network" / "activations.py"
    activations.write_text("from .helpers_i_forgot import stable_exp\n" + activations.read_text())
    truth, out, code = assert_faithful(sub, "1.3", tmp_path)
    assert truth.collection_errors and code == 1
    assert "neural_network/activations.py, line 1: ModuleNotFoundError: No module named " in out, out


def test_not_implemented_inside_a_helper_of_this_chapter_counts_as_not_started(release: Path,
                                                                               tmp_path: Path) -> None:
    sub = _submission(release, tmp_path, implement=[f.name for c in MANIFEST.chapters for f in c.functions
                                                    if c.id != "3.2"])
    truth, out, code = assert_faithful(sub, "3.2", tmp_path)
    assert truth.failed and code == 0 and "not started" in _line(out, "3.2")


def test_unknown_chapter_is_one_sentence(release: Path) -> None:
    proc = dlnp_check(release, "3.5")
    assert proc.returncode == 2
    assert proc.stdout.strip().count("\n") == 0 and "no chapter '3.5'" in proc.stdout
    assert proc.stderr == ""


def test_runtime_warning_turned_into_an_error_is_diagnosed(release: Path, tmp_path: Path) -> None:
    sub = _submission(release, tmp_path, {"sigmoid": "def sigmoid(Z):\n    return 1 / (1 + np.exp(-Z))\n"})
    truth, out, code = assert_faithful(sub, "1.3", tmp_path)
    assert truth.failed and code == 1
    assert "sigmoid raised RuntimeWarning: overflow encountered in exp" in out
    assert "Likely mistake (overflow in exp)" in out


def test_writing_into_an_input_is_diagnosed(release: Path, tmp_path: Path) -> None:
    sub = _submission(release, tmp_path, {"relu": "def relu(Z):\n    Z[Z < 0] = 0.0\n    return Z\n"})
    truth, out, code = assert_faithful(sub, "3.2", tmp_path)
    assert truth.failed and code == 1
    assert "relu modified its input Z: build a new array" in out and "where False" not in out, out
    sub = make_submission(release, tmp_path / "mlp", None, {"forward_mlp": """
def forward_mlp(X, W1, b1, W2, b2):
    Z1 = X @ W1
    Z1 += b1
    A1 = np.maximum(Z1, 0.0)
    W2 *= 1.0
    Z2 = A1 @ W2 + b2
    E = np.exp(Z2 - Z2.max(axis=1, keepdims=True))
    return A1, E / E.sum(axis=1, keepdims=True)
"""})
    truth, out, code = assert_faithful(sub, "3.3", tmp_path)
    assert truth.failed and code == 1
    assert "forward_mlp raised ValueError: output array is read-only" in out
    assert "Likely mistake (modified its input)" in out, out


# --------------------------------------------------------------------------- pinned parameters and Raises
# What the hidden graders pin (Adam's eps, the losses' epsilon <= 1e-7, a docstring's Raises) is checked by
# the public tests too, and `dlnp check` shows the failure with the graders' name of the mistake.

_KIT = Path(__file__).resolve().parent.parent


def _reference(module: str, name: str) -> str:
    from instructor.submissions import definition_source

    return definition_source((_KIT / "solutions" / f"{module}.py").read_text(), name)


PINNED = {
    "5.2": ("Adam", lambda: _reference("framework", "Adam").replace("(np.sqrt(v_hat) + self.eps)",
                                                                    "(np.sqrt(v_hat) + 1e-8)"), "(eps ignored)"),
    "5.1": ("CrossEntropyLoss", lambda: _reference("layers", "CrossEntropyLoss").replace(
        "np.clip(probs, EPS, 1.0)", "np.clip(probs, 1e-3, 1.0)"), "(epsilon too large)"),
    "4.5": ("accuracy", lambda: (
        "def accuracy(y_pred, y):\n"
        "    def labels(a):\n"
        "        a = np.asarray(a)\n"
        "        if a.ndim == 1:\n"
        "            return a\n"
        "        return (a[:, 0] >= 0.5).astype(int) if a.shape[1] == 1 else a.argmax(axis=1)\n"
        "    return float(np.mean(labels(y_pred) == labels(y)))\n"), "(no validation)"),
}


@pytest.mark.parametrize("chapter", sorted(PINNED))
def test_pinned_parameters_and_raises_are_checked_publicly(release: Path, tmp_path: Path, chapter: str) -> None:
    function, source, diagnosis = PINNED[chapter]
    text = source()
    assert text != _reference(*{"5.2": ("framework", "Adam"), "5.1": ("layers", "CrossEntropyLoss"),
                                "4.5": ("metrics", "accuracy")}[chapter]), "the edit did not apply"
    sub = _submission(release, tmp_path, {function: text})
    truth, out, code = assert_faithful(sub, chapter, tmp_path)
    assert truth.failed and code == 1
    assert diagnosis in out, out
