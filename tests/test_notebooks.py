"""Chapter notebooks: generated from the kit's sources, linted, and graded by nbgrader to
the same score as ``dlnp grade`` on the same code (issue 7)."""

from __future__ import annotations

import ast
import csv
import html
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from autograder.engine import grade_submission
from autograder.nb_bridge import GradingError, report
from autograder.sandbox import Limits
from dlnp.manifest import load_manifest
from instructor.notebooks import (
    ANSWER,
    BEGIN_HIDDEN,
    BEGIN_SOLUTION,
    STUB,
    build_course,
    chapter_cells,
    collect,
    execution_problems,
    lint,
    module_code,
    notebook_submission,
    source_of,
    to_notebook,
)
from instructor.submissions import make_submission

KIT = Path(__file__).resolve().parent.parent
MANIFEST = load_manifest()
#: the chapters of the nbgrader end-to-end test: one with two functions, one with an
#: earlier chapter's function carried over, and a one-function chapter for the endless loop
E2E = ("2.1", "2.2", "0")
MSE_BUG = "def mse_loss(y_pred, y):\n    return float(np.sum((y_pred - y) ** 2))  # sum, not mean\n"
HANG = """import signal

signal.signal(signal.SIGINT, signal.SIG_IGN)  # a kernel that ignores interrupts
while True:
    pass


def layer_output(X, W):
    return X @ W
"""


def _score(results: dict[str, Any], chapter: str) -> float:
    return float(results["chapters"][chapter]["score"])


def _answers(chapter: str) -> set[str]:
    return {c.function for c in chapter_cells(MANIFEST.chapter(chapter), MANIFEST) if c.role == "answer"}


# ----------------------------------------------------------------------------- generation


def test_every_chapter_builds_and_lints(tmp_path: Path) -> None:
    notebooks = build_course(tmp_path / "course")
    assert sorted(p.stem for p in notebooks) == sorted(c.slug for c in MANIFEST.chapters)
    for path in notebooks:
        chapter = MANIFEST.chapter(path.stem)
        assert path == tmp_path / "course" / "source" / chapter.slug / f"{chapter.slug}.ipynb"
        assert [p.name for p in path.parent.iterdir()] == [path.name], "nbgrader would release any other file"
        percent = (tmp_path / "course" / "percent" / f"{chapter.slug}.py").read_text()
        nb = json.loads(path.read_text())
        assert lint(nb, chapter, percent) == [], chapter.id
        tests = [c for c in nb["cells"] if c["metadata"]["nbgrader"]["grade"]]
        assert sum(c["metadata"]["nbgrader"]["points"] for c in tests) == chapter.points
        for cell in tests:
            function = cell["metadata"]["nbgrader"]["grade_id"].removeprefix("test-")
            assert source_of(cell).split(BEGIN_HIDDEN)[1].strip().splitlines() == [
                "from autograder.nb_bridge import grade_cell", f'grade_cell("{chapter.id}", "{function}")',
                "### END HIDDEN TESTS"]
    assert "load_subconfig" in (tmp_path / "course" / "nbgrader_config.py").read_text()


def test_lint_catches_broken_metadata() -> None:
    chapter = MANIFEST.chapter("2.1")
    nb = to_notebook(chapter_cells(chapter, MANIFEST))
    nb["cells"][1]["metadata"]["nbgrader"]["grade_id"] = "intro"
    nb["cells"][-1]["metadata"] = {"incorrectly_encoded_metadata": "nbgrader={grade: true}"}
    test = next(c for c in nb["cells"] if c["id"] == "test-mse_loss")
    test["metadata"]["nbgrader"]["points"] = 3
    problems = "\n".join(lint(nb, chapter))
    for expected in ("'intro' is used 2 times", "incorrectly_encoded_metadata", "differ from the manifest"):
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


def test_release_notebooks_hold_no_reference_and_no_hidden_test(release: Path) -> None:
    bodies: set[str] = set()
    for path in (KIT / "solutions").glob("[!_]*.py"):
        for fn in (n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.FunctionDef)):
            body = fn.body[1:] if ast.get_docstring(fn) is not None else fn.body
            text = "\n".join(ast.unparse(s) for s in body)
            if "NotImplementedError" not in text and len(text) > 20:
                bodies.add(text)
    for chapter in MANIFEST.chapters:
        nb = json.loads((release / "notebooks" / f"{chapter.slug}.ipynb").read_text())
        for secret in ("BEGIN SOLUTION", "HIDDEN TESTS", "grade_cell"):
            assert secret not in json.dumps(nb), f"{chapter.slug}: {secret}"
        for cell in nb["cells"]:
            if cell["cell_type"] != "code":
                continue
            for secret in ("autograder", "from solutions", "import solutions"):
                assert secret not in source_of(cell), f"{chapter.slug}: {secret}"
            for fn in (n for n in ast.walk(ast.parse(source_of(cell))) if isinstance(n, ast.FunctionDef)):
                body = fn.body[1:] if ast.get_docstring(fn) is not None else fn.body
                assert "\n".join(ast.unparse(s) for s in body) not in bodies, f"{chapter.slug}: {fn.name}"


# ----------------------------------------------------------------------------- notebook -> submission


def test_module_code_is_what_the_kernel_defines() -> None:
    cell = "%time x = 1\nprint('debug')\nEPS = 1e-7\ndef f(a):\n    return a + EPS\nf(2)\n"
    assert module_code(cell) == "EPS = 1e-7\ndef f(a):\n    return a + EPS\n"
    assert module_code("def broken(:\n    pass\n") == ""  # defines nothing, as in the kernel


def test_answer_cells_are_graded_as_the_package(tmp_path: Path) -> None:
    source = to_notebook(chapter_cells(MANIFEST.chapter("2.1"), MANIFEST))
    for cell in source["cells"]:  # a helper and a debugging print in one cell, an endless loop in the other
        if cell["id"] == f"{ANSWER}mse_loss":
            cell["source"] = "def _square(d):\n    return d * d\n\nprint('hi')\n\ndef mse_loss(y_pred, y):\n" \
                             "    return float(np.mean(_square(y_pred - y)))\n"
        if cell["id"] == f"{ANSWER}binary_cross_entropy":
            cell["source"] = "def binary_cross_entropy(A, y):\n    while True:\n        pass\n"
    start = time.monotonic()
    graded = grade_submission(notebook_submission(source, tmp_path / "mixed"), chapters=["2.1"],
                              limits=Limits(call_seconds=1))
    assert time.monotonic() - start < 30
    tests = {f: [t for t in graded["tests"] if t["extra_data"]["function"] == f]
             for f in ("mse_loss", "binary_cross_entropy")}
    assert all(t["status"] == "passed" for t in tests["mse_loss"])
    assert {t["extra_data"]["outcome"] for t in tests["binary_cross_entropy"]} == {"timeout"}
    assert sum(t["score"] for t in tests["binary_cross_entropy"]) == 0


def test_bridge_reports_without_a_traceback() -> None:
    assert GradingError("no notebook")._render_traceback_() == ["GradingError: no notebook"]
    tests = [{"name": "2.1 mse_loss: values", "score": 0.0, "max_score": 2.0, "status": "failed",
              "output": "expected 1\ngot 2", "extra_data": {"outcome": "failed"}},
             {"name": "2.1 mse_loss: scalar", "score": 1.0, "max_score": 1.0, "status": "passed", "output": ""}]
    assert report("mse_loss", tests, 1.0, 3.0).splitlines() == [
        "mse_loss: 1 / 3 points", "", "[failed] 2.1 mse_loss: values (0/2)", "    expected 1", "    got 2"]


# ----------------------------------------------------------------------------- nbgrader, end to end

_DRIVER = r'''
import json, os, sys, time
from pathlib import Path
from traitlets.config.loader import PyFileConfigLoader

plan = json.loads(sys.argv[1])
course = Path(plan["course"])
config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()  # the course's own config
config.Exchange.root = str(course / "exchange")
from nbgrader.api import Gradebook
from nbgrader.apps import NbGraderAPI
from nbgrader.plugins.export import CsvExportPlugin

def check(result, what):
    if not result["success"]:
        raise SystemExit(f"{what} failed:\n{result.get('error')}\n{result.get('log')}")

def submit(student, slug, patches):
    """The student's copy of nbgrader's release, answer cells filled (reference or patch)."""
    nb = json.loads((course / "release" / slug / f"{slug}.ipynb").read_text())
    source = json.loads((course / "source" / slug / f"{slug}.ipynb").read_text())
    answers = {c["id"]: c["source"] for c in source["cells"]}
    for cell in nb["cells"]:
        grade_id = cell["metadata"]["nbgrader"]["grade_id"]
        if patches is not None and cell["metadata"]["nbgrader"].get("solution"):
            cell["source"] = patches.get(grade_id.removeprefix("answer-"), answers[cell["id"]])
    folder = course / "submitted" / student / slug
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{slug}.ipynb").write_text(json.dumps(nb))

times = {}
api = NbGraderAPI(config=config)
for slug in plan["assignments"]:
    check(api.generate_assignment(slug), "generate_assignment " + slug)
for run in plan["runs"]:
    os.environ.update(run.get("env", {}))
    for key, value in run.get("execute", {}).items():
        setattr(config.ExecutePreprocessor, key, value)
    api = NbGraderAPI(config=config)
    for student, slug, patches in run["submissions"]:
        submit(student, slug, patches)
        start = time.monotonic()
        check(api.autograde(slug, student), f"autograde {slug} {student}")
        times[f"{student}/{slug}"] = time.monotonic() - start
for slug in plan["assignments"]:
    check(api.generate_feedback(slug), "generate_feedback " + slug)
export = CsvExportPlugin(config=config)
export.to = str(course / "grades.csv")
with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gradebook:
    export.export(gradebook)
print(json.dumps(times))
'''


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, float]]:
    """A course of the E2E chapters through nbgrader generate_assignment, autograde, feedback, export."""
    root = tmp_path_factory.mktemp("nbgrader") / "course"
    build_course(root, E2E)
    slugs = [MANIFEST.chapter(c).slug for c in E2E]
    normal = [["ref", "ch2_1", {}], ["ref", "ch2_2", {}], ["untouched", "ch2_1", None],
              ["bug", "ch2_1", {"mse_loss": MSE_BUG}]]
    hang = {"submissions": [["hang", "ch0", {"layer_output": HANG}]], "env": {"DLNP_CALL_SECONDS": "1"},
            "execute": {"timeout": 2, "iopub_timeout": 1, "shutdown_kernel": "immediate"}}
    plan = {"course": str(root), "assignments": slugs, "runs": [{"submissions": normal}, hang]}
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    env.pop("DLNP_CALL_SECONDS", None)
    proc = subprocess.run([sys.executable, "-c", _DRIVER, json.dumps(plan)], cwd=root, env=env,
                          capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return root, json.loads(proc.stdout.strip().splitlines()[-1])


def _nbgrader_scores(root: Path) -> dict[tuple[str, str], float]:
    with (root / "grades.csv").open() as fh:
        return {(row["student_id"], row["assignment"]): float(row["score"]) for row in csv.DictReader(fh)}


@pytest.mark.slow
@pytest.mark.xdist_group("nbgrader")  # one worker builds the nbgrader course
def test_nbgrader_scores_equal_dlnp_grade(course: tuple[Path, dict[str, float]], release: Path,
                                          tmp_path: Path) -> None:
    root, _ = course
    scores = _nbgrader_scores(root)
    expected: dict[tuple[str, str], dict[str, Any]] = {
        ("ref", "ch2_1"): grade_submission(make_submission(release, tmp_path / "a", _answers("2.1")), chapters=["2.1"]),
        ("ref", "ch2_2"): grade_submission(make_submission(release, tmp_path / "b", _answers("2.2")), chapters=["2.2"]),
        ("untouched", "ch2_1"): grade_submission(release, chapters=["2.1"]),
        ("bug", "ch2_1"): grade_submission(make_submission(release, tmp_path / "c", _answers("2.1"),
                                                           {"mse_loss": MSE_BUG}), chapters=["2.1"]),
    }
    for (student, slug), results in expected.items():
        chapter = MANIFEST.chapter(slug).id
        assert scores[student, slug] == _score(results, chapter), (student, slug)
    for slug in ("ch2_1", "ch2_2"):  # the reference notebooks get full marks
        chapter = MANIFEST.chapter(slug).id
        assert scores["ref", slug] == expected["ref", slug]["chapters"][chapter]["max_score"] > 0
    assert scores["untouched", "ch2_1"] == 0
    mse_points = next(f.points for f in MANIFEST.chapter("2.1").functions if f.name == "mse_loss")
    assert scores["ref", "ch2_1"] - scores["bug", "ch2_1"] == mse_points  # exactly that function's points
    # the same score through `dlnp notebooks --collect`, the input of `dlnp grade-batch`
    collected = collect(root / "submitted", tmp_path / "collected", ["2.1", "2.2"])
    assert sorted(f"{p.name}/{p.parent.name}" for p in collected) == [
        "bug/ch2_1", "ref/ch2_1", "ref/ch2_2", "untouched/ch2_1"]
    bug = tmp_path / "collected" / "ch2_1" / "bug"
    assert _score(grade_submission(bug, chapters=["2.1"]), "2.1") == scores["bug", "ch2_1"]


@pytest.mark.slow
@pytest.mark.xdist_group("nbgrader")  # one worker builds the nbgrader course
def test_endless_loop_is_graded_zero_in_bounded_time(course: tuple[Path, dict[str, float]], release: Path,
                                                     tmp_path: Path) -> None:
    root, times = course
    assert _nbgrader_scores(root)["hang", "ch0"] == 0
    assert times["hang/ch0"] < 60, times
    autograded = json.loads((root / "autograded" / "hang" / "ch0" / "ch0.ipynb").read_text())
    assert any("CellTimeoutError" in p for p in execution_problems(autograded))
    same_code = make_submission(release, tmp_path / "hang", _answers("0"), {"layer_output": HANG})
    assert _score(grade_submission(same_code, chapters=["0"], limits=Limits(call_seconds=1)), "0") == 0


@pytest.mark.slow
@pytest.mark.xdist_group("nbgrader")  # one worker builds the nbgrader course
def test_reference_notebooks_run_clean(course: tuple[Path, dict[str, float]]) -> None:
    root, _ = course
    for slug in ("ch2_1", "ch2_2"):
        nb = json.loads((root / "autograded" / "ref" / slug / f"{slug}.ipynb").read_text())
        problems = [p for p in execution_problems(nb) if "scored" not in p]  # points: see the test above
        assert problems == [], slug
        images = [o for c in nb["cells"] for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
        assert images, f"{slug}: its plots are shown inline"
        assert (root / "autograded" / "ref" / slug / "figures").is_dir(), f"{slug}: and saved"


@pytest.mark.slow
@pytest.mark.xdist_group("nbgrader")  # one worker builds the nbgrader course
def test_release_is_nbgraders_release(course: tuple[Path, dict[str, float]], release: Path) -> None:
    root, _ = course
    for chapter in (MANIFEST.chapter(c) for c in E2E):
        theirs = json.loads((root / "release" / chapter.slug / f"{chapter.slug}.ipynb").read_text())
        ours = json.loads((release / "notebooks" / f"{chapter.slug}.ipynb").read_text())
        assert [(c["cell_type"], source_of(c)) for c in theirs["cells"]] == [
            (c["cell_type"], source_of(c)) for c in ours["cells"]]


@pytest.mark.slow
@pytest.mark.xdist_group("nbgrader")  # one worker builds the nbgrader course
def test_feedback_never_shows_hidden_tests(course: tuple[Path, dict[str, float]]) -> None:
    root, _ = course
    grader_lines = {line.strip() for line in (KIT / "autograder" / "graders" / "test_ch2_1.py").read_text().splitlines()
                    if "student." in line or "check_" in line}
    pages = sorted((root / "feedback").rglob("*.html"))
    assert len(pages) == 5
    for page in pages:
        text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
        for secret in ("grade_cell", "HIDDEN TESTS", "nb_bridge", "autograder"):
            assert secret not in text, f"{page.relative_to(root)}: {secret}"
        assert not [line for line in grader_lines if line in text]
        # an autograded cell reports a score and messages, or a timeout: never a traceback
        autograded = json.loads((root / "autograded" / page.relative_to(root / "feedback")).with_suffix(".ipynb")
                                .read_text())
        for cell in autograded["cells"]:
            if cell["metadata"]["nbgrader"].get("grade"):
                errors = [o for o in cell["outputs"] if o["output_type"] == "error"]
                assert all(o["ename"] == "CellTimeoutError" for o in errors), page
    bug = html.unescape(re.sub(r"<[^>]+>", "", (root / "feedback" / "bug" / "ch2_1" / "ch2_1.html").read_text()))
    assert "mse_loss: 0 / 4 points" in bug and "Likely mistake (sum instead of mean)" in bug


def test_nbgrader_config_limits_execution(monkeypatch: pytest.MonkeyPatch) -> None:
    from nbgrader.preprocessors import ClearHiddenTests, Execute
    from traitlets.config.loader import PyFileConfigLoader

    monkeypatch.setenv("PYTHONPATH", os.environ.get("PYTHONPATH", ""))  # the config sets it for the kernels
    monkeypatch.setattr(sys, "path", list(sys.path))
    config = PyFileConfigLoader("nbgrader_config.py", path=str(KIT)).load_config()
    execute = Execute(config=config)
    assert 60 <= execute.timeout <= 120 and execute.interrupt_on_timeout
    assert execute.raise_on_iopub_timeout is False
    assert ClearHiddenTests in config.GenerateFeedback.preprocessors
    assert config.CourseDirectory.root == str(KIT / "course") or "DLNP_COURSE" in os.environ
