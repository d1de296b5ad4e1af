"""nbgrader end to end, with nbgrader's own command line on a temporary course (issue 12).

One chapter (2.1), four students: an honest one (the reference), one who handed in the
release untouched, a cheat (stubs, an answer cell that replaces the kit's grading
functions in the kernel, and an edited read-only cell) and one whose
``binary_cross_entropy`` never returns. The
course runs ``nbgrader generate_assignment``, ``autograde``, ``generate_feedback`` and
``export`` as subprocesses; every student's code carries a mark, looked for afterwards
in the temporary folder.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from autograder.engine import grade_submission
from autograder.sandbox import Limits
from dlnp.manifest import load_manifest
from instructor.notebooks import build_course, chapter_cells
from instructor.submissions import make_submission

MANIFEST = load_manifest()
CHAPTER = MANIFEST.chapter("2.1")
SLUG = CHAPTER.slug
NBGRADER = str(Path(sys.executable).parent / "nbgrader")
#: a mark in every student's code, to find any copy of it left on the machine
MARK = f"student-code-{uuid.uuid4().hex}"
CHEAT = f"""# {MARK}
import autograder.nb_bridge as b
b.grade_cell = lambda *a: None
b.TrustedGrades.preprocess = lambda self, nb, resources: (nb, resources)
import dlnp.notebook_check as c
c.check = lambda *a, **k: None
"""
LOOP = f"def binary_cross_entropy(A, y):  # {MARK}\n    while True:\n        pass\n"
#: student -> (the notebook they start from, answer cells changed: function -> source). From the
#: source (reference) notebook the source replaces the cell; from the release it goes before the stub.
STUDENTS: dict[str, tuple[str, dict[str, str]]] = {
    "honest": ("source", {}),  # every answer cell holds the reference
    "untouched": ("release", {}),  # the release as handed out
    # stubs, code that replaces the grading functions, and an edited read-only cell (nbgrader warns of that one)
    "cheat": ("release", {"mse_loss": CHEAT}),
    "looping": ("source", {"binary_cross_entropy": LOOP}),
}


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, f"{args}: {proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc


def _submit(course: Path, student: str) -> None:
    """``submitted/<student>/ch2_1/ch2_1.ipynb``: nbgrader's release, answer cells filled as in :data:`STUDENTS`."""
    start, patches = STUDENTS[student]
    released = json.loads((course / "release" / SLUG / f"{SLUG}.ipynb").read_text())
    chosen = json.loads((course / start / SLUG / f"{SLUG}.ipynb").read_text()) if start == "source" else released
    answers = {c["id"]: c["source"] for c in chosen["cells"]}
    for cell in released["cells"]:
        if cell["metadata"]["nbgrader"].get("solution"):
            function = cell["id"].removeprefix("answer-")
            prefix = patches.get(function, "") if start == "release" else ""
            cell["source"] = patches[function] if function in patches and start == "source" else \
                prefix + "".join(answers[cell["id"]])
    if student == "cheat":
        next(c for c in released["cells"] if c["id"] == "intro")["source"] += "\nedited"
    folder = course / "submitted" / student / SLUG
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{SLUG}.ipynb").write_text(json.dumps(released))


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The course after generate_assignment, autograde (each student), generate_feedback, export."""
    root = tmp_path_factory.mktemp("nbgrader") / "course"
    build_course(root, [CHAPTER.id])
    env = dict(os.environ, DLNP_CALL_SECONDS="1",
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    _run([NBGRADER, "generate_assignment", SLUG, "--force"], root, env)
    for student in STUDENTS:
        _submit(root, student)
    start = time.monotonic()
    looping = _run([NBGRADER, "autograde", SLUG, "--student", "looping"], root, env)
    seconds = time.monotonic() - start
    others = _run([NBGRADER, "autograde", SLUG], root, env)  # every other student (graded ones are skipped)
    _run([NBGRADER, "generate_feedback", SLUG, "--force"], root, env)
    _run([NBGRADER, "export", "--to", str(root / "grades.csv")], root, env)
    with (root / "grades.csv").open() as fh:
        scores = {row["student_id"]: float(row["score"]) for row in csv.DictReader(fh)}
    return {"root": root, "log": looping.stdout + looping.stderr + others.stdout + others.stderr,
            "looping_seconds": seconds, "scores": scores, "env": env}


def _dlnp_grade(release: Path, dest: Path, student: str) -> float:
    """``dlnp grade``'s score of the same code as ``student``'s notebook."""
    start, patches = STUDENTS[student]
    answers = {c.function for c in chapter_cells(CHAPTER, MANIFEST) if c.role == "answer"}
    submission = make_submission(release, dest, answers if start == "source" else (), patches)
    results = grade_submission(submission, chapters=[CHAPTER.id], limits=Limits(call_seconds=1))
    return float(results["chapters"][CHAPTER.id]["score"])


@pytest.mark.slow
@pytest.mark.xdist_group("nbgrader")
def test_scores_come_from_the_trusted_grader(course: dict[str, Any], release: Path, tmp_path: Path) -> None:
    scores = course["scores"]
    assert scores["honest"] == CHAPTER.points > 0
    assert scores["untouched"] == 0
    assert scores["cheat"] == 0, "code in the notebook changed a score"
    bce = next(f.points for f in CHAPTER.functions if f.name == "binary_cross_entropy")
    assert scores["looping"] == CHAPTER.points - bce, "the loop costs exactly its own function"
    for student in ("honest", "untouched", "looping"):
        assert scores[student] == _dlnp_grade(release, tmp_path / student, student), student


@pytest.mark.slow
@pytest.mark.xdist_group("nbgrader")
def test_a_loop_costs_bounded_time_and_leaves_nothing_in_tmp(course: dict[str, Any]) -> None:
    # nbgrader's own start-up included; one hidden test per call limit (1 s here) at most, once
    assert course["looping_seconds"] < 180, course["looping_seconds"]
    left = [path for folder in Path(tempfile.gettempdir()).glob("dlnp-*") for path in folder.rglob("*.py")
            if path.is_file() and MARK in path.read_text(errors="replace")]
    assert left == [], "the student's code was left in the temporary folder"


@pytest.mark.slow
@pytest.mark.xdist_group("nbgrader")
def test_untouched_notebooks_raise_no_checksum_warning(course: dict[str, Any]) -> None:
    changed = re.findall(r"Attribute '(\w+)' for cell ([\w-]+) has changed", course["log"])
    assert changed == [("checksum", "intro")], course["log"][-3000:]  # the cheat's edit, nothing else


@pytest.mark.slow
@pytest.mark.xdist_group("nbgrader")
def test_feedback_shows_the_graders_messages(course: dict[str, Any]) -> None:
    root: Path = course["root"]
    looping = (root / "feedback" / "looping" / SLUG / f"{SLUG}.html").read_text()
    assert "binary_cross_entropy: 0 / " in looping and "timeout" in looping
    cheat = json.loads((root / "autograded" / "cheat" / SLUG / f"{SLUG}.ipynb").read_text())
    test_cell = next(c for c in cheat["cells"] if c["id"] == "test-mse_loss")
    assert "".join(test_cell["outputs"][0]["text"]).startswith("mse_loss: 0 / 4 points")


@pytest.mark.slow
@pytest.mark.xdist_group("nbgrader")
def test_validate_shows_the_public_self_check(course: dict[str, Any], tmp_path: Path) -> None:
    root: Path = course["root"]
    # A student validates their downloaded copy, never the course's release folder (running the public test
    # there would leave a __pycache__ in what every other student fetches).
    fetched = tmp_path / SLUG
    shutil.copytree(root / "release" / SLUG, fetched)
    untouched = subprocess.run([NBGRADER, "validate", str(fetched / f"{SLUG}.ipynb")],
                               cwd=fetched, env=course["env"], capture_output=True, text=True,
                               timeout=300, check=False)
    text = untouched.stdout + untouched.stderr
    assert "Success" not in text, text[-3000:]
    for function in (f.name for f in CHAPTER.functions):
        assert re.search(rf"{function}: not started, 0 of \d+ public checks pass", text), text[-3000:]
    honest = root / "submitted" / "honest" / SLUG
    (honest / f"test_{SLUG}.py").write_text((root / "source" / SLUG / f"test_{SLUG}.py").read_text())
    passed = subprocess.run([NBGRADER, "validate", str(honest / f"{SLUG}.ipynb")], cwd=honest, env=course["env"],
                            capture_output=True, text=True, timeout=300, check=False)
    assert "Success" in passed.stdout + passed.stderr, (passed.stdout + passed.stderr)[-3000:]


@pytest.mark.slow
@pytest.mark.xdist_group("nbgrader")
def test_the_kits_release_notebook_is_nbgraders_release(course: dict[str, Any], release: Path) -> None:
    root: Path = course["root"]
    theirs = json.loads((root / "release" / SLUG / f"{SLUG}.ipynb").read_text())
    ours = json.loads((release / "notebooks" / f"{SLUG}.ipynb").read_text())
    assert [(c["cell_type"], "".join(c["source"])) for c in theirs["cells"]] == [
        (c["cell_type"], "".join(c["source"])) for c in ours["cells"]]
    assert sorted(p.name for p in (root / "release" / SLUG).iterdir()) == [f"{SLUG}.ipynb", f"test_{SLUG}.py"]
