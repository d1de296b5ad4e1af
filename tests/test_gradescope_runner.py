"""The Gradescope route end to end: ``dlnp gradescope`` builds the zip, ``run_autograder`` grades
each upload shape a student makes in a Gradescope-shaped folder, and the score is ``dlnp grade``'s.

Layout (as on Gradescope, under a temporary root instead of ``/autograder``)::

    ROOT/source/       the unpacked autograder zip
    ROOT/submission/   the student's upload
    ROOT/results/results.json
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from autograder.engine import grade_submission
from autograder.gradescope_runner import GradescopeConfig, public_entries
from dlnp.manifest import load_manifest
from instructor.notebooks import ANSWER, chapter_cells, to_notebook
from instructor.submissions import make_submission

KIT = Path(__file__).resolve().parent.parent
MANIFEST = load_manifest()
CHAPTERS = ("2.1", "2.2")
SALT = "course-secret"
WRONG_MSE = "def mse_loss(y_pred, y):\n    return float(np.sum((y_pred - y) ** 2))\n"
#: Gradescope's documented keys (autograder specifications, "Output format").
TOP_KEYS = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
            "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
TEST_KEYS = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format", "tags",
             "visibility", "extra_data"}


def dlnp(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(KIT))
    return subprocess.run([sys.executable, "-m", "instructor", *args], cwd=KIT, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def build_zip(out: Path, *extra: str) -> Path:
    chapters = [a for c in CHAPTERS for a in ("--chapter", c)]
    proc = dlnp("gradescope", "--out", str(out), *chapters, "--salt", SALT, *extra)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_zip(tmp_path_factory.mktemp("gradescope") / "autograder.zip")


Upload = Callable[[Path], object]


def run_autograder(zip_path: Path, root: Path, upload: Upload, timeout: float = 300) -> dict[str, Any]:
    """Unpack the zip as Gradescope does, let ``upload`` fill the submission folder, run ``run_autograder``."""
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(root / "source")
    (root / "source" / "run_autograder").chmod(0o755)
    (root / "submission").mkdir(parents=True)
    upload(root / "submission")
    env = dict(os.environ, DLNP_GRADESCOPE_ROOT=str(root), DLNP_PYTHON=sys.executable)
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([str(root / "source" / "run_autograder")], cwd=root, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results: dict[str, Any] = json.loads((root / "results" / "results.json").read_text())
    assert set(results) <= TOP_KEYS, f"undocumented top-level keys: {set(results) - TOP_KEYS}"
    for test in results["tests"]:
        assert set(test) <= TEST_KEYS, f"undocumented test keys: {set(test) - TEST_KEYS}"
    return results


def expected_score(release: Path, dest: Path, implement: list[str] | None = None,
                   patches: dict[str, str] | None = None) -> float:
    """``dlnp grade``'s score on a release filled the same way."""
    submission = make_submission(release, dest, implement, patches)
    return grade_submission(submission, chapters=list(CHAPTERS), salt=SALT)["score"]


def hidden(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in results["tests"] if t["extra_data"]["function"] != "self-check"]


def zip_folder(folder: Path, archive: Path, prefix: str = "") -> None:
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, prefix + path.relative_to(folder).as_posix())


# ----------------------------------------------------------------------------- the zip


def test_zip_ships_what_grading_needs_and_no_generator(autograder_zip: Path) -> None:
    with zipfile.ZipFile(autograder_zip) as zf:
        names = set(zf.namelist())
        config = json.loads(zf.read("grading.json"))
        assert zf.getinfo("run_autograder").external_attr >> 16 & 0o111, "run_autograder must be executable"
        assert zf.getinfo("setup.sh").external_attr >> 16 & 0o111
        requirements = zf.read("requirements.txt").decode().split()
    assert {"setup.sh", "run_autograder", "requirements.txt", "grading.json"} <= names
    assert "autograder/graders/test_ch2_1.py" in names and "solutions/losses.py" in names
    assert {"release/neural_network/_types.py", "release/neural_network/losses.py", "release/tests/test_ch2_1.py",
            "release/dlnp/testing.py", "release/chapters.toml"} <= names
    assert not any(n.startswith(("instructor/", "tests/", "examples/", "release/notebooks/")) for n in names)
    assert config == {"chapters": list(CHAPTERS), "salt": SALT, "hidden_tests": "score-only", "timeout_seconds": 600}
    assert [r.split("==")[0] for r in requirements] == ["numpy", "pytest", "tqdm"]


def test_runner_never_imports_the_instructor_tooling() -> None:
    code = ("import sys, autograder.gradescope_runner, autograder.gradescope_upload, autograder.engine; "
            "sys.exit(any(m == 'instructor' or m.startswith('instructor.') for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], cwd=KIT, check=False).returncode == 0


def test_time_budget_fits_the_platforms_limit() -> None:
    for minutes in (1, 10, 40):
        config = GradescopeConfig(chapters=None, salt="x", timeout_seconds=minutes * 60)
        assert config.budget_seconds < config.hidden_deadline < config.timeout_seconds - 20
    assert GradescopeConfig(chapters=None, salt="x").budget_seconds >= 180  # the engine's default fits in 10 min


# ----------------------------------------------------------------------------- upload shapes


def test_whole_release_folder_with_a_mistake(autograder_zip: Path, release: Path, tmp_path: Path) -> None:
    sub = make_submission(release, tmp_path / "work", patches={"mse_loss": WRONG_MSE})
    results = run_autograder(autograder_zip, tmp_path / "gs", lambda s: shutil.copytree(sub, s / "my-repo"))
    assert results["score"] == expected_score(release, tmp_path / "expected", patches={"mse_loss": WRONG_MSE})
    mse = [t for t in hidden(results) if t["extra_data"]["function"] == "mse_loss"]
    assert mse and all(t["score"] == 0 for t in mse)
    assert results["score"] == sum(t["max_score"] for t in hidden(results) if t not in mse) > 0
    public = [t for t in results["tests"] if t["extra_data"]["function"] == "self-check"]
    assert public and all(t["visibility"] == "visible" and t["max_score"] == 0 for t in public)
    assert any(t["status"] == "failed" and t["number"] == "2.1" for t in public), "the wrong mse_loss shows"
    extra = results["extra_data"]
    assert extra["chapters"]["2.2"]["score"] == MANIFEST.chapter("2.2").points
    assert extra["sandbox"]["isolation"] in ("bwrap", "unshare", "none")
    assert extra["grading"]["complete"] is True
    assert "my-repo/neural_network" in results["output"]


def test_package_folder(autograder_zip: Path, release: Path, tmp_path: Path) -> None:
    sub = make_submission(release, tmp_path / "work", implement=["mse_loss", "gradient_descent"])
    results = run_autograder(autograder_zip, tmp_path / "gs",
                             lambda s: shutil.copytree(sub / "neural_network", s / "neural_network"))
    expected = expected_score(release, tmp_path / "expected", implement=["mse_loss", "gradient_descent"])
    assert results["score"] == expected > 0


def test_all_module_files_loose_with_types(autograder_zip: Path, release: Path, tmp_path: Path) -> None:
    sub = make_submission(release, tmp_path / "work")
    package = sub / "neural_network"

    def upload(s: Path) -> None:
        for path in package.glob("*.py"):  # the 16 files dragged in, _types.py and __init__.py included
            shutil.copyfile(path, s / path.name)

    results = run_autograder(autograder_zip, tmp_path / "gs", upload)
    assert results["score"] == sum(MANIFEST.chapter(c).points for c in CHAPTERS)
    assert not any("ModuleNotFoundError" in t["output"] for t in results["tests"])


def test_some_module_files_loose(autograder_zip: Path, release: Path, tmp_path: Path) -> None:
    sub = make_submission(release, tmp_path / "work")
    results = run_autograder(autograder_zip, tmp_path / "gs",
                             lambda s: shutil.copyfile(sub / "neural_network" / "losses.py", s / "losses.py"))
    # optimization.py was not uploaded: gradient_descent is the stub, as in a release where it was never written
    assert results["score"] == expected_score(release, tmp_path / "expected",
                                              implement=["mse_loss", "binary_cross_entropy"])
    assert results["extra_data"]["chapters"]["2.1"]["score"] == MANIFEST.chapter("2.1").points
    assert "optimization.py" in results["output"] and "not implemented" in results["output"]


def test_zip_of_the_release_folder(autograder_zip: Path, release: Path, tmp_path: Path) -> None:
    sub = make_submission(release, tmp_path / "work", patches={"mse_loss": WRONG_MSE})
    results = run_autograder(autograder_zip, tmp_path / "gs",
                             lambda s: zip_folder(sub, s / "submission.zip", prefix="release/"))
    assert results["score"] == expected_score(release, tmp_path / "expected", patches={"mse_loss": WRONG_MSE})


def test_zip_of_loose_files(autograder_zip: Path, release: Path, tmp_path: Path) -> None:
    sub = make_submission(release, tmp_path / "work", implement=["gradient_descent", "mse_loss"])

    def upload(s: Path) -> None:
        with zipfile.ZipFile(s / "files.zip", "w") as zf:
            for name in ("losses.py", "optimization.py", "_types.py"):
                zf.write(sub / "neural_network" / name, name)
            zf.writestr("../escape.py", "print('never written outside')\n")

    results = run_autograder(autograder_zip, tmp_path / "gs", upload)
    assert results["score"] == expected_score(release, tmp_path / "expected",
                                              implement=["gradient_descent", "mse_loss"]) > 0
    assert not (tmp_path / "gs" / "escape.py").exists()


def _notebook(chapter: str, patches: dict[str, str]) -> dict[str, Any]:
    """The chapter's notebook with every answer cell filled (reference unless patched)."""
    nb = to_notebook(chapter_cells(MANIFEST.chapter(chapter), MANIFEST))
    for cell in nb["cells"]:
        function = str(cell["id"]).removeprefix(ANSWER)
        if cell["id"].startswith(ANSWER) and function in patches:
            cell["source"] = patches[function]
    return nb


def test_one_notebook(autograder_zip: Path, release: Path, tmp_path: Path) -> None:
    nb = _notebook("2.1", {"mse_loss": WRONG_MSE})
    results = run_autograder(autograder_zip, tmp_path / "gs",
                             lambda s: (s / "ch2_1.ipynb").write_text(json.dumps(nb)))
    assert results["score"] == expected_score(release, tmp_path / "expected", implement=["binary_cross_entropy"])
    assert results["extra_data"]["chapters"]["2.1"]["score"] == MANIFEST.chapter("2.1").points - sum(
        f.points for f in MANIFEST.chapter("2.1").functions if f.name == "mse_loss")
    assert "ch2_1.ipynb" in results["output"]


def test_several_notebooks(autograder_zip: Path, release: Path, tmp_path: Path) -> None:
    def upload(s: Path) -> None:
        (s / "notebooks").mkdir()
        (s / "notebooks" / "ch2_2.ipynb").write_text(json.dumps(_notebook("2.2", {})))
        (s / "notebooks" / "ch2_1.ipynb").write_text(json.dumps(_notebook("2.1", {})))

    results = run_autograder(autograder_zip, tmp_path / "gs", upload)
    assert results["score"] == sum(MANIFEST.chapter(c).points for c in CHAPTERS)


def test_upload_without_the_package(autograder_zip: Path, tmp_path: Path) -> None:
    results = run_autograder(autograder_zip, tmp_path / "gs",
                             lambda s: (s / "README.txt").write_text("oops, wrong file\n"))
    assert results["score"] == 0 and "No `neural_network` package" in results["output"]


# ----------------------------------------------------------------------------- visibility and time


def test_hidden_tests_after_the_due_date(release: Path, tmp_path: Path) -> None:
    archive = build_zip(tmp_path / "due.zip", "--hidden-tests", "after_due_date")
    sub = make_submission(release, tmp_path / "work", patches={"mse_loss": WRONG_MSE})
    results = run_autograder(archive, tmp_path / "gs", lambda s: shutil.copytree(sub, s / "release"))
    assert results["visibility"] == "visible"
    assert hidden(results) and all(t["visibility"] == "after_due_date" for t in hidden(results))
    failing = [t for t in hidden(results) if t["score"] < t["max_score"]]
    assert failing and all("hidden inputs stay hidden" not in t["output"] for t in failing)


def test_score_only_shows_scores_and_withholds_the_hidden_output(autograder_zip: Path, release: Path,
                                                                 tmp_path: Path) -> None:
    sub = make_submission(release, tmp_path / "work", patches={"mse_loss": WRONG_MSE})
    results = run_autograder(autograder_zip, tmp_path / "gs", lambda s: shutil.copytree(sub, s / "release"))
    assert all(t["visibility"] == "visible" for t in hidden(results))
    failing = [t for t in hidden(results) if t["score"] < t["max_score"]]
    assert failing and all(t["output"].startswith("failed:") for t in failing)
    assert not any("array(" in t["output"] or "expected" in t["output"] for t in hidden(results))


def test_a_looping_submission_leaves_partial_results_before_the_limit(release: Path, tmp_path: Path) -> None:
    archive = build_zip(tmp_path / "short.zip", "--timeout-minutes", "1")
    # Every function loops: even with each timed-out function never called again, the hidden graders
    # cannot finish inside a one-minute assignment, so the runner must stop them and keep what it has.
    loops = {name: f"def {name}(*args, **kwargs):\n    while True:\n        pass\n"
             for name in MANIFEST.function_names if not name[0].isupper()}
    sub = make_submission(release, tmp_path / "work", patches=loops)
    start = time.monotonic()
    results = run_autograder(archive, tmp_path / "gs", lambda s: shutil.copytree(sub, s / "release"), timeout=120)
    assert time.monotonic() - start < 60, "results must be written before Gradescope's timeout"
    assert results["extra_data"]["chapters"]["2.2"]["score"] == 0
    # The engine's per-submission budget (below the assignment's limit) stops the graders in time:
    # the tests it did not reach score 0 and say why.
    assert results["extra_data"]["grading"]["budget_seconds"] < 60
    verdicts = " ".join(t["output"] for t in hidden(results))
    assert "not run" in verdicts.lower() or "timeout" in verdicts.lower(), verdicts[:2000]


def test_public_entries_read_pytest_summary() -> None:
    chapters = [MANIFEST.chapter("2.1")]
    text = ("PASSED tests/test_ch2_1.py::test_mse_small_example\n"
            "FAILED tests/test_ch2_1.py::test_bce_small_example - NotImplementedError: ch2.1: implement x\n"
            "SKIPPED [1] tests/test_ch2_1.py:12: needs mse_loss\n")
    entries = public_entries(text, chapters, 1)
    assert [e["extra_data"]["outcome"] for e in entries] == ["passed", "not_implemented", "skipped"]
    assert all(e["max_score"] == 0 and e["visibility"] == "visible" for e in entries)
    assert public_entries("ImportError: boom", chapters, 2)[0]["extra_data"]["outcome"] == "error"
