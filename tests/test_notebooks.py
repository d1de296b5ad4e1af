"""Chapter notebooks: generated from the kit's sources, linted, turned into submissions for
the trusted grader, and checked in the notebook by the public self-check (issues 7, 10, 12, 13).

nbgrader itself, end to end, is in ``test_nbgrader_e2e.py``.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from autograder.engine import grade_submission
from autograder.nb_bridge import GradingFailed, function_outputs, grade_notebook, report
from autograder.notebook_source import defined_names
from autograder.sandbox import Limits
from dlnp.manifest import load_manifest
from dlnp.notebook_check import SelfCheckFailed, check, select_tests
from instructor.notebooks import (
    ANSWER,
    BEGIN_SOLUTION,
    STUB,
    Sources,
    build_course,
    chapter_cells,
    collect,
    lint,
    load_chapter_data,
    module_code,
    notebook_submission,
    source_of,
    to_notebook,
)
from instructor.stubs import BuildError

KIT = Path(__file__).resolve().parent.parent
MANIFEST = load_manifest()
MSE_BUG = "def mse_loss(y_pred, y):\n    return float(np.sum((y_pred - y) ** 2))  # sum, not mean\n"


def _notebook(chapter: str, student: bool = False, patches: dict[str, str] | None = None) -> dict[str, Any]:
    """The source notebook of ``chapter`` (its release version if ``student``), answer cells patched."""
    cells = chapter_cells(MANIFEST.chapter(chapter), MANIFEST)
    nb = to_notebook([c.student() for c in cells] if student else cells)
    for cell in nb["cells"]:
        function = cell["id"].removeprefix(ANSWER)
        if cell["id"].startswith(ANSWER) and function in (patches or {}):
            cell["source"] = (patches or {})[function]
    return nb


def _namespace(nb: dict[str, Any]) -> dict[str, Any]:
    """What running the setup and answer cells of ``nb`` defines in a kernel."""
    namespace: dict[str, Any] = {}
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and (cell["id"] == "setup" or cell["id"].startswith(ANSWER)):
            exec(compile(source_of(cell), cell["id"], "exec"), namespace)
    return namespace


# ----------------------------------------------------------------------------- generation


def test_every_chapter_builds_and_lints(tmp_path: Path) -> None:
    notebooks = build_course(tmp_path / "course")
    assert sorted(p.stem for p in notebooks) == sorted(c.slug for c in MANIFEST.chapters)
    for path in notebooks:
        chapter = MANIFEST.chapter(path.stem)
        assert path == tmp_path / "course" / "source" / chapter.slug / f"{chapter.slug}.ipynb"
        # nbgrader releases every file of the folder: the notebook and the public tests of its self-check
        assert sorted(p.name for p in path.parent.iterdir()) == [path.name, f"test_{chapter.slug}.py"]
        percent = (tmp_path / "course" / "percent" / f"{chapter.slug}.py").read_text()
        nb = json.loads(path.read_text())
        assert lint(nb, chapter, percent) == [], chapter.id
        tests = [c for c in nb["cells"] if c["metadata"]["nbgrader"]["grade"]]
        assert sum(c["metadata"]["nbgrader"]["points"] for c in tests) == chapter.points
        for cell in tests:  # no hidden part (nbgrader would warn of a changed checksum): the self-check
            function = cell["metadata"]["nbgrader"]["grade_id"].removeprefix("test-")
            assert source_of(cell).splitlines()[-1] == f'check("{chapter.id}", "{function}", globals())'
            assert "HIDDEN" not in source_of(cell)
    assert "load_subconfig" in (tmp_path / "course" / "nbgrader_config.py").read_text()


def test_lint_catches_broken_metadata_and_package_wording() -> None:
    chapter = MANIFEST.chapter("2.1")
    nb = to_notebook(chapter_cells(chapter, MANIFEST))
    nb["cells"][1]["metadata"]["nbgrader"]["grade_id"] = "intro"
    nb["cells"][-1]["metadata"] = {"incorrectly_encoded_metadata": "nbgrader={grade: true}"}
    test = next(c for c in nb["cells"] if c["id"] == "test-mse_loss")
    test["metadata"]["nbgrader"]["points"] = 3
    task = next(c for c in nb["cells"] if source_of(c).startswith("## Your task"))
    task["source"] += "\nIn `neural_network/losses.py`:"
    problems = "\n".join(lint(nb, chapter))
    for expected in ("'intro' is used 2 times", "incorrectly_encoded_metadata", "differ from the manifest",
                     "names a file of the package"):
        assert expected in problems


def test_answer_cells_hold_the_reference_between_solution_markers() -> None:
    cells = chapter_cells(MANIFEST.chapter("4.2"), MANIFEST)
    conv = next(c for c in cells if c.grade_id == f"{ANSWER}conv_forward")
    assert conv.source.startswith("def conv_forward(") and BEGIN_SOLUTION in conv.source
    # the reference's private helpers live inside the region: the student version has none
    assert "def _windows" in conv.source and "def _windows" not in conv.student().source
    assert conv.student().source.count("raise NotImplementedError()") == 1
    layers = next(c for c in chapter_cells(MANIFEST.chapter("5.1"), MANIFEST) if c.grade_id == f"{ANSWER}Linear")
    stubbed = layers.student().source
    assert stubbed.count(STUB.splitlines()[1].strip()) == stubbed.count("    def ") > 1  # every method stubbed
    ast.parse(stubbed)


def test_release_notebooks_hold_no_reference_and_no_grader(release: Path) -> None:
    bodies: set[str] = set()
    for path in (KIT / "solutions").glob("[!_]*.py"):
        for fn in (n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.FunctionDef)):
            body = fn.body[1:] if ast.get_docstring(fn) is not None else fn.body
            text = "\n".join(ast.unparse(s) for s in body)
            if "NotImplementedError" not in text and len(text) > 20:
                bodies.add(text)
    for chapter in MANIFEST.chapters:
        nb = json.loads((release / "notebooks" / f"{chapter.slug}.ipynb").read_text())
        for secret in ("BEGIN SOLUTION", "HIDDEN TESTS", "grade_cell", "nb_bridge"):
            assert secret not in json.dumps(nb), f"{chapter.slug}: {secret}"
        for cell in nb["cells"]:
            if cell["cell_type"] != "code":
                continue
            for secret in ("autograder", "from solutions", "import solutions"):
                assert secret not in source_of(cell), f"{chapter.slug}: {secret}"
            for fn in (n for n in ast.walk(ast.parse(source_of(cell))) if isinstance(n, ast.FunctionDef)):
                body = fn.body[1:] if ast.get_docstring(fn) is not None else fn.body
                assert "\n".join(ast.unparse(s) for s in body) not in bodies, f"{chapter.slug}: {fn.name}"


# ----------------------------------------------------------------------------- chapter data


def test_chapter_content_is_data_in_the_chapter_folder() -> None:
    for chapter in MANIFEST.chapters:
        data = load_chapter_data(KIT / "assignments" / chapter.slug)
        assert data.examples, f"{chapter.slug}: no worked example"
        assert data.task, f"{chapter.slug}: the notebook's task text is the package's"
    assert not list((KIT / "instructor" / "notebooks").glob("*examples*")), "examples are chapter data"


def test_task_text_that_left_the_readme_fails_the_build(tmp_path: Path) -> None:
    kit = tmp_path / "kit"
    for part in ("solutions", "assignments"):
        shutil.copytree(KIT / part, kit / part)
    readme = kit / "assignments" / "ch2_1" / "README.md"
    readme.write_text(readme.read_text().replace("In `neural_network/losses.py`:", "In the losses module:"))
    with pytest.raises(BuildError, match="no longer says"):
        chapter_cells(MANIFEST.chapter("2.1"), MANIFEST, kit_root=kit)


def test_graders_call_lists_what_the_hidden_graders_call() -> None:
    """The explicit ``graders_call`` data agrees with the hidden graders' own text."""
    src = Sources(MANIFEST)
    for chapter in MANIFEST.chapters:
        grader = (KIT / "autograder" / "graders" / f"test_{chapter.slug}.py").read_text()
        named = {n.value for n in ast.walk(ast.parse(grader)) if isinstance(n, ast.Constant)
                 and isinstance(n.value, str) and n.value in MANIFEST.modules}
        carried = {c.function for c in chapter_cells(chapter, sources=src) if c.role == "answer"}
        assert named <= carried, f"{chapter.slug}: the graders call {sorted(named - carried)}: add to graders_call"


# ----------------------------------------------------------------------------- notebook -> submission


def test_module_code_is_what_the_kernel_defines() -> None:
    cell = "%time x = 1\nprint('debug')\nEPS = 1e-7\ndef f(a):\n    return a + EPS\nf(2)\n"
    assert module_code(cell) == "EPS = 1e-7\ndef f(a):\n    return a + EPS\n"
    assert module_code("def broken(:\n    pass\n") == ""  # defines nothing, as in the kernel
    assert defined_names("import numpy as np\nfrom x import y as z\nA, B = 1, 2\nclass C: pass\n") == {
        "np", "z", "A", "B", "C"}


def test_answer_cells_are_graded_as_the_package(tmp_path: Path) -> None:
    helper = "def _square(d):\n    return d * d\n\nprint('hi')\n\ndef mse_loss(y_pred, y):\n" \
             "    return float(np.mean(_square(y_pred - y)))\n"
    loop = "def binary_cross_entropy(A, y):\n    while True:\n        pass\n"
    nb = _notebook("2.1", student=True, patches={"mse_loss": helper, "binary_cross_entropy": loop})
    submission = notebook_submission(nb, tmp_path / "mixed")
    assert (submission / "neural_network" / "losses.py").read_text().endswith(
        "from ._notebook import mse_loss, binary_cross_entropy\n")
    start = time.monotonic()
    graded = grade_submission(submission, chapters=["2.1"], limits=Limits(call_seconds=1))
    assert time.monotonic() - start < 60
    tests = {f: [t for t in graded["tests"] if t["extra_data"]["function"] == f]
             for f in ("mse_loss", "binary_cross_entropy")}
    assert all(t["status"] == "passed" for t in tests["mse_loss"])
    assert {t["extra_data"]["outcome"] for t in tests["binary_cross_entropy"]} == {"timeout"}
    assert sum(t["score"] for t in tests["binary_cross_entropy"]) == 0
    outputs = function_outputs(graded, "2.1", "binary_cross_entropy")
    assert outputs[-1]["data"]["text/plain"] == "0" and "did not finish" in outputs[0]["text"]


def test_a_function_the_notebook_lost_is_missing(tmp_path: Path) -> None:
    nb = _notebook("2.1", patches={"binary_cross_entropy": "# deleted"})
    graded = grade_submission(notebook_submission(nb, tmp_path / "lost"), chapters=["2.1"])
    bce = [t for t in graded["tests"] if t["extra_data"]["function"] == "binary_cross_entropy"]
    assert sum(t["score"] for t in bce) == 0 and "renamed or deleted" in bce[0]["output"]


def test_collect_writes_one_submission_per_student_and_chapter(tmp_path: Path) -> None:
    for student, patches in (("ref", {}), ("bug", {"mse_loss": MSE_BUG})):
        folder = tmp_path / "submitted" / student / "ch2_1"
        folder.mkdir(parents=True)
        (folder / "ch2_1.ipynb").write_text(json.dumps(_notebook("2.1", patches=patches)))
    written = collect(tmp_path / "submitted", tmp_path / "out", ["2.1"])
    assert sorted(f"{p.parent.name}/{p.name}" for p in written) == ["ch2_1/bug", "ch2_1/ref"]
    assert "sum, not mean" in (tmp_path / "out" / "ch2_1" / "bug" / "neural_network" / "_notebook.py").read_text()


def test_cell_report_has_no_traceback() -> None:
    tests = [{"name": "2.1 mse_loss: values", "score": 0.0, "max_score": 2.0, "status": "failed",
              "output": "expected 1\ngot 2", "extra_data": {"outcome": "failed"}},
             {"name": "2.1 mse_loss: scalar", "score": 1.0, "max_score": 1.0, "status": "passed", "output": ""}]
    assert report("mse_loss", tests, 1.0, 3.0).splitlines() == [
        "mse_loss: 1 / 3 points", "", "[failed] 2.1 mse_loss: values (0/2)", "    expected 1", "    got 2"]


# ----------------------------------------------------------------------------- self-check in the notebook


@pytest.fixture
def in_release_notebooks(release: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The kernel's folder of a release notebook (``notebooks/``, beside ``tests/``)."""
    monkeypatch.chdir(release / "notebooks")
    monkeypatch.setattr(sys, "path", list(sys.path))
    return release


def test_self_check_passes_the_reference(in_release_notebooks: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for chapter in ("2.1", "5.1"):  # 5.1: classes, and a check that needs chapter 2.4's numerical_gradient
        namespace = _namespace(_notebook(chapter))
        for function in (f.name for f in MANIFEST.chapter(chapter).functions):
            check(chapter, function, namespace)
            verdicts = (f"{function}: passed, ", f"{function}: its public checks run with")
            assert capsys.readouterr().out.startswith(verdicts)


def test_self_check_fails_stubs_and_mistakes_with_the_report(in_release_notebooks: Path) -> None:
    untouched = _namespace(_notebook("2.1", student=True))
    with pytest.raises(SelfCheckFailed, match="not started"):
        check("2.1", "mse_loss", untouched)
    buggy = _namespace(_notebook("2.1", patches={"mse_loss": MSE_BUG}))
    with pytest.raises(SelfCheckFailed) as failed:
        check("2.1", "mse_loss", buggy)
    assert "Likely mistake (sum instead of mean)" in str(failed.value)
    assert failed.value._render_traceback_()[0] == "mse_loss: FAILED, 1 of 2 public checks pass"  # no traceback
    check("2.1", "binary_cross_entropy", buggy)  # the other function's checks are its own
    assert "neural_network" not in sys.modules or hasattr(sys.modules["neural_network"], "__file__")


def test_self_check_selects_the_tests_of_each_function() -> None:
    order = ["mse_loss", "binary_cross_entropy"]
    tests = KIT / "assignments" / "ch2_1" / "test_ch2_1.py"
    assert select_tests(tests, "mse_loss", order) == ["test_mse_small_example", "test_mse_perfect_prediction_is_zero"]
    assert all("bce" in t for t in select_tests(tests, "binary_cross_entropy", order))
    layers = KIT / "assignments" / "ch5_1" / "test_ch5_1.py"
    order = [f.name for f in MANIFEST.chapter("5.1").functions]
    by_function = {f: select_tests(layers, f, order) for f in order}
    assert sorted(t for tests in by_function.values() for t in tests) == sorted(select_tests(layers, None, order))
    # a test of several classes runs once, with the last of them (the earlier ones are written by then)
    assert "test_worked_example_end_to_end" in by_function[max(("Linear", "Softmax", "CrossEntropyLoss"),
                                                               key=order.index)]


def test_self_check_without_its_tests_says_where_to_open_the_notebook(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SelfCheckFailed, match=r"test_ch2_1\.py"):
        check("2.1", "mse_loss", {})


def test_nbgrader_config_grades_on_the_trusted_side(monkeypatch: pytest.MonkeyPatch) -> None:
    from nbgrader.preprocessors import ClearHiddenTests, Execute
    from traitlets.config.loader import PyFileConfigLoader

    from autograder.nb_bridge import TrustedGrades

    monkeypatch.setattr(sys, "path", list(sys.path))  # the config puts the kit on it
    config = PyFileConfigLoader("nbgrader_config.py", path=str(KIT)).load_config()
    pipeline = config.Autograde.autograde_preprocessors
    assert TrustedGrades in pipeline and Execute not in pipeline, "the student's kernel never scores"
    assert 0 < TrustedGrades(config=config).timeout <= 900
    assert ClearHiddenTests in config.GenerateFeedback.preprocessors
    assert config.CourseDirectory.root == str(KIT / "course") or "DLNP_COURSE" in os.environ


def test_a_grading_over_its_time_scores_zero_and_leaves_nothing(tmp_path: Path) -> None:
    from nbformat import from_dict

    from autograder.nb_bridge import TrustedGrades

    before = set(Path(tempfile.gettempdir()).glob("dlnp-nbgrade-*"))
    nb, _ = TrustedGrades(timeout=0.5).preprocess(from_dict(_notebook("2.1")), {"nbgrader": {"notebook": "ch2_1"}})
    tests = [c for c in nb.cells if c.metadata.nbgrader.get("grade")]
    assert len(tests) == 2 and all([o.output_type for o in c.outputs] == ["error"] for c in tests)
    assert "could not grade this notebook" in tests[0].outputs[0].evalue
    with pytest.raises(GradingFailed, match=r"took over 0\.5 s"):
        grade_notebook(_notebook("2.1"), "2.1", timeout=0.5)
    assert set(Path(tempfile.gettempdir()).glob("dlnp-nbgrade-*")) == before
