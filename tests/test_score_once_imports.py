"""Score once for an import failure (issue 14): a broken student module costs points only
where its own functions are graded.

A syntax error in ``losses.py`` used to cost the gradient-descent chapters too, because
``optimization.py`` imports ``mse_loss`` from it. The worker now leaves a placeholder for
a module that fails to import: the modules importing it still import, using one of its
names raises an ImportError that names the module, the line and the original error, and
grading the module's own functions still reports the original error.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autograder.engine import grade_submission
from instructor.submissions import make_submission

BROKEN_MSE = '''
def mse_loss(pred, y):
    return float(np.mean((pred - y) ** 2)
'''


def _line_of(path: Path, text: str) -> int:
    """The 1-based number of the first line of ``path`` that contains ``text``."""
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


@pytest.mark.slow
def test_a_syntax_error_in_losses_costs_only_the_losses_chapter(release: Path, tmp_path: Path) -> None:
    submission = make_submission(release, tmp_path / "submission", None, {"mse_loss": BROKEN_MSE})
    line = _line_of(submission / "neural_network" / "losses.py", "return float(np.mean((pred - y) ** 2)")
    results = grade_submission(submission, chapters=["2.1", "2.2", "2.3"])
    chapters = results["chapters"]
    for chapter in ("2.2", "2.3"):  # gradient_descent imports mse_loss from the broken module
        assert chapters[chapter]["score"] == chapters[chapter]["max_score"] > 0, [
            (t["name"], t["output"][:400]) for t in results["tests"] if t["score"] < t["max_score"]]
    own = [t for t in results["tests"] if t["extra_data"]["function"] in ("mse_loss", "binary_cross_entropy")]
    assert own and all(t["score"] == 0 for t in own), [(t["name"], t["score"]) for t in own]
    assert chapters["2.1"]["score"] == 0
    for test in own:
        assert "SyntaxError" in test["output"], test["output"]
        assert f"losses.py, line {line}" in test["output"], test["output"]


_WORKER_SCRIPT = textwrap.dedent('''
    import sys
    from autograder import worker_runtime as wr
    worker = wr.Worker(sys.argv[1])
    optimization = worker.module("optimization")          # imports the broken module: must work
    try:
        optimization.DEFAULT_LOSS([1.0], [2.0])
    except ImportError as exc:
        print("USE:", exc)
    try:
        worker.module("losses")                            # the broken module itself: the original error
    except SyntaxError as exc:
        print("OWN:", type(exc).__name__, exc.lineno)
    try:
        worker.module("crashing")
    except ZeroDivisionError as exc:
        print("CRASH:", exc)
    from neural_network.uses_crashing import Model
    try:
        Model()
    except ImportError as exc:
        print("CLASS:", exc)
''')


def test_the_worker_leaves_a_placeholder_that_names_the_failure(tmp_path: Path) -> None:
    """In a worker: importing a module that imports a broken one works; using a broken name says why."""
    package = tmp_path / "neural_network"
    package.mkdir()
    (package / "losses.py").write_text("import numpy as np\n\ndef mse_loss(pred, y):\n    return (pred - y\n")
    (package / "optimization.py").write_text("from .losses import mse_loss\n\nDEFAULT_LOSS = mse_loss\n")
    (package / "crashing.py").write_text("class Module:\n    pass\n\nSCALE = 1 / 0\n")
    (package / "uses_crashing.py").write_text("from .crashing import Module\n\nclass Model(Module):\n    pass\n")
    kit = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", _WORKER_SCRIPT, str(tmp_path)], cwd=kit,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(": ", 1) for line in done.stdout.splitlines())
    assert lines["OWN"] == "SyntaxError 4"
    assert "mse_loss is unavailable" in lines["USE"], lines["USE"]
    assert "neural_network/losses.py line 4" in lines["USE"] and "SyntaxError" in lines["USE"], lines["USE"]
    assert lines["CRASH"] == "division by zero"
    assert "Module is unavailable" in lines["CLASS"], lines["CLASS"]
    assert "ZeroDivisionError at neural_network/crashing.py line 4" in lines["CLASS"], lines["CLASS"]
