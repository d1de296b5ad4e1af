"""The public self-check and the hidden grader agree on every policy (SPEC §1, §5).

NumPy only (both refuse SciPy with the same message), the rounding allowed when
numerical_gradient restores a parameter, every ``Raises`` of a docstring, and the
float32-safe epsilon of the cross-entropies.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dlnp.manifest import load_manifest
from instructor.public_catch import public_outcome
from instructor.submissions import make_submission
from tests.conftest import GradeFn
from tests.mutants import Variant, load_corpus

KIT = Path(__file__).resolve().parent.parent
MANIFEST = load_manifest()

SCIPY_SIGMOID = """
def sigmoid(Z):
    from scipy.special import expit
    return expit(Z)
"""

SCIPY_AT_THE_TOP = "from scipy.special import expit\n"

ROUNDING_RESTORE = """
def numerical_gradient(X, y, params, loss_fn, forward_fn, h=1e-4):
    grads = {}
    for name, theta in params.items():
        grad = np.zeros(theta.shape)
        for idx in np.ndindex(theta.shape):
            theta[idx] += h
            up = loss_fn(forward_fn(X, params), y)
            theta[idx] -= 2 * h
            down = loss_fn(forward_fn(X, params), y)
            theta[idx] += h
            grad[idx] = (up - down) / (2 * h)
        grads[name] = grad
    return grads
"""


def _check(submission: Path, chapter: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(submission), PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, "-m", "dlnp", "check", chapter], cwd=submission, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


def test_scipy_fails_locally_with_the_graders_message(release: Path, tmp_path: Path, grade: GradeFn) -> None:
    graded = grade("1.3", patches={"sigmoid": SCIPY_SIGMOID})
    assert graded.score("1.3") == 0
    grader_says = "No module named 'scipy'"
    assert grader_says in graded.output("sigmoid")
    sub = make_submission(release, tmp_path / "scipy", patches={"sigmoid": SCIPY_SIGMOID})
    proc = _check(sub, "1.3")
    assert proc.returncode == 1, proc.stdout
    assert f"sigmoid raised ModuleNotFoundError: {grader_says}" in proc.stdout
    assert "(only NumPy)" in proc.stdout
    # through plain pytest too: the release's conftest installs the same guard
    env = dict(os.environ, PYTHONPATH=str(sub))
    plain = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_ch1_3.py"],
                           cwd=sub, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert plain.returncode == 1 and grader_says in plain.stdout


def test_a_module_level_scipy_import_stops_the_chapter(release: Path, tmp_path: Path) -> None:
    sub = make_submission(release, tmp_path / "top")
    activations = sub / "neural_network" / "activations.py"
    activations.write_text(SCIPY_AT_THE_TOP + activations.read_text())
    proc = _check(sub, "3.2")
    assert proc.returncode == 1
    assert "neural_network/activations.py, line 1: ModuleNotFoundError: No module named 'scipy'" in proc.stdout
    assert "(only NumPy)" in proc.stdout


def test_tests_and_numpy_may_still_import_anything(release: Path, tmp_path: Path) -> None:
    """The guard blocks the student's package only: a public test importing the stdlib or NumPy's
    lazily loaded submodules, and NumPy itself, are unaffected."""
    sub = make_submission(release, tmp_path / "ok")
    test = sub / "tests" / "test_ch0.py"
    test.write_text(test.read_text() + "\n\ndef test_guard_leaves_tests_alone() -> None:\n"
                    "    import json\n    import numpy.linalg\n    assert json and numpy.linalg\n")
    proc = _check(sub, "0")
    assert proc.returncode == 0, proc.stdout


def test_restoring_by_adding_and_subtracting_h_is_accepted_by_both(release: Path, tmp_path: Path,
                                                                    grade: GradeFn) -> None:
    graded = grade("2.4", patches={"numerical_gradient": ROUNDING_RESTORE})
    assert graded.lost("numerical_gradient") == 0, graded.output("numerical_gradient")
    sub = make_submission(release, tmp_path / "rounding", patches={"numerical_gradient": ROUNDING_RESTORE})
    proc = _check(sub, "2.4")
    assert proc.returncode == 0 and "FAILED" not in proc.stdout, proc.stdout


def test_not_restoring_is_refused_by_both_without_blaming_the_gradient(release: Path, tmp_path: Path,
                                                                       grade: GradeFn) -> None:
    source = ROUNDING_RESTORE.replace("            theta[idx] += h\n            grad", "            grad")
    graded = grade("2.4", patches={"numerical_gradient": source})
    assert "(parameter not restored)" in graded.output("numerical_gradient")
    sub = make_submission(release, tmp_path / "unrestored", patches={"numerical_gradient": source})
    proc = _check(sub, "2.4")
    assert proc.returncode == 1 and "(parameter not restored)" in proc.stdout
    # the gradients themselves are right: the tests that check them must not fail
    for test in ("test_quadratic_gradient_is_2w", "test_central_not_forward_difference", "test_h_is_used"):
        assert f"FAILED {test}" not in proc.stdout, proc.stdout


def _docstring_raises() -> dict[str, str]:
    """Graded function (or method) -> the exception its docstring's Raises section names."""
    out: dict[str, str] = {}
    for path in sorted((KIT / "solutions").glob("[!_]*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                doc = ast.get_docstring(node) or ""
                match = re.search(r"Raises\n\s*-+\n\s*(\w+)", doc)
                if match:
                    out[node.name] = match[1]
    return out


#: Functions whose docstring ``Raises`` the hidden grader checks: the public tests check them too.
GRADED_RAISES = {"matrix_multiply", "conv2d", "dropout", "gradient_norms_per_layer", "accuracy"}
#: Docstring ``Raises`` the grader does not check (so neither may the public tests: nothing the grader
#: accepts may fail locally). Each is a request to the graders: check it, or drop it from the docstring.
UNGRADED_RAISES: set[str] = set()


def _names(path: Path) -> set[str]:
    """Every identifier and every string constant of a Python file."""
    nodes = list(ast.walk(ast.parse(path.read_text())))
    return ({n.id for n in nodes if isinstance(n, ast.Name)} | {n.attr for n in nodes if isinstance(n, ast.Attribute)}
            | {n.value for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)})


def test_every_raises_of_a_docstring_is_checked_by_a_public_test_when_the_grader_checks_it() -> None:
    raises = _docstring_raises()
    assert raises, "no Raises section found: the parser is broken"
    assert set(raises) == GRADED_RAISES | UNGRADED_RAISES, (
        f"docstrings with Raises: {sorted(raises)}; decide for each whether the grader checks it")
    for function in GRADED_RAISES:
        chapter = MANIFEST.chapter(MANIFEST.chapter_of(function))
        public = _names(KIT / "assignments" / chapter.slug / f"test_{chapter.slug}.py")
        assert function in public and raises[function] in public, (
            f"{function}'s docstring says it raises {raises[function]}: test_{chapter.slug}.py must check it")
        hidden = KIT / "autograder" / "graders" / f"test_{chapter.slug}.py"
        calls = [n for n in ast.walk(ast.parse(hidden.read_text())) if isinstance(n, ast.Call)
                 and getattr(n.func, "id", getattr(n.func, "attr", "")) == "check_raises"
                 and any(isinstance(a, ast.Constant) and a.value == function for a in n.args)]
        assert calls or raises[function] in _names(hidden), (
            f"{function}'s docstring says it raises {raises[function]}: the hidden grader "
            f"{hidden.relative_to(KIT)} must check it (GRADED_RAISES)")


def test_stub_epsilon_is_right_in_float32(release: Path) -> None:
    source = (release / "neural_network" / "losses.py").read_text()
    eps = next(float(ast.literal_eval(n.value)) for n in ast.parse(source).body
               if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "EPS" for t in n.targets))
    assert eps <= 1e-7, "SPEC §5: any epsilon up to 1e-7"
    one = np.float32(1.0)
    assert np.float32(one - np.float32(eps)) < one, f"1 - {eps} rounds to 1.0 in float32: log(1 - p) would be -inf"
    assert np.isfinite(np.log(np.float32(eps)))


@pytest.mark.parametrize("chapter", ["2.1", "3.3"])
def test_the_reference_keeps_full_marks_with_the_float32_epsilon(grade: GradeFn, chapter: str) -> None:
    graded = grade(chapter)
    assert graded.full(chapter), graded.output()


_, VARIANTS = load_corpus()


@pytest.mark.parametrize("variant", VARIANTS, ids=[f"{v.function}-{v.name}" for v in VARIANTS])
def test_every_correct_variant_passes_the_public_tests(release: Path, tmp_path: Path, variant: Variant) -> None:
    """Nothing the grader accepts may fail locally: each correct variant of the corpus (full marks from the
    hidden graders, tests/test_mutants.py) passes every public test of its function's chapters."""
    failed, messages = public_outcome(release, tmp_path / "variant", variant.function, variant.source)
    assert not failed, f"a correct {variant.function} ({variant.name}) fails the public tests:\n{messages}"
