"""Gradescope and GitHub Classroom exports, run through their entry points on temporary trees."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.exports import find_package, run_gradescope
from dlnp.manifest import load_manifest
from instructor.submissions import make_submission

KIT = Path(__file__).resolve().parent.parent
MANIFEST = load_manifest()
WRONG_MSE = "def mse_loss(y_pred, y):\n    return float(np.sum((y_pred - y) ** 2))\n"


def dlnp(*args: str, cwd: Path = KIT) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(KIT))
    return subprocess.run([sys.executable, "-m", "instructor", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def test_gradescope_autograder_grades_an_upload(release: Path, tmp_path: Path) -> None:
    proc = dlnp("gradescope", "--out", str(tmp_path / "autograder.zip"), "--chapter", "1.3", "--chapter", "2.1",
                "--salt", "course-secret")
    assert proc.returncode == 0, proc.stderr
    root = tmp_path / "autograder"
    with zipfile.ZipFile(tmp_path / "autograder.zip") as zf:
        names = set(zf.namelist())
        assert {"setup.sh", "run_autograder", "requirements.txt", "grading.json"} <= names
        assert zf.getinfo("run_autograder").external_attr >> 16 & 0o111, "run_autograder must be executable"
        assert not any(n.startswith(("tests/", "release/", "examples/")) for n in names)
        assert "autograder/graders/test_ch2_1.py" in names and "solutions/losses.py" in names
        zf.extractall(root / "source")
    config = json.loads((root / "source" / "grading.json").read_text())
    assert config == {"chapters": ["1.3", "2.1"], "salt": "course-secret"}
    requirements = (root / "source" / "requirements.txt").read_text().split()
    assert [r.split("==")[0] for r in requirements] == ["numpy", "pytest", "tqdm"]
    # the student uploads their repository: the package sits one folder down
    sub = make_submission(release, tmp_path / "work", patches={"mse_loss": WRONG_MSE})
    shutil.copytree(sub, root / "submission" / "my-repo")

    env = dict(os.environ, DLNP_GRADESCOPE_ROOT=str(root), DLNP_PYTHON=sys.executable)
    proc = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((root / "results" / "results.json").read_text())

    hidden = [t for t in results["tests"] if t["extra_data"]["function"] != "self-check"]
    public = [t for t in results["tests"] if t["extra_data"]["function"] == "self-check"]
    assert hidden and all(t["visibility"] == "after_due_date" for t in hidden)
    assert public and all(t["visibility"] == "visible" and t["max_score"] == 0 for t in public)
    assert {t["number"] for t in public} == {"1.3", "2.1"}
    assert any(t["status"] == "failed" and t["number"] == "2.1" for t in public), "the wrong mse_loss shows"
    assert results["score"] == sum(t["score"] for t in hidden)
    mse = [t for t in hidden if t["extra_data"]["function"] == "mse_loss"]
    assert mse and all(t["score"] == 0 for t in mse)
    assert results["score"] == sum(t["max_score"] for t in hidden if t not in mse) > 0
    assert results["chapters"]["1.3"]["score"] == MANIFEST.chapter("1.3").points
    assert results["sandbox"]["isolation"] in ("bwrap", "unshare", "none")
    assert "hidden tests decide your score" in results["output"]


def test_gradescope_finds_loose_module_files(tmp_path: Path) -> None:
    upload = tmp_path / "upload"
    (upload / "nested").mkdir(parents=True)
    (upload / "losses.py").write_text("X = 1\n")
    (upload / "nested" / "activations.py").write_text("Y = 2\n")
    (upload / "notes.py").write_text("not a module of the package\n")
    root = find_package(upload, MANIFEST, tmp_path / "staged")
    assert root is not None
    package = root / "neural_network"
    assert sorted(p.name for p in package.iterdir()) == ["__init__.py", "activations.py", "losses.py"]


def test_gradescope_reports_an_upload_without_the_package(tmp_path: Path) -> None:
    (tmp_path / "source").mkdir()
    (tmp_path / "source" / "grading.json").write_text(json.dumps({"chapters": ["2.1"], "salt": "x"}))
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "README.txt").write_text("oops, wrong file\n")
    results = run_gradescope(tmp_path)
    assert results["score"] == 0 and "No `neural_network` package" in results["output"]
    assert json.loads((tmp_path / "results" / "results.json").read_text())["score"] == 0


def test_classroom_configuration(release: Path, tmp_path: Path) -> None:
    repo = tmp_path / "template"
    shutil.copytree(release, repo)
    proc = dlnp("classroom", "--release", str(repo))
    assert proc.returncode == 0, proc.stderr
    config = json.loads((repo / ".github" / "classroom" / "autograding.json").read_text())
    tests = config["tests"]
    graded = [c for c in MANIFEST.chapters if c.points > 0]
    assert [t["name"].split()[0] for t in tests] == [c.id for c in graded]
    assert sum(t["points"] for t in tests) == MANIFEST.max_score
    for test, chapter in zip(tests, graded, strict=True):
        assert test["points"] == chapter.points
        assert f"tests/test_{chapter.slug}.py" in test["run"]
    workflow = (repo / ".github" / "workflows" / "classroom.yml").read_text()
    yaml = pytest.importorskip("yaml")
    flow = yaml.safe_load(workflow)
    steps = flow["jobs"]["run-autograding-tests"]["steps"]
    graders = [s for s in steps if s.get("uses", "").startswith("classroom-resources/autograding-command-grader")]
    assert [s["with"]["command"] for s in graders] == [t["run"] for t in tests]
    assert [s["with"]["max-score"] for s in graders] == [t["points"] for t in tests]
    reporter = steps[-1]
    assert reporter["with"]["runners"].split(",") == [s["id"] for s in graders]
    # the commands give points only for a chapter whose public tests pass
    command = next(t["run"] for t in tests if t["name"].startswith("2.1 ")).split()
    done = make_submission(release, tmp_path / "done")
    env = dict(os.environ, PYTHONPATH="")
    assert subprocess.run([sys.executable, *command[1:]], cwd=done, env=env, capture_output=True,
                          timeout=120, check=False).returncode == 0
    assert subprocess.run([sys.executable, *command[1:]], cwd=repo, env=env, capture_output=True,
                          timeout=120, check=False).returncode != 0
