"""``dlnp grade-batch``: parallel, written as it goes, and resumable after being killed."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from autograder.engine import is_current
from autograder.plugin import grading_fingerprint
from autograder.results import parse_results
from instructor.submissions import make_submission

KIT = Path(__file__).resolve().parent.parent
WRONG_MSE = "def mse_loss(y_pred, y):\n    return float(np.sum((y_pred - y) ** 2))\n"


def batch(root: Path, out: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "instructor", "grade-batch", str(root), "--out", str(out), "--chapter", "2.1",
           "--no-progress", *extra]
    return subprocess.Popen(cmd, cwd=KIT, env=dict(os.environ, PYTHONPATH=str(KIT), **(env or {})),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def gradebook(out: Path) -> list[list[str]]:
    return list(csv.reader((out / "gradebook.csv").open()))


def test_killed_batch_resumes_to_the_same_gradebook(release: Path, tmp_path: Path) -> None:
    root = tmp_path / "submissions"
    for i in range(4):
        make_submission(release, root / f"student{i}", patches={"mse_loss": WRONG_MSE} if i % 2 else None)
    full = batch(root, tmp_path / "full", "--jobs", "2")
    assert full.wait(timeout=300) == 0, full.communicate()[1]

    out = tmp_path / "out"
    marker = uuid.uuid4().hex
    killed = batch(root, out, "--jobs", "1", env={"DLNP_TEST_MARKER": marker})
    deadline = time.monotonic() + 120
    while not _complete(out):
        assert time.monotonic() < deadline and killed.poll() is None, "no student was graded"
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    written = {p.name: p.read_text() for p in (out / "results").glob("student*.json")}
    for text in written.values():  # every file is whole: complete, or partial and saying so
        results = parse_results(json.loads(text))
        assert results["grading"]["complete"] or results["grading"]["problems"]
    done = {name: text for name, text in written.items() if json.loads(text)["grading"]["complete"]}
    assert 1 <= len(done) < 4
    assert not (out / "gradebook.csv").exists()
    # the grading servers (and their workers) died with the batch
    deadline = time.monotonic() + 10
    while _processes_with(f"DLNP_TEST_MARKER={marker}"):
        assert time.monotonic() < deadline, "grading processes outlived the killed batch"
        time.sleep(0.1)

    resumed = batch(root, out, "--jobs", "2", "--resume")
    assert resumed.wait(timeout=300) == 0, resumed.communicate()[1]
    assert gradebook(out) == gradebook(tmp_path / "full")
    for name, text in done.items():  # graded before the kill: kept, not regraded
        assert (out / "results" / name).read_text() == text
    assert sorted(p.name for p in (out / "feedback").glob("*.md")) == [f"student{i}.md" for i in range(4)]


def test_resume_regrades_when_the_submission_or_the_grading_changes(release: Path, tmp_path: Path) -> None:
    from autograder.engine import grade_submission, grading_salt

    sub = make_submission(release, tmp_path / "alice")
    results_path = tmp_path / "alice.json"
    grade_submission(sub, results_path, chapters=["2.1"])
    fingerprint = grading_fingerprint(grading_salt(None), ["2.1"])
    assert is_current(results_path, sub, fingerprint) is not None
    assert is_current(results_path, sub, grading_fingerprint("another salt", ["2.1"])) is None
    assert is_current(results_path, sub, grading_fingerprint(grading_salt(None), ["1.3", "2.1"])) is None
    losses = sub / "neural_network" / "losses.py"
    losses.write_text(losses.read_text() + "\n# edited\n")
    assert is_current(results_path, sub, fingerprint) is None
    results = json.loads(results_path.read_text())
    assert results["grading"]["kit_version"].startswith("0.") and len(results["grading"]["kit_sha256"]) == 64


def _complete(out: Path) -> list[Path]:
    """The results files under ``out`` whose grading is complete (partial ones are skipped)."""
    found: list[Path] = []
    for path in (out / "results").glob("student*.json"):
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text())["grading"]["complete"]:
                found.append(path)
    return found


def _processes_with(needle: str) -> list[int]:
    found: list[int] = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as fh:
                if needle.encode() in fh.read().split(b"\0"):
                    with open(f"/proc/{name}/stat", "rb") as st:
                        stat = st.read()
                    if stat[stat.rindex(b")") + 2 :][:1] != b"Z":
                        found.append(int(name))
        except OSError:
            continue
    return found
