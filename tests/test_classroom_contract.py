"""The GitHub Classroom route: the generated workflow against the contract of GitHub's actions
(``classroom-resources/autograding-command-grader@v1`` and ``autograding-grading-reporter@v1``),
on a release with a known set of mistakes.

The contract, read in the actions' code (v1): the command grader runs ``command`` with
``/bin/sh`` (exit code 0: pass), ``parseInt``s ``max-score`` and sets the output ``result``
to base64 JSON ``{version, status, max_score, tests: [{name, status, score, ...}]}``; the
reporter splits its ``runners`` input on commas, reads
``process.env[runner.trim().toUpperCase() + "_RESULTS"]`` for each, and reports
``totalPoints`` (sum of the tests' scores of every runner with a ``max_score``) over
``maxPoints``; on an error it checks ``runners`` against ``^([a-zA-Z0-9]+,)*[a-zA-Z0-9]+$``.

The pure-Python test always runs. The second runs the actions' real JavaScript (their
bundled ``dist/main.js`` at tag v1, read from local snapshots of their repositories into
a temporary folder) with node, and is skipped only when node or the snapshots are absent
(``$DLNP_CLASSROOM_ACTIONS``: the folder holding ``classroom-resources+<name>/repo``).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml  # PyYAML: installed with jupytext and nbgrader (never skipped)

from autograder.engine import grade_submission
from dlnp.manifest import load_manifest
from instructor.classroom import RUNNER_ID, results_variable
from instructor.submissions import make_submission

KIT = Path(__file__).resolve().parent.parent
MANIFEST = load_manifest()
CHAPTERS = ("2.1", "2.2", "2.4", "3.2")
#: The issue's factor-2 bug (one wrong function used by later chapters) and a function left as the stub.
MISTAKES = {"mse_loss": "def mse_loss(y_pred, y):\n    return float(2 * np.mean((y_pred - y) ** 2))\n"}
LEFT_UNDONE = "relu"
REPORTER_PATTERN = re.compile(r"^([a-zA-Z0-9]+,)*[a-zA-Z0-9]+$")
ACTIONS = Path(os.environ.get("DLNP_CLASSROOM_ACTIONS", "/work/.mirror"))


@dataclass
class Course:
    repo: Path
    steps: list[dict[str, Any]]  # the command-grader steps of the workflow, in order
    reporter: dict[str, Any]
    hidden_score: float  # the hidden graders' score of the same code


@pytest.fixture(scope="module")
def course(release: Path, tmp_path_factory: pytest.TempPathFactory) -> Course:
    """A student's repository: the release with ``dlnp classroom``'s files and the known mistakes."""
    implement = [f.name for c in MANIFEST.chapters for f in c.functions if f.name != LEFT_UNDONE]
    repo = make_submission(release, tmp_path_factory.mktemp("classroom") / "repo", implement, MISTAKES)
    chapters = [a for c in CHAPTERS for a in ("--chapter", c)]
    proc = subprocess.run([sys.executable, "-m", "instructor", "classroom", "--release", str(repo), *chapters],
                          cwd=KIT, env=dict(os.environ, PYTHONPATH=str(KIT)), capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    flow = yaml.safe_load((repo / ".github" / "workflows" / "classroom.yml").read_text())
    steps: list[dict[str, Any]] = flow["jobs"]["run-autograding-tests"]["steps"]
    graders = [s for s in steps if s.get("uses") == "classroom-resources/autograding-command-grader@v1"]
    reporter = steps[-1]
    assert reporter["uses"] == "classroom-resources/autograding-grading-reporter@v1"
    hidden = grade_submission(repo, chapters=list(CHAPTERS))
    assert hidden["grading"]["complete"], hidden["grading"]["problems"]
    return Course(repo, graders, reporter, hidden["score"])


def command_env() -> dict[str, str]:
    """The command grader's environment (PATH and HOME only), with this Python as ``python``."""
    return {"PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
            "HOME": os.environ.get("HOME", "/root"), "FORCE_COLOR": "true"}


def expected_points() -> float:
    lost = {*MISTAKES, LEFT_UNDONE}
    return sum(f.points for c in CHAPTERS for f in MANIFEST.chapter(c).functions if f.name not in lost)


def test_workflow_follows_the_actions_contract(course: Course) -> None:
    ids = [s["id"] for s in course.steps]
    runners = str(course.reporter["with"]["runners"])
    assert REPORTER_PATTERN.match(runners) and runners.split(",") == ids
    assert all(RUNNER_ID.match(i) for i in ids) and len(set(ids)) == len(ids)
    env = course.reporter["env"]
    assert set(env) == {f"{i.strip().upper()}_RESULTS" for i in ids} == {results_variable(i) for i in ids}
    for ident in ids:
        assert env[results_variable(ident)] == f"${{{{steps.{ident}.outputs.result}}}}"
    graded = [(c.id, f) for c in map(MANIFEST.chapter, CHAPTERS) for f in c.functions]
    assert [s["with"]["test-name"] for s in course.steps] == [f"{c} {f.name}" for c, f in graded]
    assert [s["with"]["max-score"] for s in course.steps] == [f.points for _, f in graded]  # integers (parseInt)
    assert all(isinstance(s["with"]["timeout"], int) and 0 < s["with"]["timeout"] <= 360 for s in course.steps)
    config = json.loads((course.repo / ".github" / "classroom" / "autograding.json").read_text())
    assert [t["run"] for t in config["tests"]] == [s["with"]["command"] for s in course.steps]


def grader_result(step: dict[str, Any], code: int) -> str:
    """What the command grader outputs for a command's exit code (its generateResult, base64 JSON)."""
    status = "pass" if code == 0 else "fail"
    max_score = int(step["with"]["max-score"])
    result = {"version": 1, "status": status, "max_score": max_score,
              "tests": [{"name": step["with"]["test-name"], "status": status,
                         "score": max_score if status == "pass" else 0, "message": "",
                         "test_code": step["with"]["command"], "filename": "", "line_no": 0, "duration": 0}]}
    return base64.b64encode(json.dumps(result).encode()).decode()


def reporter_total(runners: str, env: dict[str, str]) -> tuple[float, float]:
    """The reporter's totalPoints and maxPoints (its NotifyClassroom), read the way it reads them."""
    total, most = 0.0, 0.0
    for runner in runners.split(","):
        results = json.loads(base64.b64decode(env[f"{runner.strip().upper()}_RESULTS"]))
        if not results["max_score"]:
            continue
        most += results["max_score"]
        total += sum(t["score"] for t in results["tests"])
    return total, most


def test_commands_and_reporter_give_per_function_points(course: Course) -> None:
    outputs: dict[str, str] = {}
    for step in course.steps:  # the command grader runs `command` with /bin/sh in the repository
        proc = subprocess.run(["/bin/sh", "-c", step["with"]["command"]], cwd=course.repo, env=command_env(),
                              capture_output=True, text=True, timeout=300, check=False)
        outputs[step["id"]] = grader_result(step, proc.returncode)
    env = {name: outputs[re.sub(r"^\$\{\{steps\.(\w+)\.outputs\.result\}\}$", r"\1", value)]
           for name, value in course.reporter["env"].items()}
    total, most = reporter_total(str(course.reporter["with"]["runners"]), env)
    assert most == sum(MANIFEST.chapter(c).points for c in CHAPTERS)
    # the factor-2 mse_loss costs mse_loss only, not gradient_descent (2.2) or the gradient check (2.4)
    assert total == expected_points() == course.hidden_score


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_real_actions_report_the_right_total(course: Course, tmp_path: Path) -> None:
    scripts: dict[str, Path] = {}
    for name in ("autograding-command-grader", "autograding-grading-reporter"):
        git_dir = ACTIONS / f"classroom-resources+{name}" / "repo"
        if not git_dir.exists():
            pytest.skip(f"no snapshot of classroom-resources/{name} under {ACTIONS}")
        source = subprocess.run(["git", "--git-dir", str(git_dir), "show", "v1:dist/main.js"], capture_output=True,
                                check=True, timeout=60).stdout
        scripts[name] = tmp_path / name / "main.js"
        scripts[name].parent.mkdir()
        scripts[name].write_bytes(source)

    outputs: dict[str, str] = {}
    for step in course.steps:
        out_file = tmp_path / f"{step['id']}.out"
        out_file.touch()
        env = {**command_env(), "GITHUB_OUTPUT": str(out_file),
               **{f"INPUT_{k.replace(' ', '_').upper()}": str(v) for k, v in step["with"].items()}}
        proc = subprocess.run(["node", str(scripts["autograding-command-grader"])], cwd=course.repo, env=env,
                              capture_output=True, text=True, timeout=600, check=False)
        match = re.search(r"^result<<(\S+)\n(.*?)\n\1$", out_file.read_text(), re.M | re.S)
        assert match, proc.stdout[-2000:] + proc.stderr[-2000:]
        outputs[step["id"]] = match.group(2)

    env = {"PATH": os.environ["PATH"], "INPUT_RUNNERS": str(course.reporter["with"]["runners"]),
           "GITHUB_OUTPUT": str(tmp_path / f"reporter-{uuid.uuid4().hex}.out")}
    for name, value in course.reporter["env"].items():  # the workflow's ${{steps.<id>.outputs.result}}
        env[name] = outputs[re.sub(r"^\$\{\{steps\.(\w+)\.outputs\.result\}\}$", r"\1", value)]
    proc = subprocess.run(["node", str(scripts["autograding-grading-reporter"])], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    report = re.search(r"^::notice title=Autograding report::(.*)$", proc.stdout, re.M)
    assert report, proc.stdout[-3000:] + proc.stderr[-2000:]
    points = json.loads(report.group(1))
    assert points == {"totalPoints": expected_points(), "maxPoints": sum(MANIFEST.chapter(c).points for c in CHAPTERS)}
    assert points["totalPoints"] == course.hidden_score
    assert "must be a comma-separated list" not in proc.stdout + proc.stderr
    assert proc.returncode == 1  # some tests failed: the reporter marks the run failed, the points still count
