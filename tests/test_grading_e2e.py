"""End-to-end grading: the reference gets everything, stubs get nothing, broken code never crashes the grader."""

from __future__ import annotations

from pathlib import Path

from autograder.engine import grade_submission
from autograder.plugin import submission_digest
from dlnp.manifest import load_manifest
from instructor.submissions import make_submission
from tests.conftest import Graded, GradeFn

MANIFEST = load_manifest()
ALL = [c.id for c in MANIFEST.chapters]


def test_reference_scores_full_marks_in_every_chapter(grade: GradeFn) -> None:
    graded = grade(ALL)
    failing = [f"{t['name']}: {t['output'][:300]}" for t in graded.tests() if t["status"] != "passed"]
    assert not failing, "\n".join(failing)
    for chapter in MANIFEST.chapters:
        assert graded.max_score(chapter.id) == chapter.points, chapter.id
    assert graded.results["score"] == graded.results["max_score"] == MANIFEST.max_score


def test_untouched_release_scores_zero_and_reports_not_implemented(release: Path) -> None:
    graded = Graded(grade_submission(release))
    assert graded.results["score"] == 0
    assert graded.results["max_score"] == MANIFEST.max_score
    assert graded.outcomes() == {"not_implemented"}
    assert "not implemented yet" in graded.output()


def test_results_have_gradescope_fields(grade: GradeFn) -> None:
    results = grade(["2.1"]).results
    assert {"score", "max_score", "execution_time", "tests", "chapters"} <= set(results)
    assert set(results["chapters"]) == set(ALL)
    for test in results["tests"]:
        assert {"name", "number", "score", "max_score", "output", "visibility"} <= set(test)
        assert test["number"] == "2.1"


def test_syntax_error_zeroes_only_that_module(release: Path, tmp_path: Path) -> None:
    sub = make_submission(release, tmp_path / "sub")
    losses = sub / "neural_network" / "losses.py"
    losses.write_text(losses.read_text() + "\ndef broken(:\n    pass\n")
    graded = Graded(grade_submission(sub, chapters=["1.3", "2.1"]))
    assert graded.full("1.3")
    assert graded.score("2.1") == 0
    assert "SyntaxError" in graded.output("mse_loss") and "losses.py" in graded.output("mse_loss")


def test_missing_function_and_wrong_type_are_clear_failures(release: Path, tmp_path: Path) -> None:
    sub = make_submission(release, tmp_path / "sub", patches={
        "mse_loss": "def mse_loss_renamed(y_pred, y):\n    return 0.0\n",
        "binary_cross_entropy": "def binary_cross_entropy(A, y):\n    return 'a string'\n",
    })
    graded = Graded(grade_submission(sub, chapters=["2.1"]))
    assert graded.score("2.1") == 0
    assert "has no mse_loss" in graded.output("mse_loss")
    assert "did not return a number" in graded.output("binary_cross_entropy")
    assert "grader_error" not in graded.outcomes()


def test_regrade_is_identical_and_inputs_depend_on_the_submission(release: Path, tmp_path: Path) -> None:
    patch = {"mse_loss": "def mse_loss(y_pred, y):\n    return float(np.sum((y_pred - y) ** 2))\n"}
    sub = make_submission(release, tmp_path / "a", patches=patch)
    first = grade_submission(sub, chapters=["2.1"])
    second = grade_submission(sub, chapters=["2.1"])
    assert [t["output"] for t in first["tests"]] == [t["output"] for t in second["tests"]]
    other = make_submission(release, tmp_path / "b", patches={"mse_loss": "# mine\n" + patch["mse_loss"]})
    assert submission_digest(sub) != submission_digest(other)
    third = grade_submission(other, chapters=["2.1"])
    assert first["score"] == third["score"]
    assert [t["output"] for t in first["tests"]] != [t["output"] for t in third["tests"]]
